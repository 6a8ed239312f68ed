// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// HostTimeFilter: a cycle's first frame gets the system clock's time on a line fitted through
// the recent cycles, which follows a drifting sample clock and smooths the wake-up jitter.

#include "io/host_time_filter.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <type_traits>

namespace looperd {
namespace {

static_assert(std::is_nothrow_invocable_v<decltype(&HostTimeFilter::host_time), HostTimeFilter&,
                                          std::uint64_t, double>);

constexpr std::uint64_t kBlock = 128;
constexpr double kRate = 48000.0;

TEST(HostTimeFilter, TheFirstReadingIsTakenAsItIs) {
    HostTimeFilter filter;
    EXPECT_EQ(filter.host_time(1000, 5e9), 5e9);
}

// A sound card 50 ppm fast, read with 0 to 500 µs of wake-up delay (a busy machine), hours
// into the timeline and days into the clock: once the filter is full, each cycle's time is
// within 50 µs of the truth (13 µs RMS, as the fit's statistics predict for the newest of 512
// points), where the raw readings scatter by ±250 µs (144 µs RMS).
TEST(HostTimeFilter, FollowsADriftingSampleClockThroughTheJitter) {
    HostTimeFilter filter;
    std::mt19937 rng(7);
    std::uniform_real_distribution<double> delay(0.0, 500.0);
    const double micros_per_frame = 1e6 / (kRate * (1.0 + 50e-6));
    const std::uint64_t start_frame = 48000ULL * 3600 * 5;  // five hours in
    const double start_micros = 86400e6 * 3;                // three days of uptime
    double worst = 0.0;
    double worst_raw = 0.0;
    double squares = 0.0;
    int counted = 0;
    for (std::uint64_t cycle = 0; cycle < 4 * HostTimeFilter::kPoints; ++cycle) {
        const std::uint64_t frame = start_frame + cycle * kBlock;
        const double truth = start_micros + static_cast<double>(cycle * kBlock) * micros_per_frame;
        const double reading = truth + delay(rng);
        const double fitted = filter.host_time(frame, reading);
        if (cycle < HostTimeFilter::kPoints) continue;
        // The wake-up delay's mean (250 µs) is a constant offset the line cannot tell from the
        // truth; what matters is how little the fitted times scatter around it.
        worst = std::max(worst, std::abs(fitted - (truth + 250.0)));
        squares += (fitted - (truth + 250.0)) * (fitted - (truth + 250.0));
        ++counted;
        worst_raw = std::max(worst_raw, std::abs(reading - (truth + 250.0)));
    }
    EXPECT_LT(worst, 50.0);
    EXPECT_LT(std::sqrt(squares / counted), 20.0);
    EXPECT_GT(worst_raw, 200.0) << "the jitter was not there to smooth";
}

// The slope is the sample clock's, not the nominal rate's: over a 512-cycle window a 50 ppm
// error would put a frame 68 µs off at the window's far end; the fit is within 1 µs.
TEST(HostTimeFilter, TheLineHasTheSampleClocksOwnSlope) {
    HostTimeFilter filter;
    const double micros_per_frame = 1e6 / (kRate * (1.0 - 50e-6));
    double fitted = 0.0;
    for (std::uint64_t cycle = 0; cycle < HostTimeFilter::kPoints; ++cycle)
        fitted = filter.host_time(cycle * kBlock,
                                  static_cast<double>(cycle * kBlock) * micros_per_frame);
    const double last = static_cast<double>((HostTimeFilter::kPoints - 1) * kBlock);
    EXPECT_NEAR(fitted, last * micros_per_frame, 1.0);
}

// An xrun: the timeline leaves the line for good (here 4 ms later, as JACK's dummy driver
// restarts its schedule after a late cycle). Once it has stayed off for kJumpCycles the times
// are the new line's, where a fit across the jump would stay up to 2 ms off for a whole window.
// A single late wake-up, however late, does not start a new line.
TEST(HostTimeFilter, AJumpStartsANewLineAndALateWakeUpDoesNot) {
    HostTimeFilter filter;
    const double micros_per_frame = 1e6 / kRate;
    auto truth = [&](std::uint64_t cycle, double shift) {
        return static_cast<double>(cycle * kBlock) * micros_per_frame + shift;
    };
    std::uint64_t cycle = 0;
    for (; cycle < HostTimeFilter::kPoints; ++cycle)
        filter.host_time(cycle * kBlock, truth(cycle, 0.0));
    // 20 ms late, once: the line stays.
    filter.host_time(cycle * kBlock, truth(cycle, 20'000.0));
    ++cycle;
    EXPECT_NEAR(filter.host_time(cycle * kBlock, truth(cycle, 0.0)), truth(cycle, 0.0), 50.0);
    ++cycle;
    // Then 4 ms later for good.
    double fitted = 0.0;
    for (int k = 0; k < HostTimeFilter::kJumpCycles + 10; ++k, ++cycle)
        fitted = filter.host_time(cycle * kBlock, truth(cycle, 4000.0));
    EXPECT_NEAR(fitted, truth(cycle - 1, 4000.0), 1.0);
}

// A process stalled for 20 ms by a busy machine wakes late for the cycles it catches up on
// (20, 17.3, 14.7 ... ms late): the line stays where it was.
TEST(HostTimeFilter, AStallCaughtUpOnDoesNotMoveTheLine) {
    HostTimeFilter filter;
    const double micros_per_frame = 1e6 / kRate;
    const double period = static_cast<double>(kBlock) * micros_per_frame;
    std::uint64_t cycle = 0;
    for (; cycle < HostTimeFilter::kPoints; ++cycle)
        filter.host_time(cycle * kBlock, static_cast<double>(cycle) * period);
    for (double late = 20'000.0; late > 0.0; late -= period, ++cycle)
        EXPECT_NEAR(filter.host_time(cycle * kBlock, static_cast<double>(cycle) * period + late),
                    static_cast<double>(cycle) * period, 1.0);
    EXPECT_NEAR(filter.host_time(cycle * kBlock, static_cast<double>(cycle) * period),
                static_cast<double>(cycle) * period, 1.0);
}

// After a jump, a new line through a few late-woken readings keeps the clocks' rate: its
// times stay within the readings' own scatter, where a slope fitted through five points of
// up to 1 ms of jitter could be off by a third and put a frame 50 ms away a few cycles on.
TEST(HostTimeFilter, ANewLineKeepsTheOldSlopeUntilItHasPointsEnough) {
    HostTimeFilter filter;
    filter.expect_rate(kRate);
    std::mt19937 rng(11);
    std::uniform_real_distribution<double> delay(0.0, 900.0);
    const double micros_per_frame = 1e6 / kRate;
    auto truth = [&](std::uint64_t cycle, double shift) {
        return static_cast<double>(cycle * kBlock) * micros_per_frame + shift;
    };
    std::uint64_t cycle = 0;
    for (; cycle < HostTimeFilter::kPoints; ++cycle)
        filter.host_time(cycle * kBlock, truth(cycle, delay(rng)));
    double worst = 0.0;
    for (int k = 0; k < 200; ++k, ++cycle) {
        const double fitted = filter.host_time(cycle * kBlock, truth(cycle, 6000.0 + delay(rng)));
        if (k >= HostTimeFilter::kJumpCycles)
            worst = std::max(worst, std::abs(fitted - truth(cycle, 6450.0)));
    }
    EXPECT_LT(worst, 900.0);
}

// From the first reading of a new server, the nominal rate is the slope: two readings, one
// late, do not make a line that runs away.
TEST(HostTimeFilter, TheNominalRateIsTheSlopeUntilOneIsFitted) {
    HostTimeFilter filter;
    filter.expect_rate(kRate);
    const double period = static_cast<double>(kBlock) * 1e6 / kRate;
    filter.host_time(0, 0.0);
    filter.host_time(kBlock, period + 900.0);
    // The slope stays the nominal one: 100 cycles on, the offset is the two readings' mean.
    EXPECT_NEAR(filter.host_time(100 * kBlock, 100.0 * period + 450.0), 100.0 * period + 450.0,
                1.0);
}

TEST(HostTimeFilter, ResetForgetsTheOldTimeline) {
    HostTimeFilter filter;
    for (std::uint64_t cycle = 0; cycle < 100; ++cycle)
        filter.host_time(cycle * kBlock, static_cast<double>(cycle) * 1000.0);
    filter.reset();
    // A new server: the timeline goes on, the clock is far ahead.
    EXPECT_EQ(filter.host_time(100 * kBlock, 9e9), 9e9);
    EXPECT_NEAR(filter.host_time(101 * kBlock, 9e9 + 2666.0), 9e9 + 2666.0, 1e-3);
}

TEST(HostTimeFilter, ATimelineThatStandsStillGivesTheReading) {
    HostTimeFilter filter;
    filter.host_time(500, 1000.0);
    EXPECT_EQ(filter.host_time(500, 1200.0), 1200.0);
}

}  // namespace
}  // namespace looperd
