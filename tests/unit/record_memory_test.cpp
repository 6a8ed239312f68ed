// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// RecordMemory against a real engine rendered by hand (engine_harness.hpp): the memory a
// recorder pool on demand asks for is made, sent and taken, and past the budget a waiting
// press is refused while everything already recording goes on (docs/recording.md#memory).

#include <gtest/gtest.h>

#include <chrono>

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

// The thread's pace: a poll every 5 ms while a take is written, overdubbed or waited for, or
// memory is wanted; every 100 ms while nothing records. The pool says how many takes it writes.
TEST(RecordMemory, PollsOftenOnlyWhileTakesAreWrittenOrMemoryIsWanted) {
    using std::chrono::milliseconds;
    Rig rig(1ULL << 30);
    const RecorderPool& pool = rig.h.engine().recorder_pool();
    rig.h.render(128);
    rig.memory.poll();
    EXPECT_EQ(rig.memory.next_poll(), milliseconds(100)) << "idle";

    rig.h.send(CommandKind::record, 0);
    rig.h.render(128);
    EXPECT_EQ(pool.writing(), 1U);
    EXPECT_EQ(rig.memory.next_poll(), milliseconds(5)) << "the spare went to the take";
    rig.memory.poll();
    rig.h.render(128);
    EXPECT_EQ(pool.record_buffers_wanted(), 0U);
    EXPECT_EQ(rig.memory.next_poll(), milliseconds(5)) << "recording";

    rig.h.render(4096);
    rig.h.send(CommandKind::record, 0);  // the take ends and loops
    rig.h.render(128);
    EXPECT_EQ(pool.writing(), 0U);
    rig.memory.poll();
    EXPECT_EQ(rig.memory.next_poll(), milliseconds(100)) << "a loop playing";

    rig.h.send(CommandKind::overdub, 0);
    rig.h.render(128);
    EXPECT_EQ(pool.writing(), 1U);
    EXPECT_EQ(rig.memory.next_poll(), milliseconds(5)) << "overdubbing";
    rig.h.send(CommandKind::overdub, 0);
    rig.h.render(128);
    EXPECT_EQ(pool.writing(), 0U);
    rig.memory.poll();
    rig.h.render(128);
    EXPECT_EQ(rig.memory.next_poll(), milliseconds(100)) << "the overdub ended";

    // A press that finds no buffer (the spare is not yet sent back): busy until it is served.
    rig.h.send(CommandKind::record, 1);
    rig.h.send(CommandKind::record, 2);
    rig.h.render(128);
    ASSERT_EQ(pool.waiting(), 1U);
    EXPECT_EQ(rig.memory.next_poll(), milliseconds(5)) << "a press waits";
}

// Housekeeping wakes the thread on the events after which memory may be wanted, on no other.
TEST(RecordMemory, TheEventsOfATakeStartingWakeIt) {
    for (const auto kind : {EventKind::take_started, EventKind::overdub_started,
                            EventKind::record_waiting, EventKind::take_loaded})
        EXPECT_TRUE(RecordMemory::wakes(kind)) << static_cast<int>(kind);
    for (const auto kind :
         {EventKind::voice_ended, EventKind::buffer_retired, EventKind::take_finished,
          EventKind::overdub_ended, EventKind::undo_done, EventKind::record_memory_refused})
        EXPECT_FALSE(RecordMemory::wakes(kind)) << static_cast<int>(kind);
}

}  // namespace
}  // namespace looperd::test
