// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "daemon/persistence.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace looperd {

namespace {

// After a failed write, the next try waits this long: a full disk is not hammered.
constexpr auto kRetryAfterFailure = std::chrono::seconds(1);
// The same failure is logged again at most this often.
constexpr auto kRelog = std::chrono::seconds(30);

}  // namespace

Persistence::Persistence(SessionStore& store, MirrorSource mirror, ChangeCount changes,
                         SlotParams defaults, std::chrono::milliseconds interval, bool autosave)
    : store_(store),
      mirror_(std::move(mirror)),
      changes_(std::move(changes)),
      defaults_(std::move(defaults)),
      interval_(interval),
      autosave_(autosave) {}

Persistence::~Persistence() {
    stop();
}

std::optional<RigState> Persistence::restore(std::string* damaged) {
    const auto file = store_.state_file();
    try {
        auto rig = store_.load_rig(file);
        if (rig)
            spdlog::info("restoring the rig from {} ({} slot{})", file.string(), rig->slots.size(),
                         rig->slots.size() == 1 ? "" : "s");
        else
            spdlog::info("no saved state in {}: starting empty", store_.dir().string());
        return rig;
    } catch (const StoreError& e) {
        spdlog::error("saved state not restored: {}; starting empty", e.what());
        if (damaged) *damaged = e.what();
        return std::nullopt;
    }
}

void Persistence::start() {
    // The last word on a clean shutdown: pending sessions, then whatever changed.
    worker_.start({.round = [this] { round(); },
                   .next_period = [this] { return next_wait(); },
                   .last =
                       [this] {
                           write_sessions();
                           if (autosave_) save_now();
                       },
                   .name = "persistence"});
}

void Persistence::stop() {
    worker_.stop();
}

const char* Persistence::state_name() const noexcept {
    return failed_.load(std::memory_order_relaxed) ? "error" : "ok";
}

void Persistence::report_failure(const std::string& what) {
    failed_.store(true, std::memory_order_relaxed);
    const auto now = std::chrono::steady_clock::now();
    if (what != last_logged_ || now - last_log_ >= kRelog) {
        spdlog::error("state not saved: {} (the previous state file is unchanged)", what);
        last_logged_ = what;
        last_log_ = now;
    }
}

bool Persistence::save_now() {
    std::uint64_t changes = 0;
    const MirrorState mirror = mirror_(changes);
    if (saved_changes_ && *saved_changes_ == changes) return true;
    last_attempt_ = std::chrono::steady_clock::now();
    std::string text;
    try {
        text = rig_to_toml(rig_from_mirror(mirror, defaults_), true);
        // Changes that cancel out (or only echo what is saved) need no write.
        if (text != saved_text_) store_.write(store_.state_file(), text);
    } catch (const std::exception& e) {
        report_failure(e.what());
        return false;
    }
    if (failed_.exchange(false, std::memory_order_relaxed))
        spdlog::info("state saved again to {}", store_.state_file().string());
    last_logged_.clear();
    saved_changes_ = changes;
    saved_text_ = std::move(text);
    return true;
}

std::string Persistence::save_session(const std::string& name, SaveDone done) {
    std::string why;
    if (!SessionStore::valid_session_name(name, why)) return why;
    std::uint64_t changes = 0;
    SaveJob job{store_.session_file(name),
                rig_to_toml(rig_from_mirror(mirror_(changes), defaults_), true), std::move(done)};
    {
        std::lock_guard lock(mutex_);
        if (jobs_.size() >= kMaxPendingSaves)
            return "too many session saves pending (" + std::to_string(kMaxPendingSaves) + ")";
        jobs_.push_back(std::move(job));
    }
    worker_.notify();
    return "";
}

RigState Persistence::load_session(const std::string& name) const {
    const auto file = store_.session_file(name);
    auto rig = store_.load_rig(file);
    if (!rig) throw StoreError("no session named '" + name + "'");
    return std::move(*rig);
}

std::vector<std::string> Persistence::list_sessions() const {
    return store_.list_sessions();
}

void Persistence::write_sessions() {
    std::deque<SaveJob> jobs;
    {
        std::lock_guard lock(mutex_);
        jobs.swap(jobs_);
    }
    for (auto& job : jobs) {
        std::string error;
        try {
            store_.write(job.file, job.text);
            spdlog::info("session saved: {}", job.file.string());
        } catch (const std::exception& e) {
            error = e.what();
            spdlog::error("session not saved: {}", error);
        }
        if (job.done) job.done(error);
    }
}

void Persistence::changed() {
    worker_.notify();
}

WorkerThread::Clock::duration Persistence::attempt_wait() const {
    if (failed_.load(std::memory_order_relaxed)) return kRetryAfterFailure;
    return interval_;
}

void Persistence::round() {
    write_sessions();
    if (!autosave_) return;
    if (std::chrono::steady_clock::now() - last_attempt_ < attempt_wait()) return;
    save_now();
}

WorkerThread::Clock::duration Persistence::next_wait() const {
    // Without autosave the mirror is not asked: the thread rests until woken.
    const bool unsaved = autosave_ && (failed_.load(std::memory_order_relaxed) || !saved_changes_ ||
                                       *saved_changes_ != changes_());
    // At least a millisecond: zero would mean "until woken".
    const auto left = std::max<WorkerThread::Clock::duration>(
        attempt_wait() - (std::chrono::steady_clock::now() - last_attempt_),
        std::chrono::milliseconds(1));
    return WorkerThread::rest_unless(unsaved, left);
}

}  // namespace looperd
