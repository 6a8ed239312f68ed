// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// The Engine's command application: each command on its frame, quantized ones moved onto their
// grid frame, future ones kept in the scheduled list. Audio thread only. Wait-free and bounded;
// does not allocate.

#include <algorithm>
#include <cmath>

#include "looperd/engine.hpp"
#include "looperd/region.hpp"
#include "looperd/sample_buffer.hpp"

namespace looperd {

namespace {

bool is_slot_command(CommandKind k) {
    switch (k) {
        case CommandKind::stop_all:
        case CommandKind::set_master_gain:
        case CommandKind::clock_tempo:
        case CommandKind::clock_meter:
        case CommandKind::clock_reset:
        case CommandKind::clock_sync:
        case CommandKind::set_monitor_all:
        case CommandKind::set_record_offset:
        case CommandKind::set_velocity_curve:
        case CommandKind::set_midi_clock_out:
        case CommandKind::midi_send:
        case CommandKind::set_led_state:
        case CommandKind::set_pad_note:
        case CommandKind::set_led_init:
        case CommandKind::led_refresh:
        case CommandKind::set_midi_watch:
        case CommandKind::set_midi_learn:
        case CommandKind::transport_stop:
        case CommandKind::transport_start:
        case CommandKind::set_start_stop_sync:
        case CommandKind::assign_record_buffer:
        case CommandKind::assign_undo_block:
        case CommandKind::record_memory_refused:
            return false;
        default:
            return true;
    }
}

bool releases_hold(CommandKind k) {
    switch (k) {
        case CommandKind::assign_buffer:
        case CommandKind::unload:
        case CommandKind::stop:
        case CommandKind::record:
        case CommandKind::clear:
        case CommandKind::load_take:
            return true;
        default:
            return false;
    }
}

// The curve numbered `value`, linear for any other number (as velocity_curve_named gives
// linear for any other name). Compared, not cast: a cast of NaN, or of a float outside 0..255,
// to an integer is undefined behaviour.
VelocityCurve velocity_curve_numbered(float value) noexcept {
    if (value == 1.0F) return VelocityCurve::soft;
    if (value == 2.0F) return VelocityCurve::hard;
    if (value == 3.0F) return VelocityCurve::fixed;
    return VelocityCurve::linear;
}

}  // namespace

// A play message: value > 0 is a press (at that velocity factor), 0 a release. What they do
// depends on the slot's mode.
void Engine::press(std::uint32_t slot, float value, std::uint64_t now) noexcept {
    const Slot& s = slots_[slot];
    held_[slot] = 0;  // played by hand: the transport's next start leaves it be
    const bool pressed = value > 0.0F;
    const float velocity = std::min(value, 1.0F);
    switch (s.mode) {
        case SlotMode::oneshot:
        case SlotMode::loop:
            if (pressed) start_voice(slot, now, velocity);
            break;
        case SlotMode::gate:
            if (pressed) {
                start_voice(slot, now, velocity);
            } else {
                stop_slot(slot);
            }
            break;
        case SlotMode::toggle:
            if (!pressed) break;
            if (slot_sounding(slot)) {
                stop_slot(slot);
            } else {
                start_voice(slot, now, velocity);
            }
            break;
    }
}

// Inserts a command into the scheduled list, keeping it sorted by frame and stable.
void Engine::schedule(const Command& c) noexcept {
    if (scheduled_size_ == scheduled_.size()) {
        refused_scheduled_.fetch_add(1, std::memory_order_relaxed);
        // A buffer's ownership must still be honoured: hand it straight back.
        if (gives_buffer(c.kind) && c.buffer) post({EventKind::buffer_retired, 0, c.buffer});
        return;
    }
    std::size_t i = scheduled_size_;
    while (i > 0 && scheduled_[i - 1].frame > c.frame) {
        scheduled_[i] = scheduled_[i - 1];
        --i;
    }
    scheduled_[i] = c;
    ++scheduled_size_;
}

// A quantized play or stop was put on the frame where the grid then had its beat. When the grid
// moves (a tempo that changed, or the frames' times re-estimated: a Link session's beat lands on
// another frame), it goes to where that beat is now, so that it sounds on the same bar line as
// every peer. Bounded by the scheduled list's capacity; the list is sorted again (insertion:
// it is nearly sorted, and only a moved grid pays for it).
void Engine::follow_grid(const Clock& before, std::uint64_t now) noexcept {
    const double moved = (clock_.beat_at(now) - before.beat_at(now)) * clock_.frames_per_beat();
    if (std::fabs(moved) < 0.5 && clock_.bpm() == before.bpm()) return;
    bool any = false;
    for (std::size_t i = 0; i < scheduled_size_; ++i) {
        Command& c = scheduled_[i];
        if (c.kind != CommandKind::play_on_grid && c.kind != CommandKind::stop_on_grid) continue;
        const double frame = std::nearbyint(clock_.frame_at_beat(before.beat_at(c.frame)));
        // A beat the grid has passed already plays at once (now), as a late command does.
        c.frame = frame > static_cast<double>(now) ? static_cast<std::uint64_t>(frame) : now;
        any = true;
    }
    if (!any) return;
    for (std::size_t i = 1; i < scheduled_size_; ++i) {
        const Command c = scheduled_[i];
        std::size_t j = i;
        for (; j > 0 && scheduled_[j - 1].frame > c.frame; --j) scheduled_[j] = scheduled_[j - 1];
        scheduled_[j] = c;
    }
}

void Engine::apply(const Command& c, std::uint64_t now) noexcept {
    if (is_slot_command(c.kind) && c.slot >= slots_.size()) {
        post({EventKind::bad_command, c.slot, nullptr});
        // An assign to a slot that does not exist hands its buffer straight back.
        if (gives_buffer(c.kind) && c.buffer) post({EventKind::buffer_retired, 0, c.buffer});
        if (c.kind == CommandKind::snapshot && c.buffer)
            post({EventKind::snapshot_refused, c.slot, c.buffer});
        return;
    }
    Slot* s = is_slot_command(c.kind) ? &slots_[c.slot] : nullptr;
    // A slot stopped, emptied or recorded by hand is no longer the transport's to start again.
    if (releases_hold(c.kind)) held_[c.slot] = 0;
    auto each_voice = [this, &c](auto&& f) {
        for (auto& v : voices_)
            if (v.active && v.slot == c.slot) f(v);
    };
    // Quantized play and stop move to the next grid frame (unless they are on it already).
    auto quantized = [&](CommandKind on_grid) {
        if (s->quantize == 0.0F) return false;
        const std::uint64_t grid = clock_.next_grid_frame(now, static_cast<double>(s->quantize));
        if (grid <= now) return false;
        Command moved = c;
        moved.kind = on_grid;
        moved.frame = grid;
        schedule(moved);
        return true;
    };

    switch (c.kind) {
        case CommandKind::assign_buffer:
        case CommandKind::unload: {
            // A reload (value != 0) keeps a sounding loop going, on the new buffer.
            const bool restart = c.kind == CommandKind::assign_buffer && c.value != 0.0F &&
                                 s->mode != SlotMode::oneshot && slot_sounding(c.slot);
            stop_slot(c.slot);
            recorders_.drop_take(c.slot, host_);
            set_slot_stretched(c.slot, nullptr);  // a rendering of the sample that went
            set_slot_buffer(c.slot, c.kind == CommandKind::assign_buffer ? c.buffer : nullptr);
            if (restart) start_voice(c.slot, now);
            break;
        }
        case CommandKind::play:
            if (!quantized(CommandKind::play_on_grid)) press(c.slot, c.value, now);
            break;
        case CommandKind::play_on_grid:
            press(c.slot, c.value, now);
            break;
        case CommandKind::stop:
            if (!quantized(CommandKind::stop_on_grid)) stop_slot(c.slot);
            break;
        case CommandKind::stop_on_grid:
            stop_slot(c.slot);
            break;
        case CommandKind::stop_all:
            for (auto& v : voices_)
                if (v.active) release(v);
            break;
        case CommandKind::set_gain:
            s->gain = c.value;
            each_voice([&](Voice& v) { v.gain.go(c.value * v.velocity, smooth_frames_); });
            break;
        case CommandKind::set_mode: {
            s->mode = static_cast<SlotMode>(static_cast<std::uint8_t>(c.value));
            const bool loop = s->mode != SlotMode::oneshot;
            each_voice([&](Voice& v) { v.loop = loop; });
            break;
        }
        case CommandKind::set_pan:
            s->pan = c.value;
            each_voice([&](Voice& v) { set_pan(v, c.value, smooth_frames_); });
            break;
        case CommandKind::set_rate:
        case CommandKind::set_pitch:
        case CommandKind::set_beats:
            (c.kind == CommandKind::set_rate    ? s->rate
             : c.kind == CommandKind::set_pitch ? s->pitch
                                                : s->beats) = c.value;
            each_voice([&](Voice& v) { v.rate.go(target_rate(*s, v), smooth_frames_); });
            break;
        case CommandKind::set_stretch: {
            const auto mode = c.value == 1.0F   ? StretchMode::pitch
                              : c.value == 2.0F ? StretchMode::off
                                                : StretchMode::rate;
            s->stretch = mode;
            // Another mode has no use for the rendering; voices on it leave at their seam.
            if (mode != StretchMode::pitch) set_slot_stretched(c.slot, nullptr);
            each_voice([&](Voice& v) { v.rate.go(target_rate(*s, v), smooth_frames_); });
            break;
        }
        case CommandKind::assign_stretched: {
            // Made from the sample, or from the take as it is now: else the sample went, the
            // take changed or the mode did since the render began, and nothing plays it.
            if (c.buffer != nullptr && (s->buffer == nullptr || s->stretch != StretchMode::pitch ||
                                        !rendering_fits(c.slot, c.content))) {
                post({EventKind::buffer_retired, 0, c.buffer});
                break;
            }
            set_slot_stretched(c.slot, c.buffer, c.content);
            break;
        }
        case CommandKind::set_reverse:
            s->reverse = c.value != 0.0F;
            break;
        case CommandKind::set_start:
        case CommandKind::set_end: {
            (c.kind == CommandKind::set_start ? s->start : s->end) =
                std::clamp(c.value, 0.0F, 1.0F);
            // Playing voices finish their pass and loop within the new bounds from the next
            // seam: moving the position now would jump.
            if (!s->buffer) break;
            const Region region = region_frames(s->start, s->end, s->buffer->frames());
            each_voice([&](Voice& v) {
                if (v.buffer != s->buffer || region.end == 0) return;
                v.next_begin = region.begin;
                v.next_end = region.end;
            });
            // The region's length changes a tempo-following rate.
            each_voice([&](Voice& v) { v.rate.go(target_rate(*s, v), smooth_frames_); });
            break;
        }
        case CommandKind::set_xfade:
            s->xfade_ms = c.value;
            break;
        case CommandKind::set_poly:
            s->poly = std::clamp(static_cast<std::uint32_t>(c.value), 1U, limits::kMaxPoly);
            break;
        case CommandKind::set_choke:
            s->choke = static_cast<std::uint32_t>(c.value);
            break;
        case CommandKind::set_output:
            s->output = static_cast<std::uint32_t>(c.value);
            break;
        case CommandKind::set_fade_in:
            s->fade_in_ms = c.value;
            break;
        case CommandKind::set_fade_out:
            s->fade_out_ms = std::max(c.value, static_cast<float>(limits::kMinFadeMs));
            break;
        case CommandKind::set_quantize:
            s->quantize = c.value;
            break;
        case CommandKind::set_master_gain:
            master_.go(c.value, smooth_frames_);
            break;
        case CommandKind::clock_tempo:
            clock_.set_tempo(static_cast<double>(c.value), now);
            update_voice_rates();
            break;
        case CommandKind::clock_meter:
            clock_.set_meter(static_cast<double>(c.value));
            break;
        case CommandKind::clock_reset:
            clock_.reset(now);
            clock_in_counting_ = false;  // MIDI clock in: beat 0 goes to the tick nearest
            // Followers start from the top with us: Start, then the tick on this frame.
            if (midi_clock_out_ && now >= now_frame_) {
                midi_send(static_cast<std::uint32_t>(now - now_frame_), 0xFA);
                has_last_tick_ = false;
                hold_tick_ = -1.0;
            }
            break;
        case CommandKind::clock_sync:
            clock_.set_source(static_cast<ClockSource>(static_cast<std::uint8_t>(c.value)));
            clock_in_counting_ = false;
            if (clock_.source() == ClockSource::link) {
                // Loops already playing are held from where they are: lock_loops takes their
                // place in the pass as their phase (a length of 0 is no slot's `beats`).
                for (auto& v : voices_)
                    if (v.active && v.loop && slots_[v.slot].beats > 0.0F &&
                        !recorders_.holds_take(v.slot) && !v.grid_locked) {
                        v.grid_locked = true;
                        v.grid_length = 0.0;
                    }
            }
            break;
        case CommandKind::set_monitor_all:
            monitor_all_ = c.value != 0.0F;
            break;
        case CommandKind::set_monitor: {
            const bool on = c.value != 0.0F;
            if (on != s->monitor) monitored_slots_ += on ? 1U : -1U;
            s->monitor = on;
            break;
        }
        case CommandKind::clock_from_slot: {
            std::uint64_t origin = 0;
            if (!recorders_.take_origin(c.slot, origin) || !(c.value > 0.0F)) {
                post({EventKind::tempo_refused, c.slot, nullptr});
                break;
            }
            // The grid's zero where the take's frame 0 last played: bar lines fall on the loop's
            // passes from the past on.
            clock_.set_tempo(static_cast<double>(c.value), now);
            clock_.reset(std::min(origin, now));
            clock_in_counting_ = false;
            update_voice_rates();
            break;
        }
        case CommandKind::set_velocity_curve:
            velocity_curve_ = velocity_curve_numbered(c.value);
            break;
        case CommandKind::set_midi_clock_out:
            midi_clock_out_ = c.value != 0.0F;
            has_last_tick_ = false;
            break;
        case CommandKind::midi_send:
        case CommandKind::set_led_slot:
        case CommandKind::set_led_state:
        case CommandKind::set_pad_note:
        case CommandKind::set_led_init:
        case CommandKind::led_refresh:
            apply_midi_command(c, now);
            break;
        case CommandKind::set_midi_watch:
            // Compared, not cast (see velocity_curve_numbered): a mask is a whole 0..65535.
            if (c.slot < kMidiControlKeys && c.value >= 0.0F && c.value <= 65535.0F)
                midi_watch_[c.slot] = static_cast<std::uint16_t>(c.value);
            break;
        case CommandKind::set_midi_learn:
            midi_learn_ = c.value != 0.0F;
            break;
        case CommandKind::transport_stop:
            transport_stop();
            break;
        case CommandKind::transport_start:
            transport_start(now);
            break;
        case CommandKind::set_start_stop_sync:
            start_stop_sync_ = c.value != 0.0F;
            break;
        case CommandKind::record:
        case CommandKind::overdub:
        case CommandKind::undo:
        case CommandKind::redo:
        case CommandKind::clear:
        case CommandKind::set_input:
        case CommandKind::set_record_offset:
        case CommandKind::record_on_grid:
        case CommandKind::overdub_on_grid:
        case CommandKind::snapshot:
        case CommandKind::load_take:
        case CommandKind::assign_record_buffer:
        case CommandKind::assign_undo_block:
        case CommandKind::record_memory_refused:
            recorders_.apply(c, now, host_);
            break;
    }
}

}  // namespace looperd
