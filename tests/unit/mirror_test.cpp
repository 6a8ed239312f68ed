// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// The controller's model and its way into the engine, alone: the mirror's transactions and the
// command port.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "control/command_port.hpp"
#include "control/mirror.hpp"

namespace {

using namespace looperd;

TEST(Mirror, StartsAtTheDefaultsWithTheEnginesFade) {
    Mirror mirror(4, 12.5F);
    const MirrorState m = mirror.snapshot();
    ASSERT_EQ(m.slots.size(), 4U);
    EXPECT_EQ(m.slots[3].params.number("fade_out"), 12.5F);
    EXPECT_EQ(m.slots[3].params.number("gain"), 1.0F);
    EXPECT_EQ(m.tempo, 120.0F);
    EXPECT_EQ(mirror.changes(), 0U);
}

TEST(Mirror, ATransactionReadsItsOwnWritesAndShowsNothingUntilItCommits) {
    Mirror mirror(2, 5.0F);
    std::uint64_t changes = 99;
    {
        Mirror::Transaction tx(mirror);
        tx.edit(1).params.set_number("gain", 0.25F);
        tx.edit_globals().tempo = 90.0F;
        EXPECT_EQ(tx.slot(1).params.number("gain"), 0.25F);
        EXPECT_EQ(tx.slot(0).params.number("gain"), 1.0F);
        EXPECT_EQ(tx.globals().tempo, 90.0F);
        EXPECT_TRUE(tx.commit());
    }
    const MirrorState m = mirror.snapshot(&changes);
    EXPECT_EQ(m.slots[1].params.number("gain"), 0.25F);
    EXPECT_EQ(m.tempo, 90.0F);
    EXPECT_EQ(changes, 1U) << "one commit is one change, however much it wrote";
}

TEST(Mirror, ATransactionNeverCommittedChangesNothing) {
    Mirror mirror(2, 5.0F);
    {
        Mirror::Transaction tx(mirror);
        tx.edit(0).loaded = true;
        tx.edit(0).path = "a.wav";
        tx.edit_globals().meter = 7;
    }
    const MirrorState m = mirror.snapshot();
    EXPECT_FALSE(m.slots[0].loaded);
    EXPECT_EQ(m.slots[0].path, "");
    EXPECT_EQ(m.meter, 4);
    EXPECT_EQ(mirror.changes(), 0U);
    EXPECT_EQ(mirror.slots_loaded(), 0U);
}

TEST(Mirror, ATransactionThatOnlyReadsCountsNoChange) {
    Mirror mirror(2, 5.0F);
    Mirror::Transaction tx(mirror);
    EXPECT_EQ(tx.slot(1).generation, 0U);
    EXPECT_EQ(tx.globals().sync, ClockSource::internal);
    EXPECT_FALSE(tx.commit());
    EXPECT_EQ(mirror.changes(), 0U);
}

// A reader on another thread sees a transaction whole or not at all.
TEST(Mirror, ReadersNeverSeeHalfATransaction) {
    Mirror mirror(2, 5.0F);
    {
        // Every value the reader compares starts equal.
        Mirror::Transaction tx(mirror);
        tx.edit(0).params.set_number("gain", 0.0F);
        tx.edit(1).params.set_number("gain", 0.0F);
        tx.edit_globals().tempo = 0.0F;
        tx.commit();
    }
    std::atomic<bool> done{false};
    std::atomic<int> torn{0};
    std::atomic<int> reads{0};
    std::thread reader([&] {
        while (!done.load()) {
            const MirrorState m = mirror.snapshot();
            if (m.slots[0].params.number("gain") != m.slots[1].params.number("gain") ||
                m.tempo != m.slots[0].params.number("gain"))
                torn.fetch_add(1);
            reads.fetch_add(1);
        }
    });
    for (int i = 1; i <= 2000 || reads.load() < 10; ++i) {
        Mirror::Transaction tx(mirror);
        const auto v = static_cast<float>(i);
        tx.edit(0).params.set_number("gain", v);
        std::this_thread::yield();
        tx.edit(1).params.set_number("gain", v);
        tx.edit_globals().tempo = v;
        tx.commit();
    }
    done.store(true);
    reader.join();
    EXPECT_EQ(torn.load(), 0);
    EXPECT_GE(reads.load(), 10);
}

TEST(CommandPort, SendsAllOrNoneWhenTheRoomIsKnown) {
    std::vector<Command> ring;
    std::size_t room = 2;
    CommandPort port(
        [&](const Command& c) {
            if (room == 0) return false;
            ring.push_back(c);
            --room;
            return true;
        },
        [&] { return room; });
    const std::vector<Command> three{Command{CommandKind::play, 0}, Command{CommandKind::play, 1},
                                     Command{CommandKind::play, 2}};
    EXPECT_EQ(port.send_all(three), 0U);
    EXPECT_TRUE(ring.empty()) << "nothing of a batch that does not fit";
    room = 3;
    EXPECT_EQ(port.send_all(three), 3U);
    ASSERT_EQ(ring.size(), 3U);
    EXPECT_EQ(ring[2].slot, 2U);
    EXPECT_FALSE(port.send(Command{CommandKind::stop_all}));
}

TEST(CommandPort, WithTheRoomUnknownSendsUntilTheRingRefuses) {
    std::vector<Command> ring;
    CommandPort port([&](const Command& c) {
        if (ring.size() == 1) return false;
        ring.push_back(c);
        return true;
    });
    const std::vector<Command> two{Command{CommandKind::play, 0}, Command{CommandKind::play, 1}};
    EXPECT_EQ(port.send_all(two), 1U);
    EXPECT_EQ(ring.size(), 1U);
}

}  // namespace
