// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// Controller: Ableton Link (docs/link.md). Joining and leaving the session, and the session's
// tempo followed into the mirror and the surfaces.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>
#include <vector>

#include "daemon/controller.hpp"

namespace looperd {

namespace {

// A tempo change smaller than this is Link's rounding, not a peer's: surfaces are not told.
constexpr double kTempoEpsilonBpm = 0.005;
// The audio thread's view of the session agrees with the control thread's commit when their
// beats at one time differ by less than this (Link keeps times in whole microseconds).
constexpr double kSameBeat = 1e-6;
// looperd's own beat (extrapolated from the audio thread's last stamp) and the session's, when
// they are one: Link's whole microseconds, and the stamp's rounding (60 µs at 97 BPM).
constexpr double kOwnBeat = 1e-4;
// How long joining waits for the audio thread to see the commit: a few cycles at most when a
// server runs; without one nothing would wait anyway.
constexpr auto kAudioViewWait = std::chrono::milliseconds(250);
constexpr auto kAudioViewPoll = std::chrono::milliseconds(1);
// How long the views must hold looperd's beat, alone, before the join is done.
constexpr auto kAudioViewSettle = std::chrono::milliseconds(50);

}  // namespace

bool Controller::link_available() const {
    return link_.session != nullptr && LinkSession::available();
}

// Enabling Link must not move the beat (Ableton's TEST-PLAN, BEATTIME-1): alone, the new
// session runs at looperd's tempo with looperd's beat now; with peers already there, Link keeps
// the session's tempo and phase, and looperd's beat moves onto the session's grid (to the
// nearest beat with the session's phase over the meter).
void Controller::join_link(double bpm, double meter) {
    LinkSession& session = *link_.session;
    session.set_quantum(meter);
    // What a stale state of this Link object can show: its tempo before this commit, or ours.
    const double before = session.tempo();
    // looperd's tempo and beat go to the session before it is enabled: Link applies commits
    // and the enabling in order on its own thread, and the enabling starts the new session
    // from the timeline it had (committed the other way round, the enabling could start from
    // the old one after looperd's commit, and the beat would jump).
    session.set_tempo(bpm);
    const double now = session.now_micros();
    const std::optional<double> beat = link_.beat_at_host ? link_.beat_at_host(now) : std::nullopt;
    if (beat) session.request_beat(*beat, now);
    session.enable(true);
    if (link_.joined) link_.joined();
    // Before JACK's first cycle (a rig restored at start) there is no beat to keep yet.
    if (!beat) {
        spdlog::info("Ableton Link on (quantum {}): the beat grid follows the session", meter);
        return;
    }
    // Link hands a commit to the audio thread a moment later: until then the audio thread
    // still reads the session as it was, a fresh one at an unrelated beat. The engine is told
    // to follow only once the audio thread reads what was committed. Alone, that must also be
    // looperd's own beat: Link's thread, applying the commits and the enabling in turn, can
    // let an earlier state overwrite a later one (seen under ASan, also after both views first
    // agreed on looperd's beat), and then both views agree on the wrong beat; the tempo and
    // beat are asked for again, until the views have held looperd's for kAudioViewSettle.
    const auto deadline = std::chrono::steady_clock::now() + kAudioViewWait;
    bool held = false;  // since holding
    std::chrono::steady_clock::time_point holding;
    for (;;) {
        const auto seen = link_.audio_view ? link_.audio_view() : std::nullopt;
        const auto now_steady = std::chrono::steady_clock::now();
        if (seen && std::fabs(seen->bpm - session.tempo()) < kSameBeat &&
            std::fabs(seen->beat - session.beat_at(seen->host_micros)) < kSameBeat) {
            const std::optional<double> ours = link_.beat_at_host(seen->host_micros);
            // Neither tempo: another session's, joined before Link counted its peers (it
            // takes the session's timing first). Committing ours now would move everyone.
            const bool joined = std::fabs(seen->bpm - bpm) >= kSameBeat &&
                                std::fabs(seen->bpm - before) >= kSameBeat;
            if (session.peers() > 0 || joined || !ours ||
                (std::fabs(seen->bpm - bpm) < kSameBeat &&
                 std::fabs(seen->beat - *ours) < kOwnBeat)) {
                if (!held) holding = now_steady;
                held = true;
                if (session.peers() > 0 || joined || !ours ||
                    now_steady - holding >= kAudioViewSettle)
                    break;
            } else {
                held = false;
                const double again = session.now_micros();
                session.set_tempo(bpm);
                if (const auto b = link_.beat_at_host(again)) session.request_beat(*b, again);
            }
        } else {
            held = false;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            spdlog::warn(
                "Ableton Link on, but the audio thread did not see the session within "
                "{} ms: the beat may move once",
                kAudioViewWait.count());
            return;
        }
        std::this_thread::sleep_for(kAudioViewPoll);
    }
    spdlog::info("Ableton Link on (quantum {}): the beat grid follows the session", meter);
}

void Controller::leave_link() {
    link_.session->enable(false);
    spdlog::info("Ableton Link off: the beat grid runs on at the session's last tempo");
}

// A peer's tempo, and with start/stop sync the session's start and stop, reach the mirror and
// the surfaces (the engine hears both from the session itself).
void Controller::follow_link() {
    if (!link_available() || !link_.session->enabled()) return;
    const osc::Row& tempo_row = osc::row(osc::Handler::clock_tempo);
    const osc::Row& playing_row = osc::row(osc::Handler::clock_playing);
    std::vector<OscMessage> changed;
    {
        std::lock_guard one_at_a_time(dispatch_);
        Transaction tx(mirror_);
        if (tx.mirror.globals().sync != ClockSource::link) return;
        // Read under the lock: a /clock/playing or /clock/tempo being handled has committed
        // to the session before this reads it, so the mirror never flickers back.
        const auto bpm =
            static_cast<float>(std::clamp(link_.session->tempo(), tempo_row.min, tempo_row.max));
        if (std::fabs(static_cast<double>(tx.mirror.globals().tempo - bpm)) >= kTempoEpsilonBpm) {
            tx.mirror.edit_globals().tempo = bpm;
            changed.push_back({std::string(tempo_row.echo), {OscArg::float32(bpm)}, 0});
        }
        // Before any start or stop since joining, the session's state is unknown: the mirror
        // keeps looperd's.
        const std::optional<bool> session_playing = link_.session->playing();
        const std::int32_t playing = session_playing.value_or(false) ? 1 : 0;
        if (link_.start_stop_sync && session_playing && tx.mirror.globals().playing != playing) {
            tx.mirror.edit_globals().playing = playing;
            changed.push_back({std::string(playing_row.echo), {OscArg::int32(playing)}, 0});
        }
        if (changed.empty()) return;
        commit(tx, {});
    }
    if (feedback_)
        for (auto& m : changed) feedback_->publish(std::move(m), std::nullopt);
}

}  // namespace looperd
