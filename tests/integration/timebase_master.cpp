// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "timebase_master.hpp"

#include <stdexcept>
#include <thread>

namespace looperd::test {

using Clock = std::chrono::steady_clock;

TimebaseMaster::TimebaseMaster(const std::string& server_name) {
    jack_status_t status{};
    client_ = jack_client_open("looperd-test-timebase",
                               static_cast<jack_options_t>(JackNoStartServer | JackServerName),
                               &status, server_name.c_str());
    if (client_ == nullptr) {
        throw std::runtime_error("timebase: cannot open a JACK client on '" + server_name +
                                 "' (status 0x" + std::to_string(status) + ")");
    }
    jack_set_process_callback(client_, &TimebaseMaster::process_trampoline, this);
    if (jack_activate(client_) != 0) {
        jack_client_close(client_);
        throw std::runtime_error("timebase: cannot activate");
    }
}

TimebaseMaster::~TimebaseMaster() {
    if (master_.load(std::memory_order_relaxed)) jack_release_timebase(client_);
    jack_deactivate(client_);
    jack_client_close(client_);
}

void TimebaseMaster::become_master(std::uint32_t bpm, std::uint32_t beats_per_bar) {
    const std::uint32_t rate = sample_rate();
    if (bpm == 0 || beats_per_bar == 0 || (rate * 60U) % bpm != 0) {
        throw std::runtime_error("timebase: a beat must last a whole number of frames");
    }
    bpm_ = bpm;
    beats_per_bar_ = beats_per_bar;
    frames_per_beat_ = rate * 60U / bpm;
    // conditional = 0: take over from any current master.
    if (jack_set_timebase_callback(client_, 0, &TimebaseMaster::timebase_trampoline, this) != 0) {
        throw std::runtime_error("timebase: jack_set_timebase_callback failed");
    }
    master_.store(true, std::memory_order_release);
}

void TimebaseMaster::locate(jack_nframes_t transport_frame) {
    if (jack_transport_locate(client_, transport_frame) != 0) {
        throw std::runtime_error("timebase: jack_transport_locate failed");
    }
}

void TimebaseMaster::start_transport() {
    jack_transport_start(client_);
}

void TimebaseMaster::stop_transport() {
    jack_transport_stop(client_);
}

std::optional<std::int64_t> TimebaseMaster::wait_rolling(int cycles,
                                                         std::chrono::milliseconds timeout) const {
    const auto deadline = Clock::now() + timeout;
    while (stable_cycles_.load(std::memory_order_acquire) < static_cast<std::uint64_t>(cycles)) {
        if (Clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return offset_.load(std::memory_order_acquire);
}

int TimebaseMaster::process_trampoline(jack_nframes_t nframes, void* self) {
    return static_cast<TimebaseMaster*>(self)->process(nframes);
}

void TimebaseMaster::timebase_trampoline(jack_transport_state_t /*state*/,
                                         jack_nframes_t /*nframes*/, jack_position_t* pos,
                                         int /*new_pos*/, void* self) {
    static_cast<const TimebaseMaster*>(self)->timebase(pos);
}

int TimebaseMaster::process(jack_nframes_t /*nframes*/) noexcept {
    jack_position_t pos{};
    const jack_transport_state_t state = jack_transport_query(client_, &pos);
    if (state != JackTransportRolling) {
        stable_cycles_.store(0, std::memory_order_release);
        return 0;
    }
    // The same cycle's frame time and transport frame: their difference maps transport frames
    // (where the bar lines are) to JACK frames (where the recording is).
    const std::int64_t offset = static_cast<std::int64_t>(jack_last_frame_time(client_)) -
                                static_cast<std::int64_t>(pos.frame);
    if (stable_cycles_.load(std::memory_order_relaxed) > 0 &&
        offset != offset_.load(std::memory_order_relaxed)) {
        offset_changes_.fetch_add(1, std::memory_order_relaxed);
        stable_cycles_.store(0, std::memory_order_relaxed);
    }
    offset_.store(offset, std::memory_order_relaxed);
    stable_cycles_.fetch_add(1, std::memory_order_release);

    if (master_.load(std::memory_order_acquire) && (pos.valid & JackPositionBBT) != 0) {
        bbt_cycles_.fetch_add(1, std::memory_order_relaxed);
        jack_position_t want{};
        fill_bbt(pos.frame, want);
        if (want.bar != pos.bar || want.beat != pos.beat || want.tick != pos.tick ||
            want.bar_start_tick != pos.bar_start_tick ||
            want.beats_per_minute != pos.beats_per_minute) {
            bbt_mismatches_.fetch_add(1, std::memory_order_relaxed);
        }
    }
    return 0;
}

void TimebaseMaster::timebase(jack_position_t* pos) const noexcept {
    fill_bbt(pos->frame, *pos);
    pos->valid = static_cast<jack_position_bits_t>(pos->valid | JackPositionBBT);
}

void TimebaseMaster::fill_bbt(jack_nframes_t frame, jack_position_t& pos) const noexcept {
    // Integer arithmetic from the transport frame: bar lines fall on transport frames that
    // are multiples of frames_per_bar(), exactly.
    const std::uint64_t beats = frame / frames_per_beat_;
    pos.bar = static_cast<std::int32_t>(beats / beats_per_bar_) + 1;
    pos.beat = static_cast<std::int32_t>(beats % beats_per_bar_) + 1;
    pos.tick = static_cast<std::int32_t>(frame % frames_per_beat_);
    pos.ticks_per_beat = frames_per_beat_;
    pos.bar_start_tick =
        static_cast<double>((beats / beats_per_bar_) * beats_per_bar_ * frames_per_beat_);
    pos.beats_per_bar = static_cast<float>(beats_per_bar_);
    pos.beat_type = 4.0F;
    pos.beats_per_minute = bpm_;
}

}  // namespace looperd::test
