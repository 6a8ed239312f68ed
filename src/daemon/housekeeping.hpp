// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "daemon/worker_thread.hpp"
#include "io/memory_budget.hpp"
#include "looperd/engine.hpp"

namespace looperd {

// Housekeeping: the non-real-time thread that consumes the engine's event ring on a timer.
// It frees the buffers the audio thread let go (and returns their bytes to the budget), and
// turns audio-thread events and the xrun count into log lines: the audio thread never logs
// and never wakes anyone. The timer is short after a round that found events and lengthens
// while none come (next_poll).
class Housekeeping {
  public:
    using XrunSource = std::function<std::uint64_t()>;

    Housekeeping(Engine& engine, MemoryBudget& budget, XrunSource xruns);
    ~Housekeeping();
    Housekeeping(const Housekeeping&) = delete;
    Housekeeping& operator=(const Housekeeping&) = delete;

    // Before start(): where events about takes go (the controller's mirror and its take
    // thread); called on the housekeeping thread.
    void set_event_sink(std::function<void(const Event&)> sink) { sink_ = std::move(sink); }

    void start();
    void stop();  // joins; what is still in the ring is freed by a last poll

    // One pass over the event ring. Housekeeping thread (or a test, when not started).
    void poll();
    // The wait after a round: kBusyPoll after one that found events, doubled after each that
    // found none, up to kIdlePoll. Housekeeping thread (or a test, when not started).
    WorkerThread::Clock::duration next_poll() const;
    // After events more tend to follow (a press, then its take starting; a scene of loads
    // retiring buffers), and freed memory returns to the budget before the next load.
    static constexpr std::chrono::milliseconds kBusyPoll{10};
    // An idle rig wakes the thread 25 times a second, not 100; an event waits at most this
    // long to be logged, passed on and freed.
    static constexpr std::chrono::milliseconds kIdlePoll{40};

    std::uint64_t buffers_freed() const noexcept { return buffers_freed_.load(); }

  private:
    Engine& engine_;
    MemoryBudget& budget_;
    XrunSource xruns_;
    std::function<void(const Event&)> sink_;
    std::uint64_t xruns_logged_ = 0;
    std::chrono::steady_clock::time_point last_xrun_log_{};
    std::atomic<std::uint64_t> buffers_freed_{0};
    WorkerThread::Clock::duration wait_ = kBusyPoll;

    WorkerThread worker_;  // last: its thread polls the members above
};

}  // namespace looperd
