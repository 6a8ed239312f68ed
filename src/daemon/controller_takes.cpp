// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// Recording and takes, the Controller's part (docs/recording.md): record, overdub, undo, redo,
// /slot/<n>/save and load_take, /clock/from_slot, and keeping finished takes on disk.
// Threads: the network thread. Following the engine's takes and keeping them on disk is
// TakeTracker's (take_tracker.hpp).
#include "daemon/controller.hpp"

#include <spdlog/spdlog.h>

#include <cmath>
#include <utility>

namespace looperd {

// Recording (docs/recording.md). With --inputs 0 or --recorders 0 there is nothing to record
// with: say so instead of sending commands the engine would ignore.
bool Controller::require_recording(const Request& r) {
    if (config_.inputs > 0 && config_.recorders > 0) return true;
    refuse(r, "recording is off (--inputs 0 or --recorders 0)");
    return false;
}

// Presses only: a release (0) does nothing, so that a pad sends press and release freely.
void Controller::osc_slot_record(const Request& r) {
    if (!require_recording(r)) return;
    if (!button(r).value_or(false)) return;
    if (send(Command{*r.row.command, r.slot, 1.0F}, r)) {
        std::lock_guard lock(record_mutex_);
        record_askers_[r.slot] = r.from;
    }
}

void Controller::osc_slot_overdub(const Request& r) {
    if (!require_recording(r)) return;
    if (button(r).value_or(false)) send(Command{*r.row.command, r.slot, 1.0F}, r);
}

// Presses, like record: a surface's button sends 1 on press and 0 on release.
void Controller::osc_slot_undo(const Request& r) {
    if (!require_recording(r)) return;
    if (button(r).value_or(false)) send(Command{*r.row.command, r.slot}, r);
}

void Controller::osc_slot_redo(const Request& r) {
    if (!require_recording(r)) return;
    if (button(r).value_or(false)) send(Command{*r.row.command, r.slot}, r);
}

// Keeping takes (docs/recording.md). /slot/<n>/save: the take, as it is when the engine copies
// it, written by the take thread; the reply comes from there.
void Controller::osc_slot_save(const Request& r) {
    if (!require_recording(r) || !check_arity(r, 1, 2)) return;
    const auto& arg = r.message.args[0];
    if (!osc::is_string(arg) || arg.s.empty()) {
        refuse(r, "expected a file path string");
        return;
    }
    const std::string& path = arg.s;
    const bool wav = path.size() > 4 && (path.ends_with(".wav") || path.ends_with(".WAV"));
    if (!wav) {
        refuse(r, "a take is saved as a WAV file: the path must end in .wav");
        return;
    }
    auto reply_to = reply_endpoint(r, 1);
    if (!reply_to) return;
    const auto confined = confine(r, path);
    if (!confined) return;
    std::error_code ec;
    if (std::filesystem::is_directory(*confined, ec)) {
        refuse(r, "path is a directory");
        return;
    }
    if (!takes_.can_save()) {
        refuse(r, "takes cannot be saved (recording is off)");
        return;
    }
    // A save of the take the slot holds now: a later take or load makes it stale.
    const std::uint64_t generation = r.tx.mirror.slot(r.slot).generation;
    later(r, [this, slot = r.slot, generation, path, file = *confined, to = *reply_to,
              address = r.message.address] {
        takes_.save(TakeJob{
            slot, generation, file, false,
            [this, slot, path, file, to, address](const std::string& why, std::uint32_t frames) {
                if (!why.empty()) {
                    report_error(to, address, why);
                    return;
                }
                const float seconds =
                    static_cast<float>(frames) / static_cast<float>(sample_rate_());
                spdlog::info("slot {}: take saved to {} ({} frames)", slot, file.string(), frames);
                if (to.len == 0) return;
                reply_(to, OscMessage{osc::slot_address(osc::kSlotSaved, slot),
                                      {OscArg::string(path),
                                       OscArg::int32(static_cast<std::int32_t>(frames)),
                                       OscArg::float32(seconds)}});
            }});
    });
}

void Controller::osc_slot_load_take(const Request& r) {
    // A saved rig's take, restored with recording now off: better heard as a sample than lost.
    if (applying_rig_ && (config_.inputs == 0 || config_.recorders == 0)) {
        request_load(r, false);
        return;
    }
    if (require_recording(r)) request_load(r, true);
}

// The length of slot n's take, 0: none. The engine's word is the newer: a script that sends
// /clock/from_slot as soon as its surface shows the take playing is ahead of the mirror, which
// hears of the take from housekeeping. The mirror's word is the newer once it let the slot go.
std::uint32_t Controller::take_frames(std::uint32_t n, const Mirror::Slot& s) const {
    if (!s.emptied && config_.take_frames) {
        if (const std::uint32_t frames = config_.take_frames(n); frames != 0) return frames;
    }
    return s.take ? s.take_frames : 0;
}

// The tempo at which the slot's take lasts `beats` beats; the grid's zero where it began.
void Controller::osc_clock_from_slot(const Request& r) {
    if (!require_recording(r) || !check_arity(r, 2, 2)) return;
    const auto slot = osc::number(r.message.args[0]);
    const auto beats = osc::number(r.message.args[1]);
    const auto slots = static_cast<double>(config_.slots);
    if (!slot || *slot < 0.0 || *slot >= slots || std::trunc(*slot) != *slot) {
        refuse(r, fmt::format("slot must be a whole number from 0 to {}", config_.slots - 1));
        return;
    }
    if (!beats || *beats < r.row.min || *beats > r.row.max || std::trunc(*beats) != *beats) {
        refuse(r, fmt::format("{} must be a whole number from {} to {}", r.row.what, r.row.min,
                              r.row.max));
        return;
    }
    const auto n = static_cast<std::uint32_t>(*slot);
    if (r.tx.mirror.globals().sync == ClockSource::jack) {
        refuse(r, "the clock follows JACK's transport: /clock/sync internal first");
        return;
    }
    if (r.tx.mirror.globals().sync == ClockSource::midi) {
        refuse(r, "the clock follows MIDI clock: /clock/sync internal first");
        return;
    }
    if (r.tx.mirror.globals().sync == ClockSource::link) {
        refuse(r, "the clock follows Ableton Link: /clock/sync internal first");
        return;
    }
    const std::uint32_t frames = take_frames(n, r.tx.mirror.slot(n));
    if (frames == 0) {
        refuse(r, fmt::format("slot {} holds no take", n));
        return;
    }
    const double bpm =
        *beats * 60.0 * static_cast<double>(sample_rate_()) / static_cast<double>(frames);
    const osc::Row& tempo_row = osc::row(osc::Handler::clock_tempo);
    if (bpm < tempo_row.min || bpm > tempo_row.max) {
        refuse(r, fmt::format("{} beats over the take make {:.2f} BPM, outside {} to {}", *beats,
                              bpm, tempo_row.min, tempo_row.max));
        return;
    }
    const auto tempo = static_cast<float>(bpm);
    if (!send(Command{*r.row.command, n, tempo}, r)) return;
    r.tx.mirror.edit_globals().tempo = tempo;
    echo(r, r.row.echo, OscArg::float32(tempo));
}

void Controller::wait_for_takes() {
    takes_.wait_idle();
}

// A record press waited for memory that the budget could not give (docs/recording.md#memory):
// answered to whoever pressed, as a refusal at the press would have been.
void Controller::record_refused(std::uint32_t slot) {
    std::optional<OscEndpoint> to;
    {
        std::lock_guard lock(record_mutex_);
        if (slot < record_askers_.size()) to = std::exchange(record_askers_[slot], std::nullopt);
    }
    const double take = static_cast<double>(config_.max_record_frames) * 2 * sizeof(float);
    const double free = static_cast<double>(budget_.limit() - budget_.used());
    const std::string why = fmt::format(
        "no memory for a take: one needs {:.1f} MiB and the memory budget has {:.1f} MiB free "
        "(--memory-budget; clear a slot or unload samples)",
        take / 1048576.0, free / 1048576.0);
    if (to && to->len != 0)
        report_error(*to, osc::slot_address(osc::row(osc::Handler::record).address, slot), why);
}

void Controller::engine_event(const Event& e) {
    takes_.engine_event(e);
    // A take in place of the sample: the stretch thread has nothing of the sample to render.
    switch (e.kind) {
        case EventKind::take_started:
        case EventKind::take_loaded:
            stretch_.source_gone(e.slot);
            break;
        // The take's frames settle: a slot in `stretch pitch` renders them again.
        case EventKind::take_finished:
        case EventKind::take_max_reached:
        case EventKind::overdub_ended:
        case EventKind::undo_done:
        case EventKind::redo_done:
            stretch_.wake();
            break;
        case EventKind::record_memory_refused:
            record_refused(e.slot);
            break;
        default:
            break;
    }
}

}  // namespace looperd
