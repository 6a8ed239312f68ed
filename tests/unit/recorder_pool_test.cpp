// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// The recorder pool alone, without an Engine. PoolRig is the pool's host: it plays the slot
// table (each slot's buffer and its reference count) and runs the block loop Engine::process
// runs around the pool (commands at a block's start or on their frame, the block split where a
// take reaches its maximum length). It has no voices: a take is read back from the buffer the
// pool gave its slot. Every block runs under the audio-thread guard, which is on in this
// executable: an allocation, a free or (with RealtimeSanitizer) a lock or syscall aborts.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <random>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "looperd/recorder_pool.hpp"
#include "looperd/rt_guard.hpp"
#include "looperd/sample_buffer.hpp"

// ThreadSanitizer builds link the guard without its allocation hooks (src/meson.build).
#if defined(__SANITIZE_THREAD__)
#define LOOPERD_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LOOPERD_TSAN 1
#endif
#endif
#ifndef LOOPERD_TSAN
#define LOOPERD_TSAN 0
#endif

namespace looperd::test {
namespace {

static_assert(!std::is_copy_constructible_v<RecorderPool>);
static_assert(!std::is_copy_assignable_v<RecorderPool>);
static_assert(std::is_abstract_v<TakeHost>);
static_assert(!std::is_destructible_v<TakeHost>, "a host is never deleted through the interface");

constexpr std::uint32_t kRate = 48000;

RecorderPoolConfig pool_config(std::uint32_t recorders = 2, float max_seconds = 1.0F) {
    RecorderPoolConfig c;
    c.slots = 4;
    c.inputs = 2;
    c.recorders = recorders;
    c.sample_rate = kRate;
    c.max_record_seconds = max_seconds;
    c.undo_levels = 3;
    c.undo_memory_mib = 2;
    return c;
}

// Planar frames: frames[channel][frame].
using Planar = std::vector<std::vector<float>>;

class PoolRig final : public TakeHost {
  public:
    explicit PoolRig(const RecorderPoolConfig& config, std::uint32_t frames = 4 * kRate)
        : pool(config),
          buffers(config.slots, nullptr),
          quantizes(config.slots, 0.0F),
          playing(config.slots, false),
          in(2, std::vector<float>(frames)) {
        // Noise that is never 0, different per channel: in[c][t] is input c at host frame t.
        std::mt19937 rng(11);
        std::uniform_real_distribution<float> mag(0.01F, 0.5F);
        for (auto& ch : in)
            for (auto& x : ch) x = (rng() & 1U) != 0 ? mag(rng) : -mag(rng);
        // Room for everything a test does, so that the audio thread never grows them.
        events.reserve(4096);
        sent_.reserve(64);
        scheduled_.reserve(256);
        record_sent_ = pool.record_buffers_taken();
        undo_sent_ = pool.undo_blocks_taken();
    }
    ~PoolRig() {
        // What the pool gave back of what feed() made is ours; what it holds, its own.
        for (const Event& e : events)
            if (e.kind == EventKind::buffer_retired &&
                std::find(made_.begin(), made_.end(), e.buffer) != made_.end())
                delete e.buffer;
    }
    PoolRig(const PoolRig&) = delete;
    PoolRig& operator=(const PoolRig&) = delete;

    bool made(const SampleBuffer* b) const {
        return std::find(made_.begin(), made_.end(), b) != made_.end();
    }
    // Control thread, as the daemon's RecordMemory (on demand): makes and sends the record
    // buffers and undo blocks the pool wants and was not sent. Returns how many.
    std::uint32_t feed() {
        std::uint32_t made = 0;
        const std::uint32_t in_flight = record_sent_ - pool.record_buffers_taken();
        for (std::uint32_t n = pool.record_buffers_wanted(); n > in_flight; --n, ++made) {
            auto* b = new SampleBuffer(2, pool.max_record_frames(), kRate);
            made_.push_back(b);
            send(CommandKind::assign_record_buffer, 0, 0.0F, b);
            ++record_sent_;
        }
        if (pool.undo_blocks_wanted() > undo_sent_ - pool.undo_blocks_taken()) {
            auto* b = new SampleBuffer(
                1, static_cast<std::uint32_t>(pool.undo_block_floats(undo_sent_)), kRate);
            made_.push_back(b);
            send(CommandKind::assign_undo_block, 0, 0.0F, b);
            ++undo_sent_;
            ++made;
        }
        return made;
    }

    // TakeHost: the audio thread's side of the slot table.
    void post(const Event& e) noexcept override {
        if (events.size() < events.capacity()) events.push_back(e);
    }
    void schedule(const Command& c) noexcept override {
        if (scheduled_.size() == scheduled_.capacity()) return;
        // Sorted by frame; equal frames keep their order.
        auto at =
            std::upper_bound(scheduled_.begin(), scheduled_.end(), c,
                             [](const Command& a, const Command& b) { return a.frame < b.frame; });
        scheduled_.insert(at, c);
    }
    const Clock& clock() const noexcept override { return clock_; }
    float quantize(std::uint32_t slot) const noexcept override { return quantizes[slot]; }
    bool sounding(std::uint32_t slot) const noexcept override { return playing[slot]; }
    void start_voice(std::uint32_t slot, std::uint64_t now) noexcept override {
        ++voice_starts;
        playing[slot] = true;
        pool.voice_started(slot, now);  // the whole take plays: frame 0 at `now`
    }
    void stop_slot(std::uint32_t slot) noexcept override { playing[slot] = false; }
    void cut_voices(std::uint32_t, const SampleBuffer*) noexcept override { ++cuts; }
    void set_buffer(std::uint32_t slot, SampleBuffer* b) noexcept override {
        SampleBuffer* old = buffers[slot];
        buffers[slot] = b;
        if (b) ++b->rt_refs();
        if (old) unref(old);
    }
    void move_buffer(std::uint32_t slot, SampleBuffer* from, SampleBuffer* to) noexcept override {
        ++to->rt_refs();
        buffers[slot] = to;
        unref(from);
    }

    // Control thread: a command taken at the next block's start; `frame` != 0 holds it until
    // that host frame.
    void send(CommandKind kind, std::uint32_t slot = 0, float value = 0.0F,
              SampleBuffer* buffer = nullptr, std::uint64_t frame = 0) {
        ASSERT_LT(sent_.size(), sent_.capacity());
        sent_.push_back(Command{kind, slot, value, 0, buffer, frame});
    }

    // Audio thread: one block of n frames, as Engine::process drives the pool.
    void block(std::uint32_t n) {
        ASSERT_LE(t + n, in[0].size());
        const float* channels[2] = {in[0].data() + t, in[1].data() + t};
        const InputBlock inputs{channels, 2};
        {
            rt_guard::Scope audio_thread;
            pool.begin_block(t, n);
            for (const Command& c : sent_) {
                if (c.frame > t) {
                    schedule(c);
                } else {
                    pool.apply(c, t, *this);
                }
            }
            sent_.clear();
            pool.advance(*this);
            std::uint32_t offset = 0;
            while (offset < n) {
                std::uint64_t until = t + n;
                if (!scheduled_.empty() && scheduled_.front().frame < until)
                    until = std::max(scheduled_.front().frame, t + offset);
                until = std::min(pool.deadline(t + offset, t + n), until);
                if (until > t + offset) {
                    pool.process_segment(inputs, offset,
                                         static_cast<std::uint32_t>(until - t) - offset, *this);
                    offset = static_cast<std::uint32_t>(until - t);
                }
                const std::uint64_t now = t + offset;
                pool.due(now, *this);
                std::size_t due = 0;
                while (due < scheduled_.size() && scheduled_[due].frame <= now) ++due;
                Command batch[16];
                const std::size_t take = std::min<std::size_t>(due, 16);
                std::copy_n(scheduled_.begin(), take, batch);
                scheduled_.erase(scheduled_.begin(),
                                 scheduled_.begin() + static_cast<std::ptrdiff_t>(take));
                for (std::size_t k = 0; k < take; ++k) pool.apply(batch[k], now, *this);
            }
            pool.publish(*this);
        }
        t += n;
    }
    // Renders `total` frames in blocks of `n`.
    void run(std::uint32_t total, std::uint32_t n = 128) {
        for (std::uint32_t done = 0; done < total; done += n) block(std::min(n, total - done));
    }
    // Renders blocks until an event of `kind` arrives; false after `max_blocks`.
    bool run_until(EventKind kind, std::uint32_t max_blocks = 1000) {
        const std::size_t before = count(kind);
        for (std::uint32_t b = 0; b < max_blocks; ++b) {
            if (count(kind) > before) return true;
            block(128);
        }
        return count(kind) > before;
    }

    std::size_t count(EventKind kind, std::uint32_t slot) const {
        return static_cast<std::size_t>(
            std::count_if(events.begin(), events.end(),
                          [=](const Event& e) { return e.kind == kind && e.slot == slot; }));
    }
    std::size_t count(EventKind kind) const {
        return static_cast<std::size_t>(std::count_if(
            events.begin(), events.end(), [=](const Event& e) { return e.kind == kind; }));
    }
    std::uint32_t frames_of(EventKind kind) const {
        for (const auto& e : events)
            if (e.kind == kind) return e.frames;
        return 0;
    }
    // The frames the slot's buffer holds now (its take, when it has one).
    Planar frames(std::uint32_t slot) const {
        const SampleBuffer* b = buffers[slot];
        Planar out(2);
        if (!b) return out;
        for (std::uint32_t c = 0; c < 2; ++c)
            out[c].assign(b->channel(c), b->channel(c) + b->frames());
        return out;
    }

    RecorderPool pool;
    std::vector<SampleBuffer*> buffers;  // the slot table
    std::vector<float> quantizes;
    std::vector<bool> playing;
    Planar in;
    std::uint64_t t = 0;  // host frame of the next block
    std::vector<Event> events;
    std::uint32_t voice_starts = 0;
    std::uint32_t cuts = 0;

  private:
    void unref(SampleBuffer* b) noexcept {
        if (--b->rt_refs() != 0) return;
        if (b->pooled()) {
            pool.buffer_unused(b);
        } else {
            post({EventKind::buffer_retired, 0, b});
        }
    }

    Clock clock_;
    std::vector<Command> sent_;
    std::vector<Command> scheduled_;
    std::vector<SampleBuffer*> made_;  // by feed()
    std::uint32_t record_sent_ = 0;
    std::uint32_t undo_sent_ = 0;
};

// Records a take of `length` frames on `slot` from host frame `start` (blocks of 100).
void record_take(PoolRig& rig, std::uint32_t slot, std::uint64_t start, std::uint32_t length) {
    rig.run(static_cast<std::uint32_t>(start - rig.t), 100);
    rig.send(CommandKind::record, slot);
    rig.run(length, 100);
    rig.send(CommandKind::record, slot);
    rig.block(100);
}

TEST(RecorderPool, RecordsATakeFromItsInputsFrameForFrame) {
    PoolRig rig(pool_config());
    rig.run(1000, 100);
    rig.send(CommandKind::record);
    rig.run(4800, 100);
    EXPECT_EQ(rig.pool.slot_record_state(0), RecorderPool::RecordState::recording);
    EXPECT_EQ(rig.pool.free_recorders(), 1U);
    rig.send(CommandKind::record);
    rig.block(100);

    EXPECT_EQ(rig.count(EventKind::take_started, 0), 1U);
    EXPECT_EQ(rig.frames_of(EventKind::take_finished), 4800U);
    EXPECT_EQ(rig.pool.slot_record_state(0), RecorderPool::RecordState::none);
    EXPECT_EQ(rig.voice_starts, 1U) << "the take loops from the frame it ended";
    ASSERT_NE(rig.buffers[0], nullptr);
    EXPECT_TRUE(rig.buffers[0]->pooled()) << "the slot plays a record buffer";
    EXPECT_EQ(rig.buffers[0]->rt_refs(), 1U);
    const Planar take = rig.frames(0);
    ASSERT_EQ(take[0].size(), 4800U);
    for (std::uint32_t c = 0; c < 2; ++c)
        for (std::uint32_t k = 0; k < 4800; ++k)
            ASSERT_EQ(take[c][k], rig.in[c][1000 + k]) << "channel " << c << " frame " << k;
}

TEST(RecorderPool, MaximumLengthEndsTheTakeOnItsExactFrame) {
    PoolRig rig(pool_config(2, 0.1F));  // 4800 frames
    rig.run(1000, 100);
    rig.send(CommandKind::record);
    rig.run(3 * 4800, 128);  // blocks that do not divide 4800
    EXPECT_EQ(rig.frames_of(EventKind::take_max_reached), 4800U);
    EXPECT_EQ(rig.count(EventKind::take_finished), 0U);
    const Planar take = rig.frames(0);
    ASSERT_EQ(take[0].size(), 4800U);
    for (std::uint32_t k = 0; k < 4800; ++k) ASSERT_EQ(take[1][k], rig.in[1][1000 + k]) << k;
}

// The take after layering input frames [from, from + frames) onto it, with take frame 0
// playing at `origin` (no record offset). `frames` at most one pass: each frame once.
Planar layered(const Planar& take, const PoolRig& rig, std::uint64_t origin, std::uint64_t from,
               std::uint32_t frames) {
    Planar out = take;
    const std::uint64_t len = take[0].size();
    for (std::uint64_t t = from; t < from + frames; ++t)
        for (std::uint32_t c = 0; c < 2; ++c) out[c][(t - origin) % len] += rig.in[c][t];
    return out;
}

TEST(RecorderPool, OverdubUndoAndRedoRestoreExactSamples) {
    PoolRig rig(pool_config());
    const std::uint32_t len = 9600;  // three undo chunks, the last one short
    record_take(rig, 0, 1000, len);
    const std::uint64_t origin = 1000 + len;  // the take's frame 0 played when it ended
    const Planar take = rig.frames(0);

    // Two passes, each part of the loop, the second crossing the loop's end.
    const std::uint64_t from1 = rig.t;
    rig.send(CommandKind::overdub);
    rig.run(3000, 100);
    rig.send(CommandKind::overdub);
    rig.block(100);
    const Planar one = rig.frames(0);
    ASSERT_EQ(one, layered(take, rig, origin, from1, 3000));
    const std::uint64_t from2 = rig.t + 4000;
    rig.run(4000, 100);
    rig.send(CommandKind::overdub);
    rig.run(6000, 100);
    rig.send(CommandKind::overdub);
    rig.block(100);
    const Planar two = rig.frames(0);
    ASSERT_EQ(two, layered(one, rig, origin, from2, 6000));
    EXPECT_EQ(rig.count(EventKind::overdub_started, 0), 2U);
    EXPECT_EQ(rig.count(EventKind::overdub_ended, 0), 2U);

    rig.send(CommandKind::undo);
    ASSERT_TRUE(rig.run_until(EventKind::undo_done));
    EXPECT_EQ(rig.frames(0), one);
    rig.send(CommandKind::undo);
    ASSERT_TRUE(rig.run_until(EventKind::undo_done));
    EXPECT_EQ(rig.frames(0), take) << "bit exact: the take as recorded";
    rig.send(CommandKind::undo);
    rig.block(128);
    EXPECT_EQ(rig.count(EventKind::undo_refused, 0), 1U) << "nothing left to undo";
    rig.send(CommandKind::redo);
    ASSERT_TRUE(rig.run_until(EventKind::redo_done));
    EXPECT_EQ(rig.frames(0), one);
    rig.send(CommandKind::redo);
    ASSERT_TRUE(rig.run_until(EventKind::redo_done));
    EXPECT_EQ(rig.frames(0), two);
}

TEST(RecorderPool, RefusesARecordWhenEveryRecorderIsBusy) {
    PoolRig rig(pool_config(2));
    auto sample = std::make_unique<SampleBuffer>(1, 1000, kRate);
    rig.set_buffer(2, sample.get());  // slot 2 holds a sample, as assign_buffer leaves it
    rig.send(CommandKind::record, 0);
    rig.send(CommandKind::record, 1);
    rig.block(128);
    EXPECT_EQ(rig.pool.free_recorders(), 0U);
    rig.send(CommandKind::record, 2);
    rig.block(128);
    EXPECT_EQ(rig.count(EventKind::recorder_refused, 2), 1U);
    EXPECT_EQ(rig.count(EventKind::take_started, 2), 0U);
    EXPECT_EQ(rig.buffers[2], sample.get()) << "the slot keeps its sample";
    EXPECT_EQ(rig.pool.slot_record_state(2), RecorderPool::RecordState::none);

    // Clearing a slot returns its recorder at once (nothing else reads it); then slot 2 records.
    rig.send(CommandKind::clear, 0);
    rig.block(128);
    EXPECT_EQ(rig.buffers[0], nullptr);
    EXPECT_EQ(rig.pool.free_recorders(), 1U);
    rig.send(CommandKind::record, 2);
    rig.block(128);
    EXPECT_EQ(rig.count(EventKind::take_started, 2), 1U);
    EXPECT_EQ(rig.count(EventKind::buffer_retired), 1U) << "the sample is handed back";
    EXPECT_EQ(sample->rt_refs(), 0U);
}

TEST(RecorderPool, LoadTakeCopiesEveryFrameThenTheSlotMovesOntoTheRecorder) {
    PoolRig rig(pool_config(2, 4.0F));
    // Mono, and longer than one block's copy budget (32 chunks of 4096 frames): two blocks.
    const std::uint32_t frames = 150000;
    auto source = std::make_unique<SampleBuffer>(1, frames, kRate);
    for (std::uint32_t k = 0; k < frames; ++k) source->mutable_channel(0)[k] = rig.in[0][k];
    rig.send(CommandKind::load_take, 1, 0.0F, source.get());
    rig.block(128);
    EXPECT_EQ(rig.buffers[1], source.get()) << "the slot plays the file while it is copied";
    ASSERT_TRUE(rig.run_until(EventKind::take_loaded));
    ASSERT_TRUE(rig.buffers[1]->pooled());
    EXPECT_EQ(rig.frames_of(EventKind::take_loaded), frames);
    const Planar take = rig.frames(1);
    for (std::uint32_t c = 0; c < 2; ++c)
        for (std::uint32_t k = 0; k < frames; ++k)
            ASSERT_EQ(take[c][k], rig.in[0][k]) << "mono reaches both sides, frame " << k;
    EXPECT_EQ(rig.count(EventKind::buffer_retired), 1U);
    EXPECT_EQ(source->rt_refs(), 0U);
    std::uint64_t origin = 0;
    EXPECT_TRUE(rig.pool.take_origin(1, origin));
}

TEST(RecorderPool, PreallocatesEveryByteInItsConstructor) {
    // Three recorders of 2 s stereo at 48 kHz, and 2 MiB of undo arena.
    RecorderPool pool(pool_config(3, 2.0F));
    EXPECT_TRUE(pool.enabled());
    EXPECT_EQ(pool.max_record_frames(), 96000U);
    EXPECT_EQ(pool.record_memory_bytes(), 3U * 2 * 96000 * sizeof(float) + (2U << 20));
    EXPECT_EQ(pool.free_recorders(), 3U);

    // No undo levels: no arena, whatever the memory setting.
    RecorderPoolConfig no_undo = pool_config(1, 1.0F);
    no_undo.undo_levels = 0;
    EXPECT_EQ(RecorderPool(no_undo).record_memory_bytes(), 1U * 2 * 48000 * sizeof(float));

    // Recording off: nothing held.
    RecorderPoolConfig no_inputs = pool_config();
    no_inputs.inputs = 0;
    RecorderPool off(no_inputs);
    EXPECT_FALSE(off.enabled());
    EXPECT_EQ(off.record_memory_bytes(), 0U);
    EXPECT_EQ(off.max_record_frames(), 0U);
    EXPECT_EQ(off.free_recorders(), 0U);

    RecorderPoolConfig bad = pool_config();
    bad.recorders = limits::kMaxRecorders + 1;
    EXPECT_THROW(RecorderPool{bad}, std::invalid_argument);
}

TEST(RecorderPool, RecordingOffIgnoresTakeCommands) {
    RecorderPoolConfig config = pool_config();
    config.recorders = 0;
    PoolRig rig(config);
    rig.send(CommandKind::record, 0);
    rig.send(CommandKind::overdub, 0);
    rig.send(CommandKind::clear, 0);
    rig.run(1000);
    EXPECT_TRUE(rig.events.empty());
    EXPECT_EQ(rig.buffers[0], nullptr);
}

TEST(RecorderPool, TheAudioThreadGuardIsOnAndCatchesTheConstructor) {
    ASSERT_TRUE(rt_guard::enabled()) << "this executable must link the guard";
#if LOOPERD_TSAN
    GTEST_SKIP() << "ThreadSanitizer builds leave the guard's allocation check out";
#endif
    // As in tests/guard/guard_test.cpp: a child that re-executes this binary, unless the
    // environment chose a style (cross builds under qemu-user).
    if (std::getenv("GTEST_DEATH_TEST_STYLE") == nullptr)
        GTEST_FLAG_SET(death_test_style, "threadsafe");
    // The constructor allocates: control thread only. Under the guard it aborts.
    EXPECT_DEATH(
        {
            rt_guard::Scope audio_thread;
            RecorderPool pool(pool_config());
        },
        "real-time violation");
}

TEST(RecorderPool, AWholeSessionRunsUnderTheGuardAndSnapshotsTheTakeExactly) {
    // Every block of this session runs inside rt_guard::Scope (PoolRig::block): records,
    // overdubs, undo and redo, a snapshot, a load_take, a take reaching its maximum, clears.
    PoolRig rig(pool_config(3, 0.5F));
    auto lent = std::make_unique<SampleBuffer>(2, rig.pool.max_record_frames(), kRate);
    auto file = std::make_unique<SampleBuffer>(2, 5000, kRate);
    record_take(rig, 0, 500, 12000);
    rig.send(CommandKind::overdub, 0);
    rig.run(5000, 256);
    rig.send(CommandKind::overdub, 0);
    rig.send(CommandKind::record, 1);  // runs to the maximum, 24000 frames
    rig.send(CommandKind::load_take, 2, 0.0F, file.get());
    rig.run(30000, 512);
    EXPECT_EQ(rig.count(EventKind::take_max_reached, 1), 1U);
    EXPECT_EQ(rig.count(EventKind::take_loaded, 2), 1U);
    const Planar before_undo = rig.frames(0);
    rig.send(CommandKind::undo, 0);
    rig.send(CommandKind::snapshot, 0, 0.0F, lent.get());  // waits for the undo to finish
    ASSERT_TRUE(rig.run_until(EventKind::snapshot_done));
    const Planar undone = rig.frames(0);
    EXPECT_NE(undone, before_undo);
    ASSERT_EQ(rig.frames_of(EventKind::snapshot_done), 12000U);
    for (std::uint32_t c = 0; c < 2; ++c)
        for (std::uint32_t k = 0; k < 12000; ++k) ASSERT_EQ(lent->channel(c)[k], undone[c][k]);
    rig.send(CommandKind::redo, 0);
    ASSERT_TRUE(rig.run_until(EventKind::redo_done));
    EXPECT_EQ(rig.frames(0), before_undo);
    for (std::uint32_t slot = 0; slot < 3; ++slot) rig.send(CommandKind::clear, slot);
    rig.block(128);
    EXPECT_EQ(rig.pool.free_recorders(), 3U);
    EXPECT_EQ(file->rt_refs(), 0U);
}

// Memory on demand (docs/recording.md#memory): the pool starts with one record buffer and one
// undo block, and the rest arrives by command from the rig's feed(), as from RecordMemory.
RecorderPoolConfig on_demand(std::uint32_t recorders = 3, float max_seconds = 2.0F,
                             std::uint32_t undo_mib = 2) {
    RecorderPoolConfig c = pool_config(recorders, max_seconds);
    c.undo_memory_mib = undo_mib;
    c.on_demand = true;
    return c;
}

TEST(RecorderPoolOnDemand, StartsWithOneBufferAndOneUndoBlockAndAsksForTheRest) {
    PoolRig rig(on_demand(3, 2.0F, 8));
    EXPECT_EQ(rig.pool.record_memory_bytes(), 2U * 96000 * sizeof(float) + (4U << 20));
    EXPECT_EQ(rig.pool.max_undo_blocks(), 2U);
    EXPECT_EQ(rig.pool.free_recorders(), 3U);
    EXPECT_EQ(rig.pool.record_buffers_wanted(), 0U) << "the spare is there";
    EXPECT_EQ(rig.pool.undo_blocks_wanted(), 0U);

    rig.send(CommandKind::record, 0);
    rig.block(128);
    EXPECT_EQ(rig.count(EventKind::take_started, 0), 1U) << "the first press needs nothing made";
    EXPECT_EQ(rig.pool.record_buffers_wanted(), 1U) << "a new spare";
    EXPECT_EQ(rig.feed(), 1U);
    EXPECT_EQ(rig.feed(), 0U) << "one in flight is not asked for twice";
    rig.block(128);
    EXPECT_EQ(rig.pool.record_buffers_wanted(), 0U);
    rig.send(CommandKind::record, 1);
    rig.block(128);
    EXPECT_EQ(rig.count(EventKind::take_started, 1), 1U);
    EXPECT_EQ(rig.count(EventKind::record_waiting), 0U);
    EXPECT_EQ(rig.pool.record_buffers_wanted(), 1U);
}

TEST(RecorderPoolOnDemand, APressWithNoMemoryWaitsAndRecordsFromTheFrameItArrives) {
    PoolRig rig(on_demand(4));
    rig.run(1000, 100);
    rig.send(CommandKind::record, 0);
    rig.send(CommandKind::record, 1);  // the same block: only one buffer is ready
    rig.block(100);
    EXPECT_EQ(rig.count(EventKind::take_started, 0), 1U);
    EXPECT_EQ(rig.count(EventKind::take_started, 1), 0U);
    EXPECT_EQ(rig.count(EventKind::record_waiting, 1), 1U);
    EXPECT_EQ(rig.pool.waiting(), 1U);
    EXPECT_EQ(rig.pool.record_buffers_wanted(), 2U) << "the waiting press's and a spare";
    EXPECT_EQ(rig.pool.free_recorders(), 3U) << "a recorder waiting for memory is free";
    rig.run(2000, 100);
    EXPECT_EQ(rig.count(EventKind::take_started, 1), 0U) << "nothing arrived: it waits";

    const std::uint64_t arrives = rig.t;
    EXPECT_EQ(rig.feed(), 2U);
    rig.block(100);
    EXPECT_EQ(rig.count(EventKind::take_started, 1), 1U);
    EXPECT_EQ(rig.pool.waiting(), 0U);
    rig.run(4800 - 100, 100);
    rig.send(CommandKind::record, 1);
    rig.block(100);
    ASSERT_EQ(rig.frames_of(EventKind::take_finished), 4800U);
    const Planar take = rig.frames(1);
    ASSERT_EQ(take[0].size(), 4800U);
    for (std::uint32_t c = 0; c < 2; ++c)
        for (std::uint32_t k = 0; k < 4800; ++k)
            ASSERT_EQ(take[c][k], rig.in[c][arrives + k]) << "channel " << c << ", frame " << k;

    // A second press while waiting takes the first back: no take.
    rig.send(CommandKind::record, 2);  // slot 2: the spare that arrived is there
    rig.block(100);
    rig.send(CommandKind::record, 3);
    rig.block(100);
    EXPECT_EQ(rig.count(EventKind::record_waiting, 3), 1U);
    rig.send(CommandKind::record, 3);
    rig.block(100);
    EXPECT_EQ(rig.pool.waiting(), 0U);
    rig.feed();
    rig.run(1000, 100);
    EXPECT_EQ(rig.count(EventKind::take_started, 3), 0U);
}

TEST(RecorderPoolOnDemand, AQuantizedPressAsksForItsMemoryAtOnceAndStartsOnItsGridFrame) {
    PoolRig rig(on_demand());
    rig.send(CommandKind::record, 0);  // takes the spare
    rig.block(128);
    rig.quantizes[1] = 1.0F;  // a beat: 24000 frames at the clock's 120 BPM
    rig.feed();
    rig.block(128);
    EXPECT_EQ(rig.pool.record_buffers_wanted(), 0U);
    const std::uint64_t pressed = rig.t;
    const std::uint64_t grid = rig.clock().next_grid_frame(pressed, 1.0);
    ASSERT_GT(grid, pressed + 1000);
    rig.send(CommandKind::record, 1);
    rig.block(128);
    EXPECT_EQ(rig.pool.record_buffers_wanted(), 1U)
        << "the spare is the take's: another is wanted before the grid frame";
    rig.feed();
    rig.run(static_cast<std::uint32_t>(grid - rig.t) + 128, 128);
    EXPECT_EQ(rig.count(EventKind::record_waiting), 0U);
    EXPECT_EQ(rig.count(EventKind::take_started, 1), 1U);
    rig.quantizes[1] = 0.0F;  // the take ends at once
    rig.send(CommandKind::record, 1);
    rig.block(128);
    const Planar take = rig.frames(1);
    ASSERT_FALSE(take[0].empty());
    EXPECT_EQ(take[0][0], rig.in[0][grid]) << "the take began on its grid frame";
}

TEST(RecorderPoolOnDemand, RefusedMemoryAnswersTheWaitingPressAndKeepsEverythingElse) {
    PoolRig rig(on_demand());
    rig.send(CommandKind::record, 0);
    rig.send(CommandKind::record, 1);
    rig.block(128);
    ASSERT_EQ(rig.pool.waiting(), 1U);
    rig.send(CommandKind::record_memory_refused);
    rig.block(128);
    EXPECT_EQ(rig.count(EventKind::record_memory_refused, 1), 1U);
    EXPECT_EQ(rig.count(EventKind::take_started, 1), 0U);
    EXPECT_EQ(rig.pool.waiting(), 0U);
    EXPECT_EQ(rig.pool.slot_record_state(0), RecorderPool::RecordState::recording)
        << "the take under way goes on";
    EXPECT_EQ(rig.pool.record_buffers_wanted(), 1U) << "a spare is still wanted";
    EXPECT_EQ(rig.buffers[1], nullptr);
}

TEST(RecorderPoolOnDemand, SparesBeyondOneGoBackOnceTheirTakesAreCleared) {
    PoolRig rig(on_demand());
    for (std::uint32_t slot = 0; slot < 2; ++slot) {
        rig.send(CommandKind::record, slot);
        rig.block(128);
        rig.feed();
        rig.block(128);
    }
    rig.run(2000);
    for (std::uint32_t slot = 0; slot < 2; ++slot) rig.send(CommandKind::record, slot);
    rig.block(128);
    EXPECT_EQ(rig.count(EventKind::buffer_retired), 0U);
    for (std::uint32_t slot = 0; slot < 2; ++slot) rig.send(CommandKind::clear, slot);
    rig.block(128);
    EXPECT_EQ(rig.pool.free_recorders(), 3U);
    std::size_t retired = 0;
    for (const Event& e : rig.events)
        if (e.kind == EventKind::buffer_retired) {
            ++retired;
            EXPECT_TRUE(rig.made(e.buffer)) << "the constructor's buffer stays";
            EXPECT_TRUE(e.buffer->pooled());
            EXPECT_EQ(e.buffer->rt_refs(), 0U);
        }
    EXPECT_EQ(retired, 2U) << "three free buffers: one stays as the spare";
    EXPECT_EQ(rig.pool.record_buffers_wanted(), 0U);
    rig.send(CommandKind::record, 2);
    rig.block(128);
    EXPECT_EQ(rig.count(EventKind::take_started, 2), 1U) << "the spare kept records at once";
}

TEST(RecorderPoolOnDemand, UndoBlocksArriveAsOverdubsUseThemAndUndoRedoStayBitExact) {
    // 8 MiB of undo: two blocks of 128 chunks. A take of 36 chunks; three passes over all of it
    // save 108 chunks, past half of the first block: the second block is wanted and used.
    PoolRig rig(on_demand(3, 4.0F, 8), 16 * kRate);
    const std::uint32_t len = 36 * limits::kUndoChunkFrames;
    rig.run(256);
    rig.send(CommandKind::record, 0);
    rig.run(len, 256);
    rig.send(CommandKind::record, 0);
    rig.block(256);
    ASSERT_EQ(rig.frames_of(EventKind::take_finished), len);
    std::vector<Planar> states{rig.frames(0)};
    for (int pass = 0; pass < 3; ++pass) {
        rig.send(CommandKind::overdub, 0);
        for (std::uint32_t done = 0; done < len + 512; done += 256) {
            rig.feed();
            rig.block(256);
        }
        rig.send(CommandKind::overdub, 0);
        rig.block(256);
        states.push_back(rig.frames(0));
        ASSERT_NE(states.back(), states[states.size() - 2]);
    }
    EXPECT_EQ(rig.pool.undo_blocks_taken(), 2U) << "the second block arrived and was taken";
    EXPECT_EQ(rig.count(EventKind::overdub_undo_full), 0U);
    EXPECT_EQ(rig.pool.undo_blocks_wanted(), 0U) << "no block is left to want";
    for (int k = 2; k >= 0; --k) {
        rig.send(CommandKind::undo, 0);
        ASSERT_TRUE(rig.run_until(EventKind::undo_done));
        ASSERT_EQ(rig.frames(0), states[static_cast<std::size_t>(k)]) << "undone to " << k;
        rig.events.clear();
    }
    for (std::size_t k = 1; k <= 3; ++k) {
        rig.send(CommandKind::redo, 0);
        ASSERT_TRUE(rig.run_until(EventKind::redo_done));
        ASSERT_EQ(rig.frames(0), states[k]) << "redone to " << k;
        rig.events.clear();
    }
}

TEST(RecorderPoolOnDemand, ATakeLoadWaitsForMemoryPlayingTheFileAsASampleMeanwhile) {
    PoolRig rig(on_demand(4));
    rig.send(CommandKind::record, 0);
    rig.block(128);
    const std::uint32_t frames = 20000;
    auto source = std::make_unique<SampleBuffer>(1, frames, kRate);
    for (std::uint32_t k = 0; k < frames; ++k) source->mutable_channel(0)[k] = rig.in[1][k];
    rig.send(CommandKind::load_take, 1, 0.0F, source.get());
    rig.block(128);
    EXPECT_EQ(rig.count(EventKind::record_waiting, 1), 1U);
    EXPECT_EQ(rig.buffers[1], source.get()) << "the slot plays the file while it waits";
    EXPECT_FALSE(rig.pool.holds_take(1));
    rig.feed();
    ASSERT_TRUE(rig.run_until(EventKind::take_loaded));
    ASSERT_TRUE(rig.buffers[1]->pooled());
    const Planar take = rig.frames(1);
    for (std::uint32_t c = 0; c < 2; ++c)
        for (std::uint32_t k = 0; k < frames; ++k) ASSERT_EQ(take[c][k], rig.in[1][k]);
    EXPECT_EQ(source->rt_refs(), 0U);

    // Refused instead: the slot keeps playing the file as a sample.
    auto other = std::make_unique<SampleBuffer>(1, frames, kRate);
    rig.send(CommandKind::record, 2);  // the spare
    rig.block(128);
    rig.send(CommandKind::load_take, 3, 0.0F, other.get());
    rig.block(128);
    ASSERT_EQ(rig.pool.waiting(), 1U);
    rig.send(CommandKind::record_memory_refused);
    rig.block(128);
    EXPECT_EQ(rig.count(EventKind::take_load_refused, 3), 1U);
    EXPECT_EQ(rig.buffers[3], other.get());
    rig.send(CommandKind::clear, 3);
    rig.block(128);
}

TEST(RecorderPoolOnDemand, UnusableMemoryIsHandedBack) {
    PoolRig rig(on_demand(1));
    auto* wrong = new SampleBuffer(2, 100, kRate);  // shorter than a take
    rig.send(CommandKind::assign_record_buffer, 0, 0.0F, wrong);
    auto* extra = new SampleBuffer(1, 1000, kRate);  // not a block's size
    rig.send(CommandKind::assign_undo_block, 0, 0.0F, extra);
    rig.block(128);
    EXPECT_EQ(rig.count(EventKind::buffer_retired), 2U);
    EXPECT_EQ(rig.pool.record_buffers_taken(), 2U) << "counted as received";
    delete wrong;
    delete extra;
}

}  // namespace
}  // namespace looperd::test
