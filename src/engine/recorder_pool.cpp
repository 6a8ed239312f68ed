// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// The recorder pool: its memory, and takes, overdub passes, undo layers and the record offset.
// Apart from the constructor and destructor, everything here runs on the audio thread (from
// Engine::process and the commands it applies). Wait-free and bounded; does not allocate:
// recorders, layers and the undo arena come from the constructor. The model and its alignment
// are in docs/recording.md.

#include "looperd/recorder_pool.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "looperd/sample_buffer.hpp"

namespace looperd {

namespace {
constexpr std::uint32_t kChunk = limits::kUndoChunkFrames;
constexpr std::uint64_t kNever = std::numeric_limits<std::uint64_t>::max();
}  // namespace

void RecorderPool::check(const RecorderPoolConfig& c) {
    if (c.inputs > limits::kMaxInputs)
        throw std::invalid_argument("inputs must be 0.." + std::to_string(limits::kMaxInputs));
    if (c.recorders > limits::kMaxRecorders)
        throw std::invalid_argument("recorders must be 0.." +
                                    std::to_string(limits::kMaxRecorders));
    if (!(c.max_record_seconds >= 0.01F && c.max_record_seconds <= limits::kMaxRecordSeconds))
        throw std::invalid_argument("the maximum take length must be 0.01.." +
                                    std::to_string(limits::kMaxRecordSeconds) + " s");
    if (c.undo_levels > limits::kMaxUndoLevels)
        throw std::invalid_argument("undo levels must be 0.." +
                                    std::to_string(limits::kMaxUndoLevels));
    if (c.undo_memory_mib > limits::kMaxUndoMemoryMib)
        throw std::invalid_argument("undo memory must be 0.." +
                                    std::to_string(limits::kMaxUndoMemoryMib) + " MiB");
}

RecorderPool::RecorderPool(const RecorderPoolConfig& config)
    : config_((check(config), config)),
      slot_takes_(config.slots),
      record_state_(config.slots),
      take_content_(config.slots),
      take_frames_(config.slots) {
    if (config_.inputs > 0 && config_.recorders > 0) allocate();
}

RecorderPool::~RecorderPool() {
    // Record buffers leave the pool only retired; a snapshot's destination is lent, not ours.
    for (auto& r : recorders_) delete r.buffer;
    for (auto* b : undo_blocks_) delete b;
}

RecorderPool::Recorder* RecorderPool::slot_recorder(std::uint32_t slot) noexcept {
    const std::int32_t r = slot_takes_[slot].recorder;
    return r < 0 ? nullptr : &recorders_[static_cast<std::size_t>(r)];
}

void RecorderPool::apply(const Command& c, std::uint64_t now, TakeHost& host) noexcept {
    switch (c.kind) {
        case CommandKind::set_record_offset:
            // A negative round trip cannot happen: the manual part only corrects JACK's figure.
            record_offset_ = std::max<std::int64_t>(0, std::llround(c.value));
            return;
        case CommandKind::set_input:
            slot_takes_[c.slot].input = std::max(1U, static_cast<std::uint32_t>(c.value));
            return;
        case CommandKind::snapshot:
            start_snapshot(c, host);
            return;
        case CommandKind::load_take:
            if (c.buffer != nullptr) load_take(c.slot, c.buffer, c.value != 0.0F, now, host);
            return;
        case CommandKind::assign_record_buffer:
            take_record_buffer(c.buffer, now, host);
            return;
        case CommandKind::assign_undo_block:
            take_undo_block(c.buffer, host);
            return;
        case CommandKind::record_memory_refused:
            refuse_waiting(host);
            return;
        case CommandKind::record:
        case CommandKind::record_on_grid:
        case CommandKind::overdub:
        case CommandKind::overdub_on_grid:
        case CommandKind::undo:
        case CommandKind::redo:
        case CommandKind::clear:
            if (enabled()) apply_take(c, now, host);  // else recording is off
            return;
        default:
            return;
    }
}

// The commands on a slot's take: record, overdub, undo, redo, clear (and the on_grid forms).
void RecorderPool::apply_take(const Command& c, std::uint64_t now, TakeHost& host) noexcept {
    Recorder* r = slot_recorder(c.slot);
    // An undo or redo still swapping this take's chunks, or a take still being loaded,
    // finishes first: the command waits for the next block (clear needs no wait: it drops
    // the take).
    if (r && (r->swapping || r->state == Recorder::State::loading) &&
        c.kind != CommandKind::clear) {
        Command later = c;
        later.frame = block_end_;
        host.schedule(later);
        return;
    }
    const float quantize = host.quantize(c.slot);
    auto quantized = [&](CommandKind on_grid, std::uint64_t at) {
        if (at <= now) return false;
        Command moved = c;
        moved.kind = on_grid;
        moved.frame = at;
        host.schedule(moved);
        return true;
    };
    switch (c.kind) {
        case CommandKind::record:
            if (quantize != 0.0F &&
                quantized(CommandKind::record_on_grid, record_grid(c.slot, now, host))) {
                // A take that starts on the grid: its memory is wanted from now (on demand).
                if (!r || r->state != Recorder::State::recording) expect_take(c.slot, true);
                break;
            }
            record_press(c.slot, now, host);
            break;
        case CommandKind::record_on_grid:
            expect_take(c.slot, false);
            record_press(c.slot, now, host);
            break;
        case CommandKind::overdub:
            if (quantize != 0.0F &&
                quantized(CommandKind::overdub_on_grid,
                          host.clock().next_grid_frame(now, static_cast<double>(quantize))))
                break;
            overdub_toggle(c.slot, host);
            break;
        case CommandKind::overdub_on_grid:
            overdub_toggle(c.slot, host);
            break;
        case CommandKind::undo:
        case CommandKind::redo: {
            if (!r || r->state != Recorder::State::looping) {
                host.post({EventKind::undo_refused, c.slot, nullptr});
                break;
            }
            if (r->overdub) end_pass(*r, host);  // an undo while layering undoes the pass so far
            const bool undo = c.kind == CommandKind::undo;
            if (undo ? r->undo == 0 : r->redo == 0) {
                host.post({EventKind::undo_refused, c.slot, nullptr});
                break;
            }
            start_swap(*r, undo);
            break;
        }
        case CommandKind::clear:
            clear_slot(c.slot, host);
            break;
        default:
            break;
    }
}

// Where a quantized record press lands: a start on the slot's grid; a stop so that the take
// lasts a whole number of bars (at least one), the first such length not shorter than what
// was played.
std::uint64_t RecorderPool::record_grid(std::uint32_t slot, std::uint64_t now,
                                        const TakeHost& host) const noexcept {
    const Clock& clock = host.clock();
    const std::int32_t index = slot_takes_[slot].recorder;
    if (index >= 0) {
        const Recorder& r = recorders_[static_cast<std::size_t>(index)];
        if (r.state == Recorder::State::recording) {
            const double bar = clock.frames_per_beat() * clock.meter();
            const double played = static_cast<double>(now - r.start);
            const double bars = std::max(1.0, std::ceil(played / bar - 0.5 / bar));
            return r.start + static_cast<std::uint64_t>(std::llround(bars * bar));
        }
    }
    return clock.next_grid_frame(now, static_cast<double>(host.quantize(slot)));
}

void RecorderPool::record_press(std::uint32_t slot, std::uint64_t now, TakeHost& host) noexcept {
    Recorder* r = slot_recorder(slot);
    if (r && r->state == Recorder::State::recording) {
        finish_take(*r, now, EventKind::take_finished, host);
        return;
    }
    // A second press while the first waits for memory: no take, as two presses on one frame.
    if (slot_takes_[slot].record_waits) {
        cancel_wait(slot);
        return;
    }
    start_take(slot, now, host);
}

void RecorderPool::start_take(std::uint32_t slot, std::uint64_t now, TakeHost& host) noexcept {
    Recorder* old = slot_recorder(slot);
    Recorder* fresh = free_recorder();
    if (!fresh && memory_coming()) {
        // A free recorder without memory: the press waits for its buffer (on demand).
        wait_for_memory(slot, host);
        return;
    }
    if (!fresh) {
        if (!old) {
            // Pool exhausted: the slot keeps what it had.
            host.post({EventKind::recorder_refused, slot, nullptr});
            return;
        }
        // Re-record into the slot's own recorder: its voices would read frames being
        // overwritten, so they end at once instead of fading.
        host.cut_voices(slot, old->buffer);
        for (std::uint32_t i = 0; i < old->undo + old->redo; ++i)
            free_layer(old->layers[old->order[i]]);
        fresh = old;
    }
    host.stop_slot(slot);
    if (fresh != old) {
        slot_takes_[slot].recorder = static_cast<std::int32_t>(fresh - recorders_.data());
        if (old) release_recorder(*old, host);
        // The old take's recorder returns once its voices end (buffer_unused).
        host.set_buffer(slot, fresh->buffer);
    }
    Recorder& r = *fresh;
    abort_snapshot(r, host);  // a new take replaces what was being saved
    r.state = Recorder::State::recording;
    r.slot = slot;
    r.start = now;
    r.write_begin = now + static_cast<std::uint64_t>(record_offset_);
    r.write_end = kNever;
    r.origin = now;
    r.length = 0;
    r.overdub = false;
    r.undo = r.redo = 0;
    r.swapping = false;
    r.buffer->set_frames(0);  // nothing plays the slot while it records
    changed(r);
    host.post({EventKind::take_started, slot, nullptr});
}

void RecorderPool::finish_take(Recorder& r, std::uint64_t now, EventKind kind,
                               TakeHost& host) noexcept {
    const std::uint64_t length = std::min<std::uint64_t>(now - r.start, max_record_frames_);
    if (length == 0) {
        clear_slot(r.slot, host);  // pressed twice on one frame: no take
        return;
    }
    r.length = static_cast<std::uint32_t>(length);
    r.write_end = r.write_begin + length;  // the last `offset` frames arrive after `now`
    r.buffer->set_frames(r.length);
    r.state = Recorder::State::looping;
    host.post({kind, r.slot, nullptr, r.length});
    host.start_voice(r.slot, now);  // sets r.origin (voice_started)
}

void RecorderPool::overdub_toggle(std::uint32_t slot, TakeHost& host) noexcept {
    Recorder* r = slot_recorder(slot);
    if (!r || r->state != Recorder::State::looping) return;  // no take to layer onto
    if (r->overdub) {
        end_pass(*r, host);
    } else {
        begin_pass(*r, host);
    }
}

void RecorderPool::begin_pass(Recorder& r, TakeHost& host) noexcept {
    // A new pass forgets what was undone.
    while (r.redo > 0) {
        free_layer(r.layers[r.order[r.undo + r.redo - 1]]);
        --r.redo;
    }
    if (config_.undo_levels > 0) {
        if (r.undo == config_.undo_levels) drop_oldest_layer(r);
        ++r.undo;  // order[undo - 1]: the pass's layer, empty
    }
    r.overdub = true;
    host.post({EventKind::overdub_started, r.slot, nullptr});
}

void RecorderPool::end_pass(Recorder& r, TakeHost& host) noexcept {
    r.overdub = false;
    changed(r);
    // A pass that wrote nothing leaves no layer to undo.
    if (config_.undo_levels > 0 && r.undo > 0 && r.layers[r.order[r.undo - 1]].saved == 0) --r.undo;
    host.post({EventKind::overdub_ended, r.slot, nullptr});
}

void RecorderPool::free_layer(Layer& l) noexcept {
    for (std::uint32_t i = 0; i < l.saved; ++i) {
        const std::uint32_t k = l.list[i];
        free_chunks_[free_chunk_count_++] = l.map[k] - 1;
        l.map[k] = 0;
    }
    l.saved = 0;
}

void RecorderPool::drop_oldest_layer(Recorder& r) noexcept {
    const std::uint32_t n = r.undo + r.redo;
    if (r.undo == 0 || n == 0) return;
    const std::uint32_t oldest = r.order[0];
    free_layer(r.layers[oldest]);
    for (std::uint32_t i = 1; i < n; ++i) r.order[i - 1] = r.order[i];
    r.order[n - 1] = oldest;
    --r.undo;
}

// Copy-on-write: before a pass first writes to take chunk k, its frames go to the arena.
// False: no arena chunk is left, even after dropping this take's older layers.
bool RecorderPool::save_chunk(Recorder& r, std::uint32_t k) noexcept {
    if (config_.undo_levels == 0 || r.undo == 0) return true;
    Layer& l = r.layers[r.order[r.undo - 1]];
    if (l.map[k] != 0) return true;
    while (free_chunk_count_ == 0 && r.undo > 1) drop_oldest_layer(r);
    if (free_chunk_count_ == 0) return false;
    Layer& current = r.layers[r.order[r.undo - 1]];
    const std::uint32_t id = free_chunks_[--free_chunk_count_];
    const std::uint32_t first = k * kChunk;
    const std::uint32_t n = std::min(kChunk, r.length - first);
    float* arena = undo_chunk(id);
    std::copy_n(r.buffer->channel(0) + first, n, arena);
    std::copy_n(r.buffer->channel(1) + first, n, arena + kChunk);
    current.map[k] = id + 1;
    current.list[current.saved++] = k;
    return true;
}

void RecorderPool::start_swap(Recorder& r, bool undo) noexcept {
    // The layer changes sides now; its frames follow chunk by chunk (advance_swaps).
    if (undo) {
        --r.undo;
        ++r.redo;
        r.swap_layer = r.undo;
    } else {
        r.swap_layer = r.undo;
        ++r.undo;
        --r.redo;
    }
    r.swapping = true;
    r.swap_undo = undo;
    r.swap_next = 0;
}

void RecorderPool::advance(TakeHost& host) noexcept {
    advance_swaps(host);
    advance_copies(host);
}

// Start of a block: at most kUndoChunksPerBlock chunks swapped over all recorders.
void RecorderPool::advance_swaps(TakeHost& host) noexcept {
    std::uint32_t budget = limits::kUndoChunksPerBlock;
    for (auto& r : recorders_) {
        if (!r.swapping) continue;
        Layer& l = r.layers[r.order[r.swap_layer]];
        for (; budget > 0 && r.swap_next < l.saved; --budget, ++r.swap_next) {
            const std::uint32_t k = l.list[r.swap_next];
            snapshot_before_write(r, k);
            const std::uint32_t first = k * kChunk;
            const std::uint32_t n = std::min(kChunk, r.length - first);
            float* arena = undo_chunk(l.map[k] - 1);
            float* left = r.buffer->mutable_channel(0) + first;
            float* right = r.buffer->mutable_channel(1) + first;
            std::swap_ranges(left, left + n, arena);
            std::swap_ranges(right, right + n, arena + kChunk);
        }
        if (r.swap_next < l.saved) break;  // budget spent
        r.swapping = false;
        changed(r);
        host.post({r.swap_undo ? EventKind::undo_done : EventKind::redo_done, r.slot, nullptr});
    }
}

// The slot empties: its voices fade out, its take goes, its buffer is let go.
void RecorderPool::clear_slot(std::uint32_t slot, TakeHost& host) noexcept {
    host.stop_slot(slot);
    drop_take(slot, host);
    host.set_buffer(slot, nullptr);
}

void RecorderPool::drop_take(std::uint32_t slot, TakeHost& host) noexcept {
    cancel_wait(slot);
    expect_take(slot, false);
    if (Recorder* r = slot_recorder(slot)) release_recorder(*r, host);
    slot_takes_[slot].recorder = -1;
}

// The take is dropped; the recorder returns to the pool when no voice reads it any more.
void RecorderPool::release_recorder(Recorder& r, TakeHost& host) noexcept {
    abort_snapshot(r, host);
    for (std::uint32_t i = 0; i < r.undo + r.redo; ++i) free_layer(r.layers[r.order[i]]);
    r.undo = r.redo = 0;
    r.swapping = false;
    r.overdub = false;
    r.source = nullptr;  // a load_take's source: the slot's reference goes with the slot's buffer
    // A take still loading was never the slot's buffer: nothing reads the recorder.
    r.state = r.buffer->rt_refs() == 0 ? Recorder::State::free : Recorder::State::releasing;
}

void RecorderPool::buffer_unused(const SampleBuffer* b) noexcept {
    for (auto& r : recorders_)
        if (r.buffer == b && r.state == Recorder::State::releasing) r.state = Recorder::State::free;
}

bool RecorderPool::take_origin(std::uint32_t slot, std::uint64_t& origin) const noexcept {
    const std::int32_t index = slot_takes_[slot].recorder;
    if (index < 0) return false;
    const Recorder& r = recorders_[static_cast<std::size_t>(index)];
    if (r.length == 0 ||
        (r.state != Recorder::State::looping && r.state != Recorder::State::loading))
        return false;
    origin = r.origin;
    return true;
}

std::uint64_t RecorderPool::deadline(std::uint64_t from, std::uint64_t to) const noexcept {
    std::uint64_t at = to;
    for (const auto& r : recorders_) {
        if (r.state != Recorder::State::recording) continue;
        const std::uint64_t end = r.start + max_record_frames_;
        if (end >= from && end < at) at = end;
    }
    return at;
}

void RecorderPool::due(std::uint64_t now, TakeHost& host) noexcept {
    for (auto& r : recorders_)
        if (r.state == Recorder::State::recording && r.start + max_record_frames_ <= now)
            finish_take(r, r.start + max_record_frames_, EventKind::take_max_reached, host);
}

void RecorderPool::process_segment(const InputBlock& in, std::uint32_t offset, std::uint32_t n,
                                   TakeHost& host) noexcept {
    const std::uint64_t a = now_frame_ + offset;
    const std::uint64_t b = a + n;
    for (auto& r : recorders_) {
        if (r.state != Recorder::State::recording && r.state != Recorder::State::looping) continue;
        const float* left = nullptr;
        const float* right = nullptr;
        in.pair(slot_takes_[r.slot].input, left, right);
        float* dl = r.buffer->mutable_channel(0);
        float* dr = r.buffer->mutable_channel(1);
        // First pass: input frame write_begin + k is take frame k.
        if (a < r.write_end) {
            const std::uint64_t lo = std::max(a, r.write_begin);
            const std::uint64_t hi =
                std::min({b, r.write_end, r.write_begin + std::uint64_t{max_record_frames_}});
            if (lo < hi) {
                const std::size_t k = lo - r.write_begin;
                const std::size_t i = lo - now_frame_;
                const std::size_t m = hi - lo;
                if (left) {
                    std::copy_n(left + i, m, dl + k);
                    std::copy_n(right + i, m, dr + k);
                } else {
                    std::fill_n(dl + k, m, 0.0F);
                    std::fill_n(dr + k, m, 0.0F);
                }
            }
        }
        // Overdub: input frame t layers onto take frame (t − offset − origin) mod length,
        // the frame that was playing when the musician heard what they played along with.
        if (!r.overdub || !left) continue;
        const auto len = static_cast<std::int64_t>(r.length);
        for (std::uint64_t t = std::max(a, r.write_end); t < b;) {
            const std::int64_t rel = static_cast<std::int64_t>(t - r.origin) - record_offset_;
            const auto k = static_cast<std::uint32_t>(((rel % len) + len) % len);
            const std::uint32_t chunk = k / kChunk;
            const auto run = static_cast<std::uint32_t>(
                std::min<std::uint64_t>({b - t, r.length - k, (chunk + 1) * kChunk - k}));
            if (!save_chunk(r, chunk)) {
                end_pass(r, host);
                host.post({EventKind::overdub_undo_full, r.slot, nullptr});
                break;
            }
            snapshot_before_write(r, chunk);
            const std::size_t i = t - now_frame_;
            for (std::uint32_t j = 0; j < run; ++j) dl[k + j] += left[i + j];
            for (std::uint32_t j = 0; j < run; ++j) dr[k + j] += right[i + j];
            t += run;
        }
    }
}

void RecorderPool::publish(TakeHost& host) noexcept {
    if (recorders_.empty()) return;
    retire_spares(host);
    std::uint32_t free = 0;
    std::uint32_t writing = 0;
    for (const auto& r : recorders_) {
        if (r.state == Recorder::State::free) ++free;
        if (r.state != Recorder::State::recording && r.state != Recorder::State::looping) continue;
        const auto state = r.state == Recorder::State::recording ? RecordState::recording
                           : r.overdub                           ? RecordState::overdubbing
                                                                 : RecordState::none;
        if (state != RecordState::none) ++writing;
        record_state_[r.slot].store(static_cast<std::uint8_t>(state), std::memory_order_relaxed);
    }
    // Slots whose take is gone read none again.
    for (std::uint32_t slot = 0; slot < slot_takes_.size(); ++slot) {
        if (slot_takes_[slot].recorder < 0 &&
            record_state_[slot].load(std::memory_order_relaxed) != 0)
            record_state_[slot].store(0, std::memory_order_relaxed);
        take_content_[slot].store(take_content(slot), std::memory_order_relaxed);
        const std::int32_t i = slot_takes_[slot].recorder;
        const Recorder* r = i < 0 ? nullptr : &recorders_[static_cast<std::size_t>(i)];
        take_frames_[slot].store(r && r->state == Recorder::State::looping ? r->length : 0,
                                 std::memory_order_relaxed);
    }
    free_recorders_.store(free, std::memory_order_relaxed);
    writing_.store(writing, std::memory_order_relaxed);
    publish_wants();
}

std::uint32_t RecorderPool::take_content(std::uint32_t slot) const noexcept {
    const std::int32_t i = slot_takes_[slot].recorder;
    if (i < 0) return 0;
    const Recorder& r = recorders_[static_cast<std::size_t>(i)];
    // Settled: looping, its first pass written to the end (the record offset's last frames
    // arrive after the take ended), no overdub pass, no undo or redo half way.
    const bool settled = r.state == Recorder::State::looping && now_frame_ >= r.write_end &&
                         !r.overdub && !r.swapping;
    return settled ? r.content : 0;
}

std::uint32_t RecorderPool::published_take_content(std::uint32_t slot) const noexcept {
    if (slot >= take_content_.size()) return 0;
    return take_content_[slot].load(std::memory_order_relaxed);
}

void RecorderPool::changed(Recorder& r) noexcept {
    if (++content_count_ == 0) content_count_ = 1;  // 0 means none
    r.content = content_count_;
}

std::uint32_t RecorderPool::published_take_frames(std::uint32_t slot) const noexcept {
    if (slot >= take_frames_.size()) return 0;
    return take_frames_[slot].load(std::memory_order_relaxed);
}

RecorderPool::RecordState RecorderPool::slot_record_state(std::uint32_t slot) const noexcept {
    if (slot >= record_state_.size()) return RecordState::none;
    return static_cast<RecordState>(record_state_[slot].load(std::memory_order_relaxed));
}

}  // namespace looperd
