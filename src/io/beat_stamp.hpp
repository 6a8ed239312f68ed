// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>

namespace looperd {

// BeatStamp: where looperd's beat grid was, on the system clock, at the last cycle: the host
// time (microseconds, Link's clock) at which the cycle's first frame sounds, the grid's beat
// there and its tempo.
//
// Enabling Ableton Link must not make the beat jump (Ableton's TEST-PLAN, BEATTIME-1): the
// control thread asks Link to put looperd's current beat at the current time, and only the
// audio thread knows both. One writer (the audio thread, once a cycle, wait-free) and any
// number of readers (a sequence lock: a reader that raced a write reads again, a bounded
// number of times).
class BeatStamp {
  public:
    struct Point {
        double host_micros = 0.0;
        double beat = 0.0;
        double bpm = 0.0;
    };

    // Audio thread.
    void write(const Point& p) noexcept {
        const std::uint32_t s = sequence_.load(std::memory_order_relaxed);
        sequence_.store(s + 1, std::memory_order_relaxed);  // odd: being written
        std::atomic_thread_fence(std::memory_order_release);
        host_micros_.store(p.host_micros, std::memory_order_relaxed);
        beat_.store(p.beat, std::memory_order_relaxed);
        bpm_.store(p.bpm, std::memory_order_relaxed);
        sequence_.store(s + 2, std::memory_order_release);
    }

    // Any thread. Nothing before the first write, or when every try raced a write.
    std::optional<Point> read() const noexcept {
        for (int tries = 0; tries < kTries; ++tries) {
            const std::uint32_t before = sequence_.load(std::memory_order_acquire);
            if (before == 0) return std::nullopt;
            if ((before & 1U) != 0) continue;
            Point p{host_micros_.load(std::memory_order_relaxed),
                    beat_.load(std::memory_order_relaxed), bpm_.load(std::memory_order_relaxed)};
            std::atomic_thread_fence(std::memory_order_acquire);
            if (sequence_.load(std::memory_order_relaxed) == before) return p;
        }
        return std::nullopt;
    }

    // Any thread. The grid's beat at `host_micros`, extrapolated from the last cycle at its
    // tempo.
    std::optional<double> beat_at(double host_micros) const noexcept {
        const auto p = read();
        if (!p || p->bpm <= 0.0) return std::nullopt;
        return p->beat + (host_micros - p->host_micros) * p->bpm / kMicrosPerMinute;
    }

  private:
    static constexpr int kTries = 1000;
    static constexpr double kMicrosPerMinute = 60e6;
    std::atomic<std::uint32_t> sequence_{0};
    std::atomic<double> host_micros_{0.0};
    std::atomic<double> beat_{0.0};
    std::atomic<double> bpm_{0.0};
};

}  // namespace looperd
