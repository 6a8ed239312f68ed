// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// LinkSession in a looperd built without Ableton Link: never enabled, nothing to follow.
#include <chrono>

#include "io/link_session.hpp"

namespace looperd {

struct LinkSession::Impl {
    double bpm;
};

LinkSession::LinkSession(double bpm, double quantum)
    : impl_(std::make_unique<Impl>(Impl{bpm})), quantum_(quantum) {}

LinkSession::~LinkSession() = default;

bool LinkSession::available() noexcept {
    return false;
}

bool LinkSession::enable(bool on) {
    return !on;
}

void LinkSession::set_start_stop_sync(bool /*on*/) {}

void LinkSession::set_tempo(double bpm) {
    impl_->bpm = bpm;
}

void LinkSession::request_beat(double /*beat*/, double /*host_micros*/) {}

void LinkSession::set_playing(bool /*playing*/, double /*host_micros*/) {}

double LinkSession::tempo() const {
    return impl_->bpm;
}

std::optional<bool> LinkSession::playing() const {
    return std::nullopt;
}

double LinkSession::beat_at(double /*host_micros*/) const {
    return 0.0;
}

double LinkSession::now_micros() const noexcept {
    const auto now = std::chrono::steady_clock::now().time_since_epoch();
    return static_cast<double>(std::chrono::duration_cast<std::chrono::microseconds>(now).count());
}

LinkInfo LinkSession::capture(double /*host_micros*/) const noexcept {
    return {};
}

}  // namespace looperd
