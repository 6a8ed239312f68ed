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
#include "looperd/input_block.hpp"
#include "looperd/limits.hpp"

namespace looperd {

class SampleBuffer;

// What a RecorderPool is built for: the recording half of EngineConfig (docs/recording.md).
struct RecorderPoolConfig {
    std::uint32_t slots = limits::kDefaultSlots;
    // No inputs or no recorders: recording is off, and the pool holds no memory for it.
    std::uint32_t inputs = 0;
    std::uint32_t recorders = limits::kDefaultRecorders;  // takes recorded or kept at once
    std::uint32_t sample_rate = 48000;
    float max_record_seconds = limits::kDefaultMaxRecordSeconds;
    std::uint32_t undo_levels = limits::kDefaultUndoLevels;         // per recorder
    std::uint32_t undo_memory_mib = limits::kDefaultUndoMemoryMib;  // shared by all recorders
    // Where the memory comes from (docs/recording.md#memory).
    //  - false: the constructor makes every record buffer and the whole undo arena (tests and
    //    benchmarks that want none of the traffic below).
    //  - true (the daemon): the constructor makes limits::kSpareRecordBuffers record buffers and
    //    one undo block. The pool publishes what more it wants (record_buffers_wanted,
    //    undo_blocks_wanted); a thread off the audio thread makes it and sends it with
    //    assign_record_buffer and assign_undo_block. A record press or take load that finds no
    //    record buffer waits for one; spare buffers beyond limits::kSpareRecordBuffers go back
    //    (buffer_retired) once their takes are cleared.
    bool on_demand = false;
};

// TakeHost: what a RecorderPool asks of the slots and voices that play its takes, and nothing
// more. The Engine implements it over its slot table and voices (src/engine/take_host.cpp);
// tests implement it with a fake. The pool keeps no pointer to it: each pool function that may
// touch a slot, a voice or the event ring takes the host as an argument.
//
// A slot holding a take plays the recorder's buffer as its sample. Buffers carry the audio
// thread's reference count (SampleBuffer::rt_refs); a record buffer whose count falls to zero
// goes back to the pool through RecorderPool::buffer_unused, never to housekeeping.
//
// Audio thread. Every function wait-free; does not allocate.
class TakeHost {
  public:
    // Posts `e` to the housekeeping thread (dropped and counted if the ring is full, except
    // buffer_retired).
    virtual void post(const Event& e) noexcept = 0;
    // Applies `c` again on frame c.frame, through RecorderPool::apply (a command waiting for a
    // grid frame, or for an undo or a copy to finish).
    virtual void schedule(const Command& c) noexcept = 0;
    // The beat grid, and the slot's quantize setting (0 none, -1 bar, > 0 beats).
    virtual const Clock& clock() const noexcept = 0;
    virtual float quantize(std::uint32_t slot) const noexcept = 0;
    // True while a voice of `slot` sounds (not fading out).
    virtual bool sounding(std::uint32_t slot) const noexcept = 0;
    // Starts a voice of `slot` on its buffer at frame `now`; a slot holding a take loops it, and
    // the host reports where take frame 0 plays with RecorderPool::voice_started.
    virtual void start_voice(std::uint32_t slot, std::uint64_t now) noexcept = 0;
    // Fades out every voice of `slot`.
    virtual void stop_slot(std::uint32_t slot) noexcept = 0;
    // Ends at once (no fade) the voices of `slot` that read `b`: its frames are about to be
    // overwritten.
    virtual void cut_voices(std::uint32_t slot, const SampleBuffer* b) noexcept = 0;
    // The slot's buffer becomes `b` (one reference taken; nullptr: none); the one it held loses
    // the slot's reference.
    virtual void set_buffer(std::uint32_t slot, SampleBuffer* b) noexcept = 0;
    // The same frames moved to another buffer: the voices reading `from`, then the slot, read
    // `to` instead; `from` loses those references.
    virtual void move_buffer(std::uint32_t slot, SampleBuffer* from, SampleBuffer* to) noexcept = 0;

  protected:
    ~TakeHost() = default;
};

// RecorderPool: every take's memory and state machine. Recording from the inputs, overdub
// passes with their undo layers, undo and redo, clear, the maximum length, the record offset,
// saving a take (snapshot) and loading one (load_take). docs/recording.md has the model.
//
// Threads:
//  - the constructor and destructor run on the control thread, while no audio thread runs;
//  - the audio thread calls the functions that say "Audio thread", from Engine::process:
//    apply() for the recording commands, begin_block() and advance() at the start of a block,
//    process_segment() after each rendered segment, due() at each split frame, publish() at
//    the end, and the slot queries as voices start and buffers are let go;
//  - any thread may read the published state (slot_record_state, free_recorders) and the sizes.
//
// Ownership: the constructor allocates all bookkeeping, and the record buffers and undo blocks
// that RecorderPoolConfig::on_demand asks for; the rest arrive by command, made and prefaulted
// off the audio thread. Nothing is allocated on the audio thread, and the destructor frees what
// the pool holds. Record buffers are pooled (SampleBuffer::pooled): a slot holding a take holds
// a reference to one, but it leaves the pool only as a spare beyond the pool's need, retired
// (buffer_retired) while no slot or voice holds it. Undo blocks stay until the destructor. A
// load_take's source buffer is the slot's (the host's) while it is copied in; a snapshot's
// destination is lent by the command and handed back with snapshot_done or snapshot_refused, never
// freed here.
class RecorderPool {
  public:
    // What a slot is doing, published at the end of every block.
    enum class RecordState : std::uint8_t { none = 0, recording = 1, overdubbing = 2 };

    // Any thread. Throws std::invalid_argument on a config outside limits.
    static void check(const RecorderPoolConfig& config);

    // Control thread. Note: allocates memory (prefaulted, locked when the process may).
    // Throws std::invalid_argument on a config outside limits.
    explicit RecorderPool(const RecorderPoolConfig& config);
    // Control thread, while no audio thread runs: frees every record buffer and the arena.
    ~RecorderPool();
    RecorderPool(const RecorderPool&) = delete;
    RecorderPool& operator=(const RecorderPool&) = delete;

    // Any thread, all of them: sizes the constructor fixed, and relaxed snapshots of what the
    // audio thread published. Wait-free.
    // True when recording is on (some inputs and some recorders).
    bool enabled() const noexcept { return !recorders_.empty(); }
    // Frames of one record buffer (the maximum take length), 0 when recording is off.
    std::uint32_t max_record_frames() const noexcept { return max_record_frames_; }
    // Bytes the constructor made for recording: record buffers plus undo blocks.
    std::size_t record_memory_bytes() const noexcept { return record_memory_bytes_; }
    // Bytes of one record buffer (2 channels of max_record_frames), 0 when recording is off.
    std::size_t record_buffer_bytes() const noexcept {
        return std::size_t{2} * max_record_frames_ * sizeof(float);
    }
    // Undo blocks the arena has at most, and the floats of block `index` (one channel): every
    // block is limits::kUndoBlockChunks chunks but the last, which holds what is left of
    // --undo-memory-mib.
    std::uint32_t max_undo_blocks() const noexcept { return max_undo_blocks_; }
    std::size_t undo_block_floats(std::uint32_t index) const noexcept;
    // Memory on demand, published at the end of every block (relaxed). What the pool wants
    // made, counting neither what it was sent and has not yet taken: the sender subtracts
    // what it sent beyond the *_taken counts: every buffer of that kind the audio thread
    // received, kept or given back, and the constructor's.
    std::uint32_t record_buffers_wanted() const noexcept {
        return record_wanted_.load(std::memory_order_relaxed);
    }
    std::uint32_t record_buffers_taken() const noexcept {
        return record_taken_.load(std::memory_order_relaxed);
    }
    std::uint32_t undo_blocks_wanted() const noexcept {
        return undo_wanted_.load(std::memory_order_relaxed);
    }
    std::uint32_t undo_blocks_taken() const noexcept {
        return undo_taken_.load(std::memory_order_relaxed);
    }
    // record_memory_refused commands received (relaxed).
    std::uint32_t record_refusals_taken() const noexcept {
        return refusals_taken_.load(std::memory_order_relaxed);
    }
    // Record presses and take loads waiting for a record buffer (relaxed).
    std::uint32_t waiting() const noexcept {
        return waiting_published_.load(std::memory_order_relaxed);
    }
    // Recorders not holding a take (relaxed).
    std::uint32_t free_recorders() const noexcept {
        return free_recorders_.load(std::memory_order_relaxed);
    }
    // Takes being recorded or overdubbed (relaxed): while any is, memory may be wanted any block.
    std::uint32_t writing() const noexcept { return writing_.load(std::memory_order_relaxed); }
    // What `slot` is doing, as of the last publish() (relaxed).
    RecordState slot_record_state(std::uint32_t slot) const noexcept;

    // Audio thread. Wait-free; does not allocate. Host frames [t0, t0 + nframes) are the
    // block being processed.
    void begin_block(std::uint64_t t0, std::uint32_t nframes) noexcept {
        now_frame_ = t0;
        block_end_ = t0 + nframes;
    }
    // Audio thread. Wait-free; does not allocate. Applies record, overdub, undo, redo, clear,
    // record_on_grid, overdub_on_grid, set_input, set_record_offset, snapshot, load_take,
    // assign_record_buffer, assign_undo_block and record_memory_refused at frame `now`; other
    // kinds are ignored. `c.slot` must be a slot of the table.
    void apply(const Command& c, std::uint64_t now, TakeHost& host) noexcept;
    // Audio thread. Wait-free; does not allocate. Start of a block, after its commands: undo
    // and redo swaps, then load_take and snapshot copies, each a bounded number of chunks.
    void advance(TakeHost& host) noexcept;
    // Audio thread. Wait-free; does not allocate. The first frame in [from, to) at which a take
    // reaches the maximum length; `to` if none. The host splits the block there.
    std::uint64_t deadline(std::uint64_t from, std::uint64_t to) const noexcept;
    // Audio thread. Wait-free; does not allocate. Host frames [t0 + offset, + n) of the inputs
    // go into the takes. Called after those frames were rendered, so an overdub pass hears the
    // loop as it was and its layer from the next pass.
    void process_segment(const InputBlock& in, std::uint32_t offset, std::uint32_t n,
                         TakeHost& host) noexcept;
    // Audio thread. Wait-free; does not allocate. Ends the takes that reached the maximum
    // length by frame `now`, on their exact frame.
    void due(std::uint64_t now, TakeHost& host) noexcept;
    // Audio thread. Wait-free; does not allocate. End of a block: retires spare record buffers
    // beyond the pool's need, and publishes every slot's record state, the free recorders and
    // the memory wanted.
    void publish(TakeHost& host) noexcept;

    // Audio thread. Wait-free; does not allocate. The slot lets its take go (assign_buffer or
    // unload): the recorder returns once no voice reads it. The slot's buffer is the host's
    // business.
    void drop_take(std::uint32_t slot, TakeHost& host) noexcept;
    // Audio thread. Wait-free; does not allocate. The last reference to record buffer `b`
    // went: a released recorder becomes free.
    void buffer_unused(const SampleBuffer* b) noexcept;
    // Audio thread. Wait-free; does not allocate. True while `slot` holds a take.
    bool holds_take(std::uint32_t slot) const noexcept { return slot_takes_[slot].recorder >= 0; }
    // Audio thread. Wait-free; does not allocate. A voice of `slot` started; take frame 0 plays
    // at `origin`. Overdub follows the take's frames as they play from there.
    void voice_started(std::uint32_t slot, std::uint64_t origin) noexcept {
        const std::int32_t r = slot_takes_[slot].recorder;
        if (r >= 0) recorders_[static_cast<std::size_t>(r)].origin = origin;
    }
    // Audio thread. Wait-free; does not allocate. True when `slot` holds a whole take (looping
    // or being loaded); `origin`: the frame its frame 0 last played.
    bool take_origin(std::uint32_t slot, std::uint64_t& origin) const noexcept;
    // Audio thread. Wait-free; does not allocate. The input pair `slot` records (1..).
    std::uint32_t slot_input(std::uint32_t slot) const noexcept { return slot_takes_[slot].input; }
    // Audio thread. Wait-free; does not allocate. Which frames `slot`'s take holds: a number
    // that changes whenever they change (a new take, a take loaded, an overdub pass, an undo or
    // a redo) and is never used twice; 0 while no take is settled (none, still being recorded
    // or written, overdubbed, undone or redone). A rendering of the take (stretch pitch) is
    // played only while this is the number it was made from.
    std::uint32_t take_content(std::uint32_t slot) const noexcept;
    // Any thread: take_content as of the last publish() (relaxed).
    std::uint32_t published_take_content(std::uint32_t slot) const noexcept;
    // Any thread: the frames of `slot`'s take as of the last publish() (relaxed); 0 while
    // none loops (none, still recording, or being loaded).
    std::uint32_t published_take_frames(std::uint32_t slot) const noexcept;

  private:
    // Undo: each overdub pass is a layer. Before the pass first writes to a chunk of the
    // take, the chunk is copied into a free chunk of the shared undo arena and the layer maps
    // take chunk → arena chunk. Undo swaps those chunks back (the layer then holds the
    // overdubbed frames: it is the redo layer); redo swaps again. Swaps are bit exact.
    struct Layer {
        std::uint32_t* map = nullptr;   // per take chunk: arena chunk + 1, or 0
        std::uint32_t* list = nullptr;  // take chunks saved, in order
        std::uint32_t saved = 0;
    };
    // Recorder: one take's memory and state. Its buffer is the slot's buffer while the slot
    // holds the take.
    struct Recorder {
        // loading: a load_take copying `source` in (the slot plays `source` meanwhile).
        enum class State : std::uint8_t { free, recording, looping, releasing, loading };
        // Pooled; capacity max_record_frames_, 2 channels. None while the recorder is free and
        // its memory not yet made (on demand).
        SampleBuffer* buffer = nullptr;
        State state = State::free;
        std::uint32_t slot = 0;
        std::uint64_t start = 0;        // output frame the take began
        std::uint64_t write_begin = 0;  // input frame written to take frame 0 (start + offset)
        std::uint64_t write_end = 0;    // first pass written until here (write_begin + length)
        std::uint64_t origin = 0;       // output frame at which take frame 0 last played
        std::uint32_t length = 0;
        std::uint32_t content = 0;  // take_content's number while settled
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
        std::uint32_t next = 0;     // the next chunk the sweep copies
        std::uint32_t content = 0;  // take_content when copying began
        bool copying = false;       // false: waiting for the take to be whole
    };
    // Per slot of the table.
    struct SlotTake {
        std::int32_t recorder = -1;  // the recorder holding the slot's take, -1: none
        std::uint32_t input = 1;     // input pair recorded (and monitored)
        // Waiting for a record buffer (on demand): a record press, or a take load whose source
        // the slot already holds and plays as a sample meanwhile.
        bool record_waits = false;
        SampleBuffer* load_waits = nullptr;
        bool take_expected = false;  // a record press waits for its grid frame
    };

    void allocate();                                           // constructor only
    SampleBuffer* make_undo_block(std::uint32_t index) const;  // constructor only
    // Memory on demand (recorder_memory.cpp).
    Recorder* free_recorder() noexcept;   // a free recorder holding a buffer
    bool memory_coming() const noexcept;  // a free recorder waits for its buffer
    void take_record_buffer(SampleBuffer* b, std::uint64_t now, TakeHost& host) noexcept;
    void take_undo_block(SampleBuffer* b, TakeHost& host) noexcept;
    void add_undo_block(SampleBuffer* b) noexcept;
    void wait_for_memory(std::uint32_t slot, TakeHost& host) noexcept;
    void serve_waiting(std::uint64_t now, TakeHost& host) noexcept;
    void refuse_waiting(TakeHost& host) noexcept;
    void cancel_wait(std::uint32_t slot) noexcept;
    void expect_take(std::uint32_t slot, bool expected) noexcept;
    void retire_spares(TakeHost& host) noexcept;
    void publish_wants() noexcept;
    float* undo_chunk(std::uint32_t id) noexcept;
    void begin_load(Recorder& r, std::uint32_t slot, SampleBuffer* source,
                    std::uint64_t now) noexcept;
    Recorder* slot_recorder(std::uint32_t slot) noexcept;
    void apply_take(const Command& c, std::uint64_t now, TakeHost& host) noexcept;
    void record_press(std::uint32_t slot, std::uint64_t now, TakeHost& host) noexcept;
    std::uint64_t record_grid(std::uint32_t slot, std::uint64_t now,
                              const TakeHost& host) const noexcept;
    void start_take(std::uint32_t slot, std::uint64_t now, TakeHost& host) noexcept;
    void finish_take(Recorder& r, std::uint64_t now, EventKind kind, TakeHost& host) noexcept;
    void overdub_toggle(std::uint32_t slot, TakeHost& host) noexcept;
    void begin_pass(Recorder& r, TakeHost& host) noexcept;
    void end_pass(Recorder& r, TakeHost& host) noexcept;
    bool save_chunk(Recorder& r, std::uint32_t chunk) noexcept;
    void free_layer(Layer& l) noexcept;
    void drop_oldest_layer(Recorder& r) noexcept;
    void start_swap(Recorder& r, bool undo) noexcept;
    void advance_swaps(TakeHost& host) noexcept;
    void clear_slot(std::uint32_t slot, TakeHost& host) noexcept;
    void release_recorder(Recorder& r, TakeHost& host) noexcept;
    // The take's frames are now other frames: a new take_content number.
    void changed(Recorder& r) noexcept;
    // Keeping takes (src/engine/take_copy.cpp).
    void start_snapshot(const Command& c, TakeHost& host) noexcept;
    void load_take(std::uint32_t slot, SampleBuffer* source, bool reload, std::uint64_t now,
                   TakeHost& host) noexcept;
    void finish_load_take(Recorder& r, TakeHost& host) noexcept;
    void advance_copies(TakeHost& host) noexcept;
    void advance_snapshot(std::uint32_t& budget, TakeHost& host) noexcept;
    void snapshot_before_write(const Recorder& r, std::uint32_t chunk) noexcept;
    void copy_snapshot_chunk(const Recorder& r, std::uint32_t chunk) noexcept;
    void abort_snapshot(const Recorder& r, TakeHost& host) noexcept;

    RecorderPoolConfig config_;
    // All preallocated in the constructor; the audio thread alone uses them.
    std::vector<Recorder> recorders_;
    std::vector<Layer> layer_pool_;          // undo_levels per recorder
    std::vector<std::uint32_t> index_pool_;  // layer maps, lists and orders
    // The undo arena: blocks of kUndoBlockChunks chunks of 2 × kUndoChunkFrames floats; chunk
    // id k lives in block k / kUndoBlockChunks.
    std::vector<SampleBuffer*> undo_blocks_;  // max_undo_blocks_ places, undo_block_count_ used
    std::uint32_t undo_block_count_ = 0;
    std::uint32_t max_undo_blocks_ = 0;
    std::uint32_t max_undo_chunks_ = 0;
    std::vector<std::uint32_t> free_chunks_;  // room for every chunk of every block
    std::size_t free_chunk_count_ = 0;
    std::uint32_t waiting_ = 0;   // slots with record_waits or load_waits
    std::uint32_t expected_ = 0;  // slots with take_expected
    std::atomic<std::uint32_t> record_wanted_{0};
    std::atomic<std::uint32_t> record_taken_{0};
    std::atomic<std::uint32_t> undo_wanted_{0};
    std::atomic<std::uint32_t> undo_taken_{0};
    std::atomic<std::uint32_t> waiting_published_{0};
    std::atomic<std::uint32_t> refusals_taken_{0};
    std::uint32_t max_record_frames_ = 0;
    std::uint32_t max_take_chunks_ = 0;
    std::size_t record_memory_bytes_ = 0;
    std::vector<SlotTake> slot_takes_;
    std::int64_t record_offset_ = 0;  // frames, >= 0
    std::uint64_t now_frame_ = 0;     // host frame of the block being processed
    std::uint64_t block_end_ = 0;     // host frame after it
    Snapshot snapshot_;
    std::vector<std::uint8_t> snapshot_copied_;  // per take chunk: copied by this snapshot
    // Published at the end of every block: the audio thread stores, any thread loads.
    std::vector<std::atomic<std::uint8_t>> record_state_;
    std::vector<std::atomic<std::uint32_t>> take_content_;
    std::vector<std::atomic<std::uint32_t>> take_frames_;
    std::uint32_t content_count_ = 0;  // the last take_content number given
    std::atomic<std::uint32_t> free_recorders_{0};
    std::atomic<std::uint32_t> writing_{0};
};

}  // namespace looperd
