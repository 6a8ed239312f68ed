// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "daemon/worker_thread.hpp"

namespace looperd {

// LoadWorker: the loader thread. Runs jobs (file reads, resampling) one at a time, in order,
// so that disk and CPU-heavy work never runs on the network or the audio thread.
// post() may be called from any thread; stop() drops jobs not yet started and joins.
class LoadWorker {
  public:
    // Jobs that may wait at once: a flood of load requests is refused, not queued forever.
    static constexpr std::size_t kDefaultCapacity = 64;

    explicit LoadWorker(std::size_t capacity = kDefaultCapacity);
    ~LoadWorker();
    LoadWorker(const LoadWorker&) = delete;
    LoadWorker& operator=(const LoadWorker&) = delete;

    void post(std::function<void()> job);
    // Like post(), but refuses (returns false) when `capacity` jobs are already waiting.
    bool try_post(std::function<void()> job);
    // How many jobs try_post() would take now.
    std::size_t room();
    void stop();
    // Blocks until every job posted so far has run. For tests.
    void drain();

  private:
    // Loader thread: the jobs queued, one at a time, in order, until none is left.
    void run_jobs();

    std::mutex mutex_;  // jobs_, busy_, stopping_
    std::condition_variable idle_;
    std::deque<std::function<void()>> jobs_;
    std::size_t capacity_;
    bool busy_ = false;
    bool stopping_ = false;
    WorkerThread worker_;  // last: its thread runs the jobs above
};

}  // namespace looperd
