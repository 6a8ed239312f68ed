// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "control/command_port.hpp"
#include "control/mirror.hpp"
#include "daemon/load_worker.hpp"
#include "daemon/take_tracker.hpp"
#include "io/memory_budget.hpp"
#include "io/osc_codec.hpp"
#include "io/osc_server.hpp"

namespace looperd {

class SampleBuffer;

struct LoadedSample;

// One load request, as the network thread made it (stage 1, the controller's request_load).
struct LoadJob {
    std::uint32_t slot = 0;
    std::uint64_t generation = 0;  // the slot's generation the request made
    std::string path;              // as given
    std::filesystem::path resolved;
    std::optional<OscEndpoint> reply_to;  // empty: a reload, which tells no one
    bool rig = false;                     // a rig's load: counted in rig_loads()
    bool take = false;                    // load_take: the file becomes the slot's take
};

// SampleLoading: the stages of a load after its request, on the loader thread (scsynth's
// /b_allocRead stages): 2. read (read and convert the file), 3. install (if the request is
// still the slot's latest, hand the buffer to the engine and update the mirror, in one mirror
// transaction), 4. reply (/slot/<n>/loaded, or /error to whoever asked). Also every loaded
// slot's reload after the engine's rate changed.
//
// Threads: queue(), room(), rig_loads() on the network thread (or main applying a rig);
// reload_all(), cancel() on any; the stages on the loader thread it owns.
class SampleLoading {
  public:
    using Reply = std::function<void(const OscEndpoint&, const OscMessage&)>;
    using ReportError = std::function<void(const OscEndpoint& to, const std::string& address,
                                           const std::string& reason)>;
    // A sample installed in a slot, with a hold (SampleBuffer::hold) for the receiver to keep
    // or let go: the stretch thread reads it later. nullptr: a take was installed instead.
    using SourceLoaded =
        std::function<void(std::uint32_t slot, SampleBuffer* buffer, std::uint64_t generation)>;

    SampleLoading(Mirror& mirror, CommandPort& port, MemoryBudget& budget,
                  std::function<std::uint32_t()> sample_rate, TakeTracker& takes, Reply reply,
                  ReportError report_error, SourceLoaded source_loaded = {});
    ~SampleLoading();
    SampleLoading(const SampleLoading&) = delete;
    SampleLoading& operator=(const SampleLoading&) = delete;

    // Loads queue() would take now (a rig's loads are not bounded).
    std::size_t room();
    // After the request's transaction committed the slot's new generation. False: the queue
    // is full; the slot no longer shows the load in flight.
    bool queue(const LoadJob& job);
    // Every loaded slot again from its file, at the engine's current rate. Returns how many.
    std::uint32_t reload_all();
    // A rig's loads queued or running.
    std::uint32_t rig_loads() const { return rig_loads_.load(std::memory_order_relaxed); }
    // A load in progress stops at its next chunk with "load cancelled", and so do later ones:
    // shutdown never waits for a long file.
    void cancel() { cancel_.store(true, std::memory_order_relaxed); }
    // Blocks until queued loads have finished. For tests.
    void drain();
    // Drops loads not yet started and joins the loader thread.
    void stop();

  private:
    void run(const LoadJob& job);  // stages 2 to 4
    struct Loaded {                // what stage 4 reports of the buffer
        std::uint32_t frames = 0;
        std::uint32_t channels = 0;
        std::uint32_t sample_rate = 0;
        std::size_t bytes = 0;
        bool locked = false;
    };
    LoadedSample read(const LoadJob& job);
    // Returns why the buffer was not installed, or "" when the engine owns it.
    std::string install(const LoadJob& job, LoadedSample& loaded, const Loaded& info);
    void reply(const LoadJob& job, const Loaded& info);
    // A load that read or install refused: /error to whoever asked, a log line for a reload.
    void fail(const LoadJob& job, const std::string& why);

    Mirror& mirror_;
    CommandPort& port_;
    MemoryBudget& budget_;
    std::function<std::uint32_t()> sample_rate_;
    TakeTracker& takes_;
    Reply reply_;
    ReportError report_error_;
    SourceLoaded source_loaded_;
    std::atomic<bool> cancel_{false};
    std::atomic<std::uint32_t> rig_loads_{0};
    LoadWorker worker_;  // last: its thread runs the stages above
};

}  // namespace looperd
