// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace looperd {

// WorkerThread: the shape of looperd's background threads. It runs one round of work at once,
// then sleeps until notify() or until its period has passed, and runs the next; no lock is held
// during a round. stop() lets the round under way finish, runs `last` once on the thread (a
// final save), and joins.
//
// Threads: start() and stop() from the owner (never from the worker itself); notify() from any
// thread; `round` and `last` on the worker thread only.
class WorkerThread {
  public:
    using Clock = std::chrono::steady_clock;

    struct Rounds {
        std::function<void()> round;
        // 0: rounds only when notified. Otherwise at most this long between rounds.
        Clock::duration period{0};
        // When set, asked after each round (on the worker, holding no lock of the worker's)
        // for the period until the next, in place of `period`: a poll that rests while there
        // is nothing to do, and is notified when there is.
        std::function<Clock::duration()> next_period;
        // true: rounds at start + k × period (a rate, as feedback's); a late round does not
        // burst to catch up. false: a period after each round ends (a poll).
        bool fixed_rate = false;
        std::function<void()> last;  // may be empty
        // The thread's name as `top -H` and `ps -L` show it: at most 15 characters.
        const char* name = "looperd";
    };

    WorkerThread() = default;
    ~WorkerThread();
    WorkerThread(const WorkerThread&) = delete;
    WorkerThread& operator=(const WorkerThread&) = delete;

    // Starts the thread (again, after a stop()); a no-op while it runs.
    void start(Rounds rounds);
    // Any thread: the next round starts as soon as the one under way (if any) ends.
    void notify();
    // Joins; a no-op when not running.
    void stop();
    bool running() const noexcept { return thread_.joinable(); }

    // What a `next_period` returns for a thread with work only while `busy`: `period`, or
    // zero (rest until notified), so that an idle thread never wakes.
    static Clock::duration rest_unless(bool busy, Clock::duration period) {
        return busy ? period : Clock::duration::zero();
    }

  private:
    void run();

    std::mutex mutex_;  // stopping_, notified_
    std::condition_variable wake_;
    bool stopping_ = false;
    bool notified_ = false;
    Rounds rounds_;
    std::thread thread_;
};

}  // namespace looperd
