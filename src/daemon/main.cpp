// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// looperd: the daemon. Wires the threads together; every piece of work lives elsewhere.
//
//   main thread      parses options, starts everything, waits for a signal and runs the JACK
//                    connection's life cycle (JackLink::poll) meanwhile
//   network thread   OscServer::receive → decode → Controller::handle_packet → command ring
//   loader thread    (the Controller's SampleLoading) reads and converts files
//   audio thread     JACK's, JackClient::process → Engine::process
//   housekeeping     frees retired buffers, logs audio-thread events
//   feedback         tells control surfaces what changed, on a timer (Feedback)
//   DNS-SD           Avahi's thread: announces the OSC service through avahi-daemon
//
// Under NSM (docs/nsm.md) main() owns the session manager's socket: it announces, waits for
// the first open, and runs the daemon once per session; the main thread answers NSM between
// its JACK ticks, and a later open (a switch) ends the run so that main() starts the next.
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <variant>

#include "control/osc_schema.hpp"
#include "daemon/config_file.hpp"
#include "daemon/controller.hpp"
#include "daemon/dns_sd_publisher.hpp"
#include "daemon/dns_sd_service.hpp"
#include "daemon/feedback.hpp"
#include "daemon/housekeeping.hpp"
#include "daemon/logging.hpp"
#include "daemon/midi_profile.hpp"
#include "daemon/nsm_client.hpp"
#include "daemon/nsm_session.hpp"
#include "daemon/options.hpp"
#include "daemon/persistence.hpp"
#include "daemon/record_memory.hpp"
#include "daemon/rig_state.hpp"
#include "daemon/service_notify.hpp"
#include "daemon/session_store.hpp"
#include "daemon/version_report.hpp"
#include "daemon/worker_thread.hpp"
#include "io/jack_client.hpp"
#include "io/jack_link.hpp"
#include "io/link_session.hpp"
#include "io/memory_lock.hpp"
#include "io/net_allowlist.hpp"
#include "io/osc_server.hpp"
#include "io/rate_limiter.hpp"
#include "io/udp_links.hpp"
#include "looperd/engine.hpp"
#include "looperd/midi_commands.hpp"
#include "looperd/rt_guard.hpp"
#include "looperd/sample_buffer.hpp"

namespace {

using namespace looperd;

constexpr auto kExpiryInterval = std::chrono::milliseconds(100);
// How often the MIDI control thread takes bound messages: a CC moves its address at most this
// much later than the audio thread read it.
constexpr auto kMidiControlPeriod = std::chrono::milliseconds(5);
// How often a Link peer's tempo change is looked for: surfaces see it this much later (the
// grid itself follows the session every cycle).
constexpr auto kLinkFollowPeriod = std::chrono::milliseconds(50);

// <state directory>/takes, made with its parents (mode 0700, like the state directory) and
// canonical: where finished takes are kept (docs/recording.md). Empty, with a log line, when it
// cannot be made; a state directory that cannot be found is reported by the session store just
// after.
std::filesystem::path takes_directory(const std::filesystem::path& flag) {
    std::filesystem::path takes;
    try {
        takes = SessionStore::resolve_dir(flag) / "takes";
        make_private_directories(takes);
    } catch (const StoreError& e) {
        if (!takes.empty()) spdlog::error("{}: takes are not kept on disk", e.what());
        return {};
    }
    std::error_code ec;
    auto canonical = std::filesystem::canonical(takes, ec);
    return ec ? std::filesystem::path{} : canonical;
}

// The one line `systemctl status looperd` shows: what a technician checks first.
// "JACK connected, 48000 Hz/128; 3 slots loaded; OSC udp 0.0.0.0:9950", or
// "waiting for JACK server; 3 slots loaded; ..." while there is none.
std::string service_status_line(const std::string& jack_state, const JackClient& jack,
                                std::uint32_t slots_loaded, const Options& options,
                                std::uint16_t osc_port) {
    std::string line = jack_state == "disconnected"
                           ? std::string("waiting for JACK server")
                           : "JACK " + jack_state + ", " + std::to_string(jack.sample_rate()) +
                                 " Hz/" + std::to_string(jack.block_size());
    line += "; " + std::to_string(slots_loaded) + " slot" + (slots_loaded == 1 ? "" : "s") +
            " loaded; OSC udp " + options.osc_bind + ":" + std::to_string(osc_port);
    if (options.osc_multicast) line += " and group " + options.osc_multicast->to_string();
    if (const auto unlocked = SampleBuffer::unlocked_bytes(); unlocked > 0)
        line += "; " + format_bytes(unlocked) + " of samples not locked in RAM (LimitMEMLOCK)";
    return line;
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

// --osc-multicast (docs/multi-rig.md): the group is joined with the unicast socket, so that a
// missing interface fails the start as a port clash does.
void join_osc_multicast(const Options& options, OscServer& osc) {
    if (!options.osc_multicast) {
        if (!options.osc_multicast_interface.empty())
            spdlog::warn("--osc-multicast-interface {} does nothing without --osc-multicast",
                         options.osc_multicast_interface);
        return;
    }
    osc.join(*options.osc_multicast, options.osc_multicast_interface);
    spdlog::info("OSC multicast group {} joined on udp port {} through {}",
                 options.osc_multicast->to_string(), osc.port(),
                 options.osc_multicast_interface.empty() ? std::string("the kernel's choice")
                                                         : options.osc_multicast_interface);
    // Replies leave from the unicast socket: bound to loopback, it cannot reach another host.
    const auto bind = IpAddress::parse(options.osc_bind);
    const bool loopback =
        options.osc_bind == "localhost" ||
        (bind && bind->family == IpAddress::Family::v4 && bind->bytes[0] == 127) ||
        (bind && *bind == IpAddress::parse("::1"));
    if (loopback && options.osc_multicast_interface != "lo")
        spdlog::warn(
            "--osc-bind {} is loopback: messages from other hosts arrive through the "
            "group, but their replies and /error cannot reach them (--osc-bind 0.0.0.0 "
            "or this machine's LAN address)",
            options.osc_bind);
}

// DNS-SD (docs/control-surfaces.md): OSC browsers are told the port actually bound. Never
// fatal: looperd plays whether or not it is announced.
void start_dns_sd(const Options& options, std::uint16_t osc_port,
                  std::optional<DnsSdPublisher>& publisher) {
    if (!options.dns_sd) return;
    if (!DnsSdPublisher::built_in()) {
        spdlog::debug("DNS-SD: this build has no Avahi: the OSC service is not announced");
        return;
    }
    std::string why_not;
    auto service = plan_dns_sd(options, osc_port, LOOPERD_VERSION, local_host_name(),
                               local_interface_addresses(), why_not);
    if (!service) {
        spdlog::info("DNS-SD: not announced: {}", why_not);
        return;
    }
    if (!service->warning.empty()) spdlog::warn("DNS-SD: {}", service->warning);
    try {
        publisher.emplace(std::move(*service));
    } catch (const std::exception& e) {
        spdlog::warn("{}: the OSC service is not announced", e.what());
    }
}

// SIGINT and SIGTERM, blocked: the main thread takes them synchronously (sigtimedwait).
sigset_t stop_signals() {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    return signals;
}

// The dirty check reads the whole rig: a fader moved 100 times a second is looked at this often.
constexpr auto kDirtyCheckInterval = std::chrono::milliseconds(100);

// One run of the daemon in an NSM session (docs/nsm.md). main() makes it; run() answers the
// open once the session's rig is restored, then every save; an open arriving meanwhile is left
// in `next` and ends the run.
struct NsmRun {
    nsm::Client& client;
    std::filesystem::path dir;  // the session's directory, canonical
    bool opened = false;        // the open was answered
    std::optional<std::pair<nsm::Open, std::filesystem::path>> next;
};

int run(const Options& options, const std::optional<RigState>& preset,
        const std::optional<MidiProfile>& midi_profile, ServiceNotifier& service,
        NsmRun* nsm_run = nullptr) {
    // Signals are taken synchronously by the main thread only: block them before any thread
    // (JACK's included) starts, so that every thread inherits the mask.
    sigset_t signals = stop_signals();
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    // Before any other thread: mlockall covers what exists and what comes, when allowed.
    spdlog::info("{}", lock_process_memory());

    // Bind first: a port clash is the most common start-up mistake and should fail fast. In an
    // NSM session, where several looperds may start with one config, the clash is not fatal:
    // the kernel picks a free port and the log and the open's reply name it.
    auto bind_osc = [&options, nsm_run] {
        try {
            return std::make_unique<OscServer>(options.osc_bind, options.osc_port);
        } catch (const std::exception& e) {
            if (nsm_run == nullptr) throw;
            spdlog::warn("{}: OSC takes any free port in this NSM session", e.what());
            return std::make_unique<OscServer>(options.osc_bind, 0);
        }
    };
    const auto osc_socket = bind_osc();
    OscServer& osc = *osc_socket;
    join_osc_multicast(options, osc);

    const std::string server_name =
        !options.jack_server.empty()
            ? options.jack_server
            : (std::getenv("JACK_DEFAULT_SERVER") ? std::getenv("JACK_DEFAULT_SERVER") : "");
    service.status("waiting for JACK server" +
                   (server_name.empty() ? std::string() : " '" + server_name + "'"));
    // Not joined yet: the engine starts at the assumed rate and follows the server's once
    // JackLink joins it (now, or whenever a server appears).
    JackClient jack(options.client_name, server_name, options.outputs, options.sample_rate,
                    options.inputs, options.midi);
    // Ableton Link (docs/link.md): made now, joined only by /clock/sync link. It starts at the
    // schema's defaults: joining gives it looperd's tempo and meter.
    LinkSession ableton_link(osc::row(osc::Handler::clock_tempo).def,
                             osc::row(osc::Handler::clock_meter).def);
    if (LinkSession::available()) jack.set_link(&ableton_link);
    ableton_link.set_start_stop_sync(options.link_start_stop);

    EngineConfig engine_config;
    engine_config.outputs = options.outputs;
    engine_config.slots = options.slots;
    engine_config.voices = options.voices;
    engine_config.sample_rate = options.sample_rate;
    engine_config.command_capacity = options.command_capacity;
    engine_config.scheduled_capacity = options.max_scheduled;
    engine_config.fade_ms = options.fade_ms;
    // Recording (docs/recording.md): the pool makes what the first take needs here; the rest
    // is made on demand by the record memory thread (docs/recording.md#memory).
    engine_config.record_memory_on_demand = true;
    engine_config.inputs = options.inputs;
    engine_config.recorders = options.recorders;
    engine_config.max_record_seconds = options.max_record_seconds;
    engine_config.undo_levels = options.undo_levels;
    engine_config.undo_memory_mib = options.undo_memory_mib;
    Engine engine(engine_config);
    // Taken with the first block, before any note can arrive.
    engine.try_send(Command{CommandKind::set_velocity_curve, 0,
                            static_cast<float>(velocity_curve_named(options.velocity_curve))});
    if (!options.link_start_stop)
        engine.try_send(Command{CommandKind::set_start_stop_sync, 0, 0.0F});
    if (options.midi_clock_out) {
        if (options.midi) {
            engine.try_send(Command{CommandKind::set_midi_clock_out, 0, 1.0F});
        } else {
            spdlog::warn("--midi-clock-out has no port to go out on with --no-midi");
        }
    }
    if (engine.record_memory_bytes() > 0)
        spdlog::info(
            "recording: {} inputs, {} recorders of {:.1f} s; {} MiB made at start, the rest "
            "when wanted",
            options.inputs, options.recorders, options.max_record_seconds,
            engine.record_memory_bytes() >> 20);

    MemoryBudget budget(options.memory_budget);
    // The record buffer made at start is outside the budget, and stays (retire_spares keeps
    // it); the buffers made on demand are reserved in it (docs/recording.md#memory).
    const RecorderPool& pool = engine.recorder_pool();
    Housekeeping housekeeping(engine, budget, [&jack] { return jack.xruns(); });

    ControllerConfig controller_config;
    controller_config.slots = options.slots;
    controller_config.outputs = options.outputs;
    controller_config.inputs = options.inputs;
    controller_config.recorders = options.recorders;
    controller_config.max_scheduled = options.max_scheduled;
    controller_config.samples_dir =
        options.samples_dir.empty() ? std::filesystem::current_path() : options.samples_dir;
    controller_config.sample_roots = options.samples_roots;
    controller_config.fade_ms = options.fade_ms;
    // A bundle's commands go into the ring all or none.
    controller_config.command_room = [&engine] { return engine.command_room(); };
    controller_config.take_frames = [&engine](std::uint32_t slot) {
        return engine.take_frames(slot);
    };
    controller_config.max_record_frames = engine.max_record_frames();
    // Also with recording off: a rig saved with takes then plays them as samples.
    if (!options.no_state) controller_config.takes_dir = takes_directory(options.state_dir);
    GateCounters gate_counters;
    // Persistence, made once JACK runs (below); /status reads its state.
    std::unique_ptr<SessionStore> store;
    std::unique_ptr<Persistence> persistence;
    // Set once below; /status reads the connection's state through it.
    std::atomic<const JackLink*> jack_link{nullptr};
    Controller controller(
        controller_config, budget, [&engine](const Command& c) { return engine.try_send(c); },
        [&osc](const OscEndpoint& to, const OscMessage& m) {
            if (!osc.send(to, m)) spdlog::warn("cannot send {} to {}", m.address, to.to_string());
        },
        [&engine, &jack, &gate_counters, &persistence, &jack_link, &ableton_link,
         started = std::chrono::steady_clock::now()] {
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
            s.render_max_us = jack.render_max_us();
            s.dropped_not_allowed = gate_counters.not_allowed.load(std::memory_order_relaxed);
            s.dropped_rate_limited = gate_counters.rate_limited.load(std::memory_order_relaxed);
            s.state = persistence ? persistence->state_name() : "off";
            const JackLink* link = jack_link.load(std::memory_order_acquire);
            s.jack = to_string(link ? link->state() : JackState::disconnected);
            s.recorders_free = engine.free_recorders();
            s.midi_events = engine.midi_messages();
            s.midi_dropped = engine.midi_dropped();
            s.tempo = engine.clock_bpm();
            s.link_peers = static_cast<std::uint32_t>(ableton_link.peers());
            s.uptime_s =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
            return s;
        },
        // Loads convert to the engine's rate: the server's once joined, else --sample-rate.
        [&engine] { return engine.sample_rate(); },
        FrameClock{[&jack](std::uint64_t timetag) { return jack.frame_for_ntp(timetag); },
                   [&jack] { return jack.current_frame(); }});

    RecordMemory record_memory(pool, budget, options.sample_rate, [&controller](const Command& c) {
        return controller.send_internal(std::span<const Command>(&c, 1));
    });
    // Events about takes reach the controller (its mirror, the takes it keeps on disk), and
    // wake the record memory thread when a take may want memory.
    housekeeping.set_event_sink([&controller, &record_memory](const Event& e) {
        controller.engine_event(e);
        record_memory.heard(e);
    });
    housekeeping.start();
    record_memory.start();

    // The MIDI control thread: bound MIDI messages (docs/midi.md, "Bindings") from the engine to
    // the controller, which handles each as the OSC message of its binding's address. A poll
    // (the audio thread never wakes anyone) while midi_in has a connection; with none, no MIDI
    // can come, and it rests until JackLink sees one made.
    std::atomic<bool> midi_in_plugged{false};
    WorkerThread midi_control;
    if (options.midi)
        midi_control.start({.round =
                                [&engine, &controller] {
                                    MidiMessage m;
                                    while (engine.try_receive_midi(m)) controller.midi_message(m);
                                },
                            .next_period =
                                [&midi_in_plugged] {
                                    return WorkerThread::rest_unless(
                                        midi_in_plugged.load(std::memory_order_relaxed),
                                        kMidiControlPeriod);
                                },
                            .name = "midi-control"});

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
    // Feedback goes out through a connected socket per surface, which hears when one vanishes.
    UdpLinks feedback_links;
    Feedback feedback(
        feedback_config, engine, [&controller] { return controller.snapshot(); },
        [&feedback_links](const OscEndpoint& to, const std::vector<std::uint8_t>& datagram) {
            switch (feedback_links.send(to, datagram)) {
                case UdpLinks::Result::sent:
                    return Feedback::SendResult::sent;
                case UdpLinks::Result::refused:
                    return Feedback::SendResult::refused;
                case UdpLinks::Result::failed:
                    break;
            }
            return Feedback::SendResult::failed;
        });
    feedback.on_forget([&feedback_links](const OscEndpoint& to) { feedback_links.close(to); });
    controller.set_feedback(&feedback);
    feedback.set_stretching(
        [&controller](std::uint32_t slot) { return controller.stretching(slot); });
    controller.start_stretching(
        [&engine] { return engine.clock_bpm(); },
        [&engine](std::uint32_t slot) { return engine.take_content(slot); });
    feedback.set_link_peers(
        [&ableton_link] { return static_cast<std::uint32_t>(ableton_link.peers()); });
    // A peer's tempo becomes looperd's (mirrored, saved, echoed): Link is asked a few times a
    // second, from a thread of its own, never the audio thread; while Link is off the thread
    // rests, and joining the session wakes it.
    WorkerThread link_follow;
    controller.set_link({&ableton_link,
                         [&jack](double host_micros) { return jack.beat_at_host(host_micros); },
                         [&jack] { return jack.link_view(); }, options.link_start_stop,
                         [&link_follow] { link_follow.notify(); }});
    if (LinkSession::available())
        link_follow.start({.round = [&controller] { controller.follow_link(); },
                           .next_period =
                               [&ableton_link] {
                                   return WorkerThread::rest_unless(ableton_link.enabled(),
                                                                    kLinkFollowPeriod);
                               },
                           .name = "link-follow"});

    JackLinkConfig link_config;
    link_config.autoconnect = options.autoconnect;
    JackLink link(jack, engine, link_config, [&controller](std::uint32_t, std::uint32_t) {
        controller.reload_all();  // loaded samples follow the server's rate
    });
    // Takes and overdubs line up with what was heard: JACK's round trip plus the manual offset.
    controller.set_record_offset(options.record_offset);
    link.set_on_latency([&controller, &options](std::uint32_t round_trip) {
        const std::int64_t offset = std::int64_t{round_trip} + options.record_offset;
        spdlog::info("record offset: {} frames (JACK round trip {} + --record-offset {})", offset,
                     round_trip, options.record_offset);
        controller.set_record_offset(offset);
    });
    // The controller profile (docs/midi.md#lights): its init and every light go out each time
    // a controller may have come to midi_out (joining a server, a new connection) and on
    // /midi/leds/refresh.
    const bool lights = midi_profile && options.midi;
    if (lights) {
        link.set_on_midi_out([&controller] {
            const Command refresh = led_refresh_command();
            if (!controller.send_internal({&refresh, 1}))
                spdlog::warn("MIDI lights not refreshed: the command ring is full");
        });
    }
    if (options.midi) {
        link.set_on_midi_in([&midi_in_plugged, &midi_control](bool plugged) {
            midi_in_plugged.store(plugged, std::memory_order_relaxed);
            midi_control.notify();  // a round now: what came in, and the next wait
        });
    }
    jack_link.store(&link, std::memory_order_release);
    link.poll();  // joins the server now if it runs
    if (lights) {
        // The profile's lights and pad map, then a refresh that shows them. A ring smaller than
        // the profile (--command-capacity goes down to 16) takes it in pieces, each once the
        // audio thread (or, with no server, link.poll in its place) took the one before.
        auto commands = midi_profile_commands(*midi_profile, options.slots);
        commands.push_back(led_refresh_command());
        const std::size_t piece = std::max<std::size_t>(1, engine.config().command_capacity / 2);
        for (std::size_t at = 0; at < commands.size(); at += piece) {
            const std::span<const Command> part(commands.data() + at,
                                                std::min(piece, commands.size() - at));
            bool sent = controller.send_internal(part);
            for (int k = 0; k < 1000 && !sent; ++k) {
                link.poll();
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
                sent = controller.send_internal(part);
            }
            if (!sent) throw std::runtime_error("the command ring did not take the MIDI profile");
        }
        spdlog::info("MIDI profile: {} ({})", midi_profile->source, midi_profile->description);
    }
    feedback.start();

    // Persistence (docs/persistence.md): the saved rig is restored through the controller's
    // own handlers once the audio thread drains commands and before the first message is
    // handled; from then on every change is saved by the persister thread.
    if (!options.no_state) {
        store = std::make_unique<SessionStore>(SessionStore::resolve_dir(options.state_dir));
        SlotParams defaults;
        defaults.set_number("fade_out", options.fade_ms);
        // Under NSM the session is what was last saved: no autosave (docs/nsm.md).
        persistence = std::make_unique<Persistence>(
            *store, [&controller](std::uint64_t& changes) { return controller.snapshot(&changes); },
            [&controller] { return controller.changes(); }, defaults,
            std::chrono::milliseconds(250), nsm_run == nullptr);
        // A rig may hold more commands than the ring: wait (bounded) for the audio thread. On
        // the main thread (the restore just below) nobody else polls the link, so the wait does:
        // without a server, that is what applies the commands.
        const auto main_thread = std::this_thread::get_id();
        controller.set_pace([&engine, &link, main_thread] {
            const std::size_t half = engine.config().command_capacity / 2;
            for (int k = 0; k < 1000 && engine.queued_commands() > half; ++k) {
                if (std::this_thread::get_id() == main_thread) link.poll();
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
        });
        controller.set_persistence(persistence.get());
        spdlog::info("state directory: {}", store->dir().string());
        std::string damaged;
        if (auto rig = persistence->restore(&damaged)) {
            // A session's files are relative to its directory, wherever it was moved.
            if (nsm_run) rig = nsm::opened_rig(std::move(*rig), nsm_run->dir);
            controller.apply_rig(rig_messages(*rig), Controller::internal_endpoint());
        } else if (nsm_run && !damaged.empty()) {
            // Answered now: the session runs on, empty, with the damaged file set aside.
            nsm_run->client.error(nsm::kOpen, nsm::Error::bad_project, damaged);
            nsm_run->opened = true;
        } else if (preset) {
            // No saved rig yet (a first start, or one set aside): the config file's.
            spdlog::info("no saved rig: preloading the config file's ({} slot{})",
                         preset->slots.size(), preset->slots.size() == 1 ? "" : "s");
            controller.apply_rig(rig_messages(*preset), Controller::internal_endpoint());
        }
        persistence->start();
    } else {
        spdlog::info("--no-state: the rig is neither restored nor saved");
        if (preset) controller.apply_rig(rig_messages(*preset), Controller::internal_endpoint());
    }

    std::atomic<bool> stopping{false};
    SourceGate gate(options, gate_counters);
    std::thread network([&] {
        pthread_setname_np(pthread_self(), "osc");
        serve_osc(osc, controller, gate, stopping);
    });

    spdlog::info("looperd {} ready: JACK client '{}' {} at {} Hz, {} outputs; OSC on udp {}:{}{}",
                 LOOPERD_VERSION, jack.name(), to_string(link.state()), engine.sample_rate(),
                 options.outputs, options.osc_bind, osc.port(),
                 rt_guard::enabled() ? " (audio-thread guard on)" : "");
    if (!options.osc_allow.empty()) {
        std::string networks;
        for (const auto& n : options.osc_allow)
            networks += (networks.empty() ? "" : ", ") + n.to_string();
        spdlog::info("OSC accepted only from {}", networks);
    }
    for (const auto& root : controller.sample_roots())
        spdlog::info("sample root: {}", root.string());
    std::optional<DnsSdPublisher> dns_sd;
    start_dns_sd(options, osc.port(), dns_sd);

    // Service manager: READY once JACK is joined and OSC bound; a status line kept current;
    // the watchdog fed only while the audio thread makes progress or JACK is known to be away.
    auto jack_away = [&link] { return link.state() == JackState::disconnected; };
    auto status_line = [&] {
        return service_status_line(to_string(link.state()), jack, controller.slots_loaded(),
                                   options, osc.port());
    };
    std::string last_status = status_line();
    bool ready = false;
    std::optional<WatchdogFeeder> watchdog;
    if (const auto interval = service.watchdog_interval()) {
        watchdog.emplace(*interval);
        spdlog::info("service watchdog: {} ms, fed every {} ms while the audio thread runs",
                     interval->count() / 1000, watchdog->feed_interval().count() / 1000);
    }

    // NSM: the rig as last saved (or opened), against which the session is dirty or clean.
    // Compared as text, so that changes that cancel out leave the session clean.
    const SlotParams rig_defaults = persistence ? persistence->defaults() : SlotParams{};
    auto rig_text = [&controller, &rig_defaults] {
        return rig_to_toml(rig_from_mirror(controller.snapshot(), rig_defaults), true);
    };
    std::string clean_text;
    std::uint64_t checked_changes = 0;
    auto last_dirty_check = std::chrono::steady_clock::now();
    if (nsm_run) {
        clean_text = rig_text();
        checked_changes = controller.changes();
        if (!nsm_run->opened)
            nsm_run->client.reply(nsm::kOpen, "looperd " + nsm_run->dir.string() +
                                                  ", OSC on udp port " +
                                                  std::to_string(osc.port()));
        nsm_run->opened = true;
        nsm_run->client.reset_dirty(true);
        nsm_run->client.set_dirty(false);
    }
    // NSM's save: the rig with its samples linked into the session, written on this thread
    // (the persister writes only /session/save under NSM). Returns an error text or "".
    auto nsm_save = [&]() -> std::string {
        // One copy of the mirror: what is written and what later changes compare with.
        const RigState rig = rig_from_mirror(controller.snapshot(), rig_defaults);
        std::string text = rig_to_toml(rig, true);
        try {
            const RigState linked =
                nsm::linked_rig(rig, nsm_run->dir, controller.sample_roots().front());
            store->write(store->state_file(), rig_to_toml(linked, true));
        } catch (const std::exception& e) {
            return e.what();
        }
        clean_text = std::move(text);
        return "";
    };
    // NSM's messages, between ticks. Returns false when the run must end (a switch).
    auto serve_nsm = [&]() -> bool {
        while (auto request = nsm_run->client.receive(0)) {
            if (auto* open = std::get_if<nsm::Open>(&*request)) {
                try {
                    const auto dir = nsm::prepare_directory(open->path);
                    spdlog::info("NSM: switching to {} as '{}'", dir.string(), open->client_id);
                    nsm_run->next.emplace(*open, dir);
                    return false;
                } catch (const nsm::NsmError& e) {
                    nsm_run->client.error(nsm::kOpen, nsm::Error::create_failed, e.what());
                }
            } else if (std::holds_alternative<nsm::Save>(*request)) {
                if (!store) {
                    nsm_run->client.error(nsm::kSave, nsm::Error::general,
                                          "no state directory: nothing can be saved");
                } else if (const auto error = nsm_save(); !error.empty()) {
                    nsm_run->client.error(nsm::kSave, nsm::Error::general, error);
                } else {
                    spdlog::info("NSM: session saved to {}", store->state_file().string());
                    nsm_run->client.reply(nsm::kSave, "saved");
                    nsm_run->client.set_dirty(false);
                }
            } else if (const auto* bad = std::get_if<nsm::Malformed>(&*request)) {
                nsm_run->client.error(bad->address, bad->code, bad->why);
            } else if (const auto* ignored = std::get_if<nsm::Ignored>(&*request)) {
                spdlog::debug("NSM: {} ignored", ignored->address);
            }
        }
        // Dirty while the rig differs from what was last saved or opened.
        const auto now = std::chrono::steady_clock::now();
        if (now - last_dirty_check >= kDirtyCheckInterval) {
            last_dirty_check = now;
            if (const auto changes = controller.changes(); changes != checked_changes) {
                checked_changes = changes;
                nsm_run->client.set_dirty(rig_text() != clean_text);
            }
        }
        return true;
    };

    std::string stop_reason;
    for (;;) {
        // A lost server is noticed (and closed, off JACK's callback) within one wait.
        static_assert(JackLink::kPollJoined < std::chrono::seconds(1));  // tv_nsec only
        const auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(link.next_poll());
        const timespec tick{0, static_cast<long>(wait.count())};
        const int sig = sigtimedwait(&signals, nullptr, &tick);
        if (sig == SIGINT || sig == SIGTERM) {
            spdlog::info("{}: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
            stop_reason = sig == SIGINT ? "SIGINT" : "SIGTERM";
            break;
        }
        if (nsm_run && !serve_nsm()) {
            stop_reason = "switching NSM session";
            break;
        }
        link.poll();
        if (!ready && link.connects() > 0) {
            ready = true;
            last_status = status_line();
            service.ready(last_status);
        }
        if (watchdog &&
            watchdog->due(WatchdogFeeder::Clock::now(), jack.process_cycles(), jack_away()))
            service.watchdog();
        if (service.enabled()) {
            if (auto line = status_line(); line != last_status) {
                last_status = std::move(line);
                service.status(last_status);
            }
        }
        logging::expire_repeats();
    }
    service.stopping("stopping: " + stop_reason);
    dns_sd.reset();  // browsers stop listing looperd before it stops answering

    stopping = true;
    network.join();
    midi_control.stop();
    link_follow.stop();
    controller.stop();  // the loader thread reports nothing more
    record_memory.stop();
    if (persistence) persistence->stop();  // the last changes are saved
    feedback.stop();
    link.stop();  // the audio thread has stopped after this
    housekeeping.stop();
    spdlog::info("stopped");
    return 0;
}

// What the wait for NSM's first open ended with.
enum class NsmStart : std::uint8_t { opened, unmanaged, stopped };

// Announces looperd to the NSM server and waits for the first open, whose directory is made
// before it is accepted (an unusable one is answered /error and waited past). SIGINT or SIGTERM
// end the wait; a server that refuses looperd or is not there leaves it unmanaged.
NsmStart wait_for_nsm_open(nsm::Client& client, const char* argv0,
                           std::optional<std::pair<nsm::Open, std::filesystem::path>>& open) {
    const sigset_t signals = stop_signals();
    client.announce(std::filesystem::path(argv0).filename().string(), ::getpid());
    const timespec tick{0, 10'000'000};
    for (;;) {
        const int sig = sigtimedwait(&signals, nullptr, &tick);
        if (sig == SIGINT || sig == SIGTERM) {
            spdlog::info("{} while waiting for NSM's open: stopped",
                         sig == SIGINT ? "SIGINT" : "SIGTERM");
            return NsmStart::stopped;
        }
        while (auto request = client.receive(0)) {
            if (const auto* welcome = std::get_if<nsm::Welcome>(&*request)) {
                spdlog::info("NSM: {} ({}): {}", welcome->manager, welcome->capabilities,
                             welcome->message);
            } else if (const auto* refused = std::get_if<nsm::Refused>(&*request)) {
                spdlog::warn("NSM refused looperd ({}): {}: running unmanaged", refused->code,
                             refused->message);
                return NsmStart::unmanaged;
            } else if (const auto* o = std::get_if<nsm::Open>(&*request)) {
                try {
                    open.emplace(*o, nsm::prepare_directory(o->path));
                    return NsmStart::opened;
                } catch (const nsm::NsmError& e) {
                    client.error(nsm::kOpen, nsm::Error::create_failed, e.what());
                }
            } else if (std::holds_alternative<nsm::Save>(*request)) {
                client.error(nsm::kSave, nsm::Error::not_now, "no session is open yet");
            } else if (const auto* bad = std::get_if<nsm::Malformed>(&*request)) {
                client.error(bad->address, bad->code, bad->why);
            }
        }
        if (client.gone()) return NsmStart::unmanaged;
    }
}

// The daemon under NSM: one run per session, the next when NSM opens another. A session whose
// run fails to start is answered /error, and the session before it comes back from its last
// save, so that looperd stays in the session manager's hands.
int run_nsm_sessions(const Options& base, const std::optional<RigState>& preset,
                     const std::optional<MidiProfile>& midi_profile, ServiceNotifier& service,
                     nsm::Client& client, std::pair<nsm::Open, std::filesystem::path> open) {
    std::optional<std::pair<nsm::Open, std::filesystem::path>> previous;
    bool back = false;  // the previous session again: its open was answered long ago
    for (;;) {
        spdlog::info("NSM: session '{}' in {} as JACK client '{}'", open.first.display_name,
                     open.second.string(), open.first.client_id);
        NsmRun session{client, open.second, back, std::nullopt};
        try {
            const int code = run(nsm::session_options(base, open.first, open.second), preset,
                                 midi_profile, service, &session);
            if (!session.next) return code;
            previous = open;
            open = std::move(*session.next);
            back = false;
        } catch (const std::exception& e) {
            spdlog::critical("{}", e.what());
            if (!session.opened) client.error(nsm::kOpen, nsm::Error::general, e.what());
            // A session that ran and then failed is not swapped for another behind NSM's back.
            if (session.opened || !previous) return 1;
            spdlog::info("NSM: back to {}", previous->second.string());
            open = std::move(*previous);
            previous.reset();
            back = true;
        }
    }
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
        std::fputs(version_report().c_str(), stdout);
        return 0;
    }
    if (!options.print_osc.empty()) {
        std::fputs(options.print_osc == "json" ? osc::json_schema().c_str()
                                               : osc::markdown_table().c_str(),
                   stdout);
        return 0;
    }
    // The config file's rig ([master], [clock], [[slot]]) is checked as the OSC handlers check
    // it, before anything starts.
    std::optional<RigState> preset;
    if (!config.rig.empty()) {
        try {
            preset = parse_rig(config.rig, config.file ? config.file->string() : "config");
        } catch (const RigError& e) {
            std::fprintf(stderr, "looperd: %s\n", e.what());
            return 2;
        }
    }
    // The controller profile is checked before anything starts, like the config file.
    std::optional<MidiProfile> midi_profile;
    try {
        midi_profile = load_midi_profile(options.midi_profile);
    } catch (const ConfigError& e) {
        for (const auto& error : e.errors()) std::fprintf(stderr, "looperd: %s\n", error.c_str());
        return 2;
    }
    if (options.check_config) {
        std::printf("%s\n", check_config_report(config).c_str());
        return 0;
    }
    if (options.print_config) {
        std::fputs(format_config(config).c_str(), stdout);
        return 0;
    }
    logging::setup(options.log_level);
    ServiceNotifier service = ServiceNotifier::from_environment();
    // Blocked before anything waits: a SIGTERM while NSM's open is awaited ends looperd too.
    const sigset_t signals = stop_signals();
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    try {
        // Under NSM (docs/nsm.md) when NSM_URL names a server that can be reached.
        std::unique_ptr<nsm::Client> nsm_client;
        if (const char* url = std::getenv("NSM_URL"); url != nullptr && *url != '\0') {
            try {
                nsm_client = std::make_unique<nsm::Client>(url);
            } catch (const nsm::NsmError& e) {
                spdlog::warn("{}: running unmanaged", e.what());
            }
        }
        if (nsm_client) {
            std::optional<std::pair<nsm::Open, std::filesystem::path>> open;
            switch (wait_for_nsm_open(*nsm_client, argv[0], open)) {
                case NsmStart::stopped:
                    return 0;
                case NsmStart::opened:
                    return run_nsm_sessions(options, preset, midi_profile, service, *nsm_client,
                                            std::move(*open));
                case NsmStart::unmanaged:
                    break;
            }
        }
        return run(options, preset, midi_profile, service);
    } catch (const std::exception& e) {
        spdlog::critical("{}", e.what());
        // `systemctl status` shows why it failed, not only that it did.
        service.status(std::string("failed: ") + e.what());
        return 1;
    }
}
