// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <toml++/toml.h>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/options.hpp"

namespace looperd {

// A config file larger than this is refused before it is parsed: it is not a config file.
inline constexpr std::uintmax_t kMaxConfigFileBytes = 1U << 20;

inline constexpr std::string_view kSystemConfigFile = "/etc/looperd/looperd.toml";

// The top-level tables that describe the rig (what to preload). They are kept, not read, here.
inline constexpr std::string_view kRigKeys[] = {"master", "clock", "midi-map", "slot"};

// Where a config file is looked for. from_environment() fills it from the process's
// environment; tests fill it by hand.
struct ConfigLookup {
    std::filesystem::path explicit_file;  // --config; empty: look in the default places
    std::string xdg_config_home;          // $XDG_CONFIG_HOME
    std::string home;                     // $HOME
    std::filesystem::path system_file{kSystemConfigFile};

    static ConfigLookup from_environment();
};

// The file to read: --config's as given, else $XDG_CONFIG_HOME/looperd/looperd.toml (with
// XDG_CONFIG_HOME defaulting to $HOME/.config when unset, empty or relative), else the system
// file. nullopt when neither default file exists: looperd then runs on defaults and flags.
std::optional<std::filesystem::path> find_config_file(const ConfigLookup& lookup);

// Every problem found in a config file, each as "<file>:<line>:<column>: key '<key>': <what>"
// (or "<file>: <what>" when the file cannot be read at all).
class ConfigError : public std::runtime_error {
  public:
    explicit ConfigError(std::vector<std::string> errors);
    const std::vector<std::string>& errors() const noexcept { return errors_; }

  private:
    std::vector<std::string> errors_;
};

// "<file>:<line>:<column>", where errors in TOML files point.
std::string toml_position(const std::string& source_name, const toml::source_position& at);
// What a node is, for "got ..." in errors: "a string (\"x\")", "a whole number (3)"...
std::string describe_toml_node(const toml::node& node);
// A TOML file's text, at most kMaxConfigFileBytes. Throws ConfigError naming the file.
std::string read_text_file(const std::filesystem::path& file);

// The configuration looperd starts with. Main thread.
struct LoadedConfig {
    Options options;
    std::optional<std::filesystem::path> file;  // the file read, if any
    // The rig tables (master, clock, slot) as written, with their source positions, for the
    // rig parser; empty when the file has none.
    toml::table rig;
};

// Applies a config file's text on top of `options` and moves its rig tables into `rig`.
// `source_name` names the file in errors; relative paths in path options are taken relative to
// `base_dir`. Throws ConfigError listing every problem (nothing is applied then).
void apply_config_text(std::string_view text, const std::string& source_name,
                       const std::filesystem::path& base_dir, Options& options, toml::table& rig);

// Reads `file` (at most kMaxConfigFileBytes) and applies it as apply_config_text does.
void apply_config_file(const std::filesystem::path& file, Options& options, toml::table& rig);

// What looperd starts with: the command line is read first (so that --help and --version
// work whatever the file says), then the file is found and applied, then the flags on top.
// Throws OptionsError for bad flags and ConfigError for a bad or missing file.
LoadedConfig load_config(int argc, const char* const* argv, const ConfigLookup& lookup);

// --print-config: every option as TOML (options that are not set as comments), then the rig
// tables. Loading it back gives the same Options.
std::string format_config(const LoadedConfig& config);

// One option as a config-file line, `name = value` as TOML writes it (`osc-port = 9950`,
// `osc-allow = []`): what --print-config and the commented config file show.
std::string option_line(const OptionSpec& spec, const OptionValue& value);

// --check-config's line for a valid configuration.
std::string check_config_report(const LoadedConfig& config);

}  // namespace looperd
