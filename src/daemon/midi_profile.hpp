// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "looperd/command.hpp"

namespace looperd {

// MidiProfile: what a controller needs to show the slots' states on its pads and to play them
// (docs/midi.md#lights): the message that lights slot n (note or CC, channel, number), the
// data byte and channel for each LedState, the notes its pads send, and the message that
// puts it in the mode where its lights obey (SysEx). Read from a TOML file; main thread.
struct MidiProfile {
    struct State {
        std::uint8_t value = 0;                   // a note's velocity or a CC's value, 0..127
        std::uint32_t channel = kLedSlotChannel;  // 0..15, or the lights' own channel
    };
    std::string source;  // the file it came from, or "<name> (shipped)"
    std::string description;
    std::vector<std::uint8_t> init;     // sent before every refresh; empty: none
    bool cc = false;                    // lights are control changes (else notes)
    std::uint8_t channel = 0;           // 0..15
    std::vector<std::uint8_t> numbers;  // slot n's note or CC: numbers[n]
    std::array<State, kLedStates> states{};
    // The note pad n sends, which plays slot n; nullopt: the default map (36 + n) stays.
    std::optional<std::vector<std::uint8_t>> pads;
};

// The shipped profiles' names, in the order docs list them.
std::vector<std::string_view> shipped_midi_profiles();

// `text` as a profile. Throws ConfigError listing every problem as "<source>:<line>:<column>:
// <what>".
MidiProfile parse_midi_profile(std::string_view text, const std::string& source_name);

// --midi-profile's profile: a shipped profile by name, or a file by path (a value holding a
// '/' or ending in ".toml"); nullopt for "none". Throws ConfigError naming the file and line.
std::optional<MidiProfile> load_midi_profile(const std::string& name_or_path);

// The commands that set `profile` for an engine of `slots` slots, in order: the lights, the
// states, the pad map, the init message. A led_refresh after them shows it.
std::vector<Command> midi_profile_commands(const MidiProfile& profile, std::uint32_t slots);

}  // namespace looperd
