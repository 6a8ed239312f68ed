// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "daemon/midi_profile.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <filesystem>
#include <span>

#include "daemon/config_file.hpp"
#include "looperd/limits.hpp"
#include "looperd/midi_commands.hpp"
#include "midi_profiles_builtin.hpp"  // generated

namespace looperd {

namespace {

constexpr std::array<std::string_view, kLedStates> kStateNames = {
    "empty", "loaded", "queued", "playing", "recording", "overdubbing"};

// Collects every problem of one file, each with its place.
class Problems {
  public:
    explicit Problems(const std::string& source) : source_(source) {}
    void add(const toml::node& at, const std::string& what) {
        errors_.push_back(toml_position(source_, at.source().begin) + ": " + what);
    }
    void add(const toml::key& at, const std::string& what) {
        errors_.push_back(toml_position(source_, at.source().begin) + ": " + what);
    }
    void add_file(const std::string& what) { errors_.push_back(source_ + ": " + what); }
    void raise() const {
        if (!errors_.empty()) throw ConfigError(errors_);
    }

  private:
    const std::string& source_;
    std::vector<std::string> errors_;
};

// Keys a table may hold; any other is a problem (a typo should not pass silently).
void only_keys(const toml::table& t, std::initializer_list<std::string_view> allowed,
               std::string_view where, Problems& p) {
    for (const auto& [key, node] : t)
        if (std::find(allowed.begin(), allowed.end(), key.str()) == allowed.end())
            p.add(key, "unknown key '" + std::string(key.str()) + "' in " + std::string(where));
}

std::optional<std::int64_t> integer(const toml::node& node, std::int64_t lo, std::int64_t hi,
                                    const std::string& what, Problems& p) {
    const auto* i = node.as_integer();
    if (i == nullptr || i->get() < lo || i->get() > hi) {
        p.add(node, what + ": expected a whole number " + std::to_string(lo) + ".." +
                        std::to_string(hi) + ", got " + describe_toml_node(node));
        return std::nullopt;
    }
    return i->get();
}

std::vector<std::uint8_t> bytes(const toml::node& node, std::int64_t lo, std::int64_t hi,
                                const std::string& what, Problems& p) {
    std::vector<std::uint8_t> out;
    const auto* array = node.as_array();
    if (array == nullptr) {
        p.add(node, what + ": expected a list of whole numbers, got " + describe_toml_node(node));
        return out;
    }
    for (const auto& item : *array)
        if (auto v = integer(item, lo, hi, what, p)) out.push_back(static_cast<std::uint8_t>(*v));
    return out;
}

// A MIDI channel as people number them (1..16), kept 0-based.
std::optional<std::uint8_t> channel(const toml::node& node, const std::string& what, Problems& p) {
    if (auto c = integer(node, 1, 16, what, p)) return static_cast<std::uint8_t>(*c - 1);
    return std::nullopt;
}

void read_init(const toml::node& node, MidiProfile& profile, Problems& p) {
    profile.init = bytes(node, 0, 255, "init", p);
    const auto& init = profile.init;
    if (init.empty()) return;
    // A whole SysEx message, nothing else: a broken one would leave the controller's parser
    // waiting for its end and swallow the lights after it.
    const bool framed =
        init.size() >= 2 && init.front() == 0xF0 && init.back() == 0xF7 &&
        std::all_of(init.begin() + 1, init.end() - 1, [](std::uint8_t b) { return b < 0x80; });
    if (!framed) p.add(node, "init: expected one SysEx message: 0xF0, data bytes 0..0x7F, 0xF7");
    if (init.size() > limits::kMaxMidiInitBytes)
        p.add(node, "init: at most " + std::to_string(limits::kMaxMidiInitBytes) + " bytes");
}

void read_states(const toml::node& node, MidiProfile& profile, Problems& p) {
    const auto* states = node.as_table();
    if (states == nullptr) {
        p.add(node, "lights.states: expected a table, got " + describe_toml_node(node));
        return;
    }
    only_keys(*states, {"empty", "loaded", "queued", "playing", "recording", "overdubbing"},
              "[lights.states]", p);
    for (std::size_t s = 0; s < kLedStates; ++s) {
        const std::string name(kStateNames[s]);
        const toml::node* state = states->get(name);
        if (state == nullptr) {
            p.add(node,
                  "lights.states: state '" + name + "' is missing (every state needs a value)");
            continue;
        }
        const auto* t = state->as_table();
        if (t == nullptr) {
            p.add(*state, "lights.states." + name +
                              ": expected { value = ..., channel = ... }, got " +
                              describe_toml_node(*state));
            continue;
        }
        only_keys(*t, {"value", "channel"}, "lights.states." + name, p);
        if (const toml::node* value = t->get("value")) {
            if (auto v = integer(*value, 0, 127, "lights.states." + name + ".value", p))
                profile.states[s].value = static_cast<std::uint8_t>(*v);
        } else {
            p.add(*state, "lights.states." + name + ": 'value' is missing");
        }
        if (const toml::node* ch = t->get("channel"))
            if (auto c = channel(*ch, "lights.states." + name + ".channel", p))
                profile.states[s].channel = *c;
    }
}

void read_lights(const toml::node& node, MidiProfile& profile, Problems& p) {
    const auto* lights = node.as_table();
    if (lights == nullptr) {
        p.add(node, "lights: expected a [lights] table, got " + describe_toml_node(node));
        return;
    }
    only_keys(*lights, {"message", "channel", "first", "numbers", "states"}, "[lights]", p);
    if (const toml::node* message = lights->get("message")) {
        const auto* text = message->as_string();
        if (text == nullptr || (text->get() != "note" && text->get() != "cc"))
            p.add(*message, "lights.message: expected \"note\" or \"cc\", got " +
                                describe_toml_node(*message));
        else
            profile.cc = text->get() == "cc";
    } else {
        p.add(node, "lights: 'message' (\"note\" or \"cc\") is missing");
    }
    if (const toml::node* ch = lights->get("channel")) {
        if (auto c = channel(*ch, "lights.channel", p)) profile.channel = *c;
    }
    const toml::node* first = lights->get("first");
    const toml::node* numbers = lights->get("numbers");
    if ((first == nullptr) == (numbers == nullptr)) {
        p.add(node,
              "lights: give either 'first' (slot n lights first + n) or 'numbers' (slot n "
              "lights numbers[n]), not both");
    } else if (first != nullptr) {
        if (auto f = integer(*first, 0, 127, "lights.first", p))
            for (auto n = *f; n <= 127; ++n)
                profile.numbers.push_back(static_cast<std::uint8_t>(n));
    } else {
        profile.numbers = bytes(*numbers, 0, 127, "lights.numbers", p);
    }
    if (const toml::node* states = lights->get("states")) {
        read_states(*states, profile, p);
    } else {
        p.add(node, "lights: the [lights.states] table is missing");
    }
}

void read_pads(const toml::node& node, MidiProfile& profile, Problems& p) {
    const auto* pads = node.as_table();
    if (pads == nullptr) {
        p.add(node, "pads: expected a [pads] table, got " + describe_toml_node(node));
        return;
    }
    only_keys(*pads, {"notes"}, "[pads]", p);
    const toml::node* notes = pads->get("notes");
    if (notes == nullptr) {
        p.add(node, "pads: 'notes' is missing");
        return;
    }
    if (const auto* text = notes->as_string()) {
        if (text->get() != "lights")
            p.add(*notes, "pads.notes: expected \"lights\" or a list of notes, got " +
                              describe_toml_node(*notes));
        else if (profile.cc)
            p.add(*notes, "pads.notes: \"lights\" needs note lights, and these are CCs");
        else
            profile.pads = profile.numbers;
        return;
    }
    profile.pads = bytes(*notes, 0, 127, "pads.notes", p);
    // One note, one slot: a note listed twice would leave the second pad dead.
    auto sorted = *profile.pads;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
        p.add(*notes, "pads.notes: a note is listed twice");
}

}  // namespace

std::vector<std::string_view> shipped_midi_profiles() {
    std::vector<std::string_view> names;
    for (const auto& b : kBuiltinMidiProfiles) names.push_back(b.name);
    return names;
}

MidiProfile parse_midi_profile(std::string_view text, const std::string& source_name) {
    toml::table root;
    try {
        root = toml::parse(text, source_name);
    } catch (const toml::parse_error& e) {
        throw ConfigError(
            {toml_position(source_name, e.source().begin) + ": " + std::string(e.description())});
    }
    MidiProfile profile;
    profile.source = source_name;
    Problems p(source_name);
    only_keys(root, {"description", "init", "lights", "pads"}, "a profile", p);
    if (const toml::node* d = root.get("description")) {
        if (const auto* s = d->as_string())
            profile.description = s->get();
        else
            p.add(*d, "description: expected a string, got " + describe_toml_node(*d));
    }
    if (const toml::node* init = root.get("init")) read_init(*init, profile, p);
    if (const toml::node* lights = root.get("lights")) {
        read_lights(*lights, profile, p);
    } else {
        p.add_file("the [lights] table is missing");
    }
    // After the lights: pads may say "lights".
    if (const toml::node* pads = root.get("pads")) read_pads(*pads, profile, p);
    p.raise();
    return profile;
}

std::optional<MidiProfile> load_midi_profile(const std::string& name_or_path) {
    if (name_or_path == "none") return std::nullopt;
    const bool path = name_or_path.find('/') != std::string::npos ||
                      std::string_view(name_or_path).ends_with(".toml");
    if (path) return parse_midi_profile(read_text_file(name_or_path), name_or_path);
    for (const auto& b : kBuiltinMidiProfiles)
        if (b.name == name_or_path)
            return parse_midi_profile(b.text, std::string(b.name) + ".toml (shipped)");
    std::string known;
    for (const auto& b : kBuiltinMidiProfiles) known += std::string(b.name) + ", ";
    throw ConfigError({"--midi-profile: no profile named '" + name_or_path + "' (shipped: " +
                       known + "or none; a file's path holds a '/' or ends in .toml)"});
}

std::vector<Command> midi_profile_commands(const MidiProfile& profile, std::uint32_t slots) {
    std::vector<Command> out;
    const auto status = static_cast<std::uint8_t>((profile.cc ? 0xB0 : 0x90) | profile.channel);
    const std::uint32_t lit =
        std::min<std::uint32_t>(slots, static_cast<std::uint32_t>(profile.numbers.size()));
    for (std::uint32_t n = 0; n < lit; ++n)
        out.push_back(led_slot_command(n, status, profile.numbers[n]));
    for (std::size_t s = 0; s < kLedStates; ++s)
        out.push_back(led_state_command(static_cast<LedState>(s), profile.states[s].value,
                                        profile.states[s].channel));
    if (profile.pads) {
        // The profile's pads replace the default map: a note no pad sends plays nothing, so a
        // pad's note never also plays the slot the default map gives it.
        std::array<std::int32_t, 128> slot_of{};
        slot_of.fill(-1);
        const auto& pads = *profile.pads;
        for (std::uint32_t n = 0; n < pads.size() && n < slots; ++n)
            slot_of[pads[n]] = static_cast<std::int32_t>(n);
        for (std::uint32_t note = 0; note < 128; ++note)
            out.push_back(pad_note_command(static_cast<std::uint8_t>(note), slot_of[note]));
    }
    led_init_commands(profile.init, [&out](const Command& c) { out.push_back(c); });
    return out;
}

}  // namespace looperd
