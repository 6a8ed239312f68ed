// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "daemon/record_memory.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

#include "io/memory_lock.hpp"
#include "looperd/sample_buffer.hpp"

namespace looperd {

namespace {
// While takes are written: an overdub uses undo memory as it goes, and a press on the grid may
// find the spare taken. A press that waits for memory waits this long (or housekeeping's
// 10 to 40 ms, when it wakes the thread) plus the time to make 2 × 60 s of stereo (tens of ms).
constexpr auto kBusyPoll = std::chrono::milliseconds(5);
// Otherwise: a spare is ready for the next press, and the events of a press wake the thread;
// this poll only catches what no event tells of (a press waiting on the grid, a dropped event).
constexpr auto kIdlePoll = std::chrono::milliseconds(100);

double mib(std::uint64_t bytes) {
    return static_cast<double>(bytes) / static_cast<double>(std::uint64_t{1} << 20);
}
}  // namespace

RecordMemory::RecordMemory(const RecorderPool& pool, MemoryBudget& budget,
                           std::uint32_t sample_rate, Send send)
    : pool_(pool),
      budget_(budget),
      sample_rate_(sample_rate),
      send_(std::move(send)),
      record_sent_(pool.record_buffers_taken()),
      undo_sent_(pool.undo_blocks_taken()) {}

RecordMemory::~RecordMemory() {
    stop();
}

void RecordMemory::start() {
    worker_.start({.round = [this] { poll(); },
                   .next_period = [this] { return next_poll(); },
                   .name = "record-memory"});
}

void RecordMemory::stop() {
    worker_.stop();
}

void RecordMemory::poll() {
    if (!pool_.enabled()) return;
    make_record_buffers();
    make_undo_blocks();
}

WorkerThread::Clock::duration RecordMemory::next_poll() const {
    if (!pool_.enabled()) return kIdlePoll;
    const bool wanted = pool_.record_buffers_wanted() > record_buffers_in_flight() ||
                        pool_.undo_blocks_wanted() > undo_blocks_in_flight();
    return wanted || pool_.waiting() > 0 || pool_.writing() > 0 ? kBusyPoll : kIdlePoll;
}

bool RecordMemory::wakes(EventKind kind) noexcept {
    switch (kind) {
        case EventKind::take_started:     // its buffer was the spare
        case EventKind::overdub_started:  // undo memory goes
        case EventKind::record_waiting:
        case EventKind::take_loaded:  // a take from disk took a buffer
            return true;
        default:
            return false;
    }
}

void RecordMemory::heard(const Event& e) {
    if (wakes(e.kind)) worker_.notify();
}

void RecordMemory::make_record_buffers() {
    std::uint32_t coming = record_buffers_in_flight();
    const std::uint32_t wanted = pool_.record_buffers_wanted();
    const bool refusing = refusals_sent_ != pool_.record_refusals_taken();
    for (std::uint32_t n = wanted > coming ? wanted - coming : 0; n > 0; --n) {
        const std::size_t bytes = pool_.record_buffer_bytes();
        if (!budget_.try_reserve(bytes)) {
            // The presses waiting beyond the buffers on their way are refused (one refusal in
            // the ring at a time); a spare that does not fit is tried again next round.
            if (pool_.waiting() > coming && !refusing &&
                send_(Command{CommandKind::record_memory_refused})) {
                ++refusals_sent_;
                spdlog::warn(
                    "recording: a take needs {:.1f} MiB and the memory budget has {:.1f} MiB "
                    "free (--memory-budget)",
                    mib(bytes), mib(budget_.limit() - budget_.used()));
            }
            return;
        }
        auto* b = new SampleBuffer(2, pool_.max_record_frames(), sample_rate_);
        if (!b->prefault()) {
            if (auto warning = memlock_warning_once(bytes, SampleBuffer::unlocked_bytes()))
                spdlog::warn("{}", *warning);
        }
        if (!send_(Command{CommandKind::assign_record_buffer, 0, 0.0F, 0, b})) {
            delete b;
            budget_.release(bytes);
            return;  // the ring is full: the next round
        }
        ++record_sent_;
        ++coming;
        spdlog::debug("recording: a record buffer of {:.1f} MiB made", mib(bytes));
    }
}

void RecordMemory::make_undo_blocks() {
    if (pool_.undo_blocks_wanted() <= undo_blocks_in_flight()) return;
    // Every block sent is the pool's next (it keeps them all): block undo_sent_ comes next.
    const std::size_t floats = pool_.undo_block_floats(undo_sent_);
    if (floats == 0) return;
    auto* b = new SampleBuffer(1, static_cast<std::uint32_t>(floats), sample_rate_);
    b->prefault();
    if (!send_(Command{CommandKind::assign_undo_block, 0, 0.0F, 0, b})) {
        delete b;
        return;
    }
    ++undo_sent_;
    spdlog::debug("recording: undo block {} of {} made", undo_sent_, pool_.max_undo_blocks());
}

}  // namespace looperd
