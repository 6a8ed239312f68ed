// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// Per-source token buckets and the keyed window limiter behind rate-limited errors, driven by an
// injected clock.
#include <gtest/gtest.h>

#include <string>

#include "io/rate_limiter.hpp"

namespace {

using namespace looperd;
using namespace std::chrono_literals;

const LimiterClock::time_point t0{};

IpAddress ip(const char* text) {
    return IpAddress::parse(text).value();
}

int admitted(SourceRateLimiter& limiter, const IpAddress& source, int attempts,
             LimiterClock::time_point now) {
    int n = 0;
    for (int i = 0; i < attempts; ++i) n += limiter.admit(source, now) ? 1 : 0;
    return n;
}

TEST(TokenBucket, StartsFullThenRefillsAtItsRateUpToItsBurst) {
    TokenBucket b(10.0, 3.0, t0);
    EXPECT_TRUE(b.try_take(t0));
    EXPECT_TRUE(b.try_take(t0));
    EXPECT_TRUE(b.try_take(t0));
    EXPECT_FALSE(b.try_take(t0));
    EXPECT_FALSE(b.try_take(t0 + 50ms));  // half a token
    EXPECT_TRUE(b.try_take(t0 + 100ms));  // one token
    EXPECT_FALSE(b.try_take(t0 + 100ms));
    // A long silence refills to the burst, not beyond.
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(b.try_take(t0 + 60s));
    EXPECT_FALSE(b.try_take(t0 + 60s));
}

TEST(TokenBucket, TimeGoingBackwardsAddsNothing) {
    TokenBucket b(1000.0, 1.0, t0 + 10s);
    EXPECT_TRUE(b.try_take(t0 + 10s));
    EXPECT_FALSE(b.try_take(t0));
    EXPECT_FALSE(b.try_take(t0 + 10s));
}

TEST(SourceRateLimiter, DefaultsAdmitTheBurstThenTheRate) {
    SourceRateLimiter limiter(2000, 500);
    const auto a = ip("192.168.1.10");
    EXPECT_EQ(admitted(limiter, a, 600, t0), 500);
    // One second later: 2000 more tokens, but the bucket holds 500.
    EXPECT_EQ(admitted(limiter, a, 3000, t0 + 1s), 500);
    // 10 ms: 20 tokens.
    EXPECT_EQ(admitted(limiter, a, 100, t0 + 1010ms), 20);
}

TEST(SourceRateLimiter, ANoisySourceDoesNotStarveAnother) {
    SourceRateLimiter limiter(100, 10);
    const auto noisy = ip("10.0.0.1");
    const auto quiet = ip("10.0.0.2");
    EXPECT_EQ(admitted(limiter, noisy, 1000, t0), 10);
    EXPECT_EQ(admitted(limiter, quiet, 5, t0), 5);
    for (int ms = 1; ms <= 1000; ++ms) {
        admitted(limiter, noisy, 50, t0 + std::chrono::milliseconds(ms));
        if (ms % 100 == 0) {
            EXPECT_TRUE(limiter.admit(quiet, t0 + std::chrono::milliseconds(ms))) << ms;
        }
    }
}

TEST(SourceRateLimiter, IPv4AndIPv6SourcesAreSeparate) {
    SourceRateLimiter limiter(1, 1);
    EXPECT_TRUE(limiter.admit(ip("127.0.0.1"), t0));
    EXPECT_TRUE(limiter.admit(ip("::1"), t0));
    EXPECT_FALSE(limiter.admit(ip("127.0.0.1"), t0));
    // The mapped form is the same IPv4 source.
    EXPECT_FALSE(limiter.admit(ip("::ffff:127.0.0.1"), t0));
}

TEST(SourceRateLimiter, ZeroRateAdmitsEverything) {
    SourceRateLimiter limiter(0, 500);
    EXPECT_FALSE(limiter.enabled());
    EXPECT_EQ(admitted(limiter, ip("10.0.0.1"), 100000, t0), 100000);
    EXPECT_EQ(limiter.sources(), 0U);
}

TEST(SourceRateLimiter, TableIsBoundedAndEvictsTheLeastRecentlySeen) {
    SourceRateLimiter limiter(1, 1, 4);
    const auto kept = ip("10.0.0.100");
    EXPECT_TRUE(limiter.admit(kept, t0));
    EXPECT_FALSE(limiter.admit(kept, t0));  // empty bucket, remembered
    for (int i = 1; i <= 3; ++i)
        limiter.admit(ip(("10.0.1." + std::to_string(i)).c_str()), t0 + 1ms * i);
    EXPECT_EQ(limiter.sources(), 4U);
    // kept was seen more recently than 10.0.1.1..3 only if it is seen again now.
    EXPECT_FALSE(limiter.admit(kept, t0 + 4ms));
    // A fifth source evicts the least recently seen (10.0.1.1), not `kept`.
    EXPECT_TRUE(limiter.admit(ip("10.0.2.1"), t0 + 5ms));
    EXPECT_EQ(limiter.sources(), 4U);
    EXPECT_FALSE(limiter.admit(kept, t0 + 6ms));  // still limited: its entry survived
    // 10.0.1.1 was evicted: it comes back with a full bucket.
    EXPECT_TRUE(limiter.admit(ip("10.0.1.1"), t0 + 7ms));
    EXPECT_EQ(limiter.sources(), 4U);
}

TEST(SourceRateLimiter, ManySourcesNeverGrowTheTable) {
    SourceRateLimiter limiter(2000, 500);
    for (int i = 0; i < 5000; ++i) {
        IpAddress a = ip("2001:db8::");
        a.bytes[14] = static_cast<std::uint8_t>(i >> 8);
        a.bytes[15] = static_cast<std::uint8_t>(i);
        EXPECT_TRUE(limiter.admit(a, t0 + std::chrono::microseconds(i)));
    }
    EXPECT_EQ(limiter.sources(), SourceRateLimiter::kDefaultMaxSources);
}

TEST(KeyedWindowLimiter, LetsTheLimitThroughPerWindowAndSummarisesTheRest) {
    KeyedWindowLimiter limiter(10, 1s, 8);
    std::vector<KeyedWindowLimiter::Suppressed> ended;
    int passed = 0;
    for (int i = 0; i < 25; ++i) passed += limiter.admit("unknown address", t0 + 10ms * i, ended);
    EXPECT_EQ(passed, 10);
    EXPECT_TRUE(ended.empty());  // the window is still open
    EXPECT_EQ(limiter.suppressed_total(), 15U);

    limiter.expire(t0 + 999ms, ended);
    EXPECT_TRUE(ended.empty());
    limiter.expire(t0 + 1s, ended);
    ASSERT_EQ(ended.size(), 1U);
    EXPECT_EQ(ended[0].key, "unknown address");
    EXPECT_EQ(ended[0].count, 15U);
    EXPECT_EQ(limiter.keys(), 0U);

    // A new window: the limit again.
    ended.clear();
    passed = 0;
    for (int i = 0; i < 12; ++i) passed += limiter.admit("unknown address", t0 + 2s, ended);
    EXPECT_EQ(passed, 10);
}

TEST(KeyedWindowLimiter, KeysAreLimitedSeparately) {
    KeyedWindowLimiter limiter(2, 1s, 8);
    std::vector<KeyedWindowLimiter::Suppressed> ended;
    EXPECT_TRUE(limiter.admit("a", t0, ended));
    EXPECT_TRUE(limiter.admit("a", t0, ended));
    EXPECT_FALSE(limiter.admit("a", t0, ended));
    EXPECT_TRUE(limiter.admit("b", t0 + 500ms, ended));
    EXPECT_TRUE(limiter.admit("b", t0 + 500ms, ended));
    EXPECT_FALSE(limiter.admit("b", t0 + 500ms, ended));
    // At 1 s, a's window ends (reported on the next event of any key); b's is still open.
    EXPECT_TRUE(limiter.admit("a", t0 + 1s, ended));
    ASSERT_EQ(ended.size(), 1U);
    EXPECT_EQ(ended[0].key, "a");
    EXPECT_EQ(ended[0].count, 1U);
    EXPECT_FALSE(limiter.admit("b", t0 + 1s, ended));
    ended.clear();
    limiter.expire(t0 + 1500ms, ended);
    ASSERT_EQ(ended.size(), 1U);
    EXPECT_EQ(ended[0].key, "b");
    EXPECT_EQ(ended[0].count, 2U);
}

TEST(KeyedWindowLimiter, WindowsWithNothingHeldBackReportNothing) {
    KeyedWindowLimiter limiter(5, 1s, 8);
    std::vector<KeyedWindowLimiter::Suppressed> ended;
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter.admit("k", t0, ended));
    limiter.expire(t0 + 10s, ended);
    EXPECT_TRUE(ended.empty());
    EXPECT_EQ(limiter.keys(), 0U);
}

TEST(KeyedWindowLimiter, KeysBeyondTheTableShareOneOverflowKey) {
    KeyedWindowLimiter limiter(3, 1s, 4);
    std::vector<KeyedWindowLimiter::Suppressed> ended;
    int passed = 0;
    for (int k = 0; k < 100; ++k)
        for (int i = 0; i < 3; ++i)
            passed += limiter.admit("reason " + std::to_string(k), t0, ended) ? 1 : 0;
    // 4 named keys and the overflow key, 3 each.
    EXPECT_EQ(passed, 5 * 3);
    EXPECT_EQ(limiter.keys(), 5U);
    limiter.expire(t0 + 1s, ended);
    ASSERT_EQ(ended.size(), 1U);
    EXPECT_EQ(ended[0].key, "");
    EXPECT_EQ(ended[0].count, 96U * 3U - 3U);
}

// The log's policy: a new key always gets through, in the place of the key whose window is
// oldest, which reports what it held back then and there.
TEST(KeyedWindowLimiter, ForgettingTheOldestLetsEveryNewKeyThrough) {
    KeyedWindowLimiter limiter(1, 10s, 2, KeyedWindowLimiter::Overflow::forget_oldest);
    std::vector<KeyedWindowLimiter::Suppressed> ended;
    EXPECT_TRUE(limiter.admit("a", t0, ended));
    EXPECT_FALSE(limiter.admit("a", t0 + 1ms, ended));
    EXPECT_FALSE(limiter.admit("a", t0 + 2ms, ended));
    EXPECT_TRUE(limiter.admit("b", t0 + 3ms, ended));
    EXPECT_TRUE(ended.empty());
    // The table is full: "c" takes "a"'s place, and "a"'s two held back are told now.
    EXPECT_TRUE(limiter.admit("c", t0 + 4ms, ended));
    ASSERT_EQ(ended.size(), 1U);
    EXPECT_EQ(ended[0].key, "a");
    EXPECT_EQ(ended[0].count, 2U);
    EXPECT_EQ(limiter.keys(), 2U);
    // "a" starts afresh.
    EXPECT_TRUE(limiter.admit("a", t0 + 5ms, ended));
    EXPECT_EQ(limiter.suppressed_total(), 2U);
}

}  // namespace
