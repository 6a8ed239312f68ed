// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "io/jack_link.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>

namespace looperd {

namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

// libjack reports every refused connection attempt as an error line. While waiting for a
// server those are expected and repeated every retry, so the main thread's attempts log them
// at debug level; everything else libjack says is a warning.
thread_local bool t_opening = false;

void jack_error_to_log(const char* message) {
    if (t_opening) {
        spdlog::debug("JACK: {}", message);
    } else {
        spdlog::warn("JACK: {}", message);
    }
}

void jack_info_to_log(const char* message) {
    spdlog::debug("JACK: {}", message);
}

double seconds(JackLink::Clock::duration d) {
    return std::chrono::duration<double>(d).count();
}

}  // namespace

const char* to_string(JackState s) noexcept {
    switch (s) {
        case JackState::connected:
            return "connected";
        case JackState::stalled:
            return "stalled";
        case JackState::disconnected:
            break;
    }
    return "disconnected";
}

JackLink::JackLink(JackClient& client, Engine& engine, JackLinkConfig config,
                   RateChanged on_rate_changed)
    : client_(client),
      engine_(engine),
      config_(config),
      on_rate_changed_(std::move(on_rate_changed)),
      backoff_(config.retry_first) {
    jack_set_error_function(jack_error_to_log);
    jack_set_info_function(jack_info_to_log);
}

JackLink::~JackLink() {
    stop();
}

void JackLink::stop() {
    const JackState was = state_.exchange(JackState::disconnected, std::memory_order_relaxed);
    if (was == JackState::stalled && client_.is_open() && !client_.server_gone()) {
        spdlog::warn(
            "JACK: leaving the stalled server's client open: closing it would wait for "
            "the server");
        client_.abandon();
        return;
    }
    client_.close();
}

JackState JackLink::state() const noexcept {
    // The shutdown callback's flag is seen at once, before poll() has closed the client.
    if (client_.server_gone()) return JackState::disconnected;
    return state_.load(std::memory_order_relaxed);
}

std::string JackLink::server_text() const {
    return client_.server_name().empty() ? std::string("the JACK server")
                                         : "the JACK server '" + client_.server_name() + "'";
}

void JackLink::poll() {
    const auto now = Clock::now();
    if (client_.is_open() && client_.server_gone()) lose(now);
    if (!client_.is_open()) {
        // No audio thread runs: take its part, so that what is sent meanwhile is applied now
        // (gains, loads, plays for when the server is back) instead of filling the ring.
        engine_.apply_commands_while_stopped();
        if (now >= next_attempt_) try_connect(now);
        return;
    }
    follow_rate();
    if (client_.take_latency_changed() && on_latency_) on_latency_(client_.round_trip_frames());
    watch_cycles(now);
    // A stopped server's graph may be half written: read it again once it runs.
    if (state_.load(std::memory_order_relaxed) == JackState::connected) {
        track_connections(now);
        reach_midi_out_again(now);
    }
}

void JackLink::try_connect(Clock::time_point now) {
    std::string why;
    t_opening = true;
    const bool opened = client_.open(why);
    t_opening = false;
    if (!opened) {
        // Once per outage (and once at a start without a server), not once per attempt.
        if (!waiting_logged_) {
            spdlog::warn("waiting for {} ({}); retrying every {} ms at most", server_text(), why,
                         config_.retry_max.count());
            waiting_logged_ = true;
        }
        next_attempt_ = now + backoff_;
        backoff_ = std::min(backoff_ * 2, config_.retry_max);
        return;
    }

    // No audio thread runs until activate(): the engine's rate and resume are set now.
    follow_rate();
    if (connects() > 0) engine_.resume_after_gap();
    try {
        client_.activate(engine_);
    } catch (const std::exception& e) {
        spdlog::error("{}; retrying", e.what());
        client_.close();
        next_attempt_ = now + backoff_;
        backoff_ = std::min(backoff_ * 2, config_.retry_max);
        return;
    }
    const bool first = connects() == 0;
    connects_.fetch_add(1, std::memory_order_relaxed);
    last_cycles_ = client_.process_cycles();
    last_progress_ = now;
    last_query_ = now;
    waiting_logged_ = false;
    backoff_ = config_.retry_first;
    // Connected once the ports are plugged in again, so /status never says so before.
    const std::uint32_t connected = restore_connections();
    state_.store(JackState::connected, std::memory_order_relaxed);
    // A controller on midi_out lost its lights with the server (or never had them).
    reach_midi_out(now);
    if (first) {
        spdlog::info("JACK: joined {} as '{}' at {} Hz, {} frames", server_text(), client_.name(),
                     client_.sample_rate(), client_.block_size());
        if (config_.autoconnect) {
            if (connected == 0) {
                spdlog::warn(
                    "no physical playback ports to connect to (use --no-autoconnect to silence)");
            } else {
                spdlog::info("connected {} output(s) to physical playback ports", connected);
            }
        }
    } else {
        spdlog::info(
            "JACK: rejoined {} as '{}' at {} Hz, {} frames, {:.2f} s after it went away; {} "
            "connection(s) restored; samples kept, playing voices fade in again",
            server_text(), client_.name(), client_.sample_rate(), client_.block_size(),
            seconds(now - lost_at_), connected);
    }
}

void JackLink::lose(Clock::time_point now) {
    const std::string reason = client_.shutdown_reason();
    // Before close() clears the client's flag, so that state() never says connected between.
    state_.store(JackState::disconnected, std::memory_order_relaxed);
    client_.close();
    lost_at_ = now;
    lost_before_ = true;
    midi_out_reached_.reset();  // joining again sends them
    // A server going down unplugs our ports before it says so: what was plugged in a moment
    // ago is what is restored.
    for (auto& r : remembered_) r.missing_since.reset();
    set_midi_in_plugged(false);
    spdlog::warn(
        "JACK: {} went away ({}); samples stay loaded, OSC is still served, and looperd "
        "rejoins when the server is back",
        server_text(), reason.empty() ? "no reason given" : reason);
    waiting_logged_ = false;
    backoff_ = config_.retry_first;
    next_attempt_ = now + config_.retry_first;
}

void JackLink::follow_rate() {
    const std::uint32_t rate = client_.sample_rate();
    const std::uint32_t engine_rate = engine_.sample_rate();
    if (rate == 0 || rate == engine_rate) return;
    spdlog::warn(
        "JACK runs at {} Hz, the engine at {} Hz: following the server; loaded samples are "
        "converted again",
        rate, engine_rate);
    engine_.set_sample_rate(rate);
    if (on_rate_changed_) on_rate_changed_(engine_rate, rate);
}

void JackLink::watch_cycles(Clock::time_point now) {
    const std::uint64_t cycles = client_.process_cycles();
    if (cycles != last_cycles_) {
        last_cycles_ = cycles;
        last_progress_ = now;
        if (state_.load(std::memory_order_relaxed) == JackState::stalled) {
            state_.store(JackState::connected, std::memory_order_relaxed);
            spdlog::info("JACK: process cycles run again after {:.2f} s stalled",
                         seconds(now - stalled_at_));
        }
        return;
    }
    if (state_.load(std::memory_order_relaxed) == JackState::connected &&
        now - last_progress_ > config_.stall_after) {
        state_.store(JackState::stalled, std::memory_order_relaxed);
        stalled_at_ = last_progress_;
        spdlog::warn(
            "JACK: no process cycle for {} ms: {} is stalled (stopped or hung); audio is silent "
            "until it runs again",
            duration_cast<milliseconds>(now - last_progress_).count(), server_text());
    }
}

namespace {
// "out_1 → system:playback_1", "system:capture_1 → in_1": in the direction the signal flows.
std::string connection_text(const std::string& own, const std::string& other) {
    return own.starts_with("in_") || own == "midi_in" ? other + " → " + own : own + " → " + other;
}
}  // namespace

void JackLink::track_connections(Clock::time_point now) {
    if (!client_.take_connections_changed() && now - last_query_ < config_.connections_every)
        return;
    last_query_ = now;
    const auto current = client_.connections();
    if (client_.server_gone()) return;  // the unplugging of a server going down
    set_midi_in_plugged(std::any_of(current.begin(), current.end(),
                                    [](const auto& c) { return c.first == "midi_in"; }));
    bool midi_out_reached = false;
    for (const auto& connection : current) {
        // Named, not structured bindings: clang before 16 cannot capture those in a lambda.
        const std::string& own = connection.first;
        const std::string& other = connection.second;
        const bool known = std::any_of(remembered_.begin(), remembered_.end(), [&](const auto& r) {
            return r.own == own && r.other == other;
        });
        if (!known) {
            spdlog::debug("JACK: remembering {}", connection_text(own, other));
            remembered_.push_back({own, other, std::nullopt, false});
            midi_out_reached = midi_out_reached || own == "midi_out";
        }
    }
    // A connection is forgotten only when it stayed away for 300 ms with both ports there: it
    // was removed on purpose. One whose other port is gone (a controller unplugged, its bridge
    // or a client restarting) waits for that port and is made again when it registers.
    constexpr auto kForgetAfter = milliseconds(300);
    std::erase_if(remembered_, [&](Remembered& r) {
        const bool present = std::any_of(current.begin(), current.end(), [&](const auto& c) {
            return c.first == r.own && c.second == r.other;
        });
        if (present) {
            r.missing_since.reset();
            r.awaiting = false;
            return false;
        }
        if (!client_.port_exists(r.other)) {
            if (!r.awaiting)
                spdlog::info("JACK: {} is gone; {} is made again when it returns", r.other,
                             connection_text(r.own, r.other));
            r.awaiting = true;
            r.missing_since.reset();
            return false;
        }
        if (r.awaiting) {
            r.awaiting = false;
            if (client_.connect(r.own, r.other)) {
                spdlog::info("JACK: restored {} ({} is back)", connection_text(r.own, r.other),
                             r.other);
                midi_out_reached = midi_out_reached || r.own == "midi_out";
                return false;
            }
        }
        if (!r.missing_since) {
            r.missing_since = now;
            return false;
        }
        if (now - *r.missing_since < kForgetAfter) return false;
        spdlog::debug("JACK: forgetting {}", connection_text(r.own, r.other));
        return true;
    });
    // Bounded: ports that never come back must not grow the list without end. The oldest of
    // those waiting go first.
    while (remembered_.size() > kMaxRemembered) {
        auto oldest = std::find_if(remembered_.begin(), remembered_.end(),
                                   [](const Remembered& r) { return r.awaiting; });
        if (oldest == remembered_.end()) oldest = remembered_.begin();
        spdlog::debug("JACK: forgetting {} (too many remembered)",
                      connection_text(oldest->own, oldest->other));
        remembered_.erase(oldest);
    }
    // A controller just reached midi_out (plugged in, patched, or back): it needs its init and
    // every light, once for however many connections came.
    if (midi_out_reached) reach_midi_out(now);
}

void JackLink::reach_midi_out(Clock::time_point now) {
    if (!on_midi_out_) return;
    on_midi_out_();
    midi_out_reached_ = now;
    midi_out_again_ = 0;
}

// The init and lights are the same messages again: a controller that had them shows no change.
void JackLink::reach_midi_out_again(Clock::time_point now) {
    if (!midi_out_reached_ || now - *midi_out_reached_ < kMidiOutAgain[midi_out_again_]) return;
    on_midi_out_();
    ++midi_out_again_;
    spdlog::debug("JACK: MIDI init and lights sent again ({} of {})", midi_out_again_,
                  kMidiOutAgain.size());
    if (midi_out_again_ == kMidiOutAgain.size()) midi_out_reached_.reset();
}

void JackLink::set_midi_in_plugged(bool plugged) {
    if (plugged == midi_in_plugged_) return;
    midi_in_plugged_ = plugged;
    spdlog::debug("JACK: midi_in {}", plugged ? "plugged in" : "has no connection");
    if (on_midi_in_) on_midi_in_(plugged);
}

std::uint32_t JackLink::restore_connections() {
    if (!lost_before_) {
        if (!config_.autoconnect) return 0;
        // MIDI controllers are optional: none found is no warning.
        if (const std::uint32_t midi = client_.connect_physical_midi(); midi > 0)
            spdlog::info("connected {} physical MIDI port(s) to midi_in and midi_out", midi);
        return client_.connect_physical_outputs();
    }
    std::uint32_t restored = 0;
    for (auto& r : remembered_) {
        if (client_.connect(r.own, r.other)) {
            r.awaiting = false;
            ++restored;
        } else {
            // Often a bridge (a2jmidid) or a client that registers its ports after the server
            // is up: the connection is made when the port appears.
            r.awaiting = true;
            spdlog::info("JACK: cannot restore {} yet (no such port now); made when it appears",
                         connection_text(r.own, r.other));
        }
    }
    return restored;
}

}  // namespace looperd
