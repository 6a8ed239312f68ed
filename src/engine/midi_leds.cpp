// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// The Engine's lights: each slot's state (empty, loaded, queued, playing, recording,
// overdubbing) worked out at the end of every block and compared with what its light last
// showed; a change sends the light's message in that same block. Also the pad map (which note
// plays which slot), the init message a controller needs before its lights obey (SysEx), and
// midi_send, a short message from the control side. Audio thread only. Wait-free and bounded
// (slots + one init message a block); does not allocate.

#include <algorithm>
#include <cmath>

#include "looperd/engine.hpp"

namespace looperd {

namespace {

// `value` as a whole number in [lo, hi], or false. Compared before the cast: casting NaN or a
// float out of range to an integer is undefined behaviour.
bool whole(float value, float lo, float hi, std::int32_t& out) noexcept {
    if (!(value >= lo && value <= hi) || std::floor(value) != value) return false;
    out = static_cast<std::int32_t>(value);
    return true;
}

}  // namespace

void Engine::apply_midi_command(const Command& c, std::uint64_t now) noexcept {
    switch (c.kind) {
        case CommandKind::midi_send: {
            const auto status = static_cast<std::uint8_t>(c.slot & 0xFF);
            const auto d1 = static_cast<std::uint8_t>((c.slot >> 8) & 0x7F);
            const auto d2 = static_cast<std::uint8_t>((c.slot >> 16) & 0x7F);
            const std::uint8_t size = midi_message_size(status);
            if (size == 0) break;  // not a short message's status: nothing to send
            const std::uint64_t at = now > now_frame_ ? now - now_frame_ : 0;
            const std::uint32_t last = block_frames_ > 0 ? block_frames_ - 1 : 0;
            midi_send(static_cast<std::uint32_t>(std::min<std::uint64_t>(at, last)), status,
                      size > 1 ? d1 : 0, size > 2 ? d2 : 0, size);
            break;
        }
        case CommandKind::set_led_slot: {
            std::int32_t v = 0;
            if (!whole(c.value, 0.0F, 65535.0F, v)) break;
            const auto status = static_cast<std::uint8_t>(v & 0xFF);
            const auto number = static_cast<std::uint8_t>(v >> 8);
            const std::uint8_t kind = status & 0xF0;
            if (number > 127 || (status != 0 && kind != 0x90 && kind != 0xB0)) break;
            led_slots_[c.slot] = {status, number};
            led_sent_[c.slot] = kLedUnsent;  // the new light is told its state next
            break;
        }
        case CommandKind::set_led_state: {
            const std::uint32_t state = c.slot & 0xFF;
            const std::uint32_t data2 = (c.slot >> 8) & 0xFF;
            const std::uint32_t channel = (c.slot >> 16) & 0xFF;
            if (state >= kLedStates || data2 > 127 || (channel > 15 && channel != kLedSlotChannel))
                break;
            led_values_[state] = {static_cast<std::uint8_t>(data2),
                                  static_cast<std::uint8_t>(channel)};
            // Lights showing that state show it again with the new message.
            for (auto& sent : led_sent_)
                if (sent == state) sent = kLedUnsent;
            break;
        }
        case CommandKind::set_pad_note: {
            std::int32_t slot = 0;
            if (c.slot >= pad_slot_.size() ||
                !whole(c.value, -1.0F, static_cast<float>(slots_.size() - 1), slot))
                break;
            pad_slot_[c.slot] = slot;
            break;
        }
        case CommandKind::set_led_init: {
            const std::uint32_t count = c.slot >> 24;
            std::int32_t offset = 0;
            if (count > 3 || !whole(c.value, 0.0F,
                                    static_cast<float>(limits::kMaxMidiInitBytes - count), offset))
                break;
            for (std::uint32_t i = 0; i < count; ++i)
                midi_init_[static_cast<std::size_t>(offset) + i] =
                    static_cast<std::uint8_t>(c.slot >> (8 * i));
            midi_init_size_ = static_cast<std::uint32_t>(offset) + count;
            break;
        }
        case CommandKind::led_refresh:
            // At the block's end, with the states: a refresh applied while no audio thread runs
            // (Engine::apply_commands_while_stopped) still goes out with the next block.
            led_refresh_pending_ = true;
            break;
        default:
            break;
    }
}

// Precedence, highest first: recording > overdubbing > queued > playing > loaded > empty. A
// take being made says more than anything else the slot does; a press waiting for its grid
// (start, record or stop) is shown until it acts, so that it is seen to have been taken.
LedState Engine::led_state(std::uint32_t slot) const noexcept {
    switch (recorders_.slot_record_state(slot)) {
        case RecordState::recording:
            return LedState::recording;
        case RecordState::overdubbing:
            return LedState::overdubbing;
        case RecordState::none:
            break;
    }
    if ((telemetry_pending_[slot] & (kPendingStart | kPendingStop)) != 0) return LedState::queued;
    if (telemetry_count_[slot] > 0) return LedState::playing;
    return slots_[slot].buffer ? LedState::loaded : LedState::empty;
}

// End of block, after the telemetry's counts: the lights that changed, on the block's last
// frame (the state as the block leaves it). A light that finds the output full is left unsent
// and goes out with the next block, so a refresh of many slots spreads over blocks and never
// drops a light.
void Engine::update_leds() noexcept {
    const std::uint32_t time = block_frames_ > 0 ? block_frames_ - 1 : 0;
    if (led_refresh_pending_) {
        if (midi_out_count_ == midi_out_.size()) return;
        led_refresh_pending_ = false;
        std::fill(led_sent_.begin(), led_sent_.end(), kLedUnsent);
        if (midi_init_size_ > 0) {
            // Last in time order already: nothing in the block lies after its last frame.
            midi_out_[midi_out_count_++] = {time, midi_init_size_, {}, midi_init_.data()};
        }
    }
    for (std::uint32_t slot = 0; slot < led_slots_.size(); ++slot) {
        const LedSlot light = led_slots_[slot];
        if (light.status == 0) continue;
        const auto state = static_cast<std::uint8_t>(led_state(slot));
        if (state == led_sent_[slot]) continue;
        if (midi_out_count_ == midi_out_.size()) return;
        const LedValue v = led_values_[state];
        const auto status = static_cast<std::uint8_t>(
            v.channel == kLedSlotChannel ? light.status : (light.status & 0xF0) | v.channel);
        midi_send(time, status, light.number, v.data2, 3);
        led_sent_[slot] = state;
    }
}

}  // namespace looperd
