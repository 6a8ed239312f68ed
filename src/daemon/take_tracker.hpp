// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>

#include "control/command_port.hpp"
#include "control/mirror.hpp"
#include "daemon/take_keeper.hpp"
#include "looperd/event.hpp"

namespace looperd {

// TakeTracker: the takes room's side off the network thread. It follows the engine's take
// events into the mirror, keeps every finished take on disk (<state directory>/takes, through
// TakeKeeper's thread) and deletes a kept file once its take is gone. The OSC handlers of
// recording (record, save, load_take...) are the controller's (controller_takes.cpp).
//
// Threads: engine_event() on the housekeeping thread; save(), kept_file() and forget() on any
// (kept_file() inside the caller's mirror transaction); the keeper's callbacks on the take
// thread, each in a mirror transaction of its own.
class TakeTracker {
  public:
    struct Config {
        bool recording = false;  // inputs and recorders: takes exist at all
        // The engine's longest take: the size of the buffer takes are saved through. 0: takes
        // cannot be saved.
        std::uint32_t max_record_frames = 0;
        std::filesystem::path takes_dir;  // where finished takes are kept; empty: they are not
    };

    TakeTracker(const Config& config, Mirror& mirror, CommandPort& port,
                std::function<std::uint32_t()> sample_rate);
    ~TakeTracker();
    TakeTracker(const TakeTracker&) = delete;
    TakeTracker& operator=(const TakeTracker&) = delete;

    // Whether takes can be written at all (recording on, a take length known).
    bool can_save() const noexcept { return keeper_ != nullptr; }
    // Writes a take (/slot/<n>/save); `job.done` is called on the take thread. Needs can_save().
    void save(TakeJob job);
    // The file looperd kept for the take `s` holds, if any: a file the musician saved or
    // loaded is not looperd's to delete.
    std::optional<std::filesystem::path> kept_file(const Mirror::Slot& s) const;
    // A copy of the slot's take as it is now, for the stretch thread: `copied` is called on the
    // take thread (TakeJob::copied), or `failed` (no take, JACK away). Needs can_save().
    void copy(std::uint32_t slot, std::uint64_t generation,
              std::function<void(const SampleBuffer&, std::uint32_t, std::uint32_t)> copied,
              std::function<void()> failed);
    // Deletes a kept file, in order with the saves asked before.
    void forget(const std::filesystem::path& file);
    // Housekeeping thread: an engine event about takes or snapshots.
    void engine_event(const Event& e);
    // Blocks until the takes asked to be written so far are written. For tests.
    void wait_idle();
    void stop();

  private:
    // The autosave of the slot's take, when takes are kept.
    void keep(std::uint32_t slot, std::uint64_t generation);

    Config config_;
    Mirror& mirror_;
    std::function<std::uint32_t()> sample_rate_;
    // Writes takes (null when takes cannot be saved). Last: its thread calls back into the
    // mirror.
    std::unique_ptr<TakeKeeper> keeper_;
};

}  // namespace looperd
