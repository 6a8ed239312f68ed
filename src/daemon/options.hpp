// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "io/multicast_group.hpp"
#include "io/net_allowlist.hpp"
#include "looperd/limits.hpp"

namespace looperd {

inline constexpr std::uint16_t kDefaultOscPort = 9950;
inline constexpr std::uint32_t kDefaultOscRate = 2000;  // datagrams a second per source
inline constexpr std::uint32_t kDefaultOscBurst = 500;  // datagrams at once per source

// Options: what the command line and the config file set. Defaults are the documented ones.
// Built by the main thread before any other thread starts; read-only after.
struct Options {
    std::string jack_server;  // empty: JACK_DEFAULT_SERVER, else JACK's default server
    std::string client_name = "looperd";
    std::uint32_t outputs = limits::kDefaultOutputs;
    std::uint32_t slots = limits::kDefaultSlots;
    std::uint32_t voices = limits::kDefaultVoices;
    std::uint16_t osc_port = kDefaultOscPort;
    std::string osc_bind = "127.0.0.1";
    // --osc-allow: empty accepts every source that reaches osc_bind; otherwise only these.
    std::vector<IpNetwork> osc_allow;
    std::uint32_t osc_rate = kDefaultOscRate;  // 0: no per-source limit
    std::uint32_t osc_burst = kDefaultOscBurst;
    // --osc-multicast: also receive OSC sent to this group on osc_port (docs/multi-rig.md);
    // joined through the named interface, or the kernel's choice when empty.
    std::optional<MulticastGroup> osc_multicast;
    std::string osc_multicast_interface;
    // DNS-SD: announce the OSC service on the network (through avahi-daemon, when built with it).
    bool dns_sd = true;
    std::string dns_sd_name;            // empty: "looperd on <host name>"
    std::filesystem::path samples_dir;  // empty: the current directory
    // --samples-root: further directories that load paths may lie in, besides samples_dir.
    std::vector<std::filesystem::path> samples_roots;
    bool autoconnect = true;
    // MIDI (docs/midi.md): the midi_in and midi_out ports, and how note velocity scales a slot's
    // gain ("linear", "soft", "hard" or "fixed").
    bool midi = true;
    std::string velocity_curve = "linear";
    bool midi_clock_out = false;  // MIDI clock and Start on midi_out
    bool link_start_stop = true;  // Link's start/stop sync is /clock/playing (docs/link.md)
    // The controller profile for lights and pads (docs/midi.md#lights): a shipped profile's name,
    // a file's path, or "none".
    std::string midi_profile = "generic";
    // The rate samples are converted to until a JACK server says its own (--sample-rate).
    std::uint32_t sample_rate = 48000;
    std::uint64_t memory_budget = limits::kDefaultMemoryBudgetBytes;
    std::size_t command_capacity = limits::kDefaultCommandCapacity;
    std::size_t max_scheduled = limits::kDefaultScheduledCapacity;  // future commands pending
    float fade_ms = limits::kDefaultFadeMs;
    // Recording (docs/recording.md).
    std::uint32_t inputs = limits::kDefaultInputs;  // 0: no input ports, no recording
    std::uint32_t recorders = limits::kDefaultRecorders;
    float max_record_seconds = limits::kDefaultMaxRecordSeconds;
    std::uint32_t undo_levels = limits::kDefaultUndoLevels;
    std::uint32_t undo_memory_mib = limits::kDefaultUndoMemoryMib;
    std::int32_t record_offset = 0;  // frames added to JACK's round trip, may be negative
    // Feedback to control surfaces.
    std::vector<std::string> notify;  // --notify URLs: static subscribers
    std::uint16_t feedback_port = 0;  // zero-configuration mode; 0: off
    std::uint32_t max_subscribers = 16;
    std::uint32_t subscriber_timeout_s = 0;  // 0: silence never drops a subscriber
    std::uint32_t feedback_rate = 30;
    std::uint32_t position_rate = 20;
    // Persistence (docs/persistence.md).
    std::filesystem::path state_dir;  // empty: $STATE_DIRECTORY, $XDG_STATE_HOME/looperd, ...
    bool no_state = false;            // --no-state: nothing saved or restored
    std::string log_level = "info";
    // Command line only: which file to read and what to do instead of running.
    std::filesystem::path config_file;  // --config; empty: the default places
    bool check_config = false;
    bool print_config = false;
    std::string print_osc;  // --print-osc: "markdown" or "json"; empty: not asked
    bool help = false;
    bool version = false;

    bool operator==(const Options&) const = default;
};

class OptionsError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// One option's value, whatever it came from: command-line text and config-file TOML are both
// turned into one of these, and one setter per option checks and stores it.
//   bool: switches; int64: whole numbers and byte sizes; double: numbers; string: text;
//   vector: repeatable options.
using OptionValue = std::variant<bool, std::int64_t, double, std::string, std::vector<std::string>>;

enum class OptionKind : std::uint8_t {
    action,         // command line only, no value: --help, --check-config...
    action_choice,  // command line only: --name alone, or --name=VALUE (--print-osc=json)
    flag,           // a switch on the command line; true or false in the config file
    integer,        // a whole number from min to max
    number,         // a finite number from min to max (a whole number is fine)
    byte_size,      // "512M", "2G" or a whole number of bytes
    text,           // a string
    text_list,      // repeatable on the command line; an array of strings in the config file
};

// OptionSpec: one entry of the option table that the command-line parser, the config-file
// loader, --help and --print-config all read, so that every flag is a config key and adding
// an option is one entry. Constant data; any thread.
struct OptionSpec {
    std::string_view name;  // "--name" on the command line, "name" in the config file
    char short_name;        // '\0': none
    OptionKind kind;
    bool in_file;           // false: command line only
    bool relative_to_file;  // a path that, in a config file, is relative to the file's directory
    bool negatable;         // a flag that --no-<name> turns off (its default is on)
    std::string_view metavar;
    std::string_view group;  // --help section
    std::string_view help;   // lines separated by '\n'
    // A value to show for an option that has no default value (only a default behaviour), as
    // TOML: the commented config file and the man pages show it as an example.
    std::string_view example;
    double min;  // integer and number kinds
    double max;
    // Stores a value of the kind's type (already range-checked by apply_option). Throws
    // OptionsError saying what is wrong, without naming the option.
    void (*set)(Options&, const OptionValue&);
    // The value as written back by --print-config; nullopt when the option is not set (its
    // default means "none" or "off" and has no value that could be written).
    std::optional<OptionValue> (*get)(const Options&);
};

// Every option, in --help order.
std::span<const OptionSpec> option_specs();

// The option named `name` (without "--"), or nullptr.
const OptionSpec* find_option(std::string_view name);

// The longest DNS-SD service name: one DNS label.
inline constexpr std::size_t kMaxDnsSdNameBytes = 63;

// Checks `value` against the spec's kind and range, then stores it. Throws OptionsError saying
// what is wrong, without naming the option (callers add "--name" or the file position).
void apply_option(const OptionSpec& spec, Options& options, const OptionValue& value);

// The command line, read but not applied: each option with its value, in order. A repeatable
// option appears once, with every value given for it.
struct CommandLine {
    std::vector<std::pair<const OptionSpec*, OptionValue>> values;
};

// Reads argv. Throws OptionsError naming the flag and what is wrong with it.
CommandLine read_command_line(int argc, const char* const* argv);

// Applies flags on top of `options`: a repeatable flag replaces the list it finds. Throws
// OptionsError naming the flag.
void apply_command_line(const CommandLine& command_line, Options& options);

// Defaults plus the command line (no config file).
Options parse_options(int argc, const char* const* argv);

// The --help text, generated from the option table.
std::string usage();

// "512M", "1G", "1048576" → bytes, from 1 byte to 1024G. Throws OptionsError.
std::uint64_t parse_byte_size(const std::string& text);

// Bytes → "512M", "1G", or the plain number when no unit divides it.
std::string format_byte_size(std::uint64_t bytes);

}  // namespace looperd
