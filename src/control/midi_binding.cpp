// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

#include "control/midi_binding.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace looperd {

namespace {

constexpr std::uint8_t kDataMax = 127;        // a 7-bit value's top
constexpr double kBendMax = 16383.0;          // a 14-bit pitch bend's top
constexpr std::uint8_t kPressThreshold = 64;  // a CC at or above this is a button down
constexpr std::uint8_t kOffsetZero = 64;      // binary offset's "no move"
constexpr std::uint8_t kTwosNegative = 64;    // two's complement: 64..127 are -64..-1
constexpr int kChannels = 16;

struct KindName {
    MidiControlKind kind;
    std::string_view name;
    bool numbered;
};
constexpr KindName kKinds[] = {
    {MidiControlKind::note, "note", true},
    {MidiControlKind::cc, "cc", true},
    {MidiControlKind::program, "program", false},
    {MidiControlKind::bend, "bend", false},
};

const KindName& kind_name(MidiControlKind k) {
    return kKinds[static_cast<std::size_t>(k)];
}

std::optional<int> whole_number(std::string_view s) {
    int v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
    return v;
}

std::optional<double> real_number(std::string_view s) {
    double v = 0.0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
    return v;
}

bool is_choice(const osc::Row& row) {
    return row.value == osc::Value::choice || row.value == osc::Value::quantize;
}

std::size_t choice_count(const osc::Row& row) {
    std::size_t n = 0;
    while (!osc::choice_at(row.choices, n).empty()) ++n;
    return n;
}

// A button: a press, and for `play` a release too (gate mode).
bool is_action(const osc::Row& row) {
    return row.value == osc::Value::button || row.value == osc::Value::none;
}

struct Press {
    bool press = false;    // a note-on, a CC at 64 or above
    bool release = false;  // a note-off, a CC below 64
};

Press press_of(const MidiMessage& m) {
    switch (m.kind()) {
        case 0x80:
        case 0x90:
            return {m.note_on(), m.note_off()};
        case 0xB0:
            return {m.data2 >= kPressThreshold, m.data2 < kPressThreshold};
        default:  // program change: a press; pitch bend: neither
            return {m.kind() == 0xC0, false};
    }
}

// The message's value, 0..1 (a note's velocity, a CC's value, a program number, a bend).
double fraction_of(const MidiMessage& m) {
    switch (m.kind()) {
        case 0xE0:
            return static_cast<double>((m.data2 << 7) | m.data1) / kBendMax;
        case 0xC0:
            return static_cast<double>(m.data1) / kDataMax;
        default:
            return static_cast<double>(m.data2) / kDataMax;
    }
}

// An endless encoder's move, in detents (0: none): two's complement (1..63 up, 127..64 down)
// or binary offset (64 is no move).
int detents(MidiBindMode mode, std::uint8_t value) {
    if (mode == MidiBindMode::relative_twos) return value < kTwosNegative ? value : value - 128;
    return value - kOffsetZero;
}

}  // namespace

bool MidiSource::matches(const MidiMessage& m) const noexcept {
    MidiControlKind k{};
    if (!midi_control_kind(m, k) || k != kind) return false;
    if (channel >= 0 && m.channel() != static_cast<std::uint8_t>(channel)) return false;
    return midi_control_key(m, k) == key();
}

MidiSource midi_source_of(const MidiMessage& m, MidiControlKind kind) {
    const bool numbered = kind_name(kind).numbered;
    return {kind, numbered ? m.data1 : std::uint8_t{0}, static_cast<std::int8_t>(m.channel())};
}

std::optional<MidiSource> parse_midi_source(std::string_view text, std::string& error) {
    MidiSource s;
    std::string_view rest = text;
    if (const auto at = rest.find('@'); at != std::string_view::npos) {
        const auto ch = whole_number(rest.substr(at + 1));
        if (!ch || *ch < 1 || *ch > kChannels) {
            error = fmt::format("MIDI source \"{}\": the channel after @ must be 1 to 16", text);
            return std::nullopt;
        }
        s.channel = static_cast<std::int8_t>(*ch - 1);
        rest = rest.substr(0, at);
    }
    const auto colon = rest.find(':');
    const std::string_view name = rest.substr(0, colon);
    const auto known = std::find_if(std::begin(kKinds), std::end(kKinds),
                                    [name](const KindName& k) { return k.name == name; });
    if (known == std::end(kKinds)) {
        error = fmt::format(
            "MIDI source \"{}\": must be note:N, cc:N, program or bend, then @channel "
            "(1 to 16) or nothing for any channel",
            text);
        return std::nullopt;
    }
    s.kind = known->kind;
    if (known->numbered) {
        const auto n =
            colon == std::string_view::npos ? std::nullopt : whole_number(rest.substr(colon + 1));
        if (!n || *n < 0 || *n > kDataMax) {
            error = fmt::format("MIDI source \"{}\": {} needs a number from 0 to 127 ({}:N)", text,
                                known->name, known->name);
            return std::nullopt;
        }
        s.number = static_cast<std::uint8_t>(*n);
    } else if (colon != std::string_view::npos) {
        error = fmt::format("MIDI source \"{}\": {} takes no number", text, known->name);
        return std::nullopt;
    }
    return s;
}

std::string to_text(const MidiSource& s) {
    const KindName& k = kind_name(s.kind);
    std::string out(k.name);
    if (k.numbered) out += fmt::format(":{}", s.number);
    if (s.channel >= 0) out += fmt::format("@{}", s.channel + 1);
    return out;
}

bool bindable(const osc::Row& row) {
    if (row.role != osc::Role::control) return false;
    switch (row.value) {
        case osc::Value::number:
        case osc::Value::whole:
        case osc::Value::choice:
        case osc::Value::quantize:
        case osc::Value::button:
            return true;
        case osc::Value::none:
            // An action; queries (they answer a reply URL) do nothing a player can see.
            return row.reply.empty() && row.args.empty();
        default:
            return false;
    }
}

MidiBindMode default_mode(MidiControlKind kind, const osc::Row& row) {
    if (is_action(row)) return MidiBindMode::momentary;
    if (kind == MidiControlKind::note) return MidiBindMode::toggle;
    return MidiBindMode::absolute;
}

namespace {

std::optional<MidiBindMode> mode_named(std::string_view word) {
    if (word == "absolute") return MidiBindMode::absolute;
    if (word == "relative=twos") return MidiBindMode::relative_twos;
    if (word == "relative=offset") return MidiBindMode::relative_offset;
    if (word == "toggle") return MidiBindMode::toggle;
    if (word == "momentary") return MidiBindMode::momentary;
    return std::nullopt;
}

std::string_view mode_text(MidiBindMode m) {
    switch (m) {
        case MidiBindMode::relative_twos:
            return "relative=twos";
        case MidiBindMode::relative_offset:
            return "relative=offset";
        case MidiBindMode::toggle:
            return "toggle";
        case MidiBindMode::momentary:
            return "momentary";
        default:
            return "absolute";
    }
}

bool relative(MidiBindMode m) {
    return m == MidiBindMode::relative_twos || m == MidiBindMode::relative_offset;
}

}  // namespace

std::optional<MidiBinding> parse_midi_binding(const std::vector<std::string_view>& words,
                                              double row_max, std::string& error,
                                              bool* mode_given) {
    if (words.size() < 2) {
        error = "a MIDI binding needs a source (\"cc:7@1\") and an address";
        return std::nullopt;
    }
    const auto source = parse_midi_source(words[0], error);
    if (!source) return std::nullopt;
    MidiBinding b;
    b.source = *source;
    b.address = std::string(words[1]);
    const osc::Row* row = osc::match(b.address);
    if (row == nullptr || row->role != osc::Role::control) {
        error = fmt::format("MIDI binding: no such address {}", b.address);
        return std::nullopt;
    }
    if (!bindable(*row)) {
        error = fmt::format("MIDI binding: {} cannot be driven by MIDI (it takes {})", b.address,
                            row->args.empty() ? "a reply URL" : row->args);
        return std::nullopt;
    }
    bool named_mode = false;
    for (std::size_t k = 2; k < words.size(); ++k) {
        const std::string_view w = words[k];
        if (w.starts_with("range=")) {
            const std::string_view r = w.substr(6);
            const auto colon = r.find(':');
            const auto lo = real_number(r.substr(0, colon));
            const auto hi =
                colon == std::string_view::npos ? std::nullopt : real_number(r.substr(colon + 1));
            if (!lo || !hi) {
                error = fmt::format("MIDI binding: \"{}\" must be range=LOW:HIGH", w);
                return std::nullopt;
            }
            b.low = lo;
            b.high = hi;
        } else if (const auto m = mode_named(w)) {
            b.mode = *m;
            named_mode = true;
        } else {
            error = fmt::format(
                "MIDI binding: unknown option \"{}\" (range=LOW:HIGH, absolute, relative=twos, "
                "relative=offset, toggle, momentary)",
                w);
            return std::nullopt;
        }
    }
    if (!named_mode) b.mode = default_mode(b.source.kind, *row);
    if (mode_given) *mode_given = named_mode;
    if (b.low &&
        (!(row->value == osc::Value::number || row->value == osc::Value::whole) ||
         *b.low < row->min || *b.high > row_max || *b.low > row_max || *b.high < row->min)) {
        error = row->value == osc::Value::number || row->value == osc::Value::whole
                    ? fmt::format("MIDI binding: range must lie within {}'s {} to {}", b.address,
                                  row->min, row_max)
                    : fmt::format("MIDI binding: {} has no range", b.address);
        return std::nullopt;
    }
    if (is_action(*row) && (b.mode == MidiBindMode::absolute || relative(b.mode))) {
        error = fmt::format("MIDI binding: {} is a button: toggle or momentary", b.address);
        return std::nullopt;
    }
    const bool valued = b.source.kind == MidiControlKind::cc;
    if (relative(b.mode) && !valued) {
        error = "MIDI binding: only a CC (an endless encoder) can be relative";
        return std::nullopt;
    }
    return b;
}

std::vector<std::string_view> midi_binding_words(std::string_view text) {
    std::vector<std::string_view> words;
    while (!text.empty()) {
        const auto start = text.find_first_not_of(" \t");
        if (start == std::string_view::npos) break;
        text = text.substr(start);
        const auto end = text.find_first_of(" \t");
        words.push_back(text.substr(0, end));
        text = end == std::string_view::npos ? std::string_view{} : text.substr(end);
    }
    return words;
}

std::optional<MidiBinding> parse_midi_binding(std::string_view text, double row_max,
                                              std::string& error) {
    return parse_midi_binding(midi_binding_words(text), row_max, error);
}

std::string to_text(const MidiBinding& b) {
    std::string out = to_text(b.source) + " " + b.address;
    if (b.low) out += fmt::format(" range={}:{}", *b.low, *b.high);
    const osc::Row* row = osc::match(b.address);
    if (row == nullptr || b.mode != default_mode(b.source.kind, *row))
        out += fmt::format(" {}", mode_text(b.mode));
    return out;
}

std::optional<OscMessage> midi_binding_message(const MidiBinding& b, const osc::Row& row,
                                               double row_max, const MidiMessage& m,
                                               std::optional<double> current) {
    const Press p = press_of(m);
    OscMessage out{b.address, {}, 0};
    if (is_action(row)) {
        if (p.press) {
            if (row.value == osc::Value::button) out.args.push_back(OscArg::int32(1));
            return out;
        }
        // Only play takes a release (a gate slot stops); a toggle binding sends presses only.
        if (p.release && row.value == osc::Value::button && b.mode == MidiBindMode::momentary) {
            out.args.push_back(OscArg::int32(0));
            return out;
        }
        return std::nullopt;
    }
    if (is_choice(row)) {
        const auto n = static_cast<double>(choice_count(row));
        double index = current.value_or(0.0);
        switch (b.mode) {
            case MidiBindMode::absolute:
                index = std::nearbyint(fraction_of(m) * (n - 1.0));
                break;
            case MidiBindMode::relative_twos:
            case MidiBindMode::relative_offset: {
                const int step = detents(b.mode, m.data2);
                if (step == 0) return std::nullopt;
                index = std::clamp(index + (step > 0 ? 1.0 : -1.0), 0.0, n - 1.0);
                break;
            }
            default:  // toggle and momentary presses step through the choices
                if (!p.press) return std::nullopt;
                index = std::fmod(index + 1.0, n);
                break;
        }
        out.args.push_back(OscArg::string(
            std::string(osc::choice_at(row.choices, static_cast<std::size_t>(index)))));
        return out;
    }
    const double lo = b.low.value_or(row.min);
    const double hi = b.high.value_or(row_max);
    const bool whole = row.value == osc::Value::whole;
    double v = current.value_or(row.def);
    switch (b.mode) {
        case MidiBindMode::absolute:
            v = lo + fraction_of(m) * (hi - lo);
            break;
        case MidiBindMode::relative_twos:
        case MidiBindMode::relative_offset: {
            const int step = detents(b.mode, m.data2);
            if (step == 0) return std::nullopt;
            // One detent: a whole number's unit, or 1/127 of the range (a CC's resolution).
            const double unit = whole ? 1.0 : (hi - lo) / kDataMax;
            v = std::clamp(v + step * unit, std::min(lo, hi), std::max(lo, hi));
            break;
        }
        case MidiBindMode::toggle:
            if (!p.press) return std::nullopt;
            // At the top (as the mirror keeps it, a float) it goes to the bottom, else the top.
            v = std::abs(v - hi) <= 1e-6 * std::max(1.0, std::abs(hi)) ? lo : hi;
            break;
        case MidiBindMode::momentary:
            if (p.press) {
                v = hi;
            } else if (p.release) {
                v = lo;
            } else {
                return std::nullopt;
            }
            break;
    }
    if (whole) {
        out.args.push_back(OscArg::int32(static_cast<std::int32_t>(std::nearbyint(v))));
    } else {
        out.args.push_back(OscArg::float32(static_cast<float>(v)));
    }
    return out;
}

std::optional<MidiMessage> midi_echo_message(const MidiBinding& b, const osc::Row& row,
                                             double row_max, const OscArg& value) {
    if (b.source.kind != MidiControlKind::cc) return std::nullopt;
    double fraction = 0.0;
    if (is_choice(row)) {
        const auto n = choice_count(row);
        const auto index = value.type == 's' ? osc::choice_of(row.choices, value.s) : std::nullopt;
        if (!index || n < 2) return std::nullopt;
        fraction = static_cast<double>(*index) / static_cast<double>(n - 1);
    } else if (const auto v = osc::number(value); v && !is_action(row)) {
        const double lo = b.low.value_or(row.min);
        const double hi = b.high.value_or(row_max);
        if (hi == lo) return std::nullopt;
        fraction = std::clamp((*v - lo) / (hi - lo), 0.0, 1.0);
    } else {
        return std::nullopt;
    }
    const int channel = b.source.channel < 0 ? 0 : b.source.channel;
    return MidiMessage{static_cast<std::uint8_t>(0xB0 | channel), b.source.number,
                       static_cast<std::uint8_t>(std::lround(fraction * kDataMax))};
}

}  // namespace looperd
