// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// The Engine's MIDI output: the block's messages in time order, for the host to copy to its
// port, and MIDI clock. Audio thread only. Wait-free and bounded; does not allocate.

#include <cmath>

#include "looperd/engine.hpp"

namespace looperd {

namespace {
constexpr double kTicksPerBeat = 24;  // MIDI clock: 24 pulses a quarter note
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
    if (!midi_clock_out_ || to <= from) return;
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
        midi_send(static_cast<std::uint32_t>(frame - static_cast<double>(now_frame_)), 0xF8);
        last_tick_frame_ = frame;
        has_last_tick_ = true;
    }
}

}  // namespace looperd
