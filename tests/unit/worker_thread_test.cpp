// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// WorkerThread: the shape of the loader, persister, housekeeping and feedback threads.
#include "daemon/worker_thread.hpp"

#include <gtest/gtest.h>
#include <pthread.h>

#include <array>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "wait_until.hpp"

namespace {

using namespace looperd;
using namespace std::chrono_literals;
using test::hung;
using test::wait_until;

TEST(WorkerThread, ARoundRunsAtStartAndOnEveryNotify) {
    std::atomic<int> rounds{0};
    WorkerThread worker;
    worker.start({.round = [&rounds] { ++rounds; }});
    ASSERT_TRUE(wait_until([&] { return rounds.load() == 1; })) << hung("the first round");
    for (int k = 2; k <= 50; ++k) {
        worker.notify();
        ASSERT_TRUE(wait_until([&] { return rounds.load() >= k; })) << hung("a notified round");
    }
    worker.stop();
    EXPECT_FALSE(worker.running());
    const int after = rounds.load();
    worker.notify();  // stopped: nothing runs
    EXPECT_EQ(rounds.load(), after);
}

// The thread carries its name, as `top -H` and `ps -L` show it; a nameless one, looperd's.
TEST(WorkerThread, TheThreadIsNamed) {
    for (const char* name : {"record-memory", static_cast<const char*>(nullptr)}) {
        std::atomic<bool> done{false};
        std::string seen;
        WorkerThread worker;
        WorkerThread::Rounds rounds{.round = [&] {
            std::array<char, 16> buffer{};
            pthread_getname_np(pthread_self(), buffer.data(), buffer.size());
            seen = buffer.data();
            done = true;
        }};
        if (name != nullptr) rounds.name = name;
        worker.start(std::move(rounds));
        ASSERT_TRUE(wait_until([&] { return done.load(); })) << hung("the first round");
        worker.stop();
        EXPECT_EQ(seen, name != nullptr ? name : "looperd");
    }
}

// A notify() that comes while a round runs is not lost: another round follows.
TEST(WorkerThread, ANotifyDuringARoundAsksForAnother) {
    std::atomic<int> rounds{0};
    std::atomic<bool> in_round{false};
    std::atomic<bool> release{false};
    WorkerThread worker;
    worker.start({.round = [&] {
        ++rounds;
        if (rounds.load() == 2) {
            in_round = true;
            while (!release.load()) std::this_thread::yield();
        }
    }});
    ASSERT_TRUE(wait_until([&] { return rounds.load() == 1; })) << hung("the first round");
    worker.notify();
    ASSERT_TRUE(wait_until([&] { return in_round.load(); })) << hung("the second round");
    worker.notify();  // during round 2
    release = true;
    ASSERT_TRUE(wait_until([&] { return rounds.load() == 3; })) << hung("the third round");
    worker.stop();
}

TEST(WorkerThread, APeriodRunsRoundsWithoutNotify) {
    std::atomic<int> rounds{0};
    WorkerThread worker;
    worker.start({.round = [&rounds] { ++rounds; }, .period = 1ms});
    ASSERT_TRUE(wait_until([&] { return rounds.load() >= 5; })) << hung("periodic rounds");
    worker.stop();
}

// next_period, asked after each round, sets the wait before the next one in place of period:
// here rounds 1 ms apart until the fifth, then none until a notify().
TEST(WorkerThread, NextPeriodSetsEachWaitAndZeroRestsUntilNotified) {
    std::atomic<int> rounds{0};
    std::atomic<int> asked{0};
    WorkerThread worker;
    worker.start({.round = [&rounds] { ++rounds; },
                  .period = 1h,
                  .next_period = [&]() -> WorkerThread::Clock::duration {
                      ++asked;
                      return rounds.load() < 5 ? WorkerThread::Clock::duration(1ms)
                                               : WorkerThread::Clock::duration::zero();
                  }});
    ASSERT_TRUE(wait_until([&] { return rounds.load() == 5; })) << hung("rounds 1 ms apart");
    ASSERT_TRUE(wait_until([&] { return asked.load() == 5; })) << hung("the fifth round's period");
    // Resting: whatever the scheduler does meanwhile, no round runs without a notify().
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(rounds.load(), 5);
    worker.notify();
    ASSERT_TRUE(wait_until([&] { return rounds.load() == 6; })) << hung("the notified round");
    worker.stop();
    EXPECT_EQ(rounds.load(), 6);
}

TEST(WorkerThread, StopRunsTheLastStepOnceAfterTheLastRound) {
    std::atomic<int> rounds{0};
    std::atomic<int> lasts{0};
    std::atomic<int> rounds_at_last{-1};
    WorkerThread worker;
    worker.start({.round = [&rounds] { ++rounds; },
                  .period = 1h,
                  .last =
                      [&] {
                          rounds_at_last = rounds.load();
                          ++lasts;
                      }});
    ASSERT_TRUE(wait_until([&] { return rounds.load() == 1; })) << hung("the first round");
    worker.stop();  // wakes it from its hour-long sleep
    EXPECT_EQ(lasts.load(), 1);
    EXPECT_EQ(rounds_at_last.load(), rounds.load());
    worker.stop();
    EXPECT_EQ(lasts.load(), 1);
    // It starts again.
    worker.start({.round = [&rounds] { ++rounds; }});
    ASSERT_TRUE(wait_until([&] { return rounds.load() == 2; })) << hung("a round after restart");
}

}  // namespace
