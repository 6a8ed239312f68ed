// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <readerwriterqueue/readerwriterqueue.h>

#include <cstddef>
#include <type_traits>

namespace looperd {

// SpscRing: a bounded single-producer, single-consumer ring of trivially copyable values.
//
// moodycamel's ReaderWriterQueue underneath, constructed with its whole capacity so that
// try_push never allocates; only try_push / try_pop are exposed so that no caller can reach
// the allocating enqueue(). Exactly one thread pushes and exactly one thread pops.
// `capacity` is a minimum: a push succeeds whenever fewer than `capacity` values are queued.
// moodycamel rounds up and, for large rings, reuses space a block at a time, so a full ring
// may hold up to about twice that.
template <typename T>
class SpscRing {
    static_assert(std::is_trivially_copyable_v<T>);

  public:
    // Note: allocates memory (all of it, now).
    explicit SpscRing(std::size_t capacity) : queue_(capacity), capacity_(capacity) {}

    // Producer thread. Wait-free; does not allocate. Returns false when full (value dropped).
    bool try_push(const T& value) noexcept { return queue_.try_enqueue(value); }

    // Consumer thread. Wait-free; does not allocate. Returns false when empty.
    bool try_pop(T& out) noexcept { return queue_.try_dequeue(out); }

    // Either thread; approximate.
    std::size_t size_approx() const noexcept { return queue_.size_approx(); }
    std::size_t capacity() const noexcept { return capacity_; }

  private:
    moodycamel::ReaderWriterQueue<T> queue_;
    std::size_t capacity_;
};

}  // namespace looperd
