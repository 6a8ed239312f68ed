// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// The recorder pool's copies of takes, in and out: a snapshot copies a take into a buffer the
// daemon lent (to write it to disk), a load_take copies a loaded file into a recorder (so that it
// can be overdubbed). Both spread over blocks, limits::kCopyChunksPerBlock chunks per block, so a
// long take costs no xrun; both run on the audio thread only, wait-free and bounded, without
// allocating. docs/recording.md describes what a musician sees.

#include <algorithm>

#include "looperd/recorder_pool.hpp"
#include "looperd/sample_buffer.hpp"

namespace looperd {

namespace {
constexpr std::uint32_t kChunk = limits::kUndoChunkFrames;

std::uint32_t chunks_of(std::uint32_t frames) noexcept {
    return (frames + kChunk - 1) / kChunk;
}
}  // namespace

void RecorderPool::start_snapshot(const Command& c, TakeHost& host) noexcept {
    if (c.buffer == nullptr) return;
    Recorder* r = recorders_.empty() ? nullptr : slot_recorder(c.slot);
    const bool fits = c.buffer->channels() >= 2 && c.buffer->capacity() >= max_record_frames_;
    if (snapshot_.dest != nullptr || r == nullptr || !fits || r->state == Recorder::State::free ||
        r->state == Recorder::State::releasing) {
        host.post({EventKind::snapshot_refused, c.slot, c.buffer});
        return;
    }
    snapshot_ = Snapshot{c.buffer, c.slot, static_cast<std::size_t>(r - recorders_.data())};
}

// Like assign_buffer, then the take goes into a free recorder chunk by chunk. The slot plays
// `source` meanwhile (the same frames), and moves onto the recorder once the copy is whole.
// `reload` (the same take at a new sample rate): a slot that was sounding starts it again.
void RecorderPool::load_take(std::uint32_t slot, SampleBuffer* source, bool reload,
                             std::uint64_t now, TakeHost& host) noexcept {
    const bool restart = reload && host.sounding(slot);
    const std::uint32_t frames = source->frames();
    const bool fits = frames > 0 && frames <= max_record_frames_;
    Recorder* fresh = fits ? free_recorder() : nullptr;
    // A free recorder without memory yet (on demand): the load waits for its buffer.
    const bool wait = fits && !fresh && memory_coming();
    // What assign_buffer does: the slot's voices fade out, its take goes, it holds `source`.
    host.stop_slot(slot);
    drop_take(slot, host);
    host.set_buffer(slot, source);
    if (wait) {
        // Meanwhile the slot plays the file as a sample, as it does while the take is copied.
        SlotTake& st = slot_takes_[slot];
        st.load_waits = source;
        ++waiting_;
        host.post({EventKind::record_waiting, slot, nullptr, frames});
        if (restart) host.start_voice(slot, now);
        return;
    }
    if (fresh == nullptr) {
        host.post({EventKind::take_load_refused, slot, nullptr, frames});
        if (restart) host.start_voice(slot, now);
        return;
    }
    begin_load(*fresh, slot, source, now);
    if (restart) host.start_voice(slot, now);  // a take loops whatever the slot's mode
}

// Recorder `r` takes `source`, which `slot` holds already, and copies it in chunk by chunk
// (advance_copies).
void RecorderPool::begin_load(Recorder& r, std::uint32_t slot, SampleBuffer* source,
                              std::uint64_t now) noexcept {
    r.state = Recorder::State::loading;
    r.slot = slot;
    r.source = source;
    r.copy_next = 0;
    changed(r);
    r.length = source->frames();
    r.buffer->set_frames(r.length);
    r.start = r.write_begin = r.write_end = 0;  // nothing left of a first pass to write
    r.origin = now;
    r.overdub = false;
    r.undo = r.redo = 0;
    r.swapping = false;
    slot_takes_[slot].recorder = static_cast<std::int32_t>(&r - recorders_.data());
}

void RecorderPool::finish_load_take(Recorder& r, TakeHost& host) noexcept {
    SampleBuffer* source = r.source;
    r.source = nullptr;
    r.state = Recorder::State::looping;
    // Same frames, same length: playing voices go on, from the recorder; the slot's reference
    // to `source` goes, which retires it once nothing reads it.
    host.move_buffer(r.slot, source, r.buffer);
    host.post({EventKind::take_loaded, r.slot, nullptr, r.length});
}

// Start of a block: takes being loaded first, then a snapshot, sharing one budget.
void RecorderPool::advance_copies(TakeHost& host) noexcept {
    std::uint32_t budget = limits::kCopyChunksPerBlock;
    for (auto& r : recorders_) {
        if (r.state != Recorder::State::loading || budget == 0) continue;
        const SampleBuffer& src = *r.source;
        const float* left = src.channel(0);
        const float* right = src.channels() > 1 ? src.channel(1) : left;  // mono: both sides
        const std::uint32_t chunks = chunks_of(r.length);
        for (; budget > 0 && r.copy_next < chunks; --budget, ++r.copy_next) {
            const std::uint32_t first = r.copy_next * kChunk;
            const std::uint32_t n = std::min(kChunk, r.length - first);
            std::copy_n(left + first, n, r.buffer->mutable_channel(0) + first);
            std::copy_n(right + first, n, r.buffer->mutable_channel(1) + first);
        }
        if (r.copy_next == chunks) finish_load_take(r, host);
    }
    advance_snapshot(budget, host);
}

void RecorderPool::advance_snapshot(std::uint32_t& budget, TakeHost& host) noexcept {
    if (snapshot_.dest == nullptr) return;
    Recorder& r = recorders_[snapshot_.recorder];
    if (!snapshot_.copying) {
        // Whole: looping, its first pass written to the end (the record offset's last
        // frames arrive after the take ended), and no undo or redo half way.
        if (r.state != Recorder::State::looping || now_frame_ < r.write_end || r.swapping) return;
        snapshot_.copying = true;
        snapshot_.next = 0;
        snapshot_.content = take_content(snapshot_.slot);
        std::fill_n(snapshot_copied_.begin(), chunks_of(r.length), std::uint8_t{0});
    }
    const std::uint32_t chunks = chunks_of(r.length);
    for (; budget > 0 && snapshot_.next < chunks; --budget, ++snapshot_.next)
        if (snapshot_copied_[snapshot_.next] == 0) copy_snapshot_chunk(r, snapshot_.next);
    if (snapshot_.next < chunks) return;
    snapshot_.dest->set_frames(r.length);
    host.post(
        {EventKind::snapshot_done, snapshot_.slot, snapshot_.dest, r.length, snapshot_.content});
    snapshot_ = Snapshot{};
}

// Copy-before-write: an overdub or a swap about to change take chunk k copies it first, so
// the snapshot is the take as it was when copying began.
void RecorderPool::snapshot_before_write(const Recorder& r, std::uint32_t chunk) noexcept {
    if (!snapshot_.copying || &recorders_[snapshot_.recorder] != &r || snapshot_copied_[chunk] != 0)
        return;
    copy_snapshot_chunk(r, chunk);
}

void RecorderPool::copy_snapshot_chunk(const Recorder& r, std::uint32_t chunk) noexcept {
    const std::uint32_t first = chunk * kChunk;
    const std::uint32_t n = std::min(kChunk, r.length - first);
    std::copy_n(r.buffer->channel(0) + first, n, snapshot_.dest->mutable_channel(0) + first);
    std::copy_n(r.buffer->channel(1) + first, n, snapshot_.dest->mutable_channel(1) + first);
    snapshot_copied_[chunk] = 1;
}

// The take being saved is going (cleared, replaced, recorded over): the snapshot ends unsaved.
void RecorderPool::abort_snapshot(const Recorder& r, TakeHost& host) noexcept {
    if (snapshot_.dest == nullptr || &recorders_[snapshot_.recorder] != &r) return;
    host.post({EventKind::snapshot_refused, snapshot_.slot, snapshot_.dest});
    snapshot_ = Snapshot{};
}

}  // namespace looperd
