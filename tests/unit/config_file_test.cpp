// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// The config file: every option is a key that round-trips (TOML → Options → --print-config →
// Options), flags override the file, the file is looked up where docs/configuration.md says,
// and bad files are refused with the documented "<file>:<line>:<column>: key '<key>': <what>".
// examples/looperd.toml is checked against the option table. The last tests run the built
// looperd with --check-config and --print-config (no JACK needed).

#include "daemon/config_file.hpp"
#include "control/osc_schema.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/dns_sd_publisher.hpp"
#include "daemon/manual.hpp"
#include "daemon/options.hpp"
#include "integration/jack_server.hpp"
#include "io/link_session.hpp"
#include "io/stretch_render.hpp"
#include "wait_until.hpp"

namespace looperd {
namespace {

namespace fs = std::filesystem;

// A temporary directory of the test's own, removed afterwards.
class TempDir {
  public:
    TempDir() {
        const char* tmp = std::getenv("TMPDIR");
        std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/looperd-config-XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const fs::path& path() const { return path_; }

    fs::path write(const fs::path& relative, const std::string& text) const {
        const fs::path file = path_ / relative;
        fs::create_directories(file.parent_path());
        std::ofstream out(file, std::ios::binary);
        out << text;
        if (!out) throw std::runtime_error("cannot write " + file.string());
        return file;
    }

  private:
    fs::path path_;
};

// Options from TOML text alone (as if read from /cfg/looperd.toml).
Options from_toml(const std::string& text, toml::table* rig = nullptr) {
    Options options;
    toml::table scratch;
    apply_config_text(text, "/cfg/looperd.toml", "/cfg", options, rig ? *rig : scratch);
    return options;
}

// The errors apply_config_text reports for `text`; empty if it accepts it.
std::vector<std::string> errors_of(const std::string& text) {
    try {
        from_toml(text);
    } catch (const ConfigError& e) {
        return e.errors();
    }
    return {};
}

Options from_argv(std::vector<std::string> args) {
    std::vector<const char*> argv{"looperd"};
    for (const auto& a : args) argv.push_back(a.c_str());
    return parse_options(static_cast<int>(argv.size()), argv.data());
}

// The value an option is written with, one key=value line.
std::string toml_line(const OptionSpec& spec, const OptionValue& value) {
    LoadedConfig config;
    apply_option(spec, config.options, value);
    const std::string all = format_config(config);
    const std::regex line("(^|\n)(" + std::string(spec.name) + " = [^\n]*)");
    std::smatch m;
    if (!std::regex_search(all, m, line)) return "";
    return m[2];
}

// A value other than the default for every option that a file may set. Options of a kind whose
// value cannot be made up (text, lists) are listed by name: a new option must be added here.
OptionValue non_default_value(const OptionSpec& spec) {
    static const std::map<std::string_view, OptionValue> kTexts{
        {"jack-server", std::string("stage")},
        {"client-name", std::string("rig-a")},
        {"osc-bind", std::string("0.0.0.0")},
        {"samples-dir", std::string("/srv/samples")},
        {"state-dir", std::string("/var/lib/looperd")},
        {"log-level", std::string("debug")},
        {"dns-sd-name", std::string("rig A")},
        {"velocity-curve", std::string("soft")},
        {"midi-profile", std::string("launchpad-mini-mk3")},
        {"osc-allow", std::vector<std::string>{"192.168.1.0/24", "127.0.0.1/32"}},
        {"osc-multicast", std::string("239.1.2.3")},
        {"osc-multicast-interface", std::string("eth0")},
        {"samples-root", std::vector<std::string>{"/srv/more", "/media/usb"}},
        {"notify",
         std::vector<std::string>{"osc.udp://127.0.0.1:9000/", "osc.udp://127.0.0.1:9001/"}},
    };
    switch (spec.kind) {
        case OptionKind::action:
            return true;
        case OptionKind::flag: {
            const auto def = spec.get(Options{});
            return !(def && std::get<bool>(*def));
        }
        case OptionKind::action_choice:
            return std::string("json");
        case OptionKind::integer: {
            const auto def = spec.get(Options{});
            const auto max = static_cast<std::int64_t>(spec.max);
            if (def && std::get<std::int64_t>(*def) == max)
                return std::int64_t{1} + static_cast<std::int64_t>(spec.min);
            return max;
        }
        case OptionKind::number:
            return spec.max;
        case OptionKind::byte_size:
            return std::string("512M");
        case OptionKind::text:
        case OptionKind::text_list:
            break;
    }
    const auto it = kTexts.find(spec.name);
    if (it == kTexts.end()) throw std::runtime_error("no test value for " + std::string(spec.name));
    return it->second;
}

// The same value on the command line.
std::vector<std::string> as_flags(const OptionSpec& spec, const OptionValue& value) {
    const std::string flag = "--" + std::string(spec.name);
    if (spec.kind == OptionKind::flag)
        return {std::get<bool>(value) ? flag : "--no-" + std::string(spec.name)};
    std::vector<std::string> out;
    std::visit(
        [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::vector<std::string>>) {
                for (const auto& s : v) out.insert(out.end(), {flag, s});
            } else if constexpr (std::is_same_v<T, std::string>) {
                out = {flag, v};
            } else if constexpr (std::is_same_v<T, double>) {
                std::ostringstream text;
                text << v;
                out = {flag, text.str()};
            } else if constexpr (std::is_same_v<T, std::int64_t>) {
                out = {flag, std::to_string(v)};
            }
        },
        value);
    return out;
}

// Loads what --print-config writes for `options`.
Options reloaded(const Options& options) {
    LoadedConfig config;
    config.options = options;
    return from_toml(format_config(config));
}

TEST(ConfigFile, EveryKeyRoundTrips) {
    const Options defaults;
    std::size_t keys = 0;
    for (const auto& spec : option_specs()) {
        if (!spec.in_file) continue;
        ++keys;
        SCOPED_TRACE(std::string(spec.name));
        const OptionValue value = non_default_value(spec);
        const std::string line = toml_line(spec, value);
        ASSERT_FALSE(line.empty());

        // TOML → Options: this option changes, and no other.
        const Options from_file = from_toml(line + "\n");
        ASSERT_TRUE(spec.get(from_file).has_value()) << line;
        EXPECT_NE(spec.get(from_file), spec.get(defaults)) << line;
        for (const auto& other : option_specs()) {
            if (&other != &spec) {
                EXPECT_EQ(other.get(from_file), other.get(defaults))
                    << "also changed: " << other.name;
            }
        }

        // The flag sets the same field to the same value.
        EXPECT_EQ(from_argv(as_flags(spec, value)), from_file) << line;

        // Options → --print-config → Options.
        EXPECT_EQ(reloaded(from_file), from_file) << line;
    }
    EXPECT_GE(keys, 24U);  // the options when this test was written
    EXPECT_EQ(reloaded(defaults), defaults);
}

TEST(ConfigFile, EveryKeySetsItsField) {
    // Written out by hand, so that a setter storing into the wrong field is caught even where
    // the getter agrees with it.
    const Options o = from_toml(R"(
jack-server = "stage"
client-name = "rig-a"
outputs = 8
no-autoconnect = true
osc-port = 9000
osc-bind = "0.0.0.0"
osc-allow = ["192.168.1.0/24", "10.0.0.7"]
osc-rate = 0
osc-burst = 10
dns-sd = false
dns-sd-name = "rig A"
slots = 16
voices = 32
command-capacity = 4096
max-scheduled = 2048
fade-ms = 2.5
inputs = 4
recorders = 3
max-record-seconds = 12.5
undo-levels = 5
undo-memory-mib = 64
record-offset = -32
samples-dir = "/srv/samples"
samples-root = ["/media/usb", "more"]
memory-budget = "256M"
notify = ["osc.udp://127.0.0.1:9000/"]
feedback-port = 9001
max-subscribers = 4
subscriber-timeout = 120
feedback-rate = 60
position-rate = 10
log-level = "warn"
)");
    EXPECT_EQ(o.jack_server, "stage");
    EXPECT_EQ(o.client_name, "rig-a");
    EXPECT_EQ(o.outputs, 8U);
    EXPECT_FALSE(o.autoconnect);
    EXPECT_EQ(o.osc_port, 9000U);
    EXPECT_EQ(o.osc_bind, "0.0.0.0");
    ASSERT_EQ(o.osc_allow.size(), 2U);
    EXPECT_EQ(o.osc_allow[0].to_string(), "192.168.1.0/24");
    EXPECT_EQ(o.osc_allow[1].to_string(), "10.0.0.7/32");
    EXPECT_EQ(o.osc_rate, 0U);
    EXPECT_EQ(o.osc_burst, 10U);
    EXPECT_FALSE(o.dns_sd);
    EXPECT_EQ(o.dns_sd_name, "rig A");
    EXPECT_EQ(o.slots, 16U);
    EXPECT_EQ(o.voices, 32U);
    EXPECT_EQ(o.command_capacity, 4096U);
    EXPECT_EQ(o.max_scheduled, 2048U);
    EXPECT_FLOAT_EQ(o.fade_ms, 2.5F);
    EXPECT_EQ(o.inputs, 4U);
    EXPECT_EQ(o.recorders, 3U);
    EXPECT_FLOAT_EQ(o.max_record_seconds, 12.5F);
    EXPECT_EQ(o.undo_levels, 5U);
    EXPECT_EQ(o.undo_memory_mib, 64U);
    EXPECT_EQ(o.record_offset, -32);
    EXPECT_EQ(o.samples_dir, "/srv/samples");
    EXPECT_EQ(o.samples_roots, (std::vector<fs::path>{"/media/usb", "/cfg/more"}));
    EXPECT_EQ(o.memory_budget, 256ULL << 20);
    EXPECT_EQ(o.notify, std::vector<std::string>{"osc.udp://127.0.0.1:9000/"});
    EXPECT_EQ(o.feedback_port, 9001U);
    EXPECT_EQ(o.max_subscribers, 4U);
    EXPECT_EQ(o.subscriber_timeout_s, 120U);
    EXPECT_EQ(o.feedback_rate, 60U);
    EXPECT_EQ(o.position_rate, 10U);
    EXPECT_EQ(o.log_level, "warn");
    EXPECT_EQ(reloaded(o), o);
}

TEST(ConfigFile, AFlagThatIsOnByDefaultIsTurnedOffWithNo) {
    EXPECT_TRUE(from_argv({}).dns_sd);
    EXPECT_FALSE(from_argv({"--no-dns-sd"}).dns_sd);
    EXPECT_TRUE(from_argv({"--no-dns-sd", "--dns-sd"}).dns_sd);  // the last one wins
    // The flag overrides the file either way.
    Options o = from_toml("dns-sd = false\n");
    apply_command_line(read_command_line(2, std::array{"looperd", "--dns-sd"}.data()), o);
    EXPECT_TRUE(o.dns_sd);
    // Only flags that say so have a --no- form; it takes no value.
    EXPECT_THROW(from_argv({"--no-slots"}), OptionsError);
    EXPECT_THROW(from_argv({"--no-no-autoconnect"}), OptionsError);
    EXPECT_THROW(from_argv({"--no-dns-sd=1"}), OptionsError);
    EXPECT_NE(usage().find("--dns-sd, --no-dns-sd"), std::string::npos) << usage();
}

TEST(ConfigFile, ADnsSdNameIsOneDnsLabel) {
    EXPECT_EQ(from_argv({"--dns-sd-name", std::string(63, 'x')}).dns_sd_name, std::string(63, 'x'));
    EXPECT_THROW(from_argv({"--dns-sd-name", std::string(64, 'x')}), OptionsError);
    EXPECT_THROW(from_argv({"--dns-sd-name", ""}), OptionsError);
    EXPECT_EQ(
        errors_of("dns-sd-name = \"\"\n"),
        std::vector<std::string>{"/cfg/looperd.toml:1:15: key 'dns-sd-name': must not be empty"});
}

TEST(ConfigFile, WholeNumbersAreNumbersAndSizesMayBeBytes) {
    EXPECT_FLOAT_EQ(from_toml("fade-ms = 7\n").fade_ms, 7.0F);
    EXPECT_EQ(from_toml("memory-budget = 1048576\n").memory_budget, 1048576U);
    EXPECT_EQ(from_toml("memory-budget = \"2g\"\n").memory_budget, 2ULL << 30);
    EXPECT_TRUE(from_toml("no-autoconnect = false\n").autoconnect);
    // Odd byte counts are written back as bytes.
    Options odd;
    odd.memory_budget = 1000001;
    EXPECT_EQ(reloaded(odd).memory_budget, 1000001U);
}

TEST(ConfigFile, RelativePathsInAFileAreRelativeToItsDirectory) {
    TempDir dir;
    const fs::path file =
        dir.write("etc/looperd.toml", "samples-dir = \"samples\"\nsamples-root = [\"../more\"]\n");
    Options o;
    toml::table rig;
    apply_config_file(file, o, rig);
    EXPECT_EQ(o.samples_dir, dir.path() / "etc" / "samples");
    EXPECT_EQ(o.samples_roots, std::vector<fs::path>{dir.path() / "more"});
    // On the command line they stay as given: relative to where looperd runs.
    EXPECT_EQ(from_argv({"--samples-dir", "samples"}).samples_dir, "samples");
}

TEST(ConfigFile, FlagsOverrideTheFileAndReplaceItsLists) {
    TempDir dir;
    const fs::path file = dir.write("looperd.toml", R"(osc-port = 9000
log-level = "debug"
osc-allow = ["10.0.0.0/8", "192.168.0.0/16"]
samples-root = ["/a", "/b"]
)");
    const char* argv[] = {"looperd", "--config",        file.c_str(), "--osc-port",
                          "9001",    "--osc-allow",     "127.0.0.1",  "--osc-allow",
                          "::1",     "--no-autoconnect"};
    const LoadedConfig config = load_config(10, argv, ConfigLookup{});
    ASSERT_EQ(config.file, file);
    EXPECT_EQ(config.options.osc_port, 9001U);       // the flag wins
    EXPECT_EQ(config.options.log_level, "debug");    // the file's, no flag
    EXPECT_FALSE(config.options.autoconnect);        // the flag's, not in the file
    ASSERT_EQ(config.options.osc_allow.size(), 2U);  // replaced, not appended to
    EXPECT_EQ(config.options.osc_allow[0].to_string(), "127.0.0.1/32");
    EXPECT_EQ(config.options.osc_allow[1].to_string(), "::1/128");
    EXPECT_EQ(config.options.samples_roots, (std::vector<fs::path>{"/a", "/b"}));
}

TEST(ConfigFile, LookupOrderIsConfigFlagThenXdgThenSystem) {
    TempDir dir;
    const fs::path home = dir.path() / "home";
    const fs::path xdg = dir.path() / "xdg";
    ConfigLookup lookup;
    lookup.home = home.string();
    lookup.xdg_config_home = xdg.string();
    lookup.system_file = dir.path() / "etc" / "looperd" / "looperd.toml";
    const char* argv[] = {"looperd"};

    // Nothing anywhere: defaults, and no error.
    EXPECT_EQ(find_config_file(lookup), std::nullopt);
    LoadedConfig none = load_config(1, argv, lookup);
    EXPECT_EQ(none.file, std::nullopt);
    EXPECT_EQ(none.options, Options{});

    dir.write("etc/looperd/looperd.toml", "osc-port = 9001\n");
    EXPECT_EQ(find_config_file(lookup), lookup.system_file);
    EXPECT_EQ(load_config(1, argv, lookup).options.osc_port, 9001U);

    // ~/.config is XDG's default: used when XDG_CONFIG_HOME is unset, empty or relative.
    const fs::path home_file = dir.write("home/.config/looperd/looperd.toml", "osc-port = 9002\n");
    EXPECT_EQ(find_config_file(lookup), lookup.system_file);  // XDG_CONFIG_HOME points elsewhere
    for (const std::string unset : {"", "relative/dir"}) {
        ConfigLookup l = lookup;
        l.xdg_config_home = unset;
        EXPECT_EQ(find_config_file(l), home_file) << "XDG_CONFIG_HOME='" << unset << "'";
        EXPECT_EQ(load_config(1, argv, l).options.osc_port, 9002U);
    }

    const fs::path xdg_file = dir.write("xdg/looperd/looperd.toml", "osc-port = 9003\n");
    EXPECT_EQ(find_config_file(lookup), xdg_file);
    EXPECT_EQ(load_config(1, argv, lookup).options.osc_port, 9003U);

    const fs::path chosen = dir.write("chosen.toml", "osc-port = 9004\n");
    const char* with_config[] = {"looperd", "--config", chosen.c_str()};
    const LoadedConfig explicit_config = load_config(3, with_config, lookup);
    EXPECT_EQ(explicit_config.file, chosen);
    EXPECT_EQ(explicit_config.options.osc_port, 9004U);
    EXPECT_EQ(check_config_report(explicit_config), chosen.string() + ": OK");
}

TEST(ConfigFile, HelpAndVersionDoNotReadTheFile) {
    TempDir dir;
    const fs::path bad = dir.write("bad.toml", "osc-port = \n");
    for (const char* action : {"--help", "-h", "--version", "-V"}) {
        const char* argv[] = {"looperd", "--config", bad.c_str(), action};
        EXPECT_NO_THROW(load_config(4, argv, ConfigLookup{})) << action;
    }
    const char* check[] = {"looperd", "--config", bad.c_str(), "--check-config"};
    EXPECT_THROW(load_config(4, check, ConfigLookup{}), ConfigError);
}

TEST(ConfigFile, ASyntaxErrorNamesItsLineAndColumn) {
    const auto errors = errors_of("osc-port = 9000\n\nlog-level = \"info\n");
    ASSERT_EQ(errors.size(), 1U);
    EXPECT_TRUE(errors[0].starts_with("/cfg/looperd.toml:3:")) << errors[0];
    const auto unterminated = errors_of("osc-port = \n");
    ASSERT_EQ(unterminated.size(), 1U);
    EXPECT_TRUE(unterminated[0].starts_with("/cfg/looperd.toml:1:")) << unterminated[0];
}

TEST(ConfigFile, AWrongTypeNamesTheKeyAndWhatWasExpected) {
    EXPECT_EQ(errors_of("\n\nosc-port = \"9950\"\n"),
              std::vector<std::string>{"/cfg/looperd.toml:3:12: key 'osc-port': expected a whole "
                                       "number from 1 to 65535, got a string (\"9950\")"});
    EXPECT_EQ(errors_of("outputs = 2.0\n"),
              std::vector<std::string>{"/cfg/looperd.toml:1:11: key 'outputs': expected a whole "
                                       "number from 1 to 64, got a number (2.0)"});
    EXPECT_EQ(errors_of("no-autoconnect = 1\n"),
              std::vector<std::string>{"/cfg/looperd.toml:1:18: key 'no-autoconnect': expected "
                                       "true or false, got a whole number (1)"});
    EXPECT_EQ(errors_of("osc-allow = \"10.0.0.0/8\"\n"),
              std::vector<std::string>{"/cfg/looperd.toml:1:13: key 'osc-allow': expected an "
                                       "array of strings, such as [\"a\", \"b\"], got a string "
                                       "(\"10.0.0.0/8\")"});
    const auto element = errors_of("notify = [\"osc.udp://127.0.0.1:9000/\", 9001]\n");
    ASSERT_EQ(element.size(), 1U);
    EXPECT_NE(element[0].find("key 'notify': element 2: expected a string"), std::string::npos)
        << element[0];
}

TEST(ConfigFile, AValueOutOfRangeNamesTheKeyAndTheRange) {
    EXPECT_EQ(errors_of("outputs = 65\n"),
              std::vector<std::string>{"/cfg/looperd.toml:1:11: key 'outputs': expected a whole "
                                       "number from 1 to 64, got 65"});
    EXPECT_EQ(errors_of("fade-ms = 0.01\n"),
              std::vector<std::string>{"/cfg/looperd.toml:1:11: key 'fade-ms': expected a number "
                                       "from 0.1 to 1000, got 0.01"});
    EXPECT_EQ(errors_of("osc-port = -1\n").size(), 1U);
    EXPECT_EQ(errors_of("memory-budget = \"2T\"\n").size(), 1U);
    EXPECT_EQ(errors_of("memory-budget = 0\n").size(), 1U);
    EXPECT_EQ(errors_of("log-level = \"loud\"\n"),
              std::vector<std::string>{"/cfg/looperd.toml:1:13: key 'log-level': expected trace, "
                                       "debug, info, warn or error, got 'loud'"});
    EXPECT_EQ(errors_of("client-name = \"\"\n").size(), 1U);
    const auto network = errors_of("osc-allow = [\"10.0.0.0/99\"]\n");
    ASSERT_EQ(network.size(), 1U);
    EXPECT_TRUE(network[0].starts_with("/cfg/looperd.toml:1:13: key 'osc-allow': ")) << network[0];
}

TEST(ConfigFile, AnUnknownKeyIsAnErrorWithASuggestion) {
    EXPECT_EQ(errors_of("osc_port = 9000\n"),
              std::vector<std::string>{
                  "/cfg/looperd.toml:1:1: key 'osc_port': unknown key (did you mean 'osc-port'?)"});
    EXPECT_EQ(errors_of("  fade-sm = 2\n"),
              std::vector<std::string>{
                  "/cfg/looperd.toml:1:3: key 'fade-sm': unknown key (did you mean 'fade-ms'?)"});
    EXPECT_EQ(errors_of("[clocks]\ntempo = 90\n"),
              std::vector<std::string>{
                  "/cfg/looperd.toml:1:2: key 'clocks': unknown key (did you mean 'clock'?)"});
    EXPECT_EQ(errors_of("banana = 1\n"),
              std::vector<std::string>{"/cfg/looperd.toml:1:1: key 'banana': unknown key"});
    EXPECT_EQ(errors_of("config = \"/x.toml\"\n"),
              std::vector<std::string>{"/cfg/looperd.toml:1:1: key 'config': may only be given "
                                       "on the command line (--config)"});
}

TEST(ConfigFile, EveryProblemIsReportedInFileOrderAndNothingIsApplied) {
    Options options;
    options.osc_port = 1234;
    toml::table rig;
    try {
        apply_config_text("zz-top = 1\nosc-port = 9000\noutputs = 0\naa = 2\n", "f.toml", "/",
                          options, rig);
        FAIL() << "accepted";
    } catch (const ConfigError& e) {
        ASSERT_EQ(e.errors().size(), 3U);
        EXPECT_TRUE(e.errors()[0].starts_with("f.toml:1:1: key 'zz-top'"));
        EXPECT_TRUE(e.errors()[1].starts_with("f.toml:3:11: key 'outputs'"));
        EXPECT_TRUE(e.errors()[2].starts_with("f.toml:4:1: key 'aa'"));
    }
    EXPECT_EQ(options.osc_port, 1234U);
}

TEST(ConfigFile, AMissingConfigFileIsAnErrorButAMissingDefaultIsNot) {
    TempDir dir;
    const fs::path missing = dir.path() / "nope.toml";
    const char* argv[] = {"looperd", "--config", missing.c_str()};
    try {
        load_config(3, argv, ConfigLookup{});
        FAIL() << "accepted";
    } catch (const ConfigError& e) {
        EXPECT_EQ(e.errors(), std::vector<std::string>{missing.string() +
                                                       ": cannot read: No such file or directory"});
    }
    const char* directory[] = {"looperd", "--config", dir.path().c_str()};
    EXPECT_THROW(load_config(3, directory, ConfigLookup{}), ConfigError);
}

TEST(ConfigFile, AFileOverOneMebibyteIsRefusedBeforeParsing) {
    TempDir dir;
    // Exactly 1 MiB of comments and one key is fine; one byte more is not, whatever it holds.
    std::string text = "osc-port = 9000\n";
    text += "#" + std::string(kMaxConfigFileBytes - text.size() - 2, 'x') + "\n";
    ASSERT_EQ(text.size(), kMaxConfigFileBytes);
    const fs::path fits = dir.write("fits.toml", text);
    Options options;
    toml::table rig;
    apply_config_file(fits, options, rig);
    EXPECT_EQ(options.osc_port, 9000U);

    const fs::path big = dir.write("big.toml", text + "\n");
    try {
        apply_config_file(big, options, rig);
        FAIL() << "accepted";
    } catch (const ConfigError& e) {
        ASSERT_EQ(e.errors().size(), 1U);
        EXPECT_EQ(e.errors()[0],
                  big.string() + ": 1048577 bytes: a config file may be at most 1 MiB");
    }
}

TEST(ConfigFile, TheRigTablesAreKeptWithTheirPositions) {
    toml::table rig;
    const Options o = from_toml(R"(osc-port = 9000

[master]
gain = 0.9

[clock]
tempo = 96.0

[[slot]]
index = 1
file = "loops/drums.wav"

[[slot]]
index = 2
quantize = "bar"
)",
                                &rig);
    EXPECT_EQ(o.osc_port, 9000U);
    EXPECT_EQ(rig.size(), 3U);
    EXPECT_EQ(rig["master"]["gain"].value<double>(), 0.9);
    const toml::node* tempo = rig["clock"]["tempo"].node();
    ASSERT_NE(tempo, nullptr);
    EXPECT_EQ(tempo->source().begin.line, 7U);
    EXPECT_EQ(tempo->source().begin.column, 9U);
    ASSERT_TRUE(tempo->source().path);
    EXPECT_EQ(*tempo->source().path, "/cfg/looperd.toml");
    const toml::array* slots = rig["slot"].as_array();
    ASSERT_NE(slots, nullptr);
    ASSERT_EQ(slots->size(), 2U);
    EXPECT_EQ(rig["slot"][1]["quantize"].value<std::string>(), "bar");
    EXPECT_EQ(rig["slot"][1]["index"].node()->source().begin.line, 14U);

    // --print-config writes them back.
    LoadedConfig config;
    config.options = o;
    config.rig = std::move(rig);
    toml::table again;
    EXPECT_EQ(from_toml(format_config(config), &again), o);
    EXPECT_EQ(again, config.rig);
}

TEST(ConfigFile, TheRigTablesMustHaveTheirShape) {
    EXPECT_EQ(errors_of("slot = 1\n"),
              std::vector<std::string>{"/cfg/looperd.toml:1:8: key 'slot': expected [[slot]] "
                                       "tables (an array of tables), got a whole number (1)"});
    const auto table = errors_of("\n[slot]\nindex = 1\n");
    ASSERT_EQ(table.size(), 1U);
    EXPECT_TRUE(
        table[0].starts_with("/cfg/looperd.toml:2:1: key 'slot': expected [[slot]] "
                             "tables (an array of tables), got a table"))
        << table[0];
    EXPECT_EQ(errors_of("slot = [{index = 1}, 2]\n").size(), 1U);
    EXPECT_EQ(errors_of("master = 1.0\n"),
              std::vector<std::string>{"/cfg/looperd.toml:1:10: key 'master': expected a [master] "
                                       "table, got a number (1.0)"});
    EXPECT_EQ(errors_of("clock = \"jack\"\n").size(), 1U);
    EXPECT_TRUE(errors_of("slot = []\nclock = {tempo = 90}\n").empty());
}

// ---- examples/looperd.toml ----

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

const fs::path kExample = fs::path(LOOPERD_SOURCE_DIR) / "examples" / "looperd.toml";

TEST(ExampleConfig, LoadsAsTheDefaults) {
    Options o;
    toml::table rig;
    apply_config_file(kExample, o, rig);
    EXPECT_EQ(o, Options{});
    EXPECT_TRUE(rig.empty());
}

TEST(ExampleConfig, ShowsEveryKeyWithItsDefault) {
    const std::string text = read_text(kExample);
    ASSERT_FALSE(text.empty()) << kExample;
    // "#key = value" lines are settings; "# ..." lines are prose. Uncommented, the settings
    // must load, and each option's shown value must be its default when it has one.
    std::string uncommented;
    std::set<std::string> shown;
    const std::regex setting(R"(^#([a-z][a-z-]*) = )");
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        if (line.size() > 1 && line[0] == '#' && line[1] != ' ' && line[1] != '-') {
            uncommented += line.substr(1) + "\n";
            std::smatch m;
            if (std::regex_search(line, m, setting) && find_option(m[1].str()) != nullptr) {
                EXPECT_TRUE(shown.insert(m[1]).second) << "shown twice: " << m[1];
            }
        }
    }
    for (const auto& spec : option_specs()) {
        if (spec.in_file) {
            EXPECT_TRUE(shown.contains(std::string(spec.name)))
                << "examples/looperd.toml does not document '" << spec.name << "'";
        } else {
            EXPECT_FALSE(shown.contains(std::string(spec.name))) << spec.name;
        }
    }
    toml::table rig;
    Options o;
    ASSERT_NO_THROW(o = from_toml(uncommented, &rig)) << uncommented;
    const Options defaults;
    for (const auto& spec : option_specs()) {
        if (spec.get(defaults)) {
            EXPECT_EQ(spec.get(o), spec.get(defaults))
                << spec.name << " is not shown at its default";
        }
    }
    // The rig example has every table.
    EXPECT_TRUE(rig["master"].is_table());
    EXPECT_TRUE(rig["clock"].is_table());
    ASSERT_TRUE(rig["slot"].is_array_of_tables());
    EXPECT_GE(rig["slot"].as_array()->size(), 2U);
}

// ---- the texts made from the option table and the schema ----

// docs/man/looperd.1, docs/man/looperd.toml.5 and examples/looperd.toml (installed as
// /etc/looperd/looperd.toml) are what manual.cpp writes from the option table and the OSC
// schema: an option or an address changed without `meson compile generate-docs` fails here.
TEST(GeneratedDocs, TheCommittedManPagesAndConfigFileAreUpToDate) {
    const fs::path root = LOOPERD_SOURCE_DIR;
    const std::pair<fs::path, std::string> files[] = {
        {root / "docs/man/looperd.1", man_page_looperd(LOOPERD_VERSION)},
        {root / "docs/man/looperd.toml.5", man_page_config(LOOPERD_VERSION)},
        {root / "examples/looperd.toml", config_template()},
    };
    for (const auto& [path, text] : files) {
        EXPECT_TRUE(read_text(path) == text)
            << path << " differs from what the option table and the OSC schema say: run "
            << "`meson compile -C <build> generate-docs` and commit the result";
    }
}

// Every option is in looperd(1), every config key and every saved slot parameter in
// looperd.toml(5), every accepted address in looperd(1), each as a heading of its own.
TEST(GeneratedDocs, ManPagesNameEveryOptionKeyAndAddress) {
    const std::string looperd = man_page_looperd(LOOPERD_VERSION);
    const std::string config = man_page_config(LOOPERD_VERSION);
    auto dashes = [](std::string_view s) {
        std::string out;
        for (const char c : s) out += c == '-' ? std::string("\\-") : std::string(1, c);
        return out;
    };
    for (const auto& spec : option_specs()) {
        std::string heading = ".TP\n";
        if (spec.short_name != '\0') heading += std::string("\\fB\\-") + spec.short_name + "\\fR, ";
        heading += "\\fB" + dashes("--" + std::string(spec.name)) + "\\fR";
        EXPECT_NE(looperd.find(heading), std::string::npos) << spec.name;
        const std::string key = ".TP\n\\fB" + dashes(spec.name) + "\\fR\n";
        EXPECT_EQ(config.find(key) != std::string::npos, spec.in_file) << spec.name;
    }
    for (const auto& r : osc::rows()) {
        if (r.role != osc::Role::control) continue;
        EXPECT_NE(looperd.find(".TP\n\\fB" + dashes(r.address) + "\\fR"), std::string::npos)
            << r.address;
        if (const auto verb = osc::slot_verb(r.address); r.saved && !verb.empty()) {
            const std::string key(verb);
            EXPECT_NE(config.find(".TP\n\\fB" + dashes(key) + "\\fR\n"), std::string::npos) << key;
        }
    }
    for (const auto* section : {".SH SIGNALS", ".SH FILES", ".SH ENVIRONMENT", ".SH EXIT STATUS"})
        EXPECT_NE(looperd.find(section), std::string::npos) << section;
}

// ---- the looperd binary ----

struct RunResult {
    std::optional<int> status;
    std::string output;  // stdout and stderr
};

// Runs looperd with `args`, HOME and XDG_CONFIG_HOME set to `home` (nothing of the user's is
// read), and waits for it to exit (or kHangBound: a hang).
RunResult run_looperd(const std::vector<std::string>& args, const TempDir& home) {
    const char* binary = std::getenv("LOOPERD_BINARY");
    if (binary == nullptr || *binary == '\0') return {};
    static int runs = 0;
    const std::string log = (home.path() / ("run-" + std::to_string(++runs) + ".log")).string();
    test::ChildProcess child(
        binary, args,
        {"HOME=" + home.path().string(), "XDG_CONFIG_HOME=" + (home.path() / "xdg").string()}, log);
    RunResult run;
    run.status = child.wait_exit(test::kHangBound);
    const bool hung = !run.status;
    if (hung) run.status = child.terminate(std::chrono::seconds(1));
    run.output = child.read_log();
    if (hung) run.output += "\n(" + test::hung("looperd's exit") + ")";
    return run;
}

bool exited_with(const std::optional<int>& status, int code) {
    return status && WIFEXITED(*status) && WEXITSTATUS(*status) == code;
}

class LooperdBinary : public ::testing::Test {
  protected:
    void SetUp() override {
        const char* binary = std::getenv("LOOPERD_BINARY");
        if (binary == nullptr || *binary == '\0')
            GTEST_SKIP() << "LOOPERD_BINARY must name the daemon (meson test sets it)";
        ASSERT_TRUE(fs::exists(binary)) << binary;
    }
    TempDir home_;
};

TEST_F(LooperdBinary, CheckConfigAcceptsAGoodFile) {
    const fs::path file = home_.write("xdg/looperd/looperd.toml", "osc-port = 9000\n");
    const RunResult run = run_looperd({"--check-config"}, home_);
    EXPECT_TRUE(exited_with(run.status, 0)) << run.output;
    EXPECT_EQ(run.output, file.string() + ": OK\n");
    // The example documents every key at its default: it checks out too.
    const RunResult example = run_looperd({"--check-config", "--config", kExample.string()}, home_);
    EXPECT_TRUE(exited_with(example.status, 0)) << example.output;
}

TEST_F(LooperdBinary, CheckConfigRefusesABadFileWithExitStatusTwo) {
    const fs::path file = home_.write("bad.toml", "osc-port = 9000\nosc_prot = 1\noutputs = 99\n");
    const RunResult run = run_looperd({"--check-config", "--config", file.string()}, home_);
    EXPECT_TRUE(exited_with(run.status, 2)) << run.output;
    EXPECT_EQ(run.output, "looperd: " + file.string() +
                              ":2:1: key 'osc_prot': unknown key (did you mean 'osc-port'?)\n"
                              "looperd: " +
                              file.string() +
                              ":3:11: key 'outputs': expected a whole number from 1 to 64, "
                              "got 99\n");
    // A bad flag gives the same exit status.
    const fs::path good = home_.write("good.toml", "osc-port = 9000\n");
    const RunResult flag =
        run_looperd({"--check-config", "--config", good.string(), "--outputs", "0"}, home_);
    EXPECT_TRUE(exited_with(flag.status, 2)) << flag.output;
    EXPECT_EQ(flag.output, "looperd: --outputs: expected a whole number from 1 to 64, got 0\n");
    // So does a --config that is not there.
    const RunResult missing =
        run_looperd({"--check-config", "--config", (home_.path() / "none.toml").string()}, home_);
    EXPECT_TRUE(exited_with(missing.status, 2)) << missing.output;
}

// A broken controller profile stops looperd before anything starts, naming its file and line.
TEST_F(LooperdBinary, ABrokenMidiProfileIsRefusedWithItsFileAndLine) {
    const fs::path good = home_.write("good.toml", "osc-port = 9000\n");
    const fs::path profile = home_.write("pads.toml", "[lights]\nmessage = \"light\"\n");
    const RunResult run = run_looperd(
        {"--check-config", "--config", good.string(), "--midi-profile", profile.string()}, home_);
    EXPECT_TRUE(exited_with(run.status, 2)) << run.output;
    EXPECT_NE(run.output.find("looperd: " + profile.string() +
                              ":2:11: lights.message: expected \"note\" or \"cc\""),
              std::string::npos)
        << run.output;
    const RunResult unknown = run_looperd(
        {"--check-config", "--config", good.string(), "--midi-profile", "launchpad"}, home_);
    EXPECT_TRUE(exited_with(unknown.status, 2)) << unknown.output;
    const RunResult shipped = run_looperd(
        {"--check-config", "--config", good.string(), "--midi-profile", "launchpad-mini-mk3"},
        home_);
    EXPECT_TRUE(exited_with(shipped.status, 0)) << shipped.output;
}

TEST_F(LooperdBinary, CheckConfigReadsTheRigsInputAndMonitorKeys) {
    const fs::path good = home_.write("monitor.toml", R"([master]
monitor = 1
[[slot]]
index = 0
input = 1
monitor = 1
)");
    const RunResult run = run_looperd({"--check-config", "--config", good.string()}, home_);
    EXPECT_TRUE(exited_with(run.status, 0)) << run.output;
    const fs::path bad = home_.write("bad-monitor.toml", R"([master]
monitor = 2
[[slot]]
index = 0
input = 0
)");
    const RunResult refused = run_looperd({"--check-config", "--config", bad.string()}, home_);
    EXPECT_TRUE(exited_with(refused.status, 2)) << refused.output;
    EXPECT_NE(refused.output.find(bad.string() + ":2:11: master.monitor: must be a whole number"),
              std::string::npos)
        << refused.output;
    // The actual bound of input (its inputs' pairs) is checked when the rig is applied.
    const fs::path zero = home_.write("input-zero.toml", "[[slot]]\nindex = 0\ninput = 0\n");
    const RunResult input = run_looperd({"--check-config", "--config", zero.string()}, home_);
    EXPECT_TRUE(exited_with(input.status, 2)) << input.output;
    EXPECT_NE(input.output.find(zero.string() + ":3:9: slot.input: must be a whole number from 1"),
              std::string::npos)
        << input.output;
}

TEST_F(LooperdBinary, CheckConfigWithoutAFileChecksTheFlags) {
    if (fs::exists(kSystemConfigFile))
        GTEST_SKIP() << kSystemConfigFile << " exists on this machine";
    const RunResult run = run_looperd({"--check-config", "--osc-port", "9000"}, home_);
    EXPECT_TRUE(exited_with(run.status, 0)) << run.output;
    EXPECT_EQ(run.output, "no config file found; defaults and flags are valid\n");
}

TEST_F(LooperdBinary, PrintConfigLoadsBackToTheSameConfiguration) {
    const fs::path file = home_.write("rig.toml", R"(osc-port = 9000
osc-allow = ["192.168.1.0/24"]
fade-ms = 0.1
[clock]
tempo = 100.0
[[slot]]
index = 1
file = "loops/a.wav"
)");
    const RunResult first = run_looperd(
        {"--print-config", "--config", file.string(), "--voices", "64", "--osc-allow", "10.0.0.7"},
        home_);
    ASSERT_TRUE(exited_with(first.status, 0)) << first.output;
    EXPECT_NE(first.output.find("\nvoices = 64\n"), std::string::npos) << first.output;
    EXPECT_NE(first.output.find("\nosc-allow = [ \"10.0.0.7/32\" ]\n"), std::string::npos)
        << first.output;
    EXPECT_NE(first.output.find("\n[clock]\ntempo = 100.0\n"), std::string::npos) << first.output;

    const fs::path printed = home_.write("printed.toml", first.output);
    const RunResult second = run_looperd({"--print-config", "--config", printed.string()}, home_);
    ASSERT_TRUE(exited_with(second.status, 0)) << second.output;
    // Only the first line, which names the file, differs.
    auto body = [](const std::string& s) { return s.substr(s.find('\n')); };
    EXPECT_EQ(body(second.output), body(first.output));
}

// The rig tables are checked as the OSC handlers check them, by --check-config and before a
// start, with the file, line and key.
TEST_F(LooperdBinary, CheckConfigChecksTheRigTables) {
    const fs::path good = home_.write("rig.toml", R"(osc-port = 9000
[clock]
tempo = 100.0
[[slot]]
index = 0
file = "loops/a.wav"
gain = 0.5
mode = "loop"
)");
    const RunResult ok = run_looperd({"--check-config", "--config", good.string()}, home_);
    EXPECT_TRUE(exited_with(ok.status, 0)) << ok.output;
    EXPECT_EQ(ok.output, good.string() + ": OK\n");

    const fs::path bad = home_.write("bad-rig.toml", R"(osc-port = 9000
[[slot]]
index = 0
file = "loops/a.wav"
mode = "looop"
)");
    for (const auto& args : {std::vector<std::string>{"--check-config", "--config", bad.string()},
                             std::vector<std::string>{"--config", bad.string()}}) {
        const RunResult run = run_looperd(args, home_);
        EXPECT_TRUE(exited_with(run.status, 2)) << run.output;
        EXPECT_NE(run.output.find("looperd: " + bad.string() + ":5:"), std::string::npos)
            << run.output;
        EXPECT_NE(run.output.find("mode"), std::string::npos) << run.output;
    }
}

}  // namespace
}  // namespace looperd

namespace looperd {
namespace {

// `looperd --print-osc` prints the schema's Markdown, `--print-osc=json` its JSON; any other
// format is refused like a bad flag.
TEST_F(LooperdBinary, PrintOscPrintsTheSchemaAsMarkdownOrJson) {
    const RunResult markdown = run_looperd({"--print-osc"}, home_);
    EXPECT_TRUE(exited_with(markdown.status, 0)) << markdown.output;
    EXPECT_EQ(markdown.output, osc::markdown_table());
    const RunResult json = run_looperd({"--print-osc=json"}, home_);
    EXPECT_TRUE(exited_with(json.status, 0)) << json.output;
    EXPECT_EQ(json.output, osc::json_schema());
    const RunResult named = run_looperd({"--print-osc=markdown"}, home_);
    EXPECT_EQ(named.output, osc::markdown_table());
    const RunResult bad = run_looperd({"--print-osc=yaml"}, home_);
    EXPECT_TRUE(exited_with(bad.status, 2)) << bad.output;
    EXPECT_EQ(bad.output, "looperd: --print-osc: expected markdown or json, got 'yaml'\n");
    // "--name=value" works for options with a value too; a switch takes none.
    const RunResult inline_value = run_looperd({"--check-config", "--outputs=0"}, home_);
    EXPECT_TRUE(exited_with(inline_value.status, 2)) << inline_value.output;
    EXPECT_EQ(inline_value.output,
              "looperd: --outputs: expected a whole number from 1 to 64, got 0\n");
    const RunResult switch_value = run_looperd({"--no-state=1"}, home_);
    EXPECT_TRUE(exited_with(switch_value.status, 2)) << switch_value.output;
    EXPECT_EQ(switch_value.output, "looperd: --no-state: takes no value\n");
}

// `looperd --version`: the version, the revision it was built from (what scripts/revision.sh
// says of this tree) and the optional parts built in; looperd-guarded says its guard is on.
TEST_F(LooperdBinary, VersionNamesTheRevisionAndThePartsBuiltIn) {
    const RunResult run = run_looperd({"--version"}, home_);
    ASSERT_TRUE(exited_with(run.status, 0)) << run.output;
    std::string revision;
    {
        const std::string command =
            std::string(LOOPERD_SOURCE_DIR) + "/scripts/revision.sh " + LOOPERD_SOURCE_DIR;
        std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), &::pclose);
        ASSERT_TRUE(pipe);
        std::array<char, 128> line{};
        if (std::fgets(line.data(), line.size(), pipe.get()) != nullptr) revision = line.data();
    }
    ASSERT_FALSE(revision.empty());
    const std::string expected =
        std::string("looperd ") + LOOPERD_VERSION + "\n" + "revision:           " + revision +
        "MIDI:               yes (JACK MIDI: notes, CCs, clock sync, pad lights)\n" +
        "DNS-SD:             " +
        (DnsSdPublisher::built_in() ? "yes (Avahi)" : "no (built without libavahi-client)") +
        "\nAbleton Link:       " +
        (LinkSession::available() ? "yes (this binary is distributed under the GPL)"
                                  : "no (built without ableton-link-dev)") +
        "\nRubber Band:        " +
        (stretch_available() ? "yes (stretch pitch; this binary is distributed under the GPL)"
                             : "no (built without librubberband-dev)") +
        "\naudio-thread guard: ";
    EXPECT_EQ(run.output, expected + "off\n");

    const char* guarded = std::getenv("LOOPERD_GUARDED_BINARY");
    if (guarded == nullptr || *guarded == '\0') return;
    test::ChildProcess child(guarded, {"-V"}, {}, (home_.path() / "guarded.log").string());
    ASSERT_TRUE(exited_with(child.wait_exit(test::kHangBound), 0));
    const char* rtsan = std::getenv("LOOPERD_GUARDED_RTSAN");
    EXPECT_EQ(child.read_log(), expected + (rtsan != nullptr && std::string(rtsan) == "1"
                                                ? "on (allocations, locks and system calls)\n"
                                                : "on (allocations)\n"));
}

}  // namespace
}  // namespace looperd
