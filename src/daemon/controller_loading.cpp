// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// Staged sample loading, the Controller's part: 1. the request (network thread): check the
// path, bump the slot's generation in the message's transaction, queue the job once it commits.
// Stages 2 to 4 (read, install, reply) are SampleLoading's, on the loader thread. Unload and
// clear live here too.
#include "daemon/controller.hpp"

#include <spdlog/spdlog.h>

#include <optional>
#include <variant>

#include "daemon/sample_listing.hpp"
#include "io/memory_lock.hpp"
#include "io/sample_loader.hpp"
#include "looperd/sample_buffer.hpp"

namespace looperd {

namespace {
// As many as one reply datagram carries comfortably (paths of 100 bytes: 26 KB).
constexpr std::size_t kMaxListedSamples = 256;

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
    if (!rig && r.tx.loads >= loading_.room()) {
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
    later(r, [this, job = LoadJob{r.slot, generation, path_arg.s, *confined, *reply_to, rig, take},
              from = r.from, address = r.message.address] {
        // Full only when a reload of every slot (another thread) filled it meanwhile.
        if (!loading_.queue(job)) {
            report_error(from, address, too_many_loads());
            return;
        }
        spdlog::info("slot {}: loading {}", job.slot, job.resolved.string());
    });
}

// Takes and overdubs are aligned by this many frames (JACK's round trip plus --record-offset).
bool Controller::set_record_offset(std::int64_t frames) {
    Command c;
    c.kind = CommandKind::set_record_offset;
    c.value = static_cast<float>(frames);
    return port_.send(c);
}

bool Controller::send_internal(std::span<const Command> commands) {
    return port_.send_all(commands) == commands.size();
}

// Queues a reload of every loaded slot at the engine's current rate.
std::uint32_t Controller::reload_all() {
    return loading_.reload_all();
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
    if (auto file = takes_.kept_file(s)) later(r, [this, f = *file] { takes_.forget(f); });
    later(r, [this, slot = r.slot] { stretch_.source_gone(slot); });
    s.take = false;
    s.take_frames = 0;
    s.emptied = true;
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

// The directory walk runs after the transaction, outside the mirror's lock.
void Controller::osc_samples_list(const Request& r) {
    if (!check_arity(r, 0, 1)) return;
    auto to = reply_endpoint(r, 0);
    if (!to) return;
    later(r, [this, to = *to, from = r.from, address = r.message.address] {
        SampleListing listing;
        try {
            listing = list_samples(config_.samples_dir, kMaxListedSamples);
        } catch (const std::exception& e) {
            report_error(from, address, e.what());
            return;
        }
        if (listing.truncated)
            spdlog::warn("sample listing: more than {} sound files under {}; listing the first {}",
                         kMaxListedSamples, config_.samples_dir.string(), kMaxListedSamples);
        OscMessage m{std::string(osc::kSamplesListReply), {}};
        for (auto& p : listing.paths) m.args.push_back(OscArg::string(std::move(p)));
        reply_(to, m);
    });
}

}  // namespace looperd
