// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "daemon/rig_state.hpp"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <optional>
#include <string_view>

#include "control/midi_binding.hpp"
#include "looperd/limits.hpp"

namespace looperd {

namespace {

// The ranges, kinds and order of a slot's parameters are the schema's (control/osc_schema):
// a rig is checked exactly as the OSC handlers check what they receive.
const std::vector<const osc::Row*>& slot_rows() {
    static const std::vector<const osc::Row*> rows = saved_slot_rows();
    return rows;
}

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

// Whether a saved slot parameter is listed: a row of the first state format always, as that
// format did; one added since only off its default, so that a rig that does not use it saves
// and restores byte for byte and command for command as before.
bool listed(const osc::Row& row, const SlotParams& p) {
    static const SlotParams kDefaults;
    return row.state_v1 || !same_arg(p.value(row), kDefaults.value(row));
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
                 const osc::Row& row, SlotParams& out) {
    switch (row.value) {
        case osc::Value::number:
            out.set(row, OscArg::float32(
                             static_cast<float>(number_in(source, node, key, row.min, row.max))));
            return;
        case osc::Value::whole:
            out.set(row, OscArg::int32(static_cast<std::int32_t>(
                             whole_in(source, node, key, row.min, row.max))));
            return;
        case osc::Value::choice: {
            const std::string what = "must be " + osc::quoted_choices(row);
            const std::string& name = string_of(source, node, key, what);
            if (!osc::choice_index(row, name)) fail(source, &node, key, what);
            out.set(row, OscArg::string(name));
            return;
        }
        case osc::Value::quantize: {
            const std::string what =
                fmt::format("must be {} or a number of beats above {}, up to {}",
                            osc::quoted_choices(row, ", "), row.min, row.max);
            if (const auto* s = node.as_string()) {
                if (!osc::choice_index(row, s->get())) fail(source, &node, key, what);
                out.set(row, OscArg::string(s->get()));
                return;
            }
            const auto v = number_of(node);
            if (!v || *v <= row.min || *v > row.max) fail(source, &node, key, what);
            out.set(row, OscArg::float32(static_cast<float>(*v)));
            return;
        }
        case osc::Value::text: {
            const std::string what = osc::text_rule(row);
            const std::string& text = string_of(source, node, key, what);
            if (!osc::fits_text(row, text)) fail(source, &node, key, what);
            out.set(row, OscArg::string(text));
            return;
        }
        default:
            fail(source, &node, key, "not a saved parameter");
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
            const auto& rows = slot_rows();
            const auto row = std::find_if(rows.begin(), rows.end(), [&key](const osc::Row* r) {
                return osc::slot_verb(r->address) == key;
            });
            if (row == rows.end()) fail(source, &node, name, "unknown key");
            parse_param(source, node, name, **row, slot.params);
        }
    }
    if (!has_index) fail(source, &t, "slot.index", "missing: every [[slot]] needs its index");
    if (slot.take && slot.file.empty())
        fail(source, t.get("take"), "slot.take", "names no file: a take is restored from its file");
    // As /slot/<n>/start and /end refuse a region whose start is not before its end.
    const float start = slot.params.number("start");
    const float end = slot.params.number("end");
    if (start >= end)
        fail(source,
             t.get("start") ? t.get("start")
             : t.get("end") ? t.get("end")
                            : &t,
             "slot.start",
             fmt::format("the region's start ({}) must be before its end ({})", start, end));
    return slot;
}

// A float as TOML: the shortest text that reads back as the same float, always with a '.'
// or an exponent, so that it stays a float.
std::string float_text(float v) {
    std::string s = fmt::format("{}", v);
    if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
    return s;
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
    return osc::slot_verb_address(slot, verb);
}

// The address of a handler's row for slot `n`: /slot/<n>/load, load_take, unload.
std::string slot_address(std::uint32_t n, osc::Handler h) {
    return osc::slot_address(osc::row(h).address, n);
}

std::string load_address(std::uint32_t n, bool take) {
    return slot_address(n, take ? osc::Handler::load_take : osc::Handler::load);
}

// `fresh`: the slot holds the rows' defaults (a controller just made), so only the listed
// parameters are sent; otherwise every one, to replace what the slot holds.
void add_slot_params(std::vector<OscMessage>& out, std::uint32_t n, const SlotParams& p,
                     bool fresh) {
    for (const osc::Row* row : slot_rows()) {
        const auto verb = osc::slot_verb(row->address);
        if (fresh && !listed(*row, p)) continue;
        if (row->command == CommandKind::set_end) continue;  // sent with start
        if (row->command == CommandKind::set_start) {
            // From any current region (start < end, both in 0..1): start 0 is before every
            // end, then the new end is after 0, then the new start is before the new end.
            out.push_back({slot_address(n, verb), {OscArg::float32(0.0F)}});
            const auto end = std::find_if(slot_rows().begin(), slot_rows().end(), [](auto* r) {
                return r->command == CommandKind::set_end;
            });
            out.push_back({osc::slot_address((*end)->address, n), {p.value(**end)}});
            if (const float start = p.number("start"); start != 0.0F)
                out.push_back({slot_address(n, verb), {OscArg::float32(start)}});
            continue;
        }
        out.push_back({slot_address(n, verb), {p.value(*row)}});
    }
}

void add_globals(std::vector<OscMessage>& out, const RigState& rig) {
    using osc::Handler;
    auto at = [](Handler h) { return std::string(osc::row(h).address); };
    out.push_back({at(Handler::master_gain), {OscArg::float32(rig.master_gain)}});
    out.push_back({at(Handler::clock_tempo), {OscArg::float32(rig.tempo)}});
    out.push_back({at(Handler::clock_meter), {OscArg::int32(rig.meter)}});
    out.push_back({at(Handler::clock_sync), {OscArg::string(std::string(sync_name(rig.sync)))}});
    out.push_back({at(Handler::monitor), {OscArg::int32(rig.monitor)}});
    if (rig.midi_bindings) {
        out.push_back({at(Handler::midi_forget), {}});
        for (const auto& b : *rig.midi_bindings) {
            OscMessage m{at(Handler::midi_bind), {}, 0};
            for (const auto word : midi_binding_words(b))
                m.args.push_back(OscArg::string(std::string(word)));
            out.push_back(std::move(m));
        }
    }
}

}  // namespace

bool same_params(const SlotParams& a, const SlotParams& b) {
    return a.same(b);
}

RigState rig_from_mirror(const MirrorState& mirror, const SlotParams& defaults) {
    RigState rig;
    rig.master_gain = mirror.master_gain;
    rig.tempo = mirror.tempo;
    rig.meter = mirror.meter;
    rig.sync = mirror.sync;
    rig.monitor = mirror.monitor;
    // Written only when there are some: a rig without bindings saves as it always did.
    if (!mirror.midi_bindings.empty()) rig.midi_bindings = mirror.midi_bindings;
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
                       rig.meter, quoted(sync_name(rig.sync)));
    if (rig.midi_bindings) {
        out += "\n[midi-map]\nbindings = [";
        for (const auto& b : *rig.midi_bindings) out += fmt::format("\n    {},", quoted(b));
        out += rig.midi_bindings->empty() ? "]\n" : "\n]\n";
    }
    for (const auto& slot : rig.slots) {
        out += fmt::format("\n[[slot]]\nindex = {}\n", slot.index);
        if (!slot.file.empty()) {
            // TOML holds UTF-8 only: such a path cannot be saved (the slot's parameters are).
            if (osc::valid_utf8(slot.file)) {
                out += fmt::format("file = {}\n", quoted(slot.file));
                if (slot.take) out += "take = true\n";
            } else {
                out += "# file not saved: its path is not valid UTF-8\n";
            }
        }
        for (const osc::Row* row : slot_rows())
            if (listed(*row, slot.params))
                out += fmt::format("{} = {}\n", osc::slot_verb(row->address),
                                   arg_text(slot.params.value(*row)));
    }
    return out;
}

RigState parse_rig(const toml::table& table, const std::string& source) {
    RigState rig;
    if (const auto* master = table_at(table, "master", source)) {
        for (const auto& [k, node] : *master) {
            const std::string key = "master." + std::string(k.str());
            if (k.str() == "gain") {
                const auto& r = osc::row(osc::Handler::master_gain);
                rig.master_gain = static_cast<float>(number_in(source, node, key, r.min, r.max));
            } else if (k.str() == "monitor") {
                const auto& r = osc::row(osc::Handler::monitor);
                rig.monitor = static_cast<std::int32_t>(whole_in(source, node, key, r.min, r.max));
            } else {
                fail(source, &node, key, "unknown key");
            }
        }
    }
    if (const auto* clock = table_at(table, "clock", source)) {
        for (const auto& [k, node] : *clock) {
            const std::string key = "clock." + std::string(k.str());
            if (k.str() == "tempo") {
                const auto& r = osc::row(osc::Handler::clock_tempo);
                rig.tempo = static_cast<float>(number_in(source, node, key, r.min, r.max));
            } else if (k.str() == "meter") {
                const auto& r = osc::row(osc::Handler::clock_meter);
                rig.meter = static_cast<std::int32_t>(whole_in(source, node, key, r.min, r.max));
            } else if (k.str() == "sync") {
                const auto& r = osc::row(osc::Handler::clock_sync);
                const std::string what = "must be " + osc::quoted_choices(r);
                const auto index = osc::choice_index(r, string_of(source, node, key, what));
                if (!index) fail(source, &node, key, what);
                rig.sync = static_cast<ClockSource>(*index);
            } else {
                fail(source, &node, key, "unknown key");
            }
        }
    }
    if (const auto* midi = table_at(table, "midi-map", source)) {
        for (const auto& [k, node] : *midi) {
            const std::string key = "midi-map." + std::string(k.str());
            if (k.str() != "bindings") fail(source, &node, key, "unknown key");
            const auto* list = node.as_array();
            if (list == nullptr) fail(source, &node, key, "must be an array of strings");
            rig.midi_bindings.emplace();
            for (const auto& element : *list) {
                const std::string text =
                    string_of(source, element, key, "must be an array of strings");
                std::string error;
                const auto words = midi_binding_words(text);
                const osc::Row* row = words.size() > 1 ? osc::match(words[1]) : nullptr;
                // The slot's own range is checked when the rig is applied, as for [[slot]].
                if (!parse_midi_binding(text, row != nullptr ? row->max : 0.0, error))
                    fail(source, &element, key, error);
                rig.midi_bindings->push_back(text);
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
            k.str() != "clock" && k.str() != "slot" && k.str() != "midi-map")
            fail(source, &node, k.str(), "unknown key");
    }
    return parse_rig(table, source);
}

std::vector<OscMessage> rig_messages(const RigState& rig) {
    std::vector<OscMessage> out;
    add_globals(out, rig);
    for (const auto& slot : rig.slots) {
        add_slot_params(out, slot.index, slot.params, true);
        if (!slot.file.empty())
            out.push_back({load_address(slot.index, slot.take), {OscArg::string(slot.file)}});
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
            out.push_back({slot_address(n, osc::Handler::unload), {}});
        if (!same_params(s.params, defaults)) add_slot_params(out, n, defaults, false);
    }
    for (const auto& slot : rig.slots) {
        add_slot_params(out, slot.index, slot.params, false);
        const bool holds_it =
            slot.index < current.slots.size() && current.slots[slot.index].loaded &&
            !current.slots[slot.index].loading && current.slots[slot.index].path == slot.file &&
            current.slots[slot.index].take == slot.take;
        if (slot.file.empty()) {
            if (slot.index < current.slots.size() &&
                (current.slots[slot.index].loaded || current.slots[slot.index].loading ||
                 !current.slots[slot.index].rig_path.empty()))
                out.push_back({slot_address(slot.index, osc::Handler::unload), {}});
        } else if (!holds_it) {
            out.push_back({load_address(slot.index, slot.take), {OscArg::string(slot.file)}});
        }
    }
    return out;
}

}  // namespace looperd
