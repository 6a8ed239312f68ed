// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "daemon/sample_loading.hpp"

#include <spdlog/spdlog.h>

#include <string>
#include <string_view>

#include "control/osc_schema.hpp"
#include "io/memory_lock.hpp"
#include "io/sample_loader.hpp"
#include "looperd/sample_buffer.hpp"

namespace looperd {

namespace {
constexpr std::string_view kSuperseded = "superseded by a later load or unload of this slot";
}  // namespace

SampleLoading::SampleLoading(Mirror& mirror, CommandPort& port, MemoryBudget& budget,
                             std::function<std::uint32_t()> sample_rate, TakeTracker& takes,
                             Reply reply, ReportError report_error, SourceLoaded source_loaded)
    : mirror_(mirror),
      port_(port),
      budget_(budget),
      sample_rate_(std::move(sample_rate)),
      takes_(takes),
      reply_(std::move(reply)),
      report_error_(std::move(report_error)),
      source_loaded_(std::move(source_loaded)) {}

SampleLoading::~SampleLoading() {
    stop();
}

void SampleLoading::stop() {
    worker_.stop();
}

void SampleLoading::drain() {
    worker_.drain();
}

std::size_t SampleLoading::room() {
    return worker_.room();
}

bool SampleLoading::queue(const LoadJob& job) {
    if (job.rig) {
        // A rig names each slot once, so its loads are bounded by the slot count; the queue's
        // bound is for peers that flood.
        rig_loads_.fetch_add(1, std::memory_order_relaxed);
        worker_.post([this, job] { run(job); });
        return true;
    }
    if (worker_.try_post([this, job] { run(job); })) return true;
    Mirror::Transaction tx(mirror_);
    if (tx.slot(job.slot).generation == job.generation) tx.edit(job.slot).loading = false;
    tx.commit();
    return false;
}

std::uint32_t SampleLoading::reload_all() {
    std::uint32_t queued = 0;
    // Held until every reload is marked: a job that finishes first waits for the mirror.
    Mirror::Transaction tx(mirror_);
    for (std::uint32_t n = 0; n < tx.size(); ++n) {
        const Mirror::Slot& slot = tx.slot(n);
        if (!slot.loaded) continue;
        if (slot.take && slot.path.empty()) {
            // Not kept on disk: nothing to convert from. It plays at its old rate.
            spdlog::warn("slot {}: its take is not kept on disk and stays at its old rate", n);
            continue;
        }
        const LoadJob job{
            n, slot.generation + 1, slot.path, slot.resolved, std::nullopt, false, slot.take};
        if (!worker_.try_post([this, job] { run(job); })) {
            spdlog::error("slot {}: cannot queue its reload (too many loads pending)", n);
            continue;
        }
        Mirror::Slot& s = tx.edit(n);
        s.generation = job.generation;
        s.loading = true;
        s.loading_path = s.path;  // what the saved rig names meanwhile
        s.rig_take = s.take;
        ++queued;
        spdlog::info("slot {}: loading {} again at {} Hz", n, s.path, sample_rate_());
    }
    tx.commit();
    return queued;
}

void SampleLoading::run(const LoadJob& job) {
    struct RigLoadDone {
        std::atomic<std::uint32_t>* count;
        ~RigLoadDone() {
            if (count != nullptr) count->fetch_sub(1, std::memory_order_relaxed);
        }
    } rig_done{job.rig ? &rig_loads_ : nullptr};
    LoadedSample loaded;
    try {
        loaded = read(job);
    } catch (const std::exception& e) {
        {
            Mirror::Transaction tx(mirror_);
            if (tx.slot(job.slot).generation == job.generation) tx.edit(job.slot).loading = false;
            tx.commit();
        }
        fail(job, e.what());
        return;
    }
    const SampleBuffer& buffer = *loaded.buffer;
    const Loaded info{buffer.frames(), buffer.channels(), buffer.sample_rate(), buffer.bytes(),
                      loaded.locked};
    if (const std::string refused = install(job, loaded, info); !refused.empty()) {
        loaded.buffer.reset();
        budget_.release(info.bytes);
        fail(job, refused);
        return;
    }
    reply(job, info);
}

// 2. read: the file, converted to the engine's rate.
LoadedSample SampleLoading::read(const LoadJob& job) {
    LoadedSample loaded;
    // The rate may change while the file converts (a server with another rate joined): convert
    // again then, so that no slot keeps a sample at a rate the engine left.
    for (int attempt = 0; attempt < 3; ++attempt) {
        const std::uint32_t rate = sample_rate_();
        if (loaded.buffer) budget_.release(loaded.buffer->bytes());
        loaded = load_sample(job.resolved, rate, budget_, &cancel_);
        if (sample_rate_() == rate) break;
    }
    return loaded;
}

// 3. install: the check and the send in one mirror transaction, so that an unload or a later
// load of the slot is either before both or after both.
std::string SampleLoading::install(const LoadJob& job, LoadedSample& loaded, const Loaded& info) {
    Mirror::Transaction tx(mirror_);
    if (tx.slot(job.slot).generation != job.generation) return std::string(kSuperseded);
    // A reload keeps a sounding loop going (value 1); a load replaces what plays.
    const Command assign{job.take ? CommandKind::load_take : CommandKind::assign_buffer, job.slot,
                         job.reply_to ? 0.0F : 1.0F, 0, loaded.buffer.get()};
    Mirror::Slot& s = tx.edit(job.slot);
    s.loading = false;  // done, whichever way
    // The stretch thread's hold, taken before the engine can let the buffer go.
    const bool held = !job.take && source_loaded_;
    if (held) loaded.buffer->hold();
    if (!port_.send(assign)) {
        if (held) (void)loaded.buffer->let_go();  // back to the one holder that deletes it
        tx.commit();
        return "command queue full: load dropped";
    }
    SampleBuffer* const sent = loaded.buffer.release();  // the engine owns it now
    if (held) source_loaded_(job.slot, sent, job.generation);
    if (job.take && source_loaded_) source_loaded_(job.slot, nullptr, job.generation);
    // The kept take goes when another file replaces it (not when it is reloaded).
    if (s.path != job.path) {
        if (auto file = takes_.kept_file(s)) takes_.forget(*file);
    }
    s.take = job.take;
    s.take_frames = 0;  // the engine reports the take's length once it holds it
    s.emptied = true;
    s.loaded = true;
    s.path = job.path;
    s.resolved = job.resolved;
    s.frames = info.frames;
    s.channels = info.channels;
    s.sample_rate = info.sample_rate;
    s.restore_path.clear();
    tx.commit();
    return {};
}

// 4. reply: /slot/<n>/loaded to whoever asked (a reload and a restore tell no one).
void SampleLoading::reply(const LoadJob& job, const Loaded& info) {
    const float seconds = static_cast<float>(info.frames) / static_cast<float>(info.sample_rate);
    spdlog::info("slot {}: loaded {} ({} frames, {} channel{}, {:.3f} s{})", job.slot, job.path,
                 info.frames, info.channels, info.channels == 1 ? "" : "s", seconds,
                 info.locked ? "" : ", not locked in RAM");
    if (!info.locked) {
        if (auto warning = memlock_warning_once(info.bytes, SampleBuffer::unlocked_bytes()))
            spdlog::warn("{}", *warning);
    }
    if (!job.reply_to || job.reply_to->len == 0) return;
    reply_(*job.reply_to, OscMessage{osc::slot_address(osc::kSlotLoaded, job.slot),
                                     {OscArg::string(job.path),
                                      OscArg::int32(static_cast<std::int32_t>(info.frames)),
                                      OscArg::int32(static_cast<std::int32_t>(info.channels)),
                                      OscArg::float32(seconds)}});
}

void SampleLoading::fail(const LoadJob& job, const std::string& why) {
    if (job.reply_to) {
        const osc::Row& row = osc::row(job.take ? osc::Handler::load_take : osc::Handler::load);
        report_error_(*job.reply_to, osc::slot_address(row.address, job.slot), why);
    } else if (why == kSuperseded) {
        // A reload overtaken by the user's own load or unload: nothing is wrong.
        spdlog::warn("slot {}: reload of {} not done: {}", job.slot, job.path, why);
    } else {
        spdlog::error("slot {}: cannot load {} again: {}", job.slot, job.path, why);
    }
}

}  // namespace looperd
