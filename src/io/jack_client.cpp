// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "io/jack_client.hpp"

#include <spdlog/spdlog.h>

#include <jack/transport.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <ctime>
#include <stdexcept>

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

JackClient::JackClient(const std::string& client_name, const std::string& server_name,
                       std::uint32_t outputs) {
    jack_status_t status{};
    // Never start a server behind the user's back: a stage rig runs the one it was set up with.
    auto options = static_cast<jack_options_t>(JackNoStartServer | JackUseExactName);
    if (!server_name.empty()) {
        options = static_cast<jack_options_t>(options | JackServerName);
        client_ = jack_client_open(client_name.c_str(), options, &status, server_name.c_str());
    } else {
        client_ = jack_client_open(client_name.c_str(), options, &status);
    }
    if (!client_) throw std::runtime_error(describe_status(status));

    for (std::uint32_t i = 0; i < outputs; ++i) {
        const std::string port_name = "out_" + std::to_string(i + 1);
        jack_port_t* p = jack_port_register(client_, port_name.c_str(), JACK_DEFAULT_AUDIO_TYPE,
                                            JackPortIsOutput | JackPortIsTerminal, 0);
        if (!p) {
            close();
            throw std::runtime_error("cannot register JACK port " + port_name);
        }
        ports_.push_back(p);
    }
    buffers_.resize(outputs, nullptr);
    sample_rate_ = jack_get_sample_rate(client_);
    block_size_ = jack_get_buffer_size(client_);

    jack_set_process_callback(
        client_,
        [](jack_nframes_t n, void* self) { return static_cast<JackClient*>(self)->process(n); },
        this);
    jack_set_sample_rate_callback(
        client_,
        [](jack_nframes_t rate, void* arg) {
            auto* self = static_cast<JackClient*>(arg);
            // JACK's notification thread, not the audio thread: logging is allowed here.
            const auto previous = self->sample_rate_.exchange(rate, std::memory_order_relaxed);
            if (previous != 0 && previous != rate)
                spdlog::warn(
                    "JACK sample rate changed from {} to {} Hz: samples loaded before "
                    "play at the wrong pitch until they are loaded again",
                    previous, rate);
            if (self->engine_) self->engine_->set_sample_rate(rate);
            return 0;
        },
        this);
    // Under PipeWire this may come late or not before the first cycle: process() trusts
    // nframes and never relies on this value.
    jack_set_buffer_size_callback(
        client_,
        [](jack_nframes_t n, void* arg) {
            static_cast<JackClient*>(arg)->block_size_.store(n, std::memory_order_relaxed);
            return 0;
        },
        this);
    jack_set_xrun_callback(
        client_,
        [](void* arg) {
            static_cast<JackClient*>(arg)->xruns_.fetch_add(1, std::memory_order_relaxed);
            return 0;
        },
        this);
    jack_on_info_shutdown(
        client_,
        [](jack_status_t, const char* reason, void* arg) {
            auto* self = static_cast<JackClient*>(arg);
            std::strncpy(self->shutdown_reason_, reason ? reason : "unknown",
                         sizeof(self->shutdown_reason_) - 1);
            self->server_gone_.store(true, std::memory_order_release);
        },
        this);
}

JackClient::~JackClient() {
    close();
}

void JackClient::activate(Engine& engine) {
    engine_ = &engine;
    engine.set_sample_rate(sample_rate());
    if (jack_activate(client_) != 0) throw std::runtime_error("cannot activate the JACK client");
}

std::uint32_t JackClient::connect_physical_outputs() {
    const char** physical = jack_get_ports(client_, nullptr, JACK_DEFAULT_AUDIO_TYPE,
                                           JackPortIsPhysical | JackPortIsInput);
    std::uint32_t connected = 0;
    if (physical) {
        for (std::size_t i = 0; i < ports_.size() && physical[i]; ++i)
            if (jack_connect(client_, jack_port_name(ports_[i]), physical[i]) == 0) ++connected;
        jack_free(physical);
    }
    return connected;
}

void JackClient::close() noexcept {
    if (!client_) return;
    // After the server vanished the client is already dead; closing it is still required to
    // free our side, and JACK allows it.
    jack_deactivate(client_);
    jack_client_close(client_);
    client_ = nullptr;
    engine_ = nullptr;
}

std::string JackClient::name() const {
    return client_ ? jack_get_client_name(client_) : "";
}

float JackClient::dsp_load() const noexcept {
    return client_ ? jack_cpu_load(client_) : 0.0F;
}

std::string JackClient::shutdown_reason() const {
    return shutdown_reason_;
}

std::uint64_t JackClient::extend(jack_nframes_t f) const {
    const std::uint64_t cycle = cycle_frame_.load(std::memory_order_acquire);
    // Before the first cycle nothing has wrapped yet.
    if (cycle == kNoCycle) return f;
    // The signed 32-bit distance from the cycle start: right across a wrap, either way.
    const auto delta = static_cast<std::int32_t>(f - static_cast<jack_nframes_t>(cycle));
    if (delta < 0 && static_cast<std::uint64_t>(-static_cast<std::int64_t>(delta)) > cycle)
        return 0;
    return cycle + static_cast<std::uint64_t>(static_cast<std::int64_t>(delta));
}

std::uint64_t JackClient::current_frame() const {
    return extend(jack_frame_time(client_));
}

std::uint64_t JackClient::frame_for_ntp(std::uint64_t timetag) const {
    if (timetag == 1) {
        // The cycle being rendered may already have taken its commands, so the next block
        // start is not safe; the one after it is. (jack_last_frame_time itself is meant for
        // the process callback only, hence the published copy.)
        const std::uint64_t cycle = cycle_frame_.load(std::memory_order_acquire);
        const std::uint64_t base = cycle == kNoCycle ? current_frame() : cycle;
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

// Audio thread. Wait-free; does not allocate. jack_last_frame_time and jack_transport_query
// are documented as callable from the process callback.
int JackClient::process(jack_nframes_t nframes) noexcept {
    for (std::size_t i = 0; i < ports_.size(); ++i)
        buffers_[i] = static_cast<float*>(jack_port_get_buffer(ports_[i], nframes));

    BlockTiming timing;
    const jack_nframes_t low = jack_last_frame_time(client_);
    if (low < last_cycle_low_) frame_wraps_ += 1ULL << 32U;
    last_cycle_low_ = low;
    timing.frame = frame_wraps_ | low;
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

    rt_guard::Scope realtime;
    // CLOCK_MONOTONIC is read through the vDSO: no system call on the audio thread.
    timespec began{};
    clock_gettime(CLOCK_MONOTONIC, &began);
    engine_->process(buffers_.data(), nframes, timing);
    timespec ended{};
    clock_gettime(CLOCK_MONOTONIC, &ended);
    const auto render_ns =
        (ended.tv_sec - began.tv_sec) * 1'000'000'000LL + (ended.tv_nsec - began.tv_nsec);
    render_meter_.record(static_cast<std::uint64_t>(std::max<long long>(render_ns, 0)), nframes,
                         sample_rate_.load(std::memory_order_relaxed));
    return 0;
}

}  // namespace looperd
