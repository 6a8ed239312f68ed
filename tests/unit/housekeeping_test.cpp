// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// Housekeeping: the engine's events read on a timer that lengthens while none come.
#include "daemon/housekeeping.hpp"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <vector>

#include "looperd/command.hpp"
#include "looperd/engine.hpp"
#include "looperd/rt_guard.hpp"

namespace {

using namespace looperd;
using namespace std::chrono_literals;

class HousekeepingTest : public ::testing::Test {
  protected:
    HousekeepingTest() : engine_(config()), housekeeping_(engine_, budget_, nullptr) {}

    static EngineConfig config() {
        EngineConfig c;
        c.slots = 4;
        c.voices = 4;
        c.recorders = 0;
        return c;
    }

    // One block in which the engine posts an event: a play for a slot outside the table.
    void block_with_an_event() {
        ASSERT_TRUE(engine_.try_send({CommandKind::play, config().slots, 1.0F, 0, nullptr}));
        block();
    }
    void block() {
        std::array<float*, 2> outs{left_.data(), right_.data()};
        rt_guard::Scope audio_thread;
        engine_.process(outs.data(), 128);
    }

    Engine engine_;
    MemoryBudget budget_{std::uint64_t{1} << 30};
    Housekeeping housekeeping_;
    std::vector<float> left_ = std::vector<float>(128);
    std::vector<float> right_ = std::vector<float>(128);
};

TEST_F(HousekeepingTest, PollsOftenAfterEventsAndLessOftenWhileNoneCome) {
    EXPECT_EQ(housekeeping_.next_poll(), Housekeeping::kBusyPoll) << "before any round";
    block();
    housekeeping_.poll();
    EXPECT_EQ(housekeeping_.next_poll(), 2 * Housekeeping::kBusyPoll) << "one quiet round";
    housekeeping_.poll();
    EXPECT_EQ(housekeeping_.next_poll(), 4 * Housekeeping::kBusyPoll) << "two quiet rounds";
    for (int k = 0; k < 5; ++k) housekeeping_.poll();
    EXPECT_EQ(housekeeping_.next_poll(), Housekeeping::kIdlePoll) << "quiet: at most this";

    block_with_an_event();
    housekeeping_.poll();
    EXPECT_EQ(housekeeping_.next_poll(), Housekeeping::kBusyPoll) << "an event came";
    housekeeping_.poll();
    EXPECT_EQ(housekeeping_.next_poll(), 2 * Housekeeping::kBusyPoll) << "none since";
}

}  // namespace
