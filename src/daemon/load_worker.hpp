// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace looperd {

// LoadWorker: the loader thread. Runs jobs (file reads, resampling) one at a time, in order,
// so that disk and CPU-heavy work never runs on the network or the audio thread.
// post() may be called from any thread; stop() drops jobs not yet started and joins.
class LoadWorker {
  public:
    LoadWorker();
    ~LoadWorker();
    LoadWorker(const LoadWorker&) = delete;
    LoadWorker& operator=(const LoadWorker&) = delete;

    void post(std::function<void()> job);
    void stop();
    // Blocks until every job posted so far has run. For tests.
    void drain();

  private:
    void run();

    std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable idle_;
    std::deque<std::function<void()>> jobs_;
    bool busy_ = false;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace looperd
