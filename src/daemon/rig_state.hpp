// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "control/model.hpp"
#include "io/osc_codec.hpp"

namespace looperd {

// One [[slot]] of a rig: what /slot/<n>/load was given and the slot's parameters.
struct RigSlot {
    std::uint32_t index = 0;  // n in /slot/<n>/...
    std::string file;         // as given to /slot/<n>/load; empty: no sample
    SlotParams params;
    bool take = false;  // `file` is the slot's take: restored by /slot/<n>/load_take
};

// RigState: what a config file preloads and what the state file saves, in one schema:
// [master] gain, monitor; [clock] tempo, meter, sync; [midi-map] bindings; [[slot]] index, file and
// every slot parameter under its OSC verb. A plain value: built and read by whichever thread holds
// it.
struct RigState {
    float master_gain = 1.0F;
    std::int32_t monitor = 0;  // /monitor: every input to the output of its number
    float tempo = 120.0F;
    std::int32_t meter = 4;
    ClockSource sync = ClockSource::internal;
    std::vector<RigSlot> slots;  // ascending index, each index once
    // [midi-map] bindings: MIDI bindings as /midi/bind takes them. nullopt: the rig has no
    // [midi-map] table, and applying it leaves the bindings as they are (a session saved before any
    // was made keeps the controller's); a list, even empty, replaces them.
    std::optional<std::vector<std::string>> midi_bindings;
};

// A rig that cannot be read: the text names the source, line, column and key.
class RigError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// What the state file says it is (top-level `format` and `version`).
inline constexpr const char* kStateFormat = "looperd-state";
inline constexpr std::int64_t kStateVersion = 1;

// The rig of a mirror. A slot is kept when it has a sample (loaded, being loaded, or kept
// from a restore whose file was missing) or any parameter other than `defaults`.
RigState rig_from_mirror(const MirrorState& mirror, const SlotParams& defaults);

// The rig as TOML. With `state_header`, the text starts with format and version.
std::string rig_to_toml(const RigState& rig, bool state_header);

// Reads the [master], [clock] and [[slot]] tables of `table` (other top-level keys are not
// looked at, so a config file's flags may sit beside them). Each key's type and range is
// checked as the OSC handlers check it; a slot's output pair is checked against the most
// outputs looperd allows (the actual count is checked when the rig is applied). Throws
// RigError "<source>:<line>:<column>: <key>: <what is wrong>".
RigState parse_rig(const toml::table& table, const std::string& source);

// Parses a state file's text: TOML, `format = "looperd-state"`, `version` 1, then the rig.
// Throws RigError (a TOML syntax error, another format, or another version: the message says
// which).
RigState parse_state(std::string_view text, const std::string& source);

// The OSC messages that recreate `rig` through the controller's own handlers, in a controller
// just made: master, clock, then per slot its parameters (the region in an order every current
// region accepts; one added since the first state format only when off its default) and last
// /slot/<n>/load.
std::vector<OscMessage> rig_messages(const RigState& rig);

// The messages that replace what `current` holds by `rig`: rig_messages, except that a slot
// already holding the same file is not reloaded, and every slot of `current` that the rig
// does not list is unloaded (when it holds or awaits a sample) and set back to `defaults`
// (when its parameters differ).
std::vector<OscMessage> rig_replace_messages(const RigState& rig, const MirrorState& current,
                                             const SlotParams& defaults);

bool same_params(const SlotParams& a, const SlotParams& b);

}  // namespace looperd
