// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// The Engine's MIDI output: the block's messages in time order, for the host to copy to its
// port, and MIDI clock. Audio thread only. Wait-free and bounded; does not allocate.

#include <algorithm>
#include <cmath>

#include "looperd/engine.hpp"

namespace looperd {

namespace {
constexpr double kTicksPerBeat = 24;     // MIDI clock: 24 pulses a quarter note
constexpr int kSixteenthsPerBeat = 4;    // Song Position Pointer counts 16ths ...
constexpr int kTicksPerSixteenth = 6;    // ... of 6 ticks each
constexpr int kMaxSongPosition = 16383;  // its 14 bits
}  // namespace

void Engine::midi_send(std::uint32_t time, std::uint8_t status, std::uint8_t d1, std::uint8_t d2,
                       std::uint8_t size) noexcept {
    if (midi_out_count_ == midi_out_.size()) {
        midi_out_dropped_.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    // Stable insertion by time: the host's port takes events in time order only.
    std::size_t i = midi_out_count_++;
    while (i > 0 && midi_out_[i - 1].time > time) {
        midi_out_[i] = midi_out_[i - 1];
        --i;
    }
    midi_out_[i] = {time, size, {status, d1, d2}, nullptr};
}

// Ticks in [from, to), a stretch of the block with one beat grid (commands that move the grid
// apply between stretches). Tick k lies on the frame nearest beat k / 24, computed from the
// grid's anchor each time, so the fractions of a frame never accumulate into drift: at 120 BPM
// and 48 kHz every tick is exactly 1,000 frames after the last. Bounded: a tick is at least 20
// frames long (999 BPM at 8 kHz), so a stretch of at most 8192 frames holds ~410.
void Engine::midi_clock_ticks(std::uint64_t from, std::uint64_t to) noexcept {
    if (!midi_clock_out_ || !out_rolling_ || to <= from) return;
    const double per_tick = clock_.frames_per_beat() / kTicksPerBeat;
    if (!(per_tick > 0.0)) return;
    const auto end = static_cast<double>(to);
    double k = std::floor(clock_.beat_at(from) * kTicksPerBeat) - 1.0;  // a tick before `from`
    const auto most = static_cast<int>(static_cast<double>(to - from) / per_tick) + 3;
    for (int n = 0; n < most; ++n, k += 1.0) {
        const double frame = std::nearbyint(clock_.frame_at_beat(k / kTicksPerBeat));
        if (frame >= end) break;
        if (frame < static_cast<double>(from)) continue;
        // A grid that follows JACK's transport is anchored again every block: never a tick
        // twice for one grid line.
        if (has_last_tick_ && frame < last_tick_frame_ + per_tick / 2.0) continue;
        // After a Continue the followers count on from the Song Position Pointer's 16th.
        if (k < hold_tick_) continue;
        hold_tick_ = -1.0;
        midi_send(static_cast<std::uint32_t>(frame - static_cast<double>(now_frame_)), 0xF8);
        last_tick_frame_ = frame;
        has_last_tick_ = true;
    }
}

// Followers are told what JACK's transport does, at the block's first frame, as it is seen
// (JACK reports the transport once a block):
//  - it starts rolling at beat 0: Start, then the tick on that frame;
//  - it starts rolling elsewhere: Song Position Pointer (the next 16th), Continue, and the
//    ticks from that 16th on;
//  - it stops: Stop, and no ticks until it rolls again;
//  - it jumps while rolling: Stop, Song Position Pointer, Continue; while stopped: the Song
//    Position Pointer alone.
// Only while the grid follows JACK with BBT (/clock/sync jack and a timebase master); the
// internal clock never stops, so it sends Start on /clock/reset only.
void Engine::midi_transport(const BlockTiming& t, std::uint32_t nframes) noexcept {
    const TransportInfo& tr = t.transport;
    if (!midi_clock_out_ || clock_.source() != ClockSource::jack || !tr.valid || !(tr.bpm > 0.0)) {
        out_rolling_ = true;  // ticks flow with every other source
        out_stopped_beat_ = -1.0;
        return;
    }
    const double beat = tr.beat;
    const double half_tick = 0.5 / kTicksPerBeat;  // in beats
    // The next 16th at or after the transport's beat, as the pointer's 14 bits can say it.
    const auto spp = [&]() -> std::uint16_t {
        const double sixteenths = std::ceil((beat - half_tick) * kSixteenthsPerBeat);
        return static_cast<std::uint16_t>(
            std::clamp(sixteenths, 0.0, static_cast<double>(kMaxSongPosition)));
    };
    const auto send_spp = [&](std::uint16_t p) {
        midi_send(0, 0xF2, static_cast<std::uint8_t>(p & 0x7F),
                  static_cast<std::uint8_t>((p >> 7) & 0x7F), 3);
    };
    const auto resume_at = [&](std::uint16_t p) {
        send_spp(p);
        midi_send(0, 0xFB);
        hold_tick_ = static_cast<double>(p) * kTicksPerSixteenth;
    };
    if (tr.rolling) {
        if (!out_rolling_) {
            if (std::fabs(beat) < half_tick) {
                midi_send(0, 0xFA);
                hold_tick_ = -1.0;
            } else {
                resume_at(spp());
            }
        } else if (std::fabs(beat - out_next_beat_) > half_tick) {
            midi_send(0, 0xFC);
            resume_at(spp());
        }
        out_rolling_ = true;
        out_stopped_beat_ = -1.0;
        out_next_beat_ =
            beat + static_cast<double>(nframes) * tr.bpm / (60.0 * config_.sample_rate);
        return;
    }
    if (out_rolling_) {
        midi_send(0, 0xFC);
        out_rolling_ = false;
        out_stopped_beat_ = beat;
        return;
    }
    if (std::fabs(beat - out_stopped_beat_) > half_tick) {
        send_spp(spp());
        out_stopped_beat_ = beat;
    }
}

}  // namespace looperd
