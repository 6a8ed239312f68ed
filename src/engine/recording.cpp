// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// The Engine's recording half: takes, overdub passes, undo layers and input monitoring.
// Everything here runs on the audio thread (Engine::process and what it applies). Wait-free
// and bounded; does not allocate: recorders, layers and the undo arena come from the
// constructor. The model and its alignment are in docs/recording.md.

#include <algorithm>
#include <cmath>
#include <limits>

#include "looperd/engine.hpp"
#include "looperd/sample_buffer.hpp"

namespace looperd {

namespace {
constexpr std::uint32_t kChunk = limits::kUndoChunkFrames;
constexpr std::uint64_t kNever = std::numeric_limits<std::uint64_t>::max();
}  // namespace

Engine::Recorder* Engine::slot_recorder(std::uint32_t slot) noexcept {
    const std::int32_t r = slots_[slot].recorder;
    return r < 0 ? nullptr : &recorders_[static_cast<std::size_t>(r)];
}

// Pair k reads in_2k-1 and in_2k; a pair whose right input does not exist is mono (left on
// both sides); a pair beyond the inputs is silence (nullptr).
void Engine::input_pair(std::uint32_t pair, const float*& left,
                        const float*& right) const noexcept {
    left = right = nullptr;
    if (pair == 0 || inputs_ == nullptr) return;
    const std::uint32_t n = std::min(n_inputs_, config_.inputs);
    const std::uint32_t l = 2 * (pair - 1);
    if (l >= n) return;
    left = inputs_[l];
    right = l + 1 < n ? inputs_[l + 1] : left;
}

void Engine::apply_record(const Command& c, std::uint64_t now) noexcept {
    switch (c.kind) {
        case CommandKind::set_monitor_all:
            monitor_all_ = c.value != 0.0F;
            return;
        case CommandKind::set_record_offset:
            // A negative round trip cannot happen: the manual part only corrects JACK's figure.
            record_offset_ = std::max<std::int64_t>(0, std::llround(c.value));
            return;
        case CommandKind::set_record_input:
            slots_[c.slot].input = std::max(1U, static_cast<std::uint32_t>(c.value));
            return;
        case CommandKind::set_monitor: {
            const bool on = c.value != 0.0F;
            if (on != slots_[c.slot].monitor) monitored_slots_ += on ? 1U : -1U;
            slots_[c.slot].monitor = on;
            return;
        }
        default:
            break;
    }
    if (recorders_.empty()) return;  // recording is off (no inputs or no recorders)
    Slot& s = slots_[c.slot];
    Recorder* r = slot_recorder(c.slot);
    // An undo or redo still swapping this take's chunks, or a take still being loaded,
    // finishes first: the command waits for the next block (clear needs no wait: it drops
    // the take).
    if (r && (r->swapping || r->state == Recorder::State::loading) &&
        c.kind != CommandKind::clear) {
        Command later = c;
        later.frame = block_end_;
        schedule(later);
        return;
    }
    auto quantized = [&](CommandKind on_grid, std::uint64_t at) {
        if (at <= now) return false;
        Command moved = c;
        moved.kind = on_grid;
        moved.frame = at;
        schedule(moved);
        return true;
    };
    switch (c.kind) {
        case CommandKind::record:
            if (s.quantize != 0.0F &&
                quantized(CommandKind::record_on_grid, record_grid(c.slot, now)))
                break;
            record_press(c.slot, now);
            break;
        case CommandKind::record_on_grid:
            record_press(c.slot, now);
            break;
        case CommandKind::overdub:
            if (s.quantize != 0.0F &&
                quantized(CommandKind::overdub_on_grid,
                          clock_.next_grid_frame(now, static_cast<double>(s.quantize))))
                break;
            overdub_toggle(c.slot, now);
            break;
        case CommandKind::overdub_on_grid:
            overdub_toggle(c.slot, now);
            break;
        case CommandKind::undo:
        case CommandKind::redo: {
            if (!r || r->state != Recorder::State::looping) {
                post({EventKind::undo_refused, c.slot, nullptr});
                break;
            }
            if (r->overdub) end_pass(*r);  // an undo while layering undoes the pass so far
            const bool undo = c.kind == CommandKind::undo;
            if (undo ? r->undo == 0 : r->redo == 0) {
                post({EventKind::undo_refused, c.slot, nullptr});
                break;
            }
            start_swap(*r, undo);
            break;
        }
        case CommandKind::clear:
            clear_slot(c.slot);
            break;
        default:
            break;
    }
}

// Where a quantized record press lands: a start on the slot's grid; a stop so that the take
// lasts a whole number of bars (at least one), the first such length not shorter than what
// was played.
std::uint64_t Engine::record_grid(std::uint32_t slot, std::uint64_t now) const noexcept {
    const Slot& s = slots_[slot];
    if (s.recorder >= 0) {
        const Recorder& r = recorders_[static_cast<std::size_t>(s.recorder)];
        if (r.state == Recorder::State::recording) {
            const double bar = clock_.frames_per_beat() * clock_.meter();
            const double played = static_cast<double>(now - r.start);
            const double bars = std::max(1.0, std::ceil(played / bar - 0.5 / bar));
            return r.start + static_cast<std::uint64_t>(std::llround(bars * bar));
        }
    }
    return clock_.next_grid_frame(now, static_cast<double>(s.quantize));
}

void Engine::record_press(std::uint32_t slot, std::uint64_t now) noexcept {
    Recorder* r = slot_recorder(slot);
    if (r && r->state == Recorder::State::recording) {
        finish_take(*r, now, EventKind::take_finished);
        return;
    }
    start_take(slot, now);
}

void Engine::start_take(std::uint32_t slot, std::uint64_t now) noexcept {
    Slot& s = slots_[slot];
    Recorder* old = slot_recorder(slot);
    Recorder* fresh = nullptr;
    for (auto& r : recorders_)
        if (r.state == Recorder::State::free) {
            fresh = &r;
            break;
        }
    if (!fresh) {
        if (!old) {
            // Pool exhausted: the slot keeps what it had.
            post({EventKind::recorder_refused, slot, nullptr});
            return;
        }
        // Re-record into the slot's own recorder: its voices would read frames being
        // overwritten, so they end at once instead of fading.
        for (auto& v : voices_)
            if (v.active && v.slot == slot && v.buffer == old->buffer) retire_voice(v);
        for (std::uint32_t i = 0; i < old->undo + old->redo; ++i)
            free_layer(old->layers[old->order[i]]);
        fresh = old;
    }
    stop_slot(slot);
    if (fresh != old) {
        SampleBuffer* prev = s.buffer;
        s.buffer = fresh->buffer;
        acquire(s.buffer);
        s.recorder = static_cast<std::int32_t>(fresh - recorders_.data());
        if (old) release_recorder(*old);
        if (prev) unref(prev);  // the old take's recorder returns once its voices end
    }
    Recorder& r = *fresh;
    abort_snapshot(r);  // a new take replaces what was being saved
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
    post({EventKind::take_started, slot, nullptr});
}

void Engine::finish_take(Recorder& r, std::uint64_t now, EventKind kind) noexcept {
    const std::uint64_t length = std::min<std::uint64_t>(now - r.start, max_record_frames_);
    if (length == 0) {
        clear_slot(r.slot);  // pressed twice on one frame: no take
        return;
    }
    r.length = static_cast<std::uint32_t>(length);
    r.write_end = r.write_begin + length;  // the last `offset` frames arrive after `now`
    r.buffer->set_frames(r.length);
    r.state = Recorder::State::looping;
    post({kind, r.slot, nullptr, r.length});
    start_voice(r.slot, now);  // sets r.origin
}

void Engine::overdub_toggle(std::uint32_t slot, std::uint64_t now) noexcept {
    (void)now;
    Recorder* r = slot_recorder(slot);
    if (!r || r->state != Recorder::State::looping) return;  // no take to layer onto
    if (r->overdub) {
        end_pass(*r);
    } else {
        begin_pass(*r);
    }
}

void Engine::begin_pass(Recorder& r) noexcept {
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
    post({EventKind::overdub_started, r.slot, nullptr});
}

void Engine::end_pass(Recorder& r) noexcept {
    r.overdub = false;
    // A pass that wrote nothing leaves no layer to undo.
    if (config_.undo_levels > 0 && r.undo > 0 && r.layers[r.order[r.undo - 1]].saved == 0) --r.undo;
    post({EventKind::overdub_ended, r.slot, nullptr});
}

void Engine::free_layer(Layer& l) noexcept {
    for (std::uint32_t i = 0; i < l.saved; ++i) {
        const std::uint32_t k = l.list[i];
        free_chunks_[free_chunk_count_++] = l.map[k] - 1;
        l.map[k] = 0;
    }
    l.saved = 0;
}

void Engine::drop_oldest_layer(Recorder& r) noexcept {
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
bool Engine::save_chunk(Recorder& r, std::uint32_t k) noexcept {
    if (config_.undo_levels == 0 || r.undo == 0) return true;
    Layer& l = r.layers[r.order[r.undo - 1]];
    if (l.map[k] != 0) return true;
    while (free_chunk_count_ == 0 && r.undo > 1) drop_oldest_layer(r);
    if (free_chunk_count_ == 0) return false;
    Layer& current = r.layers[r.order[r.undo - 1]];
    const std::uint32_t id = free_chunks_[--free_chunk_count_];
    const std::uint32_t first = k * kChunk;
    const std::uint32_t n = std::min(kChunk, r.length - first);
    float* arena = undo_arena_->mutable_channel(0) + std::size_t{id} * 2 * kChunk;
    std::copy_n(r.buffer->channel(0) + first, n, arena);
    std::copy_n(r.buffer->channel(1) + first, n, arena + kChunk);
    current.map[k] = id + 1;
    current.list[current.saved++] = k;
    return true;
}

void Engine::start_swap(Recorder& r, bool undo) noexcept {
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

// Start of a block: at most kUndoChunksPerBlock chunks swapped over all recorders.
void Engine::advance_swaps() noexcept {
    std::uint32_t budget = limits::kUndoChunksPerBlock;
    for (auto& r : recorders_) {
        if (!r.swapping) continue;
        Layer& l = r.layers[r.order[r.swap_layer]];
        for (; budget > 0 && r.swap_next < l.saved; --budget, ++r.swap_next) {
            const std::uint32_t k = l.list[r.swap_next];
            snapshot_before_write(r, k);
            const std::uint32_t first = k * kChunk;
            const std::uint32_t n = std::min(kChunk, r.length - first);
            float* arena = undo_arena_->mutable_channel(0) + std::size_t{l.map[k] - 1} * 2 * kChunk;
            float* left = r.buffer->mutable_channel(0) + first;
            float* right = r.buffer->mutable_channel(1) + first;
            std::swap_ranges(left, left + n, arena);
            std::swap_ranges(right, right + n, arena + kChunk);
        }
        if (r.swap_next < l.saved) break;  // budget spent
        r.swapping = false;
        post({r.swap_undo ? EventKind::undo_done : EventKind::redo_done, r.slot, nullptr});
    }
}

void Engine::clear_slot(std::uint32_t slot) noexcept {
    Slot& s = slots_[slot];
    stop_slot(slot);
    SampleBuffer* b = s.buffer;
    s.buffer = nullptr;
    if (Recorder* r = slot_recorder(slot)) release_recorder(*r);
    s.recorder = -1;
    if (b) unref(b);
}

// The take is dropped; the recorder returns to the pool when no voice reads it any more.
void Engine::release_recorder(Recorder& r) noexcept {
    abort_snapshot(r);
    for (std::uint32_t i = 0; i < r.undo + r.redo; ++i) free_layer(r.layers[r.order[i]]);
    r.undo = r.redo = 0;
    r.swapping = false;
    r.overdub = false;
    r.source = nullptr;  // a load_take's source: the slot's reference goes with the slot's buffer
    // A take still loading was never the slot's buffer: nothing reads the recorder.
    r.state = r.buffer->rt_refs() == 0 ? Recorder::State::free : Recorder::State::releasing;
}

void Engine::recorder_unused(SampleBuffer* b) noexcept {
    for (auto& r : recorders_)
        if (r.buffer == b && r.state == Recorder::State::releasing) r.state = Recorder::State::free;
}

// The first frame in [from, to) at which a take reaches the maximum length; `to` if none.
std::uint64_t Engine::record_deadline(std::uint64_t from, std::uint64_t to) const noexcept {
    std::uint64_t at = to;
    for (const auto& r : recorders_) {
        if (r.state != Recorder::State::recording) continue;
        const std::uint64_t end = r.start + max_record_frames_;
        if (end >= from && end < at) at = end;
    }
    return at;
}

void Engine::record_due(std::uint64_t now) noexcept {
    for (auto& r : recorders_)
        if (r.state == Recorder::State::recording && r.start + max_record_frames_ <= now)
            finish_take(r, r.start + max_record_frames_, EventKind::take_max_reached);
}

// Host frames [now_frame_ + offset, + n): the inputs go into the takes. Called after those
// frames were rendered, so a pass hears the loop as it was and its layer from the next pass.
void Engine::record_segment(std::uint32_t offset, std::uint32_t n) noexcept {
    const std::uint64_t a = now_frame_ + offset;
    const std::uint64_t b = a + n;
    for (auto& r : recorders_) {
        if (r.state != Recorder::State::recording && r.state != Recorder::State::looping) continue;
        const float* left = nullptr;
        const float* right = nullptr;
        input_pair(slots_[r.slot].input, left, right);
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
                end_pass(r);
                post({EventKind::overdub_undo_full, r.slot, nullptr});
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

// Input monitoring, before the mix's master gain: every input to the output of its number
// (global), and each monitored slot's pair to the slot's outputs.
void Engine::monitor_segment(float* const* out, std::uint32_t offset, std::uint32_t n) noexcept {
    if (inputs_ == nullptr) return;
    if (monitor_all_) {
        const std::uint32_t m = std::min({n_inputs_, config_.inputs, config_.outputs});
        for (std::uint32_t o = 0; o < m; ++o)
            for (std::uint32_t i = 0; i < n; ++i) out[o][offset + i] += inputs_[o][offset + i];
    }
    if (monitored_slots_ == 0) return;
    for (const auto& s : slots_) {
        if (!s.monitor) continue;
        const float* left = nullptr;
        const float* right = nullptr;
        input_pair(s.input, left, right);
        if (!left) continue;
        std::uint32_t first = 0;
        std::uint32_t count = config_.outputs;
        if (s.output != 0 && config_.outputs > 2) {
            first = std::min(2 * (s.output - 1), config_.outputs - 1);
            count = std::min(2U, config_.outputs - first);
        }
        for (std::uint32_t o = first; o < first + count; ++o) {
            const float* src = (o % 2 == 0 ? left : right) + offset;
            for (std::uint32_t i = 0; i < n; ++i) out[o][offset + i] += src[i];
        }
    }
}

Engine::RecordState Engine::slot_record_state(std::uint32_t slot) const noexcept {
    if (slot >= record_state_.size()) return RecordState::none;
    return static_cast<RecordState>(record_state_[slot].load(std::memory_order_relaxed));
}

}  // namespace looperd
