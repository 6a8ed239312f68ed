// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "looperd/clock.hpp"
#include "looperd/command.hpp"
#include "looperd/event.hpp"
#include "looperd/input_block.hpp"
#include "looperd/limits.hpp"
#include "looperd/midi.hpp"
#include "looperd/midi_clock_in.hpp"
#include "looperd/recorder_pool.hpp"
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
    // false: every record buffer and the whole undo arena are made now (tests, benchmarks);
    // true (the daemon): only what the first take needs, the rest on demand
    // (RecorderPoolConfig::on_demand, docs/recording.md#memory).
    bool record_memory_on_demand = false;
};

// Engine: the real-time core. Mixes the voices of preloaded sample buffers into N outputs.
//
// Threads:
//  - one control thread at a time calls try_send() and command_room() (the daemon's network,
//    loader and take threads, serialised by its CommandPort);
//  - the audio thread calls process();
//  - one housekeeping thread calls try_receive() and frees every retired buffer it is given;
//  - any thread may read the stats.
// The constructor and destructor run on none of those while the others run. Everything the
// audio thread touches is allocated in the constructor.
//
// Ownership: a SampleBuffer sent with assign_buffer belongs to the engine from then on. When
// no slot and no voice reads it any more, the engine posts buffer_retired and ownership
// passes to whoever pops that event. The destructor deletes what the engine still holds.
// Recording's memory (record buffers, undo arena) belongs to its RecorderPool.
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
    // Control thread: places free in the command ring, never more than there are (the audio
    // thread only ever makes more). Lets a batch of commands go all or none.
    std::size_t command_room() const noexcept {
        const std::size_t queued = commands_.size_approx();
        return queued < commands_.capacity() ? commands_.capacity() - queued : 0;
    }

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
    // The same with the block's MIDI input: each event acts on its own frame, as a command
    // scheduled for that frame would (docs/midi.md). Notes play slots by the pad map (default:
    // limits::kFirstSlotNote up; set_pad_note changes it); events beyond the per-block budget
    // are dropped and counted.
    void process(const float* const* inputs, std::uint32_t n_inputs, float* const* outputs,
                 std::uint32_t nframes, const BlockTiming& timing, const MidiInput& midi) noexcept;

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

    // Tests: voices interpolate with the scalar reference kernel instead of the vector one
    // (interpolate.hpp), to compare the two. Call only while no audio thread runs.
    void use_reference_voices(bool on) noexcept { reference_voices_ = on; }

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
    // What waits to happen to a slot: a quantized start (play or record) or stop still before
    // its grid frame, and voices fading out after a stop. A surface shows these as "queued"
    // and "stopping", so that a press that waits for the bar is seen to have been taken.
    struct SlotPending {
        bool start = false;
        bool stop = false;
        bool fading = false;
    };
    SlotPending slot_pending(std::uint32_t slot) const noexcept;
    // The peak |sample| of output `o` since the last call (the audio thread holds the peak
    // until a reader takes it). One reader thread.
    float take_output_peak(std::uint32_t o) noexcept;
    // The clock's beat position at the start of the last block (beats since the grid's zero).
    double clock_beat() const noexcept { return clock_beat_.load(std::memory_order_relaxed); }
    double clock_meter() const noexcept { return clock_meter_.load(std::memory_order_relaxed); }
    // The tempo the beat grid runs at, whatever its source (internal, JACK), at the last block.
    double clock_bpm() const noexcept { return clock_bpm_.load(std::memory_order_relaxed); }
    // Recording state of `slot`, published at the end of every block: what the slot is doing.
    using RecordState = RecorderPool::RecordState;
    RecordState slot_record_state(std::uint32_t slot) const noexcept {
        return recorders_.slot_record_state(slot);
    }
    // Which frames `slot`'s take holds (RecorderPool::take_content), as of the end of the last
    // block; 0: no settled take. Any thread; relaxed.
    std::uint32_t take_content(std::uint32_t slot) const noexcept {
        return recorders_.published_take_content(slot);
    }
    // The frames of `slot`'s take as of the end of the last block; 0 while none loops. Any
    // thread; relaxed. The control thread hears of a take from its events, later.
    std::uint32_t take_frames(std::uint32_t slot) const noexcept {
        return recorders_.published_take_frames(slot);
    }
    // Recorders not holding a take (any thread; relaxed).
    std::uint32_t free_recorders() const noexcept { return recorders_.free_recorders(); }
    // Frames of one record buffer (the maximum take length), 0 when recording is off.
    std::uint32_t max_record_frames() const noexcept { return recorders_.max_record_frames(); }
    // Bytes made for recording in the constructor: record buffers plus the undo arena.
    std::size_t record_memory_bytes() const noexcept { return recorders_.record_memory_bytes(); }
    // The recorder pool, for what it publishes to any thread (the record memory it wants).
    const RecorderPool& recorder_pool() const noexcept { return recorders_; }

    // MIDI messages read from the input (after the budget), events dropped beyond the per-block
    // budget, and data bytes dropped for want of a status byte. Any thread; relaxed.
    std::uint64_t midi_messages() const noexcept {
        return midi_messages_.load(std::memory_order_relaxed);
    }
    std::uint64_t midi_dropped() const noexcept {
        return midi_dropped_.load(std::memory_order_relaxed);
    }
    std::uint64_t midi_stray_bytes() const noexcept {
        return midi_stray_.load(std::memory_order_relaxed);
    }
    // The control thread that applies bindings: the next bound message (set_midi_watch,
    // set_midi_learn) the audio thread passed on. One consumer thread. Wait-free.
    bool try_receive_midi(MidiMessage& out) noexcept { return midi_control_.try_pop(out); }
    // Audio thread, after process(): the block's MIDI output in time order, for the host to
    // copy to its port (valid until the next process()).
    const MidiOutEvent* midi_output() const noexcept { return midi_out_.data(); }
    std::uint32_t midi_output_count() const noexcept { return midi_out_count_; }
    // MIDI output dropped beyond the per-block budget. Any thread; relaxed.
    std::uint64_t midi_out_dropped() const noexcept {
        return midi_out_dropped_.load(std::memory_order_relaxed);
    }

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
        float start = 0.0F;  // fractions of the buffer's length
        float end = 1.0F;
        float xfade_ms = 0.0F;
        std::uint32_t poly = 1;
        std::uint32_t choke = 0;
        std::uint32_t output = 0;  // 0: every output pair; k: pair k
        float fade_in_ms = 0.0F;
        float fade_out_ms = 0.0F;  // set from the config
        float quantize = 0.0F;     // 0 none, -1 bar, > 0 beats
        float beats = 0.0F;        // 0 off
        StretchMode stretch = StretchMode::rate;
        // stretch pitch: the region rendered to `beats` (one rt reference while set; nullptr:
        // none yet, and the slot follows the tempo by its rate meanwhile).
        SampleBuffer* stretched = nullptr;
        // The take content `stretched` was made from (RecorderPool::take_content; 0: the
        // sample): played only while the slot's take is still that.
        std::uint32_t stretched_content = 0;
        bool monitor = false;  // the slot's input pair (RecorderPool::slot_input) to its outputs
    };

    // The slots and voices as the recorder pool sees them (src/engine/take_host.cpp). The
    // pool gets this narrow view with each call, never the engine.
    class PoolHost final : public TakeHost {
      public:
        explicit PoolHost(Engine& engine) noexcept : engine_(engine) {}
        void post(const Event& e) noexcept override;
        void schedule(const Command& c) noexcept override;
        const Clock& clock() const noexcept override;
        float quantize(std::uint32_t slot) const noexcept override;
        bool sounding(std::uint32_t slot) const noexcept override;
        void start_voice(std::uint32_t slot, std::uint64_t now) noexcept override;
        void stop_slot(std::uint32_t slot) noexcept override;
        void cut_voices(std::uint32_t slot, const SampleBuffer* b) noexcept override;
        void set_buffer(std::uint32_t slot, SampleBuffer* b) noexcept override;
        void move_buffer(std::uint32_t slot, SampleBuffer* from,
                         SampleBuffer* to) noexcept override;

      private:
        Engine& engine_;
    };

    // Command application (src/engine/engine_commands.cpp).
    void apply(const Command& c, std::uint64_t now) noexcept;
    void schedule(const Command& c) noexcept;
    // Following Link, the grid may move under a pending quantized play or stop (a peer's tempo,
    // or JACK's clock re-estimated after an xrun): each keeps its beat, not its frame.
    void follow_grid(const Clock& before, std::uint64_t now) noexcept;
    void press(std::uint32_t slot, float value, std::uint64_t now) noexcept;
    // The transport (src/engine/transport.cpp).
    void transport_stop() noexcept;
    void transport_start(std::uint64_t now) noexcept;
    void follow_link_playing(const LinkInfo& link, std::uint64_t now) noexcept;
    // Following Link, looping voices of slots with `beats` stay on the session's beat grid
    // (src/engine/loop_lock.cpp).
    void lock_loops(std::uint64_t now) noexcept;
    // Voices (src/engine/voices.cpp).
    // `velocity`: the press's factor on the slot's gain (1: none). Returns the voice started
    // (nullptr: none).
    Voice* start_voice(std::uint32_t slot, std::uint64_t now, float velocity = 1.0F) noexcept;
    void stop_slot(std::uint32_t slot) noexcept;
    bool slot_sounding(std::uint32_t slot) const noexcept;
    void release(Voice& v) noexcept;       // start the fade out
    void retire_voice(Voice& v) noexcept;  // voice done: drop its buffer reference
    void acquire(SampleBuffer* b) noexcept;
    // Last reference: post buffer_retired (a record buffer goes back to the pool instead).
    void unref(SampleBuffer* b) noexcept;
    // `held` (a slot's reference) becomes `b` (nullptr: nothing); the old buffer loses it.
    void replace_held(SampleBuffer*& held, SampleBuffer* b) noexcept;
    // The slot holds `b` (one reference; nullptr: nothing); the old buffer loses the slot's.
    void set_slot_buffer(std::uint32_t slot, SampleBuffer* b) noexcept;
    // The rate a voice of `s` plays at: its rate and pitch, and the tempo through `beats` as its
    // stretch mode says. A voice on a rendering plays the whole rendering in `beats` beats.
    float target_rate(const Slot& s, const Voice& v) const noexcept;
    double stretched_rate(const Slot& s, const Voice& v) const noexcept;  // v.stretched
    // Time-stretching (src/engine/stretch.cpp): whether new voices of the slot play its
    // rendering; the slot's rendering replaced (nullptr: dropped); and a voice that reached its
    // loop seam while the slot plays something else now crossfaded onto it. `now`: the frame.
    bool plays_rendering(std::uint32_t slot) const noexcept;
    bool rendering_fits(std::uint32_t slot, std::uint32_t content) const noexcept;
    void set_slot_stretched(std::uint32_t slot, SampleBuffer* b,
                            std::uint32_t content = 0) noexcept;
    bool wants_swap(const Voice& v) const noexcept;
    void swap_at_seam(Voice& v, std::uint64_t now) noexcept;
    void update_voice_rates() noexcept;
    void set_pan(Voice& v, float pan, std::uint32_t frames) noexcept;
    Voice* free_voice() noexcept;
    void resume_voices() noexcept;
    // The mix (src/engine/render.cpp).
    void render(float* const* out, std::uint32_t offset, std::uint32_t n) noexcept;
    void render_voice(Voice& v, float* const* out, std::uint32_t offset, std::uint32_t n) noexcept;
    bool read_voice(Voice& v, std::uint32_t n) noexcept;  // into scratch_; false: ended
    void prefetch_voice(const Voice& v, std::uint32_t n) noexcept;
    // Input monitoring, before the voices: added to out[..][offset, offset + n).
    void monitor_segment(float* const* out, std::uint32_t offset, std::uint32_t n) noexcept;
    // The block (src/engine/engine.cpp).
    void post(const Event& e) noexcept;
    void flush_backlog() noexcept;
    // Audio thread: the queued commands (a block's worth at most), applied at t0 or scheduled.
    std::size_t take_commands(std::uint64_t t0) noexcept;
    void publish_telemetry(float* const* outputs, std::uint32_t nframes) noexcept;
    // MIDI input (src/engine/midi_in.cpp). The block's events are read before rendering, within
    // the budget, into the notes that act (a slot's press or release at a frame); the render
    // splits only at their frames, so messages that change nothing cost no split.
    struct MidiAction {
        std::uint32_t time = 0;  // frame in the block
        std::uint32_t slot = 0;
        std::uint8_t velocity = 0;  // 0: a release
    };
    void read_midi(const MidiInput& midi, std::uint32_t nframes) noexcept;
    // A system message (clock, transport) read at host frame `frame`: MIDI clock in.
    void midi_clock_message(const MidiMessage& m, std::uint64_t frame) noexcept;
    void midi_act(const MidiAction& a, std::uint64_t now) noexcept;
    bool pass_on(const MidiMessage& m) noexcept;
    // MIDI output (src/engine/midi_out.cpp): a message at `time` in the block, kept in time
    // order; the clock ticks of frames [from, to) (24 a beat, each on its frame of the grid).
    void midi_send(std::uint32_t time, std::uint8_t status, std::uint8_t d1 = 0,
                   std::uint8_t d2 = 0, std::uint8_t size = 1) noexcept;
    void midi_clock_ticks(std::uint64_t from, std::uint64_t to) noexcept;
    // Lights and the pad map (src/engine/midi_leds.cpp): midi_send, set_led_*, set_pad_note
    // and led_refresh; and, at the end of each block, a message for each light that changed.
    void apply_midi_command(const Command& c, std::uint64_t now) noexcept;
    LedState led_state(std::uint32_t slot) const noexcept;
    void update_leds() noexcept;
    // Start, Stop, Continue and Song Position Pointer as JACK's transport moves (block start).
    void midi_transport(const BlockTiming& t, std::uint32_t nframes) noexcept;
    std::uint32_t ms_frames(float ms) const noexcept;

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
    bool reference_voices_ = false;

    std::atomic<std::uint32_t> active_voices_{0};
    std::atomic<std::uint64_t> dropped_commands_{0};
    std::atomic<std::uint64_t> refused_voices_{0};
    std::atomic<std::uint64_t> lost_events_{0};
    std::atomic<std::uint64_t> frame_clock_{0};
    std::atomic<std::uint64_t> late_commands_{0};
    std::atomic<std::uint64_t> refused_scheduled_{0};

    // MIDI input: the parser keeps running status across blocks; the budget is per block.
    MidiParser midi_parser_;
    std::vector<MidiAction> midi_actions_;  // this block's, in time order
    std::uint32_t midi_action_count_ = 0;
    VelocityCurve velocity_curve_ = VelocityCurve::linear;
    // Bound messages: per midi_control_key the channels passed on (set_midi_watch); while
    // learning, every bindable message is. Passed on through midi_control_.
    std::array<std::uint16_t, kMidiControlKeys> midi_watch_{};
    bool midi_learn_ = false;
    SpscRing<MidiMessage> midi_control_;
    std::uint64_t midi_control_full_ = 0;  // this block's, counted in midi_dropped_
    std::atomic<std::uint64_t> midi_messages_{0};
    std::atomic<std::uint64_t> midi_dropped_{0};
    std::atomic<std::uint64_t> midi_stray_{0};
    // MIDI output: the block's messages, and the clock's state.
    std::vector<MidiOutEvent> midi_out_;
    std::uint32_t midi_out_count_ = 0;
    std::atomic<std::uint64_t> midi_out_dropped_{0};
    bool midi_clock_out_ = false;
    double last_tick_frame_ = 0.0;  // the last clock tick sent (valid when has_last_tick_)
    bool has_last_tick_ = false;
    std::uint32_t block_frames_ = 0;  // nframes of the block being processed
    // Lights: per slot the message (status 0: no light) and the state last sent; per state the
    // data byte and channel. The init message (SysEx) goes first on a refresh.
    struct LedSlot {
        std::uint8_t status = 0;  // 0x90 | ch (note) or 0xB0 | ch (CC); 0: none
        std::uint8_t number = 0;
    };
    struct LedValue {
        std::uint8_t data2 = 0;
        std::uint8_t channel = kLedSlotChannel;
    };
    static constexpr std::uint8_t kLedUnsent = 0xFF;
    std::vector<LedSlot> led_slots_;
    std::vector<std::uint8_t> led_sent_;
    std::array<LedValue, kLedStates> led_values_{};
    std::vector<std::uint8_t> midi_init_;  // limits::kMaxMidiInitBytes
    std::uint32_t midi_init_size_ = 0;
    bool led_refresh_pending_ = false;
    // The pad map: the slot a note plays, -1 none (default: limits::kFirstSlotNote + n → n).
    std::array<std::int32_t, 128> pad_slot_{};
    // Transport out, following JACK: what the followers were last told, where the transport
    // would be at the next block if it rolled on, and the first tick to send after a Continue
    // (the Song Position Pointer's 16th; ticks before it are held back).
    bool out_rolling_ = true;
    double out_next_beat_ = 0.0;
    double out_stopped_beat_ = -1.0;
    double hold_tick_ = -1.0;
    // The transport: slots a stop held for the next start (1: held), and Link's start/stop as
    // last seen (link_seen_: while following a session with start/stop sync on).
    std::vector<std::uint8_t> held_;
    bool start_stop_sync_ = true;
    bool link_seen_ = false;
    bool link_known_ = false;
    bool link_playing_ = false;
    double link_start_stop_beat_ = 0.0;
    // MIDI clock in: the loop that follows an external clock's ticks.
    MidiClockIn clock_in_;
    double clock_in_beat_ = 0.0;      // the grid's beat at the last tick followed
    bool clock_in_counting_ = false;  // the next tick is one after clock_in_beat_

    // Recording: every take's memory and state (the pool), and input monitoring.
    RecorderPool recorders_;
    PoolHost host_{*this};
    InputBlock inputs_;  // the block being processed
    bool monitor_all_ = false;
    std::uint32_t monitored_slots_ = 0;  // slots with monitor on: none skips the scan

    // Telemetry (see slot_sounding_voices and friends). Preallocated; the audio thread stores, any
    // thread loads. The peak hold restarts when the reader bumps peak_epoch_.
    struct SlotTelemetry {
        std::atomic<std::uint32_t> sounding{0};
        std::atomic<float> position{0.0F};
        std::atomic<std::uint8_t> pending{0};  // kPending* bits
    };
    static constexpr std::uint8_t kPendingStart = 1;
    static constexpr std::uint8_t kPendingStop = 2;
    static constexpr std::uint8_t kPendingFading = 4;
    std::vector<SlotTelemetry> slot_telemetry_;
    std::vector<std::atomic<float>> output_peak_;
    std::vector<float> peak_hold_;                 // audio thread
    std::vector<std::uint32_t> telemetry_count_;   // audio thread scratch, one per slot
    std::vector<const Voice*> telemetry_newest_;   // audio thread scratch, one per slot
    std::vector<std::uint8_t> telemetry_pending_;  // audio thread scratch, one per slot
    std::atomic<std::uint32_t> peak_epoch_{0};
    std::uint32_t peak_epoch_seen_ = 0;  // audio thread
    std::atomic<double> clock_beat_{0.0};
    std::atomic<double> clock_meter_{4.0};
    std::atomic<double> clock_bpm_{120.0};
    static_assert(std::atomic<float>::is_always_lock_free);
    static_assert(std::atomic<double>::is_always_lock_free);
};

}  // namespace looperd
