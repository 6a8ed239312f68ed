// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>

#include "looperd/timing.hpp"

namespace looperd {

// LinkSession: looperd's place in an Ableton Link session (tempo, beat and phase shared with
// every Link app on the network). docs/link.md describes what it does for a player.
//
// Built with Link (meson's `link` feature) it holds an ableton::Link; built without, available()
// is false and enable() refuses. Link is GPLv2+: a looperd built with it is distributed under
// the GPL.
//
// Threads: the control thread enables it and changes the session (Link's app-thread API, which
// may lock and allocate); the audio thread only reads the session with capture(), Link's
// captureAudioSessionState, which neither locks nor allocates. The audio thread never commits:
// Link's commitAudioSessionState wakes Link's own thread through a condition variable (a futex
// call), which the audio thread's law forbids. Tempo changes from OSC and MIDI reach Link from
// the control thread instead, and come back to the audio thread through capture().
class LinkSession {
  public:
    // `bpm` and `quantum` (beats per bar): looperd's own, for a session it starts alone.
    LinkSession(double bpm, double quantum);
    ~LinkSession();
    LinkSession(const LinkSession&) = delete;
    LinkSession& operator=(const LinkSession&) = delete;

    // Whether this looperd was built with Link.
    static bool available() noexcept;

    // Control thread. Joins or leaves the session; false when built without Link.
    bool enable(bool on);
    // Control thread. Start/stop sync (Link's isPlaying shared with the peers): on by default.
    void set_start_stop_sync(bool on);
    // Control thread. The session's tempo: every peer follows.
    void set_tempo(double bpm);
    // Control thread. Puts looperd's `beat` at `host_micros` (the system clock's time of the
    // frame that beat sounds on): exactly, when no peer is there (enabling Link then never
    // makes the beat jump); with peers, the session's phase wins over looperd's (joining a
    // session moves looperd onto its grid).
    void request_beat(double beat, double host_micros);
    // Control thread. Starts or stops the session's transport (with start/stop sync on).
    void set_playing(bool playing, double host_micros);
    // Control thread. The session's tempo now (looperd's own while not enabled).
    double tempo() const;
    // Control thread. Whether the session plays (Link's isPlaying), as last committed or heard;
    // nullopt before any start or stop since joining (Link tells a newcomer only of changes).
    std::optional<bool> playing() const;
    // Control thread. The session's beat at `host_micros`, over quantum(), as the control
    // thread's last commit left it (the audio thread sees a commit a moment later).
    double beat_at(double host_micros) const;

    // Any thread.
    bool enabled() const noexcept { return enabled_.load(std::memory_order_relaxed); }
    std::size_t peers() const noexcept { return peers_.load(std::memory_order_relaxed); }
    // The beats per bar (looperd's meter): Link aligns phase over this many beats.
    void set_quantum(double beats) noexcept { quantum_.store(beats, std::memory_order_relaxed); }
    double quantum() const noexcept { return quantum_.load(std::memory_order_relaxed); }

    // Audio thread (or any): Link's clock, in microseconds (CLOCK_MONOTONIC_RAW, read through
    // the vDSO).
    double now_micros() const noexcept;
    // Audio thread. The session as heard at `host_micros`: its tempo, its beat there on a grid
    // phase-aligned over quantum() beats, whether it plays. Invalid while not enabled.
    LinkInfo capture(double host_micros) const noexcept;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    std::atomic<bool> enabled_{false};
    std::atomic<std::size_t> peers_{0};
    std::atomic<double> quantum_;
};

}  // namespace looperd
