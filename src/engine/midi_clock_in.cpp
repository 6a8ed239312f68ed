// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// Following an external MIDI clock: the delay-locked loop and the transport's song position.
// Audio thread only; wait-free, O(1) per message, does not allocate.

#include "looperd/midi_clock_in.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace looperd {

namespace {
// A tick this far off its prediction (a tenth of a period, and at least 2 ms), three times in
// a row on the same side, is a tempo step rather than jitter. The floor keeps ±1 ms of jitter
// from passing for a step at fast tempos (at 300 BPM a tenth of a tick is 0.8 ms).
constexpr double kSlipFraction = 1.0 / 10;
constexpr double kSlipFloorSeconds = 0.002;
constexpr int kSlipTicks = 3;
}  // namespace

MidiClockIn::Tick MidiClockIn::tick(std::uint64_t frame, double guess,
                                    double sample_rate) noexcept {
    const double min_period = sample_rate * 60.0 / kMaxBpm / kTicksPerBeat;
    const double max_period = sample_rate * 60.0 / kMinBpm / kTicksPerBeat;
    const auto t = static_cast<double>(frame);
    // A gap the block's loss check did not see (a caller feeding ticks alone) loses it too.
    if (count_ > 0 && frame > last_frame_ &&
        static_cast<double>(frame - last_frame_) >= kLossSeconds * sample_rate)
        count_ = 0;
    double estimate = t;  // the filtered time of this tick
    if (count_ == 0) {
        // The first tick: its own frame, at the period the grid already had.
        period_ = std::clamp(guess, min_period, max_period);
        fit_ = 1;
        slip_run_ = 0;
        slip_side_ = 0;
    } else {
        const double e = t - next_;
        const double slip = std::max(kSlipFraction * period_, kSlipFloorSeconds * sample_rate);
        const int side = e > slip ? 1 : (e < -slip ? -1 : 0);
        slip_run_ = side != 0 && side == slip_side_ ? slip_run_ + 1 : (side != 0 ? 1 : 0);
        slip_side_ = side;
        if (slip_run_ >= kSlipTicks) {
            fit_ = 1;  // a tempo step: fit afresh from here
            slip_run_ = 0;
        }
        // Loop gains at the locked bandwidth (Adriaensen: w = 2 pi B T, b = sqrt2 w, c = w^2)
        // or those of a least-squares line through the n ticks seen, whichever is wider.
        const double w = 2.0 * std::numbers::pi * kBandwidthHz * period_ / sample_rate;
        double b = std::numbers::sqrt2 * w;
        double c = w * w;
        const auto n = static_cast<double>(++fit_);
        if (const double fit_b = 2.0 * (2.0 * n - 1.0) / (n * (n + 1.0)); fit_b > b) {
            b = fit_b;
            c = 6.0 / (n * (n + 1.0));
        }
        estimate = next_ + b * e;
        period_ = std::clamp(period_ + c * e, min_period, max_period);
    }
    ++count_;
    next_ = estimate + period_;
    last_frame_ = frame;

    Tick out{estimate, period_, relabel_, song_tick_};
    relabel_ = false;
    if (running_) ++song_tick_;
    return out;
}

void MidiClockIn::start() noexcept {
    running_ = true;
    relabel_ = true;
    song_tick_ = 0;
}

void MidiClockIn::resume() noexcept {
    running_ = true;
    relabel_ = true;
}

void MidiClockIn::stop() noexcept {
    running_ = false;
    relabel_ = false;
}

void MidiClockIn::song_position(std::uint16_t sixteenths) noexcept {
    song_tick_ = static_cast<std::uint64_t>(sixteenths) * 6;  // a 16th is 6 ticks
    relabel_ = running_;  // a relocation while running moves the grid at the next tick
}

bool MidiClockIn::check_loss(std::uint64_t now, double sample_rate) noexcept {
    if (count_ == 0 || now <= last_frame_) return false;
    if (static_cast<double>(now - last_frame_) < kLossSeconds * sample_rate) return false;
    count_ = 0;
    return true;
}

}  // namespace looperd
