// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "daemon/worker_thread.hpp"
#include "looperd/command.hpp"
#include "looperd/event.hpp"

namespace looperd {

class SampleBuffer;

// A take to write: slot `slot`'s take, as it is when the engine copies it, to `path` (or to
// `copied`).
struct TakeJob {
    std::uint32_t slot = 0;
    std::uint64_t generation = 0;  // the slot's, when asked (the controller compares it)
    std::filesystem::path path;
    bool autosave = false;  // into the state directory (else /slot/<n>/save)
    std::function<void(const std::string& error, std::uint32_t frames)> done;  // "" = written
    // Set: the take is not written but handed to this, on the take thread, with its length and
    // its content number (Event::content); `path` is unused. The frames are valid only during
    // the call.
    std::function<void(const SampleBuffer& take, std::uint32_t frames, std::uint32_t content)>
        copied;
};

// TakeKeeper: writes takes to disk as 32-bit float WAV files, off the audio thread.
//
// For each job it lends the engine one export buffer (allocated and touched once, as large as
// the longest take) with a snapshot command; the engine copies the take into it over a few
// blocks and hands it back through the event ring (snapshot_event). The file is written to a
// temporary name beside the target, fsynced, renamed over it and the directory fsynced, so a
// power cut leaves the old file or the new one. One job at a time, in order; forget() deletes
// a file in the same order, so a take cleared after its save was asked never comes back.
//
// Threads: its own thread runs the jobs; save(), forget() and snapshot_event() may be called
// from any thread (the controller's, the housekeeping thread).
class TakeKeeper {
  public:
    using SendCommand = std::function<bool(const Command&)>;  // false: ring full
    using Rate = std::function<std::uint32_t()>;

    // `max_frames`: the engine's longest take (Engine::max_record_frames()). `timeout`: how
    // long a snapshot may take (the audio thread may be away: JACK gone).
    TakeKeeper(SendCommand send, Rate rate, std::uint32_t max_frames,
               std::chrono::milliseconds timeout = std::chrono::seconds(10));
    ~TakeKeeper();
    TakeKeeper(const TakeKeeper&) = delete;
    TakeKeeper& operator=(const TakeKeeper&) = delete;

    void save(TakeJob job);
    void forget(std::filesystem::path path);
    // Housekeeping thread: snapshot_done or snapshot_refused, with the buffer lent.
    void snapshot_event(const Event& e);
    // Blocks until every job queued so far is done (tests, shutdown).
    void wait_idle();
    // Ends the thread; jobs not started are dropped. A snapshot in flight is waited for (up to
    // the timeout) so the engine never writes into freed memory.
    void stop();

    // Writes `left`/`right` (`frames` each) as a stereo float WAV at `rate`, atomically. Throws
    // std::runtime_error with the reason. Any thread.
    static void write_wav(const std::filesystem::path& path, const float* left, const float* right,
                          std::uint32_t frames, std::uint32_t rate);

  private:
    struct Item {
        std::optional<TakeJob> job;  // none: forget `path`
        std::filesystem::path path;
    };
    // Take thread: the items queued, one at a time, in order, until none is left.
    void run_items();
    void run_job(TakeJob& job);
    // Waits for the buffer lent to come back; false after the timeout.
    bool wait_returned(std::unique_lock<std::mutex>& lock);

    SendCommand send_;
    Rate rate_;
    std::uint32_t max_frames_;
    std::chrono::milliseconds timeout_;
    std::unique_ptr<SampleBuffer> buffer_;  // lent to the engine while lent_

    std::mutex mutex_;
    // Idle (wait_idle), a snapshot back (lent_), a stop: what the take thread and its callers
    // wait for. New items wake the thread through worker_.
    std::condition_variable wake_;
    std::deque<Item> queue_;
    bool busy_ = false;
    bool stopping_ = false;
    bool lent_ = false;
    std::optional<Event> returned_;  // the engine's answer to the snapshot in flight
    WorkerThread worker_;            // last: its thread uses the members above
};

}  // namespace looperd
