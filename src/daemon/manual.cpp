// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "daemon/manual.hpp"

#include <spdlog/fmt/fmt.h>

#include <cctype>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "control/osc_schema.hpp"
#include "daemon/config_file.hpp"
#include "daemon/options.hpp"

namespace looperd {

namespace {

constexpr std::size_t kFileWidth = 96;  // the config file's section rules

// ---- values ----

// The line the file and the pages show for a key: its default, or its example when the default
// is a behaviour ("JACK's default server"). An option with neither is a bug in the table.
std::string shown_line(const OptionSpec& spec) {
    if (const auto value = spec.get(Options{})) return option_line(spec, *value);
    if (spec.example.empty())
        throw std::logic_error("option " + std::string(spec.name) +
                               " has neither a default value nor an example");
    return std::string(spec.name) + " = " + std::string(spec.example);
}

bool has_default(const OptionSpec& spec) {
    return spec.get(Options{}).has_value();
}

// "Feedback (control surfaces ...; see docs/osc.md)" → "Feedback".
std::string_view group_title(std::string_view group) {
    return group.substr(0, group.find(" ("));
}

std::string joined(std::string_view help) {
    std::string out(help);
    for (char& c : out)
        if (c == '\n') c = ' ';
    return out;
}

// The rig's tables and keys, from the schema's saved rows: [master] and [clock] from the
// addresses outside a slot, [[slot]] from a slot's.
struct RigKey {
    std::string table;  // "master", "clock" or "slot"
    std::string key;
    const osc::Row* row;
};

std::vector<RigKey> rig_keys() {
    std::vector<RigKey> out;
    for (const auto& r : osc::rows()) {
        if (!r.saved || r.role != osc::Role::control) continue;
        const std::string_view address = r.address;
        const std::string key(address.substr(address.rfind('/') + 1));
        const bool clock = r.handler == osc::Handler::clock_tempo ||
                           r.handler == osc::Handler::clock_meter ||
                           r.handler == osc::Handler::clock_sync;
        if (!osc::slot_verb(address).empty())
            out.push_back({"slot", key, &r});
        else
            out.push_back({clock ? "clock" : "master", key, &r});
    }
    return out;
}

std::string slot_keys_list() {
    std::string out;
    for (const auto& k : rig_keys()) {
        if (k.table != "slot") continue;
        if (!out.empty()) out += ' ';
        out += k.key;
    }
    return out;
}

// ---- roff ----

// Text as man(7) shows it: backslashes escaped, a dash that starts a word (an option, a
// negative number) as a minus sign, `code` in bold, any other character past ASCII as a
// named glyph so that every man reader renders it, and a leading '.' or '\'' made literal.
std::string roff(std::string_view text, bool literal = false) {
    std::string out;
    bool code = false;
    bool flag = false;  // within a word that starts with '-': "--samples-dir", "-24"
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c == ' ') flag = false;
        if (c == '-' && (i == 0 || text[i - 1] == ' ' || text[i - 1] == '(' || text[i - 1] == '[' ||
                         text[i - 1] == '"'))
            flag = true;
        if (c == '\\') {
            out += "\\e";
        } else if (c == '`') {
            out += code ? "\\fR" : "\\fB";
            code = !code;
        } else if (c == '-' && (flag || code || literal)) {
            out += "\\-";
        } else if (c >= 0x80) {
            // One UTF-8 sequence → \[uXXXX].
            std::uint32_t cp = 0;
            std::size_t extra = 0;
            if ((c & 0xE0U) == 0xC0U) {
                cp = c & 0x1FU;
                extra = 1;
            } else if ((c & 0xF0U) == 0xE0U) {
                cp = c & 0x0FU;
                extra = 2;
            } else {
                cp = c & 0x07U;
                extra = 3;
            }
            for (std::size_t k = 0; k < extra && i + 1 < text.size(); ++k)
                cp = (cp << 6U) | (static_cast<unsigned char>(text[++i]) & 0x3FU);
            out += fmt::format("\\[u{:04X}]", cp);
        } else {
            out += static_cast<char>(c);
        }
    }
    if (code) out += "\\fR";
    if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out.insert(0, "\\&");
    return out;
}

// A name, a key or an address: every dash a minus sign, so that it reads back as typed.
std::string roff_bold(std::string_view text) {
    return "\\fB" + roff(text, true) + "\\fR";
}

std::string roff_italic(std::string_view text) {
    return "\\fI" + roff(text, true) + "\\fR";
}

std::string title(std::string_view name, int section, std::string_view version) {
    return fmt::format(".TH {} {} \"\" \"looperd {}\" \"{}\"\n", name, section, version,
                       section == 1 ? "User Commands" : "File Formats");
}

// A paragraph of prose (already roff), or several separated by blank lines in `text`.
std::string paragraphs(std::string_view text) {
    std::string out;
    std::size_t at = 0;
    while (at < text.size()) {
        auto end = text.find("\n\n", at);
        if (end == std::string_view::npos) end = text.size();
        out += ".PP\n" + roff(joined(text.substr(at, end - at))) + "\n";
        at = end + 2;
    }
    return out;
}

// ---- shared prose ----

constexpr std::string_view kLookup =
    "looperd reads the file named by `--config FILE`, else "
    "`$XDG_CONFIG_HOME/looperd/looperd.toml` (`~/.config/looperd/looperd.toml` when "
    "XDG_CONFIG_HOME is not set), else `/etc/looperd/looperd.toml`. Only one file is read. A "
    "default file that does not exist is not an error; one that exists but cannot be read or "
    "is not valid is. Flags given on the command line override the file, key by key; a "
    "repeatable flag (`--osc-allow`, `--samples-root`, `--notify`) replaces the file's whole "
    "list.";

// What the state directory holds (docs/persistence.md).
constexpr std::string_view kStateDir =
    "`--state-dir`, else `$STATE_DIRECTORY` (set by systemd: `/var/lib/looperd` for the system "
    "service), else `$XDG_STATE_HOME/looperd`, else `~/.local/state/looperd`: `state.toml` (the "
    "rig, saved within a second of every change and restored at start), `sessions/<name>.toml` "
    "(named sessions), `takes/slot-<n>.wav` (recorded takes). Made with its parents, mode "
    "0700, when missing.";

}  // namespace

// ---- the commented configuration file ----

std::string config_template() {
    std::string out =
        "# looperd's configuration file, with every key at its default.\n"
        "#\n"
        "# looperd reads the file named by --config FILE, else "
        "$XDG_CONFIG_HOME/looperd/looperd.toml\n"
        "# (~/.config/looperd/looperd.toml when XDG_CONFIG_HOME is not set), else\n"
        "# /etc/looperd/looperd.toml. Flags given on the command line override the file; a "
        "repeatable\n"
        "# flag (--osc-allow, --samples-root, --notify) replaces the file's whole list.\n"
        "#\n"
        "# Every key is a command-line flag without its \"--\". Lines such as \"#osc-port = "
        "9950\" show the\n"
        "# default: remove the \"#\" and change the value to set it. An unknown key is an "
        "error, not\n"
        "# ignored. The keys come first; the rig tables ([master], [clock], [midi-map], "
        "[[slot]]) come\n"
        "# last, since every key after a [table] line belongs to that table.\n"
        "#\n"
        "# Check a file without starting looperd:   looperd --check-config --config "
        "looperd.toml\n"
        "# See what looperd would run with:         looperd --print-config\n"
        "# More in looperd.toml(5) and docs/configuration.md. This file is written from "
        "looperd's option\n"
        "# table (meson compile generate-docs): change the table, not the file.\n";
    std::string_view group;
    for (const auto& spec : option_specs()) {
        if (!spec.in_file) continue;
        if (spec.group != group) {
            group = spec.group;
            std::string rule = "\n# ---- " + std::string(group) + " ";
            if (rule.size() < kFileWidth + 1)
                rule += std::string(kFileWidth + 1 - rule.size(), '-');
            out += rule + "\n";
        }
        out += "\n";
        std::string_view help = spec.help;
        while (!help.empty()) {
            const auto nl = help.find('\n');
            out += "# " + std::string(help.substr(0, nl)) + "\n";
            help = nl == std::string_view::npos ? std::string_view{} : help.substr(nl + 1);
        }
        if (!has_default(spec)) out += "# Not set by default; for example:\n";
        out += "#" + shown_line(spec) + "\n";
    }
    out += R"(
# ---- The rig: what to set up at start-up -------------------------------------------------------
#
# The same tables as looperd's state file. Each key of a [[slot]] is the OSC address
# /slot/<n>/<key> with its value: the same names, ranges and meanings as in docs/osc.md.
# They are preloaded when there is no saved rig (the first start, with an empty state
# directory, or with no-state): once the rig has been saved, looperd comes back as it was left.

# The master section (/master/gain, linear 0 to 4; /monitor 1 passes every input in_k to out_k).
#[master]
#gain = 1.0
#monitor = 0

# The clock (/clock/tempo 20 to 999 BPM, /clock/meter 1 to 32 beats a bar, /clock/sync).
#[clock]
#tempo = 120.0
#meter = 4
#sync = "internal"          # or "jack" (JACK's transport), "midi" (MIDI clock on midi_in),
                            # "link" (an Ableton Link session, docs/link.md)

# MIDI bindings (docs/midi.md, "Bindings"): a note, CC, program change or pitch bend (with
# @channel, or any channel) to any address looperd answers, as /midi/bind takes them.
#[midi-map]
#bindings = [
#    "cc:7@1 /master/gain range=0:1",
#    "cc:16 /slot/0/pan relative=twos",
#    "note:40 /slot/3/record",
#]

# One [[slot]] per slot to preload. index: the slot's number <n>, as in /slot/<n>/... (slots are
# numbered from 0).
# take: true loads file as the slot's take (/slot/<n>/load_take: it loops, and can be
# overdubbed and undone like a recorded one); the state file marks the takes looperd keeps so.
# file: as given to /slot/<n>/load (relative to samples-dir, or absolute). Every other key is
# optional:
#   )" + slot_keys_list() +
           R"(
# quantize may be "none", "beat", "bar" or a number of beats; input is the input pair the slot
# records and monitors, monitor 1 passes it to the slot's outputs (docs/recording.md).
#[[slot]]
#index = 1
#file = "loops/drums.wav"
#gain = 0.8
#mode = "loop"
#quantize = "bar"
#beats = 8
#input = 1
#monitor = 0

#[[slot]]
#index = 2
#file = "one-shots/kick.wav"
#mode = "oneshot"
#choke = 1
)";
    return out;
}

// ---- looperd(1) ----

namespace {

std::string option_heading(const OptionSpec& spec) {
    std::string out;
    if (spec.short_name != '\0') out += "\\fB\\-" + std::string(1, spec.short_name) + "\\fR, ";
    out += roff_bold("--" + std::string(spec.name));
    if (!spec.metavar.empty()) {
        if (spec.kind == OptionKind::action_choice)
            out += roff_italic(spec.metavar);  // "[=json]" follows the name directly
        else
            out += " " + roff_italic(spec.metavar);
    }
    if (spec.negatable) out += ", " + roff_bold("--no-" + std::string(spec.name));
    return out;
}

std::string osc_section() {
    std::string out = ".SH OSC INTERFACE\n";
    out += paragraphs(
        "looperd listens for OSC 1.0 messages and bundles on UDP (`--osc-port`, `--osc-bind`). "
        "Slots are numbered from 0: `/slot/<n>/...` addresses slot n. A number may be sent as "
        "int32, int64, float32 or float64. A bundle's timetag schedules its messages to the "
        "frame. Every refused message is answered with `/error s:address s:reason` and logged; "
        "nothing already loaded or saved is lost. `looperd --print-osc` prints this table as "
        "Markdown, `--print-osc=json` as JSON for control surfaces; docs/osc.md explains each "
        "address.");
    out += ".SS Messages looperd accepts\n";
    for (const auto& r : osc::rows()) {
        if (r.role != osc::Role::control) continue;
        out += ".TP\n" + roff_bold(r.address);
        if (!r.args.empty()) out += " " + roff_italic(r.args);
        out += "\n" + roff(r.doc);
        if (r.recording) out += roff(" (recording)");
        out += ".";
        std::vector<std::string> facts;
        if (const auto range = osc::range_text(r); !range.empty())
            facts.push_back("Range: " + range);
        if (const auto def = osc::default_text(r); !def.empty()) facts.push_back("default: " + def);
        if (!r.unit.empty()) facts.push_back("unit: " + std::string(r.unit));
        if (r.saved) facts.push_back("saved in the rig");
        if (!r.echo.empty()) facts.push_back("echoed on `" + std::string(r.echo) + "`");
        if (!r.reply.empty()) facts.push_back("reply: " + std::string(r.reply));
        if (!facts.empty()) {
            std::string line;
            for (const auto& f : facts) line += (line.empty() ? "" : "; ") + f;
            line[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(line[0])));
            out += " " + roff(line) + ".";
        }
        out += "\n";
    }
    out += ".SS Messages looperd sends\n";
    for (const auto& r : osc::rows()) {
        if (r.role == osc::Role::control) continue;
        out += ".TP\n" + roff_bold(r.address);
        if (!r.args.empty()) out += " " + roff_italic(r.args);
        out += "\n" + roff(r.role == osc::Role::reply ? "A reply. " : "Feedback. ") + roff(r.doc) +
               "\n";
    }
    return out;
}

}  // namespace

std::string man_page_looperd(std::string_view version) {
    std::string out = title("LOOPERD", 1, version);
    out +=
        ".SH NAME\nlooperd \\- headless real\\-time sample player and looper for JACK, "
        "controlled over OSC\n";
    out += ".SH SYNOPSIS\n.B looperd\n.RI [ options ]\n";
    out += ".SH DESCRIPTION\n";
    out += paragraphs(
        "looperd is a JACK client that plays preloaded samples and records, overdubs and loops "
        "live input, sample-accurately, with no allocation, lock or system call on its audio "
        "thread. It is controlled over OSC (UDP) from a tablet, a script (`oscsend`) or a MIDI "
        "controller, and keeps control surfaces in sync with feedback. It runs in the "
        "foreground, logs to standard error (in the journal's own form under systemd) and "
        "tells systemd when it is ready (`Type=notify`, with a watchdog fed only while its "
        "audio thread runs).\n\n"
        "It starts without a JACK server and joins one when it appears; if the server goes "
        "away, looperd keeps its samples and plays again when it is back. The rig (loaded "
        "slots, their parameters, the clock, the master gain) is saved within a second of "
        "every change and restored at the next start.\n\n"
        "Every option of the sections before `Configuration file` may also be set in the "
        "configuration file, under its name without the dashes: see looperd.toml(5). Flags "
        "override the file.");
    out += ".SH OPTIONS\n";
    std::string_view group;
    for (const auto& spec : option_specs()) {
        if (spec.group != group) {
            group = spec.group;
            out += ".SS " + roff(group_title(group)) + "\n";
        }
        out += ".TP\n" + option_heading(spec) + "\n" + roff(joined(spec.help)) + "\n";
    }
    out += osc_section();
    out += ".SH SIGNALS\n";
    out += ".TP\n.BR SIGTERM \", \" SIGINT\n" +
           roff(
               "Stop cleanly: the DNS-SD announcement is withdrawn, the last changes to the "
               "rig are saved, looperd leaves JACK and exits with status 0.") +
           "\n";
    out += ".TP\n.B SIGKILL\n" +
           roff(
               "Or a power cut: the rig as saved within the last second comes back at the next "
               "start; state files are written atomically, never half.") +
           "\n";
    out += ".TP\n.B SIGPIPE\n" + roff("Ignored.") + "\n";
    out += ".PP\n" + roff("Other signals have their default effect.") + "\n";
    out += ".SH FILES\n";
    out += ".TP\n.I /etc/looperd/looperd.toml\n" +
           roff(
               "The system's configuration file, read when the user has none; every key is "
               "shown commented at its default. See looperd.toml(5).") +
           "\n";
    out += ".TP\n.I ~/.config/looperd/looperd.toml\n" +
           roff("The user's configuration file ($XDG_CONFIG_HOME/looperd/looperd.toml).") + "\n";
    out += ".TP\n.I /var/lib/looperd\n" +
           roff("The system service's state directory. In general the state directory is " +
                std::string(kStateDir)) +
           "\n";
    out += ".TP\n.I /etc/default/looperd\n" +
           roff("Read by the system unit: `LOOPERD_OPTS` adds flags to its command line.") + "\n";
    out += ".TP\n.I /lib/systemd/system/looperd.service\n" +
           roff(
               "The system unit, for a stage rig: `sudo systemctl enable --now looperd` (it runs "
               "as the user `looperd`, in the audio group; the user must be the one that runs "
               "jackd: set `User=` with `systemctl edit looperd`).") +
           "\n";
    out += ".TP\n.I /usr/lib/systemd/user/looperd.service\n" +
           roff(
               "The user unit, for a desktop session (PipeWire or jackd): `systemctl --user "
               "enable --now looperd`.") +
           "\n";
    out += ".TP\n.I /usr/share/doc/looperd/\n" +
           roff(
               "The documentation, and under examples/ the example samples, MIDI controller "
               "profiles, control surfaces (Open Stage Control, TouchOSC) and scripts.") +
           "\n";
    out += ".SH ENVIRONMENT\n";
    const std::vector<std::pair<std::string_view, std::string_view>> environment = {
        {"JACK_DEFAULT_SERVER", "The JACK server to join when `--jack-server` is not given."},
        {"XDG_CONFIG_HOME, HOME", "Where the user's configuration file is looked for."},
        {"STATE_DIRECTORY, XDG_STATE_HOME",
         "Where the rig is saved, when `--state-dir` is not given (see FILES)."},
        {"NSM_URL",
         "Set by the New Session Manager: looperd announces itself there, waits for the "
         "session to open, joins JACK under the client id NSM gives and keeps its rig, takes "
         "and links to its samples in the session's directory, saved when NSM says (no "
         "autosave). Unset: no session management."},
        {"NOTIFY_SOCKET, WATCHDOG_USEC",
         "Set by systemd: looperd reports readiness and status there and feeds the watchdog."},
        {"JOURNAL_STREAM",
         "Set by systemd: log lines then carry the journal's priority prefix instead of a time."},
    };
    for (const auto& [name, what] : environment)
        out += ".TP\n.B " + roff(name) + "\n" + roff(what) + "\n";
    out += ".SH EXIT STATUS\n";
    out += ".TP\n.B 0\n" +
           roff(
               "Stopped by SIGTERM or SIGINT; or `--help`, `--version`, `--print-osc`, "
               "`--print-config` or `--check-config` done.") +
           "\n";
    out += ".TP\n.B 1\n" +
           roff(
               "A failure at run time, logged and shown by `systemctl status`: the OSC port "
               "cannot be bound, the state directory is in use by another looperd, memory "
               "cannot be had.") +
           "\n";
    out += ".TP\n.B 2\n" +
           roff(
               "A bad flag or configuration file, with one line on standard error per "
               "problem; nothing was started.") +
           "\n";
    out += ".SH EXAMPLES\n";
    out += ".PP\n" + roff("Start on the running JACK server, listening to the whole LAN:") + "\n";
    out += ".PP\n.EX\nlooperd \\-\\-osc\\-bind 0.0.0.0 \\-\\-samples\\-dir /srv/samples\n.EE\n";
    out += ".PP\n" + roff("Load a sample into slot 0, loop it and play it:") + "\n";
    out +=
        ".PP\n.EX\noscsend 127.0.0.1 9950 /slot/0/load s drums.wav\n"
        "oscsend 127.0.0.1 9950 /slot/0/mode s loop\n"
        "oscsend 127.0.0.1 9950 /slot/0/play\n.EE\n";
    out += ".SH SEE ALSO\n";
    out +=
        ".BR looperd.toml (5),\n.BR jackd (1),\n.BR oscsend (1),\n.BR oscdump (1),\n"
        ".BR systemd.service (5)\n";
    return out;
}

// ---- looperd.toml(5) ----

std::string man_page_config(std::string_view version) {
    std::string out = title("LOOPERD.TOML", 5, version);
    out += ".SH NAME\nlooperd.toml \\- configuration file of looperd\n";
    out +=
        ".SH SYNOPSIS\n.I /etc/looperd/looperd.toml\n.br\n"
        ".I ~/.config/looperd/looperd.toml\n.br\n.B looperd \\-\\-config \\fIFILE\\fR\n";
    out += ".SH DESCRIPTION\n";
    out += paragraphs(
        std::string(kLookup) +
        "\n\nThe file is TOML. Every key is a command-line flag of looperd(1) without its "
        "`--`, with the same values and ranges. Whole numbers must be TOML integers (`9950`, "
        "not `\"9950\"`); numbers may be integers or floats; sizes are a string with a unit "
        "(`\"512M\"`, `\"2G\"`) or a number of bytes; lists are arrays of strings, even with "
        "one entry; a relative path is relative to the file's own directory. The keys come "
        "first: every key after a `[table]` line belongs to that table.\n\n"
        "An unknown key is an error, never ignored (a known key one or two edits away is "
        "suggested). Every problem is reported on its own line, as "
        "`<file>:<line>:<column>: key '<key>': <what>`, and looperd exits with status 2 "
        "without starting. `looperd --check-config` checks a file; `looperd --print-config` "
        "prints the configuration in effect.");
    out += ".SH KEYS\n";
    std::string_view group;
    for (const auto& spec : option_specs()) {
        if (!spec.in_file) continue;
        if (spec.group != group) {
            group = spec.group;
            out += ".SS " + roff(group_title(group)) + "\n";
        }
        out += ".TP\n" + roff_bold(spec.name) + "\n" + roff(joined(spec.help)) + " " +
               roff((has_default(spec) ? "Default: `" : "Not set by default; e.g. `") +
                    shown_line(spec) + "`.") +
               "\n";
    }
    out += ".SH RIG TABLES\n";
    out += paragraphs(
        "The same tables as looperd's state file: what to set up at start-up. They are "
        "preloaded only when there is no saved rig (the first start, with an empty state "
        "directory, or with `no-state`): once a rig has been saved, looperd comes back as it "
        "was left. Each key is the OSC address of the same name, with the same range and "
        "meaning (looperd(1), OSC INTERFACE).");
    const auto keys = rig_keys();
    for (const std::string_view table : {"master", "clock", "slot"}) {
        out += ".SS " + roff(table == "slot" ? "[[slot]]" : "[" + std::string(table) + "]") + "\n";
        if (table == "slot") {
            out += ".PP\n" +
                   roff(
                       "One per slot to preload. `index` (required): the slot's number, from "
                       "0. `file` (required): as given to `/slot/<n>/load`, relative to "
                       "samples-dir or absolute. `take = true` loads it as the slot's take "
                       "(`/slot/<n>/load_take`). The other keys are optional:") +
                   "\n";
        }
        for (const auto& k : keys) {
            if (k.table != table) continue;
            out += ".TP\n" + roff_bold(k.key) + "\n" + roff(k.row->doc) + ".";
            if (const auto range = osc::range_text(*k.row); !range.empty()) {
                const std::string unit =
                    k.row->unit.empty() ? "" : " (" + std::string(k.row->unit) + ")";
                out += " " + roff("Range: " + range + unit + ".");
            }
            if (const auto def = osc::default_text(*k.row); !def.empty())
                out += " " + roff("Default: " + def + ".");
            out += "\n";
        }
    }
    out += ".SS [midi-map]\n.TP\n.B bindings\n" +
           roff(
               "An array of strings, each a binding as `/midi/bind` takes it: a note, CC, "
               "program change or pitch bend (with `@channel`, or any channel) to any "
               "address looperd answers, e.g. `\"cc:7@1 /master/gain range=0:1\"`.") +
           "\n";
    out +=
        ".SH EXAMPLE\n.PP\n.EX\n"
        "osc\\-bind = \"0.0.0.0\"\n"
        "osc\\-allow = [\"192.168.1.0/24\", \"127.0.0.1\"]\n"
        "samples\\-dir = \"/srv/samples\"\n"
        "memory\\-budget = \"2G\"\n\n"
        "[clock]\ntempo = 96.0\n\n"
        "[[slot]]\nindex = 0\nfile = \"loops/drums.wav\"\nmode = \"loop\"\n"
        "quantize = \"bar\"\n.EE\n";
    out += ".SH FILES\n.TP\n.I /etc/looperd/looperd.toml\n" +
           roff("The system's file, installed with every key commented at its default.") +
           "\n.TP\n.I ~/.config/looperd/looperd.toml\n" + roff("The user's file.") + "\n";
    out += ".SH SEE ALSO\n.BR looperd (1)\n";
    return out;
}

}  // namespace looperd
