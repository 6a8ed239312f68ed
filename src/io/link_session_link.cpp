// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// LinkSession built with Ableton Link (meson's `link` feature).
#include <ableton/Link.hpp>

#include <chrono>
#include <cmath>

#include "io/link_session.hpp"

namespace looperd {

namespace {

std::chrono::microseconds micros(double host_micros) {
    return std::chrono::microseconds(std::llround(host_micros));
}

}  // namespace

struct LinkSession::Impl {
    explicit Impl(double bpm) : link(bpm), created(link.clock().micros()) {}
    ableton::Link link;
    // Link's start/stop state before any start or stop is "stopped at the moment Link was
    // made": a start or stop looperd hears of is always later.
    std::chrono::microseconds created;

    bool heard_start_stop(std::chrono::microseconds since) const { return since > created; }
};

LinkSession::LinkSession(double bpm, double quantum)
    : impl_(std::make_unique<Impl>(bpm)), quantum_(quantum) {
    // Link's own thread calls this; peers() reads it from any thread.
    impl_->link.setNumPeersCallback(
        [this](std::size_t n) { peers_.store(n, std::memory_order_relaxed); });
    impl_->link.enableStartStopSync(true);
}

LinkSession::~LinkSession() {
    impl_->link.enable(false);
}

bool LinkSession::available() noexcept {
    return true;
}

bool LinkSession::enable(bool on) {
    impl_->link.enable(on);
    enabled_.store(on, std::memory_order_relaxed);
    if (!on) peers_.store(0, std::memory_order_relaxed);
    return true;
}

void LinkSession::set_start_stop_sync(bool on) {
    impl_->link.enableStartStopSync(on);
}

void LinkSession::set_tempo(double bpm) {
    auto state = impl_->link.captureAppSessionState();
    state.setTempo(bpm, impl_->link.clock().micros());
    impl_->link.commitAppSessionState(state);
}

void LinkSession::request_beat(double beat, double host_micros) {
    auto state = impl_->link.captureAppSessionState();
    state.requestBeatAtTime(beat, micros(host_micros), quantum());
    impl_->link.commitAppSessionState(state);
}

void LinkSession::set_playing(bool playing, double host_micros) {
    auto state = impl_->link.captureAppSessionState();
    state.setIsPlaying(playing, micros(host_micros));
    impl_->link.commitAppSessionState(state);
}

double LinkSession::tempo() const {
    return impl_->link.captureAppSessionState().tempo();
}

std::optional<bool> LinkSession::playing() const {
    const auto state = impl_->link.captureAppSessionState();
    if (!impl_->heard_start_stop(state.timeForIsPlaying())) return std::nullopt;
    return state.isPlaying();
}

double LinkSession::beat_at(double host_micros) const {
    return impl_->link.captureAppSessionState().beatAtTime(micros(host_micros), quantum());
}

double LinkSession::now_micros() const noexcept {
    return static_cast<double>(impl_->link.clock().micros().count());
}

LinkInfo LinkSession::capture(double host_micros) const noexcept {
    LinkInfo info;
    if (!enabled()) return info;
    const auto state = impl_->link.captureAudioSessionState();
    const auto at = micros(host_micros);
    info.valid = true;
    info.bpm = state.tempo();
    info.beat = state.beatAtTime(at, quantum());
    info.playing = state.isPlaying();
    const auto since = state.timeForIsPlaying();
    info.start_stop_known = impl_->heard_start_stop(since);
    if (info.start_stop_known) info.start_stop_beat = state.beatAtTime(since, 1.0);
    return info;
}

}  // namespace looperd
