// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "daemon/options.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <map>
#include <type_traits>

#include "io/osc_server.hpp"

namespace looperd {

namespace {

constexpr std::uint64_t kMaxByteSize = 1ULL << 40;  // 1024G

// Numbers in messages and --help as people write them: 65535, 0.1, 1000.
std::string number_text(double v) {
    std::array<char, 32> buf{};
    auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
    return ec == std::errc{} ? std::string(buf.data(), end) : std::to_string(v);
}

std::string range_text(const OptionSpec& spec) {
    return "from " + number_text(spec.min) + " to " + number_text(spec.max);
}

// Command-line text → the kind's value. Ranges are apply_option's business.
OptionValue value_from_text(const OptionSpec& spec, const std::string& text) {
    switch (spec.kind) {
        case OptionKind::action:
        case OptionKind::flag:
            return true;
        case OptionKind::action_choice:
            return text;
        case OptionKind::integer: {
            std::int64_t v = 0;
            const auto* end = text.data() + text.size();
            auto [ptr, ec] = std::from_chars(text.data(), end, v);
            if (text.empty() || ec != std::errc{} || ptr != end)
                throw OptionsError("expected a whole number " + range_text(spec) + ", got '" +
                                   text + "'");
            return v;
        }
        case OptionKind::number: {
            double v = 0.0;
            const auto* end = text.data() + text.size();
            auto [ptr, ec] = std::from_chars(text.data(), end, v);
            if (text.empty() || ec != std::errc{} || ptr != end)
                throw OptionsError("expected a number " + range_text(spec) + ", got '" + text +
                                   "'");
            return v;
        }
        case OptionKind::byte_size:
        case OptionKind::text:
            return text;
        case OptionKind::text_list:
            return std::vector<std::string>{text};
    }
    throw OptionsError("unknown option kind");
}

}  // namespace

const OptionSpec* find_option(std::string_view name) {
    for (const auto& spec : option_specs())
        if (spec.name == name) return &spec;
    return nullptr;
}

void apply_option(const OptionSpec& spec, Options& options, const OptionValue& value) {
    switch (spec.kind) {
        case OptionKind::action_choice:
            if (!std::holds_alternative<std::string>(value)) throw OptionsError("expected a word");
            break;
        case OptionKind::action:
        case OptionKind::flag:
            if (!std::holds_alternative<bool>(value)) throw OptionsError("expected true or false");
            break;
        case OptionKind::integer: {
            const auto* v = std::get_if<std::int64_t>(&value);
            if (v == nullptr) throw OptionsError("expected a whole number " + range_text(spec));
            if (static_cast<double>(*v) < spec.min || static_cast<double>(*v) > spec.max)
                throw OptionsError("expected a whole number " + range_text(spec) + ", got " +
                                   std::to_string(*v));
            break;
        }
        case OptionKind::number: {
            const auto* v = std::get_if<double>(&value);
            if (v == nullptr) throw OptionsError("expected a number " + range_text(spec));
            if (!std::isfinite(*v) || *v < spec.min || *v > spec.max)
                throw OptionsError("expected a number " + range_text(spec) + ", got " +
                                   number_text(*v));
            break;
        }
        case OptionKind::byte_size: {
            // Text carries a unit; a whole number is bytes. Both are stored as bytes.
            std::int64_t bytes = 0;
            if (const auto* text = std::get_if<std::string>(&value)) {
                bytes = static_cast<std::int64_t>(parse_byte_size(*text));
            } else if (const auto* v = std::get_if<std::int64_t>(&value)) {
                if (*v < 1 || static_cast<std::uint64_t>(*v) > kMaxByteSize)
                    throw OptionsError("expected a size from 1 byte to 1024G, got " +
                                       std::to_string(*v) + " bytes");
                bytes = *v;
            } else {
                throw OptionsError("expected a size such as 512M, 2G or a number of bytes");
            }
            spec.set(options, OptionValue{bytes});
            return;
        }
        case OptionKind::text:
            if (!std::holds_alternative<std::string>(value)) throw OptionsError("expected text");
            break;
        case OptionKind::text_list:
            if (!std::holds_alternative<std::vector<std::string>>(value))
                throw OptionsError("expected a list of strings");
            break;
    }
    spec.set(options, value);
}

CommandLine read_command_line(int argc, const char* const* argv) {
    CommandLine command_line;
    std::map<const OptionSpec*, std::size_t> list_at;  // where a repeatable flag's list is
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        const OptionSpec* found = nullptr;
        // "--name=value" gives the value in the same word.
        std::optional<std::string> inline_value;
        bool negated = false;
        if (arg.starts_with("--")) {
            const auto equals = arg.find('=');
            if (equals != std::string_view::npos)
                inline_value = std::string(arg.substr(equals + 1));
            const auto name =
                arg.substr(2, equals == std::string_view::npos ? arg.npos : equals - 2);
            found = find_option(name);
            // "--no-dns-sd": a flag that is on by default, turned off.
            if (found == nullptr && name.starts_with("no-")) {
                const OptionSpec* positive = find_option(name.substr(3));
                if (positive != nullptr && positive->negatable) {
                    found = positive;
                    negated = true;
                }
            }
        } else if (arg.size() == 2 && arg[0] == '-') {
            for (const auto& s : option_specs())
                if (s.short_name != '\0' && s.short_name == arg[1]) found = &s;
        }
        if (found == nullptr)
            throw OptionsError("unknown option '" + std::string(arg) + "' (see --help)");
        // A reference from here on: GCC's -Wnull-dereference (ARM cross builds, -O2) cannot
        // follow the throw above through a pointer.
        const OptionSpec& spec = *found;

        const std::string flag = (negated ? "--no-" : "--") + std::string(spec.name);
        std::string text;
        if (spec.kind == OptionKind::action || spec.kind == OptionKind::flag) {
            if (inline_value) throw OptionsError(flag + ": takes no value");
        } else if (spec.kind == OptionKind::action_choice) {
            text = inline_value.value_or("");
        } else if (inline_value) {
            text = *inline_value;
        } else {
            if (i + 1 >= argc) throw OptionsError(flag + ": missing value");
            text = argv[++i];
        }
        OptionValue value;
        try {
            value = negated ? OptionValue{false} : value_from_text(spec, text);
        } catch (const OptionsError& e) {
            throw OptionsError(flag + ": " + e.what());
        }
        if (spec.kind == OptionKind::text_list) {
            auto [at, first] = list_at.try_emplace(&spec, command_line.values.size());
            if (!first) {
                std::get<std::vector<std::string>>(command_line.values[at->second].second)
                    .push_back(text);
                continue;
            }
        }
        command_line.values.emplace_back(&spec, std::move(value));
    }
    return command_line;
}

void apply_command_line(const CommandLine& command_line, Options& options) {
    for (const auto& [spec, value] : command_line.values) {
        try {
            apply_option(*spec, options, value);
        } catch (const OptionsError& e) {
            throw OptionsError("--" + std::string(spec->name) + ": " + e.what());
        }
    }
}

Options parse_options(int argc, const char* const* argv) {
    Options options;
    apply_command_line(read_command_line(argc, argv), options);
    return options;
}

std::uint64_t parse_byte_size(const std::string& text) {
    const auto fail = [&]() {
        return OptionsError(
            "expected a size such as 512M, 2G or 1048576 (bytes), from 1 byte to "
            "1024G, got '" +
            text + "'");
    };
    std::string_view digits = text;
    std::uint64_t unit = 1;
    if (!digits.empty()) {
        switch (digits.back()) {
            case 'K':
            case 'k':
                unit = 1ULL << 10;
                break;
            case 'M':
            case 'm':
                unit = 1ULL << 20;
                break;
            case 'G':
            case 'g':
                unit = 1ULL << 30;
                break;
            default:
                break;
        }
        if (unit != 1) digits.remove_suffix(1);
    }
    std::uint64_t n = 0;
    const auto* end = digits.data() + digits.size();
    auto [ptr, ec] = std::from_chars(digits.data(), end, n);
    if (digits.empty() || ec != std::errc{} || ptr != end || n < 1 || n > kMaxByteSize / unit)
        throw fail();
    return n * unit;
}

std::string format_byte_size(std::uint64_t bytes) {
    if (bytes != 0) {
        if (bytes % (1ULL << 30) == 0) return std::to_string(bytes >> 30) + "G";
        if (bytes % (1ULL << 20) == 0) return std::to_string(bytes >> 20) + "M";
        if (bytes % (1ULL << 10) == 0) return std::to_string(bytes >> 10) + "K";
    }
    return std::to_string(bytes);
}

std::string usage() {
    constexpr std::size_t kHelpColumn = 26;
    std::string out =
        "Usage: looperd [options]\n\n"
        "A headless real-time sample player and looper for JACK, controlled over OSC (UDP).\n"
        "Every option but those of the last two sections may also be set in the config file,\n"
        "under its name without the dashes; flags override the file.\n";
    std::string_view group;
    for (const auto& spec : option_specs()) {
        if (spec.group != group) {
            group = spec.group;
            out += "\n" + std::string(group) + ":\n";
        }
        std::string left = "  --" + std::string(spec.name);
        if (spec.negatable) left += ", --no-" + std::string(spec.name);
        if (spec.short_name != '\0')
            left = "  -" + std::string(1, spec.short_name) + ", " + left.substr(2);
        if (!spec.metavar.empty())
            left += (spec.kind == OptionKind::action_choice ? "" : " ") + std::string(spec.metavar);
        out += left;
        // A flag too wide for its column puts its help on the next line.
        if (left.size() + 2 > kHelpColumn)
            out += "\n" + std::string(kHelpColumn, ' ');
        else
            out += std::string(kHelpColumn - left.size(), ' ');
        for (char c : spec.help) {
            out += c;
            if (c == '\n') out += std::string(kHelpColumn, ' ');
        }
        out += '\n';
    }
    return out;
}

}  // namespace looperd
