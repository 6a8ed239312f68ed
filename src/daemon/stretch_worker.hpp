// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "control/model.hpp"
#include "daemon/worker_thread.hpp"
#include "io/memory_budget.hpp"

namespace looperd {

class SampleBuffer;

// StretchWorker: the stretch thread. Keeps every slot in `stretch pitch` supplied with a
// rendering of its region at its `beats` and the tempo (io/stretch_render.hpp), one render at a
// time, and hands each to the engine through the controller (install). A render goes stale,
// and stops, as soon as what it was for changes (a tempo, `beats`, the pitch, the region, the
// sample); the slot keeps its previous rendering, played at the rate that keeps it in time,
// until the new one is in.
//
// A slot holding a take is rendered from a copy of the take (take_copied), asked for once the
// take is settled (Engine::take_content: recorded, not being overdubbed, undone or redone) and
// again each time it changes. The engine plays the rendering only while the take still holds
// what it was made from.
//
// A loop whose `beats` last as long at the tempo as its region (within kLengthTolerance) and
// whose pitch is 0 is played as it is: no rendering is made, and one it had is dropped.
//
// Memory: each slot's sample is held (SampleBuffer::hold) from its load until it is replaced,
// so that a render can read it whatever the engine has let go meanwhile; a take's copy is the
// worker's own. Renderings and copies are reserved in the budget before they are made;
// housekeeping releases a rendering's when the engine retires it.
//
// Threads: source_loaded() and source_gone() from whoever changes a slot's sample (the loader
// thread inside its install transaction, the network thread); take_copied() on the take
// thread; wake(), stretching() and idle() from any thread; the rest on the stretch thread.
class StretchWorker {
  public:
    struct Hooks {
        std::function<MirrorState()> mirror;     // a copy of the rig
        std::function<std::uint64_t()> changes;  // the mirror's change count
        std::function<double()> tempo;           // BPM, as the engine's grid has it now
        std::function<std::uint32_t()> sample_rate;
        // Sends `rendering` to `slot` if the slot still holds the sample of `generation` (the
        // take of content `content`, if not 0) in `stretch pitch`. nullptr: the engine drops
        // the slot's rendering. False: not sent (the caller frees it).
        std::function<bool(std::uint32_t slot, std::uint64_t generation, std::uint32_t content,
                           SampleBuffer* rendering)>
            install;
        // The slot's take content (Engine::take_content): 0 while it is not settled.
        std::function<std::uint32_t(std::uint32_t slot)> take_content;
        // Asks for a copy of the slot's take: take_copied() follows, or nothing (no take).
        std::function<void(std::uint32_t slot, std::uint64_t generation)> copy_take;
        // A render that cannot be made (memory budget, Rubber Band): `why` for the log and for
        // whoever last asked something of the slot.
        std::function<void(std::uint32_t slot, const std::string& why)> refused;
    };

    StretchWorker(std::uint32_t slots, MemoryBudget& budget, Hooks hooks);
    ~StretchWorker();
    StretchWorker(const StretchWorker&) = delete;
    StretchWorker& operator=(const StretchWorker&) = delete;

    void start();
    // A render under way stops at its next block; the held samples are let go.
    void stop();

    // The slot's sample is now `buffer`, for load `generation`: the worker takes over a hold
    // the caller took (SampleBuffer::hold), and lets go of it when the slot's sample changes.
    // nullptr: the slot holds something not to render (a take).
    void source_loaded(std::uint32_t slot, SampleBuffer* buffer, std::uint64_t generation);
    // The slot holds no sample any more.
    void source_gone(std::uint32_t slot);
    // Take thread: the copy of the slot's take asked for by copy_take, `frames` long, of
    // content `content` (0: it changed as it was copied). Copied here (within the budget).
    void take_copied(std::uint32_t slot, std::uint64_t generation, const SampleBuffer& take,
                     std::uint32_t frames, std::uint32_t content);
    // Take thread: that copy could not be made (the take went, JACK is away): asked again after
    // kCopyRetry, so that a slot is not left waiting once JACK is back.
    void take_copy_failed(std::uint32_t slot);
    static constexpr auto kCopyRetry = std::chrono::seconds(1);
    // Something a rendering depends on may have changed: look now rather than at the next poll.
    void wake();
    // The engine was told to drop the slot's rendering (another stretch mode): a later return
    // to `pitch` renders again.
    void dropped(std::uint32_t slot);
    // A render is wanted for the slot and not in the engine yet (its state says `stretching`).
    bool stretching(std::uint32_t slot) const;
    // Renders done (installed) so far, and refused; for tests and the status.
    std::uint64_t renders_done() const { return done_.load(); }
    std::uint64_t renders_refused() const { return refused_count_.load(); }

    // How often the tempo is looked at while no one wakes the thread (a tempo from JACK, MIDI
    // clock or Link changes without a message). With no slot in `stretch pitch` the thread
    // rests instead: everything that puts one there wakes it.
    static constexpr auto kPoll = std::chrono::milliseconds(50);
    // The wait after a round: kPoll, or zero (until woken) while no slot stretches. The stretch
    // thread's (or a test's, while it is not running).
    WorkerThread::Clock::duration next_poll() const {
        return WorkerThread::rest_unless(!resting(), kPoll);
    }
    // Any thread: the last round found no slot in `stretch pitch` (relaxed).
    bool resting() const { return resting_.load(std::memory_order_relaxed); }
    // A rendering within this fraction of the wanted length is kept (played at the rate that
    // makes up the difference, under 1 cent): a tempo that wobbles in its last digits (Link,
    // JACK) does not start renders.
    static constexpr double kLengthTolerance = 0.0005;

  private:
    // What a rendering is for: the sample (by load generation; a take by its content too), its
    // region, the length and the pitch. frames == 0: no rendering wanted.
    struct Key {
        std::uint64_t generation = 0;
        std::uint32_t content = 0;  // a take's; 0: a sample
        std::uint32_t begin = 0;
        std::uint32_t end = 0;
        std::uint32_t frames = 0;
        float pitch = 0.0F;
        bool close_to(const Key& o) const;
    };
    // A slot's wish: a rendering for `key`, or none.
    struct Want {
        Key key;
        bool on = false;     // the slot is in `stretch pitch` with beats: the tempo matters
        bool as_is = false;  // the region lasts its beats already: play it, drop any rendering
        bool wait = false;   // a take being changed: leave the engine as it is
        bool copy = false;   // a take whose copy is not here yet
    };
    struct Source {
        SampleBuffer* buffer = nullptr;
        std::uint64_t generation = 0;
        std::uint32_t content = 0;  // a take's copy; 0: the sample
        // Holds the frames of that load (and take content).
        bool holds(std::uint64_t g, std::uint32_t c) const {
            return buffer != nullptr && generation == g && content == c;
        }
    };

    void round();
    std::vector<Want> wanted() const;
    // Asks for the copy of the take `w` is for, once per content.
    void ask_copy(std::uint32_t slot, const Key& key);
    // A take's copy no rendering needs now (another mode, played as it is) goes.
    void forget_copy(std::uint32_t slot);
    // Renders the slot's rendering for `key`; false if it went stale or was refused.
    void render(std::uint32_t slot, const Key& key);
    void let_go(SampleBuffer* b);
    // The refusal's words for `what` needing `bytes` more than the budget has.
    std::string over_budget(const std::string& what, std::uint64_t bytes) const;

    MemoryBudget& budget_;
    Hooks hooks_;
    mutable std::mutex mutex_;  // sources_
    std::vector<Source> sources_;
    // Stretch thread only: per slot the rendering the engine has (frames 0: none) and the
    // last one refused (not tried again until what it is for changes).
    std::vector<Key> installed_;
    std::vector<Key> refused_;
    std::vector<Key> copy_asked_;  // the take content each slot's copy was last asked for
    std::vector<std::chrono::steady_clock::time_point> copy_retry_;  // not asked before
    std::uint32_t next_ = 0;            // where the search for the next render starts (fairness)
    std::atomic<bool> resting_{false};  // written by the stretch thread
    std::unique_ptr<std::atomic<bool>[]> stretching_;
    std::unique_ptr<std::atomic<bool>[]> dropped_;
    // The take content whose copy the budget refused (take thread stores, stretch thread reads).
    std::unique_ptr<std::atomic<std::uint32_t>[]> copy_refused_;
    std::unique_ptr<std::atomic<bool>[]> copy_failed_;  // take thread sets, stretch thread takes
    std::atomic<bool> stopping_{false};
    std::atomic<std::uint64_t> done_{0};
    std::atomic<std::uint64_t> refused_count_{0};
    WorkerThread thread_;
};

}  // namespace looperd
