// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <type_traits>
#include <vector>

#include "looperd/command.hpp"
#include "looperd/event.hpp"
#include "looperd/rt_guard.hpp"
#include "looperd/spsc_ring.hpp"
#include "wait_until.hpp"

namespace {

using looperd::SpscRing;

// The rings the engine builds must be constructible from its message types.
static_assert(std::is_constructible_v<SpscRing<looperd::Command>, std::size_t>);
static_assert(std::is_constructible_v<SpscRing<looperd::Event>, std::size_t>);

TEST(SpscRing, PopsInPushOrder) {
    SpscRing<int> ring(16);
    EXPECT_EQ(ring.capacity(), 16U);
    int v = -1;
    EXPECT_FALSE(ring.try_pop(v)) << "a new ring is empty";

    for (int i = 0; i < 10; ++i) ASSERT_TRUE(ring.try_push(i));
    EXPECT_EQ(ring.size_approx(), 10U);
    for (int i = 0; i < 10; ++i) {
        ASSERT_TRUE(ring.try_pop(v));
        EXPECT_EQ(v, i);
    }
    EXPECT_FALSE(ring.try_pop(v));

    // Many laps round the ring, with the read and write positions at every offset.
    int next_in = 0;
    int next_out = 0;
    for (int lap = 0; lap < 1000; ++lap) {
        for (int k = 0; k < 1 + lap % 7; ++k) ASSERT_TRUE(ring.try_push(next_in++));
        for (int k = 0; k < 1 + lap % 7; ++k) {
            ASSERT_TRUE(ring.try_pop(v));
            ASSERT_EQ(v, next_out++);
        }
    }
    EXPECT_FALSE(ring.try_pop(v));
}

TEST(SpscRing, FullRingRefusesWithoutAllocating) {
    // Small rings, and rings past moodycamel's single-block size, where it chains blocks.
    for (const std::size_t capacity : {16U, 100U, 1000U, 1024U, 1500U, 5000U}) {
        SCOPED_TRACE(testing::Message() << "capacity " << capacity);
        SpscRing<std::uint64_t> ring(capacity);
        EXPECT_EQ(ring.capacity(), capacity);

        // Inside the guard: a push that allocated would abort the test binary.
        const std::size_t bound = 2 * capacity + 2;
        std::size_t accepted = 0;
        bool refused = false;
        bool refused_again = false;
        {
            looperd::rt_guard::Scope audio_thread;
            while (accepted <= bound) {
                if (!ring.try_push(accepted)) {
                    refused = true;
                    break;
                }
                ++accepted;
            }
            refused_again = !ring.try_push(12345);
        }
        ASSERT_TRUE(refused) << "no full ring after " << accepted << " pushes";
        EXPECT_TRUE(refused_again);
        EXPECT_GE(accepted, capacity) << "capacity not honoured";
        EXPECT_LE(accepted, bound);

        // Below `capacity` queued values a push always succeeds again. (One pop is not always
        // enough: a ring larger than one moodycamel block reuses space a block at a time.)
        std::uint64_t v = 0;
        std::uint64_t expected = 0;
        while (expected + capacity <= accepted) {
            ASSERT_TRUE(ring.try_pop(v));
            ASSERT_EQ(v, expected++);
        }
        bool pushed = false;
        {
            looperd::rt_guard::Scope audio_thread;
            pushed = ring.try_push(accepted);
        }
        EXPECT_TRUE(pushed);
        // What was refused never entered: the rest arrive in order, then the one just pushed.
        for (; expected <= accepted; ++expected) {
            ASSERT_TRUE(ring.try_pop(v));
            ASSERT_EQ(v, expected);
        }
        EXPECT_FALSE(ring.try_pop(v));
    }
}

TEST(SpscRing, TwoThreadsDeliverAMillionIntsInOrder) {
    using Clock = std::chrono::steady_clock;
    constexpr int kCount = 1'000'000;
    SpscRing<int> ring(1024);
    // Each side gives up only when the other has moved nothing for kHangBound: a hang, never
    // a slow machine (a million ints may take minutes under emulation or a sanitizer).
    std::atomic<int> pushed{0};
    std::atomic<int> popped{0};
    std::atomic<bool> give_up{false};

    std::thread producer([&] {
        auto stalled_since = Clock::now();
        int seen = popped.load(std::memory_order_relaxed);
        for (int i = 0; i < kCount && !give_up.load(std::memory_order_relaxed);) {
            if (ring.try_push(i)) {
                pushed.store(++i, std::memory_order_relaxed);
            } else if (const int now_popped = popped.load(std::memory_order_relaxed);
                       now_popped != seen) {
                seen = now_popped;
                stalled_since = Clock::now();
            } else if (Clock::now() - stalled_since > looperd::test::kHangBound) {
                return;
            } else {
                std::this_thread::yield();
            }
        }
    });

    int received = 0;
    int mismatch_at = -1;
    int mismatch_value = 0;
    bool hung = false;
    auto stalled_since = Clock::now();
    int seen = 0;
    while (received < kCount) {
        int v = 0;
        if (ring.try_pop(v)) {
            if (v != received) {
                mismatch_at = received;
                mismatch_value = v;
                break;
            }
            popped.store(++received, std::memory_order_relaxed);
        } else if (const int now_pushed = pushed.load(std::memory_order_relaxed);
                   now_pushed != seen) {
            seen = now_pushed;
            stalled_since = Clock::now();
        } else if (Clock::now() - stalled_since > looperd::test::kHangBound) {
            hung = true;
            break;
        } else {
            std::this_thread::yield();
        }
    }
    give_up.store(true, std::memory_order_relaxed);
    producer.join();

    EXPECT_EQ(mismatch_at, -1) << "expected " << mismatch_at << ", got " << mismatch_value;
    EXPECT_FALSE(hung) << looperd::test::hung("the next int's arrival") << " (" << received
                       << " received)";
    EXPECT_EQ(received, kCount);
    int v = 0;
    EXPECT_FALSE(ring.try_pop(v)) << "more arrived than was sent";
}

}  // namespace
