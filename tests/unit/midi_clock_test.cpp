// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// MIDI clock in (the delay-locked loop alone, then the engine's grid following it, frame by
// frame under the audio-thread guard) and the transport messages looperd sends with its clock.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "engine_harness.hpp"
#include "looperd/midi_clock_in.hpp"

namespace {

using namespace looperd;
using Bytes = std::vector<std::uint8_t>;

constexpr double kRate = 48000.0;
constexpr double kBpm = 97.3;
constexpr std::int64_t kJitter = 48;  // ±1 ms at 48 kHz

double frames_per_tick(double bpm) {
    return kRate * 60.0 / bpm / 24.0;
}
double bpm_of(double frames_per_tick) {
    return kRate * 60.0 / (frames_per_tick * 24.0);
}

// Ticks of a clock at `bpm` from `first` (the true, unjittered frame of tick 0), each moved by
// a deterministic pseudo-random whole number of frames in ±`jitter`.
struct TickSource {
    double first = 1000.0;
    double per_tick = frames_per_tick(kBpm);
    std::int64_t jitter = kJitter;
    std::mt19937 rng{7};
    double exact(std::uint64_t k) const { return first + static_cast<double>(k) * per_tick; }
    std::uint64_t arrival(std::uint64_t k) {
        const auto j =
            jitter == 0 ? 0 : static_cast<std::int64_t>(rng() % (2 * jitter + 1)) - jitter;
        return static_cast<std::uint64_t>(std::llround(exact(k)) + j);
    }
};

// ---- the loop alone ------------------------------------------------------------------------

// One bar (96 ticks) of 97.3 BPM with ±1 ms of jitter: the tempo is within 0.1 BPM, whatever
// the jitter's sequence.
TEST(MidiClockIn, LocksWithin0_1BpmInOneBarOfJitteredTicks) {
    for (std::uint32_t seed = 1; seed <= 50; ++seed) {
        MidiClockIn in;
        TickSource src;
        src.rng.seed(seed);
        for (std::uint64_t k = 0; k < 96; ++k) in.tick(src.arrival(k), 1000.0, kRate);
        EXPECT_NEAR(bpm_of(in.frames_per_tick()), kBpm, 0.1) << "seed " << seed;
    }
}

// Ten minutes of jittered ticks: after the first bar every filtered tick stays within a
// millisecond of its true frame, the last one too (the loop does not drift).
TEST(MidiClockIn, FilteredTicksStayOnTheTrueTicksForTenMinutes) {
    MidiClockIn in;
    TickSource src;
    const auto ticks = static_cast<std::uint64_t>(10 * 60 * kBpm / 60 * 24);
    double worst = 0.0;
    double last = 0.0;
    for (std::uint64_t k = 0; k < ticks; ++k) {
        const auto t = in.tick(src.arrival(k), 1000.0, kRate);
        last = t.frame - src.exact(k);
        if (k >= 96) worst = std::max(worst, std::fabs(last));
    }
    EXPECT_LT(worst, 48.0);
    EXPECT_LT(std::fabs(last), 24.0);
    EXPECT_NEAR(bpm_of(in.frames_per_tick()), kBpm, 0.02);
}

// At 300 BPM a tick is 8.3 ms and ±1 ms of jitter is an eighth of it: jitter must not pass for
// tempo steps (each would restart the fit and throw the phase off); the phase stays within
// 1 ms of the true ticks for a minute.
TEST(MidiClockIn, JitterAtFastTemposIsNotATempoStep) {
    MidiClockIn in;
    TickSource src;
    src.per_tick = frames_per_tick(300.0);
    double worst = 0.0;
    for (std::uint64_t k = 0; k < 300 * 24; ++k) {
        const auto t = in.tick(src.arrival(k), 1000.0, kRate);
        if (k >= 96) worst = std::max(worst, std::fabs(t.frame - src.exact(k)));
    }
    EXPECT_LT(worst, 48.0);
    EXPECT_NEAR(bpm_of(in.frames_per_tick()), 300.0, 0.1);
}

// A tempo step mid-stream (a tenth of a tick off three times running) starts the fit afresh:
// the new tempo is held within 0.1 BPM a bar later, up or down.
TEST(MidiClockIn, FollowsATempoStepWithinABar) {
    for (const double to : {120.0, 80.0, 140.0}) {
        MidiClockIn in;
        TickSource src;
        std::uint64_t k = 0;
        for (; k < 4 * 96; ++k) in.tick(src.arrival(k), 1000.0, kRate);
        TickSource after;
        after.first = src.exact(k);
        after.per_tick = frames_per_tick(to);
        for (std::uint64_t j = 0; j < 96; ++j) in.tick(after.arrival(j), 1000.0, kRate);
        EXPECT_NEAR(bpm_of(in.frames_per_tick()), to, 0.1) << "97.3 to " << to;
    }
}

// A small tempo change (no slip) is followed by the loop itself, within 0.1 BPM in two bars.
TEST(MidiClockIn, FollowsASmallTempoChange) {
    MidiClockIn in;
    TickSource src;
    std::uint64_t k = 0;
    for (; k < 4 * 96; ++k) in.tick(src.arrival(k), 1000.0, kRate);
    TickSource after;
    after.first = src.exact(k);
    after.per_tick = frames_per_tick(98.0);
    for (std::uint64_t j = 0; j < 2 * 96; ++j) in.tick(after.arrival(j), 1000.0, kRate);
    EXPECT_NEAR(bpm_of(in.frames_per_tick()), 98.0, 0.1);
}

// Start: the next tick is song position 0. Stop freezes the position; a Song Position Pointer
// sets it (6 ticks a 16th); Continue makes the next tick that position.
TEST(MidiClockIn, StartStopContinueAndSongPositionLabelTheTicks) {
    MidiClockIn in;
    std::uint64_t f = 0;
    auto tick = [&] { return in.tick(f += 1000, 1000.0, kRate); };
    EXPECT_FALSE(tick().relabel) << "ticks before any Start keep the grid's count";
    in.start();
    auto t = tick();
    EXPECT_TRUE(t.relabel);
    EXPECT_EQ(t.song_tick, 0U);
    for (int i = 0; i < 9; ++i) EXPECT_FALSE(tick().relabel);
    EXPECT_EQ(in.song_tick(), 10U);
    in.stop();
    tick();  // ticks while stopped: tempo and phase, no position
    EXPECT_EQ(in.song_tick(), 10U);
    in.resume();
    t = tick();
    EXPECT_TRUE(t.relabel);
    EXPECT_EQ(t.song_tick, 10U) << "Continue goes on where Stop left";
    in.stop();
    in.song_position(8);  // two beats
    tick();
    in.resume();
    t = tick();
    EXPECT_TRUE(t.relabel);
    EXPECT_EQ(t.song_tick, 48U);
    in.song_position(16);  // a jump while running moves the grid at the next tick
    t = tick();
    EXPECT_TRUE(t.relabel);
    EXPECT_EQ(t.song_tick, 96U);
    EXPECT_EQ(tick().song_tick, 97U);
}

// No tick for 2 s: lost once; the next tick starts the loop afresh at the period it had.
TEST(MidiClockIn, LosesTheClockAfterTwoSecondsWithoutATick) {
    MidiClockIn in;
    TickSource src;
    src.jitter = 0;
    std::uint64_t k = 0;
    for (; k < 96; ++k) in.tick(src.arrival(k), 1000.0, kRate);
    const std::uint64_t last = src.arrival(k - 1);
    EXPECT_FALSE(in.check_loss(last + 95999, kRate));
    EXPECT_TRUE(in.check_loss(last + 96000, kRate));
    EXPECT_FALSE(in.check_loss(last + 200000, kRate)) << "once";
    EXPECT_FALSE(in.locked());
    const auto t = in.tick(last + 300000, in.frames_per_tick(), kRate);
    EXPECT_TRUE(in.locked());
    EXPECT_EQ(t.frame, static_cast<double>(last + 300000)) << "the first tick as it came";
    EXPECT_NEAR(bpm_of(t.frames_per_tick), kBpm, 0.01) << "at the last tempo";
}

// An external clock below /clock/tempo's 20..999 is followed as it is (the grid must stay on the
// master's beats); only beyond 10..999 BPM, no clock at all, is the period held.
TEST(MidiClockIn, FollowsTemposOutsideTheInternalRangeWithinSanityBounds) {
    for (const auto& [sent, held] : {std::pair{15.0, 15.0}, std::pair{400.0, 400.0},
                                     std::pair{5.0, 10.0}, std::pair{2000.0, 999.0}}) {
        MidiClockIn in;
        TickSource src;
        src.jitter = 0;
        src.per_tick = frames_per_tick(sent);
        for (std::uint64_t k = 0; k < 200; ++k) {
            if (src.per_tick * 24 > kRate * 2.0 && k > 0) {  // slower than the loss time
                in.check_loss(src.arrival(k) - 1, kRate);
            }
            in.tick(src.arrival(k), 1000.0, kRate);
        }
        EXPECT_NEAR(bpm_of(in.frames_per_tick()), held, held * 0.002) << sent << " BPM sent";
    }
}

// ---- through the engine --------------------------------------------------------------------

EngineConfig config() {
    EngineConfig c;
    c.slots = 4;
    c.voices = 16;
    return c;
}

// Renders the engine in blocks of `block`, handing each block the scripted MIDI bytes whose
// (engine) frame falls in it.
class ClockFeed {
  public:
    explicit ClockFeed(test::EngineHarness& h, std::uint32_t block = 128) : h_(h), block_(block) {}
    // Kept in frame order; events on one frame in the order given.
    void at(std::uint64_t frame, Bytes bytes) {
        const auto pos =
            std::upper_bound(script_.begin(), script_.end(), frame,
                             [](std::uint64_t f, const auto& e) { return f < e.first; });
        script_.emplace(pos, frame, std::move(bytes));
    }
    // Renders up to `frame` (whole blocks); `each` runs after every block.
    template <typename Each>
    void run_until(std::uint64_t frame, Each each) {
        while (h_.engine().frames_processed() < frame) {
            const std::uint64_t t0 = h_.engine().frames_processed();
            std::vector<MidiEvent> events;
            while (next_ < script_.size() && script_[next_].first < t0 + block_) {
                const auto& [f, b] = script_[next_++];
                events.push_back({static_cast<std::uint32_t>(f - t0),
                                  static_cast<std::uint32_t>(b.size()), b.data()});
            }
            h_.render_midi(block_, events);
            each(t0);
        }
    }
    void run_until(std::uint64_t frame) {
        run_until(frame, [](std::uint64_t) {});
    }

  private:
    test::EngineHarness& h_;
    std::uint32_t block_;
    std::vector<std::pair<std::uint64_t, Bytes>> script_;  // in frame order
    std::size_t next_ = 0;
};

// Jittered 97.3 BPM ticks with Start before the first, for `ticks` ticks.
TickSource script_clock(ClockFeed& feed, std::uint64_t ticks) {
    TickSource src;
    TickSource arrivals = src;
    feed.at(static_cast<std::uint64_t>(src.first) - 200, {0xFA});
    for (std::uint64_t k = 0; k < ticks; ++k) feed.at(arrivals.arrival(k), {0xF8});
    return src;
}

std::uint32_t first_sound(const float* out, std::uint32_t n) {
    for (std::uint32_t i = 0; i < n; ++i)
        if (out[i] != 0.0F) return i;
    return n;
}

// Presses a looping slot quantized to `quantize` beats after `frame` and returns its onset.
std::uint64_t launch(test::EngineHarness& h, ClockFeed& feed, std::uint64_t frame) {
    feed.run_until(frame);
    h.play(0);
    std::uint64_t onset = 0;
    bool found = false;
    feed.run_until(frame + 3 * 48000, [&](std::uint64_t t0) {
        if (found) return;
        const auto at = first_sound(h.out(0), 128);
        if (at < 128) {
            onset = t0 + at;
            found = true;
        }
    });
    EXPECT_TRUE(found);
    h.stop(0);
    return onset;
}

// The distance in frames from `frame` to the nearest true beat of `src` (every 24th tick).
double off_beat(const TickSource& src, std::uint64_t frame) {
    const double beats = (static_cast<double>(frame) - src.first) / (src.per_tick * 24.0);
    return (beats - std::nearbyint(beats)) * src.per_tick * 24.0;
}

// The figures through the engine: 97.3 BPM with ±1 ms of jitter; after one bar the
// tempo reads 97.3 ± 0.1 and a launch quantized to the beat lands within 1 ms of the true beat;
// after ten minutes a launch quantized to the bar still does (no drift), on the bar.
TEST(EngineMidiClockIn, JitteredClockTempoAndQuantizedLaunchesOnItsBeatsForTenMinutes) {
    test::EngineHarness h(config());
    h.assign(0, h.make_dc(1, 4800, 0.5F));
    h.set_loop(0, true);
    h.send(CommandKind::set_quantize, 0, 1.0F);
    h.send(CommandKind::clock_sync, 0, static_cast<float>(ClockSource::midi));
    ClockFeed feed(h);
    const auto ticks = static_cast<std::uint64_t>(10.2 * 60 * kBpm / 60 * 24);
    const TickSource src = script_clock(feed, ticks);

    const auto bar = static_cast<std::uint64_t>(src.exact(96));
    feed.run_until(bar + 100);
    EXPECT_NEAR(h.engine().clock_bpm(), kBpm, 0.1);
    const std::uint64_t onset = launch(h, feed, bar + 300);
    EXPECT_LE(std::fabs(off_beat(src, onset)), 48.0) << "onset " << onset;
    EXPECT_GT(onset, bar + 300);
    EXPECT_EQ(h.count(EventKind::midi_clock_found), 1U);

    // Ten minutes on, the grid's beat at every block start is within 1 ms of the true one.
    double worst = 0.0;
    const auto ten_min = static_cast<std::uint64_t>(src.exact(ticks - 24 * 6));
    feed.run_until(ten_min, [&](std::uint64_t) {
        const std::uint64_t t0 = h.engine().frames_processed() - 128;
        const double true_beat = (static_cast<double>(t0) - src.first) / (src.per_tick * 24.0);
        worst = std::max(worst, std::fabs(h.engine().clock_beat() - true_beat));
    });
    EXPECT_LT(worst * src.per_tick * 24.0, 48.0);
    EXPECT_NEAR(h.engine().clock_bpm(), kBpm, 0.05);
    h.send(CommandKind::set_quantize, 0, -1.0F);  // the bar
    const std::uint64_t late = launch(h, feed, ten_min + 1000);
    EXPECT_LE(std::fabs(off_beat(src, late)), 48.0);
    const double beats = (static_cast<double>(late) - src.first) / (src.per_tick * 24.0);
    EXPECT_EQ(static_cast<std::int64_t>(std::nearbyint(beats)) % 4, 0) << "on a bar line";
    EXPECT_EQ(h.count(EventKind::midi_clock_lost), 0U);
}

// Start, Stop, Song Position Pointer and Continue move the grid's beat count on exact ticks:
// 120 BPM, a tick every 1,000 frames.
TEST(EngineMidiClockIn, TransportMessagesSetTheGridsPosition) {
    test::EngineHarness h(config());
    h.send(CommandKind::clock_sync, 0, static_cast<float>(ClockSource::midi));
    ClockFeed feed(h);
    for (std::uint64_t k = 1; k <= 400; ++k) feed.at(k * 1000, {0xF8});
    feed.at(10500, {0xFA});         // beat 0 on the tick at 11,000
    feed.at(50500, {0xFC});         // stopped: the grid runs on with the ticks
    feed.at(60500, {0xF2, 16, 0});  // 16 16ths: beat 4
    feed.at(70500, {0xFB});         // beat 4 on the tick at 71,000
    feed.at(100500, {0xF2, 0, 1});  // while running: 128 16ths, beat 32, at 101,000
    auto beat_at = [&](std::uint64_t frame) {
        feed.run_until(frame + 1);  // the block holding `frame` starts at or before it
        const std::uint64_t t0 = h.engine().frames_processed() - 128;
        return h.engine().clock_beat() - static_cast<double>(t0) / 24000.0 +
               static_cast<double>(frame) / 24000.0;
    };
    // The block start's beat, carried to a frame after it at 120 BPM (24,000 frames a beat).
    EXPECT_NEAR(beat_at(11000 + 128), 0.0 + 128.0 / 24000.0, 1e-6);
    EXPECT_NEAR(beat_at(35000 + 128), 1.0 + 128.0 / 24000.0, 1e-6);
    EXPECT_NEAR(beat_at(71000 + 128), 4.0 + 128.0 / 24000.0, 1e-6);
    EXPECT_NEAR(beat_at(101000 + 128), 32.0 + 128.0 / 24000.0, 1e-6);
    EXPECT_NEAR(beat_at(125000 + 128), 33.0 + 128.0 / 24000.0, 1e-6);
    EXPECT_NEAR(h.engine().clock_bpm(), 120.0, 1e-6);
}

// No tick for 2 s: one clock_lost event; the grid runs on at the last tempo, and a tick
// coming back is followed again.
TEST(EngineMidiClockIn, ClockLossKeepsTheLastTempo) {
    test::EngineHarness h(config());
    h.send(CommandKind::clock_sync, 0, static_cast<float>(ClockSource::midi));
    ClockFeed feed(h);
    TickSource src;
    src.jitter = 0;
    for (std::uint64_t k = 0; k < 200; ++k) feed.at(src.arrival(k), {0xF8});
    const double last = src.exact(199);
    feed.run_until(static_cast<std::uint64_t>(last) + 95000);
    EXPECT_EQ(h.count(EventKind::midi_clock_lost), 0U);
    const double beat_then = h.engine().clock_beat();
    feed.run_until(static_cast<std::uint64_t>(last) + 97000);
    EXPECT_EQ(h.count(EventKind::midi_clock_lost), 1U);
    feed.run_until(static_cast<std::uint64_t>(last) + 10 * 48000);
    EXPECT_EQ(h.count(EventKind::midi_clock_lost), 1U);
    EXPECT_NEAR(h.engine().clock_bpm(), kBpm, 0.01);
    const double beats = (10.0 * 48000 - 95000) / (src.per_tick * 24.0);
    EXPECT_NEAR(h.engine().clock_beat() - beat_then, beats, 0.05) << "at the last tempo";
    EXPECT_EQ(h.count(EventKind::midi_clock_found), 1U);
}

// With the internal clock, ticks move nothing (the loop still locks, for a later switch).
TEST(EngineMidiClockIn, TicksMoveTheGridOnlyWithSyncMidi) {
    test::EngineHarness h(config());
    h.send(CommandKind::clock_tempo, 0, 120.0F);
    ClockFeed feed(h);
    TickSource src;
    for (std::uint64_t k = 0; k < 400; ++k) feed.at(src.arrival(k), {0xF8});
    feed.run_until(200000);
    EXPECT_EQ(h.engine().clock_bpm(), 120.0);
    h.send(CommandKind::clock_sync, 0, static_cast<float>(ClockSource::midi));
    feed.run_until(210000);
    EXPECT_NEAR(h.engine().clock_bpm(), kBpm, 0.1) << "locked already";
    EXPECT_EQ(h.count(EventKind::midi_clock_lost), 0U);
}

// ---- transport out -------------------------------------------------------------------------

struct Out {
    std::uint64_t frame;
    std::uint8_t status;
    std::uint8_t d1;
    std::uint8_t d2;
};

// Renders one block of 128 with the given transport and returns what went out, ticks aside
// (their count in `ticks`).
std::vector<Out> block(test::EngineHarness& h, bool rolling, double beat, int* ticks = nullptr,
                       double bpm = 120.0) {
    BlockTiming t;
    t.frame = h.engine().frames_processed();
    t.transport.valid = true;
    t.transport.rolling = rolling;
    t.transport.bpm = bpm;
    t.transport.beat = beat;
    h.render_timed(128, t);
    std::vector<Out> out;
    for (const auto& [f, e] : h.midi_output()) {
        if (e.data[0] == 0xF8) {
            if (ticks) ++*ticks;
            continue;
        }
        out.push_back({f, e.data[0], e.data[1], e.data[2]});
    }
    return out;
}

// 120 BPM at 48 kHz: 128 frames are 128/24000 of a beat.
constexpr double kBlockBeats = 128.0 / 24000.0;

TEST(EngineMidiClockOut, FollowsJacksTransportWithStartStopContinueAndSongPosition) {
    test::EngineHarness h(config());
    h.send(CommandKind::set_midi_clock_out, 0, 1.0F);
    h.send(CommandKind::clock_sync, 0, static_cast<float>(ClockSource::jack));
    h.render(128);  // the commands apply after the block's transport is read
    // Stopped at first: Stop (ticks had been flowing with the internal clock), then silence.
    auto out = block(h, false, 0.0);
    ASSERT_EQ(out.size(), 1U);
    EXPECT_EQ(out[0].status, 0xFC);
    int ticks = 0;
    for (int i = 0; i < 200; ++i) EXPECT_TRUE(block(h, false, 0.0, &ticks).empty());
    EXPECT_EQ(ticks, 0) << "no ticks while stopped";

    // Rolls from 0: Start on the block's first frame, then the tick on it.
    const std::uint64_t start = h.engine().frames_processed();
    out = block(h, true, 0.0, &ticks);
    ASSERT_EQ(out.size(), 1U);
    EXPECT_EQ(out[0].status, 0xFA);
    EXPECT_EQ(out[0].frame, start);
    EXPECT_EQ(h.midi_output().at(1).second.data[0], 0xF8) << "the first tick after Start";
    EXPECT_EQ(h.midi_output().at(1).first, start);
    double beat = kBlockBeats;
    for (int i = 1; i < 375; ++i, beat += kBlockBeats)
        EXPECT_TRUE(block(h, true, beat, &ticks).empty());
    EXPECT_EQ(ticks, 48) << "two beats of ticks";

    // Stops: Stop, and ticks stop.
    out = block(h, false, beat, &ticks);
    ASSERT_EQ(out.size(), 1U);
    EXPECT_EQ(out[0].status, 0xFC);
    // Relocated while stopped, to beat 5.1: the pointer says the next 16th, 21 (beat 5.25).
    out = block(h, false, 5.1, &ticks);
    ASSERT_EQ(out.size(), 1U);
    EXPECT_EQ(out[0].status, 0xF2);
    EXPECT_EQ(out[0].d1 | (out[0].d2 << 7), 21);
    EXPECT_TRUE(block(h, false, 5.1, &ticks).empty()) << "said once";
    EXPECT_EQ(ticks, 48);

    // Rolls from 5.1: pointer, Continue, and the first tick on beat 5.25 (tick 126).
    out = block(h, true, 5.1, &ticks);
    ASSERT_EQ(out.size(), 2U);
    EXPECT_EQ(out[0].status, 0xF2);
    EXPECT_EQ(out[1].status, 0xFB);
    beat = 5.1 + kBlockBeats;
    for (int i = 0; i < 200; ++i, beat += kBlockBeats) block(h, true, beat, &ticks);
    // Ticks 126 (beat 5.25) up to the last before the end of the last block.
    const int last_tick = static_cast<int>(std::ceil(beat * 24.0)) - 1;
    EXPECT_EQ(ticks - 48, last_tick - 126 + 1);

    // Jumps while rolling, back to beat 1: Stop, pointer 4, Continue.
    out = block(h, true, 1.0, &ticks);
    ASSERT_EQ(out.size(), 3U);
    EXPECT_EQ(out[0].status, 0xFC);
    EXPECT_EQ(out[1].status, 0xF2);
    EXPECT_EQ(out[1].d1, 4);
    EXPECT_EQ(out[2].status, 0xFB);
}

// The first tick after a Continue is on the pointer's 16th: the frame where the grid reaches it.
TEST(EngineMidiClockOut, TheFirstTickAfterContinueIsOnTheSongPositionsSixteenth) {
    test::EngineHarness h(config());
    h.send(CommandKind::set_midi_clock_out, 0, 1.0F);
    h.send(CommandKind::clock_sync, 0, static_cast<float>(ClockSource::jack));
    h.render(128);
    block(h, false, 2.9);
    const std::uint64_t t0 = h.engine().frames_processed();
    block(h, true, 2.9);  // pointer 12 (beat 3): 0.1 beat = 2,400 frames on
    std::uint64_t first = 0;
    double beat = 2.9 + kBlockBeats;
    for (int i = 0; i < 40 && first == 0; ++i, beat += kBlockBeats) {
        block(h, true, beat);
        for (const auto& [f, e] : h.midi_output())
            if (e.data[0] == 0xF8 && first == 0) first = f;
    }
    EXPECT_EQ(first, t0 + 2400);
}

// With the internal clock nothing but Start on /clock/reset goes out, transport or not.
TEST(EngineMidiClockOut, TheInternalClockIgnoresJacksTransport) {
    test::EngineHarness h(config());
    h.send(CommandKind::set_midi_clock_out, 0, 1.0F);
    int ticks = 0;
    for (int i = 0; i < 100; ++i) EXPECT_TRUE(block(h, i > 50, 0.0, &ticks).empty());
    EXPECT_GT(ticks, 0);
}

}  // namespace
