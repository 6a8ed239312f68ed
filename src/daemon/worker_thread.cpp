// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "daemon/worker_thread.hpp"

#include <pthread.h>

namespace looperd {

WorkerThread::~WorkerThread() {
    stop();
}

void WorkerThread::start(Rounds rounds) {
    if (thread_.joinable()) return;
    {
        std::lock_guard lock(mutex_);
        stopping_ = false;
        notified_ = false;
    }
    rounds_ = std::move(rounds);
    thread_ = std::thread([this] { run(); });
}

void WorkerThread::notify() {
    {
        std::lock_guard lock(mutex_);
        notified_ = true;
    }
    wake_.notify_all();
}

void WorkerThread::stop() {
    if (!thread_.joinable()) return;
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

void WorkerThread::run() {
    pthread_setname_np(pthread_self(), rounds_.name);
    auto next = Clock::now();
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        // A notify() from here on asks for another round: none is lost between the two.
        notified_ = false;
        lock.unlock();
        rounds_.round();
        const auto period = rounds_.next_period ? rounds_.next_period() : rounds_.period;
        lock.lock();
        const auto woken = [this] { return stopping_ || notified_; };
        if (period == Clock::duration::zero()) {
            wake_.wait(lock, woken);
            continue;
        }
        const auto now = Clock::now();
        next = rounds_.fixed_rate ? next + period : now + period;
        if (next < now) next = now;  // fell behind: no burst to catch up
        wake_.wait_until(lock, next, woken);
    }
    lock.unlock();
    if (rounds_.last) rounds_.last();
}

}  // namespace looperd
