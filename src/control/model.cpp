// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "control/model.hpp"

#include <bit>
#include <cstdlib>
#include <functional>

namespace looperd {

namespace {

// The place of a row of osc::rows() (which is osc::kRows); a row that is no saved slot
// parameter has none.
model::Place place_of(const osc::Row& row) {
    const osc::Row* first = osc::kRows.data();
    const std::less<const osc::Row*> before;
    if (before(&row, first) || !before(&row, first + osc::kRows.size())) std::abort();
    const model::Place at = model::kPlaces[static_cast<std::size_t>(&row - first)];
    if (at.store == model::Store::none) std::abort();  // not a saved slot row: a caller's bug
    return at;
}

}  // namespace

std::array<std::string, model::kTextDefaults.size()> SlotParams::text_defaults() {
    std::array<std::string, model::kTextDefaults.size()> out;
    for (std::size_t k = 0; k < out.size(); ++k) out[k] = model::kTextDefaults[k];
    return out;
}

OscArg SlotParams::value(const osc::Row& row) const {
    const model::Place at = place_of(row);
    switch (row.value) {
        case osc::Value::number:
            return OscArg::float32(numbers_[at.index]);
        case osc::Value::whole:
            return OscArg::int32(wholes_[at.index]);
        case osc::Value::choice:
            return OscArg::string(
                std::string(osc::choice_name(row, static_cast<std::size_t>(wholes_[at.index]))));
        case osc::Value::quantize: {
            const float v = numbers_[at.index];
            if (v > 0.0F) return OscArg::float32(v);
            return OscArg::string(std::string(osc::choice_name(row, static_cast<std::size_t>(-v))));
        }
        default:
            return OscArg::string(texts_[at.index]);
    }
}

void SlotParams::set(const osc::Row& row, const OscArg& v) {
    const model::Place at = place_of(row);
    const double number = osc::number(v).value_or(0.0);
    switch (row.value) {
        case osc::Value::number:
            numbers_[at.index] = static_cast<float>(number);
            return;
        case osc::Value::whole:
            wholes_[at.index] = static_cast<std::int32_t>(number);
            return;
        case osc::Value::choice: {
            const auto index = osc::is_string(v) ? osc::choice_index(row, v.s) : std::nullopt;
            wholes_[at.index] =
                index ? static_cast<std::int32_t>(*index) : static_cast<std::int32_t>(number);
            return;
        }
        case osc::Value::quantize:
            numbers_[at.index] = osc::is_string(v)
                                     ? model::quantize_name(osc::choice_index(row, v.s).value_or(0))
                                     : static_cast<float>(number);
            return;
        default:
            texts_[at.index] = v.s;
            return;
    }
}

bool SlotParams::same(const SlotParams& other) const {
    for (std::size_t k = 0; k < numbers_.size(); ++k)
        if (std::bit_cast<std::uint32_t>(numbers_[k]) !=
            std::bit_cast<std::uint32_t>(other.numbers_[k]))
            return false;
    return wholes_ == other.wholes_ && texts_ == other.texts_;
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
