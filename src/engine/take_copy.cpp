// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// The Engine's copies of takes, in and out: a snapshot copies a take into a buffer the daemon
// lent (to write it to disk), a load_take copies a loaded file into a recorder (so that it can
// be overdubbed). Both spread over blocks, limits::kCopyChunksPerBlock chunks per block, so a
// long take costs no xrun; both run on the audio thread only, wait-free and bounded, without
// allocating. docs/recording.md describes what a musician sees.

#include <algorithm>

#include "looperd/engine.hpp"
#include "looperd/sample_buffer.hpp"

namespace looperd {

namespace {
constexpr std::uint32_t kChunk = limits::kUndoChunkFrames;

std::uint32_t chunks_of(std::uint32_t frames) noexcept {
    return (frames + kChunk - 1) / kChunk;
}
}  // namespace

void Engine::apply_keep(const Command& c, std::uint64_t now) noexcept {
    Recorder* r = recorders_.empty() ? nullptr : slot_recorder(c.slot);
    switch (c.kind) {
        case CommandKind::snapshot: {
            if (c.buffer == nullptr) return;
            const bool fits =
                c.buffer->channels() >= 2 && c.buffer->capacity() >= max_record_frames_;
            if (snapshot_.dest != nullptr || r == nullptr || !fits ||
                r->state == Recorder::State::free || r->state == Recorder::State::releasing) {
                post({EventKind::snapshot_refused, c.slot, c.buffer});
                return;
            }
            snapshot_ = Snapshot{c.buffer, c.slot, static_cast<std::size_t>(r - recorders_.data())};
            return;
        }
        case CommandKind::load_take:
            if (c.buffer != nullptr) load_take(c.slot, c.buffer, c.value != 0.0F, now);
            return;
        case CommandKind::clock_from_slot:
            if (r == nullptr || r->length == 0 || !(c.value > 0.0F) ||
                (r->state != Recorder::State::looping && r->state != Recorder::State::loading)) {
                post({EventKind::tempo_refused, c.slot, nullptr});
                return;
            }
            // The grid's zero where the take's frame 0 last played: bar lines fall on the loop's
            // passes from the past on.
            clock_.set_tempo(static_cast<double>(c.value), now);
            clock_.reset(std::min(r->origin, now));
            update_voice_rates();
            return;
        default:
            return;
    }
}

// Like assign_buffer, then the take goes into a free recorder chunk by chunk. The slot plays
// `source` meanwhile (the same frames), and moves onto the recorder once the copy is whole.
// `reload` (the same take at a new sample rate): a slot that was sounding starts it again.
void Engine::load_take(std::uint32_t slot, SampleBuffer* source, bool reload,
                       std::uint64_t now) noexcept {
    const bool restart = reload && slot_sounding(slot);
    Recorder* fresh = nullptr;
    const std::uint32_t frames = source->frames();
    if (frames > 0 && frames <= max_record_frames_) {
        for (auto& r : recorders_)
            if (r.state == Recorder::State::free) {
                fresh = &r;
                break;
            }
    }
    apply(Command{CommandKind::assign_buffer, slot, 0.0F, source}, now);
    if (fresh == nullptr) {
        post({EventKind::take_load_refused, slot, nullptr, frames});
        if (restart) start_voice(slot, now);
        return;
    }
    Recorder& r = *fresh;
    r.state = Recorder::State::loading;
    r.slot = slot;
    r.source = source;
    r.copy_next = 0;
    r.length = frames;
    r.buffer->set_frames(frames);
    r.start = r.write_begin = r.write_end = 0;  // nothing left of a first pass to write
    r.origin = now;
    r.overdub = false;
    r.undo = r.redo = 0;
    r.swapping = false;
    slots_[slot].recorder = static_cast<std::int32_t>(fresh - recorders_.data());
    if (restart) start_voice(slot, now);  // a take loops whatever the slot's mode
}

void Engine::finish_load_take(Recorder& r) noexcept {
    Slot& s = slots_[r.slot];
    SampleBuffer* source = r.source;
    // Same frames, same length: playing voices go on, from the recorder.
    for (auto& v : voices_)
        if (v.active && v.buffer == source) {
            acquire(r.buffer);
            v.buffer = r.buffer;
            unref(source);
        }
    acquire(r.buffer);
    s.buffer = r.buffer;
    r.source = nullptr;
    r.state = Recorder::State::looping;
    unref(source);  // the slot's reference: retired once nothing reads it
    post({EventKind::take_loaded, r.slot, nullptr, r.length});
}

// Start of a block: takes being loaded first, then a snapshot, sharing one budget.
void Engine::advance_copies() noexcept {
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
        if (r.copy_next == chunks) finish_load_take(r);
    }
    advance_snapshot(budget);
}

void Engine::advance_snapshot(std::uint32_t& budget) noexcept {
    if (snapshot_.dest == nullptr) return;
    Recorder& r = recorders_[snapshot_.recorder];
    if (!snapshot_.copying) {
        // Whole: looping, its first pass written to the end (the record offset's last
        // frames arrive after the take ended), and no undo or redo half way.
        if (r.state != Recorder::State::looping || now_frame_ < r.write_end || r.swapping) return;
        snapshot_.copying = true;
        snapshot_.next = 0;
        std::fill_n(snapshot_copied_.begin(), chunks_of(r.length), std::uint8_t{0});
    }
    const std::uint32_t chunks = chunks_of(r.length);
    for (; budget > 0 && snapshot_.next < chunks; --budget, ++snapshot_.next)
        if (snapshot_copied_[snapshot_.next] == 0) copy_snapshot_chunk(r, snapshot_.next);
    if (snapshot_.next < chunks) return;
    snapshot_.dest->set_frames(r.length);
    post({EventKind::snapshot_done, snapshot_.slot, snapshot_.dest, r.length});
    snapshot_ = Snapshot{};
}

// Copy-before-write: an overdub or a swap about to change take chunk k copies it first, so
// the snapshot is the take as it was when copying began.
void Engine::snapshot_before_write(const Recorder& r, std::uint32_t chunk) noexcept {
    if (!snapshot_.copying || &recorders_[snapshot_.recorder] != &r || snapshot_copied_[chunk] != 0)
        return;
    copy_snapshot_chunk(r, chunk);
}

void Engine::copy_snapshot_chunk(const Recorder& r, std::uint32_t chunk) noexcept {
    const std::uint32_t first = chunk * kChunk;
    const std::uint32_t n = std::min(kChunk, r.length - first);
    std::copy_n(r.buffer->channel(0) + first, n, snapshot_.dest->mutable_channel(0) + first);
    std::copy_n(r.buffer->channel(1) + first, n, snapshot_.dest->mutable_channel(1) + first);
    snapshot_copied_[chunk] = 1;
}

// The take being saved is going (cleared, replaced, recorded over): the snapshot ends unsaved.
void Engine::abort_snapshot(const Recorder& r) noexcept {
    if (snapshot_.dest == nullptr || &recorders_[snapshot_.recorder] != &r) return;
    post({EventKind::snapshot_refused, snapshot_.slot, snapshot_.dest});
    snapshot_ = Snapshot{};
}

}  // namespace looperd
