// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "daemon/config_file.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <sstream>
#include <tuple>

namespace looperd {

namespace {

// A problem at a place in the file; sorted by place before it is reported, because toml++
// hands keys over in alphabetical order.
struct Problem {
    std::uint32_t line;
    std::uint32_t column;
    std::string message;
};

std::string position(const std::string& source_name, const toml::source_position& at) {
    return source_name + ":" + std::to_string(at.line) + ":" + std::to_string(at.column);
}

// What a node is, for "got ..." in errors.
std::string describe(const toml::node& node) {
    std::ostringstream out;
    switch (node.type()) {
        case toml::node_type::string:
            out << "a string (" << toml::toml_formatter(*node.as_string(), toml::format_flags::none)
                << ")";
            break;
        case toml::node_type::integer:
            out << "a whole number (" << node.as_integer()->get() << ")";
            break;
        case toml::node_type::floating_point:
            out << "a number (" << toml::toml_formatter(*node.as_floating_point()) << ")";
            break;
        case toml::node_type::boolean:
            out << "a boolean (" << (node.as_boolean()->get() ? "true" : "false") << ")";
            break;
        case toml::node_type::array:
            out << "an array";
            break;
        case toml::node_type::table:
            out << "a table";
            break;
        case toml::node_type::date:
            out << "a date";
            break;
        case toml::node_type::time:
            out << "a time";
            break;
        case toml::node_type::date_time:
            out << "a date and time";
            break;
        case toml::node_type::none:
            out << "nothing";
            break;
    }
    return out.str();
}

std::string expected(const OptionSpec& spec) {
    auto number = [](double v) {
        std::ostringstream out;
        out << v;
        return out.str();
    };
    switch (spec.kind) {
        case OptionKind::action:
        case OptionKind::flag:
            return "true or false";
        case OptionKind::action_choice:
            return "a word";
        case OptionKind::integer:
            return "a whole number from " + number(spec.min) + " to " + number(spec.max);
        case OptionKind::number:
            return "a number from " + number(spec.min) + " to " + number(spec.max);
        case OptionKind::byte_size:
            return "a size such as \"512M\" or \"2G\", or a whole number of bytes";
        case OptionKind::text:
            return "a string";
        case OptionKind::text_list:
            return "an array of strings, such as [\"a\", \"b\"]";
    }
    return "a value";
}

// The node as the option's kind of value; nullopt when its type does not fit.
std::optional<OptionValue> value_from_node(const OptionSpec& spec, const toml::node& node,
                                           std::string& why) {
    switch (spec.kind) {
        case OptionKind::action:
        case OptionKind::flag:
            if (const auto* b = node.as_boolean()) return OptionValue{b->get()};
            break;
        case OptionKind::action_choice:
            break;
        case OptionKind::integer:
            if (const auto* i = node.as_integer()) return OptionValue{i->get()};
            break;
        case OptionKind::number:
            // A whole number is a number: fade-ms = 5 means 5.0.
            if (const auto* i = node.as_integer())
                return OptionValue{static_cast<double>(i->get())};
            if (const auto* f = node.as_floating_point()) return OptionValue{f->get()};
            break;
        case OptionKind::byte_size:
            if (const auto* i = node.as_integer()) return OptionValue{i->get()};
            if (const auto* s = node.as_string()) return OptionValue{s->get()};
            break;
        case OptionKind::text:
            if (const auto* s = node.as_string()) return OptionValue{s->get()};
            break;
        case OptionKind::text_list:
            if (const auto* a = node.as_array()) {
                std::vector<std::string> list;
                for (std::size_t i = 0; i < a->size(); ++i) {
                    const auto* s = a->get(i)->as_string();
                    if (s == nullptr) {
                        why = "element " + std::to_string(i + 1) + ": expected a string, got " +
                              describe(*a->get(i));
                        return std::nullopt;
                    }
                    list.push_back(s->get());
                }
                return OptionValue{std::move(list)};
            }
            break;
    }
    why = "expected " + expected(spec) + ", got " + describe(node);
    return std::nullopt;
}

// Relative paths in a config file mean the same wherever looperd is started from.
void resolve_paths(OptionValue& value, const std::filesystem::path& base_dir) {
    auto resolve = [&](std::string& text) {
        if (!text.empty() && std::filesystem::path(text).is_relative())
            text = (base_dir / text).lexically_normal().string();
    };
    if (auto* text = std::get_if<std::string>(&value)) resolve(*text);
    if (auto* list = std::get_if<std::vector<std::string>>(&value))
        for (auto& text : *list) resolve(text);
}

// Optimal string alignment distance: a swapped pair of letters counts as one edit.
std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
    for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    }
    return d[a.size()][b.size()];
}

// The known key closest to `key`, if one is close enough to be what was meant.
std::optional<std::string_view> closest_key(std::string_view key) {
    std::string normal(key);
    while (normal.starts_with('-')) normal.erase(0, 1);  // "--osc-port" = 1
    std::replace(normal.begin(), normal.end(), '_', '-');
    std::transform(normal.begin(), normal.end(), normal.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::optional<std::string_view> best;
    std::size_t best_distance = 3;  // more than two edits away is another word
    auto consider = [&](std::string_view candidate) {
        const std::size_t d = edit_distance(normal, candidate);
        if (d < best_distance && d < std::max<std::size_t>(candidate.size() / 2, 1)) {
            best = candidate;
            best_distance = d;
        }
    };
    for (const auto& spec : option_specs())
        if (spec.in_file) consider(spec.name);
    for (auto rig_key : kRigKeys) consider(rig_key);
    return best;
}

bool is_rig_key(std::string_view key) {
    return std::find(std::begin(kRigKeys), std::end(kRigKeys), key) != std::end(kRigKeys);
}

// Reads at most kMaxConfigFileBytes; a larger file (or one that grows while read) is refused.
std::string read_config_file(const std::filesystem::path& file) {
    const std::string name = file.string();
    std::error_code ec;
    if (std::filesystem::is_directory(file, ec))
        throw ConfigError({name + ": is a directory, not a config file"});
    if (std::filesystem::is_regular_file(file, ec)) {
        const auto size = std::filesystem::file_size(file, ec);
        if (!ec && size > kMaxConfigFileBytes)
            throw ConfigError({name + ": " + std::to_string(size) +
                               " bytes: a config file may be at most 1 MiB"});
    }
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> in(std::fopen(name.c_str(), "rb"),
                                                       &std::fclose);
    if (!in) throw ConfigError({name + ": cannot read: " + std::strerror(errno)});
    std::string text(kMaxConfigFileBytes + 1, '\0');
    const std::size_t got = std::fread(text.data(), 1, text.size(), in.get());
    if (std::ferror(in.get()) != 0) throw ConfigError({name + ": cannot read: read error"});
    if (got > kMaxConfigFileBytes)
        throw ConfigError({name + ": more than 1 MiB: a config file may be at most 1 MiB"});
    text.resize(got);
    return text;
}

}  // namespace

std::string toml_position(const std::string& source_name, const toml::source_position& at) {
    return position(source_name, at);
}

std::string describe_toml_node(const toml::node& node) {
    return describe(node);
}

std::string read_text_file(const std::filesystem::path& file) {
    return read_config_file(file);
}

ConfigError::ConfigError(std::vector<std::string> errors)
    : std::runtime_error(errors.empty() ? std::string("bad configuration") : errors.front()),
      errors_(std::move(errors)) {}

ConfigLookup ConfigLookup::from_environment() {
    ConfigLookup lookup;
    if (const char* xdg = std::getenv("XDG_CONFIG_HOME")) lookup.xdg_config_home = xdg;
    if (const char* home = std::getenv("HOME")) lookup.home = home;
    return lookup;
}

std::optional<std::filesystem::path> find_config_file(const ConfigLookup& lookup) {
    if (!lookup.explicit_file.empty()) return lookup.explicit_file;
    // The XDG base directory spec: an unset, empty or relative XDG_CONFIG_HOME means
    // $HOME/.config.
    std::filesystem::path config_home;
    if (!lookup.xdg_config_home.empty() &&
        std::filesystem::path(lookup.xdg_config_home).is_absolute())
        config_home = lookup.xdg_config_home;
    else if (!lookup.home.empty())
        config_home = std::filesystem::path(lookup.home) / ".config";
    std::error_code ec;
    if (!config_home.empty()) {
        auto user_file = config_home / "looperd" / "looperd.toml";
        if (std::filesystem::exists(user_file, ec)) return user_file;
    }
    if (!lookup.system_file.empty() && std::filesystem::exists(lookup.system_file, ec))
        return lookup.system_file;
    return std::nullopt;
}

void apply_config_text(std::string_view text, const std::string& source_name,
                       const std::filesystem::path& base_dir, Options& options, toml::table& rig) {
    toml::table root;
    try {
        root = toml::parse(text, source_name);
    } catch (const toml::parse_error& e) {
        throw ConfigError(
            {position(source_name, e.source().begin) + ": " + std::string(e.description())});
    }

    std::vector<Problem> problems;
    auto problem = [&](const toml::source_position& at, std::string_view key,
                       const std::string& what) {
        problems.push_back(
            {at.line, at.column,
             position(source_name, at) + ": key '" + std::string(key) + "': " + what});
    };

    Options result = options;
    std::vector<std::string> rig_keys;
    for (auto& [key, node] : root) {
        const std::string_view name = key.str();
        if (is_rig_key(name)) {
            // Only the shape is checked here; the rig parser reads what is inside.
            const auto* array = node.as_array();
            if (name == "slot"
                    ? !(array != nullptr && (array->empty() || array->is_array_of_tables()))
                    : !node.is_table())
                problem(
                    node.source().begin, name,
                    name == "slot"
                        ? "expected [[slot]] tables (an array of tables), got " + describe(node)
                        : "expected a [" + std::string(name) + "] table, got " + describe(node));
            else
                rig_keys.emplace_back(name);
            continue;
        }
        const OptionSpec* spec = find_option(name);
        if (spec == nullptr) {
            std::string what = "unknown key";
            if (auto near = closest_key(name))
                what += " (did you mean '" + std::string(*near) + "'?)";
            problem(key.source().begin, name, what);
            continue;
        }
        if (!spec->in_file) {
            problem(key.source().begin, name,
                    "may only be given on the command line (--" + std::string(spec->name) + ")");
            continue;
        }
        std::string why;
        auto value = value_from_node(*spec, node, why);
        if (!value) {
            problem(node.source().begin, name, why);
            continue;
        }
        if (spec->relative_to_file) resolve_paths(*value, base_dir);
        try {
            apply_option(*spec, result, *value);
        } catch (const OptionsError& e) {
            problem(node.source().begin, name, e.what());
        }
    }
    if (!problems.empty()) {
        std::stable_sort(problems.begin(), problems.end(), [](const Problem& a, const Problem& b) {
            return std::tie(a.line, a.column) < std::tie(b.line, b.column);
        });
        std::vector<std::string> errors;
        for (auto& p : problems) errors.push_back(std::move(p.message));
        throw ConfigError(std::move(errors));
    }
    options = std::move(result);
    // Moved, not copied: a moved toml++ node keeps its source position, a copied one does not.
    for (const auto& key : rig_keys) {
        toml::node* node = root.get(key);
        if (auto* table = node->as_table())
            rig.insert_or_assign(key, std::move(*table));
        else if (auto* array = node->as_array())
            rig.insert_or_assign(key, std::move(*array));
    }
}

void apply_config_file(const std::filesystem::path& file, Options& options, toml::table& rig) {
    const std::string text = read_config_file(file);
    std::error_code ec;
    auto base_dir = std::filesystem::absolute(file, ec).parent_path();
    if (ec) base_dir = file.parent_path();
    apply_config_text(text, file.string(), base_dir, options, rig);
}

LoadedConfig load_config(int argc, const char* const* argv, const ConfigLookup& lookup) {
    const CommandLine command_line = read_command_line(argc, argv);
    LoadedConfig config;
    // Flags alone first: a bad flag is reported as such, and --help, --version and --print-osc need
    // no file.
    apply_command_line(command_line, config.options);
    if (config.options.help || config.options.version || !config.options.print_osc.empty())
        return config;

    ConfigLookup where = lookup;
    if (!config.options.config_file.empty()) where.explicit_file = config.options.config_file;
    config.file = find_config_file(where);
    if (!config.file) return config;

    Options options;
    apply_config_file(*config.file, options, config.rig);
    apply_command_line(command_line, options);
    config.options = std::move(options);
    return config;
}

std::string option_line(const OptionSpec& spec, const OptionValue& value) {
    // Strings in double quotes, as examples/looperd.toml writes them.
    constexpr auto kFlags =
        toml::format_flags::allow_multi_line_strings | toml::format_flags::allow_unicode_strings;
    toml::table line;
    std::visit(
        [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::vector<std::string>>) {
                toml::array array;
                for (const auto& s : v) array.push_back(s);
                line.insert(spec.name, std::move(array));
            } else {
                line.insert(spec.name, v);
            }
        },
        value);
    std::ostringstream out;
    out << toml::toml_formatter(line, kFlags);
    return out.str();
}

std::string format_config(const LoadedConfig& config) {
    constexpr auto kFlags =
        toml::format_flags::allow_multi_line_strings | toml::format_flags::allow_unicode_strings;
    std::ostringstream out;
    out << "# The configuration looperd runs with: "
        << (config.file ? config.file->string() : std::string("no config file")) << ", then the "
        << "command line.\n";
    std::string_view group;
    for (const auto& spec : option_specs()) {
        if (!spec.in_file) continue;
        if (spec.group != group) {
            group = spec.group;
            const auto paren = group.find(" (");
            out << "\n# " << group.substr(0, paren) << "\n";
        }
        const auto value = spec.get(config.options);
        if (!value) {
            out << "# " << spec.name << " is not set\n";
            continue;
        }
        out << option_line(spec, *value) << "\n";
    }
    if (!config.rig.empty()) out << "\n" << toml::toml_formatter(config.rig, kFlags) << "\n";
    return out.str();
}

std::string check_config_report(const LoadedConfig& config) {
    if (config.file) return config.file->string() + ": OK";
    return "no config file found; defaults and flags are valid";
}

}  // namespace looperd
