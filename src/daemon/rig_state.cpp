// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "daemon/rig_state.hpp"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <optional>
#include <string_view>

#include "looperd/limits.hpp"

namespace looperd {

namespace {

// How a parameter is checked and sent. The ranges are those of the OSC handlers
// (Controller::osc_slot_*); a unit test holds both to the same boundaries.
enum class Kind : std::uint8_t { number, whole, mode, quantize };

struct ParamSpec {
    std::string_view key;  // the OSC verb and the TOML key
    Kind kind;
    double min = 0.0;
    double max = 0.0;
    float SlotParams::*f = nullptr;         // Kind::number
    std::int32_t SlotParams::*i = nullptr;  // Kind::whole
};

// In the order rig_messages() sends them; the region (start, end) is sent apart.
const ParamSpec kParams[] = {
    {"gain", Kind::number, 0.0, static_cast<double>(limits::kMaxSlotGain), &SlotParams::gain,
     nullptr},
    {"pan", Kind::number, -1.0, 1.0, &SlotParams::pan, nullptr},
    {"rate", Kind::number, 0.125, 8.0, &SlotParams::rate, nullptr},
    {"pitch", Kind::number, -24.0, 24.0, &SlotParams::pitch, nullptr},
    {"reverse", Kind::whole, 0.0, 1.0, nullptr, &SlotParams::reverse},
    {"start", Kind::number, 0.0, 1.0, &SlotParams::start, nullptr},
    {"end", Kind::number, 0.0, 1.0, &SlotParams::end, nullptr},
    {"xfade", Kind::number, 0.0, 1000.0, &SlotParams::xfade, nullptr},
    {"mode", Kind::mode, 0.0, 0.0, nullptr, nullptr},
    {"poly", Kind::whole, 1.0, limits::kMaxPoly, nullptr, &SlotParams::poly},
    {"choke", Kind::whole, 0.0, limits::kMaxChokeGroup, nullptr, &SlotParams::choke},
    // The actual bound, ⌈outputs/2⌉, is the controller's to check when the rig is applied.
    {"output", Kind::whole, 0.0, (limits::kMaxOutputs + 1) / 2, nullptr, &SlotParams::output},
    {"fade_in", Kind::number, 0.0, 10000.0, &SlotParams::fade_in, nullptr},
    {"fade_out", Kind::number, 0.1, 10000.0, &SlotParams::fade_out, nullptr},
    {"quantize", Kind::quantize, 0.0, 64.0, nullptr, nullptr},
    {"beats", Kind::number, 0.0, 1024.0, &SlotParams::beats, nullptr},
    // Recording (docs/recording.md). The actual bound of input, ⌈inputs/2⌉, is the
    // controller's to check when the rig is applied, like output's.
    {"input", Kind::whole, 1.0, (limits::kMaxInputs + 1) / 2, nullptr, &SlotParams::input},
    {"monitor", Kind::whole, 0.0, 1.0, nullptr, &SlotParams::monitor},
};

constexpr std::string_view kModes[] = {"oneshot", "loop", "gate", "toggle"};

bool same_arg(const OscArg& a, const OscArg& b) {
    if (a.type != b.type) return false;
    switch (a.type) {
        case 'i':
            return a.i == b.i;
        case 'f':
            return std::bit_cast<std::uint32_t>(a.f) == std::bit_cast<std::uint32_t>(b.f);
        case 's':
        case 'S':
            return a.s == b.s;
        default:
            return true;
    }
}

// "<source>:<line>:<column>: <key>: <what>"
[[noreturn]] void fail(const std::string& source, const toml::node* node, std::string_view key,
                       std::string_view what) {
    std::string where = source;
    if (node != nullptr && node->source().begin.line != 0)
        where += fmt::format(":{}:{}", node->source().begin.line, node->source().begin.column);
    throw RigError(fmt::format("{}: {}: {}", where, key, what));
}

std::optional<double> number_of(const toml::node& node) {
    if (const auto* i = node.as_integer()) return static_cast<double>(i->get());
    if (const auto* f = node.as_floating_point()) {
        if (std::isfinite(f->get())) return f->get();
    }
    return std::nullopt;
}

double number_in(const std::string& source, const toml::node& node, std::string_view key,
                 double min, double max) {
    const auto v = number_of(node);
    if (!v || *v < min || *v > max)
        fail(source, &node, key, fmt::format("must be a number from {} to {}", min, max));
    return *v;
}

double whole_in(const std::string& source, const toml::node& node, std::string_view key, double min,
                double max) {
    const auto v = number_of(node);
    if (!v || *v < min || *v > max || std::trunc(*v) != *v)
        fail(source, &node, key, fmt::format("must be a whole number from {} to {}", min, max));
    return *v;
}

const std::string& string_of(const std::string& source, const toml::node& node,
                             std::string_view key, std::string_view what) {
    const auto* s = node.as_string();
    if (s == nullptr) fail(source, &node, key, what);
    return s->get();
}

const toml::table* table_at(const toml::table& table, std::string_view name,
                            const std::string& source) {
    const toml::node* node = table.get(name);
    if (node == nullptr) return nullptr;
    const auto* t = node->as_table();
    if (t == nullptr) fail(source, node, name, "must be a table");
    return t;
}

void parse_param(const std::string& source, const toml::node& node, const std::string& key,
                 const ParamSpec& spec, SlotParams& out) {
    switch (spec.kind) {
        case Kind::number:
            out.*spec.f = static_cast<float>(number_in(source, node, key, spec.min, spec.max));
            return;
        case Kind::whole:
            out.*spec.i =
                static_cast<std::int32_t>(whole_in(source, node, key, spec.min, spec.max));
            return;
        case Kind::mode: {
            const auto& s =
                string_of(source, node, key, R"(must be "oneshot", "loop", "gate" or "toggle")");
            if (std::find(std::begin(kModes), std::end(kModes), s) == std::end(kModes))
                fail(source, &node, key, R"(must be "oneshot", "loop", "gate" or "toggle")");
            out.mode = s;
            return;
        }
        case Kind::quantize: {
            constexpr std::string_view what =
                R"(must be "none", "beat", "bar" or a number of beats above 0, up to 64)";
            if (const auto* s = node.as_string()) {
                if (s->get() != "none" && s->get() != "beat" && s->get() != "bar")
                    fail(source, &node, key, what);
                out.quantize = OscArg::string(s->get());
                return;
            }
            const auto v = number_of(node);
            if (!v || *v <= 0.0 || *v > 64.0) fail(source, &node, key, what);
            out.quantize = OscArg::float32(static_cast<float>(*v));
            return;
        }
    }
}

RigSlot parse_slot(const std::string& source, const toml::table& t) {
    RigSlot slot;
    bool has_index = false;
    for (const auto& [k, node] : t) {
        const std::string key(k.str());
        const std::string name = "slot." + key;
        if (key == "index") {
            slot.index = static_cast<std::uint32_t>(
                whole_in(source, node, name, 0.0, limits::kMaxSlots - 1));
            has_index = true;
        } else if (key == "file") {
            slot.file = string_of(source, node, name, "must be a file path string");
            if (slot.file.empty()) fail(source, &node, name, "must not be empty");
        } else if (key == "take") {
            const auto* b = node.as_boolean();
            if (b == nullptr) fail(source, &node, name, "must be true or false");
            slot.take = b->get();
        } else {
            const auto* spec = std::find_if(std::begin(kParams), std::end(kParams),
                                            [&key](const ParamSpec& p) { return p.key == key; });
            if (spec == std::end(kParams)) fail(source, &node, name, "unknown key");
            parse_param(source, node, name, *spec, slot.params);
        }
    }
    if (!has_index) fail(source, &t, "slot.index", "missing: every [[slot]] needs its index");
    if (slot.take && slot.file.empty())
        fail(source, t.get("take"), "slot.take", "names no file: a take is restored from its file");
    // As /slot/<n>/start and /end refuse a region whose start is not before its end.
    if (slot.params.start >= slot.params.end)
        fail(source,
             t.get("start") ? t.get("start")
             : t.get("end") ? t.get("end")
                            : &t,
             "slot.start",
             fmt::format("the region's start ({}) must be before its end ({})", slot.params.start,
                         slot.params.end));
    return slot;
}

// A float as TOML: the shortest text that reads back as the same float, always with a '.'
// or an exponent, so that it stays a float.
std::string float_text(float v) {
    std::string s = fmt::format("{}", v);
    if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
    return s;
}

bool valid_utf8(std::string_view s) {
    std::size_t k = 0;
    while (k < s.size()) {
        const auto c = static_cast<unsigned char>(s[k]);
        std::size_t n = 0;
        std::uint32_t cp = 0;
        if (c < 0x80) {
            ++k;
            continue;
        }
        if ((c & 0xE0) == 0xC0) {
            n = 1;
            cp = c & 0x1FU;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2;
            cp = c & 0x0FU;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3;
            cp = c & 0x07U;
        } else {
            return false;
        }
        for (std::size_t j = 1; j <= n; ++j) {
            if (k + j >= s.size()) return false;
            const auto cc = static_cast<unsigned char>(s[k + j]);
            if ((cc & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3FU);
        }
        // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8.
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
            return false;
        k += n + 1;
    }
    return true;
}

// A TOML basic string. `s` is valid UTF-8.
std::string quoted(std::string_view s) {
    std::string out = "\"";
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20 || u == 0x7F) {
            out += fmt::format("\\u{:04X}", u);
        } else {
            out += c;
        }
    }
    out += '"';
    return out;
}

std::string arg_text(const OscArg& a) {
    if (a.type == 's' || a.type == 'S') return quoted(a.s);
    if (a.type == 'i') return std::to_string(a.i);
    return float_text(a.f);
}

std::string slot_address(std::uint32_t slot, std::string_view verb) {
    return "/slot/" + std::to_string(slot) + "/" + std::string(verb);
}

void add_slot_params(std::vector<OscMessage>& out, std::uint32_t n, const SlotParams& p) {
    for (const auto& spec : kParams) {
        if (spec.key == "end") continue;  // sent with start
        if (spec.key == "start") {
            // From any current region (start < end, both in 0..1): start 0 is before every
            // end, then the new end is after 0, then the new start is before the new end.
            out.push_back({slot_address(n, "start"), {OscArg::float32(0.0F)}});
            out.push_back({slot_address(n, "end"), {OscArg::float32(p.end)}});
            if (p.start != 0.0F)
                out.push_back({slot_address(n, "start"), {OscArg::float32(p.start)}});
            continue;
        }
        OscArg value;
        switch (spec.kind) {
            case Kind::number:
                value = OscArg::float32(p.*spec.f);
                break;
            case Kind::whole:
                value = OscArg::int32(p.*spec.i);
                break;
            case Kind::mode:
                value = OscArg::string(p.mode);
                break;
            case Kind::quantize:
                value = p.quantize;
                break;
        }
        out.push_back({slot_address(n, spec.key), {std::move(value)}});
    }
}

void add_globals(std::vector<OscMessage>& out, const RigState& rig) {
    out.push_back({"/master/gain", {OscArg::float32(rig.master_gain)}});
    out.push_back({"/clock/tempo", {OscArg::float32(rig.tempo)}});
    out.push_back({"/clock/meter", {OscArg::int32(rig.meter)}});
    out.push_back({"/clock/sync", {OscArg::string(rig.sync)}});
    out.push_back({"/monitor", {OscArg::int32(rig.monitor)}});
}

}  // namespace

bool same_params(const SlotParams& a, const SlotParams& b) {
    for (const auto& spec : kParams) {
        if (spec.f != nullptr &&
            std::bit_cast<std::uint32_t>(a.*spec.f) != std::bit_cast<std::uint32_t>(b.*spec.f))
            return false;
        if (spec.i != nullptr && a.*spec.i != b.*spec.i) return false;
    }
    return a.mode == b.mode && same_arg(a.quantize, b.quantize);
}

RigState rig_from_mirror(const MirrorState& mirror, const SlotParams& defaults) {
    RigState rig;
    rig.master_gain = mirror.master_gain;
    rig.tempo = mirror.tempo;
    rig.meter = mirror.meter;
    rig.sync = mirror.sync;
    rig.monitor = mirror.monitor;
    for (std::size_t n = 0; n < mirror.slots.size(); ++n) {
        const SlotMirror& s = mirror.slots[n];
        // A slot that is loading keeps the path it asked for; a restore whose file was missing
        // keeps it too, so a restart with a sample missing does not erase it from the rig.
        const std::string& file = s.loaded ? s.path : s.rig_path;
        if (file.empty() && same_params(s.params, defaults)) continue;
        // A take not kept on disk has no file: only its parameters are saved.
        const bool take = !file.empty() && (s.loaded ? s.take : s.rig_take);
        rig.slots.push_back({static_cast<std::uint32_t>(n), file, s.params, take});
    }
    return rig;
}

std::string rig_to_toml(const RigState& rig, bool state_header) {
    std::string out;
    if (state_header) {
        out += "# looperd's saved state: rewritten whole on every change.\n";
        out += fmt::format("format = {}\nversion = {}\n\n", quoted(kStateFormat), kStateVersion);
    }
    out += fmt::format("[master]\ngain = {}\nmonitor = {}\n\n", float_text(rig.master_gain),
                       rig.monitor);
    out += fmt::format("[clock]\ntempo = {}\nmeter = {}\nsync = {}\n", float_text(rig.tempo),
                       rig.meter, valid_utf8(rig.sync) ? quoted(rig.sync) : "\"internal\"");
    for (const auto& slot : rig.slots) {
        out += fmt::format("\n[[slot]]\nindex = {}\n", slot.index);
        if (!slot.file.empty()) {
            // TOML holds UTF-8 only: such a path cannot be saved (the slot's parameters are).
            if (valid_utf8(slot.file)) {
                out += fmt::format("file = {}\n", quoted(slot.file));
                if (slot.take) out += "take = true\n";
            } else {
                out += "# file not saved: its path is not valid UTF-8\n";
            }
        }
        const SlotParams& p = slot.params;
        for (const auto& spec : kParams) {
            std::string value;
            switch (spec.kind) {
                case Kind::number:
                    value = float_text(p.*spec.f);
                    break;
                case Kind::whole:
                    value = std::to_string(p.*spec.i);
                    break;
                case Kind::mode:
                    value = quoted(p.mode);
                    break;
                case Kind::quantize:
                    value = arg_text(p.quantize);
                    break;
            }
            out += fmt::format("{} = {}\n", spec.key, value);
        }
    }
    return out;
}

RigState parse_rig(const toml::table& table, const std::string& source) {
    RigState rig;
    if (const auto* master = table_at(table, "master", source)) {
        for (const auto& [k, node] : *master) {
            const std::string key = "master." + std::string(k.str());
            if (k.str() == "gain") {
                rig.master_gain = static_cast<float>(
                    number_in(source, node, key, 0.0, static_cast<double>(limits::kMaxMasterGain)));
            } else if (k.str() == "monitor") {
                rig.monitor = static_cast<std::int32_t>(whole_in(source, node, key, 0.0, 1.0));
            } else {
                fail(source, &node, key, "unknown key");
            }
        }
    }
    if (const auto* clock = table_at(table, "clock", source)) {
        for (const auto& [k, node] : *clock) {
            const std::string key = "clock." + std::string(k.str());
            if (k.str() == "tempo") {
                rig.tempo = static_cast<float>(number_in(source, node, key, 20.0, 300.0));
            } else if (k.str() == "meter") {
                rig.meter = static_cast<std::int32_t>(whole_in(source, node, key, 1.0, 32.0));
            } else if (k.str() == "sync") {
                const auto& s = string_of(source, node, key, R"(must be "internal" or "jack")");
                if (s != "internal" && s != "jack")
                    fail(source, &node, key, R"(must be "internal" or "jack")");
                rig.sync = s;
            } else {
                fail(source, &node, key, "unknown key");
            }
        }
    }
    if (const toml::node* slots = table.get("slot")) {
        const auto* array = slots->as_array();
        if (array == nullptr) fail(source, slots, "slot", "must be an array of tables ([[slot]])");
        for (const auto& element : *array) {
            const auto* t = element.as_table();
            if (t == nullptr) fail(source, &element, "slot", "must be a table ([[slot]])");
            RigSlot slot = parse_slot(source, *t);
            for (const auto& seen : rig.slots) {
                if (seen.index == slot.index)
                    fail(source, t->get("index"), "slot.index",
                         fmt::format("slot {} is listed twice", slot.index));
            }
            rig.slots.push_back(std::move(slot));
        }
        std::sort(rig.slots.begin(), rig.slots.end(),
                  [](const RigSlot& a, const RigSlot& b) { return a.index < b.index; });
    }
    return rig;
}

RigState parse_state(std::string_view text, const std::string& source) {
    toml::table table;
    try {
        table = toml::parse(text, source);
    } catch (const toml::parse_error& e) {
        throw RigError(fmt::format("{}:{}:{}: not valid TOML: {}", source, e.source().begin.line,
                                   e.source().begin.column, e.description()));
    }
    const toml::node* format = table.get("format");
    if (format == nullptr || !format->is_string() || format->as_string()->get() != kStateFormat)
        fail(source, format, "format",
             fmt::format("not a looperd state file (format = {})", quoted(kStateFormat)));
    const toml::node* version = table.get("version");
    if (version == nullptr || !version->is_integer())
        fail(source, version, "version", "missing or not a whole number");
    if (version->as_integer()->get() != kStateVersion)
        fail(source, version, "version",
             fmt::format("version {} is not {}: written by another looperd version",
                         version->as_integer()->get(), kStateVersion));
    for (const auto& [k, node] : table) {
        if (k.str() != "format" && k.str() != "version" && k.str() != "master" &&
            k.str() != "clock" && k.str() != "slot")
            fail(source, &node, k.str(), "unknown key");
    }
    return parse_rig(table, source);
}

std::vector<OscMessage> rig_messages(const RigState& rig) {
    std::vector<OscMessage> out;
    add_globals(out, rig);
    for (const auto& slot : rig.slots) {
        add_slot_params(out, slot.index, slot.params);
        if (!slot.file.empty())
            out.push_back({slot_address(slot.index, slot.take ? "load_take" : "load"),
                           {OscArg::string(slot.file)}});
    }
    return out;
}

std::vector<OscMessage> rig_replace_messages(const RigState& rig, const MirrorState& current,
                                             const SlotParams& defaults) {
    std::vector<OscMessage> out;
    add_globals(out, rig);
    auto listed = rig.slots.begin();
    for (std::uint32_t n = 0; n < current.slots.size(); ++n) {
        const SlotMirror& s = current.slots[n];
        while (listed != rig.slots.end() && listed->index < n) ++listed;
        if (listed != rig.slots.end() && listed->index == n) continue;
        if (s.loaded || s.loading || !s.rig_path.empty())
            out.push_back({slot_address(n, "unload"), {}});
        if (!same_params(s.params, defaults)) add_slot_params(out, n, defaults);
    }
    for (const auto& slot : rig.slots) {
        add_slot_params(out, slot.index, slot.params);
        const bool holds_it =
            slot.index < current.slots.size() && current.slots[slot.index].loaded &&
            !current.slots[slot.index].loading && current.slots[slot.index].path == slot.file &&
            current.slots[slot.index].take == slot.take;
        if (slot.file.empty()) {
            if (slot.index < current.slots.size() &&
                (current.slots[slot.index].loaded || current.slots[slot.index].loading ||
                 !current.slots[slot.index].rig_path.empty()))
                out.push_back({slot_address(slot.index, "unload"), {}});
        } else if (!holds_it) {
            out.push_back({slot_address(slot.index, slot.take ? "load_take" : "load"),
                           {OscArg::string(slot.file)}});
        }
    }
    return out;
}

}  // namespace looperd
