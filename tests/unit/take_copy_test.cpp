// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// Takes copied out (snapshot, to save them) and in (load_take), and the tempo taken from a
// take (clock_from_slot), frame by frame under the audio-thread guard (engine_harness.hpp).

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "looperd/sample_buffer.hpp"
#include "record_rig.hpp"

namespace looperd::test {
namespace {

// A take of `length` frames on `slot`, recorded from now; returns the frame it loops from.
std::uint64_t take(RecordRig& rig, std::uint32_t length, std::uint32_t slot = 0) {
    EXPECT_TRUE(rig.h.send(CommandKind::record, slot));
    rig.run(length);
    EXPECT_TRUE(rig.h.send(CommandKind::record, slot));
    const std::uint64_t origin = rig.t;
    rig.run(128);
    return origin;
}

// A buffer to lend, as the daemon's take thread does.
std::unique_ptr<SampleBuffer> export_buffer(RecordRig& rig) {
    auto b = std::make_unique<SampleBuffer>(2, rig.h.engine().max_record_frames(), kRate);
    b->prefault();
    return b;
}

// The last event of `kind`, or null.
const Event* last(const RecordRig& rig, EventKind kind) {
    const Event* found = nullptr;
    for (const auto& e : rig.h.events())
        if (e.kind == kind) found = &e;
    return found;
}

// Long enough for the longest case here.
constexpr std::uint32_t kInputFrames = 40 * kRate;

Planar frames_of(const SampleBuffer& b) {
    Planar out(2, std::vector<float>(b.frames()));
    for (std::uint32_t c = 0; c < 2; ++c) std::copy_n(b.channel(c), b.frames(), out[c].begin());
    return out;
}

TEST(TakeCopy, SnapshotEqualsTheTakeAsItPlays) {
    RecordRig rig(record_config(1.0F), kInputFrames);
    const std::uint32_t len = 20000;
    const std::uint64_t origin = take(rig, len);
    rig.h.send(CommandKind::overdub);
    rig.run(7000);
    rig.h.send(CommandKind::overdub);
    rig.run(1000);
    const Planar heard = rig.pass(origin, len);

    auto dest = export_buffer(rig);
    ASSERT_TRUE(rig.h.send(CommandKind::snapshot, 0, 0.0F, dest.get()));
    rig.run(256);
    const Event* done = last(rig, EventKind::snapshot_done);
    ASSERT_NE(done, nullptr);
    EXPECT_EQ(done->buffer, dest.get());
    EXPECT_EQ(done->frames, len);
    EXPECT_EQ(dest->frames(), len);
    EXPECT_EQ(frames_of(*dest), heard);
    // Which take it is a copy of (a stretch rendering made from it names it).
    EXPECT_NE(done->content, 0U);
    EXPECT_EQ(done->content, rig.h.engine().take_content(0));
}

TEST(TakeCopy, SnapshotOfALongTakeIsTheTakeAsItWasWhenCopyingBegan) {
    // 4 s = 47 chunks, 32 per block: the copy spans two blocks while an overdub and then an
    // undo change the take; copy-before-write keeps the snapshot whole.
    RecordRig rig(record_config(5.0F), kInputFrames);
    const std::uint32_t len = 4 * kRate;
    const std::uint64_t origin = take(rig, len);
    rig.h.send(CommandKind::overdub);
    rig.run(len / 3);
    rig.h.send(CommandKind::overdub);
    rig.run(128);
    const Planar before = rig.pass(origin, len);

    auto dest = export_buffer(rig);
    // Overdub from the block the copy starts in, with the loop 3 s in (chunk 35): it writes
    // chunks the sweep's first block (0 to 31) has not reached.
    const std::uint64_t at = (rig.t - origin) % len;
    rig.run(static_cast<std::uint32_t>((3 * kRate + len - at) % len));
    ASSERT_TRUE(rig.h.send(CommandKind::snapshot, 0, 0.0F, dest.get()));
    ASSERT_TRUE(rig.h.send(CommandKind::overdub));
    rig.run(128 * 3);
    ASSERT_NE(last(rig, EventKind::snapshot_done), nullptr);
    EXPECT_EQ(last(rig, EventKind::snapshot_done)->content, 0U)
        << "a copy made while an overdub changes the take names no content";
    rig.run(len);
    rig.h.send(CommandKind::overdub);
    rig.run(128);
    EXPECT_EQ(frames_of(*dest), before);
    EXPECT_NE(rig.pass(origin, len), before) << "the overdub did layer the take";

    // An undo swapping chunks while a second snapshot copies: the same guarantee. The layer
    // to undo covers only the take's last second (chunks 35 on), which the copy's first block
    // (chunks 0 to 31) does not reach: the undo swaps them before the sweep comes.
    const Planar one_layer = rig.pass(origin, len);
    const std::uint64_t pos = (rig.t - origin) % len;
    rig.run(static_cast<std::uint32_t>((3 * kRate + len - pos) % len));
    ASSERT_TRUE(rig.h.send(CommandKind::overdub));
    rig.run(kRate - 256);
    ASSERT_TRUE(rig.h.send(CommandKind::overdub));
    rig.run(128);
    const Planar two_layers = rig.pass(origin, len);
    ASSERT_NE(two_layers, one_layer);
    auto second = export_buffer(rig);
    ASSERT_TRUE(rig.h.send(CommandKind::snapshot, 0, 0.0F, second.get()));
    rig.run(128);  // the copy has begun
    ASSERT_TRUE(rig.h.send(CommandKind::undo));
    rig.run(128 * 4);
    EXPECT_EQ(frames_of(*second), two_layers);
    EXPECT_EQ(rig.pass(origin, len), one_layer) << "the undo took the last layer off";
}

TEST(TakeCopy, SnapshotWaitsForATakeBeingRecordedAndIsRefusedWithoutOne) {
    RecordRig rig(record_config(1.0F), kInputFrames);
    auto dest = export_buffer(rig);
    ASSERT_TRUE(rig.h.send(CommandKind::snapshot, 1, 0.0F, dest.get()));
    rig.run(128);
    const Event* refused = last(rig, EventKind::snapshot_refused);
    ASSERT_NE(refused, nullptr);
    EXPECT_EQ(refused->slot, 1U);
    EXPECT_EQ(refused->buffer, dest.get());

    // Asked while recording: answered once the take ended, with the whole take.
    rig.h.clear_events();
    ASSERT_TRUE(rig.h.send(CommandKind::record));
    rig.run(1280);
    ASSERT_TRUE(rig.h.send(CommandKind::snapshot, 0, 0.0F, dest.get()));
    rig.run(1280);
    EXPECT_EQ(last(rig, EventKind::snapshot_done), nullptr);
    ASSERT_TRUE(rig.h.send(CommandKind::record));
    const std::uint64_t origin = rig.t;
    rig.run(256);
    ASSERT_NE(last(rig, EventKind::snapshot_done), nullptr);
    EXPECT_EQ(dest->frames(), 2560U);
    EXPECT_EQ(frames_of(*dest), rig.pass(origin, 2560));
}

TEST(TakeCopy, ClearingTheSlotWhileCopyingRefusesTheSnapshot) {
    RecordRig rig(record_config(5.0F), kInputFrames);
    take(rig, 4 * kRate);
    auto dest = export_buffer(rig);
    ASSERT_TRUE(rig.h.send(CommandKind::snapshot, 0, 0.0F, dest.get()));
    rig.run(128);  // a first block of chunks copied
    ASSERT_TRUE(rig.h.send(CommandKind::clear));
    rig.run(128 * 4);
    EXPECT_EQ(last(rig, EventKind::snapshot_done), nullptr);
    ASSERT_NE(last(rig, EventKind::snapshot_refused), nullptr);
    EXPECT_EQ(last(rig, EventKind::snapshot_refused)->buffer, dest.get());
}

TEST(TakeCopy, LoadTakePlaysTheFileThroughTheCopyAndThenOverdubsOntoIt) {
    RecordRig rig(record_config(5.0F), kInputFrames);
    const std::uint32_t len = 3 * kRate;  // 36 chunks: the copy takes two blocks
    SampleBuffer* file = rig.h.make_noise(2, len, 5);
    const Planar original = frames_of(*file);
    ASSERT_TRUE(rig.h.send(CommandKind::set_mode, 0, 1.0F));  // a loop
    ASSERT_TRUE(rig.h.send(CommandKind::load_take, 0, 0.0F, file));
    ASSERT_TRUE(rig.h.play(0));
    const std::uint64_t origin = rig.t;
    const Planar out = rig.run(2 * len);
    for (std::uint32_t c = 0; c < 2; ++c)
        for (std::uint32_t i = 0; i < 2 * len; ++i)
            ASSERT_EQ(out[c][i], original[c][i % len]) << "channel " << c << " frame " << i;
    const Event* loaded = last(rig, EventKind::take_loaded);
    ASSERT_NE(loaded, nullptr);
    EXPECT_EQ(loaded->frames, len);
    EXPECT_FALSE(rig.h.live(file)) << "the file's buffer retired once the recorder held it";
    EXPECT_EQ(rig.h.engine().free_recorders(), 1U);

    // A take like a recorded one: overdub layers onto it, undo gives it back bit for bit.
    ASSERT_TRUE(rig.h.send(CommandKind::overdub));
    rig.run(len);
    ASSERT_TRUE(rig.h.send(CommandKind::overdub));
    rig.run(128);
    EXPECT_NE(rig.pass(origin, len), original);
    ASSERT_TRUE(rig.h.send(CommandKind::undo));
    rig.run(128 * 3);
    EXPECT_EQ(rig.pass(origin, len), original);
}

TEST(TakeCopy, AReloadedTakeKeepsSoundingAndALoadStopsTheSlot) {
    // A reload (the same take at a new rate, value 1) starts a sounding slot again from the
    // take's frame 0, looping though the slot's mode is one-shot; a load (value 0) stops it.
    RecordRig rig(record_config(1.0F), kInputFrames);
    take(rig, 4800);
    SampleBuffer* again = rig.h.make_noise(2, 6000, 9);
    const std::vector<float> left(again->channel(0), again->channel(0) + 6000);
    ASSERT_TRUE(rig.h.send(CommandKind::load_take, 0, 1.0F, again));
    const Planar out = rig.run(3 * 6000);
    // From the block it came in, past the old take's fade out: the new take, looping.
    for (std::uint32_t i = 1024; i < out[0].size(); ++i)
        ASSERT_EQ(out[0][i], left[i % 6000]) << "frame " << i;

    SampleBuffer* other = rig.h.make_noise(2, 6000, 10);
    ASSERT_TRUE(rig.h.send(CommandKind::load_take, 0, 0.0F, other));
    const Planar after = rig.run(6000);
    EXPECT_EQ(after[0].back(), 0.0F) << "a load leaves the slot stopped";
    EXPECT_EQ(rig.h.engine().slot_sounding_voices(0), 0U);
}

TEST(TakeCopy, LoadTakeOfAMonoFileRecordsBothSides) {
    RecordRig rig(record_config(1.0F), kInputFrames);
    SampleBuffer* file = rig.h.make_noise(1, 9000, 3);
    std::vector<float> mono(file->channel(0), file->channel(0) + 9000);
    ASSERT_TRUE(rig.h.send(CommandKind::load_take, 0, 0.0F, file));
    rig.run(256);
    ASSERT_NE(last(rig, EventKind::take_loaded), nullptr);
    auto dest = export_buffer(rig);
    ASSERT_TRUE(rig.h.send(CommandKind::snapshot, 0, 0.0F, dest.get()));
    rig.run(128);
    ASSERT_NE(last(rig, EventKind::snapshot_done), nullptr);
    EXPECT_EQ(frames_of(*dest), Planar({mono, mono}));
}

TEST(TakeCopy, LoadTakeWithoutAFreeRecorderOrTooLongPlaysAsASample) {
    RecordRig rig(record_config(0.5F, 1), kInputFrames);
    SampleBuffer* too_long = rig.h.make_dc(2, kRate, 0.25F);  // 1 s > 0.5 s
    ASSERT_TRUE(rig.h.send(CommandKind::set_mode, 0, 1.0F));
    ASSERT_TRUE(rig.h.send(CommandKind::load_take, 0, 0.0F, too_long));
    ASSERT_TRUE(rig.h.play(0));
    const Planar out = rig.run(1000);
    ASSERT_NE(last(rig, EventKind::take_load_refused), nullptr);
    EXPECT_EQ(last(rig, EventKind::take_load_refused)->frames, kRate);
    EXPECT_EQ(out[0][999], 0.25F);
    EXPECT_TRUE(rig.h.live(too_long));

    take(rig, 2000, 1);  // the only recorder
    SampleBuffer* fits = rig.h.make_dc(2, 1000, 0.5F);
    rig.h.clear_events();
    ASSERT_TRUE(rig.h.send(CommandKind::load_take, 2, 0.0F, fits));
    rig.run(128);
    EXPECT_NE(last(rig, EventKind::take_load_refused), nullptr);
    EXPECT_EQ(last(rig, EventKind::take_loaded), nullptr);
}

TEST(TakeCopy, ClockFromSlotPutsBarLinesOnTheLoopsPasses) {
    RecordRig rig(record_config(1.0F), kInputFrames);
    const std::uint32_t len = 22050;  // 4 beats at 48000 * 4 * 60 / 22050 BPM
    const std::uint64_t origin = take(rig, len);
    const float bpm = static_cast<float>(4.0 * 60.0 * kRate / len);
    ASSERT_TRUE(rig.h.send(CommandKind::clock_meter, 0, 4.0F));
    ASSERT_TRUE(rig.h.send(CommandKind::clock_from_slot, 0, bpm));
    rig.run(3000);
    EXPECT_EQ(last(rig, EventKind::tempo_refused), nullptr);
    // A quantized (bar) play on another slot lands on the loop's next pass.
    SampleBuffer* click = rig.h.make_dc(2, 64, 1.0F);
    ASSERT_TRUE(rig.h.assign(1, click));
    ASSERT_TRUE(rig.h.send(CommandKind::set_quantize, 1, -1.0F));
    ASSERT_TRUE(rig.h.send(CommandKind::set_gain, 0, 0.0F));  // only the click is heard
    rig.run(len);
    const std::uint64_t from = rig.t;
    ASSERT_TRUE(rig.h.play(1));
    const Planar out = rig.run(2 * len);
    std::uint32_t first = 0;
    while (first < out[0].size() && out[0][first] == 0.0F) ++first;
    ASSERT_LT(first, out[0].size());
    EXPECT_EQ((from + first - origin) % len, 0U) << "bar line off the loop by frames";

    ASSERT_TRUE(rig.h.send(CommandKind::clock_from_slot, 3, 120.0F));  // slot 3 is empty
    rig.run(128);
    ASSERT_NE(last(rig, EventKind::tempo_refused), nullptr);
    EXPECT_EQ(last(rig, EventKind::tempo_refused)->slot, 3U);
}

}  // namespace
}  // namespace looperd::test
