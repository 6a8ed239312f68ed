// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "daemon/housekeeping.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "looperd/midi_clock_in.hpp"
#include "looperd/sample_buffer.hpp"

namespace looperd {

Housekeeping::Housekeeping(Engine& engine, MemoryBudget& budget, XrunSource xruns)
    : engine_(engine), budget_(budget), xruns_(std::move(xruns)) {}

Housekeeping::~Housekeeping() {
    worker_.stop();
    // What the sink reaches may be gone by now (made after this object): the last events are
    // only logged, and their buffers freed.
    sink_ = nullptr;
    poll();
}

void Housekeeping::start() {
    worker_.start({.round = [this] { poll(); },
                   .next_period = [this] { return next_poll(); },
                   .name = "housekeeping"});
}

void Housekeeping::stop() {
    worker_.stop();
    poll();
}

WorkerThread::Clock::duration Housekeeping::next_poll() const {
    return wait_;
}

void Housekeeping::poll() {
    Event e;
    bool found = false;
    while (engine_.try_receive(e)) {
        found = true;
        if (sink_ && e.kind != EventKind::buffer_retired) sink_(e);
        switch (e.kind) {
            case EventKind::buffer_retired: {
                // Another holder (the stretch renderer reading it) frees it when done.
                if (!e.buffer->let_go()) break;
                const auto bytes = e.buffer->bytes();
                delete e.buffer;
                budget_.release(bytes);
                buffers_freed_.fetch_add(1);
                spdlog::debug("freed a retired sample buffer ({} bytes)", bytes);
                break;
            }
            case EventKind::voice_ended:
                spdlog::trace("slot {}: voice ended", e.slot);
                break;
            case EventKind::voice_refused:
                spdlog::warn("slot {}: play refused, all {} voices busy (raise --voices)", e.slot,
                             engine_.config().voices);
                break;
            case EventKind::bad_command:
                spdlog::error("audio thread ignored a command for slot {} (outside the table)",
                              e.slot);
                break;
            case EventKind::take_started:
                spdlog::info("slot {}: recording", e.slot);
                break;
            case EventKind::take_finished:
                spdlog::info("slot {}: take of {} frames loops", e.slot, e.frames);
                break;
            case EventKind::take_max_reached:
                spdlog::warn(
                    "slot {}: take reached the maximum length ({} frames, "
                    "--max-record-seconds): it ended and loops",
                    e.slot, e.frames);
                break;
            case EventKind::record_waiting:
                spdlog::info("slot {}: waits for record memory (made now; it starts once ready)",
                             e.slot);
                break;
            case EventKind::record_memory_refused:
                spdlog::warn(
                    "slot {}: record refused, no memory for another take within "
                    "--memory-budget (clear a slot, or raise --memory-budget)",
                    e.slot);
                break;
            case EventKind::recorder_refused:
                spdlog::warn(
                    "slot {}: record refused, all {} recorders hold takes (clear a slot "
                    "or raise --recorders)",
                    e.slot, engine_.config().recorders);
                break;
            case EventKind::overdub_started:
                spdlog::info("slot {}: overdubbing", e.slot);
                break;
            case EventKind::overdub_ended:
                spdlog::info("slot {}: overdub ended", e.slot);
                break;
            case EventKind::overdub_undo_full:
                spdlog::warn("slot {}: undo memory full, overdub ended (raise --undo-memory-mib)",
                             e.slot);
                break;
            case EventKind::undo_done:
                spdlog::info("slot {}: undone", e.slot);
                break;
            case EventKind::redo_done:
                spdlog::info("slot {}: redone", e.slot);
                break;
            case EventKind::undo_refused:
                spdlog::info("slot {}: nothing to undo or redo", e.slot);
                break;
            case EventKind::snapshot_done:
            case EventKind::snapshot_refused:
                break;  // the take thread says what it wrote
            case EventKind::take_loaded:
                spdlog::info("slot {}: take of {} frames loaded, ready to overdub", e.slot,
                             e.frames);
                break;
            case EventKind::take_load_refused:
                spdlog::warn(
                    "slot {}: plays the file as a sample, not as a take: no free recorder, no "
                    "memory for one within --memory-budget, or longer than --max-record-seconds "
                    "({} frames)",
                    e.slot, e.frames);
                break;
            case EventKind::tempo_refused:
                spdlog::warn("slot {}: no take to set the tempo from", e.slot);
                break;
            case EventKind::midi_clock_found:
                spdlog::info("MIDI clock: ticks coming in, the beat grid follows them");
                break;
            case EventKind::midi_clock_lost:
                spdlog::warn(
                    "MIDI clock lost (no tick for {} s): the beat grid runs on at the last tempo",
                    MidiClockIn::kLossSeconds);
                break;
        }
    }
    wait_ = found ? WorkerThread::Clock::duration(kBusyPoll)
                  : std::min<WorkerThread::Clock::duration>(wait_ * 2, kIdlePoll);
    // Xruns come in bursts on a loaded machine: one line a second at most, with the count.
    if (xruns_) {
        const auto x = xruns_();
        const auto now = std::chrono::steady_clock::now();
        if (x != xruns_logged_ && now - last_xrun_log_ >= std::chrono::seconds(1)) {
            spdlog::warn("xruns: {} since start (+{})", x, x - xruns_logged_);
            xruns_logged_ = x;
            last_xrun_log_ = now;
        }
    }
}

}  // namespace looperd
