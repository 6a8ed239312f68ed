// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "daemon/take_keeper.hpp"

#include <fcntl.h>
#include <sndfile.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <vector>

#include "daemon/session_store.hpp"
#include "looperd/sample_buffer.hpp"

namespace fs = std::filesystem;

namespace looperd {

namespace {

// The path's directory named in the reason, as the state files' errors name theirs.
std::runtime_error failed(const fs::path& path, const char* step, int err) {
    const fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
    return std::runtime_error("cannot write " + path.string() + " (" + step +
                              "): " + errno_text(err, dir));
}

}  // namespace

TakeKeeper::TakeKeeper(SendCommand send, Rate rate, std::uint32_t max_frames,
                       std::chrono::milliseconds timeout)
    : send_(std::move(send)), rate_(std::move(rate)), max_frames_(max_frames), timeout_(timeout) {
    worker_.start({.round = [this] { run_items(); }, .name = "take-keeper"});
}

TakeKeeper::~TakeKeeper() {
    stop();
}

void TakeKeeper::save(TakeJob job) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        queue_.push_back(Item{std::move(job), {}});
    }
    worker_.notify();
}

void TakeKeeper::forget(fs::path path) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        queue_.push_back(Item{std::nullopt, std::move(path)});
    }
    worker_.notify();
}

void TakeKeeper::snapshot_event(const Event& e) {
    // Notified under the lock: the waiter may destroy the keeper as soon as it wakes.
    std::lock_guard lock(mutex_);
    if (e.buffer != buffer_.get()) return;  // not ours: nothing lent
    returned_ = e;
    lent_ = false;
    wake_.notify_all();
}

void TakeKeeper::wait_idle() {
    std::unique_lock lock(mutex_);
    wake_.wait(lock, [this] { return stopping_ || (queue_.empty() && !busy_); });
}

void TakeKeeper::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ && !worker_.running()) return;
        stopping_ = true;
        queue_.clear();
    }
    wake_.notify_all();
    worker_.stop();
    std::unique_lock lock(mutex_);
    // The engine may still hold the buffer: it must not be freed under it.
    if (lent_ && !wait_returned(lock)) {
        spdlog::warn("a take's snapshot did not come back; its buffer is left allocated");
        (void)buffer_.release();
    }
}

bool TakeKeeper::wait_returned(std::unique_lock<std::mutex>& lock) {
    return wake_.wait_for(lock, timeout_, [this] { return !lent_; });
}

void TakeKeeper::run_items() {
    std::unique_lock lock(mutex_);
    while (!stopping_ && !queue_.empty()) {
        Item item = std::move(queue_.front());
        queue_.pop_front();
        busy_ = true;
        lock.unlock();
        if (item.job) {
            run_job(*item.job);
        } else {
            std::error_code ec;
            if (fs::remove(item.path, ec))
                spdlog::info("removed the kept take {}", item.path.string());
            if (ec) spdlog::warn("cannot remove {}: {}", item.path.string(), ec.message());
        }
        lock.lock();
        busy_ = false;
        wake_.notify_all();
    }
}

void TakeKeeper::run_job(TakeJob& job) {
    std::unique_lock lock(mutex_);
    // The callback takes the controller's lock: never call it holding ours.
    auto finish = [&job, &lock](const std::string& error, std::uint32_t frames) {
        if (lock.owns_lock()) lock.unlock();
        if (job.done) job.done(error, frames);
    };
    if (lent_ && !wait_returned(lock)) {
        finish("an earlier take's copy has not come back (JACK away?): try again later", 0);
        return;
    }
    if (!buffer_) {
        lock.unlock();
        // Allocated and touched here, once: the audio thread writes it without a page fault.
        auto b = std::make_unique<SampleBuffer>(2, max_frames_, rate_());
        b->prefault();
        lock.lock();
        buffer_ = std::move(b);
    }
    returned_.reset();
    lent_ = true;
    bool sent = false;
    for (int attempt = 0; attempt < 100 && !sent && !stopping_; ++attempt) {
        lock.unlock();
        sent = send_(Command{CommandKind::snapshot, job.slot, 0.0F, 0, buffer_.get()});
        lock.lock();
        if (!sent) wake_.wait_for(lock, std::chrono::milliseconds(10));
    }
    if (!sent) {
        lent_ = false;
        finish("command queue full: take not saved", 0);
        return;
    }
    if (!wait_returned(lock)) {
        finish("the take was not ready within " + std::to_string(timeout_.count()) +
                   " ms (still being recorded, or JACK is away): try again later",
               0);
        return;
    }
    const Event e = *returned_;
    if (e.kind != EventKind::snapshot_done) {
        finish("slot " + std::to_string(job.slot) + " holds no take", 0);
        return;
    }
    // The buffer is ours until the next snapshot; the file is written without the lock.
    SampleBuffer& b = *buffer_;
    lock.unlock();
    if (job.copied) {
        job.copied(b, e.frames, e.content);
        finish("", e.frames);
        return;
    }
    try {
        write_wav(job.path, b.channel(0), b.channel(1), e.frames, rate_());
    } catch (const std::exception& ex) {
        finish(ex.what(), 0);
        return;
    }
    finish("", e.frames);
}

void TakeKeeper::write_wav(const fs::path& path, const float* left, const float* right,
                           std::uint32_t frames, std::uint32_t rate) {
    const fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
    // A dot and a .tmp suffix: never taken for a sample, removed if a crash leaves it.
    const fs::path temp =
        dir / ("." + path.filename().string() + "." + std::to_string(::getpid()) + ".tmp");
    const int fd = ::open(temp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw failed(path, "create", errno);
    auto fail = [&](const char* step, int err) {
        ::unlink(temp.c_str());
        return failed(path, step, err);
    };
    SF_INFO info{};
    info.samplerate = static_cast<int>(rate);
    info.channels = 2;
    info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
    SNDFILE* file = sf_open_fd(fd, SFM_WRITE, &info, SF_FALSE);
    if (file == nullptr) {
        ::close(fd);
        throw fail("libsndfile", EINVAL);
    }
    // Interleaved a block at a time: a small buffer, whatever the take's length.
    constexpr std::uint32_t kBlock = 8192;
    std::vector<float> block(std::size_t{2} * kBlock);
    bool ok = true;
    for (std::uint32_t done = 0; done < frames && ok;) {
        const std::uint32_t n = std::min(kBlock, frames - done);
        for (std::uint32_t i = 0; i < n; ++i) {
            block[2 * i] = left[done + i];
            block[2 * i + 1] = right[done + i];
        }
        ok = sf_writef_float(file, block.data(), n) == static_cast<sf_count_t>(n);
        done += n;
    }
    const int sf_err = sf_close(file);
    if (!ok || sf_err != 0) {
        ::close(fd);
        throw fail("write", ENOSPC);
    }
    // On the disk before the name points at it (a power cut keeps the old take or the new).
    if (::fsync(fd) != 0) {
        const int err = errno;
        ::close(fd);
        throw fail("fsync", err);
    }
    if (::close(fd) != 0) throw fail("close", errno);
    if (::rename(temp.c_str(), path.c_str()) != 0) throw fail("rename", errno);
    fsync_dir(dir);
}

}  // namespace looperd
