// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <atomic>
#include <cstdint>

namespace looperd {

// RenderMeter: the longest time one block took to render, per window of about a second of
// audio, so /status can tell whether rendering stays well inside the period.
//
// Threads: record() is called by the audio thread only (one writer, so a plain compare is
// enough, no CAS loop); last_window_max_ns() by any thread. The window is counted in frames, so
// it needs no clock of its own; the caller times each block with CLOCK_MONOTONIC, which Linux
// serves from the vDSO without a system call.
class RenderMeter {
  public:
    // Audio thread. Wait-free; does not allocate. A block of `frames` took `render_ns`; once
    // `window_frames` have been recorded, the window's longest block is published and a new
    // window starts.
    void record(std::uint64_t render_ns, std::uint32_t frames,
                std::uint32_t window_frames) noexcept {
        if (render_ns > window_max_ns_) window_max_ns_ = render_ns;
        window_done_ += frames;
        if (window_done_ < window_frames) return;
        // Relaxed: a reader wants the latest number, not an ordering with anything else.
        last_window_max_ns_.store(window_max_ns_, std::memory_order_relaxed);
        window_max_ns_ = 0;
        window_done_ = 0;
    }

    // Any thread. The longest block of the last completed window, in nanoseconds; 0 before the
    // first window completes.
    std::uint64_t last_window_max_ns() const noexcept {
        return last_window_max_ns_.load(std::memory_order_relaxed);
    }

  private:
    std::uint64_t window_max_ns_ = 0;  // audio thread only
    std::uint64_t window_done_ = 0;    // audio thread only: frames recorded in this window
    std::atomic<std::uint64_t> last_window_max_ns_{0};
    static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
                  "the audio thread publishes without a lock");
};

}  // namespace looperd
