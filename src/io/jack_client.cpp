// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "io/jack_client.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <jack/midiport.h>
#include <jack/transport.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include "io/cancel_hold.hpp"
#include "looperd/rt_guard.hpp"

namespace looperd {

namespace {

std::string describe_status(jack_status_t s) {
    std::string out;
    auto add = [&](jack_status_t bit, const char* text) {
        if ((s & bit) == 0) return;
        if (!out.empty()) out += ", ";
        out += text;
    };
    add(JackServerFailed, "cannot connect to the JACK server (is it running? see --jack-server)");
    add(JackServerError, "JACK server error");
    add(JackNameNotUnique, "client name already in use");
    add(JackVersionError, "JACK protocol version mismatch");
    add(JackInitFailure, "cannot initialise the JACK client");
    add(JackShmFailure, "cannot access JACK shared memory");
    add(JackNoSuchClient, "no such client");
    add(JackLoadFailure, "cannot load internal client");
    add(JackInvalidOption, "invalid option");
    if (out.empty()) out = "jack_client_open failed (status 0x" + std::to_string(s) + ")";
    return out;
}

}  // namespace

JackClient::JackClient(std::string client_name, std::string server_name, std::uint32_t outputs,
                       std::uint32_t assumed_rate, std::uint32_t inputs, bool midi)
    : client_name_(std::move(client_name)),
      server_name_(std::move(server_name)),
      outputs_(outputs),
      inputs_(inputs),
      ports_(outputs, nullptr),
      buffers_(outputs, nullptr),
      in_ports_(inputs, nullptr),
      in_buffers_(inputs, nullptr),
      midi_(midi),
      midi_events_(midi ? limits::kMaxMidiEventsPerBlock : 0) {
    sample_rate_.store(assumed_rate, std::memory_order_relaxed);
}

JackClient::~JackClient() {
    close();
}

bool JackClient::open(std::string& why) {
    if (client_) return true;
    jack_status_t status{};
    // Never start a server behind the user's back: a stage rig runs the one it was set up with.
    auto options = static_cast<jack_options_t>(JackNoStartServer | JackUseExactName);
    jack_client_t* c = nullptr;
    if (!server_name_.empty()) {
        options = static_cast<jack_options_t>(options | JackServerName);
        c = jack_client_open(client_name_.c_str(), options, &status, server_name_.c_str());
    } else {
        c = jack_client_open(client_name_.c_str(), options, &status);
    }
    if (!c) {
        why = describe_status(status);
        return false;
    }

    std::vector<jack_port_t*> ports(outputs_, nullptr);
    for (std::uint32_t i = 0; i < outputs_; ++i) {
        const std::string port_name = "out_" + std::to_string(i + 1);
        ports[i] = jack_port_register(c, port_name.c_str(), JACK_DEFAULT_AUDIO_TYPE,
                                      JackPortIsOutput | JackPortIsTerminal, 0);
        if (!ports[i]) {
            jack_client_close(c);
            why = "cannot register JACK port " + port_name;
            return false;
        }
    }
    std::vector<jack_port_t*> in_ports(inputs_, nullptr);
    for (std::uint32_t i = 0; i < inputs_; ++i) {
        const std::string port_name = "in_" + std::to_string(i + 1);
        in_ports[i] = jack_port_register(c, port_name.c_str(), JACK_DEFAULT_AUDIO_TYPE,
                                         JackPortIsInput | JackPortIsTerminal, 0);
        if (!in_ports[i]) {
            jack_client_close(c);
            why = "cannot register JACK port " + port_name;
            return false;
        }
    }
    jack_port_t* midi_in = nullptr;
    jack_port_t* midi_out = nullptr;
    if (midi_) {
        midi_in = jack_port_register(c, "midi_in", JACK_DEFAULT_MIDI_TYPE,
                                     JackPortIsInput | JackPortIsTerminal, 0);
        midi_out = jack_port_register(c, "midi_out", JACK_DEFAULT_MIDI_TYPE,
                                      JackPortIsOutput | JackPortIsTerminal, 0);
        if (!midi_in || !midi_out) {
            jack_client_close(c);
            why = "cannot register JACK MIDI ports midi_in and midi_out";
            return false;
        }
    }

    // Threads libjack starts for this client (its process thread among them), before they run
    // a callback: named "jack", so that `top -H` tells them from the daemon's own threads
    // (they would inherit the main thread's name).
    jack_set_thread_init_callback(
        c, [](void*) { pthread_setname_np(pthread_self(), "jack"); }, nullptr);
    // Cancellation is held off while process() runs: see call_holding_off_cancellation.
    jack_set_process_callback(
        c,
        [](jack_nframes_t n, void* self) {
            return call_holding_off_cancellation(
                [n, self]() noexcept { return static_cast<JackClient*>(self)->process(n); });
        },
        this);
    // Notification thread. JackLink notices a new rate and makes the engine and the loaded
    // samples follow it.
    jack_set_sample_rate_callback(
        c,
        [](jack_nframes_t rate, void* self) {
            static_cast<JackClient*>(self)->sample_rate_.store(rate, std::memory_order_relaxed);
            return 0;
        },
        this);
    // Under PipeWire this may come late or not before the first cycle: process() trusts
    // nframes and never relies on this value.
    jack_set_buffer_size_callback(
        c,
        [](jack_nframes_t n, void* self) {
            static_cast<JackClient*>(self)->block_size_.store(n, std::memory_order_relaxed);
            return 0;
        },
        this);
    jack_set_xrun_callback(
        c,
        [](void* self) {
            static_cast<JackClient*>(self)->xruns_.fetch_add(1, std::memory_order_relaxed);
            return 0;
        },
        this);
    // Connections are read back by JackLink on the main thread; this only says "look again".
    jack_set_port_connect_callback(
        c,
        [](jack_port_id_t, jack_port_id_t, int, void* self) {
            static_cast<JackClient*>(self)->connections_changed_.store(true,
                                                                       std::memory_order_release);
        },
        this);
    // A port that comes back (a controller's, a recorder's) may be waiting for a connection.
    jack_set_port_registration_callback(
        c,
        [](jack_port_id_t, int, void* self) {
            static_cast<JackClient*>(self)->connections_changed_.store(true,
                                                                       std::memory_order_release);
        },
        this);
    // Notification thread: the ports' latencies changed (a connection, a new server setting).
    jack_set_latency_callback(
        c,
        [](jack_latency_callback_mode_t mode, void* self) {
            static_cast<JackClient*>(self)->on_latency(mode);
        },
        this);
    // Runs like a signal handler, on a thread of libjack's: record the loss and nothing else.
    // The main thread closes the client.
    jack_on_info_shutdown(
        c,
        [](jack_status_t, const char* reason, void* arg) {
            auto* self = static_cast<JackClient*>(arg);
            std::strncpy(self->shutdown_reason_, reason ? reason : "unknown",
                         sizeof(self->shutdown_reason_) - 1);
            self->server_gone_.store(true, std::memory_order_release);
        },
        this);

    sample_rate_.store(jack_get_sample_rate(c), std::memory_order_relaxed);
    block_size_.store(jack_get_buffer_size(c), std::memory_order_relaxed);
    std::lock_guard lock(client_mutex_);
    client_ = c;
    ports_ = std::move(ports);
    in_ports_ = std::move(in_ports);
    midi_in_ = midi_in;
    midi_out_ = midi_out;
    anchor_ntp_ = 0;  // the old anchor tied the wall clock to another server's frames
    return true;
}

void JackClient::activate(Engine& engine) {
    engine_ = &engine;
    {
        // The timeline goes on where the last connection stopped. The audio thread does not
        // run yet, so its members are ours to set. Two blocks of margin: the first cycle may
        // have started a little before jack_frame_time's "now".
        std::lock_guard lock(client_mutex_);
        const jack_nframes_t now = jack_frame_time(client_) - 2 * block_size();
        if (!ever_activated_) resume_frame_ = now;  // the first connection: JACK's own frames
        activation_low_ = now;
        timeline_offset_ = resume_frame_ - now;  // modulo 2⁶⁴
        frame_wraps_ = 0;
        last_cycle_low_ = now;
        cycle_frame_.store(kNoCycle, std::memory_order_release);
        ever_activated_ = true;
        link_time_.reset();
    }
    if (jack_activate(client_) != 0) throw std::runtime_error("cannot activate the JACK client");
}

// Audio thread. The time on Link's clock (microseconds) of the cycle's first frame: JACK's own
// estimate (jack_get_cycle_times: its delay-locked loop over the driver's wake-ups, the same
// for every client of the cycle, so that a busy machine's late wake-up of this process moves
// nothing), put on Link's clock by the two clocks' difference now (JACK2 and Link both read
// CLOCK_MONOTONIC_RAW on Linux: the difference is then 0). Where the server cannot tell, a
// line fitted through this client's own wake-ups, as Link's JACK example does.
double JackClient::cycle_host_micros(std::uint64_t frame, std::uint32_t rate) noexcept {
    const double link_now = link_->now_micros();
    jack_nframes_t current_frames = 0;
    jack_time_t current_usecs = 0;
    jack_time_t next_usecs = 0;
    float period_usecs = 0.0F;
    if (jack_get_cycle_times(client_, &current_frames, &current_usecs, &next_usecs,
                             &period_usecs) == 0 &&
        current_usecs != 0)
        return static_cast<double>(current_usecs) +
               (link_now - static_cast<double>(jack_get_time()));
    link_time_.expect_rate(static_cast<double>(rate));
    return link_time_.host_time(frame, link_now);
}

std::uint32_t JackClient::connect_physical_outputs() {
    if (!client_) return 0;
    const char** physical = jack_get_ports(client_, nullptr, JACK_DEFAULT_AUDIO_TYPE,
                                           JackPortIsPhysical | JackPortIsInput);
    std::uint32_t connected = 0;
    if (physical) {
        for (std::size_t i = 0; i < ports_.size() && physical[i]; ++i) {
            const int r = jack_connect(client_, jack_port_name(ports_[i]), physical[i]);
            if (r == 0 || r == EEXIST) ++connected;
        }
        jack_free(static_cast<void*>(physical));
    }
    return connected;
}

std::uint32_t JackClient::connect_physical_midi() {
    if (!client_ || !midi_in_ || !midi_out_) return 0;
    std::uint32_t connected = 0;
    auto each_physical = [this](unsigned long direction, auto&& connect) {
        const char** physical = jack_get_ports(client_, nullptr, JACK_DEFAULT_MIDI_TYPE,
                                               JackPortIsPhysical | direction);
        for (const char** p = physical; p && *p; ++p) connect(*p);
        if (physical) jack_free(static_cast<void*>(physical));
    };
    // A capture port is an output of the server's, a source: it feeds midi_in.
    each_physical(JackPortIsOutput, [&](const char* source) {
        const int r = jack_connect(client_, source, jack_port_name(midi_in_));
        if (r == 0 || r == EEXIST) ++connected;
    });
    each_physical(JackPortIsInput, [&](const char* destination) {
        const int r = jack_connect(client_, jack_port_name(midi_out_), destination);
        if (r == 0 || r == EEXIST) ++connected;
    });
    return connected;
}

std::vector<std::pair<std::string, std::string>> JackClient::connections() const {
    std::vector<std::pair<std::string, std::string>> out;
    if (!client_ || server_gone()) return out;
    // Outputs and inputs alike: what feeds in_* (a capture port, another client) comes back
    // after a server restart as much as what out_* feeds.
    auto add = [&](const std::vector<jack_port_t*>& ports, const char* prefix) {
        for (std::size_t i = 0; i < ports.size(); ++i) {
            if (!ports[i]) continue;
            const char** others = jack_port_get_all_connections(client_, ports[i]);
            for (const char** o = others; o && *o; ++o)
                out.emplace_back(prefix + std::to_string(i + 1), *o);
            if (others) jack_free(static_cast<void*>(others));
        }
    };
    add(ports_, "out_");
    add(in_ports_, "in_");
    for (auto [port, name] : {std::pair{midi_in_, "midi_in"}, std::pair{midi_out_, "midi_out"}}) {
        if (!port) continue;
        const char** others = jack_port_get_all_connections(client_, port);
        for (const char** o = others; o && *o; ++o) out.emplace_back(name, *o);
        if (others) jack_free(static_cast<void*>(others));
    }
    return out;
}

bool JackClient::connect(const std::string& own, const std::string& other) {
    if (!client_ || server_gone()) return false;
    for (std::size_t i = 0; i < ports_.size(); ++i) {
        if (own != "out_" + std::to_string(i + 1)) continue;
        const int r = jack_connect(client_, jack_port_name(ports_[i]), other.c_str());
        return r == 0 || r == EEXIST;
    }
    // An input is the destination: jack_connect takes the source first.
    for (std::size_t i = 0; i < in_ports_.size(); ++i) {
        if (own != "in_" + std::to_string(i + 1) || !in_ports_[i]) continue;
        const int r = jack_connect(client_, other.c_str(), jack_port_name(in_ports_[i]));
        return r == 0 || r == EEXIST;
    }
    int r = -1;
    if (own == "midi_in" && midi_in_)
        r = jack_connect(client_, other.c_str(), jack_port_name(midi_in_));
    if (own == "midi_out" && midi_out_)
        r = jack_connect(client_, jack_port_name(midi_out_), other.c_str());
    return r == 0 || r == EEXIST;
}

bool JackClient::port_exists(const std::string& full_name) const {
    if (!client_ || server_gone()) return false;
    return jack_port_by_name(client_, full_name.c_str()) != nullptr;
}

void JackClient::close() noexcept {
    if (!client_) return;
    const bool gone = server_gone();
    // Deactivate first: the audio thread uses client_ until then. A dead server has no audio
    // thread left to stop and no one to answer.
    if (!gone) jack_deactivate(client_);
    jack_client_t* c = nullptr;
    {
        std::lock_guard lock(client_mutex_);
        c = client_;
        client_ = nullptr;
        // Where the next connection's timeline starts: right after the last block played.
        const std::uint64_t cycle = cycle_frame_.load(std::memory_order_acquire);
        if (cycle != kNoCycle)
            resume_frame_ = cycle + cycle_frames_.load(std::memory_order_relaxed);
    }
    // After the server vanished the client is already dead; closing it is still required to
    // free our side, and JACK allows it.
    jack_client_close(c);
    engine_ = nullptr;
    std::fill(ports_.begin(), ports_.end(), nullptr);
    std::fill(in_ports_.begin(), in_ports_.end(), nullptr);
    midi_in_ = midi_out_ = nullptr;
    shutdown_reason_[0] = '\0';
    server_gone_.store(false, std::memory_order_release);
}

void JackClient::abandon() noexcept {
    abandoned_.store(true, std::memory_order_release);
    std::lock_guard lock(client_mutex_);
    client_ = nullptr;  // not closed: see the declaration
}

std::string JackClient::name() const {
    std::lock_guard lock(client_mutex_);
    return connected_locked() ? jack_get_client_name(client_) : client_name_;
}

float JackClient::dsp_load() const noexcept {
    std::lock_guard lock(client_mutex_);
    return connected_locked() ? jack_cpu_load(client_) : 0.0F;
}

std::string JackClient::shutdown_reason() const {
    return shutdown_reason_;
}

std::uint64_t JackClient::extend(jack_nframes_t f) const {
    const std::uint64_t cycle = cycle_frame_.load(std::memory_order_acquire);
    // Before this connection's first cycle, the frame at activation is the reference.
    std::uint64_t ref = resume_frame_;
    jack_nframes_t ref_low = activation_low_;
    if (cycle != kNoCycle) {
        ref = cycle;
        ref_low = static_cast<jack_nframes_t>(cycle - timeline_offset_);  // JACK's own frame
    }
    // The signed 32-bit distance from the reference: right across a wrap, either way.
    const auto delta = static_cast<std::int32_t>(f - ref_low);
    if (delta < 0 && static_cast<std::uint64_t>(-static_cast<std::int64_t>(delta)) > ref) return 0;
    return ref + static_cast<std::uint64_t>(static_cast<std::int64_t>(delta));
}

std::uint64_t JackClient::current_frame() const {
    std::lock_guard lock(client_mutex_);
    if (!connected_locked()) {
        const std::uint64_t cycle = cycle_frame_.load(std::memory_order_acquire);
        return cycle != kNoCycle ? cycle + cycle_frames_.load(std::memory_order_relaxed)
                                 : resume_frame_;
    }
    return extend(jack_frame_time(client_));
}

std::uint64_t JackClient::frame_for_ntp(std::uint64_t timetag) const {
    std::lock_guard lock(client_mutex_);
    if (!connected_locked()) return 1;
    if (timetag == 1) {
        // The cycle being rendered may already have taken its commands, so the next block
        // start is not safe; the one after it is. (jack_last_frame_time itself is meant for
        // the process callback only, hence the published copy.)
        const std::uint64_t cycle = cycle_frame_.load(std::memory_order_acquire);
        const std::uint64_t base = cycle == kNoCycle ? extend(jack_frame_time(client_)) : cycle;
        return base + 2ULL * block_size();
    }
    // The wall clock (as NTP) and JACK's frame clock are tied together by an anchor: a pair of
    // readings taken back to back. Within one anchor, the mapping is a straight line at the
    // sample rate, so timetags 10 ms apart land exactly 480 frames apart at 48 kHz, whatever
    // jitter a single reading has. The anchor is renewed every 250 ms, so the drift between
    // the two clocks (a few ppm with a sound card) never accumulates.
    timespec wall{};
    clock_gettime(CLOCK_REALTIME, &wall);
    constexpr std::uint64_t kNtpUnixOffset = 2208988800ULL;  // 1900 → 1970, in seconds
    const std::uint64_t ntp_now =
        ((static_cast<std::uint64_t>(wall.tv_sec) + kNtpUnixOffset) << 32U) +
        ((static_cast<std::uint64_t>(wall.tv_nsec) << 32U) / 1'000'000'000ULL);
    constexpr std::uint64_t kAnchorLifetime = (1ULL << 32U) / 4;  // 250 ms, in NTP units
    if (anchor_ntp_ == 0 || ntp_now - anchor_ntp_ >= kAnchorLifetime) {
        anchor_ntp_ = ntp_now;
        anchor_frame_ = extend(jack_time_to_frames(client_, jack_get_time()));
    }

    // The signed 32.32 offset from the anchor, clamped to ±2 h so that the frame arithmetic
    // stays far inside a double's exact range.
    constexpr std::int64_t kMaxOffset = std::int64_t{2 * 3600} << 32U;
    const std::int64_t offset =
        std::clamp(static_cast<std::int64_t>(timetag - anchor_ntp_), -kMaxOffset, kMaxOffset);
    const double seconds = static_cast<double>(offset) / 4294967296.0;
    const auto frames = static_cast<std::int64_t>(std::llround(seconds * sample_rate()));
    const auto anchor = static_cast<std::int64_t>(anchor_frame_);
    return static_cast<std::uint64_t>(std::max<std::int64_t>(anchor + frames, 1));
}

// JACK's notification thread. Capture mode: how long input has travelled when it reaches
// in_*; playback mode: how long out_* takes to be heard. Each mode updates its half.
void JackClient::on_latency(jack_latency_callback_mode_t mode) noexcept {
    const bool capture = mode == JackCaptureLatency;
    const auto& ports = capture ? in_ports_ : ports_;
    std::uint32_t most = 0;
    for (jack_port_t* p : ports) {
        if (!p) continue;
        jack_latency_range_t range{};
        jack_port_get_latency_range(p, mode, &range);
        most = std::max<std::uint32_t>(most, range.max);
    }
    (capture ? capture_latency_ : playback_latency_).store(most, std::memory_order_relaxed);
    round_trip_.store(capture_latency_.load(std::memory_order_relaxed) +
                          playback_latency_.load(std::memory_order_relaxed),
                      std::memory_order_relaxed);
    latency_changed_.store(true, std::memory_order_release);
}

// Audio thread. Wait-free; does not allocate. jack_last_frame_time and jack_transport_query
// are documented as callable from the process callback.
int JackClient::process(jack_nframes_t nframes) noexcept {
    if (abandoned_.load(std::memory_order_acquire)) return 0;
    for (std::size_t i = 0; i < ports_.size(); ++i)
        buffers_[i] = static_cast<float*>(jack_port_get_buffer(ports_[i], nframes));
    for (std::size_t i = 0; i < in_ports_.size(); ++i)
        in_buffers_[i] = static_cast<const float*>(jack_port_get_buffer(in_ports_[i], nframes));
    MidiInput midi;
    if (midi_in_) {
        void* in = jack_port_get_buffer(midi_in_, nframes);
        const std::uint32_t count = jack_midi_get_event_count(in);
        const auto held = static_cast<std::uint32_t>(midi_events_.size());
        for (std::uint32_t i = 0; i < count && i < held; ++i) {
            jack_midi_event_t e;
            if (jack_midi_event_get(&e, in, i) != 0) break;
            midi_events_[midi.count++] = {e.time, static_cast<std::uint32_t>(e.size), e.buffer};
        }
        midi.events = midi_events_.data();
        // Beyond the budget, and what JACK itself could not hold: counted by the engine.
        midi.lost = (count - midi.count) + jack_midi_get_lost_event_count(in);
    }
    // A MIDI output's buffer keeps what it held until cleared: clear it every cycle.
    void* midi_out = midi_out_ ? jack_port_get_buffer(midi_out_, nframes) : nullptr;
    if (midi_out) jack_midi_clear_buffer(midi_out);

    BlockTiming timing;
    const jack_nframes_t low = jack_last_frame_time(client_);
    // A wrap is a step back by more than half the range; anything less is no wrap.
    if (low < last_cycle_low_ && last_cycle_low_ - low > (1U << 31U)) frame_wraps_ += 1ULL << 32U;
    last_cycle_low_ = low;
    timing.frame = timeline_offset_ + frame_wraps_ + low;  // modulo 2⁶⁴, see the class doc
    cycle_frames_.store(nframes, std::memory_order_relaxed);
    cycle_frame_.store(timing.frame, std::memory_order_release);

    jack_position_t pos;
    const jack_transport_state_t state = jack_transport_query(client_, &pos);
    TransportInfo& t = timing.transport;
    t.rolling = state == JackTransportRolling;
    // A timebase master that leaves any of these at 0 has not really given BBT.
    t.valid = (pos.valid & JackPositionBBT) != 0 && pos.beats_per_minute > 0.0 &&
              pos.beats_per_bar > 0.0F && pos.ticks_per_beat > 0.0 && pos.bar >= 1 && pos.beat >= 1;
    if (t.valid) {
        t.bpm = pos.beats_per_minute;
        t.beats_per_bar = static_cast<double>(pos.beats_per_bar);
        t.beat = static_cast<double>(pos.bar - 1) * static_cast<double>(pos.beats_per_bar) +
                 static_cast<double>(pos.beat - 1) + pos.tick / pos.ticks_per_beat;
    }

    {
        rt_guard::Scope realtime;
        // Link's clock is read through the vDSO like CLOCK_MONOTONIC below; the session is only
        // read (LinkSession::capture), under the guard like the engine.
        // The host time is taken every cycle, Link on or off, so that the grid's place on the
        // system clock (beat_stamp_) is known when Link is enabled.
        double sounds_at = 0.0;
        if (link_) {
            const std::uint32_t rate = sample_rate_.load(std::memory_order_relaxed);
            const double latency_micros =
                rate > 0 ? 1e6 * playback_latency_.load(std::memory_order_relaxed) / rate : 0.0;
            sounds_at = cycle_host_micros(timing.frame, rate) + latency_micros;
            if (link_->enabled()) {
                timing.link = link_->capture(sounds_at);
                if (timing.link.valid)
                    link_stamp_.write({.host_micros = sounds_at,
                                       .beat = timing.link.beat,
                                       .bpm = timing.link.bpm});
            }
        }
        // CLOCK_MONOTONIC is read through the vDSO: no system call on the audio thread.
        timespec began{};
        clock_gettime(CLOCK_MONOTONIC, &began);
        engine_->process(in_buffers_.data(), static_cast<std::uint32_t>(in_buffers_.size()),
                         buffers_.data(), nframes, timing, midi);
        // The engine's MIDI, in time order. JACK's buffer holds far more than the engine's
        // per-block budget of short messages and one init SysEx, so a write cannot fail for
        // room.
        if (midi_out) {
            const MidiOutEvent* out = engine_->midi_output();
            for (std::uint32_t i = 0; i < engine_->midi_output_count(); ++i)
                jack_midi_event_write(midi_out, out[i].time, out[i].bytes(), out[i].size);
        }
        if (link_)
            beat_stamp_.write({.host_micros = sounds_at,
                               .beat = engine_->clock_beat(),
                               .bpm = engine_->clock_bpm()});
        timespec ended{};
        clock_gettime(CLOCK_MONOTONIC, &ended);
        const auto render_ns =
            (ended.tv_sec - began.tv_sec) * 1'000'000'000LL + (ended.tv_nsec - began.tv_nsec);
        render_meter_.record(static_cast<std::uint64_t>(std::max<long long>(render_ns, 0)), nframes,
                             sample_rate_.load(std::memory_order_relaxed));
    }
    // Last: the stall watchdog counts finished cycles.
    process_cycles_.fetch_add(1, std::memory_order_relaxed);
    return 0;
}

}  // namespace looperd
