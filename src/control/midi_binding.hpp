// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "control/osc_schema.hpp"
#include "io/osc_codec.hpp"
#include "looperd/midi.hpp"

// MIDI bindings (docs/midi.md, "Bindings"): a note, control change, program change or pitch bend
// on a channel (or any) drives an address of the control schema. A binding is data: its source,
// an address, and how the message's value maps onto the address's row (its kind and range).
// Written as text everywhere (OSC, the rig, the config file, /midi/bindings.reply):
//
//     cc:7@1 /master/gain range=0:2
//     note:40 /slot/3/record
//     cc:16 /slot/0/gain relative=twos
//
// Plain values and functions: any thread.
namespace looperd {

struct MidiSource {
    MidiControlKind kind = MidiControlKind::cc;
    std::uint8_t number = 0;   // a note's or controller's; 0 for program change and pitch bend
    std::int8_t channel = -1;  // 0..15, or -1: any channel (omni)

    bool matches(const MidiMessage& m) const noexcept;
    std::uint32_t key() const noexcept { return midi_control_key(kind, number); }
    std::uint16_t channels() const noexcept {
        return channel < 0 ? std::uint16_t{0xFFFF} : static_cast<std::uint16_t>(1U << channel);
    }
    bool operator==(const MidiSource&) const = default;
};

// How a message's value becomes the address's value.
enum class MidiBindMode : std::uint8_t {
    absolute,         // the controller's value over the range (a fader, a knob)
    relative_twos,    // an endless encoder: 1..63 up, 127..65 down (two's complement)
    relative_offset,  // an endless encoder: 65.. up, ..63 down (binary offset, 64 is no move)
    toggle,           // each press flips between the range's ends (or the next choice)
    momentary,        // press: the range's top (or the button's press), release: its bottom
};

struct MidiBinding {
    MidiSource source;
    std::string address;        // a control address, slot filled in: "/slot/3/gain"
    std::optional<double> low;  // range=low:high; none: the row's own range
    std::optional<double> high;
    MidiBindMode mode = MidiBindMode::absolute;
    bool operator==(const MidiBinding&) const = default;
};

// The source a message comes from, on its own channel (what learning binds).
MidiSource midi_source_of(const MidiMessage& m, MidiControlKind kind);

// "cc:7@1" and the like: nullopt, with the reason in `error`, when it is none.
std::optional<MidiSource> parse_midi_source(std::string_view text, std::string& error);
std::string to_text(const MidiSource& s);

// A binding from its words (source, address, options...), checked against the schema: the
// address must be a control row whose value can be driven (a number, whole number, choice,
// button or plain action), the range inside the row's (`row_max`: its upper bound as this
// configuration narrows it), the mode one the row takes. `mode_given` tells whether an option
// named the mode (learning picks one otherwise). nullopt, with the reason in `error`.
std::optional<MidiBinding> parse_midi_binding(const std::vector<std::string_view>& words,
                                              double row_max, std::string& error,
                                              bool* mode_given = nullptr);
// A binding's text split at spaces into its words (views into `text`).
std::vector<std::string_view> midi_binding_words(std::string_view text);
// The same from one line of text, words split at spaces.
std::optional<MidiBinding> parse_midi_binding(std::string_view text, double row_max,
                                              std::string& error);
std::string to_text(const MidiBinding& b);

// The mode a learned binding takes when no option names one: a fader or knob (CC, program
// change, pitch bend) on a value sets it; a pad or key (a note) presses a button or action and
// toggles a value.
MidiBindMode default_mode(MidiControlKind kind, const osc::Row& row);
// Whether a row can be bound at all (its value kind).
bool bindable(const osc::Row& row);

// What `m` does to the bound address: the message to handle, or nothing (a release where only
// presses act, a relative move of 0). `current`: the address's value now, for relative moves,
// toggles and cycling choices (nullopt: the row's default). `row_max` as above.
std::optional<OscMessage> midi_binding_message(const MidiBinding& b, const osc::Row& row,
                                               double row_max, const MidiMessage& m,
                                               std::optional<double> current);

// The control change that shows `value` of the bound address on the controller (motorised
// faders, LED rings follow it): status, controller and value, or nullopt for a binding that is
// not a CC's, or a value that is not a number.
std::optional<MidiMessage> midi_echo_message(const MidiBinding& b, const osc::Row& row,
                                             double row_max, const OscArg& value);

}  // namespace looperd
