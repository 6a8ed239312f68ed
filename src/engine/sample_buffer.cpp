// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "looperd/sample_buffer.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace looperd {

SampleBuffer::SampleBuffer(std::uint32_t channels, std::uint32_t frames, std::uint32_t sample_rate)
    : channels_(channels),
      frames_(frames),
      sample_rate_(sample_rate),
      data_(new float[std::size_t{channels} * frames]()) {
    // The engine divides by the channel count when it maps channels to outputs.
    if (channels == 0) throw std::invalid_argument("a sample buffer needs at least one channel");
}

SampleBuffer::~SampleBuffer() {
    if (locked_) munlock(data_.get(), bytes());
}

bool SampleBuffer::prefault() noexcept {
    // Write to one float per page: a read of a never-written page could map the shared zero
    // page and still fault on the audio thread later. Writing the value back keeps it intact.
    auto* bytes_ptr = reinterpret_cast<volatile unsigned char*>(data_.get());
    const std::size_t n = bytes();
    const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    for (std::size_t i = 0; i < n; i += page) bytes_ptr[i] = bytes_ptr[i];
    if (n > 0) bytes_ptr[n - 1] = bytes_ptr[n - 1];
    // mlock keeps the pages from being swapped out; it may fail without CAP_IPC_LOCK or a
    // LimitMEMLOCK raise, which is tolerable: the pages are resident now either way.
    locked_ = n > 0 && mlock(data_.get(), n) == 0;
    return locked_;
}

}  // namespace looperd
