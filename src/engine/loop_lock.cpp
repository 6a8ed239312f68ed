// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// Following Ableton Link, a looping voice of a slot with `beats` stays on the session's beat
// grid. Its rate makes a pass last `beats` beats at the session's tempo, but it counts in JACK's
// frames, and the session's beats run on the system clock: a sound card's clock a few parts per
// million off, or a JACK cycle lost in an xrun, moves the loop off the grid, further each pass.
// Each block compares where the voice is in its pass with where the grid says it should be:
// within half a millisecond it is left alone (its frames play bit for bit); up to 2 ms off (a
// clock's slow drift), its rate is nudged (at most ±0.2 %, 3.5 cents) until it is back; more
// than 2 ms off (an xrun lost a period, the server stalled), it jumps to its place with a
// crossfade: the dropout was heard already, and the loop is in time again right after it.
// Audio thread only; bounded by the voice count.

#include <algorithm>
#include <cmath>

#include "looperd/engine.hpp"

namespace looperd {

namespace {

constexpr double kDeadBandMs = 0.5;       // off by less: left alone
constexpr double kSettledFrames = 2.0;    // a nudge ends this close
constexpr double kJumpMs = 2.0;           // off by more: a crossfaded jump
constexpr double kMaxNudge = 0.002;       // the rate's largest correction
constexpr double kNudgeFrames = 24000.0;  // the correction: the error's frames over this

}  // namespace

void Engine::lock_loops(std::uint64_t now) noexcept {
    if (clock_.source() != ClockSource::link) return;
    const double beat = clock_.beat_at(now);
    const double frames_per_beat = clock_.frames_per_beat();
    const double ms = static_cast<double>(config_.sample_rate) * 1e-3;  // frames a millisecond
    for (auto& v : voices_) {
        if (!v.active || v.releasing || !v.grid_locked || v.end <= v.begin) continue;
        const Slot& s = slots_[v.slot];
        if (s.beats <= 0.0F) {
            v.grid_locked = false;  // no longer tempo-following: it plays on its own
            continue;
        }
        const double length = static_cast<double>(s.beats);
        const double per_beat = static_cast<double>(v.end - v.begin) / length;  // source frames
        const double done = v.reverse ? static_cast<double>(v.end - 1) - v.position
                                      : v.position - static_cast<double>(v.begin);
        const double actual = done / per_beat;  // beats into the pass
        if (length != v.grid_length) {
            // `beats` changed: where the loop is now is its new phase, not a jump.
            v.grid_beat = beat - actual;
            v.grid_length = length;
            continue;
        }
        double expected = std::fmod(beat - v.grid_beat, length);
        if (expected < 0.0) expected += length;
        double off = actual - expected;  // beats; > 0: ahead of the grid
        if (off > 0.5 * length) off -= length;
        if (off < -0.5 * length) off += length;
        const double off_frames = off * frames_per_beat;
        const float target = target_rate(s, v);

        if (std::abs(off_frames) > kJumpMs * ms) {
            // A new voice at the grid's place fades in as this one fades out.
            Voice* const spare = free_voice();
            if (spare == nullptr) continue;  // no voice to cross with: nudging only
            v.releasing = true;
            v.envelope.go(0.0F, fade_frames_);
            const double grid_beat = v.grid_beat;
            Voice* const n = start_voice(v.slot, now, v.velocity);
            if (n == nullptr) continue;
            const double into =
                std::min(expected * per_beat, static_cast<double>(n->end - n->begin) - 1.0);
            n->position = n->reverse ? static_cast<double>(n->end - 1) - into
                                     : static_cast<double>(n->begin) + into;
            n->grid_beat = grid_beat;
            n->envelope.jump(0.0F);
            n->envelope.go(1.0F, fade_frames_);
            continue;
        }
        const double band = v.nudged ? kSettledFrames : kDeadBandMs * ms;
        if (std::abs(off_frames) < band) {
            if (v.nudged) {
                v.nudged = false;
                v.rate.go(target, smooth_frames_);
            }
            continue;
        }
        v.nudged = true;
        const double nudge = std::clamp(off_frames / kNudgeFrames, -kMaxNudge, kMaxNudge);
        v.rate.go(static_cast<float>(static_cast<double>(target) * (1.0 - nudge)),
                  std::max<std::uint32_t>(block_frames_, 1));
    }
}

}  // namespace looperd
