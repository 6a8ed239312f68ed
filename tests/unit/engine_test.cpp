// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
//
// Engine behaviour, rendered block by block with no audio server. Every process() call runs
// inside the audio-thread guard (see engine_harness.hpp), so each test here also proves that
// the path it exercises neither allocates, frees, locks nor makes a syscall.

#include <gtest/gtest.h>
#include <malloc.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <set>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "engine_harness.hpp"
#include "looperd/command.hpp"
#include "looperd/engine.hpp"
#include "looperd/event.hpp"
#include "looperd/limits.hpp"
#include "looperd/region.hpp"
#include "looperd/sample_buffer.hpp"

// Commands and events are values copied through wait-free rings.
static_assert(std::is_trivially_copyable_v<looperd::Command>);
static_assert(std::is_trivially_copyable_v<looperd::Event>);
static_assert(sizeof(looperd::Command) <= 32);
static_assert(sizeof(looperd::Event) <= 32);
static_assert(std::is_same_v<std::underlying_type_t<looperd::CommandKind>, std::uint8_t>);
static_assert(std::is_same_v<std::underlying_type_t<looperd::EventKind>, std::uint8_t>);

// Under a sanitizer, its allocator replaces glibc's: ask it for the bytes in use instead.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define LOOPERD_SANITIZER_HEAP 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define LOOPERD_SANITIZER_HEAP 1
#endif
#endif

#if defined(LOOPERD_SANITIZER_HEAP)
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();  // the sanitizer's allocator
#endif

namespace {

using looperd::CommandKind;
using looperd::EngineConfig;
using looperd::EventKind;
using looperd::SampleBuffer;
using looperd::test::EngineHarness;
using looperd::test::max_step;
using looperd::test::Planar;
using looperd::test::silent_from;

constexpr std::uint32_t kFadeFrames = 240;    // default 5 ms at 48 kHz
constexpr std::uint32_t kSmoothFrames = 480;  // default 10 ms at 48 kHz
constexpr float kEps = 1e-6F;

EngineConfig config(std::uint32_t outputs = 2, std::uint32_t voices = 16,
                    std::uint32_t slots = 16) {
    EngineConfig c;
    c.outputs = outputs;
    c.voices = voices;
    c.slots = slots;
    c.sample_rate = 48000;
    return c;
}

std::vector<float> concat(const std::vector<float>& a, const std::vector<float>& b) {
    std::vector<float> x(a);
    x.insert(x.end(), b.begin(), b.end());
    return x;
}

// Noise quantised to multiples of 2^-10 and small: sums of a handful are exact in float in any
// order, so mixes can be compared bit for bit without depending on the voice pool's order.
SampleBuffer* make_quantised_noise(EngineHarness& h, std::uint32_t channels, std::uint32_t frames,
                                   std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> k(10, 200);
    std::bernoulli_distribution neg(0.5);
    return h.make_buffer(channels, frames, [&](std::uint32_t, std::uint32_t) {
        const float v = static_cast<float>(k(rng)) / 1024.0F;
        return neg(rng) ? -v : v;
    });
}

// Largest step a linear move by `amplitude` over `frames` frames may take. The slack covers
// float rounding accumulated along the ramp; a jump would exceed it a hundredfold.
float step_bound(float amplitude, std::uint32_t frames) {
    return amplitude / static_cast<float>(frames) * 1.02F + kEps;
}

// The fade after a command at x[at]: no step larger than a linear fade of `amplitude` over
// `fade` frames allows (a cut would step by the full amplitude), exact silence within `fade`
// frames, and not much sooner (the fade really is `fade` frames long).
void expect_clean_fade(const std::vector<float>& x, std::size_t at, float amplitude,
                       std::uint32_t fade) {
    ASSERT_GT(at, 0U);
    EXPECT_LE(max_step(x, at - 1, x.size()), step_bound(amplitude, fade));
    const std::size_t silent = silent_from(x, at);
    EXPECT_LE(silent, at + fade) << "not silent within the fade";
    EXPECT_GE(silent, at + fade * 9 / 10) << "fade shorter than configured";
}

// Bytes the allocator has handed out and not had back: glibc's count, or ASan's in an ASan
// build (whose allocator glibc's mallinfo2 does not see).
#if defined(LOOPERD_SANITIZER_HEAP)
std::size_t heap_in_use() {
    return __sanitizer_get_current_allocated_bytes();
}
#else
std::size_t heap_in_use() {
    const struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}
#endif

// ---------------------------------------------------------------------------------------
// Mixing

TEST(Engine, OneShotAtUnityGainIsBitExactThenSilent) {
    EngineHarness h(config());
    SampleBuffer* b = h.make_noise(2, 1000, 1);
    h.assign(0, b);
    h.play(0);
    const Planar out = h.capture(1280);

    for (std::uint32_t c = 0; c < 2; ++c) {
        EXPECT_EQ(0, std::memcmp(out[c].data(), b->channel(c), 1000 * sizeof(float)))
            << "channel " << c;
        for (std::size_t k = 1000; k < 1280; ++k) ASSERT_EQ(out[c][k], 0.0F) << "frame " << k;
    }
    EXPECT_EQ(h.engine().active_voices(), 0U);
    EXPECT_EQ(h.engine().frames_processed(), 1280U);
    EXPECT_EQ(h.count(EventKind::voice_ended, 0), 1U);
    EXPECT_TRUE(h.live(b)) << "the slot still holds the buffer: it must not be retired";
}

TEST(Engine, TwoVoicesOfTwoSlotsSumExactly) {
    EngineHarness h(config());
    SampleBuffer* a = h.make_noise(2, 700, 2);
    SampleBuffer* b = h.make_noise(2, 900, 3);
    h.assign(0, a);
    h.assign(1, b);
    h.play(0);
    h.play(1);
    const Planar out = h.capture(1024);

    for (std::uint32_t c = 0; c < 2; ++c)
        for (std::uint32_t k = 0; k < 1024; ++k) {
            float expected = 0.0F;
            if (k < 700) expected += a->channel(c)[k];
            if (k < 900) expected += b->channel(c)[k];
            ASSERT_EQ(out[c][k], expected) << "channel " << c << " frame " << k;
        }
    EXPECT_EQ(h.count(EventKind::voice_ended), 2U);
}

TEST(Engine, LoopWrapsAtRegionEndWithoutClick) {
    // Block sizes that put the wrap at every offset, plus blocks larger than a render chunk.
    for (const std::uint32_t block : {128U, 1U, 37U, 300U, 1000U}) {
        SCOPED_TRACE(testing::Message() << "block " << block);
        static_assert(1000 > looperd::limits::kRenderChunkFrames);
        EngineHarness h(config());
        SampleBuffer* s = h.make_noise(2, 100, 4);
        h.assign(0, s);
        h.set_loop(0, true);
        h.play(0);
        const Planar out = h.capture(3000, block);
        for (std::uint32_t c = 0; c < 2; ++c)
            for (std::uint32_t k = 0; k < 3000; ++k)
                ASSERT_EQ(out[c][k], s->channel(c)[k % 100]) << "channel " << c << " frame " << k;
        EXPECT_EQ(h.engine().active_voices(), 1U);
        EXPECT_EQ(h.count(EventKind::voice_ended), 0U);
    }
}

TEST(Engine, StartPlaysFirstFrameUnchanged) {
    EngineHarness h(config());
    SampleBuffer* s = h.make_buffer(1, 500, [](std::uint32_t, std::uint32_t i) {
        return i == 0 ? 0.9F : 0.5F;  // a sharp attack: any fade-in would lower frame 0
    });
    h.assign(0, s);
    h.capture(3 * 128 + 37);  // the start lands mid-stream, not at engine frame 0
    h.play(0);
    h.render(128);
    EXPECT_EQ(h.out(0)[0], 0.9F);
    EXPECT_EQ(h.out(1)[0], 0.9F);
    for (std::uint32_t k = 1; k < 128; ++k) ASSERT_EQ(h.out(0)[k], 0.5F) << "frame " << k;

    // A start after a stopped voice has faded out is a fresh attack too.
    h.stop(0);
    ASSERT_TRUE(h.render_until_silent(128, 10 * 128));
    h.play(0);
    h.render(64);
    EXPECT_EQ(h.out(0)[0], 0.9F);
    EXPECT_EQ(h.out(0)[1], 0.5F);
}

// ---------------------------------------------------------------------------------------
// Fades

TEST(Engine, StopFadesOutWithBoundedStepsToExactZero) {
    EngineHarness h(config());
    h.assign(0, h.make_dc(1, 1000, 0.8F));
    h.set_loop(0, true);
    h.play(0);
    const Planar before = h.capture(384);
    ASSERT_EQ(before[0].back(), 0.8F);

    h.stop(0);
    h.render(128);
    EXPECT_EQ(h.engine().active_voices(), 1U) << "cut before the fade finished";
    std::vector<float> fade(h.out(0), h.out(0) + 128);
    h.render(128);  // 256 >= 240 fade frames: the voice has ended in this block
    EXPECT_EQ(h.engine().active_voices(), 0U);
    fade.insert(fade.end(), h.out(0), h.out(0) + 128);
    const Planar after = h.capture(256);

    const std::vector<float> x = concat(concat(before[0], fade), after[0]);
    expect_clean_fade(x, 384, 0.8F, kFadeFrames);
    EXPECT_EQ(h.count(EventKind::voice_ended, 0), 1U);
}

TEST(Engine, RetriggerFadesOldVoiceUnderNewStartFromFrameZero) {
    EngineHarness h(config());
    // 1 kHz at 48 kHz: 48 frames a period, 100 periods, so the loop is seamless.
    SampleBuffer* sine = h.make_sine(4800, 1000.0);
    const std::vector<float> s(sine->channel(0), sine->channel(0) + 4800);
    float sine_step = std::abs(s[0] - s[4799]);
    for (std::size_t k = 1; k < s.size(); ++k)
        sine_step = std::max(sine_step, std::abs(s[k] - s[k - 1]));

    h.assign(0, sine);
    h.set_loop(0, true);
    h.play(0);
    // 12 + 384 = 396 = 8 * 48 + 12: the old voice is at its peak when the retrigger lands,
    // where cutting it would jump by ~1.
    const Planar a = h.capture(12, 12);
    const Planar b = h.capture(384);
    const std::size_t at = 396;
    ASSERT_GT(b[0].back(), 0.99F);

    h.play(0);
    h.render(128);
    EXPECT_EQ(h.engine().active_voices(), 2U) << "old voice cut instead of faded";
    std::vector<float> tail(h.out(0), h.out(0) + 128);
    const Planar c = h.capture(1024);
    EXPECT_EQ(h.engine().active_voices(), 1U);
    const std::vector<float> x = concat(concat(concat(a[0], b[0]), tail), c[0]);

    // The old voice still sounds at the retrigger (it is at its peak, the new one at 0)...
    EXPECT_GT(x[at], 0.9F);
    // ...and the sum of two voices never steps more than each one's own step, plus the fade's.
    EXPECT_LE(max_step(x, at - 1, x.size()), 2.0F * sine_step + step_bound(1.0F, kFadeFrames));
    // Once the fade is over only the new voice remains, playing from its frame 0, bit-exact.
    for (std::size_t k = at + kFadeFrames; k < x.size(); ++k)
        ASSERT_EQ(x[k], s[(k - at) % 4800]) << "frame " << k;
    EXPECT_EQ(h.count(EventKind::voice_ended, 0), 1U);
}

TEST(Engine, UnloadWhilePlayingFadesOutThenRetiresTheBuffer) {
    EngineHarness h(config());
    SampleBuffer* b = h.make_dc(2, 1000, 0.8F);
    h.assign(0, b);
    h.set_loop(0, true);
    h.play(0);
    const Planar before = h.capture(256);
    const std::uint64_t unload_at = h.engine().frames_processed();

    h.unload(0);
    std::vector<float> x = before[1];
    for (int block = 0; block < 8; ++block) {
        h.render(128);
        x.insert(x.end(), h.out(1), h.out(1) + 128);
        if (h.live(b)) {
            ASSERT_GT(h.engine().active_voices(), 0U) << "voice ended but buffer not retired";
        }
    }
    expect_clean_fade(x, 256, 0.8F, kFadeFrames);

    // Retired exactly once, after the fade, when no voice was left to read it.
    ASSERT_EQ(h.times_retired(b), 1U);
    const auto r = h.retirement_of(b);
    EXPECT_GE(r.frame_clock, unload_at + kFadeFrames);
    EXPECT_EQ(r.active_voices, 0U);
    EXPECT_EQ(h.count(EventKind::voice_ended, 0), 1U);

    // The slot is empty now: play does nothing (and nothing reads the poisoned buffer).
    h.play(0);
    const Planar after = h.capture(512);
    EXPECT_EQ(h.engine().active_voices(), 0U);
    for (std::uint32_t c = 0; c < 2; ++c)
        for (float v : after[c]) ASSERT_EQ(v, 0.0F);
}

TEST(Engine, ReplaceWhilePlayingFadesOldBufferAndNewOnePlays) {
    EngineHarness h(config());
    SampleBuffer* old_buffer = h.make_dc(2, 1000, 0.8F);
    SampleBuffer* new_buffer = h.make_noise(2, 500, 5);
    h.assign(0, old_buffer);
    h.set_loop(0, true);
    h.play(0);
    const Planar before = h.capture(256);
    const std::uint64_t replace_at = h.engine().frames_processed();

    h.assign(0, new_buffer);
    const Planar fade = h.capture(512);
    expect_clean_fade(concat(before[0], fade[0]), 256, 0.8F, kFadeFrames);
    EXPECT_EQ(h.engine().active_voices(), 0U) << "assign starts nothing by itself";

    ASSERT_EQ(h.times_retired(old_buffer), 1U);
    EXPECT_GE(h.retirement_of(old_buffer).frame_clock, replace_at + kFadeFrames);
    EXPECT_EQ(h.retirement_of(old_buffer).active_voices, 0U);
    EXPECT_TRUE(h.live(new_buffer));

    h.play(0);
    const Planar out = h.capture(1100, 100);
    for (std::uint32_t c = 0; c < 2; ++c)
        for (std::uint32_t k = 0; k < 1100; ++k)
            ASSERT_EQ(out[c][k], new_buffer->channel(c)[k % 500])
                << "channel " << c << " frame " << k;
    EXPECT_EQ(h.times_retired(new_buffer), 0U);
}

TEST(Engine, StopAllFadesEveryVoice) {
    EngineHarness h(config());
    const float levels[] = {0.2F, 0.3F, 0.25F};
    for (std::uint32_t i = 0; i < 3; ++i) {
        h.assign(i, h.make_dc(1, 1000, levels[i]));
        h.set_loop(i, true);
        h.play(i);
    }
    const Planar before = h.capture(256);
    ASSERT_EQ(h.engine().active_voices(), 3U);
    ASSERT_NEAR(before[0].back(), 0.75F, kEps);

    h.stop_all();
    h.render(128);
    EXPECT_EQ(h.engine().active_voices(), 3U);
    std::vector<float> x = concat(before[0], std::vector<float>(h.out(0), h.out(0) + 128));
    x = concat(x, h.capture(384)[0]);
    expect_clean_fade(x, 256, 0.75F, kFadeFrames);
    EXPECT_EQ(h.engine().active_voices(), 0U);
    for (std::uint32_t i = 0; i < 3; ++i) EXPECT_EQ(h.count(EventKind::voice_ended, i), 1U);
}

TEST(Engine, FadesFollowASampleRateChange) {
    EngineHarness h(config());
    h.assign(0, h.make_dc(1, 1000, 0.8F));
    h.set_loop(0, true);
    h.play(0);
    const Planar before = h.capture(256);
    h.engine().set_sample_rate(96000);  // 5 ms is now 480 frames
    h.stop(0);
    const Planar after = h.capture(1024);
    expect_clean_fade(concat(before[0], after[0]), 256, 0.8F, 2 * kFadeFrames);
}

// ---------------------------------------------------------------------------------------
// Gain

// A ramp from x[at - 1] to `target`: monotonic, bounded steps, lands exactly on `target`
// after about `frames` frames and stays there.
void expect_ramp(const std::vector<float>& x, std::size_t at, float target, std::uint32_t frames) {
    const float from = x[at - 1];
    const bool down = target < from;
    for (std::size_t k = at; k < x.size(); ++k) {
        if (down) {
            ASSERT_LE(x[k], x[k - 1]) << "not monotonic at frame " << k;
        } else {
            ASSERT_GE(x[k], x[k - 1]) << "not monotonic at frame " << k;
        }
    }
    EXPECT_LE(max_step(x, at - 1, x.size()), step_bound(std::abs(target - from), frames));
    std::size_t landed = x.size();
    while (landed > at && x[landed - 1] == target) --landed;
    ASSERT_LT(landed, x.size()) << "never landed exactly on " << target;
    EXPECT_GE(landed - at, frames * 8 / 10);
    EXPECT_LE(landed - at, frames * 12 / 10);
}

TEST(Engine, SlotGainRampsMonotonicallyAndLandsExactly) {
    EngineHarness h(config());
    h.assign(0, h.make_dc(1, 1000, 0.8F));
    h.set_loop(0, true);
    h.play(0);
    const Planar before = h.capture(256);
    h.set_gain(0, 0.25F);
    const Planar after = h.capture(1024);
    expect_ramp(concat(before[0], after[0]), 256, 0.8F * 0.25F, kSmoothFrames);
    EXPECT_EQ(after[1].back(), 0.8F * 0.25F);
}

TEST(Engine, MasterGainRampsMonotonicallyAndLandsExactly) {
    EngineHarness h(config());
    h.assign(0, h.make_dc(1, 1000, 0.8F));
    h.set_loop(0, true);
    h.play(0);
    const Planar before = h.capture(256);
    h.set_master_gain(0.25F);
    const Planar down = h.capture(1024);
    const std::vector<float> x = concat(before[0], down[0]);
    expect_ramp(x, 256, 0.8F * 0.25F, kSmoothFrames);

    // Back to unity: bit-exact again.
    h.set_master_gain(1.0F);
    const Planar up = h.capture(1024);
    expect_ramp(concat(x, up[0]), x.size(), 0.8F, kSmoothFrames);
}

TEST(Engine, GainToZeroAndBackIsSmoothAndKeepsTheVoice) {
    EngineHarness h(config());
    h.assign(0, h.make_dc(1, 1000, 0.8F));
    h.set_loop(0, true);
    h.play(0);
    const Planar before = h.capture(256);
    h.set_gain(0, 0.0F);
    std::vector<float> x = concat(before[0], h.capture(1024)[0]);
    expect_ramp(x, 256, 0.0F, kSmoothFrames);
    EXPECT_EQ(h.engine().active_voices(), 1U) << "a muted voice keeps playing";
    EXPECT_EQ(h.count(EventKind::voice_ended), 0U);

    const std::size_t at = x.size();
    h.set_gain(0, 1.0F);
    x = concat(x, h.capture(1024)[0]);
    expect_ramp(x, at, 0.8F, kSmoothFrames);
}

TEST(Engine, GainSetBeforeAStartAppliesAtOnce) {
    EngineHarness h(config());
    SampleBuffer* s = h.make_noise(2, 600, 6);
    h.assign(0, s);
    h.set_gain(0, 0.5F);
    h.render(128);
    h.play(0);
    const Planar out = h.capture(640);
    for (std::uint32_t c = 0; c < 2; ++c)
        for (std::uint32_t k = 0; k < 600; ++k)
            ASSERT_EQ(out[c][k], s->channel(c)[k] * 0.5F) << "channel " << c << " frame " << k;
}

// ---------------------------------------------------------------------------------------
// Buffer lifetime

TEST(Engine, NoBufferRetiredWhileAVoiceReadsIt) {
    EngineHarness h(config());
    SampleBuffer* a = h.make_dc(1, 1000, 0.5F);
    SampleBuffer* b = h.make_dc(1, 1000, 0.25F);
    h.assign(0, a);
    h.set_loop(0, true);
    h.play(0);
    h.capture(128);
    // Two voices read `a`: one fading (retriggered), one playing. Then the slot moves on.
    h.play(0);
    h.render(64);
    ASSERT_EQ(h.engine().active_voices(), 2U);
    const std::uint64_t replace_at = h.engine().frames_processed();
    h.assign(0, b);
    for (int block = 0; block < 16; ++block) {
        h.render(32);
        for (std::uint32_t k = 0; k < 32; ++k)
            ASSERT_LT(std::abs(h.out(0)[k]), 2.0F) << "read a freed buffer";
        if (h.engine().active_voices() > 0) {
            ASSERT_TRUE(h.live(a)) << "retired while a voice still reads it";
        }
    }
    ASSERT_EQ(h.times_retired(a), 1U);
    EXPECT_GE(h.retirement_of(a).frame_clock, replace_at + kFadeFrames);
    EXPECT_EQ(h.times_retired(b), 0U);

    h.unload(0);
    h.capture(128);
    EXPECT_EQ(h.times_retired(b), 1U) << "an idle slot's buffer retires at once";
    h.unload(0);  // unload of an empty slot
    h.capture(128);
    EXPECT_EQ(h.retirements().size(), 2U);
}

TEST(Engine, UnloadOfAnEmptySlotIsHarmless) {
    EngineHarness h(config());
    SampleBuffer* s = h.make_noise(2, 1000, 7);
    h.assign(0, s);
    h.play(0);
    h.unload(3);
    h.unload(3);
    const Planar out = h.capture(512);
    for (std::uint32_t c = 0; c < 2; ++c)
        EXPECT_EQ(0, std::memcmp(out[c].data(), s->channel(c), 512 * sizeof(float)));
    EXPECT_TRUE(h.events().empty());
    EXPECT_EQ(h.engine().active_voices(), 1U);
}

TEST(Engine, PlayOfAnEmptySlotDoesNothing) {
    EngineHarness h(config());
    SampleBuffer* s = h.make_noise(2, 1000, 8);
    h.assign(0, s);
    h.play(0);
    h.play(5);
    const Planar out = h.capture(512);
    for (std::uint32_t c = 0; c < 2; ++c)
        EXPECT_EQ(0, std::memcmp(out[c].data(), s->channel(c), 512 * sizeof(float)));
    EXPECT_EQ(h.engine().active_voices(), 1U);
    EXPECT_EQ(h.engine().refused_voices(), 0U);
    EXPECT_TRUE(h.events().empty());
}

// A long random sequence of loads, replaces, unloads, starts, retriggers and stops: every
// buffer is retired exactly once, and never read after (its poison would reach the output).
TEST(Engine, RandomCommandsRetireEveryBufferOnceAndNeverReadARetiredOne) {
    EngineHarness h(config(2, 6, 4));
    std::mt19937 rng(42);
    std::uniform_int_distribution<int> op(0, 9);
    std::uniform_int_distribution<std::uint32_t> slot(0, 3);
    std::uniform_int_distribution<std::uint32_t> length(20, 400);
    std::size_t made = 0;
    for (int block = 0; block < 3000; ++block) {
        switch (op(rng)) {
            case 0:
            case 1: {
                SampleBuffer* b = h.make_dc(1 + slot(rng) % 2, length(rng), 0.1F);
                if (h.assign(slot(rng), b)) {
                    ++made;
                } else {
                    ADD_FAILURE() << "ring full";
                    delete b;
                }
                break;
            }
            case 2:
                h.unload(slot(rng));
                break;
            case 3:
            case 4:
            case 5:
                h.play(slot(rng));
                break;
            case 6:
                h.stop(slot(rng));
                break;
            case 7:
                h.set_loop(slot(rng), op(rng) < 5);
                break;
            case 8:
                if (op(rng) == 0) h.stop_all();
                break;
            default:
                break;
        }
        h.render(64);
        for (std::uint32_t c = 0; c < 2; ++c)
            for (std::uint32_t k = 0; k < 64; ++k)
                ASSERT_LT(std::abs(h.out(c)[k]), 10.0F)
                    << "block " << block << ": read a retired buffer";
    }
    for (std::uint32_t i = 0; i < 4; ++i) h.unload(i);
    ASSERT_TRUE(h.render_until_silent(64, 100 * 64));
    h.render(64);
    EXPECT_GT(made, 100U);
    EXPECT_EQ(h.retirements().size(), made);
    EXPECT_EQ(h.live_count(), 0U) << "a buffer was never retired";
    for (const auto& r : h.retirements()) EXPECT_EQ(h.times_retired(r.buffer), 1U);
}

TEST(Engine, DestructorFreesBuffersItStillHolds) {
    constexpr std::uint32_t kFrames = 1 << 20;  // 8 MiB a stereo buffer
    constexpr std::size_t kBytes = std::size_t{2} * kFrames * sizeof(float);
    const std::size_t baseline = heap_in_use();
    {
        auto engine = std::make_unique<looperd::Engine>(config());
        std::vector<float> l(128), r(128);
        float* outs[] = {l.data(), r.data()};
        const auto process = [&] {
            looperd::rt_guard::Scope audio_thread;
            engine->process(outs, 128);
        };
        auto make = [] { return new SampleBuffer(2, kFrames, 48000); };
        // Held by a slot.
        engine->try_send({CommandKind::assign_buffer, 0, 0.0F, 0, make()});
        // Held only by a fading voice: its slot let it go.
        engine->try_send({CommandKind::assign_buffer, 1, 0.0F, 0, make()});
        engine->try_send({CommandKind::play, 1, 1.0F, 0, nullptr});
        process();
        engine->try_send({CommandKind::unload, 1, 0.0F, 0, nullptr});
        // Retired, its event never popped.
        engine->try_send({CommandKind::assign_buffer, 2, 0.0F, 0, make()});
        engine->try_send({CommandKind::unload, 2, 0.0F, 0, nullptr});
        process();
        EXPECT_EQ(engine->active_voices(), 1U);
        // Still in the command ring.
        engine->try_send({CommandKind::assign_buffer, 3, 0.0F, 0, make()});
        EXPECT_GE(heap_in_use(), baseline + 4 * kBytes);
        engine.reset();
    }
    EXPECT_LE(heap_in_use(), baseline + kBytes / 8) << "the engine leaked buffers it held";
}

// ---------------------------------------------------------------------------------------
// Capacity

TEST(Engine, VoicePoolExhaustionRefusesTheNewStartAndCutsNothing) {
    EngineHarness h(config(2, 4, 8));
    std::vector<SampleBuffer*> s;
    for (std::uint32_t i = 0; i < 5; ++i) {
        s.push_back(make_quantised_noise(h, 2, i == 0 ? 300 : 1000, 10 + i));
        h.assign(i, s[i]);
        if (i != 0) h.set_loop(i, true);
    }
    for (std::uint32_t i = 0; i < 5; ++i) h.play(i);  // the fifth finds no voice
    const Planar out = h.capture(512);

    EXPECT_EQ(h.engine().refused_voices(), 1U);
    EXPECT_EQ(h.count(EventKind::voice_refused), 1U);
    EXPECT_EQ(h.count(EventKind::voice_refused, 4), 1U);
    for (std::uint32_t c = 0; c < 2; ++c)
        for (std::uint32_t k = 0; k < 512; ++k) {
            float expected = 0.0F;
            for (std::uint32_t i = 0; i < 4; ++i)
                if (i != 0 || k < 300) expected += s[i]->channel(c)[k];
            ASSERT_EQ(out[c][k], expected) << "channel " << c << " frame " << k;
        }
    EXPECT_EQ(h.count(EventKind::voice_ended, 0), 1U);
    EXPECT_EQ(h.engine().active_voices(), 3U);

    // A voice is free again: the start works now.
    h.play(4);
    const Planar later = h.capture(256);
    EXPECT_EQ(h.engine().active_voices(), 4U);
    EXPECT_EQ(h.engine().refused_voices(), 1U);
    for (std::uint32_t c = 0; c < 2; ++c)
        for (std::uint32_t k = 0; k < 256; ++k) {
            const float expected = s[1]->channel(c)[512 + k] + s[2]->channel(c)[512 + k] +
                                   s[3]->channel(c)[512 + k] + s[4]->channel(c)[k];
            ASSERT_EQ(later[c][k], expected) << "channel " << c << " frame " << k;
        }
}

TEST(Engine, FullCommandRingCountsDropsAndRecovers) {
    EngineConfig c = config();
    c.command_capacity = 16;
    EngineHarness h(c);
    std::size_t accepted = 0;
    std::size_t refused = 0;
    for (int i = 0; i < 1000 && refused < 5; ++i) {
        if (h.set_loop(0, true)) {
            ++accepted;
        } else {
            ++refused;
        }
    }
    EXPECT_EQ(refused, 5U);
    EXPECT_GE(accepted, 16U);
    EXPECT_LE(accepted, 2U * 16U + 2U);
    EXPECT_EQ(h.engine().dropped_commands(), refused);

    h.render(128);  // drains the ring
    SampleBuffer* s = h.make_noise(2, 256, 9);
    ASSERT_TRUE(h.assign(0, s));
    ASSERT_TRUE(h.play(0));
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(h.set_gain(1, 1.0F));
    const Planar out = h.capture(256);
    for (std::uint32_t ch = 0; ch < 2; ++ch)
        EXPECT_EQ(0, std::memcmp(out[ch].data(), s->channel(ch), 256 * sizeof(float)));
    EXPECT_EQ(h.engine().dropped_commands(), refused);
}

TEST(Engine, BadSlotIndexIsReportedAndIgnored) {
    EngineHarness h(config(2, 16, 8));
    SampleBuffer* s = h.make_noise(2, 1000, 11);
    h.assign(0, s);
    h.set_loop(0, true);
    h.play(0);
    h.render(100);
    h.clear_events();

    for (const std::uint32_t bad : {8U, 0xFFFFFFFFU}) {
        h.send(CommandKind::assign_buffer, bad);  // no buffer
        h.send(CommandKind::unload, bad);
        h.send(CommandKind::play, bad, 1.0F);
        h.send(CommandKind::stop, bad);
        h.send(CommandKind::set_gain, bad, 0.1F);
        h.send(CommandKind::set_mode, bad, 0.0F);
    }
    const Planar out = h.capture(2000);

    EXPECT_EQ(h.events().size(), 12U);
    EXPECT_EQ(h.count(EventKind::bad_command, 8), 6U);
    EXPECT_EQ(h.count(EventKind::bad_command, 0xFFFFFFFFU), 6U);
    EXPECT_EQ(h.engine().active_voices(), 1U);
    EXPECT_EQ(h.engine().refused_voices(), 0U);
    // Slot 0 plays on untouched: gain 1, still looping.
    for (std::uint32_t c = 0; c < 2; ++c)
        for (std::uint32_t k = 0; k < 2000; ++k)
            ASSERT_EQ(out[c][k], s->channel(c)[(100 + k) % 1000])
                << "channel " << c << " frame " << k;
}

TEST(Engine, AssignToABadSlotHandsTheBufferBack) {
    EngineHarness h(config(2, 16, 8));
    SampleBuffer* b = h.make_noise(1, 100, 12);
    h.assign(8, b);
    h.render(128);
    EXPECT_EQ(h.count(EventKind::bad_command, 8), 1U);
    EXPECT_EQ(h.times_retired(b), 1U);
    EXPECT_FALSE(h.live(b));
    EXPECT_EQ(h.events().size(), 2U);
}

// Regression: buffers handed back while housekeeping lags must never be lost. An assign to a
// bad slot posts two events (bad_command, buffer_retired), so one block of them posted twice
// as many events as the backlog (kept for events the ring cannot take) had room for; the
// overflow, buffer_retired events included, was dropped and those buffers leaked.
TEST(Engine, BuffersHandedBackWhileHousekeepingLagsAreNeverLost) {
    // 4 * (62 + 1) + 256 = 508 events requested for the ring: moodycamel gives 511, so the
    // backlog (256 + 2 * 1 + 62 = 320) is nearly all the room there is.
    EngineConfig c = config(2, 1, 62);
    auto engine = std::make_unique<looperd::Engine>(c);
    std::vector<float> l(128), r(128);
    float* outs[] = {l.data(), r.data()};
    const auto process = [&] {
        looperd::rt_guard::Scope audio_thread;
        engine->process(outs, 128);
    };
    constexpr std::uint32_t kBad = 62;

    // Housekeeping stalls: 508 informational events fill the ring, none reaches the backlog.
    for (int block = 0; block < 2; ++block) {
        for (int i = 0; i < 254; ++i)
            ASSERT_TRUE(engine->try_send({CommandKind::play, kBad, 1.0F, 0, nullptr}));
        process();
    }
    // One block of assigns to a bad slot: every buffer must come back.
    std::set<SampleBuffer*> outstanding;
    for (int i = 0; i < 256; ++i) {
        auto* b = new SampleBuffer(1, 16, 48000);
        outstanding.insert(b);
        ASSERT_TRUE(engine->try_send({CommandKind::assign_buffer, kBad, 0.0F, 0, b}));
    }
    process();

    // Housekeeping catches up.
    std::size_t handed_back = 0;
    std::size_t unknown = 0;
    for (int block = 0; block < 20; ++block) {
        looperd::Event e;
        while (engine->try_receive(e)) {
            if (e.kind != EventKind::buffer_retired) continue;
            if (outstanding.erase(e.buffer) == 1) {
                ++handed_back;
                delete e.buffer;
            } else {
                ++unknown;
            }
        }
        process();
    }
    engine.reset();
    EXPECT_EQ(unknown, 0U);
    EXPECT_EQ(handed_back, 256U) << outstanding.size() << " buffers were never handed back";
    // The engine no longer knows them: free them here so that the leak is reported once.
    for (auto* b : outstanding) delete b;
}

// ---------------------------------------------------------------------------------------
// Channel mapping: pair p takes input p % K to output p % N, for p < max(K, N).

Planar play_once(EngineHarness& h, SampleBuffer* b, std::uint32_t frames) {
    h.assign(0, b);
    h.play(0);
    return h.capture(frames);
}

TEST(Engine, MonoOnTwoOutputsIsIdenticalOnBoth) {
    EngineHarness h(config(2));
    SampleBuffer* b = h.make_noise(1, 300, 13);
    const Planar out = play_once(h, b, 384);
    for (std::uint32_t o = 0; o < 2; ++o)
        for (std::uint32_t k = 0; k < 384; ++k)
            ASSERT_EQ(out[o][k], k < 300 ? b->channel(0)[k] : 0.0F)
                << "out " << o << " frame " << k;
}

TEST(Engine, MonoReachesAllFourOutputs) {
    EngineHarness h(config(4));
    SampleBuffer* b = h.make_noise(1, 300, 14);
    const Planar out = play_once(h, b, 384);
    for (std::uint32_t o = 0; o < 4; ++o)
        for (std::uint32_t k = 0; k < 384; ++k)
            ASSERT_EQ(out[o][k], k < 300 ? b->channel(0)[k] : 0.0F)
                << "out " << o << " frame " << k;
}

TEST(Engine, StereoOnFourOutputsIsLeftRightLeftRight) {
    EngineHarness h(config(4));
    SampleBuffer* b = h.make_noise(2, 300, 15);
    const Planar out = play_once(h, b, 384);
    for (std::uint32_t o = 0; o < 4; ++o)
        for (std::uint32_t k = 0; k < 384; ++k)
            ASSERT_EQ(out[o][k], k < 300 ? b->channel(o % 2)[k] : 0.0F)
                << "out " << o << " frame " << k;
}

TEST(Engine, SixChannelsFoldOntoTwoOutputs) {
    EngineHarness h(config(2));
    SampleBuffer* b = make_quantised_noise(h, 6, 300, 16);
    const Planar out = play_once(h, b, 384);
    for (std::uint32_t o = 0; o < 2; ++o)
        for (std::uint32_t k = 0; k < 384; ++k) {
            const float expected =
                k < 300 ? b->channel(o)[k] + b->channel(o + 2)[k] + b->channel(o + 4)[k] : 0.0F;
            ASSERT_EQ(out[o][k], expected) << "out " << o << " frame " << k;
        }
}

// ---------------------------------------------------------------------------------------
// Loop flag

TEST(Engine, LoopOffWhilePlayingEndsAtTheSampleEnd) {
    EngineHarness h(config());
    SampleBuffer* s = h.make_noise(1, 100, 17);
    h.assign(0, s);
    h.set_loop(0, true);
    h.play(0);
    const Planar looped = h.capture(1050);
    for (std::uint32_t k = 0; k < 1050; ++k) ASSERT_EQ(looped[0][k], s->channel(0)[k % 100]);
    EXPECT_EQ(h.count(EventKind::voice_ended), 0U);

    h.set_loop(0, false);  // the voice is at frame 50 of its pass
    const Planar tail = h.capture(256);
    for (std::uint32_t k = 0; k < 256; ++k)
        ASSERT_EQ(tail[0][k], k < 50 ? s->channel(0)[50 + k] : 0.0F) << "frame " << k;
    EXPECT_EQ(h.engine().active_voices(), 0U);
    EXPECT_EQ(h.count(EventKind::voice_ended, 0), 1U);
}

TEST(Engine, LoopOnWhilePlayingKeepsAOneShotGoing) {
    EngineHarness h(config());
    SampleBuffer* s = h.make_noise(1, 300, 18);
    h.assign(0, s);
    h.play(0);
    h.render(100);
    h.set_loop(0, true);
    const Planar out = h.capture(1000);
    for (std::uint32_t k = 0; k < 1000; ++k) ASSERT_EQ(out[0][k], s->channel(0)[(100 + k) % 300]);
    EXPECT_EQ(h.engine().active_voices(), 1U);
    EXPECT_EQ(h.count(EventKind::voice_ended), 0U);
}

TEST(Engine, ZeroFrameBufferNeverStartsAVoiceEvenWhenLooped) {
    EngineHarness h(config());
    SampleBuffer* empty = h.make_buffer(2, 0, [](std::uint32_t, std::uint32_t) { return 1.0F; });
    h.assign(0, empty);
    h.set_loop(0, true);
    h.play(0);
    const Planar out = h.capture(256);
    for (std::uint32_t c = 0; c < 2; ++c)
        for (float v : out[c]) ASSERT_EQ(v, 0.0F);
    EXPECT_EQ(h.engine().active_voices(), 0U);
    EXPECT_EQ(h.count(EventKind::voice_ended, 0), 0U);  // there was nothing to start
}

// ---------------------------------------------------------------------------------------
// Denormals

TEST(Engine, DenormalsAreFlushedToZero) {
// Where ScopedFlushDenormals has a mode to set: SSE's FTZ/DAZ, ARM's FZ (which flushes denormal
// inputs and results alike). x87 (i386 without SSE) has none.
#if !defined(__SSE__) && !defined(__aarch64__) && !(defined(__arm__) && defined(__ARM_FP))
    GTEST_SKIP() << "this target has no flush-to-zero mode";
#else
    constexpr float kDenormal = 1e-40F;
    static_assert(kDenormal < FLT_MIN && kDenormal > 0.0F);
    EngineHarness h(config());
    h.assign(0, h.make_buffer(2, 500, [](std::uint32_t c, std::uint32_t) {
        return c == 0 ? kDenormal : -kDenormal;
    }));
    h.play(0);
    const Planar out = h.capture(512);
    for (std::uint32_t o = 0; o < 2; ++o)
        for (float v : out[o]) ASSERT_EQ(v, 0.0F);

    // A normal signal fading out: the last tenth of the fade's products fall below FLT_MIN and
    // must not reach the output as denormals.
    h.assign(1, h.make_dc(1, 1000, 1e-37F));
    h.set_loop(1, true);
    h.play(1);
    h.render(128);
    h.stop(1);
    const Planar fade = h.capture(512);
    std::size_t flushed = 0;
    for (float v : fade[0]) {
        ASSERT_NE(std::fpclassify(v), FP_SUBNORMAL);
        flushed += v == 0.0F ? 1 : 0;
    }
    EXPECT_GE(flushed, 512U - kFadeFrames + kFadeFrames / 20);
#endif
}

// ---------------------------------------------------------------------------------------
// Configuration

TEST(EngineConfig, OutsideLimitsThrowsInvalidArgument) {
    const auto with = [](auto change) {
        EngineConfig c = config();
        change(c);
        return c;
    };
    EXPECT_THROW(looperd::Engine(with([](EngineConfig& c) { c.outputs = 0; })),
                 std::invalid_argument);
    EXPECT_THROW(looperd::Engine(
                     with([](EngineConfig& c) { c.outputs = looperd::limits::kMaxOutputs + 1; })),
                 std::invalid_argument);
    EXPECT_THROW(looperd::Engine(with([](EngineConfig& c) { c.voices = 0; })),
                 std::invalid_argument);
    EXPECT_THROW(
        looperd::Engine(with([](EngineConfig& c) { c.voices = looperd::limits::kMaxVoices + 1; })),
        std::invalid_argument);
    EXPECT_THROW(looperd::Engine(with([](EngineConfig& c) { c.slots = 0; })),
                 std::invalid_argument);
    EXPECT_THROW(
        looperd::Engine(with([](EngineConfig& c) { c.slots = looperd::limits::kMaxSlots + 1; })),
        std::invalid_argument);
    EXPECT_THROW(looperd::Engine(with([](EngineConfig& c) { c.command_capacity = 0; })),
                 std::invalid_argument);
    EXPECT_THROW(looperd::Engine(with([](EngineConfig& c) {
                     c.command_capacity = looperd::limits::kMaxCommandCapacity + 1;
                 })),
                 std::invalid_argument);
    EXPECT_THROW(looperd::Engine(with([](EngineConfig& c) { c.sample_rate = 0; })),
                 std::invalid_argument);
    EXPECT_THROW(looperd::Engine(with([](EngineConfig& c) { c.fade_ms = std::nanf(""); })),
                 std::invalid_argument);
    EXPECT_THROW(looperd::Engine(with([](EngineConfig& c) { c.gain_smooth_ms = -1.0F; })),
                 std::invalid_argument);

    // The limits themselves are accepted.
    EXPECT_NO_THROW(looperd::Engine(with([](EngineConfig& c) {
        c.outputs = looperd::limits::kMaxOutputs;
        c.voices = looperd::limits::kMaxVoices;
        c.slots = looperd::limits::kMaxSlots;
    })));
    EXPECT_NO_THROW(looperd::Engine(with([](EngineConfig& c) {
        c.outputs = 1;
        c.voices = 1;
        c.slots = 1;
    })));
}

// ---------------------------------------------------------------------------------------
// Telemetry for control surfaces

TEST(EngineTelemetry, PublishesSoundingVoicesPositionPeaksAndBeat) {
    EngineHarness h(config());
    SampleBuffer* b = h.make_dc(2, 4800, 0.5F);
    h.assign(0, b);
    h.send(CommandKind::set_poly, 0, 2.0F);
    h.play(0);
    h.render(1280);
    h.play(0);  // a second voice: poly 2 keeps both sounding
    h.render(1280);
    looperd::Engine& e = h.engine();
    EXPECT_EQ(e.slot_sounding_voices(0), 2U);
    EXPECT_EQ(e.slot_sounding_voices(1), 0U);
    // The newest voice started 1280 frames ago, of 4800.
    EXPECT_FLOAT_EQ(e.slot_position(0), 1280.0F / 4800.0F);
    EXPECT_EQ(e.take_output_peak(0), 1.0F);  // two voices of 0.5
    h.stop(0);
    h.render(2048);
    EXPECT_EQ(e.slot_sounding_voices(0), 0U);
    EXPECT_EQ(e.slot_position(0), 0.0F);
    (void)e.take_output_peak(0);
    h.render(128);
    EXPECT_EQ(e.take_output_peak(0), 0.0F);  // silence since the last read
    EXPECT_GT(e.clock_beat(), 0.0);
    EXPECT_EQ(e.clock_meter(), 4.0);
}

// A region in frames: one rule for voices and the stretch thread (looperd/region.hpp).
TEST(Region, FractionsRoundToTheNearestFrameAndTheRegionKeepsAFrame) {
    using looperd::region_frames;
    EXPECT_EQ(region_frames(0.0F, 1.0F, 1000).begin, 0U);
    EXPECT_EQ(region_frames(0.0F, 1.0F, 1000).end, 1000U);
    // 250.6 frames: the nearest frame, 251, where truncating would give 250.
    EXPECT_EQ(region_frames(0.2506F, 0.7494F, 1000).begin, 251U);
    EXPECT_EQ(region_frames(0.2506F, 0.7494F, 1000).end, 749U);
    // An end at or before the start still plays one frame; a start at the end, the last.
    EXPECT_EQ(region_frames(0.5F, 0.2F, 1000).end, 501U);
    EXPECT_EQ(region_frames(1.0F, 1.0F, 1000).begin, 999U);
    EXPECT_EQ(region_frames(1.0F, 1.0F, 1000).end, 1000U);
    // Out of range is clamped; nothing in a buffer of no frames (a take being recorded).
    EXPECT_EQ(region_frames(-1.0F, 2.0F, 1000).begin, 0U);
    EXPECT_EQ(region_frames(-1.0F, 2.0F, 1000).end, 1000U);
    EXPECT_EQ(region_frames(0.0F, 1.0F, 0).end, 0U);
}

}  // namespace

// After the host stopped calling process() (the JACK server went away) and comes back, a loop
// that was sounding fades in from silence over the engine's fade (5 ms: 240 frames) instead of
// starting mid-waveform, then plays on from where it was, bit for bit.
TEST(Engine, ResumeAfterGapFadesSoundingVoicesInFromWhereTheyWere) {
    EngineHarness h(config());
    SampleBuffer* b = h.make_dc(2, 1000, 0.5F);
    h.assign(0, b);
    h.set_loop(0, true);
    h.play(0);
    h.capture(512);
    h.engine().resume_after_gap();
    const Planar out = h.capture(512);
    for (std::uint32_t c = 0; c < 2; ++c) {
        EXPECT_LT(out[c][0], 0.5F / 100.0F) << "the first frame after the gap is a step";
        for (std::size_t k = 1; k < 240; ++k) {
            ASSERT_GT(out[c][k], out[c][k - 1]) << "not a rising fade at frame " << k;
            ASSERT_LE(out[c][k] - out[c][k - 1], 0.5F / 240.0F * 1.01F) << "step at " << k;
        }
        for (std::size_t k = 240; k < 512; ++k) ASSERT_EQ(out[c][k], 0.5F) << "frame " << k;
    }
    EXPECT_EQ(h.engine().active_voices(), 1U);
}

// A voice that was fading out when the host went away ends silently on its return.
TEST(Engine, ResumeAfterGapEndsVoicesThatWereFadingOut) {
    EngineHarness h(config());
    h.assign(0, h.make_dc(2, 1000, 0.5F));
    h.set_loop(0, true);
    h.play(0);
    h.capture(256);
    h.stop(0);
    h.capture(64);  // 64 of the fade's 240 frames
    h.engine().resume_after_gap();
    const Planar out = h.capture(256);
    for (std::uint32_t c = 0; c < 2; ++c)
        for (std::size_t k = 0; k < 256; ++k) ASSERT_EQ(out[c][k], 0.0F) << "frame " << k;
    EXPECT_EQ(h.engine().active_voices(), 0U);
}

// A reload (assign_buffer with value 1, after a rate change) keeps a sounding loop going on the
// new buffer; a plain load replaces what plays and leaves the slot stopped.
TEST(Engine, ReloadRestartsASoundingLoopButALoadDoesNot) {
    EngineHarness h(config());
    h.assign(0, h.make_dc(2, 1000, 0.5F));
    h.set_loop(0, true);
    h.play(0);
    h.capture(256);
    h.send(CommandKind::assign_buffer, 0, 1.0F, h.make_dc(2, 900, 0.25F));
    Planar out = h.capture(1024);
    EXPECT_EQ(out[0][1023], 0.25F) << "the loop does not play on the new buffer";
    EXPECT_EQ(h.engine().slot_sounding_voices(0), 1U);
    h.assign(0, h.make_dc(2, 800, 0.125F));
    out = h.capture(1024);
    EXPECT_EQ(out[0][1023], 0.0F) << "a plain load kept the slot playing";
    EXPECT_EQ(h.engine().slot_sounding_voices(0), 0U);
}

// With no audio thread (the JACK server away), the host applies what is sent meanwhile, so that
// the ring does not fill and the commands take effect when audio comes back.
TEST(Engine, CommandsSentWhileStoppedAreAppliedWithoutRendering) {
    EngineHarness h(config());
    h.assign(0, h.make_dc(2, 1000, 0.5F));
    h.set_loop(0, true);
    h.set_gain(0, 0.5F);
    h.play(0);
    EXPECT_EQ(h.engine().queued_commands(), 4U);
    std::size_t taken = 0;
    {
        looperd::rt_guard::Scope realtime;  // the same law as the audio thread's
        taken = h.engine().apply_commands_while_stopped();
    }
    EXPECT_EQ(taken, 4U);
    EXPECT_EQ(h.engine().queued_commands(), 0U);
    EXPECT_EQ(h.engine().apply_commands_while_stopped(), 0U);
    // The loop plays, at the gain sent, from the first block the host renders again.
    const Planar out = h.capture(1024);
    EXPECT_EQ(out[0][1023], 0.25F);
    EXPECT_EQ(out[1][1023], 0.25F);
}
