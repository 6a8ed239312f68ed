// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// looperd: the daemon. Wires the threads together; every piece of work lives elsewhere.
//
//   main thread      parses options, starts everything, waits for a signal or JACK's exit
//   network thread   OscServer::receive → decode → Controller::handle_packet → command ring
//   loader thread    (Controller's LoadWorker) reads and converts files
//   audio thread     JACK's, JackClient::process → Engine::process
//   housekeeping     frees retired buffers, logs audio-thread events
//   feedback         tells control surfaces what changed, on a timer (Feedback)
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <thread>

#include "daemon/config_file.hpp"
#include "daemon/controller.hpp"
#include "daemon/feedback.hpp"
#include "daemon/housekeeping.hpp"
#include "daemon/options.hpp"
#include "io/jack_client.hpp"
#include "io/net_allowlist.hpp"
#include "io/osc_server.hpp"
#include "io/rate_limiter.hpp"
#include "looperd/engine.hpp"
#include "looperd/rt_guard.hpp"

namespace {

using namespace looperd;

constexpr auto kExpiryInterval = std::chrono::milliseconds(100);

void setup_logging(const std::string& level) {
    auto logger = spdlog::stderr_color_mt("looperd");
    spdlog::set_default_logger(logger);
    spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
    spdlog::set_level(spdlog::level::from_str(level));
}

// What the network thread drops before decoding. Written by it, read by /status (also on it)
// and nowhere else that needs ordering: relaxed is enough.
struct GateCounters {
    std::atomic<std::uint64_t> not_allowed{0};
    std::atomic<std::uint64_t> rate_limited{0};
};

// Network thread: whether a datagram from `from` may be decoded at all. Dropped datagrams get
// no reply; the log says so at most once per reason every 10 s, with how many it did not say.
class SourceGate {
  public:
    SourceGate(const Options& options, GateCounters& counters)
        : allowlist_(options.osc_allow),
          limiter_(options.osc_rate, options.osc_burst),
          counters_(counters),
          log_(1, std::chrono::seconds(10), 2) {}

    bool admit(const OscEndpoint& from) {
        const auto source = IpAddress::from_sockaddr(from.addr, from.len);
        const auto now = LimiterClock::now();
        if (!allowlist_.allows(source)) {
            counters_.not_allowed.fetch_add(1, std::memory_order_relaxed);
            note("not in --osc-allow", from, now);
            return false;
        }
        if (source && !limiter_.admit(*source, now)) {
            counters_.rate_limited.fetch_add(1, std::memory_order_relaxed);
            note("over --osc-rate", from, now);
            return false;
        }
        return true;
    }

    // Logs what was held back once its window has ended.
    void expire() {
        ended_.clear();
        log_.expire(LimiterClock::now(), ended_);
        report();
    }

  private:
    void note(const char* why, const OscEndpoint& from, LimiterClock::time_point now) {
        ended_.clear();
        const bool say = log_.admit(why, now, ended_);
        report();
        if (say) spdlog::warn("dropping datagrams from {}: {}", from.to_string(), why);
    }
    void report() {
        for (const auto& s : ended_)
            spdlog::warn("{} more datagram(s) dropped: {}", s.count, s.key);
    }

    NetAllowlist allowlist_;
    SourceRateLimiter limiter_;
    GateCounters& counters_;
    KeyedWindowLimiter log_;
    std::vector<KeyedWindowLimiter::Suppressed> ended_;
};

// Network thread: one datagram at a time, with a short timeout so that shutdown is prompt.
void serve_osc(OscServer& server, Controller& controller, SourceGate& gate,
               const std::atomic<bool>& stopping) {
    std::vector<std::uint8_t> packet;
    OscEndpoint from;
    bool truncated = false;
    auto last_expiry = LimiterClock::now();
    while (!stopping.load(std::memory_order_relaxed)) {
        try {
            // The limits' windows end on time even when nothing arrives to end them.
            if (const auto now = LimiterClock::now(); now - last_expiry >= kExpiryInterval) {
                last_expiry = now;
                controller.expire_error_limits();
                gate.expire();
            }
            if (!server.receive(packet, from, truncated, 100)) continue;
            if (!gate.admit(from)) continue;
            if (truncated) {
                controller.reject_packet(
                    "datagram larger than " + std::to_string(kMaxOscPacketBytes) + " bytes", from);
                continue;
            }
            std::vector<OscMessage> messages;
            try {
                messages = decode_osc_packet(packet.data(), packet.size());
            } catch (const OscDecodeError& e) {
                controller.reject_packet(e.what(), from);
                continue;
            }
            controller.handle_packet(messages, from);
        } catch (const std::exception& e) {
            // Nothing a peer sends may stop the network thread.
            spdlog::error("network thread: {}", e.what());
        }
    }
}

int run(const Options& options) {
    // Signals are taken synchronously by the main thread only: block them before any thread
    // (JACK's included) starts, so that every thread inherits the mask.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    // Bind first: a port clash is the most common start-up mistake and should fail fast.
    OscServer osc(options.osc_bind, options.osc_port);

    const std::string server_name =
        !options.jack_server.empty()
            ? options.jack_server
            : (std::getenv("JACK_DEFAULT_SERVER") ? std::getenv("JACK_DEFAULT_SERVER") : "");
    JackClient jack(options.client_name, server_name, options.outputs);

    EngineConfig engine_config;
    engine_config.outputs = options.outputs;
    engine_config.slots = options.slots;
    engine_config.voices = options.voices;
    engine_config.sample_rate = jack.sample_rate();
    engine_config.command_capacity = options.command_capacity;
    engine_config.scheduled_capacity = options.max_scheduled;
    engine_config.fade_ms = options.fade_ms;
    Engine engine(engine_config);

    MemoryBudget budget(options.memory_budget);
    Housekeeping housekeeping(engine, budget, [&jack] { return jack.xruns(); });
    housekeeping.start();

    ControllerConfig controller_config;
    controller_config.slots = options.slots;
    controller_config.outputs = options.outputs;
    controller_config.max_scheduled = options.max_scheduled;
    controller_config.samples_dir =
        options.samples_dir.empty() ? std::filesystem::current_path() : options.samples_dir;
    controller_config.sample_roots = options.samples_roots;
    controller_config.fade_ms = options.fade_ms;
    GateCounters gate_counters;
    Controller controller(
        controller_config, budget, [&engine](const Command& c) { return engine.try_send(c); },
        [&osc](const OscEndpoint& to, const OscMessage& m) {
            if (!osc.send(to, m)) spdlog::warn("cannot send {} to {}", m.address, to.to_string());
        },
        [&engine, &jack, &gate_counters] {
            RuntimeStatus s;
            s.voices = engine.active_voices();
            s.voices_max = engine.config().voices;
            s.sample_rate = jack.sample_rate();
            s.block_size = jack.block_size();
            s.xruns = jack.xruns();
            s.dropped = engine.dropped_commands();
            s.refused_voices = engine.refused_voices();
            s.late = engine.late_commands();
            s.scheduled_refused = engine.refused_scheduled();
            s.dsp_load = jack.dsp_load();
            s.dropped_not_allowed = gate_counters.not_allowed.load(std::memory_order_relaxed);
            s.dropped_rate_limited = gate_counters.rate_limited.load(std::memory_order_relaxed);
            return s;
        },
        [&jack] { return jack.sample_rate(); },
        FrameClock{[&jack](std::uint64_t timetag) { return jack.frame_for_ntp(timetag); },
                   [&jack] { return jack.current_frame(); }});

    FeedbackConfig feedback_config;
    for (const auto& url : options.notify) {
        std::string why;
        auto to = OscServer::resolve_url(url, why);
        if (!to) throw std::runtime_error("--notify: " + why);
        feedback_config.static_subscribers.push_back(*to);
    }
    feedback_config.feedback_port = options.feedback_port;
    feedback_config.max_subscribers = options.max_subscribers;
    feedback_config.subscriber_timeout_s = options.subscriber_timeout_s;
    feedback_config.feedback_rate = options.feedback_rate;
    feedback_config.position_rate = options.position_rate;
    feedback_config.outputs = options.outputs;
    Feedback feedback(
        feedback_config, engine, [&controller] { return controller.snapshot(); },
        [&osc](const OscEndpoint& to, const std::vector<std::uint8_t>& datagram) {
            return osc.send_packet(to, datagram);
        });
    controller.set_feedback(&feedback);

    jack.activate(engine);
    feedback.start();
    if (options.autoconnect) {
        const auto n = jack.connect_physical_outputs();
        if (n == 0)
            spdlog::warn(
                "no physical playback ports to connect to (use --no-autoconnect to silence)");
        else
            spdlog::info("connected {} output(s) to physical playback ports", n);
    }

    std::atomic<bool> stopping{false};
    SourceGate gate(options, gate_counters);
    std::thread network([&] { serve_osc(osc, controller, gate, stopping); });

    spdlog::info(
        "looperd {} ready: JACK client '{}' at {} Hz, {} frames, {} outputs; OSC on udp {}:{}{}",
        LOOPERD_VERSION, jack.name(), jack.sample_rate(), jack.block_size(), options.outputs,
        options.osc_bind, osc.port(), rt_guard::enabled() ? " (audio-thread guard on)" : "");
    if (!options.osc_allow.empty()) {
        std::string networks;
        for (const auto& n : options.osc_allow)
            networks += (networks.empty() ? "" : ", ") + n.to_string();
        spdlog::info("OSC accepted only from {}", networks);
    }
    for (const auto& root : controller.sample_roots())
        spdlog::info("sample root: {}", root.string());

    int exit_code = 0;
    const timespec tick{0, 100'000'000};
    for (;;) {
        const int sig = sigtimedwait(&signals, nullptr, &tick);
        if (sig == SIGINT || sig == SIGTERM) {
            spdlog::info("{}: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
            break;
        }
        if (jack.server_gone()) {
            spdlog::critical("the JACK server went away ({}); exiting", jack.shutdown_reason());
            exit_code = 1;
            break;
        }
    }

    stopping = true;
    network.join();
    controller.stop();  // the loader thread reports nothing more
    feedback.stop();
    jack.close();  // the audio thread has stopped after this
    housekeeping.stop();
    spdlog::info("stopped");
    return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
    // Options come from the config file with the flags on top (docs/configuration.md).
    LoadedConfig config;
    try {
        config = load_config(argc, argv, ConfigLookup::from_environment());
    } catch (const ConfigError& e) {
        for (const auto& error : e.errors()) std::fprintf(stderr, "looperd: %s\n", error.c_str());
        return 2;
    } catch (const OptionsError& e) {
        std::fprintf(stderr, "looperd: %s\n", e.what());
        return 2;
    }
    const Options& options = config.options;
    if (options.help) {
        std::fputs(usage().c_str(), stdout);
        return 0;
    }
    if (options.version) {
        std::printf("looperd %s\n", LOOPERD_VERSION);
        return 0;
    }
    if (options.check_config) {
        std::printf("%s\n", check_config_report(config).c_str());
        return 0;
    }
    if (options.print_config) {
        std::fputs(format_config(config).c_str(), stdout);
        return 0;
    }
    setup_logging(options.log_level);
    try {
        return run(options);
    } catch (const std::exception& e) {
        spdlog::critical("{}", e.what());
        return 1;
    }
}
