// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace looperd {

// SampleBuffer: the frames of one loaded file, planar (one contiguous array per channel),
// already at the engine's sample rate.
//
// Threads: built and prefaulted by the loader thread, read by the audio thread, deleted by
// the housekeeping thread after the engine retires it. The frames never change once the
// buffer is published. The only mutable member is the audio thread's reference count,
// which no other thread touches while the engine holds the buffer.
//
// Record buffers are the exception: the engine's RecorderPool makes them in its constructor
// (pooled), and the audio thread alone writes their frames and sets their length (at most
// their capacity); they never leave the pool, so no other thread reads them.
class SampleBuffer {
  public:
    // Note: allocates memory. Not for the audio thread. Frames start zeroed.
    SampleBuffer(std::uint32_t channels, std::uint32_t frames, std::uint32_t sample_rate);
    SampleBuffer(const SampleBuffer&) = delete;
    SampleBuffer& operator=(const SampleBuffer&) = delete;
    ~SampleBuffer();  // munlocks if prefault() locked

    std::uint32_t channels() const noexcept { return channels_; }
    std::uint32_t frames() const noexcept { return frames_; }
    std::uint32_t sample_rate() const noexcept { return sample_rate_; }
    // Memory held: the capacity, which is the length except for record buffers.
    std::size_t bytes() const noexcept {
        return static_cast<std::size_t>(channels_) * capacity_ * sizeof(float);
    }
    const float* channel(std::uint32_t c) const noexcept {
        return data_.get() + std::size_t{c} * capacity_;
    }

    // Loader thread only, before publication; for a record buffer, the audio thread.
    float* mutable_channel(std::uint32_t c) noexcept {
        return data_.get() + std::size_t{c} * capacity_;
    }

    // Record buffers (audio thread only). Wait-free.
    std::uint32_t capacity() const noexcept { return capacity_; }
    void set_frames(std::uint32_t frames) noexcept {
        frames_ = frames < capacity_ ? frames : capacity_;
    }
    bool pooled() const noexcept { return pooled_; }
    void set_pooled() noexcept { pooled_ = true; }

    // Loader thread, before publication: touch every page so the audio thread never faults
    // on it, and lock it in RAM when the process may (RLIMIT_MEMLOCK). Returns true if locked.
    bool prefault() noexcept;
    bool locked() const noexcept { return locked_; }

    // Bytes of prefaulted buffers that mlock refused, alive in this process now: what the
    // service status reports as "not locked". Any thread.
    static std::uint64_t unlocked_bytes() noexcept;

    // Audio thread only (Engine). Wait-free.
    std::uint32_t& rt_refs() noexcept { return rt_refs_; }

    // Holders off the audio thread. A buffer starts with one: the engine's, once it is sent.
    // Another thread that must read the frames after the engine may have retired it (the
    // stretch renderer reading a slot's sample) holds it too; whoever lets go last deletes it.
    // Any thread; lock-free. let_go() returns true for the last holder, who must delete.
    void hold() noexcept { holders_.fetch_add(1, std::memory_order_relaxed); }
    bool let_go() noexcept { return holders_.fetch_sub(1, std::memory_order_acq_rel) == 1; }

  private:
    std::uint32_t channels_;
    std::uint32_t frames_;
    std::uint32_t capacity_;  // frames allocated per channel (the channel stride)
    std::uint32_t sample_rate_;
    std::uint32_t rt_refs_ = 0;
    std::atomic<std::uint32_t> holders_{1};
    bool locked_ = false;
    bool pooled_ = false;            // a record buffer: never retired, never leaves its pool
    bool counted_unlocked_ = false;  // added to unlocked_bytes() by prefault()
    std::unique_ptr<float[]> data_;
};

}  // namespace looperd
