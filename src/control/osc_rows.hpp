// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

// The control schema's table: one row per OSC address (see osc_schema.hpp for the columns), in
// docs/osc.md's order. A slot's sample, parameters and recording are in osc_rows_slot.hpp.
// Adding a parameter starts there (or here for a global one): docs/architecture.md, "Adding a
// parameter". Constant data.
#include <algorithm>
#include <array>
#include <iterator>

#include "control/osc_rows_slot.hpp"
#include "control/osc_schema.hpp"

namespace looperd::osc {

namespace table {

inline constexpr double kMaxMasterGain = static_cast<double>(limits::kMaxMasterGain);

inline constexpr Row kFirstRows[] = {
    {.address = "/ping",
     .args = "[s:reply_url]",
     .handler = H::ping,
     .reply = "`/pong`",
     .doc = "checks that looperd answers"},
    {.address = "/status",
     .args = "[s:reply_url]",
     .handler = H::status,
     .reply = "`/status.reply`, see below",
     .doc = "reports the engine's counters"},
};

// The rig's global rows, the queries, and what looperd sends.
inline constexpr Row kGlobalRows[] = {
    {.address = "/stop_all",
     .command = C::stop_all,
     .handler = H::stop_all,
     .doc = "fades every voice out"},
    {.address = "/master/gain",
     .value = Value::number,
     .args = "number",
     .max = kMaxMasterGain,
     .def = 1.0,
     .unit = "linear",
     .what = "gain",
     .saved = true,
     .echo = "/master/gain",
     .command = C::set_master_gain,
     .handler = H::master_gain,
     .doc = "sets the master gain, smoothed over 10 ms"},
    {.address = "/monitor",
     .value = Value::whole,
     .args = "number",
     .max = 1.0,
     .what = "monitor",
     .saved = true,
     .echo = "/monitor",
     .recording = true,
     .command = C::set_monitor_all,
     .handler = H::monitor,
     .doc = "1: every input in_k passes through to out_k"},
    {.address = "/clock/tempo",
     .value = Value::number,
     .args = "number",
     .min = 20.0,
     .max = 999.0,
     .def = 120.0,
     .unit = "BPM",
     .what = "tempo (BPM)",
     .saved = true,
     .echo = "/clock/tempo",
     .command = C::clock_tempo,
     .handler = H::clock_tempo,
     .doc = "the internal clock's tempo"},
    {.address = "/clock/meter",
     .value = Value::whole,
     .args = "number",
     .min = 1.0,
     .max = 32.0,
     .def = 4.0,
     .unit = "beats per bar",
     .what = "meter (beats per bar)",
     .saved = true,
     .echo = "/clock/meter",
     .command = C::clock_meter,
     .handler = H::clock_meter,
     .doc = "beats per bar"},
    {.address = "/clock/reset",
     .command = C::clock_reset,
     .handler = H::clock_reset,
     .doc = "the beat grid restarts at this message's frame"},
    {.address = "/midi/leds/refresh",
     .command = C::led_refresh,
     .handler = H::midi_leds_refresh,
     .doc = "sends the MIDI profile's init message (a controller's programmer mode), then every "
            "slot's light on midi_out: for a controller plugged in or switched on later"},
    {.address = "/clock/sync",
     .value = Value::choice,
     .args = "s:source",
     .def_text = "internal",
     .choices = "internal|jack|midi|link",
     .what = "sync",
     .saved = true,
     .echo = "/clock/sync",
     .command = C::clock_sync,
     .handler = H::clock_sync,
     .doc = "where the grid and tempo come from: looperd's own tempo, JACK's transport, the "
            "MIDI clock on midi_in (docs/midi.md), or an Ableton Link session (docs/link.md)"},
    {.address = "/clock/playing",
     .value = Value::whole,
     .args = "number",
     .max = 1.0,
     .def = 1.0,
     .what = "playing",
     .echo = "/clock/playing",
     .handler = H::clock_playing,
     .doc = "the transport: 0 stops every sounding loop and toggle slot (not one recording) and "
            "remembers them; 1 starts the remembered ones again on the next bar line. Following "
            "Link, the session's start and stop, both ways (docs/link.md)"},
    {.address = "/clock/from_slot",
     .value = Value::special,
     .args = "i:slot i:beats",
     .min = 1.0,  // beats, whole; the tempo they make must fall in /clock/tempo's range
     .max = 1024.0,
     .unit = "beats",
     .what = "beats",
     .echo = "/clock/tempo",
     .recording = true,
     .command = C::clock_from_slot,
     .handler = H::clock_from_slot,
     .reply = "echoed as `/clock/tempo`",
     .doc = "the tempo at which slot's take lasts `beats` beats (1 … 1024; the tempo must fall "
            "in 20 … 999 BPM), the grid's zero where the take began"},
    {.address = "/notify",
     .value = Value::special,
     .args = "i:mode [s:url]",
     .handler = H::notify,
     .reply = "the whole state, then feedback (see [Feedback](#feedback)); `/error` for a bad "
              "mode or url, or too many subscribers",
     .doc = "1: subscribe url (default: the sender) to feedback; 2: the same without echoes of "
            "the sender's own changes; 0: unsubscribe"},
    {.address = "/refresh",
     .args = "[s:url]",
     .handler = H::refresh,
     .reply = "the whole state, as feedback messages in bundles, to the sender or url",
     .doc = "asks for the whole state"},
    {.address = "/slot/<n>/info",
     .args = "[s:url]",
     .handler = H::info,
     .reply = "`/slot/<n>/info.reply`, see below",
     .doc = "asks for slot n's sample and parameters"},
    {.address = "/slots",
     .args = "[s:url]",
     .handler = H::slots,
     .reply = "`/slots.reply` with `i:slot s:path` for every loaded slot",
     .doc = "lists the loaded slots"},
    {.address = "/session/save",
     .value = Value::name,
     .args = "s:name [s:url]",
     .handler = H::session_save,
     .reply = "`/session/save.reply s:name` once written, or `/error`",
     .doc = "saves the rig as `sessions/<name>.toml` in the state directory"},
    {.address = "/session/load",
     .value = Value::name,
     .args = "s:name [s:url]",
     .handler = H::session_load,
     .reply = "`/session/load.reply s:name` once the loads are queued (their `/slot/<n>/loaded` "
              "or `/error` follow, to the same place), or `/error`",
     .doc = "replaces the rig by the session's: its slots loaded and set, every other slot "
            "unloaded and reset"},
    {.address = "/session/list",
     .args = "[s:url]",
     .handler = H::session_list,
     .reply = "`/session/list.reply s:name…`, sorted, at most 256",
     .doc = "lists the saved sessions"},
    {.address = "/samples/list",
     .args = "[s:url]",
     .handler = H::samples_list,
     .reply = "`/samples/list.reply s:path…`, sorted, at most 256, or `/error`",
     .doc = "lists the sound files under `--samples-dir` (4 levels deep at most), as paths "
            "`/slot/<n>/load` takes"},
    {.address = "/midi/bind",
     .value = Value::special,
     .args = "s:source s:address [s:option…]",
     .handler = H::midi_bind,
     .doc = "binds a MIDI note, CC, program change or pitch bend (`cc:7@1`, `note:40`, "
            "`program`, `bend`; `@channel` or any) to a control address; options "
            "`range=LOW:HIGH`, `absolute`, `relative=twos`, `relative=offset`, `toggle`, "
            "`momentary` (see [midi.md](midi.md#bindings)). Replaces the source's binding"},
    {.address = "/midi/forget",
     .value = Value::special,
     .args = "[s:address]",
     .handler = H::midi_forget,
     .doc = "removes every binding to the address; with no address, every binding"},
    {.address = "/midi/learn",
     .value = Value::special,
     .args = "s:address [s:option…]",
     .handler = H::midi_learn,
     .reply = "`/midi/learned s:binding` to the sender when a MIDI message binds, or `/error`",
     .doc = "the next MIDI note, CC, program change or pitch bend that arrives binds to the "
            "address (its options as `/midi/bind`'s); meanwhile MIDI plays nothing"},
    {.address = "/midi/learn_cancel", .handler = H::midi_learn_cancel, .doc = "stops learning"},
    {.address = "/midi/bindings",
     .args = "[s:url]",
     .handler = H::midi_bindings,
     .reply = "`/midi/bindings.reply s:binding…`",
     .doc = "lists the MIDI bindings, as `/midi/bind` takes them"},
    // Replies: looperd's answers to one peer.
    {.address = kPong, .role = Role::reply, .doc = "answers `/ping`"},
    {.address = kError,
     .role = Role::reply,
     .args = "s:address s:reason",
     .doc = "a message refused (or a bundle, as `#bundle`): what was sent, and why"},
    {.address = kStatusReply,
     .role = Role::reply,
     .args = "s:key value …",
     .doc = "answers `/status`"},
    {.address = kSlotLoaded,
     .role = Role::reply,
     .args = "s:path i:frames i:channels f:seconds",
     .doc = "a load or load_take done"},
    {.address = kSlotSaved,
     .role = Role::reply,
     .args = "s:path i:frames f:seconds",
     .doc = "a take saved"},
    {.address = kSlotInfoReply,
     .role = Role::reply,
     .args = "s:key value …",
     .doc = "answers `/slot/<n>/info`"},
    {.address = kSlotsReply,
     .role = Role::reply,
     .args = "i:slot s:path …",
     .doc = "answers `/slots`"},
    {.address = kSessionSaveReply,
     .role = Role::reply,
     .args = "s:name",
     .doc = "a session written"},
    {.address = kSessionLoadReply,
     .role = Role::reply,
     .args = "s:name",
     .doc = "a session's loads queued"},
    {.address = kSessionListReply,
     .role = Role::reply,
     .args = "s:name …",
     .doc = "answers `/session/list`"},
    {.address = kSamplesListReply,
     .role = Role::reply,
     .args = "s:path …",
     .doc = "answers `/samples/list`"},
    {.address = kMidiBindingsReply,
     .role = Role::reply,
     .args = "s:binding …",
     .doc = "answers `/midi/bindings`: each binding as one string, `source address [option…]`"},
    {.address = kMidiLearned,
     .role = Role::reply,
     .args = "s:binding",
     .doc = "a `/midi/learn` done: the binding made"},
    // Feedback: sent to subscribers only.
    {.address = kSlotState,
     .role = Role::feedback,
     .args = "s:state",
     .choices = "empty|loading|stopped|queued|playing|stopping|recording|overdubbing|stretching",
     .doc = "slot n's state changed"},
    {.address = kSlotPlaying,
     .role = Role::feedback,
     .args = "f:playing",
     .doc = "1 while slot n's state is `playing`, `overdubbing` or `stopping`, or `stretching` "
            "while it sounds, else 0"},
    {.address = kSlotPosition,
     .role = Role::feedback,
     .args = "f:position",
     .unit = "fraction of the region",
     .doc =
         "a playing slot's place in its region, `--position-rate` times a second; 0 when it stops"},
    {.address = kMeterOut,
     .role = Role::feedback,
     .args = "f:peak …",
     .doc = "each output's peak since the last one, at `--position-rate` (silence is sent "
            "once)"},
    {.address = kClockBeat,
     .role = Role::feedback,
     .args = "i:bar i:beat",
     .doc = "each beat of the clock, 1-based"},
    {.address = kClockLinkPeers,
     .role = Role::feedback,
     .args = "i:peers",
     .doc = "the other apps in looperd's Ableton Link session, when their number changes (0 "
            "while Link is off)"},
    {.address = kMidiLearning,
     .role = Role::feedback,
     .args = "s:address",
     .doc = "the address `/midi/learn` waits to bind, or \"\" when not learning"},
};

template <std::size_t... N>
constexpr auto join(const Row (&... parts)[N]) {
    std::array<Row, (N + ...)> out{};
    auto at = out.begin();
    ((at = std::copy(std::begin(parts), std::end(parts), at)), ...);
    return out;
}

}  // namespace table

// The whole table: what rows() returns.
inline constexpr auto kRows = table::join(table::kFirstRows, table::kSlotRows, table::kGlobalRows);

}  // namespace looperd::osc
