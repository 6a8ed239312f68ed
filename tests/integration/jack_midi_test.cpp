// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// The test's own MIDI clients against a real jackd (dummy backend, 48 kHz, 128-frame periods),
// before any daemon test relies on them: every event the sender writes must reach the receiver
// on its exact JACK frame, bytes and order intact. Sender and receiver run in one JACK cycle
// (client to client, no latency), so an event written at time t of a cycle is read at time t
// of that same cycle. The server runs in synchronous mode (fixtures.hpp): in jackd's
// asynchronous mode a busy machine makes it skip a client's cycle now and then, and that
// cycle's events go out at the start of the next one (JackMidiSender::late() counts them).

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "jack_midi.hpp"
#include "jack_server.hpp"

namespace looperd::test {
namespace {

constexpr std::uint64_t kBlock = 128;
constexpr std::uint64_t kSpan = 3 * kTestRate;  // frames the events are spread over
constexpr std::size_t kNotes = 1000;

std::string hex(const std::vector<std::uint8_t>& bytes) {
    std::ostringstream out;
    out << std::hex;
    for (std::size_t k = 0; k < bytes.size(); ++k) {
        if (k == 16) {
            out << "… (" << std::dec << bytes.size() << " bytes)";
            break;
        }
        out << (k > 0 ? " " : "") << static_cast<unsigned>(bytes[k]);
    }
    return out.str();
}

// Note-on (even k) and note-off (odd k) messages whose channel and note spell k, so no two of
// the first 2048 are alike and an order swap among events of one frame shows.
std::vector<std::uint8_t> note(std::size_t k, std::mt19937& random) {
    const auto channel = static_cast<std::uint8_t>((k / 128) % 16);
    const auto key = static_cast<std::uint8_t>(k % 128);
    const auto velocity = static_cast<std::uint8_t>(1 + random() % 127);
    if (k % 2 == 0) return {static_cast<std::uint8_t>(0x90 | channel), key, velocity};
    return {static_cast<std::uint8_t>(0x80 | channel), key, 0};
}

// F0, 98 data bytes, F7.
std::vector<std::uint8_t> sysex() {
    std::vector<std::uint8_t> bytes{0xF0};
    for (std::uint8_t k = 0; k < 98; ++k) bytes.push_back(static_cast<std::uint8_t>(k * 37 % 128));
    bytes.push_back(0xF7);
    return bytes;
}

// kNotes notes (a fixed seed) over kSpan frames, with the cases a frame-exact client can get
// wrong placed on purpose: frame 0, the first cycle's last frame and the next cycle's first,
// a cycle's last frame and the next one's first further on, the span's last frame, several
// events on one frame (a SysEx between two notes on one of them). Sorted by frame, events of
// one frame in the order made.
std::vector<MidiEvent> make_events() {
    std::mt19937 random(0x4D494449);  // "MIDI"
    // Frame 0, twice.
    std::vector<std::uint64_t> chosen = {0, 0};
    // The first cycle's last frame, the next one's first (twice) and last; a boundary further on.
    chosen.insert(chosen.end(), {kBlock - 1, kBlock, kBlock, 2 * kBlock - 1});
    chosen.insert(chosen.end(), {100 * kBlock - 1, 100 * kBlock});
    // Four notes on one frame inside a cycle.
    chosen.insert(chosen.end(), {1000, 1000, 1000, 1000});
    // Two notes on a boundary; the SysEx goes between them, below.
    chosen.insert(chosen.end(), {300 * kBlock, 300 * kBlock});
    chosen.push_back(kSpan - 1);
    std::vector<MidiEvent> events;
    for (const std::uint64_t offset : chosen) {
        events.push_back(MidiEvent{offset, note(events.size(), random)});
    }
    while (events.size() < kNotes) {
        events.push_back(MidiEvent{random() % kSpan, note(events.size(), random)});
    }
    // The SysEx between the two notes at 300 blocks (indices 12 and 13).
    events.insert(events.begin() + 13, MidiEvent{300 * kBlock, sysex()});
    std::stable_sort(events.begin(), events.end(), [](const MidiEvent& a, const MidiEvent& b) {
        return a.frame_offset < b.frame_offset;
    });
    return events;
}

class JackMidi : public IntegrationTest {
  protected:
    void SetUp() override { start_jack("looperd-midi-"); }

    void TearDown() override {
        std::unique_ptr<ChildProcess> no_daemon;
        finish(no_daemon, false);
    }
};

TEST_F(JackMidi, EventsArriveOnTheirExactFrames) {
    if (IsSkipped() || HasFatalFailure()) return;
    const std::vector<MidiEvent> events = make_events();
    ASSERT_EQ(events.size(), kNotes + 1);

    JackMidiReceiver receiver(jack_->name(), 2 * events.size());
    JackMidiSender sender(jack_->name(), events.size());
    sender.connect(receiver.client_name() + ":in");

    receiver.start();
    sender.send(events);
    ASSERT_TRUE(sender.wait_done(kHangBound)) << hung("the sender writing every event");
    ASSERT_EQ(receiver.wait_for_events(events.size(), kHangBound), events.size())
        << hung("the receiver seeing every event");
    receiver.stop();

    EXPECT_EQ(sender.lost(), 0U) << "events JACK refused";
    EXPECT_EQ(sender.late(), 0U) << "events written after their frame";
    EXPECT_FALSE(receiver.overflowed());
    const std::vector<ReceivedMidiEvent> received = receiver.snapshot();
    ASSERT_EQ(received.size(), events.size());
    const std::vector<std::uint32_t> cycles = sender.written_cycles();
    ASSERT_EQ(cycles.size(), events.size());

    std::size_t wrong = 0;
    for (std::size_t k = 0; k < events.size(); ++k) {
        // mod 2^32: JACK's frame time is 32 bits wide.
        const std::uint64_t want =
            static_cast<std::uint32_t>(sender.start_frame() + events[k].frame_offset);
        const ReceivedMidiEvent& got = received[k];
        // No cycle skipped (late() is 0), so each event's cycle is its offset's.
        const std::uint64_t cycle = events[k].frame_offset / kBlock;
        if (got.frame == want && got.bytes == events[k].bytes && !got.truncated &&
            cycles[k] == cycle)
            continue;
        if (++wrong <= 10) {
            ADD_FAILURE() << "event " << k << " (offset " << events[k].frame_offset << ", "
                          << hex(events[k].bytes) << "): written in cycle " << cycles[k]
                          << " (its offset's: " << cycle << "), received at frame " << got.frame
                          << " (offset "
                          << static_cast<std::int64_t>(got.frame) -
                                 static_cast<std::int64_t>(sender.start_frame())
                          << "), bytes " << hex(got.bytes) << (got.truncated ? " truncated" : "");
        }
    }
    EXPECT_EQ(wrong, 0U) << "of " << events.size() << " events arrived wrong";
}

}  // namespace
}  // namespace looperd::test
