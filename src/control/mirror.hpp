// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "control/model.hpp"

namespace looperd {

// Mirror: the controller's model of the rig (every slot's parameters and what it holds, the
// master and the clock), kept off the audio thread so that nothing ever asks the engine.
//
// Threads: any thread reads a copy (snapshot(), changes(), slots_loaded()). Every write goes
// through a Transaction, which holds the mirror's lock from its start to its commit: the
// network thread (one per message or bundle), the loader thread (a load installed or failed),
// the housekeeping thread (takes) and the take thread (a take's file kept). Lock order: the
// mirror before the command port (a Transaction may send commands; the port's holder never
// opens a Transaction).
class Mirror {
  public:
    struct Slot {
        std::uint64_t generation = 0;  // bumped by every load request and unload
        bool loaded = false;
        std::string path;
        std::filesystem::path resolved;  // what the loader opened
        std::uint32_t frames = 0;
        std::uint32_t channels = 0;
        std::uint32_t sample_rate = 0;  // the loaded sample's, for the *_seconds conversions
        bool loading = false;           // the request of `generation` is a load still in flight
        std::string loading_path;       // its path, as given
        // A rig load's path, kept for the saved rig while its file is missing; cleared by a
        // load that succeeds or an unload.
        std::string restore_path;
        // The parameters as last sent (the region among them): kept across loads and
        // unloads, as the engine keeps them.
        SlotParams params;
        // The slot holds a take (recorded, or given by load_take): `path` is its kept file,
        // if any. take_frames: its length once the engine reported it.
        bool take = false;
        std::uint32_t take_frames = 0;
        // Unloaded, cleared or given a file since the engine last reported a take started or
        // loaded: until the engine takes that command, the take it publishes is the old one.
        bool emptied = false;
        bool rig_take = false;  // loading_path or restore_path names a take (load_take)
    };
    // The mirror's values besides the slots.
    struct Globals {
        float master_gain = 1.0F;
        float tempo = 120.0F;
        std::int32_t meter = 4;
        ClockSource sync = ClockSource::internal;
        std::int32_t playing = 1;                // /clock/playing (not saved)
        std::int32_t monitor = 0;                // /monitor
        std::vector<std::string> midi_bindings;  // /midi/bind, as text
    };

    // `fade_ms`: every slot's first fade_out (the engine's fade).
    Mirror(std::uint32_t slots, float fade_ms);
    Mirror(const Mirror&) = delete;
    Mirror& operator=(const Mirror&) = delete;

    std::uint32_t size() const noexcept { return static_cast<std::uint32_t>(slots_.size()); }
    // A copy of everything; `changes`, when given, receives the change count it includes.
    MirrorState snapshot(std::uint64_t* changes = nullptr) const;
    // Committed transactions that changed something (what persistence watches).
    std::uint64_t changes() const;
    std::uint32_t slots_loaded() const;
    // The tempo and where the grid comes from, without copying the rest.
    std::pair<float, ClockSource> tempo_and_sync() const;

    // A change to the mirror, made on a copy and committed whole, or not at all. Reads see the
    // transaction's own writes. Holds the mirror's lock until commit() or destruction (which
    // discards), so keep it short and never open a second one on the same thread.
    class Transaction {
      public:
        explicit Transaction(Mirror& mirror);
        Transaction(const Transaction&) = delete;
        Transaction& operator=(const Transaction&) = delete;

        std::uint32_t size() const noexcept { return mirror_.size(); }
        const Slot& slot(std::uint32_t n) const;
        // The slot's copy, to write: made on first use, and counted as a change.
        Slot& edit(std::uint32_t n);
        const Globals& globals() const;
        Globals& edit_globals();
        // Writes the copies into the mirror, counts one change if any was made, and lets go
        // of the lock. Returns whether anything was written. References from slot(), edit()
        // and the globals end here.
        bool commit();

      private:
        Mirror& mirror_;
        std::unique_lock<std::mutex> lock_;
        std::map<std::uint32_t, Slot> slots_;  // the slots edited, by number
        std::optional<Globals> globals_;
    };

    // Before any Transaction: called after each commit that changed something, on the
    // committing thread, once the lock is released (the persister's wake-up).
    void set_on_change(std::function<void()> on_change) { on_change_ = std::move(on_change); }

  private:
    mutable std::mutex mutex_;
    std::vector<Slot> slots_;
    Globals globals_;
    std::uint64_t changes_ = 0;
    std::function<void()> on_change_;
};

}  // namespace looperd
