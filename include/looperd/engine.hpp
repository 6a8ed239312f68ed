// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "looperd/command.hpp"
#include "looperd/event.hpp"
#include "looperd/limits.hpp"
#include "looperd/spsc_ring.hpp"
#include "looperd/timing.hpp"
#include "looperd/voice.hpp"

namespace looperd {

struct EngineConfig {
    std::uint32_t outputs = limits::kDefaultOutputs;
    std::uint32_t slots = limits::kDefaultSlots;
    std::uint32_t voices = limits::kDefaultVoices;
    std::uint32_t sample_rate = 48000;
    std::size_t command_capacity = limits::kDefaultCommandCapacity;
    // Commands with a future frame (timetagged bundles, quantized starts) pending at once.
    std::size_t scheduled_capacity = limits::kDefaultScheduledCapacity;
    float fade_ms = limits::kDefaultFadeMs;
    float gain_smooth_ms = limits::kDefaultGainSmoothMs;
};

// Engine: the real-time core. Mixes the voices of preloaded sample buffers into N outputs.
//
// Threads:
//  - one control thread calls try_send() (the network thread, serialised with the loader by
//    the daemon's Controller);
//  - the audio thread calls process();
//  - one housekeeping thread calls try_receive() and frees every retired buffer it is given;
//  - any thread may read the stats.
// The constructor and destructor run on none of those while the others run. Everything the
// audio thread touches is allocated in the constructor.
//
// Ownership: a SampleBuffer sent with assign_buffer belongs to the engine from then on. When
// no slot and no voice reads it any more, the engine posts buffer_retired and ownership
// passes to whoever pops that event. The destructor deletes what the engine still holds.
class Engine {
  public:
    // Note: allocates memory. Throws std::invalid_argument on a config outside limits.
    explicit Engine(const EngineConfig& config);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // Control thread. Wait-free; does not allocate. False: ring full, command dropped and
    // counted (its buffer, if any, still belongs to the caller).
    bool try_send(const Command& command) noexcept;

    // Housekeeping thread. Wait-free; does not allocate.
    bool try_receive(Event& event) noexcept;

    // Audio thread. Wait-free and bounded; does not allocate, lock or make syscalls.
    // Applies queued commands, each on its frame, and overwrites outputs[0..outputs) with
    // nframes of mix. `timing.frame` is the host's frame time of the first frame.
    void process(float* const* outputs, std::uint32_t nframes, const BlockTiming& timing) noexcept;
    // The same with the engine's own frame count as the clock (tests, benchmarks).
    void process(float* const* outputs, std::uint32_t nframes) noexcept;

    // Control thread, any time: fades and ramps are re-timed at the next block.
    void set_sample_rate(std::uint32_t sample_rate) noexcept;

    const EngineConfig& config() const noexcept { return config_; }

    // Any thread; relaxed snapshots.
    std::uint32_t active_voices() const noexcept {
        return active_voices_.load(std::memory_order_relaxed);
    }
    std::uint64_t dropped_commands() const noexcept {
        return dropped_commands_.load(std::memory_order_relaxed);
    }
    std::uint64_t refused_voices() const noexcept {
        return refused_voices_.load(std::memory_order_relaxed);
    }
    std::uint64_t frames_processed() const noexcept {
        return frame_clock_.load(std::memory_order_relaxed);
    }

  private:
    struct Slot {
        SampleBuffer* buffer = nullptr;  // one rt reference while set
        float gain = 1.0F;
        bool loop = false;
    };

    void apply(const Command& c) noexcept;
    void play(std::uint32_t slot) noexcept;
    void release(Voice& v) noexcept;       // start the fade out
    void retire_voice(Voice& v) noexcept;  // voice done: drop its buffer reference
    void acquire(SampleBuffer* b) noexcept;
    void unref(SampleBuffer* b) noexcept;  // last reference: post buffer_retired
    void post(const Event& e) noexcept;
    void flush_backlog() noexcept;
    void render_voice(Voice& v, float* const* out, std::uint32_t offset, std::uint32_t n) noexcept;
    Voice* free_voice() noexcept;

    EngineConfig config_;
    std::uint32_t fade_frames_ = 1;
    std::uint32_t smooth_frames_ = 1;
    std::atomic<std::uint32_t> pending_sample_rate_{0};

    SpscRing<Command> commands_;
    SpscRing<Event> events_;
    // Events the ring could not take (it was full); re-posted first thing next block. Sized so
    // that buffer_retired events are never lost: see the constructor.
    std::vector<Event> backlog_;
    std::size_t backlog_size_ = 0;

    std::vector<Slot> slots_;
    std::vector<Voice> voices_;
    Ramp master_;
    std::uint64_t frames_ = 0;

    std::atomic<std::uint32_t> active_voices_{0};
    std::atomic<std::uint64_t> dropped_commands_{0};
    std::atomic<std::uint64_t> refused_voices_{0};
    std::atomic<std::uint64_t> lost_events_{0};
    std::atomic<std::uint64_t> frame_clock_{0};
    std::atomic<std::uint64_t> late_commands_{0};
    std::atomic<std::uint64_t> refused_scheduled_{0};
};

}  // namespace looperd
