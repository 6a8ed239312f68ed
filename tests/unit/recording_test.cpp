// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// Recording, frame by frame: takes, overdub, undo/redo, clear, quantize, latency offset, the
// maximum length, the recorder pool and monitoring. Every block renders under the audio-thread
// guard (engine_harness.hpp). Alignment as docs/recording.md states it: with offset d, take
// frame k is the input at host frame start + d + k; an overdub adds the input at host frame t
// to take frame (t − d − origin) mod length, origin being the frame the take's frame 0 played.

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "record_rig.hpp"

namespace looperd::test {
namespace {

std::uint32_t finished_frames(const EngineHarness& h, EventKind kind) {
    for (const auto& e : h.events())
        if (e.kind == kind) return e.frames;
    return 0;
}

TEST(Recording, TakeEqualsInputFrameForFrameAndLoops) {
    RecordRig rig(record_config());
    rig.run(1000, 100);
    rig.send(CommandKind::record);  // starts at frame 1000
    const Planar during = rig.run(4800, 100);
    EXPECT_EQ(rig.h.engine().slot_record_state(0), Engine::RecordState::recording);
    EXPECT_EQ(rig.h.engine().take_frames(0), 0U) << "no length while recording";
    rig.send(CommandKind::record);  // ends at 5800: 4800 frames
    rig.run(100, 100);
    EXPECT_EQ(rig.h.engine().take_frames(0), 4800U) << "published at the block it loops from";
    const Planar loop = rig.run(3 * 4800 - 100, 100);

    EXPECT_EQ(rig.h.count(EventKind::take_started, 0), 1U);
    EXPECT_EQ(finished_frames(rig.h, EventKind::take_finished), 4800U);
    EXPECT_EQ(rig.h.engine().slot_record_state(0), Engine::RecordState::none);
    for (std::uint32_t c = 0; c < 2; ++c) {
        EXPECT_EQ(silent_from(during[c], 0), 0U) << "nothing plays while recording";
        for (std::uint32_t i = 100; i < 3 * 4800; ++i)
            ASSERT_EQ(loop[c][i - 100], rig.in[c][1000 + i % 4800])
                << "channel " << c << " frame " << i;
    }
    // The take plays like a sample: the slot's gain applies.
    rig.send(CommandKind::set_gain, 0, 0.5F);
    rig.run(4800);  // the gain glides
    const std::uint64_t from = rig.t;
    const Planar half = rig.run(4800);
    for (std::uint32_t i = 0; i < 4800; ++i)
        ASSERT_EQ(half[0][i], rig.in[0][1000 + (from - 5800 + i) % 4800] * 0.5F);
}

// Records a take of `length` frames from frame `start` on slot 0; returns its origin.
std::uint64_t record_take(RecordRig& rig, std::uint32_t start, std::uint32_t length) {
    rig.run(start - static_cast<std::uint32_t>(rig.t), 100);
    rig.send(CommandKind::record);
    rig.run(length, 100);
    rig.send(CommandKind::record);
    const std::uint64_t origin = rig.t;
    rig.run(100, 100);
    return origin;
}

// The take after one overdub pass over [from, from + frames) with offset d.
Planar layered(const Planar& take, const RecordRig& rig, std::uint64_t origin, std::uint64_t from,
               std::uint32_t frames, std::int64_t d = 0) {
    Planar out = take;
    const auto len = static_cast<std::int64_t>(take[0].size());
    for (std::uint64_t t = from; t < from + frames; ++t) {
        const std::int64_t rel = static_cast<std::int64_t>(t - origin) - d;
        const auto k = static_cast<std::size_t>(((rel % len) + len) % len);
        for (std::uint32_t c = 0; c < 2; ++c) out[c][k] += rig.in[c][t];
    }
    return out;
}

TEST(Recording, OverdubAddsTheInputExactlyFromTheNextPass) {
    RecordRig rig(record_config());
    const std::uint32_t len = 4800;
    const std::uint64_t origin = record_take(rig, 1000, len);
    const Planar take = rig.pass(origin, len);

    const std::uint64_t from = rig.t;
    rig.send(CommandKind::overdub);
    const Planar first = rig.pass(origin, len);  // a whole pass of layering
    EXPECT_EQ(rig.h.engine().slot_record_state(0), Engine::RecordState::overdubbing);
    rig.send(CommandKind::overdub);
    const Planar after = rig.pass(origin, len);

    EXPECT_EQ(first, take) << "the pass being layered plays the loop as it was";
    EXPECT_EQ(after, layered(take, rig, origin, from, len));
    EXPECT_EQ(rig.h.count(EventKind::overdub_started, 0), 1U);
    EXPECT_EQ(rig.h.count(EventKind::overdub_ended, 0), 1U);
}

// Whether every frame of `x` in [from, from + n) is `value`.
bool all_equal(const std::vector<float>& x, std::size_t from, std::size_t n, float value) {
    for (std::size_t i = from; i < from + n; ++i)
        if (x[i] != value) return false;
    return true;
}

// A take in `stretch pitch` (docs/stretch.md#takes): a rendering plays only while the take holds
// what it was made from (take_content). An overdub pass sends the voice back to the take itself
// at its next seam, and the rendering of what the take was stays unplayed; so is a sample's.
TEST(Recording, AStretchedTakePlaysItsRenderingOnlyWhileTheTakeIsWhatItWasMadeFrom) {
    RecordRig rig(record_config());
    const std::uint32_t len = 4800;
    record_take(rig, 1000, len);
    // 0.4 beats at 120 BPM: 9,600 frames, twice the take (by its rate, an octave down).
    const std::uint32_t pass = 9600;
    rig.send(CommandKind::set_beats, 0, 0.4F);
    rig.send(CommandKind::set_stretch, 0, 1.0F);  // pitch
    rig.run(len);
    const std::uint32_t content = rig.h.engine().take_content(0);
    ASSERT_NE(content, 0U) << "a settled take has a content number";

    // Renderings as constant frames, easy to tell from the take's noise.
    ASSERT_TRUE(rig.h.stretched(0, rig.h.make_dc(2, pass, 0.125F), 0));  // a sample's
    ASSERT_TRUE(rig.h.stretched(0, rig.h.make_dc(2, pass, 0.125F), content + 1));
    Planar out = rig.run(3 * pass);
    EXPECT_FALSE(all_equal(out[0], 2 * pass, pass, 0.125F))
        << "a rendering of another content, or of a sample, plays";
    EXPECT_GE(rig.h.count(EventKind::buffer_retired, 0), 2U) << "both are let go";

    ASSERT_TRUE(rig.h.stretched(0, rig.h.make_dc(2, pass, 0.25F), content));
    out = rig.run(3 * pass);
    const float dc = out[0][3 * pass - 1];
    EXPECT_NE(dc, 0.0F);
    EXPECT_TRUE(all_equal(out[0], 2 * pass, pass, dc)) << "from its next seam, the rendering";

    // Overdubbed: the take itself again from the next seam, while the pass layers and after.
    rig.send(CommandKind::overdub);
    rig.run(len);
    EXPECT_EQ(rig.h.engine().take_content(0), 0U) << "no content while it changes";
    out = rig.run(3 * pass);
    EXPECT_FALSE(all_equal(out[0], 2 * pass, pass, dc)) << "the rendering plays while overdubbing";
    rig.send(CommandKind::overdub);
    out = rig.run(3 * pass);
    const std::uint32_t layered = rig.h.engine().take_content(0);
    EXPECT_NE(layered, 0U);
    EXPECT_NE(layered, content) << "an overdub pass makes another content";
    EXPECT_FALSE(all_equal(out[0], 2 * pass, pass, dc)) << "the old rendering plays again";

    // Undo: yet another content; its rendering plays.
    rig.send(CommandKind::undo);
    rig.run(len);
    const std::uint32_t undone = rig.h.engine().take_content(0);
    EXPECT_NE(undone, 0U);
    EXPECT_NE(undone, layered);
    ASSERT_TRUE(rig.h.stretched(0, rig.h.make_dc(2, pass, 0.5F), undone));
    out = rig.run(3 * pass);
    EXPECT_TRUE(all_equal(out[0], 2 * pass, pass, out[0][3 * pass - 1]));
    EXPECT_NE(out[0][3 * pass - 1], dc);
}

TEST(Recording, UndoAndRedoAreBitExactOverSeveralLevels) {
    RecordRig rig(record_config());
    const std::uint32_t len = 4800;
    const std::uint64_t origin = record_take(rig, 1000, len);
    std::vector<Planar> states{rig.pass(origin, len)};
    for (int layer = 0; layer < 3; ++layer) {
        rig.send(CommandKind::overdub);
        rig.run(len / 2 + 700 * static_cast<std::uint32_t>(layer));  // part of a pass, or more
        rig.send(CommandKind::overdub);
        rig.run(300);
        states.push_back(rig.pass(origin, len));
        ASSERT_NE(states.back(), states[states.size() - 2]);
    }
    for (int k = 2; k >= 0; --k) {
        rig.send(CommandKind::undo);
        EXPECT_EQ(rig.pass(origin, len), states[static_cast<std::size_t>(k)]) << "undo to " << k;
    }
    rig.send(CommandKind::undo);  // nothing left to undo
    EXPECT_EQ(rig.pass(origin, len), states[0]);
    EXPECT_EQ(rig.h.count(EventKind::undo_refused, 0), 1U);
    for (std::size_t k = 1; k <= 3; ++k) {
        rig.send(CommandKind::redo);
        EXPECT_EQ(rig.pass(origin, len), states[k]) << "redo to " << k;
    }
    rig.send(CommandKind::redo);
    rig.run(100);
    EXPECT_EQ(rig.h.count(EventKind::undo_refused, 0), 2U);
    EXPECT_EQ(rig.h.count(EventKind::undo_done, 0), 3U);
    EXPECT_EQ(rig.h.count(EventKind::redo_done, 0), 3U);

    // A new pass after an undo forgets the redo.
    rig.send(CommandKind::undo);
    rig.run(len);
    rig.send(CommandKind::overdub);
    rig.run(1000);
    rig.send(CommandKind::overdub);
    rig.send(CommandKind::redo);
    rig.run(100);
    EXPECT_EQ(rig.h.count(EventKind::undo_refused, 0), 3U);
}

TEST(Recording, UndoOfALongTakeSpreadsOverBlocksAndCommandsWaitForIt) {
    // 47 chunks to swap, 32 per block: the undo takes two blocks, and an overdub sent with it
    // waits until it is done, then layers onto the restored take.
    RecordRig rig(record_config(5.0F), 20 * kRate);
    const std::uint32_t len = 192000;
    rig.run(1024, 1024);
    rig.send(CommandKind::record);
    rig.run(len, 1024);
    rig.send(CommandKind::record);
    const std::uint64_t origin = rig.t;
    const Planar take = rig.pass(origin, len);
    rig.send(CommandKind::overdub);
    rig.run(len, 1024);
    rig.send(CommandKind::overdub);
    rig.run(1024, 1024);
    rig.send(CommandKind::undo);
    rig.send(CommandKind::overdub);
    rig.run(1024, 1024);
    EXPECT_EQ(rig.h.count(EventKind::undo_done, 0), 0U) << "still swapping";
    EXPECT_EQ(rig.h.count(EventKind::overdub_started, 0), 1U);
    const std::uint64_t from = rig.t;  // the overdub starts at this block
    rig.run(1024, 1024);
    EXPECT_EQ(rig.h.count(EventKind::undo_done, 0), 1U);
    EXPECT_EQ(rig.h.count(EventKind::overdub_started, 0), 2U);
    rig.run(2048, 1024);
    rig.send(CommandKind::overdub);
    rig.run(1024, 1024);
    EXPECT_EQ(rig.pass(origin, len), layered(take, rig, origin, from, 3072));
}

TEST(Recording, UndoMemoryRunningOutEndsThePassAndDropsOldLayersFirst) {
    EngineConfig config = record_config(4.0F);
    config.undo_memory_mib = 1;  // 32 chunks of 4096 frames
    RecordRig rig(config, 20 * kRate);
    // 12 chunks per full pass: the third pass needs the first's chunks back.
    const std::uint32_t len = 48000;
    const std::uint64_t origin = record_take(rig, 1000, len);
    for (int p = 0; p < 3; ++p) {
        rig.send(CommandKind::overdub);
        rig.run(len, 1000);
        rig.send(CommandKind::overdub);
        rig.run(1000, 1000);
    }
    EXPECT_EQ(rig.h.count(EventKind::overdub_undo_full, 0), 0U);
    const Planar two = rig.pass(origin, len);
    for (int k = 0; k < 3; ++k) rig.send(CommandKind::undo);
    rig.run(4000, 1000);  // each undo waits for the one before to finish swapping
    EXPECT_EQ(rig.h.count(EventKind::undo_done, 0), 2U) << "the first pass's layer was dropped";
    EXPECT_EQ(rig.h.count(EventKind::undo_refused, 0), 1U);
    EXPECT_NE(rig.pass(origin, len), two);

    // A take longer than the whole arena: the pass stops where memory ends.
    rig.send(CommandKind::record, 1);
    rig.run(144000, 1000);  // 36 chunks
    rig.send(CommandKind::record, 1);
    rig.run(1000, 1000);
    rig.send(CommandKind::overdub, 1);
    rig.run(144000, 1000);
    EXPECT_EQ(rig.h.count(EventKind::overdub_undo_full, 1), 1U);
    EXPECT_EQ(rig.h.count(EventKind::overdub_ended, 1), 1U);
    EXPECT_EQ(rig.h.engine().slot_record_state(1), Engine::RecordState::none);
}

TEST(Recording, UndoLevelsAreBoundedOldestGoesFirst) {
    RecordRig rig(record_config());  // 3 levels
    const std::uint32_t len = 4800;
    const std::uint64_t origin = record_take(rig, 1000, len);
    std::vector<Planar> states{rig.pass(origin, len)};
    for (int layer = 0; layer < 4; ++layer) {
        rig.send(CommandKind::overdub);
        rig.run(1000);
        rig.send(CommandKind::overdub);
        states.push_back(rig.pass(origin, len));
    }
    for (int k = 0; k < 4; ++k) rig.send(CommandKind::undo);
    rig.run(len);
    EXPECT_EQ(rig.pass(origin, len), states[1]) << "three levels back, not four";
    EXPECT_EQ(rig.h.count(EventKind::undo_refused, 0), 1U);
}

TEST(Recording, ClearEmptiesTheSlotAndReturnsTheRecorder) {
    RecordRig rig(record_config());
    record_take(rig, 1000, 4800);
    EXPECT_EQ(rig.h.engine().free_recorders(), 1U);
    EXPECT_EQ(rig.h.engine().take_frames(0), 4800U);
    rig.send(CommandKind::clear);
    rig.run(4800);  // the fade out
    const Planar after = rig.run(4800);
    EXPECT_EQ(silent_from(after[0], 0), 0U);
    EXPECT_EQ(rig.h.engine().free_recorders(), 2U);
    EXPECT_EQ(rig.h.engine().take_frames(0), 0U);
    rig.send(CommandKind::undo);
    rig.run(100);
    EXPECT_EQ(rig.h.count(EventKind::undo_refused, 0), 1U);
    // The slot records again.
    const std::uint64_t start = rig.t;
    rig.send(CommandKind::record);
    rig.run(2000, 100);
    rig.send(CommandKind::record);
    const Planar loop = rig.run(2000, 100);
    for (std::uint32_t i = 0; i < 2000; ++i) ASSERT_EQ(loop[1][i], rig.in[1][start + i]);
}

TEST(Recording, QuantizedStartAndStopLandOnGridAndTheTakeSnapsToBars) {
    RecordRig rig(record_config(3.0F));
    rig.send(CommandKind::clock_tempo, 0, 480.0F);  // a beat is 6000 frames, a bar 24000
    rig.send(CommandKind::set_quantize, 0, 1.0F);
    rig.run(1000, 100);
    rig.send(CommandKind::record);  // pressed at 1000: starts on the beat at 6000
    rig.run(10000, 100);
    rig.send(CommandKind::record);  // pressed at 11000, 5000 in: one whole bar, ends at 30000
    const Planar out = rig.run(40000, 100);  // frames 11000..51000
    EXPECT_EQ(finished_frames(rig.h, EventKind::take_finished), 24000U);
    const std::size_t end = 30000 - 11000;
    for (std::size_t i = 0; i < end; ++i) ASSERT_EQ(out[0][i], 0.0F) << "before the bar line";
    for (std::uint32_t i = 0; i < 21000; ++i) {  // to the end of what was captured
        ASSERT_EQ(out[0][end + i], rig.in[0][6000 + i]) << i;
        ASSERT_EQ(out[1][end + i], rig.in[1][6000 + i]) << i;
    }

    // A second take on slot 1 held for more than a bar snaps to two.
    rig.send(CommandKind::set_quantize, 1, -1.0F);  // bars
    rig.send(CommandKind::record, 1);               // at 51000: starts on the bar at 72000
    rig.run(21000 + 30000, 100);                    // 30000 in
    rig.send(CommandKind::record, 1);
    rig.run(30000, 100);
    std::uint32_t frames = 0;
    for (const auto& e : rig.h.events())
        if (e.kind == EventKind::take_finished && e.slot == 1) frames = e.frames;
    EXPECT_EQ(frames, 48000U);
}

TEST(Recording, QuantizedOverdubTogglesOnGridFrames) {
    RecordRig rig(record_config());
    const std::uint32_t len = 4800;
    const std::uint64_t origin = record_take(rig, 1000, len);
    const Planar take = rig.pass(origin, len);
    rig.send(CommandKind::clock_tempo, 0, 600.0F);  // a beat is 4800 frames
    rig.send(CommandKind::clock_reset);             // grid zero at this block
    const std::uint64_t zero = rig.t;
    rig.send(CommandKind::set_quantize, 0, 1.0F);
    rig.run(1000);
    rig.send(CommandKind::overdub);  // lands at zero + 4800
    rig.run(4800);
    rig.send(CommandKind::overdub);  // lands at zero + 9600
    rig.run(4800);
    EXPECT_EQ(rig.pass(origin, len), layered(take, rig, origin, zero + 4800, 4800));
}

TEST(Recording, OffsetShiftsTakeAndOverdubByExactlyThatManyFrames) {
    RecordRig rig(record_config());
    const std::int64_t d = 37;
    rig.send(CommandKind::set_record_offset, 0, static_cast<float>(d));
    const std::uint32_t len = 4800;
    const std::uint64_t origin = record_take(rig, 1000, len);
    const Planar take = rig.pass(origin, len);
    for (std::uint32_t k = 0; k < len; ++k)
        ASSERT_EQ(take[0][k], rig.in[0][1000 + static_cast<std::size_t>(d) + k]) << k;

    const std::uint64_t from = rig.t;
    rig.send(CommandKind::overdub);
    rig.run(2000);
    rig.send(CommandKind::overdub);
    rig.run(100);
    const Planar after = rig.pass(origin, len);
    EXPECT_EQ(after, layered(take, rig, origin, from, 2000, d));
    EXPECT_NE(after, layered(take, rig, origin, from, 2000, 0));
}

TEST(Recording, MaximumLengthEndsTheTakeOnItsFrameAndItLoops) {
    RecordRig rig(record_config(0.1F));  // 4800 frames
    rig.run(1000, 100);
    rig.send(CommandKind::record);
    const Planar out = rig.run(4800 * 3, 128);  // blocks that do not divide 4800
    EXPECT_EQ(finished_frames(rig.h, EventKind::take_max_reached), 4800U);
    EXPECT_EQ(rig.h.count(EventKind::take_finished), 0U);
    EXPECT_EQ(out[0][4799], 0.0F);
    for (std::uint32_t i = 0; i < 2 * 4800; ++i)
        ASSERT_EQ(out[0][4800 + i], rig.in[0][1000 + i % 4800]);
    EXPECT_EQ(rig.h.engine().slot_record_state(0), Engine::RecordState::none);
    EXPECT_EQ(rig.h.engine().max_record_frames(), 4800U);
}

TEST(Recording, PoolExhaustionIsReportedAndTheSlotKeepsItsSample) {
    RecordRig rig(record_config(1.0F, 2));
    record_take(rig, 1000, 2000);
    rig.h.send(CommandKind::record, 1);
    rig.run(1000, 100);
    rig.h.send(CommandKind::record, 1);
    rig.run(100, 100);
    EXPECT_EQ(rig.h.engine().free_recorders(), 0U);
    rig.send(CommandKind::stop, 0);
    rig.send(CommandKind::stop, 1);
    rig.run(4800);

    SampleBuffer* dc = rig.h.make_dc(1, 1000, 0.25F);
    rig.h.assign(2, dc);
    rig.h.set_loop(2, true);
    rig.h.play(2);
    rig.run(100);
    rig.send(CommandKind::record, 2);
    const Planar out = rig.run(3000);
    EXPECT_EQ(rig.h.count(EventKind::recorder_refused, 2), 1U);
    EXPECT_EQ(rig.h.count(EventKind::take_started, 2), 0U);
    for (float x : out[0]) ASSERT_EQ(x, 0.25F);
    EXPECT_TRUE(rig.h.live(dc)) << "the sample stays the slot's";
}

TEST(Recording, MonitoringPassesInputsThroughPerSlotAndGlobally) {
    RecordRig rig(record_config());
    rig.send(CommandKind::set_monitor, 3, 1.0F);
    const std::uint64_t from = rig.t;
    const Planar slot = rig.run(1000);
    for (std::uint32_t c = 0; c < 2; ++c)
        for (std::uint32_t i = 0; i < 1000; ++i) ASSERT_EQ(slot[c][i], rig.in[c][from + i]);
    rig.send(CommandKind::set_monitor, 3, 0.0F);
    EXPECT_EQ(silent_from(rig.run(500)[0], 0), 0U);

    rig.send(CommandKind::set_monitor_all, 0, 1.0F);
    const std::uint64_t from2 = rig.t;
    const Planar all = rig.run(1000);
    for (std::uint32_t c = 0; c < 2; ++c)
        for (std::uint32_t i = 0; i < 1000; ++i) ASSERT_EQ(all[c][i], rig.in[c][from2 + i]);
    rig.send(CommandKind::set_monitor_all, 0, 0.0F);
    EXPECT_EQ(silent_from(rig.run(500)[1], 0), 0U);
}

TEST(Recording, InputPairSelectsWhatTheSlotRecords) {
    EngineConfig config = record_config();
    config.inputs = 3;  // pair 2 is in_3 alone: mono on both sides
    EngineHarness h(config);
    Planar in(3, std::vector<float>(20000));
    for (std::uint32_t c = 0; c < 3; ++c)
        for (std::uint32_t i = 0; i < 20000; ++i) in[c][i] = static_cast<float>(c + 1) + 1e-4F * i;
    h.send(CommandKind::set_input, 0, 2.0F);
    h.send(CommandKind::record, 0);
    h.render_inputs(in, 0, 1000);
    h.send(CommandKind::record, 0);
    h.render_inputs(in, 1000, 1000);
    for (std::uint32_t i = 0; i < 1000; ++i) {
        ASSERT_EQ(h.out(0)[i], in[2][i]);
        ASSERT_EQ(h.out(1)[i], in[2][i]);
    }
}

TEST(Recording, NoInputsLeavesTheEngineAsBefore) {
    EngineConfig with = record_config();
    with.inputs = 0;
    EngineHarness h(with);
    EXPECT_EQ(h.engine().record_memory_bytes(), 0U);
    EXPECT_EQ(h.engine().max_record_frames(), 0U);
    SampleBuffer* noise = h.make_noise(2, 3000, 3);
    h.assign(0, noise);
    h.set_loop(0, true);
    h.play(0);
    h.send(CommandKind::record, 0);
    h.send(CommandKind::set_monitor_all, 0, 1.0F);
    Planar in(2, std::vector<float>(3000, 0.5F));
    h.render_inputs(in, 0, 3000);
    for (std::uint32_t i = 0; i < 3000; ++i) ASSERT_EQ(h.out(0)[i], noise->channel(0)[i]);
    EXPECT_EQ(h.count(EventKind::take_started), 0U);
    EXPECT_EQ(h.count(EventKind::recorder_refused), 0U);
}

TEST(Recording, DefaultsFitTheDocumentedBudget) {
    // 8 recorders × 60 s stereo at 48 kHz plus 128 MiB of undo: 304 MiB, under 512 MiB.
    EngineConfig c;
    c.inputs = 2;
    const std::uint64_t buffers = 8ULL * 60 * 48000 * 2 * sizeof(float);
    const std::uint64_t undo = 128ULL << 20;
    EXPECT_LT(buffers + undo, 512ULL << 20);
    EXPECT_EQ(c.recorders, 8U);
    EXPECT_EQ(c.max_record_seconds, 60.0F);
    EXPECT_EQ(c.undo_memory_mib, 128U);
    // The engine's own count, for a smaller pool of the same shape.
    c.recorders = 2;
    c.max_record_seconds = 2.0F;
    c.undo_memory_mib = 1;
    Engine e(c);
    EXPECT_EQ(e.record_memory_bytes(), 2U * 2 * 96000 * sizeof(float) + (1U << 20));
}

}  // namespace
}  // namespace looperd::test
