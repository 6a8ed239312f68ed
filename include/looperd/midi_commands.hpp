// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

// The commands for MIDI output, lights and the pad map, encoded in one place for the control
// side and the tests (what each field means: include/looperd/command.hpp).

#include <cstddef>
#include <cstdint>
#include <span>

#include "looperd/command.hpp"

namespace looperd {

// One short message on the MIDI output at `frame` (0: the next block's start).
inline Command midi_send_command(std::uint8_t status, std::uint8_t d1 = 0, std::uint8_t d2 = 0,
                                 std::uint64_t frame = 0) noexcept {
    return Command{CommandKind::midi_send,
                   std::uint32_t{status} | std::uint32_t{d1} << 8U | std::uint32_t{d2} << 16U,
                   0.0F,
                   0,
                   nullptr,
                   frame};
}

// Slot `slot`'s light: `status` 0x90 | channel (note `number`) or 0xB0 | channel (CC
// `number`); status 0: no light.
inline Command led_slot_command(std::uint32_t slot, std::uint8_t status,
                                std::uint8_t number) noexcept {
    return Command{CommandKind::set_led_slot, slot,
                   static_cast<float>(std::uint32_t{status} | std::uint32_t{number} << 8U)};
}

// What every light sends in `state`: `data2` (a note's velocity, a CC's value) on `channel`
// (0..15), or on the slot's own channel with kLedSlotChannel.
inline Command led_state_command(LedState state, std::uint8_t data2,
                                 std::uint32_t channel = kLedSlotChannel) noexcept {
    return Command{CommandKind::set_led_state, static_cast<std::uint32_t>(state) |
                                                   std::uint32_t{data2} << 8U |
                                                   (channel & 0xFFU) << 16U};
}

// Note `note` plays slot `slot` (-1: nothing).
inline Command pad_note_command(std::uint8_t note, std::int32_t slot) noexcept {
    return Command{CommandKind::set_pad_note, note, static_cast<float>(slot)};
}

// The init message as set_led_init commands, 3 bytes each, in order, each passed to `emit`.
// An empty message clears it. Returns how many commands were emitted.
template <typename Emit>
std::size_t led_init_commands(std::span<const std::uint8_t> bytes, Emit&& emit) {
    std::size_t n = 0;
    std::size_t offset = 0;
    do {
        const std::size_t count = bytes.size() - offset < 3 ? bytes.size() - offset : 3;
        std::uint32_t packed = static_cast<std::uint32_t>(count) << 24U;
        for (std::size_t i = 0; i < count; ++i)
            packed |= std::uint32_t{bytes[offset + i]} << (8U * i);
        emit(Command{CommandKind::set_led_init, packed, static_cast<float>(offset)});
        ++n;
        offset += count;
    } while (offset < bytes.size());
    return n;
}

inline Command led_refresh_command() noexcept {
    return Command{CommandKind::led_refresh};
}

}  // namespace looperd
