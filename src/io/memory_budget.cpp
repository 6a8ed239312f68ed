// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "io/memory_budget.hpp"

#include <cassert>

namespace looperd {

// Both operations are compare-exchange loops rather than fetch_add / fetch_sub so that the
// counter never holds a value over the limit (or below zero), not even for a moment another
// thread could observe:
//
//   seen = used
//   loop:
//       if seen + bytes would pass the limit: refuse
//       try used: seen -> seen + bytes   (on failure `seen` is refreshed; go again)
//
// Relaxed ordering is enough: the counter guards no other data. The sample memory itself is
// handed between threads through the command and event rings, which carry their own ordering;
// the atomic read-modify-writes on `used_` alone keep the sum exact.

bool MemoryBudget::try_reserve(std::uint64_t bytes) noexcept {
    std::uint64_t seen = used_.load(std::memory_order_relaxed);
    do {
        // Written as a subtraction so that a huge `bytes` cannot wrap around.
        if (bytes > limit_ || seen > limit_ - bytes) return false;
    } while (!used_.compare_exchange_weak(seen, seen + bytes, std::memory_order_relaxed,
                                          std::memory_order_relaxed));
    return true;
}

void MemoryBudget::release(std::uint64_t bytes) noexcept {
    std::uint64_t seen = used_.load(std::memory_order_relaxed);
    std::uint64_t next = 0;
    do {
        // Releasing more than was reserved is a bug; in a release build clamp at zero rather
        // than wrap to 2^64 and refuse every later load.
        assert(bytes <= seen && "MemoryBudget: released more than was reserved");
        next = bytes <= seen ? seen - bytes : 0;
    } while (!used_.compare_exchange_weak(seen, next, std::memory_order_relaxed,
                                          std::memory_order_relaxed));
}

}  // namespace looperd
