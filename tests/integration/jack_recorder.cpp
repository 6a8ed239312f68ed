// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "jack_recorder.hpp"

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <thread>

#include "jack_server.hpp"

namespace looperd::test {

using Clock = std::chrono::steady_clock;

JackRecorder::JackRecorder(const std::string& server_name, std::size_t channels,
                           std::chrono::seconds capacity, const std::string& client_name) {
    jack_status_t status{};
    client_ = jack_client_open(client_name.c_str(),
                               static_cast<jack_options_t>(JackNoStartServer | JackServerName),
                               &status, server_name.c_str());
    if (client_ == nullptr) {
        throw std::runtime_error("recorder: cannot open a JACK client on '" + server_name +
                                 "' (status 0x" + std::to_string(status) + ")");
    }
    sample_rate_ = jack_get_sample_rate(client_);
    capacity_ = static_cast<std::size_t>(capacity.count()) * sample_rate_;
    // vector's zero fill touches every page before the callback can see it.
    buffers_.assign(channels, std::vector<float>(capacity_, 0.0F));
    for (std::size_t c = 0; c < channels; ++c) {
        const std::string name = "in_" + std::to_string(c + 1);
        jack_port_t* port =
            jack_port_register(client_, name.c_str(), JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0);
        if (port == nullptr) {
            jack_client_close(client_);
            throw std::runtime_error("recorder: cannot register " + name);
        }
        ports_.push_back(port);
    }
    jack_set_process_callback(client_, &JackRecorder::process_trampoline, this);
    jack_set_xrun_callback(client_, &JackRecorder::xrun_trampoline, this);
    if (jack_activate(client_) != 0) {
        jack_client_close(client_);
        throw std::runtime_error("recorder: cannot activate");
    }
}

JackRecorder::~JackRecorder() {
    jack_deactivate(client_);
    jack_client_close(client_);
}

void JackRecorder::connect(const std::string& source_port, std::size_t channel) {
    const int r = jack_connect(client_, source_port.c_str(), jack_port_name(ports_.at(channel)));
    if (r != 0 && r != EEXIST) {
        throw std::runtime_error("recorder: cannot connect " + source_port + " to " +
                                 jack_port_name(ports_.at(channel)) + " (" + std::to_string(r) +
                                 ")");
    }
}

void JackRecorder::start() {
    overflowed_.store(false, std::memory_order_relaxed);
    state_.store(State::kArmed, std::memory_order_release);
    const auto deadline = Clock::now() + kHangBound;
    while (state_.load(std::memory_order_acquire) != State::kRecording) {
        if (Clock::now() >= deadline)
            throw std::runtime_error("recorder: no JACK cycle in " +
                                     std::to_string(kHangBound.count()) + " s");
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

void JackRecorder::stop() {
    state_.store(State::kIdle, std::memory_order_release);
}

std::vector<std::vector<float>> JackRecorder::snapshot() const {
    const std::size_t n = frames();
    std::vector<std::vector<float>> out;
    out.reserve(buffers_.size());
    for (const auto& b : buffers_) {
        out.emplace_back(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n));
    }
    return out;
}

std::size_t JackRecorder::wait_for_frames(std::size_t wanted,
                                          std::chrono::milliseconds timeout) const {
    const auto deadline = Clock::now() + timeout;
    while (frames() < wanted && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return frames();
}

std::vector<std::string> JackRecorder::ports(const std::string& pattern, unsigned long flags,
                                             const char* type) const {
    std::vector<std::string> names;
    const char** found = jack_get_ports(client_, pattern.c_str(), type, flags);
    for (const char** p = found; p != nullptr && *p != nullptr; ++p) names.emplace_back(*p);
    jack_free(static_cast<void*>(found));
    return names;
}

std::vector<std::string> JackRecorder::connections(const std::string& port) const {
    std::vector<std::string> names;
    jack_port_t* p = jack_port_by_name(client_, port.c_str());
    if (p == nullptr) return names;
    const char** found = jack_port_get_all_connections(client_, p);
    for (const char** c = found; c != nullptr && *c != nullptr; ++c) names.emplace_back(*c);
    jack_free(static_cast<void*>(found));
    return names;
}

int JackRecorder::connect_ports(const std::string& source, const std::string& destination) {
    return jack_connect(client_, source.c_str(), destination.c_str());
}

int JackRecorder::set_buffer_size(std::uint32_t frames) {
    return jack_set_buffer_size(client_, frames);
}

int JackRecorder::process_trampoline(jack_nframes_t nframes, void* self) {
    return static_cast<JackRecorder*>(self)->process(nframes);
}

int JackRecorder::xrun_trampoline(void* self) {
    static_cast<JackRecorder*>(self)->xruns_.fetch_add(1, std::memory_order_relaxed);
    return 0;
}

int JackRecorder::process(jack_nframes_t nframes) noexcept {
    State state = state_.load(std::memory_order_acquire);
    if (state == State::kArmed) {
        published_.store(0, std::memory_order_release);
        start_frame_.store(jack_last_frame_time(client_), std::memory_order_release);
        state_.compare_exchange_strong(state, State::kRecording, std::memory_order_acq_rel);
        state = State::kRecording;
    }
    if (state != State::kRecording) return 0;

    const std::size_t at = published_.load(std::memory_order_relaxed);
    const std::size_t n = std::min<std::size_t>(nframes, capacity_ - at);
    if (n < nframes) overflowed_.store(true, std::memory_order_relaxed);
    for (std::size_t c = 0; c < ports_.size(); ++c) {
        const auto* in = static_cast<const float*>(jack_port_get_buffer(ports_[c], nframes));
        std::copy_n(in, n, buffers_[c].begin() + static_cast<std::ptrdiff_t>(at));
    }
    published_.store(at + n, std::memory_order_release);
    return 0;
}

}  // namespace looperd::test
