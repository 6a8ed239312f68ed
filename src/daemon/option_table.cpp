// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// The option table: every flag and config key, its kind, range, help and field. Parsing, the
// config file, --help and --print-config read it (options.cpp, config_file.cpp).
#include <array>
#include <charconv>
#include <cmath>
#include <string>
#include <type_traits>

#include "daemon/options.hpp"
#include "io/osc_server.hpp"

namespace looperd {

namespace {

// Setters and getters by field, so that each table entry names its field once.
template <auto Member>
void set_whole(Options& o, const OptionValue& v) {
    using Field = std::remove_reference_t<decltype(o.*Member)>;
    o.*Member = static_cast<Field>(std::get<std::int64_t>(v));
}

template <auto Member>
std::optional<OptionValue> get_whole(const Options& o) {
    return OptionValue{static_cast<std::int64_t>(o.*Member)};
}

// Whole numbers whose 0 means "off": not written back, since 0 is outside the option's range.
template <auto Member>
std::optional<OptionValue> get_whole_or_off(const Options& o) {
    if (o.*Member == 0) return std::nullopt;
    return OptionValue{static_cast<std::int64_t>(o.*Member)};
}

template <auto Member>
std::optional<OptionValue> get_text(const Options& o) {
    return OptionValue{std::string(o.*Member)};
}

// Text whose empty value means "the default place": not written back.
template <auto Member>
std::optional<OptionValue> get_text_or_unset(const Options& o) {
    if ((o.*Member).empty()) return std::nullopt;
    return OptionValue{std::string(o.*Member)};
}

const std::string& non_empty(const OptionValue& v) {
    const auto& text = std::get<std::string>(v);
    if (text.empty()) throw OptionsError("must not be empty");
    return text;
}

std::optional<OptionValue> no_value(const Options&) {
    return std::nullopt;
}

void set_osc_allow(Options& o, const OptionValue& v) {
    std::vector<IpNetwork> networks;
    for (const auto& text : std::get<std::vector<std::string>>(v)) {
        std::string why;
        auto network = IpNetwork::parse(text, why);
        if (!network) throw OptionsError(why);
        networks.push_back(*network);
    }
    o.osc_allow = std::move(networks);
}

std::optional<OptionValue> get_osc_allow(const Options& o) {
    std::vector<std::string> out;
    for (const auto& n : o.osc_allow) out.push_back(n.to_string());
    return OptionValue{std::move(out)};
}

void set_osc_multicast(Options& o, const OptionValue& v) {
    std::string why;
    auto group = MulticastGroup::parse(std::get<std::string>(v), why);
    if (!group) throw OptionsError(why);
    o.osc_multicast = *group;
}

std::optional<OptionValue> get_osc_multicast(const Options& o) {
    if (!o.osc_multicast) return std::nullopt;
    return OptionValue{o.osc_multicast->to_string()};
}

void set_samples_roots(Options& o, const OptionValue& v) {
    std::vector<std::filesystem::path> roots;
    for (const auto& text : std::get<std::vector<std::string>>(v)) {
        if (text.empty()) throw OptionsError("a directory must not be empty");
        roots.emplace_back(text);
    }
    o.samples_roots = std::move(roots);
}

std::optional<OptionValue> get_samples_roots(const Options& o) {
    std::vector<std::string> out;
    for (const auto& p : o.samples_roots) out.push_back(p.string());
    return OptionValue{std::move(out)};
}

void set_notify(Options& o, const OptionValue& v) {
    const auto& urls = std::get<std::vector<std::string>>(v);
    for (const auto& url : urls) {
        std::string why;
        if (!OscServer::resolve_url(url, why)) throw OptionsError(why);
    }
    o.notify = urls;
}

void set_dns_sd_name(Options& o, const OptionValue& v) {
    const auto& name = non_empty(v);
    // One DNS label: what avahi-daemon accepts as a service name.
    if (name.size() > kMaxDnsSdNameBytes)
        throw OptionsError("at most " + std::to_string(kMaxDnsSdNameBytes) + " bytes, got " +
                           std::to_string(name.size()));
    o.dns_sd_name = name;
}

void set_log_level(Options& o, const OptionValue& v) {
    const auto& level = std::get<std::string>(v);
    if (level != "trace" && level != "debug" && level != "info" && level != "warn" &&
        level != "error")
        throw OptionsError("expected trace, debug, info, warn or error, got '" + level + "'");
    o.log_level = level;
}

void set_velocity_curve(Options& o, const OptionValue& v) {
    const auto& curve = std::get<std::string>(v);
    if (curve != "linear" && curve != "soft" && curve != "hard" && curve != "fixed")
        throw OptionsError("expected linear, soft, hard or fixed, got '" + curve + "'");
    o.velocity_curve = curve;
}

void set_midi_profile(Options& o, const OptionValue& v) {
    const auto& profile = std::get<std::string>(v);
    if (profile.empty()) throw OptionsError("expected a profile name, a path or none");
    o.midi_profile = profile;
}

void set_fade_ms(Options& o, const OptionValue& v) {
    o.fade_ms = static_cast<float>(std::get<double>(v));
}

// The float's shortest text, read as a double, writes 5 as 5.0 and 0.1 as 0.1 (not as
// 0.100000001...), and still reads back to the same float.
OptionValue float_value(float f) {
    std::array<char, 32> buf{};
    auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), f);
    double d = static_cast<double>(f);
    if (ec == std::errc{}) std::from_chars(buf.data(), end, d);
    return OptionValue{d};
}

std::optional<OptionValue> get_fade_ms(const Options& o) {
    return float_value(o.fade_ms);
}

// The table. Groups are --help sections and examples/looperd.toml's sections; help lines are
// wrapped by hand at 100 columns including the 26 of indentation.
const std::array kSpecs{
    // JACK
    OptionSpec{
        .name = "jack-server",
        .kind = OptionKind::text,
        .in_file = true,
        .metavar = "NAME",
        .group = "JACK",
        .help = "JACK server to join (default: $JACK_DEFAULT_SERVER, else JACK's default)",
        .example = "\"default\"",
        .set = [](Options& o, const OptionValue& v) { o.jack_server = std::get<std::string>(v); },
        .get = get_text_or_unset<&Options::jack_server>},
    OptionSpec{.name = "client-name",
               .kind = OptionKind::text,
               .in_file = true,
               .metavar = "NAME",
               .group = "JACK",
               .help = "JACK client name (default: looperd)",
               .set = [](Options& o, const OptionValue& v) { o.client_name = non_empty(v); },
               .get = get_text<&Options::client_name>},
    OptionSpec{.name = "outputs",
               .kind = OptionKind::integer,
               .in_file = true,
               .metavar = "N",
               .group = "JACK",
               .help = "output ports out_1..out_N (default: 2, at most 64)",
               .min = 1,
               .max = limits::kMaxOutputs,
               .set = set_whole<&Options::outputs>,
               .get = get_whole<&Options::outputs>},
    OptionSpec{.name = "no-autoconnect",
               .kind = OptionKind::flag,
               .in_file = true,
               .group = "JACK",
               .help = "do not connect the outputs to the physical playback ports, nor the MIDI\n"
                       "ports to the physical MIDI ports",
               .set = [](Options& o, const OptionValue& v) { o.autoconnect = !std::get<bool>(v); },
               .get = [](const Options& o) -> std::optional<OptionValue> {
                   return OptionValue{!o.autoconnect};
               }},
    OptionSpec{
        .name = "midi",
        .kind = OptionKind::flag,
        .in_file = true,
        .negatable = true,
        .group = "JACK",
        .help = "the MIDI ports midi_in (notes play slots: docs/midi.md) and midi_out\n"
                "(default: on; with autoconnect, joined to the physical MIDI ports)",
        .set = [](Options& o, const OptionValue& v) { o.midi = std::get<bool>(v); },
        .get = [](const Options& o) -> std::optional<OptionValue> { return OptionValue{o.midi}; }},
    OptionSpec{.name = "velocity-curve",
               .kind = OptionKind::text,
               .in_file = true,
               .metavar = "CURVE",
               .group = "JACK",
               .help = "how a MIDI note's velocity scales its slot's gain: linear, soft (light\n"
                       "touches louder), hard (light touches quieter) or fixed (velocity\n"
                       "ignored); velocity 127 is the slot's gain on each (default: linear)",
               .set = set_velocity_curve,
               .get = get_text<&Options::velocity_curve>},
    OptionSpec{
        .name = "midi-clock-out",
        .kind = OptionKind::flag,
        .in_file = true,
        .group = "JACK",
        .help = "send MIDI clock on midi_out: 24 ticks a beat on their frames of looperd's\n"
                "beat grid, Start when /clock/reset restarts it, and Start, Stop, Continue\n"
                "and Song Position Pointer as JACK's transport moves (/clock/sync jack)\n"
                "(default: off)",
        .set = [](Options& o, const OptionValue& v) { o.midi_clock_out = std::get<bool>(v); },
        .get = [](const Options& o) -> std::optional<OptionValue> {
            return OptionValue{o.midi_clock_out};
        }},
    OptionSpec{.name = "midi-profile",
               .kind = OptionKind::text,
               .in_file = true,
               .metavar = "NAME|PATH",
               .group = "JACK",
               .help = "the controller profile for pad lights and pad notes: generic,\n"
                       "apc-mini-mk2, launchpad-mini-mk3, nanokontrol2, a profile file's path,\n"
                       "or none for no lights (default: generic; docs/midi.md#lights)",
               .set = set_midi_profile,
               .get = get_text<&Options::midi_profile>},
    OptionSpec{.name = "sample-rate",
               .kind = OptionKind::integer,
               .in_file = true,
               .metavar = "HZ",
               .group = "JACK",
               .help = "the rate assumed until a JACK server is joined, 8000 to 768000\n"
                       "(default: 48000); once joined, looperd follows the server's rate",
               .min = 8000,
               .max = 768000,
               .set = set_whole<&Options::sample_rate>,
               .get = get_whole<&Options::sample_rate>},
    // OSC and network
    OptionSpec{
        .name = "link-start-stop",
        .kind = OptionKind::flag,
        .in_file = true,
        .negatable = true,
        .group = "Ableton Link (see docs/link.md)",
        .help = "following Ableton Link (/clock/sync link), share start and stop with the\n"
                "session: a peer's stop stops looperd's loops and its start starts them\n"
                "again on the bar, and /clock/playing starts and stops every peer\n"
                "(default: on)",
        .set = [](Options& o, const OptionValue& v) { o.link_start_stop = std::get<bool>(v); },
        .get = [](const Options& o) -> std::optional<OptionValue> {
            return OptionValue{o.link_start_stop};
        }},
    OptionSpec{.name = "osc-port",
               .kind = OptionKind::integer,
               .in_file = true,
               .metavar = "PORT",
               .group = "OSC and network",
               .help = "UDP port to listen on (default: 9950)",
               .min = 1,
               .max = 65535,
               .set = set_whole<&Options::osc_port>,
               .get = get_whole<&Options::osc_port>},
    OptionSpec{.name = "osc-bind",
               .kind = OptionKind::text,
               .in_file = true,
               .metavar = "ADDRESS",
               .group = "OSC and network",
               .help = "address to listen on (default: 127.0.0.1; 0.0.0.0 for every interface)",
               .set = [](Options& o, const OptionValue& v) { o.osc_bind = non_empty(v); },
               .get = get_text<&Options::osc_bind>},
    OptionSpec{.name = "osc-allow",
               .kind = OptionKind::text_list,
               .in_file = true,
               .metavar = "CIDR",
               .group = "OSC and network",
               .help = "accept datagrams only from this network, e.g. 192.168.1.0/24, 10.0.0.7,\n"
                       "fe80::/10 (repeatable; once given, loopback is not implied: add\n"
                       "127.0.0.1 for local tools). Default: every source that reaches the\n"
                       "bound address",
               .set = set_osc_allow,
               .get = get_osc_allow},
    OptionSpec{.name = "osc-multicast",
               .kind = OptionKind::text,
               .in_file = true,
               .metavar = "GROUP",
               .group = "OSC and network",
               .help = "also receive OSC sent to this multicast group on the OSC port, e.g.\n"
                       "239.1.2.3 or ff15::1234, so that one message reaches every rig;\n"
                       "--osc-allow and the rate limits apply to its senders (default: off)",
               .example = "\"239.1.2.3\"",
               .set = set_osc_multicast,
               .get = get_osc_multicast},
    OptionSpec{
        .name = "osc-multicast-interface",
        .kind = OptionKind::text,
        .in_file = true,
        .metavar = "NAME",
        .group = "OSC and network",
        .help = "the network interface that joins the group, e.g. eth0 (default: the\n"
                "kernel's choice by its routes; needed on a LAN with no default route)",
        .example = "\"eth0\"",
        .set = [](Options& o, const OptionValue& v) { o.osc_multicast_interface = non_empty(v); },
        .get = get_text_or_unset<&Options::osc_multicast_interface>},
    OptionSpec{.name = "osc-rate",
               .kind = OptionKind::integer,
               .in_file = true,
               .metavar = "N",
               .group = "OSC and network",
               .help = "datagrams per second per source IP at most; 0: no limit (default: 2000)",
               .min = 0,
               .max = 1'000'000,
               .set = set_whole<&Options::osc_rate>,
               .get = get_whole<&Options::osc_rate>},
    OptionSpec{.name = "osc-burst",
               .kind = OptionKind::integer,
               .in_file = true,
               .metavar = "N",
               .group = "OSC and network",
               .help = "datagrams a source may send at once above that rate (default: 500)",
               .min = 1,
               .max = 1'000'000,
               .set = set_whole<&Options::osc_burst>,
               .get = get_whole<&Options::osc_burst>},
    OptionSpec{.name = "dns-sd",
               .kind = OptionKind::flag,
               .in_file = true,
               .negatable = true,
               .group = "OSC and network",
               .help = "announce the OSC service on the network with DNS-SD (_osc._udp, through\n"
                       "avahi-daemon) so that OSC browsers find it (default: on, when built\n"
                       "with Avahi; never while listening on loopback only)",
               .set = [](Options& o, const OptionValue& v) { o.dns_sd = std::get<bool>(v); },
               .get = [](const Options& o) -> std::optional<OptionValue> {
                   return OptionValue{o.dns_sd};
               }},
    OptionSpec{.name = "dns-sd-name",
               .kind = OptionKind::text,
               .in_file = true,
               .metavar = "NAME",
               .group = "OSC and network",
               .help = "the name OSC browsers show, at most 63 bytes (default: \"looperd on\n"
                       "<host name>\"); taken on the network, it becomes \"NAME #2\"",
               .example = "\"stage left\"",
               .set = set_dns_sd_name,
               .get = get_text_or_unset<&Options::dns_sd_name>},
    // Engine
    OptionSpec{.name = "slots",
               .kind = OptionKind::integer,
               .in_file = true,
               .metavar = "N",
               .group = "Engine",
               .help = "sample slots, numbered from 0 (default: 128, at most 4096)",
               .min = 1,
               .max = limits::kMaxSlots,
               .set = set_whole<&Options::slots>,
               .get = get_whole<&Options::slots>},
    OptionSpec{.name = "voices",
               .kind = OptionKind::integer,
               .in_file = true,
               .metavar = "N",
               .group = "Engine",
               .help = "voices playing at once (default: 256, at most 4096)",
               .min = 1,
               .max = limits::kMaxVoices,
               .set = set_whole<&Options::voices>,
               .get = get_whole<&Options::voices>},
    OptionSpec{.name = "command-capacity",
               .kind = OptionKind::integer,
               .in_file = true,
               .metavar = "N",
               .group = "Engine",
               .help = "commands queued for the audio thread at most (default: 1024, 16 to\n"
                       "1048576)",
               .min = 16,
               .max = static_cast<double>(limits::kMaxCommandCapacity),
               .set = set_whole<&Options::command_capacity>,
               .get = get_whole<&Options::command_capacity>},
    OptionSpec{.name = "max-scheduled",
               .kind = OptionKind::integer,
               .in_file = true,
               .metavar = "N",
               .group = "Engine",
               .help = "timetagged commands waiting for their frame at most (default: 1024,\n"
                       "at most 65536)",
               .min = 1,
               .max = static_cast<double>(limits::kMaxScheduledCapacity),
               .set = set_whole<&Options::max_scheduled>,
               .get = get_whole<&Options::max_scheduled>},
    OptionSpec{.name = "fade-ms",
               .kind = OptionKind::number,
               .in_file = true,
               .metavar = "MS",
               .group = "Engine",
               .help = "fade applied on stop, retrigger and unload, 0.1 to 1000 (default: 5)",
               .min = limits::kMinFadeMs,
               .max = 1000.0,
               .set = set_fade_ms,
               .get = get_fade_ms},
    // Recording (docs/recording.md)
    OptionSpec{.name = "inputs",
               .kind = OptionKind::integer,
               .in_file = true,
               .metavar = "M",
               .group = "Recording",
               .help = "JACK input ports in_1 .. in_M to record and monitor (default: 2,\n"
                       "at most 64); 0: no inputs and no recording",
               .min = 0,
               .max = limits::kMaxInputs,
               .set = set_whole<&Options::inputs>,
               .get = get_whole<&Options::inputs>},
    OptionSpec{.name = "recorders",
               .kind = OptionKind::integer,
               .in_file = true,
               .metavar = "N",
               .group = "Recording",
               .help = "takes recorded or kept at once, each a stereo buffer made when needed\n"
                       "(default: 8, at most 64)",
               .min = 0,
               .max = limits::kMaxRecorders,
               .set = set_whole<&Options::recorders>,
               .get = get_whole<&Options::recorders>},
    OptionSpec{.name = "max-record-seconds",
               .kind = OptionKind::number,
               .in_file = true,
               .metavar = "S",
               .group = "Recording",
               .help = "the longest take, 0.1 to 3600 (default: 60); a take reaching it ends\n"
                       "and loops",
               .min = 0.1,
               .max = static_cast<double>(limits::kMaxRecordSeconds),
               .set =
                   [](Options& o, const OptionValue& v) {
                       o.max_record_seconds = static_cast<float>(std::get<double>(v));
                   },
               .get = [](const Options& o) -> std::optional<OptionValue> {
                   return float_value(o.max_record_seconds);
               }},
    OptionSpec{.name = "undo-levels",
               .kind = OptionKind::integer,
               .in_file = true,
               .metavar = "N",
               .group = "Recording",
               .help = "overdub passes each take can undo (default: 8, at most 256)",
               .min = 0,
               .max = limits::kMaxUndoLevels,
               .set = set_whole<&Options::undo_levels>,
               .get = get_whole<&Options::undo_levels>},
    OptionSpec{.name = "undo-memory-mib",
               .kind = OptionKind::integer,
               .in_file = true,
               .metavar = "MIB",
               .group = "Recording",
               .help = "memory for undo layers, shared by every take, in MiB (default: 128,\n"
                       "at most 4096)",
               .min = 0,
               .max = limits::kMaxUndoMemoryMib,
               .set = set_whole<&Options::undo_memory_mib>,
               .get = get_whole<&Options::undo_memory_mib>},
    OptionSpec{.name = "record-offset",
               .kind = OptionKind::integer,
               .in_file = true,
               .metavar = "FRAMES",
               .group = "Recording",
               .help = "frames added to JACK's capture + playback latency to align takes\n"
                       "and overdubs, may be negative (default: 0)",
               .min = -1'000'000,
               .max = 1'000'000,
               .set = set_whole<&Options::record_offset>,
               .get = get_whole<&Options::record_offset>},
    // Samples and memory
    OptionSpec{.name = "samples-dir",
               .kind = OptionKind::text,
               .in_file = true,
               .relative_to_file = true,
               .metavar = "DIR",
               .group = "Samples and memory",
               .help = "where relative load paths resolve (default: the current directory)",
               .example = "\"/srv/samples\"",
               .set = [](Options& o, const OptionValue& v) { o.samples_dir = non_empty(v); },
               .get = [](const Options& o) -> std::optional<OptionValue> {
                   if (o.samples_dir.empty()) return std::nullopt;
                   return OptionValue{o.samples_dir.string()};
               }},
    OptionSpec{.name = "samples-root",
               .kind = OptionKind::text_list,
               .in_file = true,
               .relative_to_file = true,
               .metavar = "DIR",
               .group = "Samples and memory",
               .help = "another directory load paths may lie in (repeatable); paths outside\n"
                       "--samples-dir and every --samples-root are refused",
               .set = set_samples_roots,
               .get = get_samples_roots},
    OptionSpec{.name = "memory-budget",
               .kind = OptionKind::byte_size,
               .in_file = true,
               .metavar = "SIZE",
               .group = "Samples and memory",
               .help = "most sample memory to hold, e.g. 512M, 2G (default: 1G)",
               .set = [](Options& o,
                         const OptionValue& v) { o.memory_budget = std::get<std::int64_t>(v); },
               .get = [](const Options& o) -> std::optional<OptionValue> {
                   return OptionValue{format_byte_size(o.memory_budget)};
               }},
    // Feedback
    OptionSpec{.name = "notify",
               .kind = OptionKind::text_list,
               .in_file = true,
               .metavar = "URL",
               .group = "Feedback (control surfaces that stay in sync; see docs/osc.md)",
               .help = "send feedback to osc.udp://host:port/ always (repeatable)",
               .set = set_notify,
               .get = [](const Options& o) -> std::optional<OptionValue> {
                   return OptionValue{o.notify};
               }},
    OptionSpec{.name = "feedback-port",
               .kind = OptionKind::integer,
               .in_file = true,
               .metavar = "PORT",
               .group = "Feedback (control surfaces that stay in sync; see docs/osc.md)",
               .help = "subscribe every client that sends a message, at its IP and this port\n"
                       "(default: off)",
               .example = "9000",
               .min = 1,
               .max = 65535,
               .set = set_whole<&Options::feedback_port>,
               .get = get_whole_or_off<&Options::feedback_port>},
    OptionSpec{.name = "max-subscribers",
               .kind = OptionKind::integer,
               .in_file = true,
               .metavar = "N",
               .group = "Feedback (control surfaces that stay in sync; see docs/osc.md)",
               .help = "subscribers at once, 1 to 256 (default: 16)",
               .min = 1,
               .max = 256,
               .set = set_whole<&Options::max_subscribers>,
               .get = get_whole<&Options::max_subscribers>},
    OptionSpec{.name = "subscriber-timeout",
               .kind = OptionKind::integer,
               .in_file = true,
               .metavar = "S",
               .group = "Feedback (control surfaces that stay in sync; see docs/osc.md)",
               .help = "drop a /notify or zero-configuration subscriber silent this many\n"
                       "seconds, 1 to 86400; 0: never (default: 0)",
               .min = 0,
               .max = 86400,
               .set = set_whole<&Options::subscriber_timeout_s>,
               .get = get_whole<&Options::subscriber_timeout_s>},
    OptionSpec{.name = "feedback-rate",
               .kind = OptionKind::integer,
               .in_file = true,
               .metavar = "HZ",
               .group = "Feedback (control surfaces that stay in sync; see docs/osc.md)",
               .help = "bursts per second per subscriber at most, 1 to 200 (default: 30)",
               .min = 1,
               .max = 200,
               .set = set_whole<&Options::feedback_rate>,
               .get = get_whole<&Options::feedback_rate>},
    OptionSpec{.name = "position-rate",
               .kind = OptionKind::integer,
               .in_file = true,
               .metavar = "HZ",
               .group = "Feedback (control surfaces that stay in sync; see docs/osc.md)",
               .help = "position and meter updates per second, 1 to 100 (default: 20)",
               .min = 1,
               .max = 100,
               .set = set_whole<&Options::position_rate>,
               .get = get_whole<&Options::position_rate>},
    // State
    OptionSpec{.name = "state-dir",
               .kind = OptionKind::text,
               .in_file = true,
               .relative_to_file = true,
               .metavar = "DIR",
               .group = "State (see docs/persistence.md)",
               .help = "where the rig is saved and restored, and sessions live (default:\n"
                       "$STATE_DIRECTORY, else $XDG_STATE_HOME/looperd, else\n"
                       "~/.local/state/looperd)",
               .example = "\"/var/lib/looperd\"",
               .set = [](Options& o, const OptionValue& v) { o.state_dir = non_empty(v); },
               .get = [](const Options& o) -> std::optional<OptionValue> {
                   if (o.state_dir.empty()) return std::nullopt;
                   return OptionValue{o.state_dir.string()};
               }},
    OptionSpec{.name = "no-state",
               .kind = OptionKind::flag,
               .in_file = true,
               .group = "State (see docs/persistence.md)",
               .help = "neither restore nor save the rig; /session/* answer /error",
               .set = [](Options& o, const OptionValue& v) { o.no_state = std::get<bool>(v); },
               .get = [](const Options& o) -> std::optional<OptionValue> {
                   return OptionValue{o.no_state};
               }},
    // Logging
    OptionSpec{.name = "log-level",
               .kind = OptionKind::text,
               .in_file = true,
               .metavar = "LEVEL",
               .group = "Logging",
               .help = "trace, debug, info, warn or error (default: info)",
               .set = set_log_level,
               .get = get_text<&Options::log_level>},
    // Command line only
    OptionSpec{.name = "config",
               .kind = OptionKind::text,
               .metavar = "FILE",
               .group = "Configuration file (see docs/configuration.md)",
               .help = "read this TOML file (default: $XDG_CONFIG_HOME/looperd/looperd.toml,\n"
                       "else /etc/looperd/looperd.toml, if there); flags override it",
               .set = [](Options& o, const OptionValue& v) { o.config_file = non_empty(v); },
               .get = no_value},
    OptionSpec{.name = "check-config",
               .kind = OptionKind::action,
               .group = "Configuration file (see docs/configuration.md)",
               .help = "check the config file and the flags, print the result and exit",
               .set = [](Options& o, const OptionValue&) { o.check_config = true; },
               .get = no_value},
    OptionSpec{.name = "print-config",
               .kind = OptionKind::action,
               .group = "Configuration file (see docs/configuration.md)",
               .help = "print the configuration in effect (file and flags) as TOML and exit",
               .set = [](Options& o, const OptionValue&) { o.print_config = true; },
               .get = no_value},
    OptionSpec{.name = "print-osc",
               .kind = OptionKind::action_choice,
               .metavar = "[=json]",
               .group = "General",
               .help = "print every OSC address looperd accepts, replies or sends, with its\n"
                       "arguments and ranges: a Markdown table, or with =json the schema\n"
                       "for control surfaces and mappings; then exit",
               .set =
                   [](Options& o, const OptionValue& v) {
                       const auto& format = std::get<std::string>(v);
                       if (format != "" && format != "markdown" && format != "json")
                           throw OptionsError("expected markdown or json, got '" + format + "'");
                       o.print_osc = format.empty() ? "markdown" : format;
                   },
               .get = no_value},
    OptionSpec{.name = "help",
               .short_name = 'h',
               .kind = OptionKind::action,
               .group = "General",
               .help = "print this help and exit",
               .set = [](Options& o, const OptionValue&) { o.help = true; },
               .get = no_value},
    OptionSpec{.name = "version",
               .short_name = 'V',
               .kind = OptionKind::action,
               .group = "General",
               .help = "print the version, the git revision it was built from and the optional\n"
                       "parts built in (MIDI, DNS-SD, Ableton Link, audio-thread guard), and exit",
               .set = [](Options& o, const OptionValue&) { o.version = true; },
               .get = no_value},
};

}  // namespace

std::span<const OptionSpec> option_specs() {
    return kSpecs;
}

}  // namespace looperd
