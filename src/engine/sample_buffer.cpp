// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "looperd/sample_buffer.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <stdexcept>

namespace looperd {

namespace {
// A statistic for the status line, ordering nothing: relaxed.
std::atomic<std::uint64_t> g_unlocked_bytes{0};
}  // namespace

std::uint64_t SampleBuffer::unlocked_bytes() noexcept {
    return g_unlocked_bytes.load(std::memory_order_relaxed);
}

SampleBuffer::SampleBuffer(std::uint32_t channels, std::uint32_t frames, std::uint32_t sample_rate)
    : channels_(channels),
      frames_(frames),
      capacity_(frames),
      sample_rate_(sample_rate),
      data_(new float[std::size_t{channels} * frames]()) {
    // The engine divides by the channel count when it maps channels to outputs.
    if (channels == 0) throw std::invalid_argument("a sample buffer needs at least one channel");
}

SampleBuffer::~SampleBuffer() {
    if (locked_) munlock(data_.get(), bytes());
    if (counted_unlocked_) g_unlocked_bytes.fetch_sub(bytes(), std::memory_order_relaxed);
}

bool SampleBuffer::prefault() noexcept {
    // Write to one float per page: a read of a never-written page could map the shared zero
    // page and still fault on the audio thread later. Writing the value back keeps it intact.
    auto* bytes_ptr = reinterpret_cast<volatile unsigned char*>(data_.get());
    const std::size_t n = bytes();
    const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    for (std::size_t i = 0; i < n; i += page) bytes_ptr[i] = bytes_ptr[i];
    if (n > 0) bytes_ptr[n - 1] = bytes_ptr[n - 1];
    // mlock keeps the pages from being swapped out; it fails beyond RLIMIT_MEMLOCK (without
    // CAP_IPC_LOCK). The load still goes on, since the pages are resident now; the daemon
    // warns once with the numbers and the fix (io/memory_lock.hpp).
    locked_ = n > 0 && mlock(data_.get(), n) == 0;
    if (!locked_ && n > 0 && !counted_unlocked_) {
        counted_unlocked_ = true;
        g_unlocked_bytes.fetch_add(n, std::memory_order_relaxed);
    }
    return locked_;
}

}  // namespace looperd
