// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

// State number N for the durability test: a real state file (rig_to_toml) of about 50 KiB, so
// that each save takes several writes, in which every slot names N. Two states differ in
// every slot, so a file mixing two of them cannot pass for either.

#include <cstdint>
#include <optional>
#include <string>

#include "daemon/rig_state.hpp"

namespace looperd::test {

inline constexpr std::uint32_t kDurabilitySlots = 150;

inline std::string durability_state(std::uint64_t n) {
    RigState rig;
    rig.tempo = 20.0F + static_cast<float>(n % 281);
    for (std::uint32_t k = 0; k < kDurabilitySlots; ++k) {
        RigSlot s;
        s.index = k;
        s.file = "take-" + std::to_string(n) + "/slot-" + std::to_string(k) + ".wav";
        s.params.set_number("gain", static_cast<float>((n + k) % 400) / 100.0F);
        rig.slots.push_back(s);
    }
    return rig_to_toml(rig, true);
}

// N of a parsed durability state ("take-N/..."), or nullopt when it is not one.
inline std::optional<std::uint64_t> durability_number(const RigState& rig) {
    if (rig.slots.empty()) return std::nullopt;
    const std::string& f = rig.slots[0].file;
    if (!f.starts_with("take-")) return std::nullopt;
    try {
        return std::stoull(f.substr(5));
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

}  // namespace looperd::test
