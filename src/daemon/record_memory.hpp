// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

#include "daemon/worker_thread.hpp"
#include "io/memory_budget.hpp"
#include "looperd/command.hpp"
#include "looperd/event.hpp"
#include "looperd/recorder_pool.hpp"

namespace looperd {

// RecordMemory: the thread that makes the memory recording asks for, when it asks
// (RecorderPoolConfig::on_demand, docs/recording.md#memory). It reads what the engine's
// recorder pool publishes it wants, allocates and prefaults (locks) record buffers and undo
// blocks, and sends them with assign_record_buffer and assign_undo_block. The audio thread
// never waits for it: a record press that finds no buffer waits in the engine, and is refused
// (record_memory_refused) when the budget has no room.
//
// Record buffers are reserved in the MemoryBudget before they are made; housekeeping releases
// them when the engine retires a spare. Undo blocks are bounded by --undo-memory-mib alone and
// kept until the engine goes.
//
// It polls: the audio thread wakes no one. Every 5 ms while a take is recorded or overdubbed or
// memory is wanted, every 100 ms otherwise; housekeeping wakes it at once (heard()) when the
// engine tells of a take or an overdub starting, a press waiting or a take loaded.
class RecordMemory {
  public:
    using Send = std::function<bool(const Command&)>;  // false: the ring is full

    // Before the engine's first block: what its constructor made counts as sent.
    RecordMemory(const RecorderPool& pool, MemoryBudget& budget, std::uint32_t sample_rate,
                 Send send);
    ~RecordMemory();
    RecordMemory(const RecordMemory&) = delete;
    RecordMemory& operator=(const RecordMemory&) = delete;

    // Polls on the thread (next_poll() apart); stop() joins.
    void start();
    void stop();
    // One round: what the pool wants and was not sent, made and sent. The thread's (or a
    // test's, when not started).
    void poll();
    // The wait after a round: short while a take is written or memory is wanted or waited for,
    // long otherwise. The thread's (or a test's, when not started).
    WorkerThread::Clock::duration next_poll() const;
    // Housekeeping's thread: an engine event; those after which memory may be wanted wake the
    // thread for a round now.
    void heard(const Event& e);
    static bool wakes(EventKind kind) noexcept;

    // Made and sent since start (any thread; for tests and the log).
    std::uint32_t record_buffers_sent() const noexcept { return record_sent_; }
    std::uint32_t undo_blocks_sent() const noexcept { return undo_sent_; }

  private:
    // Sent and not yet taken by the engine: in the command ring.
    std::uint32_t record_buffers_in_flight() const noexcept {
        return record_sent_ - pool_.record_buffers_taken();
    }
    std::uint32_t undo_blocks_in_flight() const noexcept {
        return undo_sent_ - pool_.undo_blocks_taken();
    }
    void make_record_buffers();
    void make_undo_blocks();

    const RecorderPool& pool_;
    MemoryBudget& budget_;
    std::uint32_t sample_rate_;
    Send send_;
    // Counted as the pool counts what it received (RecorderPool::record_buffers_taken): the
    // difference is what is in the command ring.
    std::uint32_t record_sent_ = 0;
    std::uint32_t undo_sent_ = 0;
    std::uint32_t refusals_sent_ = 0;  // record_memory_refused, as RecorderPool counts them
    WorkerThread worker_;              // last: its thread uses the members above
};

}  // namespace looperd
