// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
//
// The engine's instrument features, frame by frame: scheduled commands, the quantize grid
// (internal clock and JACK transport), play modes, polyphony, choke groups, reverse, regions,
// rate and pitch, pan, output pairs, fades, the loop seam crossfade, tempo-following loops, and
// that no parameter change clicks. Every process() call runs inside the audio-thread guard
// (see engine_harness.hpp), and every block is given the host's timing explicitly.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <iomanip>
#include <iostream>
#include <numbers>
#include <optional>
#include <random>
#include <vector>

#include "engine_harness.hpp"
#include "looperd/command.hpp"
#include "looperd/engine.hpp"
#include "looperd/event.hpp"
#include "looperd/sample_buffer.hpp"
#include "looperd/timing.hpp"

namespace {

using looperd::BlockTiming;
using looperd::CommandKind;
using looperd::EngineConfig;
using looperd::EventKind;
using looperd::SampleBuffer;
using looperd::SlotMode;
using looperd::StretchMode;
using looperd::limits::kRenderChunkFrames;
using looperd::test::EngineHarness;
using looperd::test::max_step;
using looperd::test::silent_from;

constexpr std::uint32_t kRate = 48000;
constexpr std::uint32_t kBlock = 128;
constexpr std::uint32_t kFadeFrames = 240;    // default fade, 5 ms
constexpr std::uint32_t kSmoothFrames = 480;  // default gain smoothing (and rate glide), 10 ms
constexpr std::uint64_t kBeat = 24000;        // frames per beat at 120 BPM
constexpr std::uint64_t kBar = 4 * kBeat;
// The host's frame time of the first block: far from 0, which means "the next block", so
// every test also proves that the host's frames (not the engine's own count) drive the timing.
constexpr std::uint64_t kStart = 1'000'000;
constexpr float kEps = 1e-6F;

EngineConfig config(std::uint32_t outputs = 2) {
    EngineConfig c;
    c.outputs = outputs;
    c.voices = 16;
    c.slots = 16;
    c.sample_rate = kRate;
    return c;
}

float mode(SlotMode m) {
    return static_cast<float>(static_cast<std::uint8_t>(m));
}

// Drives an EngineHarness the way the JACK callback does: fixed blocks, each told its host
// frame time and the transport. Records every output from the first block on: out(o)[i] is
// host frame start() + i.
class Timeline {
  public:
    explicit Timeline(EngineHarness& h, std::uint64_t start = kStart, std::uint32_t block = kBlock)
        : h_(h), start_(start), block_(block), rec_(h.outputs()) {
        timing_.frame = start;
    }

    std::uint64_t start() const { return start_; }
    // Host frame of the next block's first frame.
    std::uint64_t now() const { return timing_.frame; }
    std::size_t at(std::uint64_t frame) const { return static_cast<std::size_t>(frame - start_); }
    const std::vector<float>& out(std::uint32_t o) const { return rec_[o]; }
    float sample(std::uint32_t o, std::uint64_t frame) const { return rec_[o][at(frame)]; }

    bool send(std::uint64_t frame, CommandKind kind, std::uint32_t slot = 0, float value = 0.0F,
              SampleBuffer* buffer = nullptr) {
        return h_.send_at(frame, kind, slot, value, buffer);
    }

    // A transport that rolls at `bpm` with `beat` at the next block's first frame; each block
    // is then given the beat position at its own first frame.
    void roll(double bpm, double beats_per_bar, double beat) {
        auto& tr = timing_.transport;
        tr.valid = true;
        tr.rolling = true;
        tr.bpm = bpm;
        tr.beats_per_bar = beats_per_bar;
        roll_frame_ = now();
        roll_beat_ = beat;
        tr.beat = beat;
    }
    // An Ableton Link session at `bpm` with `beat` at the next block's first frame; each block
    // is then given the session's beat at its own first frame.
    void link(double bpm, double beat) {
        timing_.link.valid = true;
        timing_.link.bpm = bpm;
        link_frame_ = now();
        link_beat_ = beat;
        timing_.link.beat = beat;
    }
    // The session's beats run `ratio` times as fast as the frames say (a sound card's clock
    // off the system clock), from the next block on.
    void link_clock_ratio(double ratio) {
        link_beat_ += static_cast<double>(now() - link_frame_) * link_ratio_ * timing_.link.bpm /
                      60.0 / kRate;
        link_frame_ = now();
        link_ratio_ = ratio;
    }
    // The session is left (or never joined): blocks carry no Link time.
    void leave_link() { timing_.link.valid = false; }
    // A start or stop of the session (Link's isPlaying), heard from the next block on; each
    // call is a new one, named by the session's beat now.
    void link_playing(bool playing) {
        timing_.link.playing = playing;
        timing_.link.start_stop_known = true;
        timing_.link.start_stop_beat =
            link_beat_ + static_cast<double>(now() - link_frame_) * timing_.link.bpm / 60.0 / kRate;
    }
    // The transport stops where it is (BBT stays valid, the beat stands still).
    void stop_transport() { timing_.transport.rolling = false; }
    void set_transport(const looperd::TransportInfo& tr) { timing_.transport = tr; }

    // Renders whole blocks until the next block starts at or after `frame`.
    void run_to(std::uint64_t frame) {
        while (now() < frame) block();
    }
    void run(std::uint64_t frames) { run_to(now() + frames); }

  private:
    void block() {
        auto& tr = timing_.transport;
        if (tr.valid && tr.rolling)
            tr.beat = roll_beat_ + static_cast<double>(now() - roll_frame_) * tr.bpm / 60.0 / kRate;
        auto& link = timing_.link;
        if (link.valid)
            link.beat = link_beat_ + static_cast<double>(now() - link_frame_) * link_ratio_ *
                                         link.bpm / 60.0 / kRate;
        h_.render_timed(block_, timing_);
        for (std::uint32_t o = 0; o < rec_.size(); ++o)
            rec_[o].insert(rec_[o].end(), h_.out(o), h_.out(o) + block_);
        timing_.frame += block_;
    }

    EngineHarness& h_;
    std::uint64_t start_;
    std::uint32_t block_;
    BlockTiming timing_;
    std::vector<std::vector<float>> rec_;
    std::uint64_t roll_frame_ = 0;
    double roll_beat_ = 0.0;
    std::uint64_t link_frame_ = 0;
    double link_beat_ = 0.0;
    double link_ratio_ = 1.0;
};

// x[at + k] == want(k) for k in [0, n): bit for bit, or within `tolerance`. Reports the first
// mismatch only.
::testing::AssertionResult frames_equal(const std::vector<float>& x, std::size_t at, std::size_t n,
                                        const std::function<float(std::size_t)>& want,
                                        float tolerance = 0.0F) {
    if (at + n > x.size())
        return ::testing::AssertionFailure()
               << "recorded " << x.size() << " frames, need " << at + n;
    std::size_t bad = 0;
    std::size_t first = 0;
    for (std::size_t k = 0; k < n; ++k) {
        const float diff = std::abs(x[at + k] - want(k));
        if (!(diff <= tolerance)) {
            if (bad++ == 0) first = k;
        }
    }
    if (bad == 0) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << std::setprecision(9) << bad << " of " << n << " frames differ; the first at +"
           << first << " (index " << at + first << "): got " << x[at + first] << ", want "
           << want(first);
}

// The first frame at or after `from` that is not 0.
std::optional<std::size_t> first_nonzero(const std::vector<float>& x, std::size_t from) {
    for (std::size_t k = from; k < x.size(); ++k)
        if (x[k] != 0.0F) return k;
    return std::nullopt;
}

::testing::AssertionResult silent(const std::vector<float>& x, std::size_t at, std::size_t n) {
    return frames_equal(x, at, n, [](std::size_t) { return 0.0F; });
}

// x[at + k] is the first channel of `buffer` at frame k for k in [0, n): a one-shot heard from
// its first frame on, bit for bit.
::testing::AssertionResult plays(const std::vector<float>& x, std::size_t at,
                                 const SampleBuffer& buffer, std::size_t n) {
    return frames_equal(x, at, n, [&](std::size_t k) { return buffer.channel(0)[k]; });
}

// Noise quantised to multiples of 2^-10 and small: gains of 0.5 and sums of a few are exact
// in float in any order, so mixes can be compared bit for bit.
SampleBuffer* quantised_noise(EngineHarness& h, std::uint32_t channels, std::uint32_t frames,
                              std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> k(10, 200);
    std::bernoulli_distribution neg(0.5);
    return h.make_buffer(channels, frames, [&](std::uint32_t, std::uint32_t) {
        const float v = static_cast<float>(k(rng)) / 1024.0F;
        return neg(rng) ? -v : v;
    });
}

// DC-ish and slowly varying: 0.5 + 0.25 sin, never near 0, so a cut would step by at least
// 0.25. 200 Hz before frame `split`, 100 Hz from it on (periods of 240 and 480 frames): every
// multiple of 480 is a seamless loop point, and a loop of the first part sounds different from
// one of the second.
SampleBuffer* dc_ish(EngineHarness& h, std::uint32_t frames, std::uint32_t split) {
    return h.make_buffer(1, frames, [=](std::uint32_t, std::uint32_t i) {
        const double hz = i < split ? 200.0 : 100.0;
        return static_cast<float>(0.5 + 0.25 * std::sin(2.0 * std::numbers::pi * hz * i / kRate));
    });
}

// The largest step of a buffer's first channel, looping seams included if `loop`.
float source_step(const SampleBuffer& b, bool loop = false) {
    const float* x = b.channel(0);
    float m = 0.0F;
    for (std::uint32_t i = 1; i < b.frames(); ++i) m = std::max(m, std::abs(x[i] - x[i - 1]));
    if (loop) m = std::max(m, std::abs(x[0] - x[b.frames() - 1]));
    return m;
}

// Largest step a linear move by `amplitude` over `frames` frames may take, with slack for
// float rounding along the ramp (a jump would exceed it a hundredfold).
float ramp_step(float amplitude, std::uint32_t frames) {
    return amplitude / static_cast<float>(frames) * 1.02F + kEps;
}

// A fade that starts at x[at]: x[at - 1] still has the full signal, no step above `bound`,
// exact silence within `fade` frames and not much sooner.
void expect_fade(const std::vector<float>& x, std::size_t at, std::uint32_t fade, float bound) {
    ASSERT_GT(at, 0U);
    EXPECT_LE(max_step(x, at - 1, x.size()), bound);
    const std::size_t quiet = silent_from(x, at);
    EXPECT_LE(quiet, at + fade) << "not silent within the fade";
    EXPECT_GE(quiet, at + fade * 9 / 10) << "fade shorter than the slot's fade";
}

// ---------------------------------------------------------------------------------------------
// Scheduled commands

TEST(EngineSchedule, PlayOnAFrameInsideABlockStartsOnThatFrame) {
    EngineHarness h(config());
    Timeline tl(h);
    auto* b = quantised_noise(h, 1, 1000, 1);
    const float* x = b->channel(0);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, b);
    tl.run(2 * kBlock);
    const std::uint64_t t0 = tl.now();
    ASSERT_TRUE(tl.send(t0 + 37, CommandKind::play, 0, 1.0F));
    tl.run(1200);

    for (std::uint32_t o = 0; o < 2; ++o) {
        EXPECT_TRUE(silent(tl.out(o), 0, tl.at(t0 + 37))) << "output " << o;
        EXPECT_TRUE(frames_equal(tl.out(o), tl.at(t0 + 37), 1000, [&](auto k) { return x[k]; }))
            << "output " << o;
        EXPECT_TRUE(silent(tl.out(o), tl.at(t0 + 37 + 1000), 100)) << "output " << o;
    }
    EXPECT_EQ(h.engine().late_commands(), 0U);
}

// Blocks longer than the engine's render chunk, of an odd size: the split lands inside a chunk.
TEST(EngineSchedule, FramesInsideALongBlockSplitItExactly) {
    EngineHarness h(config());
    Timeline tl(h, kStart, 1000);
    auto* a = quantised_noise(h, 1, 600, 34);
    auto* b = quantised_noise(h, 1, 600, 35);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, a);
    tl.send(0, CommandKind::assign_buffer, 1, 0.0F, b);
    tl.run(1000);
    const std::uint64_t t0 = tl.now();
    ASSERT_TRUE(tl.send(t0 + 300, CommandKind::play, 0, 1.0F));
    ASSERT_TRUE(tl.send(t0 + 701, CommandKind::play, 1, 1.0F));
    tl.run(2000);
    EXPECT_TRUE(silent(tl.out(0), 0, tl.at(t0 + 300)));
    EXPECT_TRUE(frames_equal(tl.out(0), tl.at(t0 + 300), 1001, [&](auto k) {
        return (k < 600 ? a->channel(0)[k] : 0.0F) + (k >= 401 ? b->channel(0)[k - 401] : 0.0F);
    }));
    EXPECT_TRUE(silent(tl.out(0), tl.at(t0 + 1301), 500));
}

TEST(EngineSchedule, AFrameSeveralBlocksAheadWaitsForIt) {
    EngineHarness h(config());
    Timeline tl(h);
    auto* b = quantised_noise(h, 1, 500, 2);
    const float* x = b->channel(0);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, b);
    const std::uint64_t target = tl.now() + 5 * kBlock + 101;
    ASSERT_TRUE(tl.send(target, CommandKind::play, 0, 1.0F));
    tl.run(5 * kBlock + 700);
    EXPECT_TRUE(silent(tl.out(0), 0, tl.at(target)));
    EXPECT_TRUE(frames_equal(tl.out(0), tl.at(target), 500, [&](auto k) { return x[k]; }));
}

TEST(EngineSchedule, SeveralCommandsOnOneFrameAllApplyThere) {
    EngineHarness h(config());
    Timeline tl(h);
    auto* a = quantised_noise(h, 1, 800, 3);
    auto* b = quantised_noise(h, 1, 800, 4);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, a);
    tl.send(0, CommandKind::assign_buffer, 1, 0.0F, b);
    tl.run(kBlock);
    const std::uint64_t f = tl.now() + 77;
    // In this order on one frame: the gain is the slot's before its voice starts, so the
    // voice starts at 0.5 with no ramp.
    tl.send(f, CommandKind::set_gain, 0, 0.5F);
    tl.send(f, CommandKind::play, 0, 1.0F);
    tl.send(f, CommandKind::play, 1, 1.0F);
    tl.run(1000);
    EXPECT_TRUE(silent(tl.out(0), 0, tl.at(f)));
    EXPECT_TRUE(frames_equal(tl.out(0), tl.at(f), 800,
                             [&](auto k) { return 0.5F * a->channel(0)[k] + b->channel(0)[k]; }));
}

TEST(EngineSchedule, ALateCommandAppliesAtTheBlockStartAndIsCounted) {
    EngineHarness h(config());
    Timeline tl(h);
    auto* b = quantised_noise(h, 1, 300, 5);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, b);
    tl.run(4 * kBlock);
    const std::uint64_t t0 = tl.now();
    ASSERT_TRUE(tl.send(t0 - 300, CommandKind::play, 0, 1.0F));  // already past
    tl.run(400);
    EXPECT_EQ(h.engine().late_commands(), 1U);
    EXPECT_TRUE(silent(tl.out(0), 0, tl.at(t0)));
    EXPECT_TRUE(plays(tl.out(0), tl.at(t0), *b, 300));
}

TEST(EngineSchedule, FrameZeroAndTheBlockStartApplyAtTheBlockStartAndAreNotLate) {
    EngineHarness h(config());
    Timeline tl(h);
    auto* b = quantised_noise(h, 1, 300, 6);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, b);
    tl.run(2 * kBlock);
    const std::uint64_t t0 = tl.now();
    ASSERT_TRUE(tl.send(0, CommandKind::play, 0, 1.0F));
    tl.run(4 * kBlock);
    const std::uint64_t t1 = tl.now();
    auto* b2 = quantised_noise(h, 1, 300, 7);
    tl.send(0, CommandKind::assign_buffer, 1, 0.0F, b2);
    ASSERT_TRUE(tl.send(t1, CommandKind::play, 1, 1.0F));  // exactly the next block's start
    tl.run(400);
    EXPECT_EQ(h.engine().late_commands(), 0U);
    EXPECT_TRUE(silent(tl.out(0), 0, tl.at(t0)));
    EXPECT_TRUE(plays(tl.out(0), tl.at(t0), *b, 300));
    EXPECT_TRUE(silent(tl.out(0), tl.at(t0 + 300), tl.at(t1) - tl.at(t0 + 300)));
    EXPECT_TRUE(frames_equal(tl.out(0), tl.at(t1), 300, [&](auto k) { return b2->channel(0)[k]; }))
        << "a command on the block's first frame plays on it";
}

TEST(EngineSchedule, CapacityRefusesBeyondItAndHandsARefusedBufferBack) {
    EngineConfig c = config();
    c.scheduled_capacity = 4;
    EngineHarness h(c);
    Timeline tl(h);
    auto* b = quantised_noise(h, 1, 200, 8);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, b);
    tl.run(kBlock);
    const std::uint64_t far = tl.now() + 10000;
    for (std::uint32_t i = 0; i < 4; ++i)
        ASSERT_TRUE(tl.send(far + i, CommandKind::set_gain, 0, 1.0F));
    ASSERT_TRUE(tl.send(far + 10, CommandKind::set_gain, 0, 1.0F));  // the fifth
    auto* refused = quantised_noise(h, 1, 200, 9);
    ASSERT_TRUE(tl.send(far + 20, CommandKind::assign_buffer, 1, 0.0F, refused));
    tl.run(kBlock);
    EXPECT_EQ(h.engine().refused_scheduled(), 2U);
    EXPECT_FALSE(h.live(refused)) << "a refused buffer goes back to its owner";
    EXPECT_EQ(h.times_retired(refused), 1U);

    // Once the four are applied their room is free again; the refused assign never happened.
    tl.run_to(far + 100);
    const std::uint64_t p = tl.now() + 50;
    ASSERT_TRUE(tl.send(p, CommandKind::play, 0, 1.0F));
    ASSERT_TRUE(tl.send(p, CommandKind::play, 1, 1.0F));
    tl.run(400);
    EXPECT_EQ(h.engine().refused_scheduled(), 2U);
    EXPECT_TRUE(silent(tl.out(0), tl.at(far), tl.at(p) - tl.at(far)));
    EXPECT_TRUE(plays(tl.out(0), tl.at(p), *b, 200));
}

// ---------------------------------------------------------------------------------------------
// Quantize, internal clock (120 BPM, 4/4, 48 kHz: 24000 frames a beat, 96000 a bar)

class EngineQuantize : public ::testing::Test {
  protected:
    EngineQuantize() : h_(config()), tl_(h_) {
        buffer_ = quantised_noise(h_, 1, 1000, 11);
        tl_.send(0, CommandKind::assign_buffer, 0, 0.0F, buffer_);
        reset_ = kStart + 1000;
        tl_.send(reset_, CommandKind::clock_reset);
    }
    // The sample starts exactly on `frame`: silence before it (from `from`), then bit-exact.
    void expect_starts_at(std::uint64_t frame, std::uint64_t from) {
        EXPECT_TRUE(silent(tl_.out(0), tl_.at(from), tl_.at(frame) - tl_.at(from)))
            << "sound before frame " << frame;
        EXPECT_TRUE(frames_equal(tl_.out(0), tl_.at(frame), buffer_->frames(),
                                 [&](auto k) { return buffer_->channel(0)[k]; }))
            << "not starting on frame " << frame;
    }

    EngineHarness h_;
    Timeline tl_;
    SampleBuffer* buffer_ = nullptr;
    std::uint64_t reset_ = 0;
};

TEST_F(EngineQuantize, ABeatQuantizedPlayStartsOnTheNextBeat) {
    tl_.send(0, CommandKind::set_quantize, 0, 1.0F);
    ASSERT_TRUE(tl_.send(reset_ + 30017, CommandKind::play, 0, 1.0F));
    tl_.run_to(reset_ + 2 * kBeat + 2000);
    expect_starts_at(reset_ + 2 * kBeat, kStart);
}

TEST_F(EngineQuantize, ABarQuantizedPlayStartsOnTheNextBar) {
    tl_.send(0, CommandKind::set_quantize, 0, -1.0F);
    ASSERT_TRUE(tl_.send(reset_ + 30017, CommandKind::play, 0, 1.0F));
    tl_.run_to(reset_ + kBar + 2000);
    expect_starts_at(reset_ + kBar, kStart);
}

TEST_F(EngineQuantize, TheBarFollowsTheMeter) {
    tl_.send(0, CommandKind::clock_meter, 0, 3.0F);
    tl_.send(0, CommandKind::set_quantize, 0, -1.0F);
    ASSERT_TRUE(tl_.send(reset_ + 30017, CommandKind::play, 0, 1.0F));
    tl_.run_to(reset_ + 3 * kBeat + 2000);
    expect_starts_at(reset_ + 3 * kBeat, kStart);
}

TEST_F(EngineQuantize, AGridOfSeveralBeats) {
    tl_.send(0, CommandKind::set_quantize, 0, 2.0F);
    ASSERT_TRUE(tl_.send(reset_ + 1, CommandKind::play, 0, 1.0F));
    tl_.run_to(reset_ + 2 * kBeat + 2000);
    expect_starts_at(reset_ + 2 * kBeat, kStart);
}

TEST_F(EngineQuantize, APlaySentExactlyOnAGridFrameStartsOnIt) {
    tl_.send(0, CommandKind::set_quantize, 0, 1.0F);
    ASSERT_TRUE(tl_.send(reset_ + 2 * kBeat, CommandKind::play, 0, 1.0F));
    tl_.run_to(reset_ + 3 * kBeat + 2000);
    expect_starts_at(reset_ + 2 * kBeat, kStart);
    EXPECT_TRUE(silent(tl_.out(0), tl_.at(reset_ + 2 * kBeat + 1000), kBeat))
        << "it started a second time on the next beat";
}

TEST_F(EngineQuantize, ATempoChangeKeepsTheBeatContinuous) {
    tl_.send(0, CommandKind::set_quantize, 0, 1.0F);
    // At 1.5 beats the tempo halves: beat 2 is half a beat of 48000 frames later.
    const std::uint64_t change = reset_ + 36000;
    tl_.send(change, CommandKind::clock_tempo, 0, 60.0F);
    ASSERT_TRUE(tl_.send(change + 100, CommandKind::play, 0, 1.0F));
    tl_.run_to(reset_ + 60000 + 2000);
    expect_starts_at(reset_ + 60000, kStart);
    // And beat 3 is a whole (slow) beat after beat 2.
    ASSERT_TRUE(tl_.send(reset_ + 60000 + 1500, CommandKind::play, 0, 1.0F));
    tl_.run_to(reset_ + 108000 + 2000);
    expect_starts_at(reset_ + 108000, reset_ + 60000 + 1000);
}

TEST(EngineQuantizeOrigin, WithoutAResetTheGridStartsAtTheFirstBlock) {
    EngineHarness h(config());
    Timeline tl(h, 777'777);
    auto* b = quantised_noise(h, 1, 1000, 12);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, b);
    tl.send(0, CommandKind::set_quantize, 0, 1.0F);
    ASSERT_TRUE(tl.send(777'777 + 5000, CommandKind::play, 0, 1.0F));
    tl.run(kBeat + 2000);
    EXPECT_TRUE(silent(tl.out(0), 0, kBeat));
    EXPECT_TRUE(plays(tl.out(0), kBeat, *b, 1000));
}

TEST_F(EngineQuantize, AQuantizedStopFadesFromTheNextBeat) {
    auto* dc = h_.make_dc(1, 4800, 0.5F);
    tl_.send(0, CommandKind::assign_buffer, 1, 0.0F, dc);
    tl_.send(0, CommandKind::set_mode, 1, mode(SlotMode::loop));
    tl_.send(0, CommandKind::set_quantize, 1, 1.0F);
    tl_.send(reset_ + kBeat, CommandKind::play, 1, 1.0F);  // on the grid: at once
    const std::uint64_t grid = reset_ + 3 * kBeat;
    ASSERT_TRUE(tl_.send(reset_ + 50000, CommandKind::stop, 1));
    tl_.run_to(grid + 2000);
    const auto& x = tl_.out(0);
    EXPECT_TRUE(frames_equal(x, tl_.at(reset_ + kBeat), tl_.at(grid) - tl_.at(reset_ + kBeat),
                             [](auto) { return 0.5F; }))
        << "the loop stopped before the grid";
    expect_fade(x, tl_.at(grid), kFadeFrames, ramp_step(0.5F, kFadeFrames));
}

// What a surface shows as "queued" and "stopping": published at the end of every block.
TEST_F(EngineQuantize, PendingStartsStopsAndFadesArePublished) {
    auto* dc = h_.make_dc(1, 4800, 0.5F);
    tl_.send(0, CommandKind::assign_buffer, 1, 0.0F, dc);
    tl_.send(0, CommandKind::set_mode, 1, mode(SlotMode::loop));
    tl_.send(0, CommandKind::set_quantize, 1, 1.0F);
    const looperd::Engine& e = h_.engine();
    ASSERT_TRUE(tl_.send(reset_ + 1000, CommandKind::play, 1, 1.0F));
    tl_.run_to(reset_ + 2000);
    EXPECT_TRUE(e.slot_pending(1).start) << "a play waiting for the beat";
    EXPECT_EQ(e.slot_sounding_voices(1), 0U);
    tl_.run_to(reset_ + kBeat + 2000);
    EXPECT_FALSE(e.slot_pending(1).start) << "started on the beat";
    EXPECT_EQ(e.slot_sounding_voices(1), 1U);

    ASSERT_TRUE(tl_.send(reset_ + kBeat + 3000, CommandKind::stop, 1));
    tl_.run_to(reset_ + kBeat + 4000);
    EXPECT_TRUE(e.slot_pending(1).stop) << "a stop waiting for the beat";
    EXPECT_EQ(e.slot_sounding_voices(1), 1U) << "it plays on until then";
    // Just after the grid: the stop has happened and the voice fades out.
    tl_.run_to(reset_ + 2 * kBeat + 1);
    EXPECT_FALSE(e.slot_pending(1).stop);
    EXPECT_TRUE(e.slot_pending(1).fading);
    EXPECT_EQ(e.slot_sounding_voices(1), 0U);
    tl_.run_to(reset_ + 2 * kBeat + kFadeFrames + 1000);
    EXPECT_FALSE(e.slot_pending(1).fading) << "the fade is over";
    // Nothing was ever pending on another slot.
    EXPECT_FALSE(e.slot_pending(0).start || e.slot_pending(0).stop || e.slot_pending(0).fading);
}

TEST_F(EngineQuantize, AQuantizedRetriggerRestartsOnTheGrid) {
    tl_.send(0, CommandKind::set_mode, 0, mode(SlotMode::loop));
    tl_.send(0, CommandKind::set_quantize, 0, 1.0F);
    tl_.send(reset_, CommandKind::play, 0, 1.0F);
    const std::uint64_t grid = reset_ + 2 * kBeat;
    ASSERT_TRUE(tl_.send(reset_ + 40000, CommandKind::play, 0, 1.0F));
    tl_.run_to(grid + 3000);
    const float* x = buffer_->channel(0);
    // The first voice plays on, untouched, up to the grid line...
    EXPECT_TRUE(
        frames_equal(tl_.out(0), tl_.at(reset_), 2 * kBeat, [&](auto k) { return x[k % 1000]; }));
    // ...where the new one starts from its first frame (and, once the old voice's fade is
    // over, plays alone).
    EXPECT_TRUE(frames_equal(tl_.out(0), tl_.at(grid) + kFadeFrames, 2000,
                             [&](auto k) { return x[(k + kFadeFrames) % 1000]; }));
    EXPECT_EQ(h_.engine().active_voices(), 1U);
}

// ---------------------------------------------------------------------------------------------
// Quantize following the JACK transport

TEST(EngineJackSync, ABarQuantizedPlayLandsWhereTheTransportBeatIsAMultipleOfTheMeter) {
    EngineHarness h(config());
    Timeline tl(h);
    auto* b = quantised_noise(h, 1, 1000, 13);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, b);
    tl.send(0, CommandKind::assign_buffer, 1, 0.0F, b);
    tl.send(0, CommandKind::clock_sync, 0, 1.0F);
    tl.send(0, CommandKind::set_quantize, 0, -1.0F);
    tl.send(0, CommandKind::set_quantize, 1, -1.0F);
    tl.roll(120.0, 4.0, 2.25);  // beat 4 is 1.75 beats after the start
    tl.run(4 * kBlock);
    ASSERT_TRUE(tl.send(kStart + 10013, CommandKind::play, 0, 1.0F));
    const std::uint64_t bar1 = kStart + 42000;
    ASSERT_TRUE(tl.send(bar1 + 8000, CommandKind::play, 1, 1.0F));
    const std::uint64_t bar2 = bar1 + kBar;
    tl.run_to(bar2 + 2000);
    const auto& x = tl.out(0);
    EXPECT_TRUE(silent(x, 0, tl.at(bar1)));
    EXPECT_TRUE(plays(x, tl.at(bar1), *b, 1000));
    EXPECT_TRUE(silent(x, tl.at(bar1) + 1000, tl.at(bar2) - tl.at(bar1) - 1000));
    EXPECT_TRUE(plays(x, tl.at(bar2), *b, 1000));
}

TEST(EngineJackSync, TheTransportTempoSetsTheGrid) {
    EngineHarness h(config());
    Timeline tl(h);
    auto* b = quantised_noise(h, 1, 1000, 14);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, b);
    tl.send(0, CommandKind::clock_sync, 0, 1.0F);
    tl.send(0, CommandKind::set_quantize, 0, 1.0F);
    tl.roll(90.0, 4.0, 7.5);  // 32000 frames a beat; beat 8 half a beat after the start
    tl.run(4 * kBlock);
    ASSERT_TRUE(tl.send(kStart + 20000, CommandKind::play, 0, 1.0F));
    const std::uint64_t beat9 = kStart + 16000 + 32000;
    tl.run_to(beat9 + 2000);
    EXPECT_TRUE(silent(tl.out(0), 0, tl.at(beat9)));
    EXPECT_TRUE(plays(tl.out(0), tl.at(beat9), *b, 1000));
}

TEST(EngineJackSync, WithTheTransportStoppedTheInternalClockIsUsed) {
    EngineHarness h(config());
    Timeline tl(h);
    auto* b = quantised_noise(h, 1, 1000, 15);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, b);
    tl.send(0, CommandKind::clock_sync, 0, 1.0F);
    tl.send(0, CommandKind::set_quantize, 0, -1.0F);
    looperd::TransportInfo stopped;
    stopped.valid = true;
    stopped.rolling = false;
    stopped.beat = 2.25;  // ignored: it does not roll
    tl.set_transport(stopped);
    ASSERT_TRUE(tl.send(kStart + 10013, CommandKind::play, 0, 1.0F));
    tl.run(kBar + 2000);
    EXPECT_TRUE(silent(tl.out(0), 0, kBar));
    EXPECT_TRUE(plays(tl.out(0), kBar, *b, 1000));
}

TEST(EngineJackSync, WhenTheTransportStopsTheGridRunsOnAtTheLastTempo) {
    EngineHarness h(config());
    Timeline tl(h);
    auto* b = quantised_noise(h, 1, 1000, 16);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, b);
    tl.send(0, CommandKind::clock_sync, 0, 1.0F);
    tl.send(0, CommandKind::set_quantize, 0, -1.0F);
    tl.roll(100.0, 4.0, 1.0);  // 28800 frames a beat: beat 4 at start + 86400
    tl.run(50 * kBlock);
    tl.stop_transport();
    ASSERT_TRUE(tl.send(kStart + 20000, CommandKind::play, 0, 1.0F));
    const std::uint64_t bar = kStart + 3 * 28800;
    tl.run_to(bar + 2000);
    EXPECT_TRUE(silent(tl.out(0), 0, tl.at(bar)));
    EXPECT_TRUE(plays(tl.out(0), tl.at(bar), *b, 1000));
}

// ---------------------------------------------------------------------------------------------
// Quantize following an Ableton Link session (the JACK layer hands each block its LinkInfo)

float link_source() {
    return static_cast<float>(static_cast<std::uint8_t>(looperd::ClockSource::link));
}

// At 90 BPM (32,000 frames a beat) with the session's beat 7.5 at the start, a beat-quantized
// press lands where the session's beat is 9, a bar-quantized one where it is 12 (the meter is
// looperd's, the session's quantum).
TEST(EngineLinkSync, QuantizedPressesLandOnTheSessionsBeatsAndBars) {
    EngineHarness h(config());
    Timeline tl(h);
    auto* b = quantised_noise(h, 1, 1000, 21);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, b);
    tl.send(0, CommandKind::assign_buffer, 1, 0.0F, b);
    tl.send(0, CommandKind::clock_sync, 0, link_source());
    tl.send(0, CommandKind::set_quantize, 0, 1.0F);
    tl.send(0, CommandKind::set_quantize, 1, -1.0F);
    tl.link(90.0, 7.5);
    tl.run(4 * kBlock);
    ASSERT_TRUE(tl.send(kStart + 20000, CommandKind::play, 0, 1.0F));
    ASSERT_TRUE(tl.send(kStart + 20000, CommandKind::play, 1, 1.0F));
    const std::uint64_t beat9 = kStart + 16000 + 32000;
    const std::uint64_t beat12 = beat9 + 3 * 32000;
    tl.run_to(beat12 + 2000);
    const auto& x = tl.out(0);
    EXPECT_TRUE(silent(x, 0, tl.at(beat9)));
    EXPECT_TRUE(plays(x, tl.at(beat9), *b, 1000));
    EXPECT_TRUE(silent(x, tl.at(beat9) + 1000, tl.at(beat12) - tl.at(beat9) - 1000));
    EXPECT_TRUE(plays(x, tl.at(beat12), *b, 1000));
}

// A peer changes the session's tempo: the grid follows from the next block on.
TEST(EngineLinkSync, ThePeersTempoChangeMovesTheGrid) {
    EngineHarness h(config());
    Timeline tl(h);
    auto* b = quantised_noise(h, 1, 1000, 22);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, b);
    tl.send(0, CommandKind::clock_sync, 0, link_source());
    tl.send(0, CommandKind::set_quantize, 0, 1.0F);
    tl.link(120.0, 0.0);  // 24,000 frames a beat
    tl.run(100 * kBlock);
    // Now 60 BPM (48,000 frames a beat), on beat 20 at this block.
    const std::uint64_t change = tl.now();
    tl.link(60.0, 20.0);
    ASSERT_TRUE(tl.send(change + 1000, CommandKind::play, 0, 1.0F));
    const std::uint64_t beat21 = change + 48000;
    tl.run_to(beat21 + 2000);
    EXPECT_TRUE(silent(tl.out(0), 0, tl.at(beat21)));
    EXPECT_TRUE(plays(tl.out(0), tl.at(beat21), *b, 1000));
}

// Without a session (Link not joined yet, or left) the grid runs on at the last tempo seen;
// and the Link source ignores a rolling JACK transport.
TEST(EngineLinkSync, WithoutASessionTheGridRunsOnAtTheLastTempo) {
    EngineHarness h(config());
    Timeline tl(h);
    auto* b = quantised_noise(h, 1, 1000, 23);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, b);
    tl.send(0, CommandKind::clock_sync, 0, link_source());
    tl.send(0, CommandKind::set_quantize, 0, -1.0F);
    tl.link(100.0, 1.0);  // 28,800 frames a beat: beat 4 at start + 86,400
    tl.roll(150.0, 3.0, 0.5);
    tl.run(50 * kBlock);
    tl.leave_link();
    ASSERT_TRUE(tl.send(kStart + 20000, CommandKind::play, 0, 1.0F));
    const std::uint64_t bar = kStart + 3 * 28800;
    tl.run_to(bar + 2000);
    EXPECT_TRUE(silent(tl.out(0), 0, tl.at(bar)));
    EXPECT_TRUE(plays(tl.out(0), tl.at(bar), *b, 1000));
}

// Following a session at 120 BPM, a bar-quantized press of slot 0 waits for the session's
// beat 4 (kStart + kBar); 110 blocks have run. Returns the slot's sample.
SampleBuffer* bar_launch_waiting(EngineHarness& h, Timeline& tl, std::uint32_t seed) {
    auto* b = quantised_noise(h, 1, 1000, seed);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, b);
    tl.send(0, CommandKind::clock_sync, 0, link_source());
    tl.send(0, CommandKind::set_quantize, 0, -1.0F);
    tl.link(120.0, 0.0);
    tl.run(10 * kBlock);
    EXPECT_TRUE(tl.send(0, CommandKind::play, 0, 1.0F));
    tl.run(100 * kBlock);
    return b;
}

// A loop of one bar (`beats` 4) at 120 BPM, following a session, launched on the session's beat
// 4 (kStart + kBar). `fill` gives its frames.
template <typename Fill>
SampleBuffer* bar_loop_playing(EngineHarness& h, Timeline& tl, Fill fill) {
    auto* b = h.make_buffer(1, static_cast<std::uint32_t>(kBar), fill);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, b);
    tl.send(0, CommandKind::set_mode, 0, mode(SlotMode::loop));
    tl.send(0, CommandKind::set_beats, 0, 4.0F);
    tl.send(0, CommandKind::clock_sync, 0, link_source());
    tl.send(0, CommandKind::set_quantize, 0, -1.0F);
    tl.link(120.0, 0.0);
    tl.run(10 * kBlock);
    EXPECT_TRUE(tl.send(0, CommandKind::play, 0, 1.0F));
    return b;
}

// On the session's clock, the loop plays its frames bit for bit, pass after pass.
TEST(EngineLinkLoops, ALoopOnTheSessionsGridPlaysBitForBit) {
    EngineHarness h(config());
    Timeline tl(h);
    std::mt19937 rng(41);
    std::uniform_real_distribution<float> u(-0.5F, 0.5F);
    SampleBuffer* b = nullptr;
    ASSERT_NO_FATAL_FAILURE(b = bar_loop_playing(h, tl, [&](auto, auto) { return u(rng); }));
    tl.run_to(kStart + 6 * kBar);
    const auto& x = tl.out(0);
    EXPECT_TRUE(silent(x, 0, tl.at(kStart + kBar)));
    EXPECT_TRUE(frames_equal(x, tl.at(kStart + kBar), 5 * kBar,
                             [&](auto k) { return b->channel(0)[k % kBar]; }));
}

// The sound card's clock runs 500 ppm slow against the session's (20 ms a minute): each pass
// still begins on the session's bar line, within half a millisecond (24 frames), where the
// frames alone would drift 38 ms in 38 bars.
TEST(EngineLinkLoops, ALoopStaysOnTheSessionsBarsWhenTheSoundCardsClockIsOff) {
    EngineHarness h(config());
    Timeline tl(h);
    // A 1000-frame mark at the top of the bar, then silence.
    ASSERT_NO_FATAL_FAILURE(
        bar_loop_playing(h, tl, [](auto, std::uint32_t f) { return f < 1000 ? 0.5F : 0.0F; }));
    constexpr double kRatio = 1.0005;
    tl.link_clock_ratio(kRatio);
    const std::uint64_t from = tl.now();
    const double beat_from = static_cast<double>(from - kStart) / static_cast<double>(kBeat);
    tl.run_to(kStart + 40 * kBar);
    const auto& x = tl.out(0);
    double worst = 0.0;
    for (int bar = 2; bar < 39; ++bar) {
        // Where the session's beat is 4 × bar.
        const double at = static_cast<double>(from) +
                          (4.0 * bar - beat_from) * static_cast<double>(kBeat) / kRatio;
        const auto onset = first_nonzero(x, tl.at(static_cast<std::uint64_t>(at) - 2000));
        ASSERT_TRUE(onset) << "bar " << bar;
        const double off = static_cast<double>(*onset) - (at - static_cast<double>(kStart));
        worst = std::max(worst, std::abs(off));
        EXPECT_LT(std::abs(off), 26.0) << "bar " << bar << ": the pass is off the session's bar";
    }
    std::cout << "worst pass " << worst << " frames off the session's bar\n";
}

// A loop already playing when Link is turned on is held from where it is: no jump, then the
// session's clock (500 ppm fast) does not pull it away.
TEST(EngineLinkLoops, ALoopPlayingBeforeLinkIsHeldFromWhereItIs) {
    EngineHarness h(config());
    Timeline tl(h);
    auto* b = h.make_buffer(1, static_cast<std::uint32_t>(kBar),
                            [](auto, std::uint32_t f) { return f < 1000 ? 0.5F : 0.0F; });
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, b);
    tl.send(0, CommandKind::set_mode, 0, mode(SlotMode::loop));
    tl.send(0, CommandKind::set_beats, 0, 4.0F);
    tl.send(0, CommandKind::play, 0, 1.0F);  // at kStart, on looperd's own clock
    tl.run(kBar + 5000);
    // Link keeps looperd's beat when it joins (BEATTIME-1); its clock runs 500 ppm fast.
    const double beat = static_cast<double>(tl.now() - kStart) / static_cast<double>(kBeat);
    tl.send(tl.now(), CommandKind::clock_sync, 0, link_source());
    tl.link(120.0, beat);
    constexpr double kRatio = 1.0005;
    tl.link_clock_ratio(kRatio);
    const std::uint64_t from = tl.now();
    tl.run_to(kStart + 30 * kBar);
    const auto& x = tl.out(0);
    for (int bar = 2; bar < 29; ++bar) {
        const double at =
            static_cast<double>(from) + (4.0 * bar - beat) * static_cast<double>(kBeat) / kRatio;
        const auto onset = first_nonzero(x, tl.at(static_cast<std::uint64_t>(at) - 2000));
        ASSERT_TRUE(onset) << "bar " << bar;
        EXPECT_LT(std::abs(static_cast<double>(*onset) - (at - static_cast<double>(kStart))), 26.0)
            << "bar " << bar << ": the pass is off the session's bar";
    }
}

// The session's beat jumps half a beat on (JACK's clock re-estimated after a stall): the loop
// crosses over to its place on the grid within the fade, with no step in the sound, and plays
// on from there.
TEST(EngineLinkLoops, ALoopFarOffTheGridCrossesOverToItsPlace) {
    EngineHarness h(config());
    Timeline tl(h);
    // 50 Hz (100 periods a bar): half a beat is 12.5 periods, so a cut would step by up to 1.
    const auto sine = [](auto, std::uint32_t f) {
        return 0.5F * static_cast<float>(std::sin(2.0 * std::numbers::pi * 50.0 * f / kRate));
    };
    SampleBuffer* b = nullptr;
    ASSERT_NO_FATAL_FAILURE(b = bar_loop_playing(h, tl, sine));
    tl.run_to(kStart + 3 * kBar + 5000);
    const std::uint64_t jump = tl.now();
    const double beat = static_cast<double>(jump - kStart) / static_cast<double>(kBeat);
    tl.link(120.0, beat + 0.5);
    tl.run_to(kStart + 6 * kBar);
    const auto& x = tl.out(0);
    float step = 0.0F;
    for (std::size_t k = tl.at(kStart + kBar) + 1; k < x.size(); ++k)
        step = std::max(step, std::abs(x[k] - x[k - 1]));
    EXPECT_LT(step, 0.02F) << "the crossing clicks";
    // From a bar after the jump the loop is where the new grid puts it: the grid's bar lines
    // are half a beat earlier now.
    const std::uint64_t bar = kStart + 5 * kBar - kBeat / 2;
    EXPECT_TRUE(frames_equal(
        x, tl.at(bar), kBar / 2, [&](auto k) { return b->channel(0)[k % kBar]; }, 1e-4F));
}

// A bar-quantized press waits for the session's beat 4; meanwhile JACK's clock is re-estimated
// after an xrun and the session's beat at each frame jumps a quarter beat on (6,000 frames at
// 120 BPM): the launch goes where beat 4 now is, on the peers' bar line, not where it was.
TEST(EngineLinkSync, APendingLaunchFollowsTheSessionsBeatWhenTheGridJumps) {
    EngineHarness h(config());
    Timeline tl(h);
    SampleBuffer* b = nullptr;
    ASSERT_NO_FATAL_FAILURE(b = bar_launch_waiting(h, tl, 24));
    const double beat_now = static_cast<double>(tl.now() - kStart) / static_cast<double>(kBeat);
    tl.link(120.0, beat_now + 0.25);
    const std::uint64_t bar = kStart + kBar - kBeat / 4;
    tl.run_to(bar + 2000);
    EXPECT_TRUE(silent(tl.out(0), 0, tl.at(bar)));
    EXPECT_TRUE(plays(tl.out(0), tl.at(bar), *b, 1000));
}

// A peer halves the tempo while a bar launch waits: the launch lands on the session's beat 4
// at the new tempo.
TEST(EngineLinkSync, APendingLaunchFollowsAPeersTempoChange) {
    EngineHarness h(config());
    Timeline tl(h);
    SampleBuffer* b = nullptr;
    ASSERT_NO_FATAL_FAILURE(b = bar_launch_waiting(h, tl, 25));
    const std::uint64_t change = tl.now();
    const double beat_now = static_cast<double>(change - kStart) / static_cast<double>(kBeat);
    tl.link(60.0, beat_now);  // 48,000 frames a beat from here
    const std::uint64_t bar =
        change + static_cast<std::uint64_t>(std::llround((4.0 - beat_now) * 48000.0));
    tl.run_to(bar + 2000);
    EXPECT_TRUE(silent(tl.out(0), 0, tl.at(bar)));
    EXPECT_TRUE(plays(tl.out(0), tl.at(bar), *b, 1000));
}

// ---------------------------------------------------------------------------------------------
// The transport (/clock/playing, and a Link session's start and stop)

float transport_kind_value(bool on) {
    return on ? 1.0F : 0.0F;
}

// Slot 0 (a loop, on outputs 1-2) and slot 1 (a long one-shot, on outputs 3-4) sound; slot 2 is
// a loop loaded but silent. A stop holds slot 0 only: it fades out, the one-shot rings on. A
// start in the middle of a bar plays slot 0 again from its first frame on the next bar line,
// and slot 2 stays silent.
TEST(EngineTransport, AStopHoldsTheLoopsAndAStartPlaysThemOnTheNextBar) {
    EngineHarness h(config(4));
    Timeline tl(h);
    auto* loop = quantised_noise(h, 1, 1000, 31);
    auto* shot = quantised_noise(h, 1, 200000, 32);
    auto* idle = quantised_noise(h, 1, 1000, 33);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, loop);
    tl.send(0, CommandKind::assign_buffer, 1, 0.0F, shot);
    tl.send(0, CommandKind::assign_buffer, 2, 0.0F, idle);
    tl.send(0, CommandKind::set_mode, 0, mode(SlotMode::loop));
    tl.send(0, CommandKind::set_mode, 2, mode(SlotMode::loop));
    tl.send(0, CommandKind::set_output, 0, 1.0F);
    tl.send(0, CommandKind::set_output, 1, 2.0F);
    tl.send(0, CommandKind::set_output, 2, 1.0F);
    tl.send(0, CommandKind::play, 0, 1.0F);
    tl.send(0, CommandKind::play, 1, 1.0F);
    const std::uint64_t stop = kStart + 10000;
    const std::uint64_t start = kStart + kBar + 5000;  // mid-bar: the loop waits for 2 bars in
    ASSERT_TRUE(tl.send(stop, CommandKind::transport_stop));
    ASSERT_TRUE(tl.send(start, CommandKind::transport_start));
    tl.run_to(kStart + 2 * kBar + 3000);
    const auto& loop_out = tl.out(0);
    EXPECT_TRUE(
        frames_equal(loop_out, 0, 10000, [&](auto k) { return loop->channel(0)[k % 1000]; }));
    EXPECT_TRUE(silent(loop_out, tl.at(stop) + kFadeFrames, 2 * kBar - 10000 - kFadeFrames));
    EXPECT_TRUE(frames_equal(loop_out, tl.at(kStart + 2 * kBar), 3000,
                             [&](auto k) { return loop->channel(0)[k % 1000]; }));
    // The one-shot was never the transport's.
    EXPECT_TRUE(plays(tl.out(2), 0, *shot, tl.at(kStart + 2 * kBar + 3000)));
}

// A held slot stopped by hand stays stopped at the next start; one played by hand meanwhile
// is not started again (its voice goes on where it is).
TEST(EngineTransport, ASlotPlayedOrStoppedByHandIsNoLongerHeld) {
    EngineHarness h(config(4));
    Timeline tl(h);
    auto* a = quantised_noise(h, 1, 1000, 34);
    auto* b = quantised_noise(h, 1, 1000, 35);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, a);
    tl.send(0, CommandKind::assign_buffer, 1, 0.0F, b);
    for (std::uint32_t slot : {0U, 1U}) {
        tl.send(0, CommandKind::set_mode, slot, mode(SlotMode::loop));
        tl.send(0, CommandKind::set_output, slot, static_cast<float>(slot + 1));
        tl.send(0, CommandKind::play, slot, 1.0F);
    }
    ASSERT_TRUE(tl.send(kStart + 5000, CommandKind::transport_stop));
    ASSERT_TRUE(tl.send(kStart + 20000, CommandKind::stop, 1));
    const std::uint64_t by_hand = kStart + 30000;
    ASSERT_TRUE(tl.send(by_hand, CommandKind::play, 0, 1.0F));
    ASSERT_TRUE(tl.send(kStart + 40000, CommandKind::transport_start));
    tl.run_to(kStart + kBar + 2000);
    EXPECT_TRUE(frames_equal(tl.out(0), tl.at(kBar + kStart), 2000, [&](auto k) {
        return a->channel(0)[(kBar - (by_hand - kStart) + k) % 1000];
    }));
    EXPECT_TRUE(
        silent(tl.out(2), tl.at(kStart + 5000) + kFadeFrames, kBar - 5000 - kFadeFrames + 2000));
}

// Following a Link session: joining one stops nothing (Link's state before any start or stop
// is "stopped"); its stop holds the loops, its start plays them again on the session's next
// bar line.
TEST(EngineLinkSync, TheSessionsStopAndStartStopAndRestartTheLoops) {
    EngineHarness h(config());
    Timeline tl(h);
    auto* b = quantised_noise(h, 1, 1000, 36);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, b);
    tl.send(0, CommandKind::set_mode, 0, mode(SlotMode::loop));
    tl.send(0, CommandKind::play, 0, 1.0F);
    tl.send(0, CommandKind::clock_sync, 0, link_source());
    tl.link(120.0, 1.0);  // beat 4 (a bar line) at kStart + 72,000
    tl.run_to(kStart + 20 * kBlock);
    tl.link_playing(true);  // nothing is held: a start plays nothing again
    tl.run(10 * kBlock);
    const std::uint64_t stopped = tl.now();
    tl.link_playing(false);
    tl.run_to(kStart + 80000);  // past the session's beat 4
    const std::uint64_t started = tl.now();
    tl.link_playing(true);
    const std::uint64_t bar = kStart + 3 * kBeat + kBar;  // the session's beat 8
    ASSERT_GT(bar, started);
    tl.run_to(bar + 3000);
    const auto& x = tl.out(0);
    EXPECT_TRUE(
        frames_equal(x, 0, tl.at(stopped), [&](auto k) { return b->channel(0)[k % 1000]; }));
    EXPECT_TRUE(silent(x, tl.at(stopped) + kFadeFrames, tl.at(bar) - tl.at(stopped) - kFadeFrames));
    EXPECT_TRUE(frames_equal(x, tl.at(bar), 3000, [&](auto k) { return b->channel(0)[k % 1000]; }));
}

// Link tells a rig that joins only of the starts and stops after it joined: a stop that finds
// the session "stopped" already (its state before any) still stops the loops; a tempo change
// is no new start or stop.
TEST(EngineLinkSync, AStopHeardAfterJoiningStopsTheLoopsAndATempoChangeDoesNot) {
    EngineHarness h(config());
    Timeline tl(h);
    auto* b = quantised_noise(h, 1, 1000, 38);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, b);
    tl.send(0, CommandKind::set_mode, 0, mode(SlotMode::loop));
    tl.send(0, CommandKind::play, 0, 1.0F);
    tl.send(0, CommandKind::clock_sync, 0, link_source());
    tl.link(120.0, 0.0);
    tl.run(20 * kBlock);
    const std::uint64_t stopped = tl.now();
    tl.link_playing(false);
    tl.run(40 * kBlock);
    EXPECT_TRUE(silent(tl.out(0), tl.at(stopped) + kFadeFrames, 40 * kBlock - kFadeFrames));
    // Played by hand while the session is stopped, the loop goes on through a tempo change.
    const std::uint64_t by_hand = tl.now();
    ASSERT_TRUE(tl.send(0, CommandKind::play, 0, 1.0F));
    tl.run(10 * kBlock);
    tl.link(90.0, 30.0);
    tl.run(50 * kBlock);
    EXPECT_TRUE(frames_equal(tl.out(0), tl.at(by_hand), 60 * kBlock,
                             [&](auto k) { return b->channel(0)[k % 1000]; }));
}

// --no-link-start-stop: the session's stop is not looperd's.
TEST(EngineLinkSync, WithStartStopSyncOffTheSessionsStopIsIgnored) {
    EngineHarness h(config());
    Timeline tl(h);
    auto* b = quantised_noise(h, 1, 1000, 37);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, b);
    tl.send(0, CommandKind::set_mode, 0, mode(SlotMode::loop));
    tl.send(0, CommandKind::set_start_stop_sync, 0, transport_kind_value(false));
    tl.send(0, CommandKind::play, 0, 1.0F);
    tl.send(0, CommandKind::clock_sync, 0, link_source());
    tl.link(120.0, 0.0);
    tl.link_playing(true);
    tl.run(10 * kBlock);
    tl.link_playing(false);
    tl.run(100 * kBlock);
    EXPECT_TRUE(
        frames_equal(tl.out(0), 0, 110 * kBlock, [&](auto k) { return b->channel(0)[k % 1000]; }));
}

TEST(EngineJackSync, TheInternalSourceIgnoresARollingTransport) {
    EngineHarness h(config());
    Timeline tl(h);
    auto* b = quantised_noise(h, 1, 1000, 17);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, b);
    tl.send(0, CommandKind::set_quantize, 0, -1.0F);
    tl.roll(120.0, 4.0, 2.25);
    ASSERT_TRUE(tl.send(kStart + 10013, CommandKind::play, 0, 1.0F));
    tl.run(kBar + 2000);
    EXPECT_TRUE(silent(tl.out(0), 0, kBar));
    EXPECT_TRUE(plays(tl.out(0), kBar, *b, 1000));
}

// ---------------------------------------------------------------------------------------------
// Modes

TEST(EngineModes, AGateReleaseFadesOutWithinTheSlotFade) {
    EngineHarness h(config());
    Timeline tl(h);
    auto* b = h.make_dc(1, 48000, 0.5F);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, b);
    tl.send(0, CommandKind::set_mode, 0, mode(SlotMode::gate));
    tl.send(0, CommandKind::set_fade_out, 0, 10.0F);  // 480 frames
    const std::uint64_t press = kStart + 300;
    const std::uint64_t release = press + 5000;
    tl.send(press, CommandKind::play, 0, 1.0F);
    tl.send(release, CommandKind::play, 0, 0.0F);
    tl.run(8000);
    const auto& x = tl.out(0);
    EXPECT_TRUE(silent(x, 0, tl.at(press)));
    EXPECT_TRUE(frames_equal(x, tl.at(press), 5000, [](auto) { return 0.5F; }));
    expect_fade(x, tl.at(release), 480, ramp_step(0.5F, 480));
    EXPECT_EQ(h.engine().active_voices(), 0U);
}

TEST(EngineModes, AGateHeldLongerThanItsSampleKeepsSounding) {
    EngineHarness h(config());
    Timeline tl(h);
    auto* b = quantised_noise(h, 1, 700, 18);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, b);
    tl.send(0, CommandKind::set_mode, 0, mode(SlotMode::gate));
    tl.send(kStart, CommandKind::play, 0, 1.0F);
    tl.run(3000);
    EXPECT_TRUE(frames_equal(tl.out(0), 0, 3000, [&](auto k) { return b->channel(0)[k % 700]; }));
}

TEST(EngineModes, AReleaseDoesNothingInOneshotOrLoopMode) {
    EngineHarness h(config());
    Timeline tl(h);
    auto* a = quantised_noise(h, 1, 2000, 19);
    auto* b = quantised_noise(h, 1, 500, 20);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, a);
    tl.send(0, CommandKind::assign_buffer, 1, 0.0F, b);
    tl.send(0, CommandKind::set_mode, 1, mode(SlotMode::loop));
    tl.send(kStart, CommandKind::play, 0, 1.0F);
    tl.send(kStart, CommandKind::play, 1, 1.0F);
    tl.send(kStart + 700, CommandKind::play, 0, 0.0F);
    tl.send(kStart + 700, CommandKind::play, 1, 0.0F);
    tl.run(3000);
    EXPECT_TRUE(frames_equal(tl.out(0), 0, 3000, [&](auto k) {
        return (k < 2000 ? a->channel(0)[k] : 0.0F) + b->channel(0)[k % 500];
    }));
}

TEST(EngineModes, TogglePressStartsPressAgainFadesThenStartsAgain) {
    EngineHarness h(config());
    Timeline tl(h);
    auto* b = quantised_noise(h, 1, 1000, 21);
    const float* x = b->channel(0);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, b);
    tl.send(0, CommandKind::set_mode, 0, mode(SlotMode::toggle));
    const std::uint64_t p1 = kStart + 100;
    const std::uint64_t p2 = p1 + 2500;
    const std::uint64_t p3 = p2 + 2000;
    tl.send(p1, CommandKind::play, 0, 1.0F);
    tl.send(p2, CommandKind::play, 0, 1.0F);
    tl.send(p3, CommandKind::play, 0, 1.0F);
    tl.run(p3 - kStart + 3000);
    const auto& out = tl.out(0);
    EXPECT_TRUE(silent(out, 0, tl.at(p1)));
    EXPECT_TRUE(frames_equal(out, tl.at(p1), 2500, [&](auto k) { return x[k % 1000]; }))
        << "toggle loops until pressed again";
    // The second press fades it out (the slot's fade) and nothing starts.
    const std::size_t quiet =
        silent_from(std::vector<float>(out.begin(), out.begin() + tl.at(p3)), tl.at(p2));
    EXPECT_LE(quiet, tl.at(p2) + kFadeFrames);
    EXPECT_GE(quiet, tl.at(p2) + kFadeFrames * 9 / 10);
    EXPECT_TRUE(frames_equal(out, tl.at(p3), 3000, [&](auto k) { return x[k % 1000]; }))
        << "a third press starts it again from the top";
}

TEST(EngineModes, OneshotPlaysOnceAndLoopRepeats) {
    EngineHarness h(config());
    Timeline tl(h);
    auto* a = quantised_noise(h, 1, 1000, 22);
    auto* b = quantised_noise(h, 1, 1000, 23);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, a);
    tl.send(0, CommandKind::assign_buffer, 1, 0.0F, b);
    tl.send(0, CommandKind::set_mode, 1, mode(SlotMode::loop));
    tl.send(kStart + 10, CommandKind::play, 0, 1.0F);
    tl.send(kStart + 10, CommandKind::play, 1, 1.0F);
    tl.run(5000);
    EXPECT_TRUE(frames_equal(tl.out(0), 10, 4900, [&](auto k) {
        return (k < 1000 ? a->channel(0)[k] : 0.0F) + b->channel(0)[k % 1000];
    }));
    EXPECT_EQ(h.count(EventKind::voice_ended, 0), 1U);
    EXPECT_EQ(h.count(EventKind::voice_ended, 1), 0U);
}

// ---------------------------------------------------------------------------------------------
// Polyphony and choke groups

TEST(EnginePoly, PolyTwoSoundsTwoVoicesAndAThirdStartFadesTheOldest) {
    EngineHarness h(config());
    Timeline tl(h);
    constexpr std::uint32_t n = 4000;
    auto* b = quantised_noise(h, 1, n, 24);
    const float* x = b->channel(0);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, b);
    tl.send(0, CommandKind::set_mode, 0, mode(SlotMode::loop));
    tl.send(0, CommandKind::set_poly, 0, 2.0F);
    const std::uint64_t p1 = kStart + 100;
    const std::uint64_t p2 = p1 + 1000;
    const std::uint64_t p3 = p2 + 1000;
    tl.send(p1, CommandKind::play, 0, 1.0F);
    tl.send(p2, CommandKind::play, 0, 1.0F);
    tl.send(p3, CommandKind::play, 0, 1.0F);
    tl.run(p3 - kStart + 4000);
    auto voice = [&](std::uint64_t started, std::uint64_t frame) {
        return x[(frame - started) % n];
    };
    const auto& out = tl.out(0);
    EXPECT_TRUE(frames_equal(out, tl.at(p1), 1000, [&](auto k) { return voice(p1, p1 + k); }));
    EXPECT_TRUE(frames_equal(out, tl.at(p2), 1000, [&](auto k) {
        return voice(p1, p2 + k) + voice(p2, p2 + k);
    })) << "two voices sound together";
    const std::uint64_t faded = p3 + kFadeFrames;
    EXPECT_TRUE(frames_equal(out, tl.at(faded), 3000, [&](auto k) {
        return voice(p2, faded + k) + voice(p3, faded + k);
    })) << "the oldest voice is gone after its fade, the other two play on";
    // During the fade the oldest voice is still there, scaled by an envelope falling to 0.
    for (std::uint32_t k = 0; k < kFadeFrames; ++k) {
        const std::uint64_t f = p3 + k;
        const float rest = out[tl.at(f)] - voice(p2, f) - voice(p3, f);
        const float envelope = 1.0F - static_cast<float>(k + 1) / kFadeFrames;
        ASSERT_NEAR(rest, voice(p1, f) * envelope, 1e-5F) << "fade frame " << k;
    }
    EXPECT_EQ(h.engine().active_voices(), 2U);
}

TEST(EnginePoly, PolyOneRetriggerRestartsAndFadesTheOldVoice) {
    EngineHarness h(config());
    Timeline tl(h);
    constexpr std::uint32_t n = 3000;
    auto* b = quantised_noise(h, 1, n, 25);
    const float* x = b->channel(0);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, b);
    tl.send(0, CommandKind::set_mode, 0, mode(SlotMode::loop));
    const std::uint64_t p1 = kStart + 100;
    const std::uint64_t p2 = p1 + 1234;
    tl.send(p1, CommandKind::play, 0, 1.0F);
    tl.send(p2, CommandKind::play, 0, 1.0F);
    tl.run(p2 - kStart + 4000);
    const auto& out = tl.out(0);
    EXPECT_TRUE(frames_equal(out, tl.at(p1), 1234, [&](auto k) { return x[k]; }));
    for (std::uint32_t k = 0; k < kFadeFrames; ++k) {
        const float old = x[(1234 + k) % n] * (1.0F - static_cast<float>(k + 1) / kFadeFrames);
        ASSERT_NEAR(out[tl.at(p2) + k], x[k] + old, 1e-5F) << "fade frame " << k;
    }
    EXPECT_TRUE(frames_equal(out, tl.at(p2) + kFadeFrames, 3500,
                             [&](auto k) { return x[(k + kFadeFrames) % n]; }));
    EXPECT_EQ(h.engine().active_voices(), 1U);
}

TEST(EngineChoke, StartingASlotFadesTheOthersOfItsGroupOnly) {
    EngineHarness h(config());
    Timeline tl(h);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, h.make_dc(1, 4800, 0.5F));
    tl.send(0, CommandKind::assign_buffer, 1, 0.0F, h.make_dc(1, 4800, 0.0F));
    tl.send(0, CommandKind::assign_buffer, 2, 0.0F, h.make_dc(1, 4800, 0.25F));
    for (std::uint32_t s = 0; s < 3; ++s)
        tl.send(0, CommandKind::set_mode, s, mode(SlotMode::loop));
    tl.send(0, CommandKind::set_choke, 0, 1.0F);
    tl.send(0, CommandKind::set_choke, 1, 1.0F);
    tl.send(0, CommandKind::set_choke, 2, 2.0F);  // another group: untouched
    tl.send(kStart, CommandKind::play, 0, 1.0F);
    tl.send(kStart, CommandKind::play, 2, 1.0F);
    const std::uint64_t choke = kStart + 3000;
    tl.send(choke, CommandKind::play, 1, 1.0F);
    tl.run(6000);
    const auto& out = tl.out(0);
    EXPECT_TRUE(frames_equal(out, 0, 3000, [](auto) { return 0.75F; }));
    EXPECT_LE(max_step(out, tl.at(choke) - 1, out.size()), ramp_step(0.5F, kFadeFrames));
    EXPECT_TRUE(frames_equal(out, tl.at(choke) + kFadeFrames, 2000, [](auto) { return 0.25F; }))
        << "slot 0 is gone after the fade, slot 2 plays on";
    EXPECT_GT(out[tl.at(choke) + kFadeFrames * 9 / 10 - 1], 0.25F) << "the fade is that long";
    EXPECT_EQ(h.engine().active_voices(), 2U);
}

// ---------------------------------------------------------------------------------------------
// Reverse and region

class EngineRegion : public ::testing::Test {
  protected:
    // 1001 frames: 0.25 and 0.75 of it round to frames 250 and 751 (not halves).
    static constexpr std::uint32_t kN = 1001;
    static constexpr std::uint32_t kBegin = 250;
    static constexpr std::uint32_t kEnd = 751;
    static constexpr std::uint32_t kLen = kEnd - kBegin;

    EngineRegion() : h_(config()), tl_(h_) {
        buffer_ = quantised_noise(h_, 1, kN, 26);
        x_ = buffer_->channel(0);
        tl_.send(0, CommandKind::assign_buffer, 0, 0.0F, buffer_);
    }
    const std::vector<float>& play(std::uint64_t frames) {
        tl_.send(kStart, CommandKind::play, 0, 1.0F);
        tl_.run(frames);
        return tl_.out(0);
    }
    void region() {
        tl_.send(0, CommandKind::set_start, 0, 0.25F);
        tl_.send(0, CommandKind::set_end, 0, 0.75F);
    }

    EngineHarness h_;
    Timeline tl_;
    SampleBuffer* buffer_ = nullptr;
    const float* x_ = nullptr;
};

TEST_F(EngineRegion, AReverseOneshotIsTheSampleBackwards) {
    tl_.send(0, CommandKind::set_reverse, 0, 1.0F);
    const auto& out = play(1200);
    EXPECT_TRUE(frames_equal(out, 0, kN, [&](auto k) { return x_[kN - 1 - k]; }));
    EXPECT_TRUE(silent(out, kN, 1200 - kN));
    EXPECT_EQ(h_.count(EventKind::voice_ended, 0), 1U);
}

TEST_F(EngineRegion, ARegionPlaysExactlyItsSlice) {
    region();
    const auto& out = play(1200);
    EXPECT_TRUE(frames_equal(out, 0, kLen, [&](auto k) { return x_[kBegin + k]; }));
    EXPECT_TRUE(silent(out, kLen, 1200 - kLen));
}

TEST_F(EngineRegion, ALoopingRegionWrapsInsideIt) {
    region();
    tl_.send(0, CommandKind::set_mode, 0, mode(SlotMode::loop));
    const auto& out = play(4000);
    EXPECT_TRUE(frames_equal(out, 0, 4000, [&](auto k) { return x_[kBegin + k % kLen]; }));
}

TEST_F(EngineRegion, ReverseWithARegionPlaysTheSliceBackwards) {
    region();
    tl_.send(0, CommandKind::set_reverse, 0, 1.0F);
    const auto& out = play(1200);
    EXPECT_TRUE(frames_equal(out, 0, kLen, [&](auto k) { return x_[kEnd - 1 - k]; }));
    EXPECT_TRUE(silent(out, kLen, 1200 - kLen));
}

TEST_F(EngineRegion, AReverseLoopingRegionWrapsInsideIt) {
    region();
    tl_.send(0, CommandKind::set_reverse, 0, 1.0F);
    tl_.send(0, CommandKind::set_mode, 0, mode(SlotMode::loop));
    const auto& out = play(4000);
    EXPECT_TRUE(frames_equal(out, 0, 4000, [&](auto k) { return x_[kEnd - 1 - k % kLen]; }));
}

TEST_F(EngineRegion, AReplacedSampleKeepsTheRegionsProportion) {
    region();
    auto* other = quantised_noise(h_, 1, 2001, 27);  // 0.25 → 500, 0.75 → 1501
    tl_.send(0, CommandKind::assign_buffer, 0, 0.0F, other);
    const auto& out = play(1200);
    EXPECT_TRUE(frames_equal(out, 0, 1001, [&](auto k) { return other->channel(0)[500 + k]; }));
    EXPECT_TRUE(silent(out, 1001, 199));
}

// ---------------------------------------------------------------------------------------------
// Rate and pitch

// Renders one voice of `b` with the given slot settings; returns output 0.
std::vector<float> render_voice(const std::vector<float>& source, std::uint32_t frames,
                                const std::vector<std::pair<CommandKind, float>>& settings) {
    EngineHarness h(config());
    Timeline tl(h);
    auto* b = h.make_buffer(1, static_cast<std::uint32_t>(source.size()),
                            [&](std::uint32_t, std::uint32_t i) { return source[i]; });
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, b);
    for (const auto& [kind, value] : settings) tl.send(0, kind, 0, value);
    tl.send(kStart, CommandKind::play, 0, 1.0F);
    tl.run(frames);
    return tl.out(0);
}

std::vector<float> dc_ish_vector(std::uint32_t n, double hz) {
    std::vector<float> x(n);
    for (std::uint32_t i = 0; i < n; ++i)
        x[i] = static_cast<float>(0.5 + 0.25 * std::sin(2.0 * std::numbers::pi * hz * i / kRate));
    return x;
}

TEST(EngineRate, RateTwoAndPitchTwelveAreBitIdentical) {
    const auto x = looperd::test::noise_vector(3000, 28);
    const auto by_rate = render_voice(x, 4000, {{CommandKind::set_rate, 2.0F}});
    const auto by_pitch = render_voice(x, 4000, {{CommandKind::set_pitch, 12.0F}});
    EXPECT_TRUE(frames_equal(by_pitch, 0, 4000, [&](auto k) { return by_rate[k]; }));
    EXPECT_NE(by_rate[100], 0.0F);
    const auto half_rate = render_voice(x, 7000, {{CommandKind::set_rate, 0.5F}});
    const auto down = render_voice(x, 7000, {{CommandKind::set_pitch, -12.0F}});
    EXPECT_TRUE(frames_equal(down, 0, 7000, [&](auto k) { return half_rate[k]; }));
}

TEST(EngineRate, AnEffectiveRateOfOneIsBitExact) {
    const auto x = looperd::test::noise_vector(3000, 29);
    const auto back =
        render_voice(x, 3200, {{CommandKind::set_rate, 2.0F}, {CommandKind::set_rate, 1.0F}});
    EXPECT_TRUE(frames_equal(back, 0, 3000, [&](auto k) { return x[k]; }));
    EXPECT_TRUE(silent(back, 3000, 200));
    const auto cancel =
        render_voice(x, 3200, {{CommandKind::set_rate, 0.5F}, {CommandKind::set_pitch, 12.0F}});
    EXPECT_TRUE(frames_equal(cancel, 0, 3000, [&](auto k) { return x[k]; }));
}

TEST(EngineRate, RateTwoTakesHalfTheFramesAndReadsEveryOtherFrame) {
    const auto x = dc_ish_vector(4800, 50.0);
    const auto out = render_voice(x, 4800, {{CommandKind::set_rate, 2.0F}});
    // A whole-frame position: the interpolation returns the frame itself.
    EXPECT_TRUE(frames_equal(out, 0, 2400, [&](auto k) { return x[2 * k]; }));
    EXPECT_TRUE(silent(out, 2400, 2400));
}

TEST(EngineRate, RateHalfInterpolatesSmoothly) {
    const auto x = dc_ish_vector(4800, 100.0);
    const auto out = render_voice(x, 9800, {{CommandKind::set_rate, 0.5F}});
    std::vector<float> even(4800);
    std::vector<float> odd(4800);
    for (std::size_t k = 0; k < even.size(); ++k) even[k] = out[2 * k];
    EXPECT_TRUE(frames_equal(even, 0, 4800, [&](auto k) { return x[k]; }));
    // Halfway frames: the signal there, to within the cubic's error on a slow sine. The first
    // and the last two would need neighbours before the sample's start or past its end, and
    // are left out.
    for (std::size_t k = 0; k < odd.size(); ++k) odd[k] = out[2 * k + 1];
    EXPECT_TRUE(frames_equal(
        odd, 1, 4797,
        [&](auto k) {
            const double t = static_cast<double>(k) + 1.5;
            return static_cast<float>(0.5 +
                                      0.25 * std::sin(2.0 * std::numbers::pi * 100.0 * t / kRate));
        },
        2e-6F));
    float src = 0.0F;
    for (std::size_t i = 1; i < x.size(); ++i) src = std::max(src, std::abs(x[i] - x[i - 1]));
    EXPECT_LE(max_step(out, 2, 9596), src * 0.5F * 1.02F + kEps);
    EXPECT_TRUE(silent(out, 9600, 200));
}

// Every channel at a rate other than 1 (the interpolation handles channels in pairs): stereo,
// and three channels folded onto two outputs (the third joins the left).
TEST(EngineRate, EveryChannelIsResampled) {
    EngineHarness h(config());
    Timeline tl(h);
    auto* stereo = quantised_noise(h, 2, 3000, 36);
    auto* three = quantised_noise(h, 3, 3000, 37);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, stereo);
    tl.send(0, CommandKind::assign_buffer, 1, 0.0F, three);
    tl.send(0, CommandKind::set_rate, 0, 2.0F);
    tl.send(0, CommandKind::set_rate, 1, 2.0F);
    tl.send(kStart, CommandKind::play, 0, 1.0F);
    tl.send(kStart + 2000, CommandKind::play, 1, 1.0F);
    tl.run(3700);
    for (std::uint32_t o = 0; o < 2; ++o) {
        EXPECT_TRUE(
            frames_equal(tl.out(o), 0, 1500, [&](auto k) { return stereo->channel(o)[2 * k]; }))
            << "output " << o;
        EXPECT_TRUE(silent(tl.out(o), 1500, 500));
        EXPECT_TRUE(frames_equal(tl.out(o), 2000, 1500,
                                 [&](auto k) {
                                     return three->channel(o)[2 * k] +
                                            (o == 0 ? three->channel(2)[2 * k] : 0.0F);
                                 }))
            << "output " << o;
    }
}

TEST(EngineRate, ReverseAtAFractionalRate) {
    const auto x = dc_ish_vector(4800, 100.0);
    const auto fast =
        render_voice(x, 2600, {{CommandKind::set_reverse, 1.0F}, {CommandKind::set_rate, 2.0F}});
    EXPECT_TRUE(frames_equal(fast, 0, 2400, [&](auto k) { return x[4799 - 2 * k]; }));
    EXPECT_TRUE(silent(fast, 2400, 200));
    const auto slow =
        render_voice(x, 9800, {{CommandKind::set_reverse, 1.0F}, {CommandKind::set_rate, 0.5F}});
    std::vector<float> even(4800);
    for (std::size_t k = 0; k < even.size(); ++k) even[k] = slow[2 * k];
    EXPECT_TRUE(frames_equal(even, 0, 4800, [&](auto k) { return x[4799 - k]; }));
    // Halfway frames, away from the sample's ends: the signal between the two frames.
    EXPECT_TRUE(frames_equal(
        slow, 3, 9590,
        [&](auto k) {
            if ((k + 3) % 2 == 0) return slow[k + 3];  // whole frames, checked above
            const double t = 4799.0 - static_cast<double>(k + 3) / 2.0;
            return static_cast<float>(0.5 +
                                      0.25 * std::sin(2.0 * std::numbers::pi * 100.0 * t / kRate));
        },
        2e-6F));
}

// Interpolated frames next to a loop's seam take their neighbours from across the seam, not
// from the sample beyond the region. Catmull-Rom at t = 1/2 is (-y0 + 9 y1 + 9 y2 - y3) / 16.
TEST(EngineRate, ALoopingRegionAtAFractionalRateInterpolatesAcrossItsSeam) {
    EngineHarness h(config());
    Timeline tl(h);
    constexpr std::uint32_t begin = 250;
    constexpr std::uint32_t end = 751;  // 0.25 and 0.75 of 1001 frames
    constexpr std::uint32_t len = end - begin;
    auto* b = quantised_noise(h, 1, 1001, 38);
    const float* x = b->channel(0);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, b);
    tl.send(0, CommandKind::set_mode, 0, mode(SlotMode::loop));
    tl.send(0, CommandKind::set_start, 0, 0.25F);
    tl.send(0, CommandKind::set_end, 0, 0.75F);
    tl.send(0, CommandKind::set_rate, 0, 0.5F);
    tl.send(kStart, CommandKind::play, 0, 1.0F);
    tl.run(4 * len + 200);
    auto wrapped = [&](std::int64_t i) {
        while (i >= end) i -= len;
        while (i < begin) i += len;
        return static_cast<double>(x[i]);
    };
    // Skip the first interval: before the first pass there is nothing to the left.
    EXPECT_TRUE(frames_equal(
        tl.out(0), 2, 4 * len - 2,
        [&](auto k) {
            const std::int64_t i = static_cast<std::int64_t>(begin) + (k + 2) / 2;
            if ((k + 2) % 2 == 0) return static_cast<float>(wrapped(i));
            return static_cast<float>(
                (-wrapped(i - 1) + 9.0 * wrapped(i) + 9.0 * wrapped(i + 1) - wrapped(i + 2)) /
                16.0);
        },
        1e-6F));
}

// The host's block size changes nothing (no gain ramps here: those are computed per chunk and
// may differ in the last bit): a looping region at fractional rates, with a glide.
TEST(EngineRate, TheOutputDoesNotDependOnTheBlockSize) {
    auto render = [](std::uint32_t block) {
        EngineHarness h(config());
        Timeline tl(h, kStart, block);
        auto* b = quantised_noise(h, 2, 1001, 39);
        tl.send(0, CommandKind::assign_buffer, 0, 0.0F, b);
        tl.send(0, CommandKind::set_mode, 0, mode(SlotMode::loop));
        tl.send(0, CommandKind::set_start, 0, 0.25F);
        tl.send(0, CommandKind::set_end, 0, 0.75F);
        tl.send(0, CommandKind::set_rate, 0, 0.7F);
        tl.send(kStart + 100, CommandKind::play, 0, 1.0F);
        tl.send(kStart + 3001, CommandKind::set_pitch, 0, 5.0F);
        tl.run(12000);
        return tl.out(1);
    };
    const auto reference = render(kBlock);
    for (const std::uint32_t block : {1000U, 37U, 256U}) {
        const auto other = render(block);
        EXPECT_TRUE(frames_equal(other, 0, 12000, [&](auto k) { return reference[k]; }))
            << "block " << block;
    }
}

TEST(EngineRate, ARateChangeWhilePlayingGlides) {
    // A linear ramp: the cubic reproduces it, so each output step is the read position's step,
    // that is the rate in force on that frame.
    constexpr float kScale = 1.0F / 1024.0F;
    std::vector<float> ramp(8192);
    for (std::uint32_t i = 0; i < ramp.size(); ++i) ramp[i] = static_cast<float>(i) * kScale;
    EngineHarness h(config());
    Timeline tl(h);
    auto* b = h.make_buffer(1, 8192, [&](std::uint32_t, std::uint32_t i) { return ramp[i]; });
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, b);
    tl.send(kStart, CommandKind::play, 0, 1.0F);
    const std::uint64_t change = kStart + 1000;
    tl.send(change, CommandKind::set_rate, 0, 2.0F);
    tl.run(2200);
    const auto& out = tl.out(0);
    std::vector<double> rate(2100);
    for (std::size_t k = 0; k + 1 < rate.size(); ++k)
        rate[k] = (static_cast<double>(out[k + 1]) - static_cast<double>(out[k])) /
                  static_cast<double>(kScale);
    const auto c = static_cast<std::size_t>(change - kStart);
    for (std::size_t k = 0; k + 1 < c; ++k) ASSERT_EQ(rate[k], 1.0) << "frame " << k;
    constexpr double tol = 2e-3;
    double biggest = 0.0;
    for (std::size_t k = c; k + 2 < rate.size(); ++k)
        biggest = std::max(biggest, std::abs(rate[k + 1] - rate[k]));
    EXPECT_LE(biggest, 1.0 / kSmoothFrames + tol) << "the rate jumps instead of gliding";
    EXPECT_LE(rate[c], 1.0 + 2.0 / kSmoothFrames + tol);
    EXPECT_NEAR(rate[c + kSmoothFrames / 2], 1.5, 0.01);
    EXPECT_NEAR(rate[c + kSmoothFrames + 10], 2.0, tol);
    EXPECT_NEAR(rate[2000], 2.0, tol);
}

// ---------------------------------------------------------------------------------------------
// Pan (a balance law per output pair)

class EnginePan : public ::testing::Test {
  protected:
    EnginePan() : h_(config()), tl_(h_) {
        buffer_ = quantised_noise(h_, 2, 2000, 30);
        tl_.send(0, CommandKind::assign_buffer, 0, 0.0F, buffer_);
    }
    const float* left() const { return buffer_->channel(0); }
    const float* right() const { return buffer_->channel(1); }
    void play_with_pan(float pan) {
        tl_.send(0, CommandKind::set_pan, 0, pan);
        tl_.send(kStart, CommandKind::play, 0, 1.0F);
        tl_.run(2000);
    }

    EngineHarness h_;
    Timeline tl_;
    SampleBuffer* buffer_ = nullptr;
};

TEST_F(EnginePan, CentreLeavesStereoBitExact) {
    tl_.send(0, CommandKind::set_pan, 0, 0.7F);
    play_with_pan(0.0F);
    EXPECT_TRUE(frames_equal(tl_.out(0), 0, 2000, [&](auto k) { return left()[k]; }));
    EXPECT_TRUE(frames_equal(tl_.out(1), 0, 2000, [&](auto k) { return right()[k]; }));
}

TEST_F(EnginePan, HardLeftSilencesTheRightAndLeavesTheLeft) {
    play_with_pan(-1.0F);
    EXPECT_TRUE(frames_equal(tl_.out(0), 0, 2000, [&](auto k) { return left()[k]; }));
    EXPECT_TRUE(silent(tl_.out(1), 0, 2000));
}

TEST_F(EnginePan, HardRightSilencesTheLeftAndLeavesTheRight) {
    play_with_pan(1.0F);
    EXPECT_TRUE(silent(tl_.out(0), 0, 2000));
    EXPECT_TRUE(frames_equal(tl_.out(1), 0, 2000, [&](auto k) { return right()[k]; }));
}

TEST_F(EnginePan, HalfRightScalesTheLeftByCosQuarterPi) {
    play_with_pan(0.5F);
    const double g = std::cos(std::numbers::pi / 4.0);
    EXPECT_TRUE(frames_equal(
        tl_.out(0), 0, 2000,
        [&](auto k) { return static_cast<float>(static_cast<double>(left()[k]) * g); }, 2e-7F));
    EXPECT_TRUE(frames_equal(tl_.out(1), 0, 2000, [&](auto k) { return right()[k]; }));
}

TEST(EnginePanRamp, APanChangeRampsWithBoundedSteps) {
    EngineHarness h(config());
    Timeline tl(h);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, h.make_dc(2, 4800, 0.5F));
    tl.send(0, CommandKind::set_mode, 0, mode(SlotMode::loop));
    tl.send(kStart, CommandKind::play, 0, 1.0F);
    const std::uint64_t change = kStart + 1000;
    tl.send(change, CommandKind::set_pan, 0, 1.0F);
    tl.run(3000);
    const auto& l = tl.out(0);
    EXPECT_TRUE(frames_equal(l, 0, 1000, [](auto) { return 0.5F; }));
    EXPECT_TRUE(frames_equal(tl.out(1), 0, 3000, [](auto) { return 0.5F; }));
    EXPECT_LE(max_step(l, 999, l.size()), ramp_step(0.5F, kSmoothFrames));
    for (std::size_t k = 1000; k < 1000 + kSmoothFrames; ++k)
        ASSERT_LT(l[k], l[k - 1]) << "the left side falls on every frame of the ramp, " << k;
    EXPECT_GT(l[1000 + kSmoothFrames * 9 / 10], 0.01F) << "the ramp is that long";
    EXPECT_LE(std::abs(l[1000 + kSmoothFrames]), 1e-6F);
}

// ---------------------------------------------------------------------------------------------
// Output pairs

TEST(EngineOutput, PairTwoReachesOnlyOutputsThreeAndFour) {
    EngineHarness h(config(4));
    Timeline tl(h);
    auto* mono = quantised_noise(h, 1, 1000, 31);
    auto* stereo = quantised_noise(h, 2, 1000, 32);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, mono);
    tl.send(0, CommandKind::assign_buffer, 1, 0.0F, stereo);
    tl.send(0, CommandKind::set_output, 0, 2.0F);
    tl.send(0, CommandKind::set_output, 1, 2.0F);
    tl.send(kStart, CommandKind::play, 0, 1.0F);
    tl.send(kStart + 2000, CommandKind::play, 1, 1.0F);
    tl.run(3200);
    EXPECT_TRUE(silent(tl.out(0), 0, 3200));
    EXPECT_TRUE(silent(tl.out(1), 0, 3200));
    for (std::uint32_t o = 2; o < 4; ++o)
        EXPECT_TRUE(frames_equal(tl.out(o), 0, 1000, [&](auto k) { return mono->channel(0)[k]; }))
            << "out_" << o + 1;
    EXPECT_TRUE(frames_equal(tl.out(2), 2000, 1000, [&](auto k) { return stereo->channel(0)[k]; }));
    EXPECT_TRUE(frames_equal(tl.out(3), 2000, 1000, [&](auto k) { return stereo->channel(1)[k]; }));
}

TEST(EngineOutput, PairZeroReachesEveryPairAndPairOneOnlyTheFirst) {
    EngineHarness h(config(4));
    Timeline tl(h);
    auto* stereo = quantised_noise(h, 2, 1000, 33);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, stereo);
    tl.send(0, CommandKind::assign_buffer, 1, 0.0F, stereo);
    tl.send(0, CommandKind::set_output, 0, 0.0F);
    tl.send(0, CommandKind::set_output, 1, 1.0F);
    tl.send(kStart, CommandKind::play, 0, 1.0F);
    tl.send(kStart + 2000, CommandKind::play, 1, 1.0F);
    tl.run(3200);
    for (std::uint32_t o = 0; o < 4; ++o)
        EXPECT_TRUE(
            frames_equal(tl.out(o), 0, 1000, [&](auto k) { return stereo->channel(o % 2)[k]; }))
            << "out_" << o + 1;
    for (std::uint32_t o = 0; o < 2; ++o)
        EXPECT_TRUE(
            frames_equal(tl.out(o), 2000, 1000, [&](auto k) { return stereo->channel(o)[k]; }))
            << "out_" << o + 1;
    EXPECT_TRUE(silent(tl.out(2), 2000, 1200));
    EXPECT_TRUE(silent(tl.out(3), 2000, 1200));
}

// ---------------------------------------------------------------------------------------------
// Fades

TEST(EngineFade, FadeInRisesFromZeroOverItsLength) {
    EngineHarness h(config());
    Timeline tl(h);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, h.make_dc(1, 4800, 0.5F));
    tl.send(0, CommandKind::set_fade_in, 0, 10.0F);  // 480 frames
    const std::uint64_t p = kStart + 200;
    tl.send(p, CommandKind::play, 0, 1.0F);
    tl.run(2000);
    const auto& x = tl.out(0);
    const std::size_t a = tl.at(p);
    EXPECT_EQ(x[a - 1], 0.0F);
    EXPECT_LE(x[a], 0.5F / 480.0F * 1.01F) << "the first frame is (almost) silent";
    for (std::size_t k = a + 1; k < a + 480; ++k) ASSERT_GT(x[k], x[k - 1]) << "frame " << k - a;
    EXPECT_LT(x[a + 478], 0.5F);
    EXPECT_EQ(x[a + 479], 0.5F) << "full level after 480 frames";
    EXPECT_LE(max_step(x, a - 1, a + 1500), ramp_step(0.5F, 480));
    EXPECT_TRUE(frames_equal(x, a + 479, 1000, [](auto) { return 0.5F; }));
}

TEST(EngineFade, WithoutFadeInTheFirstFramePlaysUnchanged) {
    EngineHarness h(config());
    Timeline tl(h);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, h.make_dc(1, 4800, 0.5F));
    tl.send(0, CommandKind::set_fade_in, 0, 10.0F);
    tl.send(0, CommandKind::set_fade_in, 0, 0.0F);
    tl.send(kStart + 200, CommandKind::play, 0, 1.0F);
    tl.run(1000);
    EXPECT_EQ(tl.sample(0, kStart + 200), 0.5F);
}

TEST(EngineFade, TheSlotsFadeOutSetsTheStopFade) {
    EngineHarness h(config());
    Timeline tl(h);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, h.make_dc(1, 48000, 0.5F));
    tl.send(0, CommandKind::assign_buffer, 1, 0.0F, h.make_dc(1, 48000, 0.5F));
    tl.send(0, CommandKind::set_fade_out, 0, 20.0F);  // 960 frames; slot 1 keeps 5 ms
    tl.send(kStart, CommandKind::play, 0, 1.0F);
    const std::uint64_t stop0 = kStart + 1000;
    tl.send(stop0, CommandKind::stop, 0);
    tl.run(3000);
    expect_fade(tl.out(0), tl.at(stop0), 960, ramp_step(0.5F, 960));
    tl.send(tl.now() + 100, CommandKind::play, 1, 1.0F);
    const std::uint64_t stop1 = tl.now() + 1100;
    tl.send(stop1, CommandKind::stop, 1);
    tl.run(3000);
    expect_fade(tl.out(0), tl.at(stop1), kFadeFrames, ramp_step(0.5F, kFadeFrames));
}

// ---------------------------------------------------------------------------------------------
// Loop seam crossfade

class EngineLoopXfade : public ::testing::Test {
  protected:
    // A 100 Hz sine, region 4800 .. 28978: the seam jumps by about 0.73 without a crossfade.
    static constexpr std::uint32_t kN = 48000;
    static constexpr std::uint32_t kBegin = 4800;
    static constexpr std::uint32_t kEnd = 28978;
    static constexpr std::uint32_t kLen = kEnd - kBegin;
    static constexpr std::uint32_t kX = 48;  // 1 ms

    std::vector<float> loop(float xfade_ms, bool reverse, std::uint32_t frames) {
        EngineHarness h(config());
        Timeline tl(h);
        buffer_ = h.make_sine(kN, 100.0);
        x_.assign(buffer_->channel(0), buffer_->channel(0) + kN);
        tl.send(0, CommandKind::assign_buffer, 0, 0.0F, buffer_);
        tl.send(0, CommandKind::set_mode, 0, mode(SlotMode::loop));
        tl.send(0, CommandKind::set_start, 0, static_cast<float>(kBegin) / kN);
        tl.send(0, CommandKind::set_end, 0, static_cast<float>(kEnd) / kN);
        tl.send(0, CommandKind::set_xfade, 0, xfade_ms);
        tl.send(0, CommandKind::set_reverse, 0, reverse ? 1.0F : 0.0F);
        tl.send(kStart, CommandKind::play, 0, 1.0F);
        tl.run(frames);
        return tl.out(0);
    }
    float signal_step() const {
        float m = 0.0F;
        for (std::uint32_t i = kBegin + 1; i < kEnd; ++i)
            m = std::max(m, std::abs(x_[i] - x_[i - 1]));
        return m;
    }
    // An equal-gain linear crossfade of X frames between signals of amplitude 1 adds at most
    // 2 / (X + 1) to a step.
    float bound() const { return signal_step() + 2.0F / (kX + 1) + kEps; }

    SampleBuffer* buffer_ = nullptr;
    std::vector<float> x_;
};

TEST_F(EngineLoopXfade, WithoutACrossfadeTheSeamJumps) {
    const auto out = loop(0.0F, false, 3 * kLen);
    EXPECT_GT(max_step(out, 0, out.size()), 0.5F) << "the region was meant to have a hard seam";
    EXPECT_TRUE(frames_equal(out, 0, 3 * kLen, [&](auto k) { return x_[kBegin + k % kLen]; }));
}

TEST_F(EngineLoopXfade, TheSeamIsSmoothAndEachPassAfterTheFirstIsShorter) {
    constexpr std::uint32_t period = kLen - kX;
    const auto out = loop(1.0F, false, kLen + 3 * period + 100);
    EXPECT_LE(max_step(out, 0, out.size()), bound());
    // The first pass plays the region unchanged up to its last X frames.
    EXPECT_TRUE(frames_equal(out, 0, kLen - kX, [&](auto k) { return x_[kBegin + k]; }));
    // From then on it repeats every (region - X) frames, bit for bit.
    EXPECT_TRUE(frames_equal(out, kLen - kX + period, 2 * period,
                             [&](auto k) { return out[kLen - kX + k]; }));
    // Each later pass starts X frames into the region (the crossfade already played them).
    EXPECT_TRUE(frames_equal(out, kLen, period - kX, [&](auto k) { return x_[kBegin + kX + k]; }));
}

TEST_F(EngineLoopXfade, AReverseLoopCrossfadesToo) {
    constexpr std::uint32_t period = kLen - kX;
    const auto out = loop(1.0F, true, kLen + 3 * period + 100);
    EXPECT_LE(max_step(out, 0, out.size()), bound());
    EXPECT_TRUE(frames_equal(out, 0, kLen - kX, [&](auto k) { return x_[kEnd - 1 - k]; }));
    EXPECT_TRUE(frames_equal(out, kLen - kX + period, 2 * period,
                             [&](auto k) { return out[kLen - kX + k]; }));
}

// ---------------------------------------------------------------------------------------------
// Beats: the region lasts that many beats at the clock's tempo

TEST(EngineBeats, ALoopOfBeatsFollowsTheTempo) {
    EngineHarness h(config());
    Timeline tl(h);
    // 48000 frames, three whole periods: a seamless loop.
    auto* b = h.make_buffer(1, 48000, [](std::uint32_t, std::uint32_t i) {
        return static_cast<float>(std::sin(2.0 * std::numbers::pi * 3.0 * i / 48000.0));
    });
    const float* x = b->channel(0);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, b);
    tl.send(0, CommandKind::set_mode, 0, mode(SlotMode::loop));
    tl.send(0, CommandKind::set_beats, 0, 4.0F);  // 4 beats at 120 BPM: 96000 frames, rate 0.5
    tl.send(kStart, CommandKind::play, 0, 1.0F);
    tl.run(2 * kBar + 1000);
    const auto& out = tl.out(0);
    std::vector<float> even(48000);
    for (std::size_t k = 0; k < even.size(); ++k) even[k] = out[2 * k];
    EXPECT_TRUE(frames_equal(even, 0, 48000, [&](auto k) { return x[k]; }));
    EXPECT_TRUE(frames_equal(out, kBar, kBar, [&](auto k) { return out[k]; }))
        << "the loop lasts a bar";

    // At 60 BPM the same four beats take twice as long.
    const std::uint64_t change = tl.now() + 17;
    tl.send(change, CommandKind::clock_tempo, 0, 60.0F);
    tl.run(2000 + 4 * kBar);
    const std::size_t settled = tl.at(change) + 1000;
    EXPECT_TRUE(frames_equal(
        out, settled + 2 * kBar, 2 * kBar, [&](auto k) { return out[settled + k]; }, 1e-5F))
        << "the loop lasts a slow bar";
    EXPECT_FALSE(frames_equal(
        out, settled + kBar, kBar, [&](auto k) { return out[settled + k]; }, 1e-3F))
        << "and no longer a fast one";
}

// At a rate other than 1 each frame is interpolated from four neighbours; at a loop's seam the
// neighbours past the region's end are the frames the next pass reads (the region's start), so a
// seamless loop stays seamless.
TEST(EngineBeats, ALoopAtAFractionalRateInterpolatesAcrossTheSeam) {
    EngineHarness h(config());
    Timeline tl(h);
    auto sine = [](double position) {
        return static_cast<float>(std::sin(2.0 * std::numbers::pi * 3.0 * position / 48000.0));
    };
    auto* b = h.make_buffer(1, 48000, [&](std::uint32_t, std::uint32_t i) { return sine(i); });
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, b);
    tl.send(0, CommandKind::set_mode, 0, mode(SlotMode::loop));
    tl.send(0, CommandKind::set_rate, 0, 0.5F);
    tl.send(kStart, CommandKind::play, 0, 1.0F);
    tl.run(2 * kBar + 1000);
    // The first frame's left neighbour does not exist yet: start at the second interval.
    EXPECT_TRUE(frames_equal(
        tl.out(0), 2, 2 * kBar - 2, [&](auto k) { return sine(0.5 * static_cast<double>(k + 2)); },
        1e-6F));
    EXPECT_LE(max_step(tl.out(0), 2, tl.out(0).size()),
              2.0F * std::numbers::pi_v<float> * 3.0F / 96000.0F * 1.02F);
}

// ---------------------------------------------------------------------------------------------
// No parameter change makes a step larger than its fade or smoothing allows.
//
// A looping slot plays a DC-ish signal (0.5 + 0.25 sin at 200 Hz, then 100 Hz: a cut steps by
// 0.25 or more).
// At `kChange` one parameter changes; the largest step from just before the change to the end
// must stay within the signal's own step (times the fastest rate in force) plus what a linear
// move of the affected gain over its ramp allows.

class EngineNoStep : public ::testing::Test {
  protected:
    static constexpr std::uint32_t kN = 48000;
    static constexpr std::uint64_t kPlay = kStart + 100;
    // 30120 frames in (100 Hz): the signal at its low point (0.25), far from the region edges
    // used below.
    static constexpr std::uint64_t kChange = kPlay + 30120;

    EngineNoStep() : h_(config()), tl_(h_) {
        buffer_ = dc_ish(h_, kN, kN / 2);
        step_ = source_step(*buffer_, true);
        tl_.send(0, CommandKind::assign_buffer, 0, 0.0F, buffer_);
        tl_.send(0, CommandKind::set_mode, 0, mode(SlotMode::loop));
        tl_.send(kPlay, CommandKind::play, 0, 1.0F);
    }
    // Renders to the change, sends it, renders `after` frames more; the largest step from the
    // frame before the change on.
    float change(CommandKind kind, float value, std::uint32_t after = 20000,
                 std::uint32_t slot = 0) {
        tl_.run_to(kChange - 1000);
        tl_.send(kChange, kind, slot, value);
        tl_.run(after + 1000);
        return max_step(tl_.out(0), tl_.at(kChange) - 1, tl_.out(0).size());
    }
    float gain_move(float amplitude, std::uint32_t frames) const {
        return step_ + ramp_step(amplitude, frames);
    }

    EngineHarness h_;
    Timeline tl_;
    SampleBuffer* buffer_ = nullptr;
    float step_ = 0.0F;  // the signal's largest step, seam included
};

TEST_F(EngineNoStep, Gain) {
    EXPECT_LE(change(CommandKind::set_gain, 0.25F), gain_move(0.75F * 0.75F, kSmoothFrames));
    EXPECT_NEAR(tl_.out(0).back(), 0.25F * tl_.out(0)[tl_.out(0).size() - 1 - 48000], 1e-6F)
        << "the gain reached its target";
}

TEST_F(EngineNoStep, Pan) {
    EXPECT_LE(change(CommandKind::set_pan, 1.0F), gain_move(0.75F, kSmoothFrames));
}

TEST_F(EngineNoStep, Rate) {
    EXPECT_LE(change(CommandKind::set_rate, 3.0F), step_ * 3.0F * 1.02F + kEps);
}

TEST_F(EngineNoStep, Pitch) {
    EXPECT_LE(change(CommandKind::set_pitch, -7.0F), step_ * 1.02F + kEps);
}

TEST_F(EngineNoStep, RegionEndMovedBeforeThePlayingPosition) {
    // Position 30120 when the end moves to 24000: the voice must not jump. It finishes its
    // pass, and loops in the new region from the seam on.
    EXPECT_LE(change(CommandKind::set_end, 0.5F, 70000), step_ * 1.02F + kEps);
    const float* x = buffer_->channel(0);
    EXPECT_TRUE(frames_equal(tl_.out(0), tl_.at(kPlay), kN, [&](auto k) { return x[k]; }));
    EXPECT_TRUE(frames_equal(tl_.out(0), tl_.at(kPlay + kN), 2 * 24000,
                             [&](auto k) { return x[k % 24000]; }));
}

TEST_F(EngineNoStep, RegionStartMovedAfterThePlayingPosition) {
    // Position 30120 when the start moves to 36000: the voice must not jump either.
    EXPECT_LE(change(CommandKind::set_start, 0.75F, 45000), step_ * 1.02F + kEps);
    const float* x = buffer_->channel(0);
    EXPECT_TRUE(frames_equal(tl_.out(0), tl_.at(kPlay), kN, [&](auto k) { return x[k]; }));
    EXPECT_TRUE(frames_equal(tl_.out(0), tl_.at(kPlay + kN), 2 * 12000,
                             [&](auto k) { return x[36000 + k % 12000]; }));
}

TEST_F(EngineNoStep, RegionChangesWhileThePositionIsInside) {
    tl_.run_to(kChange - 1000);
    tl_.send(kChange, CommandKind::set_start, 0, 0.25F);
    tl_.send(kChange, CommandKind::set_end, 0, 0.75F);
    tl_.run(60000);
    EXPECT_LE(max_step(tl_.out(0), tl_.at(kChange) - 1, tl_.out(0).size()), step_ * 1.02F + kEps);
    // From the next seam on it loops 12000 .. 36000: a period of 24000 frames.
    const std::size_t from = tl_.at(kChange) + 6000;
    EXPECT_TRUE(frames_equal(tl_.out(0), from + 24000, 24000,
                             [&](auto k) { return tl_.out(0)[from + k]; }));
}

TEST_F(EngineNoStep, ModeLoopToOneshotPlaysToTheRegionEnd) {
    const float biggest = change(CommandKind::set_mode, mode(SlotMode::oneshot), 20000);
    // It plays on to the end of the pass (48000 frames after the start), then ends; the sample
    // ends at 0.5 there, so the end itself is a cut of 0.5: check up to it.
    const std::size_t end = tl_.at(kPlay + kN);
    EXPECT_LE(max_step(tl_.out(0), tl_.at(kChange) - 1, end), step_ * 1.02F + kEps);
    EXPECT_TRUE(frames_equal(tl_.out(0), tl_.at(kPlay), kN,
                             [&](auto k) { return buffer_->channel(0)[k]; }));
    EXPECT_TRUE(silent(tl_.out(0), end, tl_.out(0).size() - end));
    EXPECT_LE(biggest, 0.5F + kEps);
}

TEST_F(EngineNoStep, ModeLoopToGateOrToggleChangesNothing) {
    change(CommandKind::set_mode, mode(SlotMode::gate), 60000);
    tl_.send(tl_.now() + 10, CommandKind::set_mode, 0, mode(SlotMode::toggle));
    tl_.run(60000);
    EXPECT_TRUE(frames_equal(tl_.out(0), tl_.at(kPlay), 140000,
                             [&](auto k) { return buffer_->channel(0)[k % kN]; }));
}

TEST_F(EngineNoStep, ReverseAppliesToTheNextVoiceOnly) {
    change(CommandKind::set_reverse, 1.0F, 60000);
    EXPECT_TRUE(frames_equal(tl_.out(0), tl_.at(kPlay), 80000,
                             [&](auto k) { return buffer_->channel(0)[k % kN]; }));
}

TEST_F(EngineNoStep, Stop) {
    EXPECT_LE(change(CommandKind::stop, 0.0F), gain_move(0.75F, kFadeFrames));
    EXPECT_LE(silent_from(tl_.out(0), tl_.at(kChange)), tl_.at(kChange) + kFadeFrames);
}

TEST_F(EngineNoStep, Choke) {
    tl_.send(0, CommandKind::set_choke, 0, 3.0F);
    tl_.send(0, CommandKind::set_choke, 1, 3.0F);
    tl_.send(0, CommandKind::assign_buffer, 1, 0.0F, h_.make_dc(1, 1000, 0.0F));
    EXPECT_LE(change(CommandKind::play, 1.0F, 20000, 1), gain_move(0.75F, kFadeFrames));
    EXPECT_LE(silent_from(tl_.out(0), tl_.at(kChange)), tl_.at(kChange) + kFadeFrames);
}

TEST_F(EngineNoStep, Beats) {
    // 48000 frames as 4 beats at 120 BPM: rate 0.5.
    EXPECT_LE(change(CommandKind::set_beats, 4.0F), step_ * 1.02F + kEps);
}

TEST_F(EngineNoStep, TempoOfATempoFollowingLoop) {
    tl_.send(0, CommandKind::set_beats, 0, 2.0F);  // rate 1 at 120 BPM
    EXPECT_LE(change(CommandKind::clock_tempo, 300.0F), step_ * 2.5F * 1.02F + kEps);
}

TEST_F(EngineNoStep, ReplacingTheSample) {
    const float biggest = [&] {
        tl_.run_to(kChange - 1000);
        tl_.send(kChange, CommandKind::assign_buffer, 0, 0.0F, h_.make_dc(1, kN, 0.0F));
        tl_.run(20000);
        return max_step(tl_.out(0), tl_.at(kChange) - 1, tl_.out(0).size());
    }();
    EXPECT_LE(biggest, gain_move(0.75F, kFadeFrames));
}

TEST_F(EngineNoStep, Unload) {
    EXPECT_LE(change(CommandKind::unload, 0.0F), gain_move(0.75F, kFadeFrames));
}

TEST_F(EngineNoStep, MasterGain) {
    EXPECT_LE(change(CommandKind::set_master_gain, 0.0F), gain_move(0.75F, kSmoothFrames));
}

// Time-stretching (docs/stretch.md): a slot in `stretch pitch` plays the rendering the stretch
// thread gives it (assign_stretched), whole, at the rate that makes it last its beats.

float stretch(StretchMode m) {
    return static_cast<float>(static_cast<std::uint8_t>(m));
}

// Slot 0 as the stretch thread leaves it: `source` loaded, looping, 4 beats, `stretch pitch`, and
// `rendering` (nullptr: none yet) given to it.
void stretched_slot(Timeline& tl, SampleBuffer* source, SampleBuffer* rendering) {
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, source);
    tl.send(0, CommandKind::set_mode, 0, mode(SlotMode::loop));
    tl.send(0, CommandKind::set_beats, 0, 4.0F);
    tl.send(0, CommandKind::set_stretch, 0, stretch(StretchMode::pitch));
    if (rendering) tl.send(0, CommandKind::assign_stretched, 0, 0.0F, rendering);
}

// A rising ramp, 0 at frame 0 up to almost 1 at the last: where a pass wraps, the output drops.
SampleBuffer* make_saw(EngineHarness& h, std::uint32_t frames) {
    return h.make_buffer(1, frames, [frames](std::uint32_t, std::uint32_t i) {
        return static_cast<float>(i) / static_cast<float>(frames);
    });
}

// Where each pass of a sawtooth in `out` begins, from `from` on: the frame, with a fraction,
// at which the output falls through 0.5 from a value above it (linear between the two frames).
std::vector<double> pass_starts(const std::vector<float>& out, std::size_t from) {
    std::vector<double> starts;
    for (std::size_t i = from + 1; i < out.size(); ++i) {
        if (!(out[i - 1] > 0.5F && out[i] <= 0.5F)) continue;
        const double t =
            static_cast<double>(out[i - 1] - 0.5F) / static_cast<double>(out[i - 1] - out[i]);
        starts.push_back(static_cast<double>(i - 1) + t);
        i += 1000;  // the interpolation's ripple around the drop is one pass start
    }
    return starts;
}

TEST(EngineStretch, ASlotPlaysItsRenderingWholeBitForBitWhenItFitsTheTempo) {
    EngineHarness h(config());
    Timeline tl(h);
    auto* source = h.make_noise(1, 48000, 3);  // 1 s: 4 beats would play it at rate 0.5
    auto* rendering = h.make_noise(1, 4 * kBeat, 4);
    stretched_slot(tl, source, rendering);
    tl.send(kStart + kBlock, CommandKind::play, 0, 1.0F);
    tl.run(2 * kBar + 2 * kBlock);
    const float* x = rendering->channel(0);
    EXPECT_TRUE(frames_equal(tl.out(0), kBlock, 2 * kBar, [&](std::size_t k) {
        return x[k % kBar];
    })) << "the rendering, whole, at rate 1, pass after pass";
}

// The issue's figure: a pass lasts exactly beats × 60 / BPM × the sample rate, with no drift
// over 100 passes, also where that length is not a whole number of frames (137 BPM: 84,087.59).
TEST(EngineStretch, APassLastsItsBeatsWithoutDriftOverAHundredPasses) {
    for (const double bpm : {90.0, 137.0, 160.0}) {
        EngineHarness h(config());
        Timeline tl(h);
        const double wanted = 4.0 * 60.0 / bpm * kRate;
        auto* source = h.make_noise(1, 4 * kBeat, 5);
        auto* rendering = make_saw(h, static_cast<std::uint32_t>(std::llround(wanted)));
        tl.send(0, CommandKind::clock_tempo, 0, static_cast<float>(bpm));
        stretched_slot(tl, source, rendering);
        const std::uint64_t play = kStart + kBlock;
        tl.send(play, CommandKind::play, 0, 1.0F);
        tl.run(static_cast<std::uint64_t>(101.5 * wanted) + 2 * kBlock);
        const auto starts = pass_starts(tl.out(0), tl.at(play) + 10);
        ASSERT_GE(starts.size(), 101U) << bpm;
        // The first pass ends a bar after the play (the crossing sits half a frame before the
        // frame where the ramp starts again); every later one exactly `wanted` after it.
        EXPECT_NEAR(starts[0], static_cast<double>(tl.at(play)) + wanted - 0.5, 1.0) << bpm;
        double worst = 0.0;
        for (std::size_t p = 1; p <= 100 && p < starts.size(); ++p)
            worst =
                std::max(worst, std::abs(starts[p] - starts[0] - static_cast<double>(p) * wanted));
        EXPECT_LE(worst, 0.5) << bpm << " BPM: a pass starts " << worst << " frames off its beats";
        std::printf("%.0f BPM: 100 passes of %.2f frames, drift at most %.3f frames\n", bpm, wanted,
                    worst);
    }
}

// A newer rendering takes over at the loop's next seam: the old one plays to its end, the new
// one crossfades in over the engine's fade, and no step shows; the old one is then retired.
TEST(EngineStretch, ANewRenderingTakesOverAtTheNextSeamWithoutAStep) {
    EngineHarness h(config());
    Timeline tl(h);
    auto sine = [](double amplitude) {
        return [amplitude](std::uint32_t, std::uint32_t i) {
            return static_cast<float>(amplitude *
                                      std::sin(2.0 * std::numbers::pi * 1000.0 * i / kRate));
        };
    };
    auto* source = h.make_noise(1, 48000, 6);
    auto* first = h.make_buffer(1, 4 * kBeat, sine(0.8));  // 2,000 whole cycles
    auto* second = h.make_buffer(1, 4 * kBeat, sine(0.4));
    // Copies: the harness poisons a buffer once the engine retires it.
    const std::vector<float> a(first->channel(0), first->channel(0) + 4 * kBeat);
    const std::vector<float> b(second->channel(0), second->channel(0) + 4 * kBeat);
    stretched_slot(tl, source, first);
    const std::uint64_t play = kStart + kBlock;
    tl.send(play, CommandKind::play, 0, 1.0F);
    tl.send(play + kBar / 3, CommandKind::assign_stretched, 0, 0.0F, second);
    tl.run(2 * kBar + 4 * kBlock);
    const auto& out = tl.out(0);
    const std::size_t seam = tl.at(play) + kBar;
    EXPECT_TRUE(frames_equal(out, tl.at(play), kBar, [&](std::size_t k) { return a[k]; }))
        << "the first pass plays the first rendering to its end";
    const std::size_t settled = seam + kRenderChunkFrames + kFadeFrames;
    EXPECT_TRUE(frames_equal(
        out, settled, kBar / 2, [&](std::size_t k) { return b[settled - seam + k]; }, 1e-6F))
        << "then the second, in its place";
    float steepest = 0.0F;
    for (std::size_t i = tl.at(play) + 1; i < out.size(); ++i)
        steepest = std::max(steepest, std::abs(out[i] - out[i - 1]));
    const float sine_step = 0.8F * 2.0F * std::numbers::pi_v<float> * 1000.0F / kRate;
    EXPECT_LE(steepest, sine_step * 1.01F) << "no step anywhere";
    bool retired = false;
    for (const auto& r : h.retirements()) retired = retired || r.buffer == first;
    EXPECT_TRUE(retired) << "the first rendering goes back once nothing plays it";
}

// While the stretch thread renders for a new tempo, the slot's rendering keeps time: played at
// its length over the new length (its pitch moves meanwhile, as `stretch rate` would).
TEST(EngineStretch, WhileARenderIsPendingThePreviousRenderingKeepsTime) {
    EngineHarness h(config());
    Timeline tl(h);
    auto* source = h.make_noise(1, 48000, 7);
    auto* rendering = make_saw(h, 4 * kBeat);  // 4 beats at 120
    stretched_slot(tl, source, rendering);
    tl.send(0, CommandKind::clock_tempo, 0, 90.0F);  // 4 beats: 128,000 frames
    const std::uint64_t play = kStart + kBlock;
    tl.send(play, CommandKind::play, 0, 1.0F);
    tl.run(3 * 128000 + 2 * kBlock);
    const auto starts = pass_starts(tl.out(0), tl.at(play) + 10);
    ASSERT_GE(starts.size(), 3U);
    for (std::size_t p = 0; p < 3; ++p)
        EXPECT_NEAR(starts[p], static_cast<double>(tl.at(play)) + (p + 1) * 128000.0, 1.0);
}

// Before its first rendering a slot in `stretch pitch` follows the tempo by its rate, exactly as
// `stretch rate` does; `stretch off` does not follow it at all.
TEST(EngineStretch, WithoutARenderingTheSlotFollowsByItsRateAndOffIgnoresTheTempo) {
    auto run = [](StretchMode m) {
        EngineHarness h(config());
        Timeline tl(h);
        auto* source = h.make_noise(1, 48000, 8);
        tl.send(0, CommandKind::assign_buffer, 0, 0.0F, source);
        tl.send(0, CommandKind::set_mode, 0, mode(SlotMode::loop));
        tl.send(0, CommandKind::set_beats, 0, 4.0F);
        tl.send(0, CommandKind::set_stretch, 0, stretch(m));
        tl.send(kStart + kBlock, CommandKind::play, 0, 1.0F);
        tl.run(kBar + 2 * kBlock);
        return std::make_pair(tl.out(0),
                              std::vector<float>(source->channel(0), source->channel(0) + 48000));
    };
    const auto [by_rate, x] = run(StretchMode::rate);
    const auto [pending, x2] = run(StretchMode::pitch);
    EXPECT_TRUE(
        frames_equal(pending, 0, by_rate.size(), [&](std::size_t k) { return by_rate[k]; }));
    const auto [off, x3] = run(StretchMode::off);
    EXPECT_TRUE(frames_equal(off, kBlock, 48000, [&](std::size_t k) { return x3[k]; }))
        << "stretch off plays the sample at its own rate";
}

// A rendering belongs to the sample it was made from: a new sample or an unload drops it, and
// one that arrives after the sample went is handed straight back.
TEST(EngineStretch, ARenderingGoesWithItsSample) {
    EngineHarness h(config());
    Timeline tl(h);
    auto* source = h.make_noise(1, 48000, 9);
    auto* rendering = h.make_noise(1, 4 * kBeat, 10);
    auto* other = h.make_noise(1, 48000, 11);
    auto* late = h.make_noise(1, 4 * kBeat, 12);
    stretched_slot(tl, source, rendering);
    tl.run(kBlock);
    tl.send(0, CommandKind::assign_buffer, 0, 0.0F, other);
    tl.run(kBlock);
    auto retired = [&h](const SampleBuffer* b) {
        for (const auto& r : h.retirements())
            if (r.buffer == b) return true;
        return false;
    };
    EXPECT_TRUE(retired(rendering)) << "a new sample drops the old one's rendering";
    tl.send(0, CommandKind::unload, 0);
    tl.send(0, CommandKind::assign_stretched, 0, 0.0F, late);
    tl.run(kBlock);
    EXPECT_TRUE(retired(late)) << "a rendering for a slot that holds no sample goes back";
}

// Leaving `stretch pitch` for `rate`: the voice on the rendering moves back to the sample at its
// seam, with the same crossfade, and the rendering is retired.
TEST(EngineStretch, AnotherModeMovesBackToTheSampleAtTheSeam) {
    EngineHarness h(config());
    Timeline tl(h);
    auto* source = h.make_dc(1, 4 * kBeat, 0.25F);
    auto* rendering = h.make_dc(1, 4 * kBeat, 0.5F);
    stretched_slot(tl, source, rendering);
    const std::uint64_t play = kStart + kBlock;
    tl.send(play, CommandKind::play, 0, 1.0F);
    tl.send(play + 1000, CommandKind::set_stretch, 0, stretch(StretchMode::rate));
    tl.run(kBar + 2000);
    const auto& out = tl.out(0);
    EXPECT_EQ(out[tl.at(play) + kBar - 10], 0.5F) << "the rendering plays out its pass";
    EXPECT_EQ(out[tl.at(play) + kBar + kRenderChunkFrames + kFadeFrames + 10], 0.25F)
        << "then the sample";
    bool retired = false;
    for (const auto& r : h.retirements()) retired = retired || r.buffer == rendering;
    EXPECT_TRUE(retired);
}

}  // namespace
