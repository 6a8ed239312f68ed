// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// The stretch renderer (Rubber Band, offline R3) on its own: pitch kept, length exact, onsets on
// the grid, seamless loops, pitch shift without a change of length, cancellation.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <vector>

#include "io/stretch_render.hpp"
#include "signal_measure.hpp"

namespace looperd {
namespace {

constexpr std::uint32_t kRate = 48000;

// `beats` beats at `bpm`, in frames (the rendering's length: rounded to a frame).
std::uint32_t beat_frames(double beats, double bpm) {
    return static_cast<std::uint32_t>(std::llround(beats * 60.0 / bpm * kRate));
}

std::unique_ptr<SampleBuffer> sine_loop(std::uint32_t channels, std::uint32_t frames, double hz) {
    auto b = std::make_unique<SampleBuffer>(channels, frames, kRate);
    for (std::uint32_t c = 0; c < channels; ++c)
        for (std::uint32_t i = 0; i < frames; ++i)
            b->mutable_channel(c)[i] =
                static_cast<float>(0.5 * std::sin(2.0 * M_PI * hz * i / kRate));
    return b;
}

class StretchRender : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!stretch_available()) GTEST_SKIP() << "built without Rubber Band";
    }
};

TEST(StretchRenderOff, WithoutRubberBandARenderIsRefusedWithTheReason) {
    if (stretch_available()) GTEST_SKIP() << "built with Rubber Band";
    const auto source = sine_loop(1, 4800, 1000.0);
    try {
        render_stretched({source.get(), 0, 4800, 6400, 1.0});
        FAIL() << "no error";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("Rubber Band"), std::string::npos) << e.what();
    }
}

// The figure: a 1 kHz sine loop of 4 beats at 120 BPM, the tempo changed to 90, 100,
// 137 and 160. The rendering lasts exactly the 4 beats (rounded to a frame) and its tone stays
// at 1 kHz within ±3 cents.
TEST_F(StretchRender, ASineLoopKeepsItsPitchAtEveryTempoAndLastsItsBeats) {
    const std::uint32_t length = beat_frames(4, 120.0);  // 2,000 whole cycles: seamless
    const auto source = sine_loop(2, length, 1000.0);
    for (const double bpm : {90.0, 100.0, 137.0, 160.0}) {
        const std::uint32_t frames = beat_frames(4, bpm);
        const auto out = render_stretched({source.get(), 0, length, frames, 1.0});
        ASSERT_EQ(out->frames(), frames) << bpm;
        ASSERT_EQ(out->channels(), 2U);
        for (std::uint32_t c = 0; c < 2; ++c) {
            const double f = test::tone_frequency(out->channel(c), 0, frames, kRate);
            EXPECT_NEAR(test::cents(f, 1000.0), 0.0, 3.0)
                << bpm << " BPM, channel " << c << ": " << f << " Hz";
        }
        // Seamless: the step from the last frame to the first is no larger than the tone's
        // own steepest step (a 1 kHz sine of 0.5 moves up to 0.066 a frame).
        const float* x = out->channel(0);
        float steepest = 0.0F;
        for (std::uint32_t i = 1; i < frames; ++i)
            steepest = std::max(steepest, std::abs(x[i] - x[i - 1]));
        EXPECT_LE(std::abs(x[0] - x[frames - 1]), steepest * 1.1F) << bpm;
    }
}

// A drum loop's onsets (a click on each of 16 beats at 120 BPM) land on the new tempo's beat
// grid within 1 ms at each tempo.
TEST_F(StretchRender, ClickTrackOnsetsLandOnTheBeatGridWithinAMillisecond) {
    const std::uint32_t beat = beat_frames(1, 120.0);
    const auto clicks = test::click_track(16, beat, kRate);
    const auto length = static_cast<std::uint32_t>(clicks.size());
    auto source = std::make_unique<SampleBuffer>(2, length, kRate);
    for (std::uint32_t c = 0; c < 2; ++c)
        std::copy(clicks.begin(), clicks.end(), source->mutable_channel(c));
    const std::size_t source_onset = test::onset(clicks.data(), 0, beat / 2);
    for (const double bpm : {90.0, 100.0, 137.0, 160.0}) {
        const std::uint32_t frames = beat_frames(16, bpm);
        const auto out = render_stretched({source.get(), 0, length, frames, 1.0});
        ASSERT_EQ(out->frames(), frames);
        const double spb = 60.0 / bpm * kRate;
        double worst_ms = 0.0;
        double earliest = 1e9;
        double latest = -1e9;
        for (int b = 1; b < 16; ++b) {
            const double expected = b * spb + static_cast<double>(source_onset);
            const auto from = static_cast<std::size_t>(expected - spb / 3);
            const auto to = static_cast<std::size_t>(expected + spb / 3);
            const auto at = static_cast<double>(test::onset(out->channel(0), from, to));
            const double ms = (at - expected) * 1000.0 / kRate;
            if (std::abs(ms) > std::abs(worst_ms)) worst_ms = ms;
            earliest = std::min(earliest, ms);
            latest = std::max(latest, ms);
        }
        EXPECT_LE(std::abs(worst_ms), 1.0) << bpm << " BPM: an onset " << worst_ms << " ms off";
        std::printf("%.0f BPM: onsets %+.3f to %+.3f ms from the grid\n", bpm, earliest, latest);
    }
}

// /slot/<n>/pitch with stretch pitch: 7 semitones up, the same length.
TEST_F(StretchRender, APitchScaleTransposesWithoutChangingTheLength) {
    const std::uint32_t length = beat_frames(4, 120.0);
    const auto source = sine_loop(1, length, 1000.0);
    const double scale = std::exp2(7.0 / 12.0);
    for (const std::uint32_t frames : {length, beat_frames(4, 100.0)}) {
        const auto out = render_stretched({source.get(), 0, length, frames, scale});
        ASSERT_EQ(out->frames(), frames);
        const double f = test::tone_frequency(out->channel(0), 0, frames, kRate);
        EXPECT_NEAR(test::cents(f, 1000.0 * scale), 0.0, 3.0) << f << " Hz";
    }
}

// A region, not the whole sample: only its frames are stretched.
TEST_F(StretchRender, OnlyTheRegionIsRendered) {
    const std::uint32_t half = beat_frames(2, 120.0);
    auto source = std::make_unique<SampleBuffer>(1, 2 * half, kRate);
    for (std::uint32_t i = 0; i < 2 * half; ++i)  // 500 Hz, then 1 kHz
        source->mutable_channel(0)[i] = static_cast<float>(
            0.5 * std::sin(2.0 * M_PI * (i < half ? 500.0 : 1000.0) * i / kRate));
    const std::uint32_t frames = beat_frames(2, 90.0);
    const auto out = render_stretched({source.get(), half, 2 * half, frames, 1.0});
    const double f = test::tone_frequency(out->channel(0), 0, frames, kRate);
    EXPECT_NEAR(test::cents(f, 1000.0), 0.0, 3.0) << f << " Hz";
}

TEST_F(StretchRender, ACancelledRenderStopsWithStretchCancelled) {
    const auto source = sine_loop(2, beat_frames(16, 120.0), 1000.0);
    int asked = 0;
    EXPECT_THROW(render_stretched({source.get(), 0, source->frames(), beat_frames(16, 90.0), 1.0},
                                  [&asked] { return ++asked == 3; }),
                 StretchCancelled);
    EXPECT_EQ(asked, 3);
}

TEST_F(StretchRender, BadRequestsAreRefusedWithAReason) {
    const auto source = sine_loop(1, 4800, 1000.0);
    EXPECT_THROW(render_stretched({source.get(), 100, 100, 4800, 1.0}), std::runtime_error);
    EXPECT_THROW(render_stretched({source.get(), 0, 4801, 4800, 1.0}), std::runtime_error);
    EXPECT_THROW(render_stretched({source.get(), 0, 4800, 0, 1.0}), std::runtime_error);
    EXPECT_THROW(render_stretched({source.get(), 0, 4800, 4800, 0.0}), std::runtime_error);
    EXPECT_THROW(render_stretched({nullptr, 0, 4800, 4800, 1.0}), std::runtime_error);
}

}  // namespace
}  // namespace looperd
