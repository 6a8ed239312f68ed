// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <atomic>
#include <cstdint>

namespace looperd {

// MemoryBudget: the bytes of sample memory looperd may hold at once (loaded slots, buffers
// still fading out, buffers waiting to be freed). Loader threads reserve before they allocate;
// housekeeping releases after it frees. Any thread; lock-free.
class MemoryBudget {
  public:
    explicit MemoryBudget(std::uint64_t limit_bytes) noexcept : limit_(limit_bytes) {}

    // Reserves `bytes` if they fit under the limit. Returns false (and reserves nothing) if not.
    bool try_reserve(std::uint64_t bytes) noexcept;
    void release(std::uint64_t bytes) noexcept;

    std::uint64_t used() const noexcept { return used_.load(std::memory_order_relaxed); }
    std::uint64_t limit() const noexcept { return limit_; }

  private:
    const std::uint64_t limit_;
    std::atomic<std::uint64_t> used_{0};
};

}  // namespace looperd
