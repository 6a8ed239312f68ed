// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "control/model.hpp"

namespace looperd {

ParamField param_field(std::string_view verb) {
    // The SlotParams member of each saved number or whole row: the one table that names them.
    struct Binding {
        std::string_view verb;
        ParamField field;
    };
    static constexpr Binding kBindings[] = {
        {"gain", {&SlotParams::gain, nullptr}},
        {"pan", {&SlotParams::pan, nullptr}},
        {"rate", {&SlotParams::rate, nullptr}},
        {"pitch", {&SlotParams::pitch, nullptr}},
        {"reverse", {nullptr, &SlotParams::reverse}},
        {"start", {&SlotParams::start, nullptr}},
        {"end", {&SlotParams::end, nullptr}},
        {"xfade", {&SlotParams::xfade, nullptr}},
        {"poly", {nullptr, &SlotParams::poly}},
        {"choke", {nullptr, &SlotParams::choke}},
        {"output", {nullptr, &SlotParams::output}},
        {"fade_in", {&SlotParams::fade_in, nullptr}},
        {"fade_out", {&SlotParams::fade_out, nullptr}},
        {"beats", {&SlotParams::beats, nullptr}},
        {"input", {nullptr, &SlotParams::input}},
        {"monitor", {nullptr, &SlotParams::monitor}},
    };
    for (const auto& b : kBindings)
        if (b.verb == verb) return b.field;
    return {};
}

OscArg param_value(const SlotParams& p, const osc::Row& row) {
    switch (row.value) {
        case osc::Value::choice:
            return OscArg::string(std::string(mode_name(p.mode)));
        case osc::Value::quantize:
            return p.quantize;
        default:
            break;
    }
    const ParamField field = param_field(osc::slot_verb(row.address));
    if (field.f != nullptr) return OscArg::float32(p.*field.f);
    return OscArg::int32(p.*field.i);
}

std::string_view mode_name(SlotMode m) {
    return osc::choice_name(osc::row(osc::Handler::mode), static_cast<std::size_t>(m));
}

std::string_view sync_name(ClockSource s) {
    return osc::choice_name(osc::row(osc::Handler::clock_sync), static_cast<std::size_t>(s));
}

std::vector<const osc::Row*> saved_slot_rows() {
    std::vector<const osc::Row*> out;
    for (const auto& row : osc::rows())
        if (row.saved && !osc::slot_verb(row.address).empty()) out.push_back(&row);
    return out;
}

}  // namespace looperd
