// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace looperd {

// HostTimeFilter: the system clock's time of a frame of the JACK timeline, from this client's
// own wake-ups: what JackClient falls back on where the server gives no cycle times
// (jack_get_cycle_times, JACK's own estimate, comes first: see JackClient::cycle_host_micros).
//
// Ableton Link runs on the system clock (CLOCK_MONOTONIC_RAW, in microseconds) and looperd on
// the sound card's sample clock; the two drift apart by a few parts per million, and a clock
// reading taken at the start of a cycle jitters by the scheduler's wake-up delay. A line fitted
// through the last kPoints (frame, clock reading) pairs gives each cycle's first frame a time
// that follows the drift and not the jitter, as Link's own HostTimeFilter does; this one keeps
// its points in a fixed array (nothing allocates) and centres the sums on their means, so that
// frame counts of hours and clock readings of days keep their precision in doubles.
//
// The slope (the sample clock's rate against the system clock's) is only fitted once a line has
// kMinSlopePoints points: a line through a handful of readings, each late by the scheduler's
// whim, could point anywhere. Until then the slope is the last line's (a jump moves the
// timeline, not the clocks' rates), else the nominal rate given by expect_rate(), and only
// the offset is fitted.
//
// Threads: the audio thread only (one cycle, one add). Bounded: kPoints steps per call.
class HostTimeFilter {
  public:
    static constexpr std::size_t kPoints = 512;

    // Audio thread. `micros` was read at the start of the cycle whose first frame is `frame`;
    // returns the fitted time of `frame`, in microseconds. Until two points are known, the
    // reading itself.
    double host_time(std::uint64_t frame, double micros) noexcept {
        // A reading off the line by more than kJumpMicros is left out of the fit (one very
        // late wake-up would otherwise move every time for a whole window), unless kJumpCycles
        // in a row are off the same way: then the timeline has left the line for good (an
        // xrun: frames skipped on a sound card, a timed driver's schedule restarted late) and
        // a new line starts, where a fit across the jump would be off by part of it.
        if (fitted_) {
            const double predicted =
                mean_micros_ + slope_ * (static_cast<double>(frame) - mean_frame_);
            const double off = micros - predicted;
            const int side = off > kJumpMicros ? 1 : (off < -kJumpMicros ? -1 : 0);
            off_line_ = side != 0 && side == off_side_ ? off_line_ + 1 : (side != 0 ? 1 : 0);
            off_side_ = side;
            if (off_line_ >= kJumpCycles) {
                relocate();
            } else if (side != 0) {
                return predicted;
            }
        }
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
        if (count_ >= kMinSlopePoints || !slope_known_) {
            double covariance = 0.0;
            double variance = 0.0;
            for (std::size_t i = 0; i < count_; ++i) {
                const double dx = frames_[i] - mean_frame;
                covariance += dx * (micros_[i] - mean_micros);
                variance += dx * dx;
            }
            // Every point on one frame (a timeline that stood still): no slope to fit.
            if (variance <= 0.0) return micros;
            slope_ = covariance / variance;  // microseconds per frame
            if (count_ >= kMinSlopePoints) slope_known_ = true;
        }
        mean_frame_ = mean_frame;
        mean_micros_ = mean_micros;
        fitted_ = true;
        return mean_micros + slope_ * (static_cast<double>(frame) - mean_frame);
    }

    // Audio thread, or any thread while no audio thread runs: forget every point and the slope
    // (a new server, a new sample rate).
    void reset() noexcept {
        relocate();
        slope_known_ = false;
    }

    // Audio thread: the sample clock's nominal rate, the slope until one is fitted (no effect
    // once a slope is known).
    void expect_rate(double frames_per_second) noexcept {
        if (slope_known_ || !(frames_per_second > 0.0)) return;
        slope_ = 1e6 / frames_per_second;
        slope_known_ = true;
    }

    // A jump: this far off the line, this many cycles in a row. Far beyond a fitted time's own
    // scatter (tens of microseconds); a busy machine that stalls a process for tens of
    // milliseconds wakes it late for a few cycles while it catches up, never for 16 (43 ms at
    // 128 frames and 48 kHz); a timeline that jumped stays off for good.
    static constexpr double kJumpMicros = 1000.0;
    static constexpr int kJumpCycles = 16;
    // Points a line needs before its own slope is fitted.
    static constexpr std::size_t kMinSlopePoints = 64;

  private:
    // A jump: a new line, with the clocks' rates as they were.
    void relocate() noexcept {
        count_ = 0;
        next_ = 0;
        fitted_ = false;
        off_line_ = 0;
        off_side_ = 0;
    }

    std::array<double, kPoints> frames_{};
    std::array<double, kPoints> micros_{};
    std::size_t count_ = 0;
    std::size_t next_ = 0;
    // The last line fitted, against which the next reading is judged.
    bool fitted_ = false;
    double mean_frame_ = 0.0;
    double mean_micros_ = 0.0;
    double slope_ = 0.0;
    bool slope_known_ = false;  // slope_ is a fit of kMinSlopePoints or more, or the nominal
    int off_line_ = 0;  // readings in a row off the line, on side off_side_ (1 late, -1 early)
    int off_side_ = 0;
};

}  // namespace looperd
