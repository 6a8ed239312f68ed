// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "looperd/clock.hpp"
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
    // Recording (docs/recording.md). The engine's default has no inputs, hence no recording
    // and no memory for it; the daemon asks for limits::kDefaultInputs.
    std::uint32_t inputs = 0;
    std::uint32_t recorders = limits::kDefaultRecorders;  // takes recorded or kept at once
    float max_record_seconds = limits::kDefaultMaxRecordSeconds;
    std::uint32_t undo_levels = limits::kDefaultUndoLevels;         // per recorder
    std::uint32_t undo_memory_mib = limits::kDefaultUndoMemoryMib;  // shared by all recorders
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

    // Control thread. Commands sent and not yet taken by the audio thread (approximate: the
    // audio thread may be taking some right now). Lets a long burst wait for room.
    std::size_t queued_commands() const noexcept { return commands_.size_approx(); }

    // Housekeeping thread. Wait-free; does not allocate.
    bool try_receive(Event& event) noexcept;

    // Audio thread. Wait-free and bounded; does not allocate, lock or make syscalls.
    // Applies queued commands, each on its frame, and overwrites outputs[0..outputs) with
    // nframes of mix. `timing.frame` is the host's frame time of the first frame.
    void process(float* const* outputs, std::uint32_t nframes, const BlockTiming& timing) noexcept;
    // The same with the engine's own frame count as the clock (tests, benchmarks).
    void process(float* const* outputs, std::uint32_t nframes) noexcept;
    // The same with the host's inputs: inputs[0..n_inputs) hold nframes each (n_inputs beyond
    // config().inputs are ignored; missing ones are silence). Recording and monitoring read
    // them; the overloads above pass none.
    void process(const float* const* inputs, std::uint32_t n_inputs, float* const* outputs,
                 std::uint32_t nframes, const BlockTiming& timing) noexcept;
    void process(const float* const* inputs, std::uint32_t n_inputs, float* const* outputs,
                 std::uint32_t nframes) noexcept;

    // Control thread, any time: fades and ramps are re-timed at the next block.
    void set_sample_rate(std::uint32_t sample_rate) noexcept;
    // The host stopped calling process() for a while (the JACK server went away) and will call
    // it again. Voices keep their places; at the next block those sounding fade in again over
    // the engine's fade (instead of starting mid-waveform with a click) and those that were
    // fading out end silently. Call only while no audio thread runs (between the host's loss
    // and its next activation). Frames passed to process() after it must continue the old
    // ones (the host keeps one timeline across servers).
    void resume_after_gap() noexcept;
    // Takes the audio thread's part while there is none (between the host's loss and its next
    // activation): applies the queued commands as process() would at the last block's frame,
    // without rendering, so that commands sent meanwhile neither pile up nor get dropped.
    // Returns how many were taken (at most one block's worth). Call only while no audio thread
    // runs; wait-free, does not allocate.
    std::size_t apply_commands_while_stopped() noexcept;
    std::uint32_t sample_rate() const noexcept {
        return current_rate_.load(std::memory_order_relaxed);
    }

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
    // Telemetry for control surfaces, published at the end of every block (relaxed snapshots).
    // Voices of `slot` sounding (not fading out).
    std::uint32_t slot_sounding_voices(std::uint32_t slot) const noexcept;
    // Where the slot's newest sounding voice is, 0..1 across its region (0 when silent).
    float slot_position(std::uint32_t slot) const noexcept;
    // The peak |sample| of output `o` since the last call (the audio thread holds the peak
    // until a reader takes it). One reader thread.
    float take_output_peak(std::uint32_t o) noexcept;
    // The clock's beat position at the start of the last block (beats since the grid's zero).
    double clock_beat() const noexcept { return clock_beat_.load(std::memory_order_relaxed); }
    double clock_meter() const noexcept { return clock_meter_.load(std::memory_order_relaxed); }
    // Recording state of `slot`, published at the end of every block: what the slot is doing.
    enum class RecordState : std::uint8_t { none = 0, recording = 1, overdubbing = 2 };
    RecordState slot_record_state(std::uint32_t slot) const noexcept;
    // Recorders not holding a take (any thread; relaxed).
    std::uint32_t free_recorders() const noexcept {
        return free_recorders_.load(std::memory_order_relaxed);
    }
    // Frames of one record buffer (the maximum take length), 0 when recording is off.
    std::uint32_t max_record_frames() const noexcept { return max_record_frames_; }
    // Bytes preallocated for recording: record buffers plus the undo arena.
    std::size_t record_memory_bytes() const noexcept { return record_memory_bytes_; }

    // Scheduled commands whose frame had passed when they reached the audio thread.
    std::uint64_t late_commands() const noexcept {
        return late_commands_.load(std::memory_order_relaxed);
    }
    // Scheduled commands refused because scheduled_capacity were already pending.
    std::uint64_t refused_scheduled() const noexcept {
        return refused_scheduled_.load(std::memory_order_relaxed);
    }

  private:
    // A slot's parameters: kept here, applied to new voices and, where it makes sense, to
    // playing ones. Audio thread only.
    struct Slot {
        SampleBuffer* buffer = nullptr;  // one rt reference while set
        float gain = 1.0F;
        SlotMode mode = SlotMode::oneshot;
        float pan = 0.0F;
        float rate = 1.0F;
        float pitch = 0.0F;  // semitones
        bool reverse = false;
        float region_start = 0.0F;  // fractions of the buffer's length
        float region_end = 1.0F;
        float xfade_ms = 0.0F;
        std::uint32_t poly = 1;
        std::uint32_t choke = 0;
        std::uint32_t output = 0;  // 0: every output pair; k: pair k
        float fade_in_ms = 0.0F;
        float fade_out_ms = 0.0F;    // set from the config
        float quantize = 0.0F;       // 0 none, -1 bar, > 0 beats
        float beats = 0.0F;          // 0 off
        std::int32_t recorder = -1;  // the recorder holding this slot's take, -1: none
        std::uint32_t input = 1;     // input pair recorded and monitored
        bool monitor = false;
    };

    // Recorder: one take's memory and state, from the pool built in the constructor. Audio
    // thread only. Its buffer is the slot's buffer while the slot holds the take.
    //
    // Undo: each overdub pass is a layer. Before the pass first writes to a chunk of the
    // take, the chunk is copied into a free chunk of the shared undo arena and the layer maps
    // take chunk → arena chunk. Undo swaps those chunks back (the layer then holds the
    // overdubbed frames: it is the redo layer); redo swaps again. Swaps are bit exact.
    struct Layer {
        std::uint32_t* map = nullptr;   // per take chunk: arena chunk + 1, or 0
        std::uint32_t* list = nullptr;  // take chunks saved, in order
        std::uint32_t saved = 0;
    };
    struct Recorder {
        // loading: a load_take copying `source` in (the slot plays `source` meanwhile).
        enum class State : std::uint8_t { free, recording, looping, releasing, loading };
        SampleBuffer* buffer = nullptr;  // pooled; capacity max_record_frames_, 2 channels
        State state = State::free;
        std::uint32_t slot = 0;
        std::uint64_t start = 0;        // output frame the take began
        std::uint64_t write_begin = 0;  // input frame written to take frame 0 (start + offset)
        std::uint64_t write_end = 0;    // first pass written until here (write_begin + length)
        std::uint64_t origin = 0;       // output frame at which take frame 0 last played
        std::uint32_t length = 0;
        bool overdub = false;
        // Layers: order[0..undo) undo layers, oldest first; order[undo..undo + redo) redo
        // layers, the next to redo first.
        Layer* layers = nullptr;
        std::uint32_t* order = nullptr;
        std::uint32_t undo = 0;
        std::uint32_t redo = 0;
        // An undo or redo in progress: layer order[swap_layer], chunks [swap_next, saved).
        bool swapping = false;
        bool swap_undo = false;  // undo (true) or redo
        std::uint32_t swap_layer = 0;
        std::uint32_t swap_next = 0;
        // A load_take in progress: chunks [copy_next, length) of `source` still to copy.
        SampleBuffer* source = nullptr;
        std::uint32_t copy_next = 0;
    };
    // A snapshot (saving a take): the take as it was when copying began, into `dest`. Chunks
    // an overdub or a swap is about to change are copied first (snapshot_copied_).
    struct Snapshot {
        SampleBuffer* dest = nullptr;  // lent by the command; none: no snapshot
        std::uint32_t slot = 0;
        std::size_t recorder = 0;
        std::uint32_t next = 0;  // the next chunk the sweep copies
        bool copying = false;    // false: waiting for the take to be whole
    };

    void allocate_recording();  // constructor only
    void apply(const Command& c, std::uint64_t now) noexcept;
    void schedule(const Command& c) noexcept;
    void press(std::uint32_t slot, float value, std::uint64_t now) noexcept;
    void start_voice(std::uint32_t slot, std::uint64_t now) noexcept;
    void stop_slot(std::uint32_t slot) noexcept;
    bool slot_sounding(std::uint32_t slot) const noexcept;
    void release(Voice& v) noexcept;       // start the fade out
    void retire_voice(Voice& v) noexcept;  // voice done: drop its buffer reference
    void acquire(SampleBuffer* b) noexcept;
    void unref(SampleBuffer* b) noexcept;  // last reference: post buffer_retired
    void post(const Event& e) noexcept;
    void flush_backlog() noexcept;
    // Audio thread: the queued commands (a block's worth at most), applied at t0 or scheduled.
    std::size_t take_commands(std::uint64_t t0) noexcept;
    void resume_voices() noexcept;
    void render(float* const* out, std::uint32_t offset, std::uint32_t n) noexcept;
    void render_voice(Voice& v, float* const* out, std::uint32_t offset, std::uint32_t n) noexcept;
    bool read_voice(Voice& v, std::uint32_t n) noexcept;  // into scratch_; false: ended
    float target_rate(const Slot& s) const noexcept;
    void update_voice_rates() noexcept;
    void set_pan(Voice& v, float pan, std::uint32_t frames) noexcept;
    Voice* free_voice() noexcept;
    void publish_telemetry(float* const* outputs, std::uint32_t nframes) noexcept;
    std::uint32_t ms_frames(float ms) const noexcept;
    // Recording (src/engine/recording.cpp).
    void apply_record(const Command& c, std::uint64_t now) noexcept;
    void record_press(std::uint32_t slot, std::uint64_t now) noexcept;
    std::uint64_t record_grid(std::uint32_t slot, std::uint64_t now) const noexcept;
    void start_take(std::uint32_t slot, std::uint64_t now) noexcept;
    void finish_take(Recorder& r, std::uint64_t now, EventKind kind) noexcept;
    void overdub_toggle(std::uint32_t slot, std::uint64_t now) noexcept;
    void begin_pass(Recorder& r) noexcept;
    void end_pass(Recorder& r) noexcept;
    bool save_chunk(Recorder& r, std::uint32_t chunk) noexcept;
    void free_layer(Layer& l) noexcept;
    void drop_oldest_layer(Recorder& r) noexcept;
    void start_swap(Recorder& r, bool undo) noexcept;
    void advance_swaps() noexcept;
    void clear_slot(std::uint32_t slot) noexcept;
    void release_recorder(Recorder& r) noexcept;
    void recorder_unused(SampleBuffer* b) noexcept;
    Recorder* slot_recorder(std::uint32_t slot) noexcept;
    void input_pair(std::uint32_t pair, const float*& left, const float*& right) const noexcept;
    std::uint64_t record_deadline(std::uint64_t from, std::uint64_t to) const noexcept;
    void record_due(std::uint64_t now) noexcept;
    void record_segment(std::uint32_t offset, std::uint32_t n) noexcept;
    void monitor_segment(float* const* out, std::uint32_t offset, std::uint32_t n) noexcept;
    // Keeping takes (src/engine/take_copy.cpp).
    void apply_keep(const Command& c, std::uint64_t now) noexcept;
    void load_take(std::uint32_t slot, SampleBuffer* source, bool reload,
                   std::uint64_t now) noexcept;
    void finish_load_take(Recorder& r) noexcept;
    void advance_copies() noexcept;
    void advance_snapshot(std::uint32_t& budget) noexcept;
    void snapshot_before_write(const Recorder& r, std::uint32_t chunk) noexcept;
    void copy_snapshot_chunk(const Recorder& r, std::uint32_t chunk) noexcept;
    void abort_snapshot(const Recorder& r) noexcept;

    EngineConfig config_;
    std::uint32_t fade_frames_ = 1;
    std::uint32_t smooth_frames_ = 1;
    std::atomic<std::uint32_t> pending_sample_rate_{0};
    std::atomic<std::uint32_t> current_rate_{0};  // the latest rate asked for (any thread)
    std::atomic<bool> resume_pending_{false};

    SpscRing<Command> commands_;
    SpscRing<Event> events_;
    // Events the ring could not take (it was full); re-posted first thing next block. Sized so
    // that buffer_retired events are never lost: see the constructor.
    std::vector<Event> backlog_;
    std::size_t backlog_size_ = 0;

    std::vector<Slot> slots_;
    std::vector<Voice> voices_;
    Ramp master_;
    std::uint64_t frames_ = 0;     // frames processed: the clock when the host gives none
    std::uint64_t now_frame_ = 0;  // host frame of the block being rendered
    Clock clock_;
    double last_bpm_ = 0.0;
    // Commands waiting for their frame, sorted by frame (stable: equal frames keep their order).
    std::vector<Command> scheduled_;
    std::size_t scheduled_size_ = 0;
    // One chunk of one voice's source frames, per source channel, before gain and mapping.
    std::vector<float> scratch_;

    std::atomic<std::uint32_t> active_voices_{0};
    std::atomic<std::uint64_t> dropped_commands_{0};
    std::atomic<std::uint64_t> refused_voices_{0};
    std::atomic<std::uint64_t> lost_events_{0};
    std::atomic<std::uint64_t> frame_clock_{0};
    std::atomic<std::uint64_t> late_commands_{0};
    std::atomic<std::uint64_t> refused_scheduled_{0};

    // Recording. All preallocated in the constructor; the audio thread alone uses them.
    std::vector<Recorder> recorders_;
    std::vector<Layer> layer_pool_;          // undo_levels per recorder
    std::vector<std::uint32_t> index_pool_;  // layer maps, lists and orders
    SampleBuffer* undo_arena_ = nullptr;     // chunks of 2 × kUndoChunkFrames floats
    std::vector<std::uint32_t> free_chunks_;
    std::size_t free_chunk_count_ = 0;
    std::uint32_t max_record_frames_ = 0;
    std::uint32_t max_take_chunks_ = 0;
    std::size_t record_memory_bytes_ = 0;
    std::int64_t record_offset_ = 0;  // frames, >= 0
    bool monitor_all_ = false;
    std::uint32_t monitored_slots_ = 0;     // slots with monitor on: none skips the scan
    const float* const* inputs_ = nullptr;  // the block being processed
    std::uint32_t n_inputs_ = 0;
    std::uint64_t block_end_ = 0;  // host frame after the block being processed
    std::vector<std::atomic<std::uint8_t>> record_state_;
    Snapshot snapshot_;
    std::vector<std::uint8_t> snapshot_copied_;  // per take chunk: copied by this snapshot
    std::atomic<std::uint32_t> free_recorders_{0};

    // Telemetry (see slot_sounding_voices and friends). Preallocated; the audio thread stores, any
    // thread loads. The peak hold restarts when the reader bumps peak_epoch_.
    struct SlotTelemetry {
        std::atomic<std::uint32_t> sounding{0};
        std::atomic<float> position{0.0F};
    };
    std::vector<SlotTelemetry> slot_telemetry_;
    std::vector<std::atomic<float>> output_peak_;
    std::vector<float> peak_hold_;                // audio thread
    std::vector<std::uint32_t> telemetry_count_;  // audio thread scratch, one per slot
    std::vector<const Voice*> telemetry_newest_;  // audio thread scratch, one per slot
    std::atomic<std::uint32_t> peak_epoch_{0};
    std::uint32_t peak_epoch_seen_ = 0;  // audio thread
    std::atomic<double> clock_beat_{0.0};
    std::atomic<double> clock_meter_{4.0};
    static_assert(std::atomic<float>::is_always_lock_free);
    static_assert(std::atomic<double>::is_always_lock_free);
};

}  // namespace looperd
