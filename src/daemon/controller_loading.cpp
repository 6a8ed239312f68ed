// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// Staged sample loading, the Controller's part (scsynth's /b_allocRead stages):
//   1. request_load (network thread): check the path, bump the slot's generation in the
//      message's transaction, queue a job once it commits;
//   2. read_load (loader thread): read and convert the file (io/sample_loader);
//   3. install_load (loader thread, in a mirror transaction): if the request is still the
//      slot's latest, hand the buffer to the engine with assign_buffer, and update the mirror;
//   4. reply_load (loader thread): /slot/<n>/loaded, or fail_load's /error to whoever asked.
// run_load strings 2 to 4 together. Unload and clear, and reloading every slot after a
// sample-rate change, live here too.
#include "daemon/controller.hpp"

#include <spdlog/spdlog.h>

#include <optional>
#include <variant>

#include "io/memory_lock.hpp"
#include "io/sample_loader.hpp"
#include "looperd/sample_buffer.hpp"

namespace looperd {

namespace {
std::string too_many_loads() {
    return "too many loads pending (" + std::to_string(LoadWorker::kDefaultCapacity) + ")";
}
}  // namespace

std::optional<std::filesystem::path> Controller::confine(const Request& r,
                                                         const std::string& requested) {
    auto result = confinement_.resolve(requested);
    if (auto* why = std::get_if<std::string>(&result)) {
        refuse(r, *why);
        return std::nullopt;
    }
    return std::get<std::filesystem::path>(std::move(result));
}

void Controller::osc_slot_load(const Request& r) {
    request_load(r, false);
}

// A load, or a load_take (`take`): the file then becomes the slot's take.
void Controller::request_load(const Request& r, bool take) {
    if (!check_arity(r, 1, 2)) return;
    const auto& path_arg = r.message.args[0];
    if (!osc::is_string(path_arg) || path_arg.s.empty()) {
        refuse(r, "expected a file path string");
        return;
    }
    auto reply_to = reply_endpoint(r, 1);
    if (!reply_to) return;
    if (applying_rig_) {
        // Set before the path is checked: a rig whose file is missing, or now outside the
        // sample roots, keeps naming it until the slot is loaded or unloaded again.
        const Mirror::Slot& s = r.tx.mirror.slot(r.slot);
        if (!s.loaded || s.path != path_arg.s) {
            Mirror::Slot& e = r.tx.mirror.edit(r.slot);
            e.restore_path = path_arg.s;
            e.rig_take = take;
        }
    }
    const auto confined = confine(r, path_arg.s);
    if (!confined) return;
    // A rig names each slot once, so its loads are bounded by the slot count; the queue's
    // bound is for peers that flood.
    const bool rig = applying_rig_;
    if (!rig && r.tx.loads >= loader_.room()) {
        // The slot keeps whatever it holds, and a load already under way stays current.
        refuse(r, too_many_loads());
        return;
    }
    Mirror::Slot& slot = r.tx.mirror.edit(r.slot);
    const std::uint64_t generation = slot.generation + 1;
    slot.generation = generation;
    slot.loading = true;
    slot.loading_path = path_arg.s;
    slot.rig_take = take;
    ++r.tx.loads;
    // Queued once the transaction is committed: the job then finds its generation current.
    later(r, [this, load = LoadJob{r.slot, generation, path_arg.s, *confined, *reply_to, rig, take},
              from = r.from, address = r.message.address] {
        const std::uint32_t n = load.slot;
        auto job = [this, load] { run_load(load); };
        if (load.rig) {
            rig_loads_.fetch_add(1, std::memory_order_relaxed);
            loader_.post(std::move(job));
        } else if (!loader_.try_post(std::move(job))) {
            // Filled meanwhile by a reload of every slot (another thread).
            report_error(from, address, too_many_loads());
            Mirror::Transaction tx(mirror_);
            if (tx.slot(n).generation == load.generation) tx.edit(n).loading = false;
            tx.commit();
            return;
        }
        spdlog::info("slot {}: loading {}", n, load.resolved.string());
    });
}

// Queues a reload of every loaded slot at the engine's current rate.
bool Controller::set_record_offset(std::int64_t frames) {
    Command c;
    c.kind = CommandKind::set_record_offset;
    c.value = static_cast<float>(frames);
    return port_.send(c);
}

std::uint32_t Controller::reload_all() {
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
        const std::uint64_t generation = slot.generation + 1;
        const LoadJob load{n, generation, slot.path, slot.resolved, std::nullopt, false, slot.take};
        if (!loader_.try_post([this, load] { run_load(load); })) {
            spdlog::error("slot {}: cannot queue its reload (too many loads pending)", n);
            continue;
        }
        Mirror::Slot& s = tx.edit(n);
        s.generation = generation;
        s.loading = true;
        s.loading_path = s.path;  // what the saved rig names meanwhile
        s.rig_take = s.take;
        ++queued;
        spdlog::info("slot {}: loading {} again at {} Hz", n, s.path, sample_rate_());
    }
    tx.commit();
    return queued;
}

// Loader thread: stages 2 to 4 of one load.
void Controller::run_load(const LoadJob& job) {
    struct RigLoadDone {
        std::atomic<std::uint32_t>* count;
        ~RigLoadDone() {
            if (count != nullptr) count->fetch_sub(1, std::memory_order_relaxed);
        }
    } rig_done{job.rig ? &rig_loads_ : nullptr};
    LoadedSample loaded;
    try {
        loaded = read_load(job);
    } catch (const std::exception& e) {
        {
            Mirror::Transaction tx(mirror_);
            if (tx.slot(job.slot).generation == job.generation) tx.edit(job.slot).loading = false;
            tx.commit();
        }
        fail_load(job, e.what());
        return;
    }
    const std::size_t bytes = loaded.buffer->bytes();
    const SampleBuffer& buffer = *loaded.buffer;
    const LoadedInfo info{buffer.frames(), buffer.channels(), buffer.sample_rate(), loaded.locked};
    if (const std::string refused = install_load(job, loaded, info); !refused.empty()) {
        loaded.buffer.reset();
        budget_.release(bytes);
        fail_load(job, refused);
        return;
    }
    reply_load(job, info, bytes);
}

// 2. read: the file, converted to the engine's rate.
LoadedSample Controller::read_load(const LoadJob& job) {
    LoadedSample loaded;
    // The rate may change while the file converts (a server with another rate joined): convert
    // again then, so that no slot keeps a sample at a rate the engine left.
    for (int attempt = 0; attempt < 3; ++attempt) {
        const std::uint32_t rate = sample_rate_();
        if (loaded.buffer) budget_.release(loaded.buffer->bytes());
        loaded = load_sample(job.resolved, rate, budget_, &cancel_loads_);
        if (sample_rate_() == rate) break;
    }
    return loaded;
}

// 3. install: the buffer to the engine, if this load is still the slot's latest request. The
// check and the send in one mirror transaction: an unload or a later load of the slot is either
// before both or after both. Returns why not, or "" when the engine owns the buffer.
std::string Controller::install_load(const LoadJob& job, LoadedSample& loaded,
                                     const LoadedInfo& info) {
    Mirror::Transaction tx(mirror_);
    if (tx.slot(job.slot).generation != job.generation)
        return "superseded by a later load or unload of this slot";
    // A reload keeps a sounding loop going (value 1); a load replaces what plays.
    const Command assign{job.take ? CommandKind::load_take : CommandKind::assign_buffer, job.slot,
                         job.reply_to ? 0.0F : 1.0F, loaded.buffer.get()};
    Mirror::Slot& s = tx.edit(job.slot);
    s.loading = false;  // done, whichever way
    if (!port_.send(assign)) {
        tx.commit();
        return "command queue full: load dropped";
    }
    (void)loaded.buffer.release();  // the engine owns it now
    // The kept take goes when another file replaces it (not when it is reloaded).
    if (s.take && s.path != job.path) forget_take(s);
    s.take = job.take;
    s.take_frames = 0;  // the engine reports the take's length once it holds it
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
void Controller::reply_load(const LoadJob& job, const LoadedInfo& info, std::size_t bytes) {
    const float seconds = static_cast<float>(info.frames) / static_cast<float>(info.sample_rate);
    spdlog::info("slot {}: loaded {} ({} frames, {} channel{}, {:.3f} s{})", job.slot, job.path,
                 info.frames, info.channels, info.channels == 1 ? "" : "s", seconds,
                 info.locked ? "" : ", not locked in RAM");
    if (!info.locked) {
        if (auto warning = memlock_warning_once(bytes, SampleBuffer::unlocked_bytes()))
            spdlog::warn("{}", *warning);
    }
    if (!job.reply_to || job.reply_to->len == 0) return;
    reply_(*job.reply_to, OscMessage{osc::slot_address(osc::kSlotLoaded, job.slot),
                                     {OscArg::string(job.path),
                                      OscArg::int32(static_cast<std::int32_t>(info.frames)),
                                      OscArg::int32(static_cast<std::int32_t>(info.channels)),
                                      OscArg::float32(seconds)}});
}

// A load that read or install refused: /error to whoever asked, a log line for a reload.
void Controller::fail_load(const LoadJob& job, const std::string& why) {
    if (job.reply_to) {
        const osc::Row& row = osc::row(job.take ? osc::Handler::load_take : osc::Handler::load);
        report_error(*job.reply_to, osc::slot_address(row.address, job.slot), why);
    } else {
        spdlog::error("slot {}: cannot load {} again: {}", job.slot, job.path, why);
    }
}

void Controller::osc_slot_unload(const Request& r) {
    empty_slot(r, CommandKind::unload);
}

// unload or clear: the slot's sample (or take) goes, and the mirror forgets it.
void Controller::empty_slot(const Request& r, CommandKind kind) {
    if (!check_arity(r, 0, 0) || !send(Command{kind, r.slot}, r)) return;
    Mirror::Slot& s = r.tx.mirror.edit(r.slot);
    ++s.generation;  // a load still in flight for this slot is now stale
    s.loading = false;
    // The slot's parameters (its region among them) stay: the engine keeps them too.
    s.restore_path.clear();
    forget_take(s, &r.tx);
    s.take = false;
    s.take_frames = 0;
    s.loaded = false;
    s.path.clear();
    s.resolved.clear();
    s.frames = 0;
    s.channels = 0;
    s.sample_rate = 0;
}

// Empties the slot whatever it holds (a take or a sample); the take's recorder returns to the
// pool. Works with recording off too, as an unload.
void Controller::osc_slot_clear(const Request& r) {
    empty_slot(r, CommandKind::clear);
}

}  // namespace looperd
