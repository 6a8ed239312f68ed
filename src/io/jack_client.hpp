// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <jack/jack.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "io/beat_stamp.hpp"
#include "io/host_time_filter.hpp"
#include "io/link_session.hpp"
#include "io/render_meter.hpp"
#include "looperd/engine.hpp"

namespace looperd {

// JackClient: looperd's JACK client, one object for the daemon's whole life, holding at most
// one connection to the server at a time. open() joins the server and registers the output
// ports, activate() starts the engine, close() lets the connection go; after the server went
// away the same object opens again (JackLink decides when). It keeps the server's state (rate,
// block size, xruns, process cycles, whether the server is still there) in atomics.
//
// Threads: open, activate, close and the connection queries run on the main thread (the
// JackLink's). The callbacks are one-line trampolines into members: process() runs on JACK's
// audio thread; the others on JACK's notification thread, and the shutdown callback only stores
// into atomics and a fixed buffer (it runs like a signal handler). frame_for_ntp(),
// current_frame(), dsp_load() and name() are for other threads (network, status): they take
// client_mutex_, under which the main thread swaps the connection in and out, so they never
// use a closed client.
//
// Frames: one 64-bit timeline across connections. JACK counts frames in 32 bits, which wrap
// after about a day at 48 kHz, and a new server starts counting again. The engine and the
// scheduler see JACK's frames extended to 64 bits; on the first connection the low 32 bits
// are JACK's, and each later connection continues where the previous one stopped (the time
// without a server does not count), so nothing the engine keeps in frames (scheduled
// commands, the beat grid, voice ages) ever sees time run backwards.
class JackClient {
  public:
    // Opens nothing yet. `server_name` empty: JACK_DEFAULT_SERVER or the default server.
    // `assumed_rate`: what sample_rate() says until a server tells.
    // `inputs`: input ports in_1 .. in_M registered beside the outputs, passed to the engine.
    // `midi`: MIDI ports midi_in (its events go to the engine, each on its frame) and midi_out.
    JackClient(std::string client_name, std::string server_name, std::uint32_t outputs,
               std::uint32_t assumed_rate, std::uint32_t inputs = 0, bool midi = false);
    ~JackClient();
    JackClient(const JackClient&) = delete;
    JackClient& operator=(const JackClient&) = delete;

    // Main thread. Joins the server (never starting one) and registers the output ports, not
    // yet active. False, with JACK's reason in `why`, when the server cannot be joined.
    bool open(std::string& why);
    // Main thread, after open(). Starts processing into `engine`, which must outlive close().
    // Throws std::runtime_error.
    void activate(Engine& engine);
    // Main thread, before the first activate(). While `link` is enabled, each cycle hands the
    // engine the Link session's beat and tempo where the cycle's first frame will sound (the
    // frame's system-clock time, filtered, plus our ports' playback latency). `link` must
    // outlive the client.
    void set_link(const LinkSession* link) noexcept { link_ = link; }
    // Any thread, with set_link() given: looperd's beat at `host_micros` (Link's clock), from
    // the last cycle's grid. Nothing before the first cycle.
    std::optional<double> beat_at_host(double host_micros) const noexcept {
        return beat_stamp_.beat_at(host_micros);
    }
    // Any thread: the Link session as the audio thread last read it (the beat and tempo at the
    // time its cycle sounds). Nothing until Link is enabled.
    std::optional<BeatStamp::Point> link_view() const noexcept { return link_stamp_.read(); }
    // Main thread. Lets the connection go (also after the server died: closing is what frees
    // our side). The audio thread has stopped when it returns.
    void close() noexcept;
    // Main thread, at exit, instead of close() when the server is stalled: closing would wait
    // for a server that does not answer. The connection is left to the process's exit, and
    // process() does nothing from now on, should the server run again meanwhile.
    void abandon() noexcept;
    bool is_open() const noexcept { return client_ != nullptr; }

    // Main thread, while open. Connects out_i to the i-th physical playback port. Returns how
    // many were connected.
    std::uint32_t connect_physical_outputs();
    // Main thread, while open. Connects every physical MIDI capture port (a controller, through
    // `jackd -X seq`, `-X raw` or a2jmidid) to midi_in, and midi_out to every physical MIDI
    // playback port. Returns how many connections were made; 0 without MIDI ports.
    std::uint32_t connect_physical_midi();
    bool has_midi() const noexcept { return midi_; }
    // Main thread, while open: every connection of our ports, outputs, inputs and MIDI, as
    // (port short name "out_1", "in_1", "midi_in" or "midi_out", the other port's full name).
    std::vector<std::pair<std::string, std::string>> connections() const;
    // Main thread, while open: connects our port `own` ("out_1" or "midi_out" to `other`, or
    // `other` to "in_1" or "midi_in"). True if connected now (or already).
    bool connect(const std::string& own, const std::string& other);
    // Main thread, while open: whether a port of that full name is registered now.
    bool port_exists(const std::string& full_name) const;
    // Any thread: whether a port connection changed, or a port came or went, since the last
    // call (set by JACK's notification thread).
    bool take_connections_changed() noexcept {
        return connections_changed_.exchange(false, std::memory_order_acq_rel);
    }

    std::string name() const;
    const std::string& server_name() const noexcept { return server_name_; }
    // The server's rate while connected; the last one known (or the assumed one) otherwise.
    std::uint32_t sample_rate() const noexcept {
        return sample_rate_.load(std::memory_order_relaxed);
    }
    std::uint32_t block_size() const noexcept {
        return block_size_.load(std::memory_order_relaxed);
    }
    std::uint64_t xruns() const noexcept { return xruns_.load(std::memory_order_relaxed); }
    // The round trip JACK reports for our ports, in frames: the largest capture latency of
    // in_* plus the largest playback latency of out_* (read in JACK's latency callback, on its
    // notification thread). Any thread. docs/recording.md explains the model.
    std::uint32_t round_trip_frames() const noexcept {
        return round_trip_.load(std::memory_order_relaxed);
    }
    // Any thread: whether the latencies changed since the last call.
    bool take_latency_changed() noexcept {
        return latency_changed_.exchange(false, std::memory_order_acq_rel);
    }
    // Process callbacks run so far: the audio thread's heartbeat (the service watchdog is fed
    // only while it moves). Any thread.
    std::uint64_t process_cycles() const noexcept {
        return process_cycles_.load(std::memory_order_relaxed);
    }
    float dsp_load() const noexcept;
    // The longest Engine::process of one block in the last completed second of audio, in
    // microseconds, timed on the audio thread (0 until a second has been rendered).
    double render_max_us() const noexcept {
        return static_cast<double>(render_meter_.last_window_max_ns()) / 1000.0;
    }

    // Network thread, any time. Not for the audio thread.
    //
    // The 64-bit frame an OSC timetag falls on: 1 ("immediately") is the first frame of the
    // block after the next, so that every command of one bundle lands on the same frame;
    // otherwise the frame on the line through an anchor (wall clock as NTP and JACK's
    // clock read back to back) at the sample rate. The anchor is renewed every 250 ms and on
    // every new connection, so intervals between timetags are exact and the two clocks' drift
    // never accumulates. Offsets beyond two hours are clamped. Without a server: 1, a frame
    // long past, so the command applies as soon as the engine runs again (counted late).
    std::uint64_t frame_for_ntp(std::uint64_t timetag) const;
    // The 64-bit frame JACK estimates for now; without a server, the frame the timeline
    // resumes at.
    std::uint64_t current_frame() const;
    // True once the server has gone away from the open connection; shutdown_reason() then
    // says why. Cleared by close().
    bool server_gone() const noexcept { return server_gone_.load(std::memory_order_acquire); }
    std::string shutdown_reason() const;

  private:
    int process(jack_nframes_t nframes) noexcept;
    void on_latency(jack_latency_callback_mode_t mode) noexcept;
    // JACK's 32-bit frame `f`, within ±2³¹ frames of now, on the 64-bit timeline. Under
    // client_mutex_.
    std::uint64_t extend(jack_nframes_t f) const;
    bool connected_locked() const noexcept { return client_ && !server_gone(); }

    const std::string client_name_;
    const std::string server_name_;
    const std::uint32_t outputs_;
    const std::uint32_t inputs_;

    // Written by the main thread only, under client_mutex_; read by it freely and by others
    // under the mutex. The audio thread uses it between activate() and close().
    jack_client_t* client_ = nullptr;
    mutable std::mutex client_mutex_;
    std::vector<jack_port_t*> ports_;
    std::vector<float*> buffers_;  // preallocated: process() only fills it
    std::vector<jack_port_t*> in_ports_;
    std::vector<const float*> in_buffers_;  // preallocated, like buffers_
    const bool midi_;
    jack_port_t* midi_in_ = nullptr;
    jack_port_t* midi_out_ = nullptr;
    // The cycle's MIDI events as the engine reads them: views of JACK's port buffer, at most the
    // engine's per-block budget (preallocated: process() only fills it).
    std::vector<MidiEvent> midi_events_;
    Engine* engine_ = nullptr;

    // The timeline: frame = timeline_offset_ + frame_wraps_ + JACK's frame (mod 2⁶⁴). Set by
    // the main thread before activation (no audio thread runs then), then the audio thread's.
    std::uint64_t timeline_offset_ = 0;
    std::uint64_t frame_wraps_ = 0;  // multiples of 2³²
    jack_nframes_t last_cycle_low_ = 0;
    // JACK's frame when this connection was activated, and the timeline frame it maps to
    // (under client_mutex_): what extend() uses before the first cycle.
    jack_nframes_t activation_low_ = 0;
    std::uint64_t resume_frame_ = 0;
    bool ever_activated_ = false;  // main thread
    // The 64-bit frame of the last cycle's start, published for the network thread. One word,
    // so the reader never sees half of an update; kNoCycle until this connection's first cycle.
    static constexpr std::uint64_t kNoCycle = ~std::uint64_t{0};
    static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
                  "the audio thread publishes the cycle frame without a lock");
    std::atomic<std::uint64_t> cycle_frame_{kNoCycle};
    std::atomic<std::uint32_t> cycle_frames_{0};  // nframes of that cycle
    // frame_for_ntp's anchor (network thread, under client_mutex_; reset by each new
    // connection).
    mutable std::uint64_t anchor_ntp_ = 0;
    mutable std::uint64_t anchor_frame_ = 0;

    std::atomic<std::uint32_t> sample_rate_{0};
    std::atomic<std::uint32_t> block_size_{0};
    std::atomic<std::uint64_t> xruns_{0};
    // A counter read for progress only, ordering nothing else: relaxed.
    std::atomic<std::uint64_t> process_cycles_{0};
    std::atomic<bool> connections_changed_{false};
    // JACK's notification thread writes, JackLink reads; the flag says "read again".
    std::atomic<std::uint32_t> capture_latency_{0};
    std::atomic<std::uint32_t> playback_latency_{0};
    std::atomic<std::uint32_t> round_trip_{0};
    std::atomic<bool> latency_changed_{false};
    RenderMeter render_meter_;
    // Ableton Link (may be null). The filter is the audio thread's while it runs; activate()
    // resets it before, since a new server may run on another clock's frames.
    const LinkSession* link_ = nullptr;
    HostTimeFilter link_time_;  // where jack_get_cycle_times cannot tell (cycle_host_micros)
    double cycle_host_micros(std::uint64_t frame, std::uint32_t rate) noexcept;
    BeatStamp beat_stamp_;  // the audio thread writes it after each cycle's render
    BeatStamp link_stamp_;  // and this after each capture of the Link session
    std::atomic<bool> server_gone_{false};
    std::atomic<bool> abandoned_{false};
    char shutdown_reason_[256] = {};
};

}  // namespace looperd
