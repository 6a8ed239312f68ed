// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// RecordMemory against a real engine rendered by hand (engine_harness.hpp): the memory a
// recorder pool on demand asks for is made, sent and taken, and past the budget a waiting
// press is refused while everything already recording goes on (docs/recording.md#memory).

#include <gtest/gtest.h>

#include "daemon/record_memory.hpp"
#include "engine_harness.hpp"
#include "io/memory_budget.hpp"

namespace looperd::test {
namespace {

EngineConfig on_demand_config() {
    EngineConfig c;
    c.outputs = 2;
    c.slots = 8;
    c.voices = 16;
    c.inputs = 2;
    c.recorders = 4;
    c.max_record_seconds = 1.0F;
    c.undo_levels = 3;
    c.undo_memory_mib = 8;
    c.record_memory_on_demand = true;
    return c;
}

struct Rig {
    explicit Rig(std::uint64_t budget_bytes)
        : budget(budget_bytes),
          memory(h.engine().recorder_pool(), budget, 48000,
                 [this](const Command& c) { return h.engine().try_send(c); }) {}
    EngineHarness h{on_demand_config()};
    MemoryBudget budget;
    RecordMemory memory;
};

TEST(RecordMemory, MakesWhatThePoolWantsAndAPressThatWaitedStartsOnceItArrives) {
    Rig rig(1ULL << 30);
    const RecorderPool& pool = rig.h.engine().recorder_pool();
    const std::size_t take = pool.record_buffer_bytes();
    EXPECT_EQ(take, 2U * 48000 * sizeof(float));
    rig.memory.poll();
    EXPECT_EQ(rig.memory.record_buffers_sent(), 1U) << "the constructor's spare counts as sent";
    EXPECT_EQ(rig.budget.used(), 0U) << "nothing wanted, nothing made";

    rig.h.send(CommandKind::record, 0);
    rig.h.send(CommandKind::record, 1);
    rig.h.render(128);
    EXPECT_EQ(rig.h.count(EventKind::take_started, 0), 1U);
    EXPECT_EQ(rig.h.count(EventKind::record_waiting, 1), 1U);
    rig.memory.poll();
    EXPECT_EQ(rig.memory.record_buffers_sent(), 3U) << "slot 1's buffer and a new spare";
    EXPECT_EQ(rig.budget.used(), 2 * take);
    rig.memory.poll();
    EXPECT_EQ(rig.memory.record_buffers_sent(), 3U) << "what is in flight is not made twice";
    rig.h.render(128);
    EXPECT_EQ(rig.h.count(EventKind::take_started, 1), 1U);
    EXPECT_EQ(pool.waiting(), 0U);
    rig.memory.poll();
    EXPECT_EQ(rig.memory.record_buffers_sent(), 3U);
    EXPECT_EQ(pool.record_buffers_wanted(), 0U);
}

TEST(RecordMemory, APressPastTheBudgetIsRefusedAndTheTakeUnderWayGoesOn) {
    // The constructor's buffer is outside the budget; the budget has room for half a take, so
    // the second take cannot be had.
    const std::size_t take = 2U * 48000 * sizeof(float);
    Rig rig(take / 2);
    const RecorderPool& pool = rig.h.engine().recorder_pool();
    rig.h.send(CommandKind::record, 0);
    rig.h.render(128);
    rig.memory.poll();  // a spare is wanted and does not fit: nothing is waiting, so no answer
    rig.h.render(128);
    EXPECT_EQ(rig.h.count(EventKind::record_memory_refused), 0U);
    rig.h.send(CommandKind::record, 1);
    rig.h.render(128);
    ASSERT_EQ(pool.waiting(), 1U);
    rig.memory.poll();
    rig.h.render(128);
    EXPECT_EQ(rig.h.count(EventKind::record_memory_refused, 1), 1U);
    EXPECT_EQ(rig.h.count(EventKind::take_started, 1), 0U);
    EXPECT_EQ(pool.waiting(), 0U);
    EXPECT_EQ(rig.h.engine().slot_record_state(0), RecorderPool::RecordState::recording);
    EXPECT_EQ(rig.budget.used(), 0U) << "nothing reserved for what was refused";
    EXPECT_EQ(rig.memory.record_buffers_sent(), 1U);

    // Slot 0's take is cleared: its buffer is the spare, and slot 1 records at once.
    rig.h.send(CommandKind::clear, 0);
    rig.h.render(128);
    rig.h.send(CommandKind::record, 1);
    rig.h.render(128);
    EXPECT_EQ(rig.h.count(EventKind::take_started, 1), 1U);
}

}  // namespace
}  // namespace looperd::test
