// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// The transport: stopping every loop at once and starting the same loops again on a bar line
// (/clock/playing, and a Link session's start and stop; docs/link.md#start-and-stop). Audio
// thread only. Bounded by the slot count; does not allocate.

#include <cmath>

#include "looperd/engine.hpp"

namespace looperd {

// Loops and toggles that sound stop, and are held for the next start. A slot recording or
// overdubbing is left as it is: a stop from a peer never cuts a take. One-shots and gates
// finish as they would: they are not the transport's.
void Engine::transport_stop() noexcept {
    for (std::uint32_t slot = 0; slot < slots_.size(); ++slot) {
        const SlotMode mode = slots_[slot].mode;
        if (mode != SlotMode::loop && mode != SlotMode::toggle) continue;
        if (recorders_.slot_record_state(slot) != RecorderPool::RecordState::none) continue;
        if (!slot_sounding(slot)) continue;
        stop_slot(slot);
        held_[slot] = 1;
    }
}

// The held slots start from the top on the first bar line at or after `now`, as a press
// quantized to the bar would, whatever their own quantize.
void Engine::transport_start(std::uint64_t now) noexcept {
    const std::uint64_t bar = clock_.next_grid_frame(now, -1.0);
    for (std::uint32_t slot = 0; slot < slots_.size(); ++slot) {
        if (held_[slot] == 0) continue;
        held_[slot] = 0;
        if (!slots_[slot].buffer) continue;
        if (bar <= now) {
            press(slot, 1.0F, now);
        } else {
            schedule(Command{CommandKind::play_on_grid, slot, 1.0F, 0, nullptr, bar});
        }
    }
}

// Following a Link session's start and stop: each new start or stop it tells of, as the
// block's first frame hears it, starts or stops the transport. Joining a session only notes
// its state: a rig that joins never stops or starts anything by joining.
void Engine::follow_link_playing(const LinkInfo& link, std::uint64_t now) noexcept {
    if (clock_.source() != ClockSource::link || !link.valid || !start_stop_sync_) {
        link_seen_ = false;
        return;
    }
    // Two reads of one start or stop name it by the same beat, within Link's rounding of its
    // time to the microsecond (1.7e-5 beats at 999 BPM).
    constexpr double kSameBeat = 1e-3;
    const bool is_new = link.start_stop_known &&
                        (!link_known_ || link.playing != link_playing_ ||
                         std::fabs(link.start_stop_beat - link_start_stop_beat_) > kSameBeat);
    if (link_seen_ && is_new) {
        if (link.playing) {
            transport_start(now);
        } else {
            transport_stop();
        }
    }
    link_seen_ = true;
    link_known_ = link.start_stop_known;
    link_playing_ = link.playing;
    link_start_stop_beat_ = link.start_stop_beat;
}

}  // namespace looperd
