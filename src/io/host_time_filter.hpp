// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace looperd {

// HostTimeFilter: the system clock's time of a frame of the JACK timeline.
//
// Ableton Link runs on the system clock (CLOCK_MONOTONIC_RAW, in microseconds) and looperd on
// the sound card's sample clock; the two drift apart by a few parts per million, and a clock
// reading taken at the start of a cycle jitters by the scheduler's wake-up delay. A line fitted
// through the last kPoints (frame, clock reading) pairs gives each cycle's first frame a time
// that follows the drift and not the jitter, as Link's own HostTimeFilter does; this one keeps
// its points in a fixed array (nothing allocates) and centres the sums on their means, so that
// frame counts of hours and clock readings of days keep their precision in doubles.
//
// Threads: the audio thread only (one cycle, one add). Bounded: kPoints steps per call.
class HostTimeFilter {
  public:
    static constexpr std::size_t kPoints = 512;

    // Audio thread. `micros` was read at the start of the cycle whose first frame is `frame`;
    // returns the fitted time of `frame`, in microseconds. Until two points are known, the
    // reading itself.
    double host_time(std::uint64_t frame, double micros) noexcept {
        frames_[next_] = static_cast<double>(frame);
        micros_[next_] = micros;
        next_ = (next_ + 1) % kPoints;
        if (count_ < kPoints) ++count_;
        if (count_ < 2) return micros;

        double mean_frame = 0.0;
        double mean_micros = 0.0;
        for (std::size_t i = 0; i < count_; ++i) {
            mean_frame += frames_[i];
            mean_micros += micros_[i];
        }
        mean_frame /= static_cast<double>(count_);
        mean_micros /= static_cast<double>(count_);
        double covariance = 0.0;
        double variance = 0.0;
        for (std::size_t i = 0; i < count_; ++i) {
            const double dx = frames_[i] - mean_frame;
            covariance += dx * (micros_[i] - mean_micros);
            variance += dx * dx;
        }
        // Every point on one frame (a timeline that stood still): no slope to fit.
        if (variance <= 0.0) return micros;
        const double slope = covariance / variance;  // microseconds per frame
        return mean_micros + slope * (static_cast<double>(frame) - mean_frame);
    }

    // Audio thread, or any thread while no audio thread runs: forget every point (a new server,
    // a new sample rate, a timeline that jumped).
    void reset() noexcept {
        count_ = 0;
        next_ = 0;
    }

  private:
    std::array<double, kPoints> frames_{};
    std::array<double, kPoints> micros_{};
    std::size_t count_ = 0;
    std::size_t next_ = 0;
};

}  // namespace looperd
