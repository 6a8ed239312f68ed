// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// RenderMeter: the longest block per window of frames, published when the window completes.

#include "io/render_meter.hpp"

#include <gtest/gtest.h>

#include <type_traits>

namespace looperd {
namespace {

static_assert(std::is_nothrow_invocable_v<decltype(&RenderMeter::record), RenderMeter&,
                                          std::uint64_t, std::uint32_t, std::uint32_t>);

constexpr std::uint32_t kBlock = 128;
constexpr std::uint32_t kWindow = 4 * kBlock;  // four blocks a window, to keep tests short

TEST(RenderMeter, ReportsNothingBeforeTheFirstWindowCompletes) {
    RenderMeter meter;
    for (int i = 0; i < 3; ++i) meter.record(5000, kBlock, kWindow);
    EXPECT_EQ(meter.last_window_max_ns(), 0U);
}

TEST(RenderMeter, PublishesTheLongestBlockOfACompletedWindow) {
    RenderMeter meter;
    meter.record(1000, kBlock, kWindow);
    meter.record(9000, kBlock, kWindow);
    meter.record(2000, kBlock, kWindow);
    meter.record(3000, kBlock, kWindow);  // the window's fourth block completes it
    EXPECT_EQ(meter.last_window_max_ns(), 9000U);
}

TEST(RenderMeter, EachWindowStartsAfreshSoAnOldPeakDoesNotLinger) {
    RenderMeter meter;
    for (std::uint64_t ns : {1000, 50000, 1000, 1000}) meter.record(ns, kBlock, kWindow);
    ASSERT_EQ(meter.last_window_max_ns(), 50000U);
    // The next window holds the old value until it completes, then only its own peak.
    for (std::uint64_t ns : {2000, 3000, 2500}) meter.record(ns, kBlock, kWindow);
    EXPECT_EQ(meter.last_window_max_ns(), 50000U);
    meter.record(1500, kBlock, kWindow);
    EXPECT_EQ(meter.last_window_max_ns(), 3000U);
}

TEST(RenderMeter, CountsFramesSoBlockSizeChangesKeepTheWindowLength) {
    RenderMeter meter;
    meter.record(7000, kWindow / 2, kWindow);
    EXPECT_EQ(meter.last_window_max_ns(), 0U);
    meter.record(100, kWindow / 2, kWindow);
    EXPECT_EQ(meter.last_window_max_ns(), 7000U);
}

}  // namespace
}  // namespace looperd
