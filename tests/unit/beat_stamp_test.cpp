// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// BeatStamp: one writer (the audio thread) and readers that never see half a write.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "io/beat_stamp.hpp"

namespace {

using looperd::BeatStamp;

TEST(BeatStamp, NothingBeforeTheFirstWrite) {
    const BeatStamp stamp;
    EXPECT_FALSE(stamp.read());
    EXPECT_FALSE(stamp.beat_at(1e6));
}

TEST(BeatStamp, ExtrapolatesTheBeatAtItsTempo) {
    BeatStamp stamp;
    stamp.write({.host_micros = 1e6, .beat = 8.0, .bpm = 120.0});
    EXPECT_DOUBLE_EQ(*stamp.beat_at(1e6), 8.0);
    EXPECT_DOUBLE_EQ(*stamp.beat_at(1.5e6), 9.0);  // half a second: a beat at 120 BPM
    EXPECT_DOUBLE_EQ(*stamp.beat_at(0.5e6), 7.0);
    stamp.write({.host_micros = 2e6, .beat = 10.0, .bpm = 0.0});
    EXPECT_FALSE(stamp.beat_at(2e6)) << "no tempo, no beat";
}

// Each write keeps beat = 2 × time and bpm = 3 × time: a reader that mixed two writes would see
// them disagree. The writer runs until the reader has read 100,000 times. (ThreadSanitizer runs
// this too.)
TEST(BeatStamp, AReaderNeverSeesHalfAWrite) {
    BeatStamp stamp;
    std::atomic<bool> done{false};
    std::atomic<long> writes{0};
    std::thread writer([&] {
        for (double t = 1.0; !done.load(std::memory_order_relaxed); t += 1.0) {
            stamp.write({.host_micros = t, .beat = 2.0 * t, .bpm = 3.0 * t});
            writes.fetch_add(1, std::memory_order_relaxed);
        }
    });
    long reads = 0;
    long mixed = 0;
    while (reads < 100'000) {
        if (const auto p = stamp.read()) {
            if (p->beat != 2.0 * p->host_micros || p->bpm != 3.0 * p->host_micros) ++mixed;
            ++reads;
        }
    }
    done = true;
    writer.join();
    EXPECT_EQ(mixed, 0);
    EXPECT_GT(writes.load(), 0);
}

}  // namespace
