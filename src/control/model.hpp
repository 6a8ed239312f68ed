// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "control/osc_rows.hpp"
#include "control/osc_schema.hpp"
#include "io/osc_codec.hpp"
#include "looperd/limits.hpp"

// The control model: what the controller's mirror holds of every slot and of the rig, as
// plain values. Read by feedback, persistence and the rig's state file; written by the
// controller alone. A value type: whichever thread holds a copy owns it.
namespace looperd {

namespace model {

// Where a saved slot parameter (a slot row of the schema with `saved`) lives in SlotParams,
// by the row's value: a number or quantize among the floats, a whole number or a choice's
// index among the int32s, text among the strings.
enum class Store : std::uint8_t { none, number, whole, text };

constexpr Store store_of(const osc::Row& r) {
    if (!r.saved || osc::slot_verb(r.address).empty()) return Store::none;
    switch (r.value) {
        case osc::Value::number:
        case osc::Value::quantize:
            return Store::number;
        case osc::Value::whole:
        case osc::Value::choice:
            return Store::whole;
        case osc::Value::text:
            return Store::text;
        default:
            return Store::none;
    }
}

// Each row's place in its store: the rank of the row among the saved slot rows of its store.
struct Place {
    Store store = Store::none;
    std::uint8_t index = 0;
};

constexpr auto places() {
    std::array<Place, osc::kRows.size()> out{};
    std::array<std::size_t, 4> next{};
    for (std::size_t k = 0; k < osc::kRows.size(); ++k) {
        const Store s = store_of(osc::kRows[k]);
        if (s == Store::none) continue;
        out[k] = {s, static_cast<std::uint8_t>(next[static_cast<std::size_t>(s)]++)};
    }
    return out;
}
inline constexpr auto kPlaces = places();
static_assert(osc::kRows.size() < 256, "a store's index is a byte");

constexpr std::size_t count(Store s) {
    std::size_t n = 0;
    for (const Place& p : kPlaces) n += p.store == s ? 1 : 0;
    return n;
}

// A quantize value is a number of beats above the row's min (0), or one of its names, kept as
// minus its index (0, -1, -2): one float either way.
constexpr float quantize_name(std::size_t index) {
    return static_cast<float>(-static_cast<std::int32_t>(index));
}

template <typename T, Store S>
constexpr auto defaults() {
    std::array<T, count(S)> out{};
    for (std::size_t k = 0; k < osc::kRows.size(); ++k) {
        const osc::Row& r = osc::kRows[k];
        if (kPlaces[k].store != S) continue;
        T& v = out[kPlaces[k].index];
        if (r.value == osc::Value::choice) {
            v = static_cast<T>(*osc::choice_of(r.choices, r.def_text));
        } else if (r.value == osc::Value::quantize) {
            if (r.min < 0.0)
                throw "quantize's beats must be above 0: names are kept at 0 and below";
            v = static_cast<T>(quantize_name(*osc::choice_of(r.choices, r.def_text)));
        } else {
            v = static_cast<T>(r.def);
        }
    }
    return out;
}

constexpr auto text_defaults() {
    std::array<std::string_view, count(Store::text)> out{};
    for (std::size_t k = 0; k < osc::kRows.size(); ++k)
        if (kPlaces[k].store == Store::text) out[kPlaces[k].index] = osc::kRows[k].def_text;
    return out;
}

inline constexpr auto kNumberDefaults = defaults<float, Store::number>();
inline constexpr auto kWholeDefaults = defaults<std::int32_t, Store::whole>();
inline constexpr auto kTextDefaults = text_defaults();

// The index in store S of the saved slot row of `verb`; not a constant (a compile error where
// a constant is needed) when there is no such row.
constexpr std::uint8_t index_of(Store s, std::string_view verb) {
    for (std::size_t k = 0; k < osc::kRows.size(); ++k) {
        const osc::Row& r = osc::kRows[k];
        if (osc::slot_verb(r.address) != verb || kPlaces[k].store != s) continue;
        // Quantize shares the floats but not their meaning: it is read by row only.
        if (r.value == osc::Value::quantize) break;
        return kPlaces[k].index;
    }
    throw "no saved slot parameter of this verb is kept in this store";
}

// A saved slot parameter of store S, named by its verb and found at compile time
// (`p.number("start")`): for the code that needs one parameter's meaning. Everything else goes
// by row (SlotParams::value, set).
template <Store S>
struct Key {
    template <std::size_t N>
    consteval Key(const char (&verb)[N]) : index(index_of(S, std::string_view(verb, N - 1))) {}
    std::uint8_t index;
};

}  // namespace model

// One slot's parameters as last accepted, with the rows' defaults: every saved slot row of the
// schema, stored by row without a member of its own. Numbers are in fixed arrays sized from the
// table, so a copy allocates nothing but for text longer than the short-string buffer.
class SlotParams {
  public:
    // The value of a saved slot row as echoed, saved and refreshed: f, i or s (a choice and
    // a quantize name as their name, quantize beats as a float).
    OscArg value(const osc::Row& row) const;
    // Stores an accepted value of a saved slot row: a number (i, h, f or d) for a number or
    // whole row, quantize beats or a choice's index; a string for text or a name.
    void set(const osc::Row& row, const OscArg& v);

    // Typed access by verb, for the code that needs a parameter's meaning (the region, the
    // first fade): a verb that is not a saved slot row of that kind does not compile.
    float number(model::Key<model::Store::number> k) const { return numbers_[k.index]; }
    void set_number(model::Key<model::Store::number> k, float v) { numbers_[k.index] = v; }
    std::int32_t whole(model::Key<model::Store::whole> k) const { return wholes_[k.index]; }
    void set_whole(model::Key<model::Store::whole> k, std::int32_t v) { wholes_[k.index] = v; }
    const std::string& text(model::Key<model::Store::text> k) const { return texts_[k.index]; }

    // Equal values, floats bit for bit (as the state file would write them).
    bool same(const SlotParams& other) const;

  private:
    static std::array<std::string, model::kTextDefaults.size()> text_defaults();

    std::array<float, model::kNumberDefaults.size()> numbers_ = model::kNumberDefaults;
    std::array<std::int32_t, model::kWholeDefaults.size()> wholes_ = model::kWholeDefaults;
    std::array<std::string, model::kTextDefaults.size()> texts_ = text_defaults();
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
    std::uint64_t generation = 0;  // bumped by every load request and unload (Mirror::Slot)
};

// A copy of everything the controller knows, taken under its lock.
struct MirrorState {
    std::vector<SlotMirror> slots;
    float master_gain = 1.0F;
    float tempo = 120.0F;
    std::int32_t meter = 4;
    ClockSource sync = ClockSource::internal;
    std::int32_t playing = 1;  // /clock/playing: the transport (not saved)
    std::int32_t monitor = 0;  // /monitor
    // MIDI bindings, as /midi/bind takes them (docs/midi.md, "Bindings"), in the order made.
    std::vector<std::string> midi_bindings;
    // The address /midi/learn waits to bind, "" when not learning (not saved).
    std::string midi_learning;
};

// The names the schema gives a mode and a clock source (/slot/<n>/mode, /clock/sync).
std::string_view mode_name(SlotMode m);
std::string_view sync_name(ClockSource s);

// Every saved slot row, in the state file's order.
std::vector<const osc::Row*> saved_slot_rows();

}  // namespace looperd
