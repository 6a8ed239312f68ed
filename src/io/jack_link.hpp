// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "io/jack_client.hpp"
#include "looperd/engine.hpp"

namespace looperd {

// What /status says of the JACK connection.
enum class JackState : std::uint8_t {
    disconnected,  // no server (not yet, or it went away): waiting for it, retrying
    connected,     // joined and running process cycles
    stalled,       // joined, but no process cycle for over JackLinkConfig::stall_after
};
const char* to_string(JackState s) noexcept;

struct JackLinkConfig {
    bool autoconnect = true;  // the first connection joins the physical playback ports
    // Retries: the first soon after a loss, then doubling up to retry_max, so that a server
    // that comes back is joined well within 2 s.
    std::chrono::milliseconds retry_first{25};
    std::chrono::milliseconds retry_max{250};
    std::chrono::milliseconds stall_after{1000};
    // How often the connections of our ports are read back without a change being signalled.
    std::chrono::milliseconds connections_every{500};
};

// JackLink: the JACK connection's life cycle. Joins the server (at start or whenever it
// comes back), keeps the engine's rate in step with the server's, re-registers the ports by
// reopening, restores the connections looperd's ports had, notices a lost server and a stalled
// one, and says which in state().
//
//   disconnected ──open ok──▶ connected ◀──cycles again── stalled
//        ▲                        │  no cycle for 1 s ──────▶ │
//        └──── server gone (shutdown callback), closed ───────┘
//
// Threads: poll() and stop() run on the main thread, which owns this object and the
// JackClient's connection: poll() is called every next_poll() and does all the work (the
// JACK shutdown callback only sets an atomic it reads). state() and connects() are for any
// thread. The engine is the same object across connections: its samples stay loaded, and
// between a loss and the next activation no audio thread runs, which is when the engine's
// rate and resume are set (see Engine::resume_after_gap), and when poll() applies the commands
// sent meanwhile in the audio thread's place (Engine::apply_commands_while_stopped).
class JackLink {
  public:
    using Clock = std::chrono::steady_clock;
    // Main thread: the server's rate differs from the engine's (now set to `to`). Loaded samples
    // are to be converted again.
    using RateChanged = std::function<void(std::uint32_t from, std::uint32_t to)>;

    JackLink(JackClient& client, Engine& engine, JackLinkConfig config,
             RateChanged on_rate_changed);
    ~JackLink();
    JackLink(const JackLink&) = delete;
    JackLink& operator=(const JackLink&) = delete;

    // Main thread, before the first poll(): called from poll() (main thread) with the round
    // trip in frames each time JACK reports new latencies for our ports.
    using LatencyChanged = std::function<void(std::uint32_t round_trip)>;
    void set_on_latency(LatencyChanged on_latency) { on_latency_ = std::move(on_latency); }

    // Main thread, before the first poll(): called from poll() (main thread) when looperd has
    // joined a server (the first time and after each restart) and when midi_out gains a
    // connection: a controller there may need its init message and every light again. Called
    // again kMidiOutAgain after each: JACK keeps nothing for a client that misses the cycle
    // they went out in (one late on a loaded machine, or not running its first cycle yet).
    using MidiOutReached = std::function<void()>;
    void set_on_midi_out(MidiOutReached on_midi_out) { on_midi_out_ = std::move(on_midi_out); }

    // Main thread, before the first poll(): called from poll() (main thread) when midi_in gains
    // its first connection (true), and when it loses its last or the server goes (false). While
    // nothing is plugged into midi_in, no MIDI can come in.
    using MidiInPlugged = std::function<void(bool plugged)>;
    void set_on_midi_in(MidiInPlugged on_midi_in) { on_midi_in_ = std::move(on_midi_in); }

    // Main thread: one step of the life cycle. Bounded: at most one open attempt.
    void poll();
    // Main thread: how long to wait before the next poll(). kPollAway while no server is
    // joined: retries are due, and poll() applies the commands in the audio thread's place.
    // kPollJoined while one is: a lost server, a stall, a port (un)plugged or a latency change
    // is taken up that much later, and an idle rig's main thread wakes 20 times a second.
    std::chrono::milliseconds next_poll() const noexcept {
        return client_.is_open() ? kPollJoined : kPollAway;
    }
    static constexpr std::chrono::milliseconds kPollAway{10};
    static constexpr std::chrono::milliseconds kPollJoined{50};
    // Main thread: closes the connection for good (the audio thread has stopped after it).
    void stop();

    // Any thread.
    JackState state() const noexcept;
    // Any thread: successful connections so far (the first one included).
    std::uint64_t connects() const noexcept { return connects_.load(std::memory_order_relaxed); }

  private:
    struct Remembered {
        std::string own;    // "out_1"
        std::string other;  // "system:playback_1"
        std::optional<Clock::time_point> missing_since;
        bool awaiting = false;  // the other port is gone: connect when it registers again
    };
    static constexpr std::size_t kMaxRemembered = 256;
    static constexpr std::array<std::chrono::milliseconds, 2> kMidiOutAgain{
        std::chrono::milliseconds(250), std::chrono::milliseconds(1000)};

    void try_connect(Clock::time_point now);
    void lose(Clock::time_point now);
    void follow_rate();
    void watch_cycles(Clock::time_point now);
    void track_connections(Clock::time_point now);
    void set_midi_in_plugged(bool plugged);
    void reach_midi_out(Clock::time_point now);
    void reach_midi_out_again(Clock::time_point now);
    std::uint32_t restore_connections();
    std::string server_text() const;

    JackClient& client_;
    Engine& engine_;
    JackLinkConfig config_;
    RateChanged on_rate_changed_;
    LatencyChanged on_latency_;
    MidiOutReached on_midi_out_;
    MidiInPlugged on_midi_in_;

    std::atomic<JackState> state_{JackState::disconnected};
    std::atomic<std::uint64_t> connects_{0};
    // Main thread only.
    Clock::time_point next_attempt_{};
    std::chrono::milliseconds backoff_;
    bool waiting_logged_ = false;
    Clock::time_point lost_at_{};
    bool lost_before_ = false;
    bool midi_in_plugged_ = false;
    std::uint64_t last_cycles_ = 0;
    Clock::time_point last_progress_{};
    Clock::time_point stalled_at_{};
    Clock::time_point last_query_{};
    std::vector<Remembered> remembered_;
    // The last time a controller reached midi_out, while on_midi_out_ is still to be called
    // again (kMidiOutAgain[midi_out_again_] after it).
    std::optional<Clock::time_point> midi_out_reached_;
    std::size_t midi_out_again_ = 0;
};

}  // namespace looperd
