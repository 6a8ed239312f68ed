// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// The recorder pool's memory: what the constructor makes, and, with RecorderPoolConfig::
// on_demand, the record buffers and undo blocks that arrive later by command, the presses that
// wait for them and the spares that go back. Apart from allocate() and make_undo_block() (the
// constructor), everything here runs on the audio thread: wait-free, bounded by the recorders
// and slots of the table; does not allocate. docs/recording.md#memory has the model.

#include <algorithm>
#include <cmath>

#include "looperd/recorder_pool.hpp"
#include "looperd/sample_buffer.hpp"

namespace looperd {

namespace {
constexpr std::uint32_t kChunk = limits::kUndoChunkFrames;
constexpr std::size_t kChunkFloats = std::size_t{2} * kChunk;
constexpr std::uint32_t kBlockChunks = limits::kUndoBlockChunks;
}  // namespace

// The bookkeeping for every recorder and layer, and the memory on_demand says to make now,
// touched and locked so that the audio thread never faults on it. Sizes: docs/recording.md.
void RecorderPool::allocate() {
    const std::uint32_t levels = config_.undo_levels;
    max_record_frames_ = static_cast<std::uint32_t>(std::max(
        1L, std::lround(static_cast<double>(config_.max_record_seconds) * config_.sample_rate)));
    max_take_chunks_ = (max_record_frames_ + kChunk - 1) / kChunk;
    recorders_.resize(config_.recorders);
    layer_pool_.resize(std::size_t{config_.recorders} * levels);
    index_pool_.assign(
        std::size_t{config_.recorders} * levels * (2 * std::size_t{max_take_chunks_} + 1), 0U);
    const std::uint32_t buffers = config_.on_demand
                                      ? std::min(config_.recorders, limits::kSpareRecordBuffers)
                                      : config_.recorders;
    std::uint32_t* index = index_pool_.data();
    for (std::uint32_t i = 0; i < config_.recorders; ++i) {
        Recorder& r = recorders_[i];
        if (i < buffers) {
            r.buffer = new SampleBuffer(2, max_record_frames_, config_.sample_rate);
            r.buffer->set_pooled();
            r.buffer->prefault();
            r.buffer->set_frames(0);
            record_memory_bytes_ += r.buffer->bytes();
        }
        r.layers = layer_pool_.data() + std::size_t{i} * levels;
        r.order = index;
        index += levels;
        for (std::uint32_t l = 0; l < levels; ++l) {
            r.order[l] = l;
            r.layers[l].map = index;
            index += max_take_chunks_;
            r.layers[l].list = index;
            index += max_take_chunks_;
        }
    }
    record_taken_.store(buffers, std::memory_order_relaxed);
    // 64-bit: 4096 MiB of undo is 2^32 bytes, which a 32-bit size_t (armhf) cannot hold.
    const std::uint64_t chunks = levels == 0 ? 0
                                             : std::uint64_t{config_.undo_memory_mib} * 1024 *
                                                   1024 / (kChunkFloats * sizeof(float));
    max_undo_chunks_ = static_cast<std::uint32_t>(chunks);
    max_undo_blocks_ = (max_undo_chunks_ + kBlockChunks - 1) / kBlockChunks;
    undo_blocks_.assign(max_undo_blocks_, nullptr);
    free_chunks_.resize(max_undo_chunks_);
    const std::uint32_t blocks =
        config_.on_demand ? std::min(1U, max_undo_blocks_) : max_undo_blocks_;
    for (std::uint32_t b = 0; b < blocks; ++b) {
        SampleBuffer* block = make_undo_block(b);
        record_memory_bytes_ += block->bytes();
        add_undo_block(block);
    }
    undo_taken_.store(blocks, std::memory_order_relaxed);
    snapshot_copied_.assign(max_take_chunks_, 0);
    free_recorders_.store(config_.recorders, std::memory_order_relaxed);
    publish_wants();
}

SampleBuffer* RecorderPool::make_undo_block(std::uint32_t index) const {
    auto* b = new SampleBuffer(1, static_cast<std::uint32_t>(undo_block_floats(index)),
                               config_.sample_rate);
    b->prefault();
    return b;
}

std::size_t RecorderPool::undo_block_floats(std::uint32_t index) const noexcept {
    if (index >= max_undo_blocks_) return 0;
    const std::uint32_t chunks = std::min(kBlockChunks, max_undo_chunks_ - index * kBlockChunks);
    return chunks * kChunkFloats;
}

float* RecorderPool::undo_chunk(std::uint32_t id) noexcept {
    return undo_blocks_[id / kBlockChunks]->mutable_channel(0) + (id % kBlockChunks) * kChunkFloats;
}

// The block's chunks go on top of the free list, its first chunk to be taken first.
void RecorderPool::add_undo_block(SampleBuffer* b) noexcept {
    const std::uint32_t index = undo_block_count_++;
    undo_blocks_[index] = b;
    const auto chunks = static_cast<std::uint32_t>(b->frames() / kChunkFloats);
    for (std::uint32_t k = chunks; k-- > 0;)
        free_chunks_[free_chunk_count_++] = index * kBlockChunks + k;
}

RecorderPool::Recorder* RecorderPool::free_recorder() noexcept {
    for (auto& r : recorders_)
        if (r.state == Recorder::State::free && r.buffer) return &r;
    return nullptr;
}

bool RecorderPool::memory_coming() const noexcept {
    return std::any_of(recorders_.begin(), recorders_.end(), [](const Recorder& r) {
        return r.state == Recorder::State::free && !r.buffer;
    });
}

void RecorderPool::take_record_buffer(SampleBuffer* b, std::uint64_t now, TakeHost& host) noexcept {
    if (!b) return;
    record_taken_.store(record_taken_.load(std::memory_order_relaxed) + 1,
                        std::memory_order_relaxed);
    Recorder* empty = nullptr;
    for (auto& r : recorders_)
        if (r.state == Recorder::State::free && !r.buffer) {
            empty = &r;
            break;
        }
    // One more than was wanted (a spare came back meanwhile), or not a record buffer.
    if (!empty || b->channels() != 2 || b->capacity() < max_record_frames_) {
        host.post({EventKind::buffer_retired, 0, b});
        return;
    }
    b->set_pooled();
    b->set_frames(0);
    empty->buffer = b;
    serve_waiting(now, host);
}

void RecorderPool::take_undo_block(SampleBuffer* b, TakeHost& host) noexcept {
    if (!b) return;
    undo_taken_.store(undo_taken_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (undo_block_count_ >= max_undo_blocks_ || b->channels() != 1 ||
        b->frames() != undo_block_floats(undo_block_count_)) {
        host.post({EventKind::buffer_retired, 0, b});
        return;
    }
    add_undo_block(b);
}

void RecorderPool::wait_for_memory(std::uint32_t slot, TakeHost& host) noexcept {
    SlotTake& st = slot_takes_[slot];
    if (!st.record_waits && !st.load_waits) ++waiting_;
    st.record_waits = true;
    host.post({EventKind::record_waiting, slot, nullptr});
}

void RecorderPool::cancel_wait(std::uint32_t slot) noexcept {
    SlotTake& st = slot_takes_[slot];
    if (st.record_waits || st.load_waits) --waiting_;
    st.record_waits = false;
    st.load_waits = nullptr;
}

void RecorderPool::expect_take(std::uint32_t slot, bool expected) noexcept {
    SlotTake& st = slot_takes_[slot];
    if (st.take_expected == expected) return;
    st.take_expected = expected;
    if (expected) {
        ++expected_;
    } else {
        --expected_;
    }
}

// A record buffer arrived: the slots waiting for one, in slot order, one per free buffer. A
// press is applied as a new press at `now`, so a quantized slot starts on its next grid frame.
void RecorderPool::serve_waiting(std::uint64_t now, TakeHost& host) noexcept {
    std::uint32_t free = 0;
    for (const auto& r : recorders_)
        if (r.state == Recorder::State::free && r.buffer) ++free;
    for (std::uint32_t slot = 0; slot < slot_takes_.size() && waiting_ > 0 && free > 0; ++slot) {
        SlotTake& st = slot_takes_[slot];
        if (SampleBuffer* source = st.load_waits) {
            cancel_wait(slot);
            --free;
            begin_load(*free_recorder(), slot, source, now);
        } else if (st.record_waits) {
            cancel_wait(slot);
            --free;
            apply_take(Command{CommandKind::record, slot, 1.0F}, now, host);
        }
    }
}

// No record buffer can be had: each waiting press is refused, each waiting take load leaves
// its slot playing the file as a sample (what take_load_refused means).
void RecorderPool::refuse_waiting(TakeHost& host) noexcept {
    refusals_taken_.store(refusals_taken_.load(std::memory_order_relaxed) + 1,
                          std::memory_order_relaxed);
    for (std::uint32_t slot = 0; slot < slot_takes_.size() && waiting_ > 0; ++slot) {
        SlotTake& st = slot_takes_[slot];
        if (st.load_waits) {
            host.post({EventKind::take_load_refused, slot, nullptr, st.load_waits->frames()});
        } else if (st.record_waits) {
            host.post({EventKind::record_memory_refused, slot, nullptr});
        }
        cancel_wait(slot);
    }
}

// Free record buffers beyond the spares go back to be freed (the daemon's budget gets them).
// The constructor's buffers are the first recorders', so they are counted first and never go:
// they were made outside the budget.
void RecorderPool::retire_spares(TakeHost& host) noexcept {
    if (!config_.on_demand || waiting_ > 0) return;
    std::uint32_t spares = 0;
    for (auto& r : recorders_) {
        if (r.state != Recorder::State::free || !r.buffer) continue;
        if (++spares <= limits::kSpareRecordBuffers + expected_) continue;
        host.post({EventKind::buffer_retired, 0, r.buffer});
        r.buffer = nullptr;
    }
}

void RecorderPool::publish_wants() noexcept {
    std::uint32_t spares = 0;
    std::uint32_t empty = 0;
    for (const auto& r : recorders_) {
        if (r.state != Recorder::State::free) continue;
        if (r.buffer) {
            ++spares;
        } else {
            ++empty;
        }
    }
    // The spares, the presses and loads waiting, and the takes about to start on their grid
    // frame, each its buffer.
    const std::uint32_t need =
        config_.on_demand ? limits::kSpareRecordBuffers + waiting_ + expected_ : 0;
    record_wanted_.store(need > spares ? std::min(need - spares, empty) : 0,
                         std::memory_order_relaxed);
    const bool undo_low =
        undo_block_count_ < max_undo_blocks_ && free_chunk_count_ < kBlockChunks / 2;
    undo_wanted_.store(undo_low ? 1 : 0, std::memory_order_relaxed);
    waiting_published_.store(waiting_, std::memory_order_relaxed);
}

}  // namespace looperd
