// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "daemon/load_worker.hpp"

namespace looperd {

LoadWorker::LoadWorker(std::size_t capacity) : capacity_(capacity) {
    worker_.start({.round = [this] { run_jobs(); }, .name = "loader"});
}

LoadWorker::~LoadWorker() {
    stop();
}

void LoadWorker::post(std::function<void()> job) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        jobs_.push_back(std::move(job));
    }
    worker_.notify();
}

bool LoadWorker::try_post(std::function<void()> job) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ || jobs_.size() >= capacity_) return false;
        jobs_.push_back(std::move(job));
    }
    worker_.notify();
    return true;
}

std::size_t LoadWorker::room() {
    std::lock_guard lock(mutex_);
    return stopping_ || jobs_.size() >= capacity_ ? 0 : capacity_ - jobs_.size();
}

void LoadWorker::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        jobs_.clear();
    }
    idle_.notify_all();
    worker_.stop();
}

void LoadWorker::drain() {
    std::unique_lock lock(mutex_);
    idle_.wait(lock, [this] { return (jobs_.empty() && !busy_) || stopping_; });
}

void LoadWorker::run_jobs() {
    std::unique_lock lock(mutex_);
    while (!stopping_ && !jobs_.empty()) {
        auto job = std::move(jobs_.front());
        jobs_.pop_front();
        busy_ = true;
        lock.unlock();
        job();  // jobs catch their own errors: they reply /error to whoever asked
        lock.lock();
        busy_ = false;
    }
    idle_.notify_all();
}

}  // namespace looperd
