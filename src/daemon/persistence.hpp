// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "daemon/rig_state.hpp"
#include "daemon/session_store.hpp"
#include "daemon/worker_thread.hpp"

namespace looperd {

// Persistence: keeps state.toml equal to the rig, and saves and reads named sessions.
//
// Threads: its own persister thread (start()/stop()) rests until changed() (the controller
// calls it on every change of the rig) or a session save wakes it. It writes the rig at most
// every `interval` (so a change is on disk within `interval` plus the write), and the sessions
// /session/save asked for. fsync may take long on an SD card: it never runs on the network or
// audio thread. restore() runs on the main thread before the network thread starts; save_session(),
// load_session(), list_sessions() and state_name() may be called from any thread.
// Without autosave (an NSM session, docs/nsm.md) the thread writes sessions only: the rig is
// written by whoever owns the session, when it says so.
class Persistence {
  public:
    // A copy of the controller's mirror and its change count, taken together.
    using MirrorSource = std::function<MirrorState(std::uint64_t& changes)>;
    // The same change count alone, without the copy: what the persister asks while it waits.
    using ChangeCount = std::function<std::uint64_t()>;
    using SaveDone = std::function<void(const std::string& error)>;  // error empty: saved

    // Session saves that may wait at once; more are refused.
    static constexpr std::size_t kMaxPendingSaves = 8;

    Persistence(SessionStore& store, MirrorSource mirror, ChangeCount changes, SlotParams defaults,
                std::chrono::milliseconds interval = std::chrono::milliseconds(250),
                bool autosave = true);
    ~Persistence();
    Persistence(const Persistence&) = delete;
    Persistence& operator=(const Persistence&) = delete;

    // The saved rig, or nullopt when there is none or it was damaged (then it was set aside
    // and the log says why and where, and so does `damaged` when given).
    std::optional<RigState> restore(std::string* damaged = nullptr);

    void start();
    // Writes what is not saved yet, then joins. Pending session saves are written first.
    void stop();

    // Any thread: the rig changed (wakes the persister, which writes it within `interval`).
    void changed();

    // Writes state.toml now if the counter moved since the last save. Returns false when
    // the write failed (logged, rate-limited). Persister thread, or any thread while it is
    // not running.
    bool save_now();

    // "ok" or "error" (the last write failed; the previous file is untouched).
    const char* state_name() const noexcept;

    // Queues sessions/<name>.toml with the rig as it is now; `done` runs on the persister
    // thread once written. Returns an error text (bad name, too many pending) or "".
    std::string save_session(const std::string& name, SaveDone done);
    // The rig of sessions/<name>.toml. Throws StoreError (no such session; damaged: set
    // aside).
    RigState load_session(const std::string& name) const;
    std::vector<std::string> list_sessions() const;

    const SlotParams& defaults() const noexcept { return defaults_; }
    SessionStore& store() noexcept { return store_; }

  private:
    struct SaveJob {
        std::filesystem::path file;
        std::string text;
        SaveDone done;
    };

    // Persister thread: the session saves asked for, then the rig if it changed.
    void round();
    // Persister thread: the wait after a round. Zero (until woken) with nothing to write;
    // otherwise until `interval` (or, after a failed write, a second) since the last attempt.
    // Unsaved: the change count moved since the last save, or that save failed.
    WorkerThread::Clock::duration next_wait() const;
    WorkerThread::Clock::duration attempt_wait() const;  // interval, or a second after a failure
    void write_sessions();
    void report_failure(const std::string& what);

    SessionStore& store_;
    MirrorSource mirror_;
    ChangeCount changes_;
    SlotParams defaults_;
    std::chrono::milliseconds interval_;
    bool autosave_;

    // Persister thread (or the caller of save_now while it is not running). No count before
    // the first save: what restore() applied is written once.
    std::optional<std::uint64_t> saved_changes_;
    std::string saved_text_;
    std::chrono::steady_clock::time_point last_attempt_{};
    std::string last_logged_;
    std::chrono::steady_clock::time_point last_log_{};

    std::atomic<bool> failed_{false};

    std::mutex mutex_;  // jobs_
    std::deque<SaveJob> jobs_;
    WorkerThread worker_;  // last: its thread uses the members above
};

}  // namespace looperd
