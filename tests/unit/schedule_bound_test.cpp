// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// The controller's rooms that stand alone: the scheduled-command bound and the error limits.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <chrono>

#include "control/error_limits.hpp"
#include "control/schedule_bound.hpp"

namespace {

using namespace looperd;

TEST(ScheduleBound, HoldsFutureFramesToItsCapacityUntilTheyPass) {
    ScheduleBound bound(2);
    bound.advance(1000);
    EXPECT_EQ(bound.admit(0, 0, 48000), ScheduleBound::Verdict::ok);    // next block
    EXPECT_EQ(bound.admit(900, 0, 48000), ScheduleBound::Verdict::ok);  // late: at once
    bound.note(900);  // not pending: its frame has passed
    bound.note(2000);
    bound.note(3000);
    EXPECT_EQ(bound.admit(4000, 0, 48000), ScheduleBound::Verdict::full);
    EXPECT_EQ(bound.refused(), 1U);
    // A bundle's earlier messages count before they are sent.
    bound.advance(2000);
    EXPECT_EQ(bound.admit(4000, 0, 48000), ScheduleBound::Verdict::ok);
    EXPECT_EQ(bound.admit(4000, 1, 48000), ScheduleBound::Verdict::full);
    bound.advance(3000);
    EXPECT_EQ(bound.admit(4000, 1, 48000), ScheduleBound::Verdict::ok);
}

TEST(ScheduleBound, RefusesMoreThanAnHourAheadAtTheEnginesRate) {
    ScheduleBound bound(8);
    bound.advance(100);
    EXPECT_EQ(bound.admit(100 + 3600ULL * 48000, 0, 48000), ScheduleBound::Verdict::ok);
    EXPECT_EQ(bound.admit(101 + 3600ULL * 48000, 0, 48000), ScheduleBound::Verdict::too_far);
    EXPECT_EQ(bound.admit(101 + 3600ULL * 48000, 0, 96000), ScheduleBound::Verdict::ok);
    EXPECT_EQ(bound.refused(), 0U);  // only a full bound counts as refused
}

OscEndpoint peer(const char* ip) {
    OscEndpoint e;
    auto* in = reinterpret_cast<sockaddr_in*>(&e.addr);
    in->sin_family = AF_INET;
    in->sin_port = htons(9000);
    inet_pton(AF_INET, ip, &in->sin_addr);
    e.len = sizeof(sockaddr_in);
    return e;
}

TEST(ErrorLimits, LimitsLogLinesPerKindAndRepliesPerPeer) {
    std::chrono::steady_clock::time_point now{};
    ErrorLimits limits(2, 3, [&now] { return now; });
    int logs = 0;
    int replies = 0;
    for (int k = 0; k < 10; ++k) {
        // Ten slots out of range: one kind of reason.
        const auto v =
            limits.admit("slot " + std::to_string(k) + " out of range", peer("10.0.0.1"));
        logs += v.log ? 1 : 0;
        replies += v.reply ? 1 : 0;
    }
    EXPECT_EQ(logs, 2);
    EXPECT_EQ(replies, 3);
    EXPECT_EQ(limits.replies_dropped(), 7U);
    // Another peer has its own replies; the kind's log lines are spent.
    const auto other = limits.admit("slot 1 out of range", peer("10.0.0.2"));
    EXPECT_FALSE(other.log);
    EXPECT_TRUE(other.reply);
    // A new second.
    now += std::chrono::seconds(1);
    limits.expire();
    EXPECT_TRUE(limits.admit("slot 3 out of range", peer("10.0.0.1")).reply);
}

TEST(ErrorLimits, KindsFoldNumbersAndDropDetails) {
    EXPECT_EQ(ErrorLimits::kind_of("slot 12 out of range 0..127"), "slot # out of range #..#");
    EXPECT_EQ(ErrorLimits::kind_of("cannot open a.wav: No such file"), "cannot open a.wav");
    EXPECT_EQ(ErrorLimits::kind_of(""), "?");
}

}  // namespace
