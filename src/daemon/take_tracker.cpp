// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "daemon/take_tracker.hpp"

#include <spdlog/spdlog.h>

#include "daemon/path_confinement.hpp"

namespace looperd {

TakeTracker::TakeTracker(const Config& config, Mirror& mirror, CommandPort& port,
                         std::function<std::uint32_t()> sample_rate)
    : config_(config), mirror_(mirror), sample_rate_(std::move(sample_rate)) {
    if (config_.recording && config_.max_record_frames > 0) {
        keeper_ = std::make_unique<TakeKeeper>([&port](const Command& c) { return port.send(c); },
                                               sample_rate_, config_.max_record_frames);
    }
}

TakeTracker::~TakeTracker() {
    stop();
}

void TakeTracker::stop() {
    if (keeper_) keeper_->stop();
}

void TakeTracker::wait_idle() {
    if (keeper_) keeper_->wait_idle();
}

void TakeTracker::save(TakeJob job) {
    keeper_->save(std::move(job));
}

std::optional<std::filesystem::path> TakeTracker::kept_file(const Mirror::Slot& s) const {
    if (!keeper_ || config_.takes_dir.empty() || !s.take || s.path.empty()) return std::nullopt;
    if (!PathConfinement::is_within(s.resolved, config_.takes_dir)) return std::nullopt;
    return s.resolved;
}

void TakeTracker::copy(
    std::uint32_t slot, std::uint64_t generation,
    std::function<void(const SampleBuffer&, std::uint32_t, std::uint32_t)> copied,
    std::function<void()> failed) {
    if (!keeper_) return;
    TakeJob job{slot,
                generation,
                {},
                false,
                [slot, failed = std::move(failed)](const std::string& why, std::uint32_t) {
                    if (why.empty()) return;
                    spdlog::debug("slot {}: take not copied: {}", slot, why);
                    failed();
                }};
    job.copied = std::move(copied);
    keeper_->save(std::move(job));
}

void TakeTracker::forget(const std::filesystem::path& file) {
    if (keeper_) keeper_->forget(file);
}

void TakeTracker::keep(std::uint32_t slot, std::uint64_t generation) {
    if (!keeper_ || config_.takes_dir.empty()) return;
    const std::filesystem::path file =
        config_.takes_dir / ("slot-" + std::to_string(slot) + ".wav");
    keeper_->save(TakeJob{
        slot, generation, file, true,
        [this, slot, generation, file](const std::string& why, std::uint32_t frames) {
            if (!why.empty()) {
                spdlog::error("slot {}: its take is not kept on disk: {}", slot, why);
                return;
            }
            Mirror::Transaction tx(mirror_);
            const Mirror::Slot& s = tx.slot(slot);
            // A take cleared or replaced meanwhile: its forget() follows this write.
            if (s.generation != generation || !s.take) return;
            spdlog::info("slot {}: take kept in {} ({} frames)", slot, file.string(), frames);
            if (s.path == file.string()) return;
            Mirror::Slot& kept = tx.edit(slot);
            kept.path = file.string();  // the saved rig names the file from now on
            kept.resolved = file;
            tx.commit();
        }});
}

void TakeTracker::engine_event(const Event& e) {
    if (e.kind == EventKind::snapshot_done || e.kind == EventKind::snapshot_refused) {
        if (keeper_) keeper_->snapshot_event(e);
        return;
    }
    Mirror::Transaction tx(mirror_);
    if (e.slot >= tx.size()) return;
    switch (e.kind) {
        case EventKind::take_started: {
            // The slot let go of what it held: a load in flight or a save of the old take no
            // longer applies, and the old take's file goes.
            Mirror::Slot& s = tx.edit(e.slot);
            ++s.generation;
            if (auto file = kept_file(s)) forget(*file);
            s.loading = false;
            s.take = false;
            s.take_frames = 0;
            s.emptied = false;
            s.loaded = false;
            s.path.clear();
            s.resolved.clear();
            s.restore_path.clear();
            s.frames = s.channels = s.sample_rate = 0;
            break;
        }
        case EventKind::take_finished:
        case EventKind::take_max_reached: {
            Mirror::Slot& s = tx.edit(e.slot);
            s.take = true;
            s.take_frames = e.frames;
            s.loaded = true;
            s.frames = e.frames;
            s.channels = 2;
            s.sample_rate = sample_rate_();
            keep(e.slot, s.generation);
            break;
        }
        case EventKind::take_loaded:
            if (tx.slot(e.slot).take) {
                Mirror::Slot& s = tx.edit(e.slot);
                s.take_frames = e.frames;
                s.emptied = false;
            }
            break;
        case EventKind::take_load_refused: {
            Mirror::Slot& s = tx.edit(e.slot);
            s.take = false;  // it plays as a sample
            s.take_frames = 0;
            break;
        }
        case EventKind::overdub_ended:
        case EventKind::undo_done:
        case EventKind::redo_done:
            // The take as it now sounds.
            if (tx.slot(e.slot).take) keep(e.slot, tx.slot(e.slot).generation);
            break;
        default:
            break;
    }
    tx.commit();
}

}  // namespace looperd
