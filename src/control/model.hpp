// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "control/osc_schema.hpp"
#include "io/osc_codec.hpp"
#include "looperd/limits.hpp"

// The control model: what the controller's mirror holds of every slot and of the rig, as
// plain values. Read by feedback, persistence and the rig's state file; written by the
// controller alone. A value type: whichever thread holds a copy owns it.
namespace looperd {

// One slot's parameters as last accepted, with the engine's defaults.
struct SlotParams {
    float gain = 1.0F;
    float pan = 0.0F;
    float rate = 1.0F;
    float pitch = 0.0F;
    std::int32_t reverse = 0;
    float start = 0.0F;  // region, fractions of the sample
    float end = 1.0F;
    float xfade = 0.0F;
    SlotMode mode = SlotMode::oneshot;
    std::int32_t poly = 1;
    std::int32_t choke = 0;
    std::int32_t output = 0;
    float fade_in = 0.0F;
    float fade_out = limits::kDefaultFadeMs;
    OscArg quantize = OscArg::string("none");  // as given: "none", "beat", "bar" or beats
    float beats = 0.0F;
    std::int32_t input = 1;    // the input pair recorded and monitored
    std::int32_t monitor = 0;  // 1: the input pair passes to the slot's outputs
};

// One slot of the controller's mirror.
struct SlotMirror {
    bool loaded = false;
    bool loading = false;  // a load request is in flight
    std::string path;
    std::uint32_t frames = 0;
    std::uint32_t channels = 0;
    std::uint32_t sample_rate = 0;
    SlotParams params;
    // The file the saved rig names while the slot holds no sample of it: the path of a load in
    // flight, or of a restored load whose file was missing (kept until the slot is loaded or
    // unloaded again).
    std::string rig_path;
    bool take = false;      // the sample is a take (recorded or load_take): `path` is its kept file
    bool rig_take = false;  // rig_path names a take
};

// A copy of everything the controller knows, taken under its lock.
struct MirrorState {
    std::vector<SlotMirror> slots;
    float master_gain = 1.0F;
    float tempo = 120.0F;
    std::int32_t meter = 4;
    ClockSource sync = ClockSource::internal;
    std::int32_t monitor = 0;  // /monitor
};

// Where a saved slot parameter (a row of the schema with `saved`) lives in SlotParams: a
// number in `f`, a whole number in `i`; a choice (mode) and quantize have fields of their own.
struct ParamField {
    float SlotParams::*f = nullptr;
    std::int32_t SlotParams::*i = nullptr;
};
ParamField param_field(std::string_view verb);

// A saved slot parameter's value as it is echoed, saved and refreshed: f, i or s.
OscArg param_value(const SlotParams& p, const osc::Row& row);

// The names the schema gives a mode and a clock source (/slot/<n>/mode, /clock/sync).
std::string_view mode_name(SlotMode m);
std::string_view sync_name(ClockSource s);

// Every saved slot row, in the state file's order.
std::vector<const osc::Row*> saved_slot_rows();

}  // namespace looperd
