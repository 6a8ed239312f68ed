// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "jack_player.hpp"

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <thread>

#include "jack_server.hpp"

namespace looperd::test {

using Clock = std::chrono::steady_clock;

JackPlayer::JackPlayer(const std::string& server_name, std::size_t channels,
                       std::chrono::seconds capacity) {
    jack_status_t status{};
    client_ = jack_client_open("looperd-test-player",
                               static_cast<jack_options_t>(JackNoStartServer | JackServerName),
                               &status, server_name.c_str());
    if (client_ == nullptr) {
        throw std::runtime_error("player: cannot open a JACK client on '" + server_name +
                                 "' (status 0x" + std::to_string(status) + ")");
    }
    capacity_ = static_cast<std::size_t>(capacity.count()) * jack_get_sample_rate(client_);
    // vector's zero fill touches every page before the callback can see it.
    buffers_.assign(channels, std::vector<float>(capacity_, 0.0F));
    for (std::size_t c = 0; c < channels; ++c) {
        const std::string name = "out_" + std::to_string(c + 1);
        jack_port_t* port =
            jack_port_register(client_, name.c_str(), JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput, 0);
        if (port == nullptr) {
            jack_client_close(client_);
            throw std::runtime_error("player: cannot register " + name);
        }
        ports_.push_back(port);
    }
    jack_set_process_callback(client_, &JackPlayer::process_trampoline, this);
    if (jack_activate(client_) != 0) {
        jack_client_close(client_);
        throw std::runtime_error("player: cannot activate");
    }
}

JackPlayer::~JackPlayer() {
    jack_deactivate(client_);
    jack_client_close(client_);
}

void JackPlayer::connect(std::size_t channel, const std::string& destination_port) {
    const int r =
        jack_connect(client_, jack_port_name(ports_.at(channel)), destination_port.c_str());
    if (r != 0 && r != EEXIST) {
        throw std::runtime_error("player: cannot connect " +
                                 std::string(jack_port_name(ports_.at(channel))) + " to " +
                                 destination_port + " (" + std::to_string(r) + ")");
    }
}

void JackPlayer::play(const std::vector<std::vector<float>>& signal) {
    if (signal.size() != buffers_.size()) throw std::runtime_error("player: wrong channel count");
    const std::size_t n = signal.front().size();
    if (n > capacity_) throw std::runtime_error("player: signal longer than the capacity");
    for (const auto& s : signal) {
        if (s.size() != n) throw std::runtime_error("player: channels of different lengths");
    }
    stop();
    for (std::size_t c = 0; c < buffers_.size(); ++c)
        std::copy(signal[c].begin(), signal[c].end(), buffers_[c].begin());
    length_ = n;
    state_.store(State::kArmed, std::memory_order_release);
    const auto deadline = Clock::now() + kHangBound;
    while (state_.load(std::memory_order_acquire) == State::kArmed) {
        if (Clock::now() >= deadline)
            throw std::runtime_error("player: no JACK cycle in " +
                                     std::to_string(kHangBound.count()) + " s");
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

void JackPlayer::stop() {
    State s = state_.load(std::memory_order_acquire);
    if (s == State::kIdle || s == State::kDone) return;
    state_.store(State::kStopping, std::memory_order_release);
    const auto deadline = Clock::now() + kHangBound;
    while (state_.load(std::memory_order_acquire) == State::kStopping) {
        if (Clock::now() >= deadline)
            throw std::runtime_error("player: no JACK cycle in " +
                                     std::to_string(kHangBound.count()) + " s");
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

bool JackPlayer::wait_done(std::chrono::milliseconds timeout) const {
    const auto deadline = Clock::now() + timeout;
    while (state_.load(std::memory_order_acquire) != State::kDone) {
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
}

int JackPlayer::process_trampoline(jack_nframes_t nframes, void* self) {
    return static_cast<JackPlayer*>(self)->process(nframes);
}

int JackPlayer::process(jack_nframes_t nframes) noexcept {
    State state = state_.load(std::memory_order_acquire);
    if (state == State::kArmed) {
        position_ = 0;
        start_frame_.store(jack_last_frame_time(client_), std::memory_order_release);
        state = State::kPlaying;
        // The test thread only waits while armed, so nothing else moves the state now.
        state_.store(state, std::memory_order_release);
    } else if (state == State::kStopping) {
        state_.store(State::kIdle, std::memory_order_release);
        state = State::kIdle;
    }
    const std::size_t n =
        state == State::kPlaying ? std::min<std::size_t>(nframes, length_ - position_) : 0;
    for (std::size_t c = 0; c < ports_.size(); ++c) {
        auto* out = static_cast<float*>(jack_port_get_buffer(ports_[c], nframes));
        std::copy_n(buffers_[c].begin() + static_cast<std::ptrdiff_t>(position_), n, out);
        std::fill(out + n, out + nframes, 0.0F);
    }
    if (state == State::kPlaying) {
        position_ += n;
        // A stop() between the load above and here wins: compare-exchange, not a store.
        if (position_ == length_)
            state_.compare_exchange_strong(state, State::kDone, std::memory_order_acq_rel);
    }
    return 0;
}

}  // namespace looperd::test
