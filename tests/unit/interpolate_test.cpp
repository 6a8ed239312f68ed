// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// The voices' vector kernel against the scalar code it replaced (include/looperd/interpolate.hpp):
// the kernel alone on every instruction set this CPU (or emulator) runs, and whole engines,
// one on each kernel, over random rates, regions, reverse, seams and glides.

#include <gtest/gtest.h>
#include <hwy/targets.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "engine_harness.hpp"
#include "looperd/interpolate.hpp"

namespace looperd {
namespace {

using test::EngineHarness;

constexpr float kTolerance = 1e-6F;

// Runs `body` once per instruction set the kernel is built for and this CPU runs, with
// the dispatch pointed at it; returns their names. Leaves the dispatch as it found it.
template <typename Body>
std::vector<std::string> for_each_target(Body body) {
    std::vector<std::string> names;
    std::vector<std::int64_t> targets;
    for (std::int64_t bits = hwy::SupportedTargets() & interpolate::built_targets(); bits != 0;
         bits &= bits - 1)
        targets.push_back(bits & -bits);
    for (const std::int64_t target : targets) {
        hwy::SetSupportedTargetsForTest(target);
        hwy::GetChosenTarget().Update(hwy::SupportedTargets());
        const std::string name = hwy::TargetName(target);
        EXPECT_EQ(interpolate::target(), name) << "the dispatch did not go to " << name;
        body(name);
        names.push_back(name);
    }
    hwy::SetSupportedTargetsForTest(0);
    hwy::GetChosenTarget().Update(hwy::SupportedTargets());
    return names;
}

struct SpanRun {
    std::vector<float> left, right;
    double end = 0.0;
};

SpanRun run_span(double (*kernel)(const interpolate::Span&), const std::vector<float>& a,
                 const std::vector<float>* z, double position, double step, std::uint32_t frames) {
    SpanRun r;
    r.left.assign(frames, -7.0F);
    r.right.assign(frames, -7.0F);
    r.end = kernel({.left = a.data(),
                    .right = z ? z->data() : nullptr,
                    .position = position,
                    .step = step,
                    .frames = frames,
                    .length = static_cast<std::uint32_t>(a.size()),
                    .out_left = r.left.data(),
                    .out_right = z ? r.right.data() : nullptr});
    return r;
}

// Random spans of 1 to 128 frames, mono and stereo, forwards and backwards, at rates from an
// eighth to eight times, at positions up to two million frames (where a double's rounding of
// the position is coarsest among the buffers a rig holds).
TEST(Interpolate, EveryTargetMatchesTheScalarReference) {
    constexpr std::size_t kFrames = 2'100'000;
    const auto a = test::noise_vector(kFrames, 1);
    const auto z = test::noise_vector(kFrames, 2);
    std::mt19937 rng(3);
    std::uniform_int_distribution<std::uint32_t> length(1, 128);
    std::uniform_real_distribution<double> log_rate(std::log(0.125), std::log(8.0));
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    std::uint64_t frames_checked = 0;
    const auto names = for_each_target([&](const std::string& name) {
        for (int trial = 0; trial < 3000; ++trial) {
            const std::uint32_t n = length(rng);
            const double rate = std::exp(log_rate(rng));
            const double step = unit(rng) < 0.5 ? -rate : rate;
            // Every tap inside: p − 1 ≥ 0 and p + 2 < kFrames over the whole span.
            const double reach = rate * n + 4.0;
            const double lo = step > 0 ? 1.0 : 1.0 + reach;
            const double hi = step > 0 ? kFrames - 3.0 - reach : kFrames - 3.0;
            const double p = lo + (hi - lo) * unit(rng);
            const bool stereo = trial % 3 != 0;
            const auto want =
                run_span(interpolate::hermite_reference, a, stereo ? &z : nullptr, p, step, n);
            const auto got = run_span(interpolate::hermite, a, stereo ? &z : nullptr, p, step, n);
            for (std::uint32_t k = 0; k < n; ++k) {
                ASSERT_NEAR(got.left[k], want.left[k], kTolerance)
                    << name << ": frame " << k << " of " << n << " at " << p << " step " << step;
                if (stereo) {
                    ASSERT_NEAR(got.right[k], want.right[k], kTolerance) << name;
                }
            }
            if (!stereo) {
                EXPECT_EQ(got.right[0], -7.0F) << name << ": wrote a second channel";
            }
            EXPECT_NEAR(got.end, want.end, 1e-6) << name;
            frames_checked += n;
        }
    });
    std::cout << "targets checked:";
    for (const auto& n : names) std::cout << ' ' << n;
    std::cout << " (" << frames_checked << " frames)\n";
    ASSERT_FALSE(names.empty());
#if HWY_ARCH_ARM_A64
    // A Raspberry Pi's 64-bit userland runs the NEON kernel: it must be among those checked.
    EXPECT_NE(std::find(names.begin(), names.end(), "NEON"), names.end());
#endif
#if HWY_ARCH_X86_64
    // Every x86-64 CPU has SSE2; the kernel is built for SSE4 and up, each checked where the CPU
    // has it. Older CPUs run the scalar emulation, which the same test would check there.
    EXPECT_GE(names.size(), 1U);
#endif
}

// Where every position is exact in binary (eighths of a frame at small positions), adding the
// step frame by frame and multiplying it out give the same positions: then the math is the same
// and the outputs are bit for bit the same, on every target.
TEST(Interpolate, ExactPositionsGiveBitIdenticalFrames) {
    const auto a = test::noise_vector(4096, 4);
    const auto z = test::noise_vector(4096, 5);
    for_each_target([&](const std::string& name) {
        for (const double step : {1.0, 0.5, 1.25, 2.0, 0.125, -1.0, -0.75, 3.5}) {
            for (const std::uint32_t n : {1U, 3U, 8U, 17U, 128U}) {
                const double p = step > 0 ? 1.0 + 0.375 : 3000.625;
                const auto want = run_span(interpolate::hermite_reference, a, &z, p, step, n);
                const auto got = run_span(interpolate::hermite, a, &z, p, step, n);
                for (std::uint32_t k = 0; k < n; ++k) {
                    ASSERT_EQ(got.left[k], want.left[k])
                        << name << " step " << step << " frame " << k;
                    ASSERT_EQ(got.right[k], want.right[k]) << name << " step " << step;
                }
                EXPECT_EQ(got.end, want.end) << name;
            }
        }
    });
}

// Spans whose taps run to the channel's last frame (and, backwards, from its first), at rates
// around the widest the AVX-512 kernel reads through a 32-frame window (1.8): the window stops
// where it would read past the channel's length (the address sanitizer's build sees any read
// past the vector), and the frames after it come from the other paths, bit for bit the same.
TEST(Interpolate, SpansThatEndAtTheChannelsEdgesMatchTheReference) {
    constexpr std::size_t kFrames = 600;
    const auto a = test::noise_vector(kFrames, 7);
    const auto z = test::noise_vector(kFrames, 8);
    std::uint64_t spans = 0;
    for_each_target([&](const std::string& name) {
        for (const double rate : {0.5, 0.999, 1.0 + 1.0 / 3.0, 1.79, 1.8, 1.81, 2.5}) {
            for (const std::uint32_t n : {16U, 17U, 31U, 32U, 47U, 64U, 128U}) {
                for (const double fraction : {0.001, 0.25, 0.875}) {
                    for (const bool backwards : {false, true}) {
                        // The last frame's taps end on the channel's last frame (forwards) or
                        // the first frame's taps start on frame 0 (backwards), or just short.
                        const double reach = rate * static_cast<double>(n - 1);
                        const double step = backwards ? -rate : rate;
                        const double p =
                            backwards ? 1.0 + fraction + reach : kFrames - 3.0 + fraction - reach;
                        const auto want =
                            run_span(interpolate::hermite_reference, a, &z, p, step, n);
                        const auto got = run_span(interpolate::hermite, a, &z, p, step, n);
                        for (std::uint32_t k = 0; k < n; ++k) {
                            ASSERT_NEAR(got.left[k], want.left[k], kTolerance)
                                << name << " rate " << rate << " frame " << k << " of " << n;
                            ASSERT_NEAR(got.right[k], want.right[k], kTolerance) << name;
                        }
                        ++spans;
                    }
                }
            }
        }
    });
    EXPECT_GT(spans, 200U);
}

EngineConfig differential_config() {
    EngineConfig c;
    c.outputs = 2;
    c.slots = 8;
    c.voices = 16;
    return c;
}

// Two engines, one on the vector kernel and one on the scalar reference, receive the same
// random commands (loads of mono and stereo noise, rates, pitches, glides, regions, reverse,
// loop seams with crossfades, starts and stops) and render the same random block sizes: every
// output frame agrees within 1e-6, on the instruction set the daemon would choose.
TEST(Interpolate, EnginesOnEitherKernelRenderTheSame) {
    EngineHarness vec(differential_config());
    EngineHarness ref(differential_config());
    ref.engine().use_reference_voices(true);
    std::mt19937 rng(6);
    std::uniform_real_distribution<float> unit(0.0F, 1.0F);
    std::uniform_int_distribution<std::uint32_t> slot_of(0, 7);
    std::uniform_int_distribution<std::uint32_t> block_of(1, 512);
    for (std::uint32_t s = 0; s < 8; ++s) {
        const std::uint32_t channels = s % 3 == 0 ? 1 : 2;
        const std::uint32_t frames = 3000 + 7919 * s;
        vec.assign(s, vec.make_noise(channels, frames, 100 + s));
        ref.assign(s, ref.make_noise(channels, frames, 100 + s));
    }
    // Both engines take each command in the same block.
    auto both = [&](CommandKind kind, std::uint32_t slot, float value) {
        ASSERT_TRUE(vec.send(kind, slot, value));
        ASSERT_TRUE(ref.send(kind, slot, value));
    };
    double max_difference = 0.0;
    std::uint64_t frames = 0;
    std::uint64_t interpolated_blocks = 0;
    for (int block = 0; block < 3000; ++block) {
        const int changes = static_cast<int>(unit(rng) * 3.0F);
        for (int c = 0; c < changes; ++c) {
            const std::uint32_t s = slot_of(rng);
            const float pick = unit(rng);
            if (pick < 0.15F) {
                both(CommandKind::play, s, 1.0F);
            } else if (pick < 0.22F) {
                both(CommandKind::stop, s, 0.0F);
            } else if (pick < 0.45F) {
                both(CommandKind::set_rate, s, 0.25F + 3.0F * unit(rng));  // glides there
            } else if (pick < 0.55F) {
                both(CommandKind::set_pitch, s, std::round(-12.0F + 24.0F * unit(rng)));
            } else if (pick < 0.65F) {
                both(CommandKind::set_reverse, s, unit(rng) < 0.5F ? 1.0F : 0.0F);
            } else if (pick < 0.75F) {
                both(CommandKind::set_start, s, 0.4F * unit(rng));
            } else if (pick < 0.85F) {
                both(CommandKind::set_end, s, 0.6F + 0.4F * unit(rng));
            } else if (pick < 0.93F) {
                both(CommandKind::set_xfade, s, 20.0F * unit(rng));
            } else {
                both(CommandKind::set_mode, s, unit(rng) < 0.8F ? 1.0F : 0.0F);  // loop or one-shot
            }
        }
        const std::uint32_t n = block_of(rng);
        vec.render(n);
        ref.render(n);
        bool sounding = false;
        for (std::uint32_t o = 0; o < 2; ++o) {
            for (std::uint32_t i = 0; i < n; ++i) {
                const double d = std::fabs(static_cast<double>(vec.out(o)[i]) -
                                           static_cast<double>(ref.out(o)[i]));
                max_difference = std::max(max_difference, d);
                ASSERT_LE(d, kTolerance) << "block " << block << " output " << o << " frame " << i;
                sounding = sounding || vec.out(o)[i] != 0.0F;
            }
        }
        if (sounding && vec.engine().active_voices() > 0) ++interpolated_blocks;
        frames += n;
    }
    std::cout << frames << " frames on " << interpolate::target() << ", largest difference "
              << max_difference << "\n";
    EXPECT_GT(interpolated_blocks, 1000U)
        << "the voices were mostly silent: the test compared little";
}

}  // namespace
}  // namespace looperd
