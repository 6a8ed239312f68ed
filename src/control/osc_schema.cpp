// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "control/osc_schema.hpp"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <vector>

namespace looperd::osc {

namespace {

constexpr std::string_view kSlotPrefix = "/slot/";
constexpr std::string_view kSlotPattern = "/slot/<n>/";

// A number as docs write it: "0.125", "4", "-24".
std::string number_text(double v) {
    return fmt::format("{}", v);
}

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
    return "";
}

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

std::optional<std::size_t> choice_index(const Row& r, std::string_view name) {
    const auto names = names_of(r.choices);
    const auto it = std::find(names.begin(), names.end(), name);
    if (it == names.end()) return std::nullopt;
    return static_cast<std::size_t>(it - names.begin());
}

std::string_view choice_name(const Row& r, std::size_t index) {
    const auto names = names_of(r.choices);
    return index < names.size() ? names[index] : std::string_view{};
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

std::string_view slot_verb(std::string_view pattern) {
    return pattern.starts_with(kSlotPattern) ? pattern.substr(kSlotPattern.size())
                                             : std::string_view{};
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
        if (r.saved && (r.value == Value::number || r.value == Value::whole) && r.def_text.empty())
            out += ", \"default\": " + number_text(r.def);
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
