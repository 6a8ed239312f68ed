// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "control/osc_schema.hpp"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "control/osc_rows.hpp"

namespace looperd::osc {

namespace {

constexpr std::string_view kSlotPrefix = "/slot/";

// A number as docs write it: "0.125", "4", "-24".
std::string number_text(double v) {
    return fmt::format("{}", v);
}

}  // namespace

std::string range_text(const Row& r) {
    switch (r.value) {
        case Value::number:
        case Value::whole: {
            std::string max = number_text(r.max);
            if (r.bound == Bound::output_pairs) max = "⌈outputs/2⌉";
            if (r.bound == Bound::input_pairs) max = "⌈inputs/2⌉";
            if (r.value == Value::whole && r.min == 0.0 && r.max == 1.0) return "0 or 1";
            return number_text(r.min) + " … " + max + (r.value == Value::whole ? ", whole" : "");
        }
        case Value::choice: {
            std::string out;
            std::string_view c = r.choices;
            while (!c.empty()) {
                const auto bar = c.find('|');
                if (!out.empty()) out += ", ";
                out += "`" + std::string(c.substr(0, bar)) + "`";
                c = bar == std::string_view::npos ? std::string_view{} : c.substr(bar + 1);
            }
            return out;
        }
        case Value::quantize:
            return "`none`, `beat`, `bar`, or above " + number_text(r.min) + " … " +
                   number_text(r.max);
        case Value::button:
            return "none or non-zero: press; 0: release";
        case Value::text:
            return "UTF-8 text, at most " + number_text(r.max) + " bytes";
        default:
            return "";
    }
}

std::string default_text(const Row& r) {
    if (!r.def_text.empty())
        return r.def_text.starts_with('`') ? std::string(r.def_text)
                                           : "`" + std::string(r.def_text) + "`";
    if (r.value == Value::number || r.value == Value::whole)
        return r.saved ? number_text(r.def) : "";
    if (r.value == Value::text) return r.def_text.empty() ? "empty" : std::string(r.def_text);
    return "";
}

namespace {

// Markdown escapes for a table cell.
std::string cell(std::string_view text) {
    std::string out;
    for (const char c : text) {
        if (c == '|') out += '\\';
        out += c;
    }
    return out;
}

std::string json_string(std::string_view text) {
    std::string out = "\"";
    for (const char c : text) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
                } else {
                    out += c;
                }
        }
    }
    return out + "\"";
}

const char* role_name(Role r) {
    switch (r) {
        case Role::control:
            return "control";
        case Role::reply:
            return "reply";
        case Role::feedback:
            return "feedback";
    }
    return "?";
}

const char* value_name(Value v) {
    switch (v) {
        case Value::none:
            return "none";
        case Value::button:
            return "button";
        case Value::number:
            return "number";
        case Value::whole:
            return "whole";
        case Value::choice:
            return "choice";
        case Value::quantize:
            return "quantize";
        case Value::path:
            return "path";
        case Value::name:
            return "name";
        case Value::text:
            return "text";
        case Value::special:
            return "special";
    }
    return "?";
}

const char* bound_name(Bound b) {
    switch (b) {
        case Bound::fixed:
            return "fixed";
        case Bound::output_pairs:
            return "output_pairs";
        case Bound::input_pairs:
            return "input_pairs";
    }
    return "?";
}

}  // namespace

std::string_view value_types(const Row& r) {
    switch (r.value) {
        case Value::button:
        case Value::number:
        case Value::whole:
            return "ihfd";
        case Value::choice:
        case Value::path:
        case Value::name:
        case Value::text:
            return "s";
        case Value::quantize:
            return "sihfd";
        default:
            return "";
    }
}

namespace {
std::vector<std::string_view> names_of(std::string_view choices) {
    std::vector<std::string_view> out;
    while (!choices.empty()) {
        const auto bar = choices.find('|');
        out.push_back(choices.substr(0, bar));
        choices = bar == std::string_view::npos ? std::string_view{} : choices.substr(bar + 1);
    }
    return out;
}
}  // namespace

std::optional<double> number(const OscArg& a) {
    double v = 0.0;
    switch (a.type) {
        case 'i':
            v = a.i;
            break;
        case 'h':
            v = static_cast<double>(a.h);
            break;
        case 'f':
            v = static_cast<double>(a.f);
            break;
        case 'd':
            v = a.d;
            break;
        default:
            return std::nullopt;
    }
    if (!std::isfinite(v)) return std::nullopt;
    return v;
}

bool is_string(const OscArg& a) {
    return a.type == 's' || a.type == 'S';
}

std::span<const Row> rows() {
    return kRows;
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

bool fits_text(const Row& r, std::string_view s) {
    return static_cast<double>(s.size()) <= r.max && s.find('\0') == std::string_view::npos &&
           valid_utf8(s);
}

std::string text_rule(const Row& r) {
    return "must be text of at most " + number_text(r.max) + " bytes of UTF-8";
}

std::optional<std::size_t> choice_index(const Row& r, std::string_view name) {
    return choice_of(r.choices, name);
}

std::string_view choice_name(const Row& r, std::size_t index) {
    return choice_at(r.choices, index);
}

std::string quoted_choices(const Row& r, std::string_view last) {
    const auto names = names_of(r.choices);
    std::string out;
    for (std::size_t k = 0; k < names.size(); ++k) {
        if (k > 0) out += k + 1 == names.size() ? std::string(last) : std::string(", ");
        out += fmt::format("\"{}\"", names[k]);
    }
    return out;
}

const Row& row(Handler h) {
    for (const auto& r : rows())
        if (r.handler == h) return r;
    std::abort();  // a handler with no row: the table and the router disagree
}

const Row* find(std::string_view pattern) {
    for (const auto& r : rows())
        if (r.address == pattern) return &r;
    return nullptr;
}

std::optional<SlotAddress> parse_slot_address(std::string_view address) {
    if (!address.starts_with(kSlotPrefix)) return std::nullopt;
    const std::string_view rest = address.substr(kSlotPrefix.size());
    const auto slash = rest.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash > 9) return std::nullopt;
    SlotAddress out;
    const auto digits = rest.substr(0, slash);
    const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out.slot);
    if (ec != std::errc{} || ptr != digits.data() + digits.size()) return std::nullopt;
    out.verb = rest.substr(slash + 1);
    return out;
}

const Row* match(std::string_view address, std::uint64_t* slot) {
    if (!address.starts_with(kSlotPrefix)) {
        // A pattern is not an address: "/slot/<n>/gain" is refused like any unknown one.
        if (address.find('<') != std::string_view::npos) return nullptr;
        return find(address);
    }
    const auto sa = parse_slot_address(address);
    if (!sa || sa->verb.empty()) return nullptr;
    for (const auto& r : rows()) {
        if (slot_verb(r.address) == sa->verb) {
            if (slot != nullptr) *slot = sa->slot;
            return &r;
        }
    }
    return nullptr;
}

std::string slot_address(std::string_view pattern, std::uint32_t slot) {
    const auto verb = slot_verb(pattern);
    if (verb.empty()) return std::string(pattern);
    return slot_verb_address(slot, verb);
}

std::string slot_verb_address(std::uint32_t slot, std::string_view verb) {
    return std::string(kSlotPrefix) + std::to_string(slot) + "/" + std::string(verb);
}

std::string markdown_table() {
    std::string out =
        "| address | arguments | range | default | unit | saved | echoed on | effect | reply |\n"
        "|---|---|---|---|---|---|---|---|---|\n";
    for (const auto& r : rows()) {
        if (r.role != Role::control) continue;
        std::string args = r.args.empty() ? "—" : "`" + std::string(r.args) + "`";
        std::string doc(r.doc);
        if (r.recording) doc += " (recording)";
        out += fmt::format("| `{}` | {} | {} | {} | {} | {} | {} | {} | {} |\n", r.address,
                           cell(args), cell(range_text(r)), cell(default_text(r)), cell(r.unit),
                           r.saved ? "yes" : "", r.echo.empty() ? "" : fmt::format("`{}`", r.echo),
                           cell(doc), r.reply.empty() ? "—" : cell(r.reply));
    }
    out += "\n| message | sent as | arguments | meaning |\n|---|---|---|---|\n";
    for (const auto& r : rows()) {
        if (r.role == Role::control) continue;
        out += fmt::format("| `{}` | {} | `{}` | {} |\n", r.address, role_name(r.role),
                           cell(r.args.empty() ? "—" : r.args), cell(r.doc));
    }
    return out;
}

std::string json_schema() {
    std::string out = "{\n  \"format\": \"looperd-osc-schema\",\n  \"version\": 1,\n";
    out += "  \"addresses\": [\n";
    bool first = true;
    for (const auto& r : rows()) {
        if (!first) out += ",\n";
        first = false;
        out += "    {";
        out += "\"address\": " + json_string(r.address);
        out += ", \"role\": " + json_string(role_name(r.role));
        out += ", \"value\": " + json_string(value_name(r.value));
        out += ", \"args\": " + json_string(r.args);
        out += ", \"types\": " + json_string(value_types(r));
        if (r.value == Value::number || r.value == Value::whole || r.value == Value::quantize) {
            out +=
                fmt::format(", \"min\": {}, \"max\": {}", number_text(r.min), number_text(r.max));
            out += ", \"bound\": " + json_string(bound_name(r.bound));
        }
        if (r.value == Value::text) out += ", \"max_bytes\": " + number_text(r.max);
        if (r.saved && (r.value == Value::number || r.value == Value::whole) && r.def_text.empty())
            out += ", \"default\": " + number_text(r.def);
        else if (r.saved && r.value == Value::text && r.def_text.empty())
            out += ", \"default\": \"\"";
        else if (!r.def_text.empty())
            out += ", \"default\": " + json_string(r.def_text.starts_with('`')
                                                       ? r.def_text.substr(1, r.def_text.size() - 2)
                                                       : r.def_text);
        if (!r.unit.empty()) out += ", \"unit\": " + json_string(r.unit);
        if (!r.choices.empty()) {
            out += ", \"choices\": [";
            std::string_view c = r.choices;
            bool first_choice = true;
            while (!c.empty()) {
                const auto bar = c.find('|');
                out += (first_choice ? "" : ", ") + json_string(c.substr(0, bar));
                first_choice = false;
                c = bar == std::string_view::npos ? std::string_view{} : c.substr(bar + 1);
            }
            out += "]";
        }
        out += fmt::format(", \"button\": {}", r.value == Value::button ? "true" : "false");
        out += fmt::format(", \"saved\": {}", r.saved ? "true" : "false");
        if (!r.echo.empty()) out += ", \"echo\": " + json_string(r.echo);
        out += fmt::format(", \"recording\": {}", r.recording ? "true" : "false");
        out += ", \"doc\": " + json_string(r.doc);
        out += "}";
    }
    out += "\n  ]\n}\n";
    return out;
}

}  // namespace looperd::osc
