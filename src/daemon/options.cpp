// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "daemon/options.hpp"

#include <charconv>
#include <cmath>
#include <string_view>

#include "io/osc_server.hpp"

namespace looperd {

namespace {

template <typename T>
T parse_uint(std::string_view flag, const std::string& text, T min, T max) {
    std::uint64_t v = 0;
    const auto* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, v);
    if (text.empty() || ec != std::errc{} || ptr != end || v < min || v > max)
        throw OptionsError(std::string(flag) + ": expected a whole number from " +
                           std::to_string(min) + " to " + std::to_string(max) + ", got '" + text +
                           "'");
    return static_cast<T>(v);
}

float parse_float(std::string_view flag, const std::string& text, float min, float max) {
    std::size_t used = 0;
    float v = 0.0F;
    try {
        v = std::stof(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != text.size() || text.empty() || !std::isfinite(v) || v < min || v > max)
        throw OptionsError(std::string(flag) + ": expected a number from " + std::to_string(min) +
                           " to " + std::to_string(max) + ", got '" + text + "'");
    return v;
}

}  // namespace

std::uint64_t parse_byte_size(const std::string& text) {
    std::string digits = text;
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
        if (unit != 1) digits.pop_back();
    }
    const auto n = parse_uint<std::uint64_t>("--memory-budget", digits, 1, (1ULL << 40));
    if (n > (1ULL << 40) / unit) throw OptionsError("--memory-budget: at most 1024G");
    return n * unit;
}

std::string usage() {
    return R"(Usage: looperd [options]

A headless real-time sample player and looper for JACK, controlled over OSC (UDP).

JACK:
  --jack-server NAME      JACK server to join (default: $JACK_DEFAULT_SERVER, else JACK's default)
  --client-name NAME      JACK client name (default: looperd)
  --outputs N             output ports out_1..out_N (default: 2, at most 64)
  --no-autoconnect        do not connect the outputs to the physical playback ports
  --sample-rate HZ        the rate assumed until a JACK server is joined (default: 48000);
                          once joined, looperd follows the server's rate

OSC:
  --osc-port PORT         UDP port to listen on (default: 9950)
  --osc-bind ADDRESS      address to listen on (default: 127.0.0.1; 0.0.0.0 for every interface)
  --osc-allow CIDR        accept datagrams only from this network, e.g. 192.168.1.0/24, 10.0.0.7,
                          fe80::/10 (repeatable; once given, loopback is not implied: add
                          127.0.0.1 for local tools). Default: every source that reaches the
                          bound address
  --osc-rate N            datagrams per second per source IP at most; 0: no limit (default: 2000)
  --osc-burst N           datagrams a source may send at once above that rate (default: 500)

Engine:
  --slots N               sample slots, numbered from 0 (default: 128)
  --voices N              voices playing at once (default: 256)
  --samples-dir DIR       where relative load paths resolve (default: the current directory)
  --samples-root DIR      another directory load paths may lie in (repeatable); paths outside
                          --samples-dir and every --samples-root are refused
  --memory-budget SIZE    most sample memory to hold, e.g. 512M, 2G (default: 1G)
  --command-capacity N    commands queued for the audio thread at most (default: 1024)
  --max-scheduled N       timetagged commands waiting for their frame at most (default: 1024,
                          at most 65536)
  --fade-ms MS            fade applied on stop, retrigger and unload (default: 5)

Feedback (control surfaces that stay in sync; see docs/osc.md):
  --notify URL            send feedback to osc.udp://host:port/ always (repeatable)
  --feedback-port PORT    subscribe every client that sends a message, at its IP and this port
                          (default: off)
  --max-subscribers N     subscribers at once, 1 to 256 (default: 16)
  --subscriber-timeout S  drop a /notify or zero-configuration subscriber silent this many
                          seconds, 1 to 86400 (default: 60)
  --feedback-rate HZ      bursts per second per subscriber at most, 1 to 200 (default: 30)
  --position-rate HZ      position and meter updates per second, 1 to 100 (default: 20)

State (see docs/persistence.md):
  --state-dir DIR         where the rig is saved and restored, and sessions live (default:
                          $STATE_DIRECTORY, else $XDG_STATE_HOME/looperd, else
                          ~/.local/state/looperd)
  --no-state              neither restore nor save the rig; /session/* answer /error

General:
  --log-level LEVEL       trace, debug, info, warn or error (default: info)
  --help                  print this help and exit
  --version               print the version and exit
)";
}

Options parse_options(int argc, const char* const* argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view flag = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw OptionsError(std::string(flag) + ": missing value");
            return argv[++i];
        };
        if (flag == "--help" || flag == "-h") {
            o.help = true;
        } else if (flag == "--version" || flag == "-V") {
            o.version = true;
        } else if (flag == "--jack-server") {
            o.jack_server = value();
        } else if (flag == "--client-name") {
            o.client_name = value();
            if (o.client_name.empty()) throw OptionsError("--client-name: must not be empty");
        } else if (flag == "--outputs") {
            o.outputs = parse_uint<std::uint32_t>(flag, value(), 1, limits::kMaxOutputs);
        } else if (flag == "--slots") {
            o.slots = parse_uint<std::uint32_t>(flag, value(), 1, limits::kMaxSlots);
        } else if (flag == "--voices") {
            o.voices = parse_uint<std::uint32_t>(flag, value(), 1, limits::kMaxVoices);
        } else if (flag == "--osc-port") {
            o.osc_port = parse_uint<std::uint16_t>(flag, value(), 1, 65535);
        } else if (flag == "--osc-bind") {
            o.osc_bind = value();
        } else if (flag == "--osc-allow") {
            std::string why;
            auto network = IpNetwork::parse(value(), why);
            if (!network) throw OptionsError("--osc-allow: " + why);
            o.osc_allow.push_back(*network);
        } else if (flag == "--osc-rate") {
            o.osc_rate = parse_uint<std::uint32_t>(flag, value(), 0, 1'000'000);
        } else if (flag == "--osc-burst") {
            o.osc_burst = parse_uint<std::uint32_t>(flag, value(), 1, 1'000'000);
        } else if (flag == "--samples-dir") {
            o.samples_dir = value();
            if (o.samples_dir.empty()) throw OptionsError("--samples-dir: must not be empty");
        } else if (flag == "--samples-root") {
            std::filesystem::path root = value();
            if (root.empty()) throw OptionsError("--samples-root: must not be empty");
            o.samples_roots.push_back(std::move(root));
        } else if (flag == "--sample-rate") {
            o.sample_rate = parse_uint<std::uint32_t>(flag, value(), 8000, 768000);
        } else if (flag == "--no-autoconnect") {
            o.autoconnect = false;
        } else if (flag == "--memory-budget") {
            o.memory_budget = parse_byte_size(value());
        } else if (flag == "--command-capacity") {
            o.command_capacity =
                parse_uint<std::size_t>(flag, value(), 16, limits::kMaxCommandCapacity);
        } else if (flag == "--max-scheduled") {
            o.max_scheduled =
                parse_uint<std::size_t>(flag, value(), 1, limits::kMaxScheduledCapacity);
        } else if (flag == "--fade-ms") {
            o.fade_ms = parse_float(flag, value(), 0.1F, 1000.0F);
        } else if (flag == "--notify") {
            const std::string url = value();
            std::string why;
            if (!OscServer::resolve_url(url, why)) throw OptionsError("--notify: " + why);
            o.notify.push_back(url);
        } else if (flag == "--feedback-port") {
            o.feedback_port = parse_uint<std::uint16_t>(flag, value(), 1, 65535);
        } else if (flag == "--max-subscribers") {
            o.max_subscribers = parse_uint<std::uint32_t>(flag, value(), 1, 256);
        } else if (flag == "--subscriber-timeout") {
            o.subscriber_timeout_s = parse_uint<std::uint32_t>(flag, value(), 1, 86400);
        } else if (flag == "--feedback-rate") {
            o.feedback_rate = parse_uint<std::uint32_t>(flag, value(), 1, 200);
        } else if (flag == "--position-rate") {
            o.position_rate = parse_uint<std::uint32_t>(flag, value(), 1, 100);
        } else if (flag == "--state-dir") {
            o.state_dir = value();
            if (o.state_dir.empty()) throw OptionsError("--state-dir: must not be empty");
        } else if (flag == "--no-state") {
            o.no_state = true;
        } else if (flag == "--log-level") {
            o.log_level = value();
            if (o.log_level != "trace" && o.log_level != "debug" && o.log_level != "info" &&
                o.log_level != "warn" && o.log_level != "error")
                throw OptionsError("--log-level: expected trace, debug, info, warn or error");
        } else {
            throw OptionsError("unknown option '" + std::string(flag) + "' (see --help)");
        }
    }
    return o;
}

}  // namespace looperd
