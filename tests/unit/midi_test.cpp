// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// MIDI input: the parser on its own, then notes through the engine, frame by frame, under the
// audio-thread guard.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include "engine_harness.hpp"
#include "looperd/midi.hpp"

namespace {

using namespace looperd;
using Bytes = std::vector<std::uint8_t>;

std::vector<MidiMessage> parse(MidiParser& p, const Bytes& bytes) {
    std::vector<MidiMessage> out;
    MidiMessage m;
    for (const auto b : bytes)
        if (p.feed(b, m)) out.push_back(m);
    return out;
}

std::vector<MidiMessage> parse(const Bytes& bytes) {
    MidiParser p;
    return parse(p, bytes);
}

bool same(const MidiMessage& m, std::uint8_t status, std::uint8_t d1 = 0, std::uint8_t d2 = 0) {
    return m.status == status && m.data1 == d1 && m.data2 == d2;
}

TEST(MidiParser, ReadsWholeChannelMessages) {
    const auto got = parse({0x99, 36, 100, 0x89, 36, 0, 0xB0, 7, 127, 0xC2, 5, 0xE0, 0, 64});
    ASSERT_EQ(got.size(), 5U);
    EXPECT_TRUE(same(got[0], 0x99, 36, 100));
    EXPECT_TRUE(got[0].note_on());
    EXPECT_EQ(got[0].channel(), 9);
    EXPECT_TRUE(got[1].note_off());
    EXPECT_TRUE(same(got[2], 0xB0, 7, 127));
    EXPECT_TRUE(same(got[3], 0xC2, 5)) << "program change has one data byte";
    EXPECT_TRUE(same(got[4], 0xE0, 0, 64));
}

TEST(MidiParser, ANoteOnWithVelocityZeroIsANoteOff) {
    const auto got = parse({0x90, 40, 0});
    ASSERT_EQ(got.size(), 1U);
    EXPECT_FALSE(got[0].note_on());
    EXPECT_TRUE(got[0].note_off());
}

TEST(MidiParser, HonoursRunningStatusAcrossEventsAndBlocks) {
    MidiParser p;
    EXPECT_EQ(parse(p, {0x90, 36, 100, 37}).size(), 1U);  // the second note is split ...
    const auto rest = parse(p, {90});                     // ... across two events
    ASSERT_EQ(rest.size(), 1U);
    EXPECT_TRUE(same(rest[0], 0x90, 37, 90));
    const auto more = parse(p, {38, 0, 39, 1});  // a later block, still running status
    ASSERT_EQ(more.size(), 2U);
    EXPECT_TRUE(more[0].note_off());
    EXPECT_TRUE(same(more[1], 0x90, 39, 1));
    EXPECT_EQ(p.stray(), 0U);
}

TEST(MidiParser, RealTimeBytesComeOutEvenInsideAMessage) {
    const auto got = parse({0x90, 0xF8, 36, 0xFA, 100, 0xF9, 0xFC});
    ASSERT_EQ(got.size(), 4U);
    EXPECT_EQ(got[0].status, 0xF8);
    EXPECT_EQ(got[1].status, 0xFA);
    EXPECT_TRUE(same(got[2], 0x90, 36, 100)) << "the clock did not break the note";
    EXPECT_EQ(got[3].status, 0xFC) << "0xF9 is undefined and ignored";
}

TEST(MidiParser, SkipsSysExOfAnyLengthWithoutBufferingIt) {
    Bytes bytes{0xF0};
    for (int i = 0; i < 100000; ++i) bytes.push_back(static_cast<std::uint8_t>(i & 0x7F));
    bytes.push_back(0xF7);
    bytes.insert(bytes.end(), {0x90, 36, 100});
    // A SysEx cut short by a status byte (no F7) ends there.
    bytes.insert(bytes.end(), {0xF0, 1, 2, 3, 0x80, 36, 0});
    MidiParser p;
    const auto got = parse(p, bytes);
    ASSERT_EQ(got.size(), 2U);
    EXPECT_TRUE(same(got[0], 0x90, 36, 100));
    EXPECT_TRUE(got[1].note_off());
    EXPECT_EQ(p.stray(), 0U);
    static_assert(sizeof(MidiParser) <= 32, "the parser holds no SysEx");
}

TEST(MidiParser, CountsStrayDataBytesAndDropsIncompleteMessages) {
    MidiParser p;
    EXPECT_TRUE(parse(p, {36, 100}).empty());  // no status yet
    EXPECT_EQ(p.stray(), 2U);
    // A truncated note-on is dropped by the next status byte.
    const auto got = parse(p, {0x90, 36, 0x80, 36, 0});
    ASSERT_EQ(got.size(), 1U);
    EXPECT_TRUE(got[0].note_off());
    // System common cancels running status: the data bytes after it are stray.
    const auto after = parse(p, {0x90, 36, 100, 0xF3, 5, 37, 100});
    ASSERT_EQ(after.size(), 2U);
    EXPECT_TRUE(same(after[1], 0xF3, 5));
    EXPECT_EQ(p.stray(), 4U);
    const auto spp = parse(p, {0xF2, 0x10, 0x02, 0xF6});
    ASSERT_EQ(spp.size(), 2U);
    EXPECT_TRUE(same(spp[0], 0xF2, 0x10, 0x02));
    EXPECT_EQ(spp[1].status, 0xF6);
}

TEST(MidiParser, AnyByteStreamGivesWellFormedMessages) {
    std::mt19937 rng(7);
    MidiParser p;
    MidiMessage m;
    for (int i = 0; i < 200000; ++i) {
        if (!p.feed(static_cast<std::uint8_t>(rng()), m)) continue;
        ASSERT_GE(m.status, 0x80);
        ASSERT_LT(m.data1, 0x80);
        ASSERT_LT(m.data2, 0x80);
    }
}

TEST(VelocityGain, Velocity127IsExactlyUnityOnEveryCurve) {
    for (auto c :
         {VelocityCurve::linear, VelocityCurve::soft, VelocityCurve::hard, VelocityCurve::fixed}) {
        EXPECT_EQ(velocity_gain(c, 127), 1.0F);
        float last = 0.0F;
        for (std::uint8_t v = 1; v <= 127; ++v) {
            const float g = velocity_gain(c, v);
            EXPECT_GT(g, 0.0F);
            EXPECT_GE(g, last) << "curves only rise";
            last = g;
        }
    }
    EXPECT_FLOAT_EQ(velocity_gain(VelocityCurve::linear, 64), 64.0F / 127.0F);
    EXPECT_FLOAT_EQ(velocity_gain(VelocityCurve::soft, 64), std::sqrt(64.0F / 127.0F));
    EXPECT_FLOAT_EQ(velocity_gain(VelocityCurve::hard, 64), (64.0F / 127.0F) * (64.0F / 127.0F));
    EXPECT_EQ(velocity_gain(VelocityCurve::fixed, 1), 1.0F);
}

// ---- through the engine ----------------------------------------------------------------------

EngineConfig config(std::uint32_t slots = 8) {
    EngineConfig c;
    c.slots = slots;
    c.voices = 32;
    return c;
}

// A block's MIDI events, each holding its own bytes.
struct MidiScript {
    std::vector<std::pair<std::uint32_t, Bytes>> held;
    void add(std::uint32_t time, Bytes b) { held.emplace_back(time, std::move(b)); }
    // Views of them, as the host hands them to the engine; valid while the script is.
    std::vector<MidiEvent> events() const {
        std::vector<MidiEvent> out;
        for (const auto& [time, bytes] : held)
            out.push_back({time, static_cast<std::uint32_t>(bytes.size()), bytes.data()});
        return out;
    }
};

std::uint32_t first_sound(const float* out, std::uint32_t n) {
    for (std::uint32_t i = 0; i < n; ++i)
        if (out[i] != 0.0F) return i;
    return n;
}

// The onset of each note is its event's frame: 0 frames of jitter, whatever the offset and the
// block size.
TEST(EngineMidi, ANoteStartsItsSlotOnTheEventsOwnFrame) {
    test::EngineHarness h(config());
    for (std::uint32_t s = 0; s < 8; ++s) h.assign(s, h.make_dc(1, 48000, 0.5F));
    h.render(64);
    std::mt19937 rng(3);
    for (const std::uint32_t block : {32U, 64U, 128U, 256U, 1024U}) {
        for (int k = 0; k < 40; ++k) {
            const auto at = static_cast<std::uint32_t>(rng() % block);
            const auto slot = static_cast<std::uint8_t>(rng() % 8);
            MidiScript m;
            m.add(at, {0x99, static_cast<std::uint8_t>(36 + slot), 127});
            h.render_midi(block, m.events());
            ASSERT_EQ(first_sound(h.out(0), block), at) << "block " << block << ", slot " << +slot;
            EXPECT_EQ(h.engine().slot_sounding_voices(slot), 1U);
            h.stop_all();
            ASSERT_TRUE(h.render_until_silent(block, 48000));
        }
    }
    EXPECT_EQ(h.engine().midi_messages(), 200U);
    EXPECT_EQ(h.engine().midi_dropped(), 0U);
}

// Several notes in one block each start on their own frame.
TEST(EngineMidi, SeveralNotesInOneBlockEachStartOnTheirFrame) {
    test::EngineHarness h(config());
    h.assign(0, h.make_dc(1, 48000, 0.25F));
    h.assign(1, h.make_dc(1, 48000, 0.5F));
    h.render(64);
    MidiScript m;
    m.add(10, {0x90, 36, 127});
    m.add(70, {0x91, 37, 127});
    h.render_midi(128, m.events());
    const float pan = h.out(0)[10] / 0.25F;  // the centre pan's gain
    for (std::uint32_t i = 0; i < 128; ++i) {
        const float expected = i < 10 ? 0.0F : (i < 70 ? 0.25F : 0.75F) * pan;
        ASSERT_FLOAT_EQ(h.out(0)[i], expected) << "frame " << i;
    }
}

// Bound messages go to the control side (Engine::try_receive_midi) instead of the default map:
// a bound note plays nothing; other channels of it, and unbound messages, are untouched.
TEST(EngineMidi, BoundMessagesArePassedOnNotPlayed) {
    test::EngineHarness h(config());
    h.assign(0, h.make_dc(1, 48000, 0.5F));
    h.assign(4, h.make_dc(1, 48000, 0.5F));
    h.send(CommandKind::set_midi_watch, midi_control_key(MidiControlKind::note, 36), 1 << 9);
    h.send(CommandKind::set_midi_watch, midi_control_key(MidiControlKind::cc, 7), 0xFFFF);
    h.render(64);
    MidiScript m;
    m.add(3, {0x99, 36, 100});  // note 36 on channel 10: bound
    m.add(5, {0xB3, 7, 99});    // CC 7 on any channel: bound
    m.add(6, {0xB3, 8, 99});    // CC 8: not bound
    m.add(7, {0xE0, 1, 64});    // pitch bend: not bound
    h.render_midi(64, m.events());
    EXPECT_EQ(h.engine().slot_sounding_voices(0), 0U) << "a bound note plays nothing";
    MidiMessage got;
    ASSERT_TRUE(h.engine().try_receive_midi(got));
    EXPECT_TRUE(got.status == 0x99 && got.data1 == 36 && got.data2 == 100);
    ASSERT_TRUE(h.engine().try_receive_midi(got));
    EXPECT_TRUE(got.status == 0xB3 && got.data1 == 7 && got.data2 == 99);
    EXPECT_FALSE(h.engine().try_receive_midi(got));
    // The same note on channel 1 is not bound: it plays slot 0, on its frame.
    MidiScript other;
    other.add(9, {0x90, 40, 127});
    other.add(9, {0x90, 36, 127});
    h.render_midi(64, other.events());
    EXPECT_EQ(first_sound(h.out(0), 64), 9U);
    EXPECT_EQ(h.engine().slot_sounding_voices(0), 1U);
    EXPECT_EQ(h.engine().slot_sounding_voices(4), 1U);
    EXPECT_FALSE(h.engine().try_receive_midi(got));
    EXPECT_EQ(h.engine().midi_dropped(), 0U);
    // Unwatched again: the note plays again.
    h.stop_all();
    ASSERT_TRUE(h.render_until_silent(64, 48000));
    h.send(CommandKind::set_midi_watch, midi_control_key(MidiControlKind::note, 36), 0);
    h.render(64);
    MidiScript again;
    again.add(0, {0x99, 36, 127});
    h.render_midi(64, again.events());
    EXPECT_EQ(h.engine().slot_sounding_voices(0), 1U);
}

// Learning: every bindable press is passed on (not a release: a key held when learning began is
// not what is learned) and notes play nothing; realtime messages are not bindable.
TEST(EngineMidi, LearningPassesOnEveryPressAndPlaysNothing) {
    test::EngineHarness h(config());
    h.assign(0, h.make_dc(1, 48000, 0.5F));
    h.send(CommandKind::set_midi_learn, 0, 1.0F);
    h.render(64);
    MidiScript m;
    m.add(0, {0x80, 50, 0});
    m.add(1, {0xF8});
    m.add(2, {0xA0, 36, 5});  // poly aftertouch: not bindable
    m.add(3, {0x90, 36, 100});
    m.add(4, {0xC1, 7});
    h.render_midi(64, m.events());
    EXPECT_EQ(h.engine().slot_sounding_voices(0), 0U);
    MidiMessage got;
    ASSERT_TRUE(h.engine().try_receive_midi(got));
    EXPECT_EQ(got.status, 0x90);
    ASSERT_TRUE(h.engine().try_receive_midi(got));
    EXPECT_EQ(got.status, 0xC1);
    EXPECT_FALSE(h.engine().try_receive_midi(got));
    h.send(CommandKind::set_midi_learn, 0, 0.0F);
    h.render(64);
    h.render_midi(64, m.events());
    EXPECT_EQ(h.engine().slot_sounding_voices(0), 1U);
    EXPECT_FALSE(h.engine().try_receive_midi(got));
}

// The control side is behind (nobody takes them): the ring's capacity is kept, the rest dropped
// and counted in midi_dropped; nothing blocks, nothing allocates (the guard watches).
TEST(EngineMidi, PassedOnMessagesBeyondTheRingAreDroppedAndCounted) {
    test::EngineHarness h(config());
    h.send(CommandKind::set_midi_watch, midi_control_key(MidiControlKind::cc, 1), 0xFFFF);
    h.render(64);
    Bytes ccs;
    for (int i = 0; i < 200; ++i)
        ccs.insert(ccs.end(), {0xB0, 1, static_cast<std::uint8_t>(i & 0x7F)});
    std::uint64_t sent = 0;
    for (int block = 0; block < 10; ++block) {
        MidiScript m;
        m.add(0, ccs);
        h.render_midi(64, m.events());
        sent += 200;
    }
    std::uint64_t taken = 0;
    MidiMessage got;
    while (h.engine().try_receive_midi(got)) ++taken;
    EXPECT_GE(taken, limits::kMidiControlCapacity);
    EXPECT_EQ(taken + h.engine().midi_dropped(), sent);
    EXPECT_EQ(h.engine().midi_messages(), sent);
}

// Velocity 127 is exactly an OSC press; lower velocities scale the gain by the curve.
TEST(EngineMidi, VelocityScalesTheSlotsGainThroughTheCurve) {
    auto level = [](VelocityCurve curve, std::uint8_t velocity, bool osc) {
        test::EngineHarness h(config());
        h.assign(0, h.make_dc(1, 48000, 0.5F));
        h.set_gain(0, 0.8F);
        h.send(CommandKind::set_velocity_curve, 0, static_cast<float>(curve));
        h.render(64);
        if (osc) {
            h.play(0);
            h.render(64);
        } else {
            MidiScript m;
            m.add(0, {0x90, 36, velocity});
            h.render_midi(64, m.events());
        }
        return h.out(0)[32];
    };
    const float osc = level(VelocityCurve::linear, 127, true);
    EXPECT_GT(osc, 0.0F);
    for (auto c :
         {VelocityCurve::linear, VelocityCurve::soft, VelocityCurve::hard, VelocityCurve::fixed}) {
        EXPECT_EQ(level(c, 127, false), osc) << "velocity 127: the slot's gain, bit for bit";
        EXPECT_FLOAT_EQ(level(c, 40, false), osc * velocity_gain(c, 40));
    }
    EXPECT_LT(level(VelocityCurve::hard, 40, false), level(VelocityCurve::linear, 40, false));
    EXPECT_GT(level(VelocityCurve::soft, 40, false), level(VelocityCurve::linear, 40, false));
}

// Regression (fuzz_engine_midi): set_velocity_curve cast its float to a byte, which is undefined
// for NaN, for -1 and below and for 256 and above (UBSan: "outside the range of representable
// values"), and kept numbers that name no curve. A number that is not a curve's now means
// linear, as an unknown curve name does.
TEST(EngineMidi, AVelocityCurveNumberThatIsNoCurveIsLinear) {
    auto level = [](float curve) {
        test::EngineHarness h(config());
        h.assign(0, h.make_dc(1, 48000, 0.5F));
        h.send(CommandKind::set_velocity_curve, 0, curve);
        h.render(64);
        MidiScript m;
        m.add(0, {0x90, 36, 40});
        h.render_midi(64, m.events());
        return h.out(0)[32];
    };
    const float linear = level(0.0F);
    EXPECT_GT(linear, 0.0F);
    constexpr float kInf = std::numeric_limits<float>::infinity();
    for (const float v : {std::numeric_limits<float>::quiet_NaN(), kInf, -kInf, -1.0F, 0.5F, 1.5F,
                          4.0F, 255.0F, 256.0F, 1e30F, -1e30F})
        EXPECT_EQ(level(v), linear) << "curve number " << v;
    EXPECT_GT(level(1.0F), linear) << "the curves themselves still apply";
}

// A gain change on a voice played softly keeps its velocity.
TEST(EngineMidi, AGainChangeKeepsTheVelocity) {
    test::EngineHarness h(config());
    h.assign(0, h.make_dc(1, 48000, 0.5F));
    h.render(64);
    MidiScript m;
    m.add(0, {0x90, 36, 64});
    h.render_midi(64, m.events());
    const float before = h.out(0)[32];
    h.set_gain(0, 0.5F);
    for (int i = 0; i < 20; ++i) h.render(64);  // past the smoothing
    EXPECT_FLOAT_EQ(h.out(0)[32], before * 0.5F);
}

// In gate mode a note-off (or a note-on with velocity 0) releases on its frame; in loop mode
// it does nothing.
TEST(EngineMidi, NoteOffReleasesAGateSlotOnItsFrame) {
    for (const bool zero_velocity : {false, true}) {
        test::EngineHarness h(config());
        h.assign(0, h.make_dc(1, 48000, 0.5F));
        h.send(CommandKind::set_mode, 0, static_cast<float>(SlotMode::gate));
        h.assign(1, h.make_dc(1, 48000, 0.5F));
        h.send(CommandKind::set_mode, 1, static_cast<float>(SlotMode::loop));
        h.render(64);
        MidiScript on;
        on.add(0, {0x90, 36, 127});
        on.add(0, {0x90, 37, 127});
        h.render_midi(128, on.events());
        MidiScript off;
        off.add(50, zero_velocity ? Bytes{0x90, 36, 0} : Bytes{0x80, 36, 64});
        off.add(50, zero_velocity ? Bytes{0x90, 37, 0} : Bytes{0x80, 37, 64});
        h.render_midi(128, off.events());
        // Both slots sound to frame 50; from there slot 0 fades out, slot 1 plays on.
        EXPECT_FLOAT_EQ(h.out(0)[49], h.out(0)[10]);
        EXPECT_LT(h.out(0)[51], h.out(0)[49]);
        ASSERT_TRUE(h.render_until_silent(128, 48000) == false);  // slot 1 still loops
        EXPECT_EQ(h.engine().slot_sounding_voices(0), 0U);
        EXPECT_EQ(h.engine().slot_sounding_voices(1), 1U);
    }
}

// Quantize and choke groups work as they do from OSC.
TEST(EngineMidi, NotesAreQuantizedAndChokedLikeOscPresses) {
    test::EngineHarness h(config());
    h.assign(0, h.make_dc(1, 48000, 0.5F));
    h.assign(1, h.make_dc(1, 48000, 0.5F));
    h.send(CommandKind::set_choke, 0, 1.0F);
    h.send(CommandKind::set_choke, 1, 1.0F);
    h.send(CommandKind::clock_tempo, 0, 120.0F);  // a beat every 24,000 frames
    h.send(CommandKind::clock_reset);
    h.send(CommandKind::set_quantize, 1, 1.0F);
    h.render(128);
    MidiScript a;
    a.add(5, {0x90, 36, 127});
    h.render_midi(128, a.events());
    EXPECT_EQ(first_sound(h.out(0), 128), 5U);
    MidiScript b;
    b.add(0, {0x90, 37, 127});
    h.render_midi(128, b.events());
    EXPECT_EQ(h.engine().slot_sounding_voices(1), 0U) << "waits for the beat";
    EXPECT_TRUE(h.engine().slot_pending(1).start);
    // Render to the beat at frame 24,000 (blocks of 128 from frame 256).
    for (std::uint32_t f = 256; f < 24000 - 128; f += 128) h.render(128);
    h.render(128);  // holds frame 24,000
    EXPECT_EQ(h.engine().slot_sounding_voices(1), 1U);
    EXPECT_EQ(h.engine().slot_sounding_voices(0), 0U) << "choked by slot 1";
}

TEST(EngineMidi, NotesOutsideTheMapAndOtherMessagesChangeNothing) {
    test::EngineHarness h(config(4));
    for (std::uint32_t s = 0; s < 4; ++s) h.assign(s, h.make_dc(1, 48000, 0.5F));
    h.render(64);
    MidiScript m;
    m.add(0, {0x90, 35, 127});        // below the map
    m.add(1, {0x90, 36 + 4, 127});    // slot 4 does not exist
    m.add(2, {0xB0, 7, 100});         // a controller
    m.add(3, {0xF8});                 // clock
    m.add(4, {0xF0, 1, 2, 3, 0xF7});  // SysEx (which ends running status)
    m.add(5, {0x10, 0x20});           // stray: no status to belong to
    h.render_midi(64, m.events());
    EXPECT_EQ(first_sound(h.out(0), 64), 64U);
    EXPECT_EQ(h.engine().active_voices(), 0U);
    EXPECT_EQ(h.engine().midi_messages(), 4U);
    EXPECT_EQ(h.engine().midi_stray_bytes(), 2U);
    EXPECT_EQ(h.count(EventKind::bad_command), 0U);
}

// A flood beyond the per-block budget is counted, not read; the next block reads again.
TEST(EngineMidi, EventsBeyondTheBlocksBudgetAreDroppedAndCounted) {
    test::EngineHarness h(config());
    h.assign(0, h.make_dc(1, 48000, 0.5F));
    h.render(64);
    MidiScript flood;
    for (std::uint32_t i = 0; i < limits::kMaxMidiEventsPerBlock + 44; ++i)
        flood.add(i / 4, {0xB0, 1, static_cast<std::uint8_t>(i & 0x7F)});
    h.render_midi(128, flood.events());
    EXPECT_EQ(h.engine().midi_messages(), limits::kMaxMidiEventsPerBlock);
    EXPECT_EQ(h.engine().midi_dropped(), 44U);
    // One event larger than the block's byte budget is dropped whole; the next one is read.
    MidiScript big;
    Bytes sysex(limits::kMaxMidiBytesPerBlock + 1, 0x01);
    sysex.front() = 0xF0;
    sysex.back() = 0xF7;
    big.add(0, sysex);
    big.add(1, {0x90, 36, 127});
    h.render_midi(128, big.events());
    EXPECT_EQ(h.engine().midi_dropped(), 45U);
    EXPECT_EQ(first_sound(h.out(0), 128), 1U);
}

// Messages that change nothing cost no split of the render; notes split it at most 16 times
// a block, and past the 16th distinct frame (a flood) the later notes act on the 16th's frame.
TEST(EngineMidi, OnlyNotesSplitTheBlockAndAFloodSharesTheLastSplit) {
    test::EngineHarness h(config(32));
    for (std::uint32_t s = 0; s < 32; ++s) h.assign(s, h.make_dc(1, 48000, 0.01F));
    h.render(256);
    MidiScript m;
    for (std::uint32_t i = 0; i < 20; ++i) {
        m.add(10 * i, {0x90, static_cast<std::uint8_t>(36 + i), 127});
        m.add(10 * i + 5, {0xB0, 1, 2});  // no split
    }
    h.render_midi(256, m.events());
    // Notes 0..15 start on frames 0, 10, … 150; notes 16..19 all on frame 150.
    const float step = h.out(0)[0];
    ASSERT_GT(step, 0.0F);
    for (std::uint32_t i = 0; i < 15; ++i)
        EXPECT_FLOAT_EQ(h.out(0)[10 * i + 9], step * static_cast<float>(i + 1)) << "note " << i;
    EXPECT_FLOAT_EQ(h.out(0)[150], step * 20.0F) << "the flood's last four act with the 16th";
    EXPECT_FLOAT_EQ(h.out(0)[255], step * 20.0F);
    EXPECT_EQ(h.engine().slot_sounding_voices(19), 1U);
    EXPECT_EQ(h.engine().midi_messages(), 40U);
    EXPECT_EQ(h.engine().midi_dropped(), 0U);
}

// Events with frames past the block's end (a host's error) act on its last frame.
TEST(EngineMidi, AnEventPastTheBlocksEndActsOnItsLastFrame) {
    test::EngineHarness h(config());
    h.assign(0, h.make_dc(1, 48000, 0.5F));
    h.render(64);
    MidiScript m;
    m.add(500, {0x90, 36, 127});
    h.render_midi(64, m.events());
    EXPECT_EQ(first_sound(h.out(0), 64), 63U);
}

}  // namespace

// ---- MIDI clock out --------------------------------------------------------------------------

namespace looperd {
namespace {

// Renders `frames` in blocks of `block` and returns the frames of every clock tick sent, and
// of every other message with its status.
struct ClockRun {
    std::vector<std::uint64_t> ticks;
    std::vector<std::pair<std::uint64_t, std::uint8_t>> others;
};

ClockRun run_clock(test::EngineHarness& h, std::uint64_t frames, std::uint32_t block) {
    ClockRun run;
    for (std::uint64_t done = 0; done < frames; done += block) {
        h.render(block);
        std::uint32_t last_time = 0;
        for (const auto& [frame, e] : h.midi_output()) {
            EXPECT_GE(e.time, last_time) << "in time order";
            EXPECT_LT(e.time, block);
            last_time = e.time;
            if (e.data[0] == 0xF8) {
                run.ticks.push_back(frame);
            } else {
                run.others.emplace_back(frame, e.data[0]);
            }
        }
    }
    return run;
}

// At 120 BPM and 48 kHz a tick is 1,000 frames: ten minutes of them, every one exactly 1,000
// frames after the last, the first on the reset's frame right after Start.
TEST(EngineMidiClock, TenMinutesOfTicksExactly1000FramesApartAt120Bpm) {
    test::EngineHarness h(config());
    h.send(CommandKind::set_midi_clock_out, 0, 1.0F);
    h.send(CommandKind::clock_tempo, 0, 120.0F);
    h.send_at(1000 + 37, CommandKind::clock_reset);
    h.render(128);
    auto run = run_clock(h, 10ULL * 60 * 48000, 128);
    ASSERT_EQ(run.others.size(), 1U);
    EXPECT_EQ(run.others[0], (std::pair<std::uint64_t, std::uint8_t>{1037, 0xFA}));
    // Before the reset the clock ran on its first grid (a tick at 0 and at 1,000).
    ASSERT_EQ(run.ticks.front(), 1000U);
    run.ticks.erase(run.ticks.begin());
    ASSERT_EQ(run.ticks.size(), 10U * 60 * 2 * 24) << "24 ticks a beat, 2 beats a second";
    EXPECT_EQ(run.ticks.front(), 1037U) << "the first tick on the reset's frame";
    for (std::size_t k = 1; k < run.ticks.size(); ++k)
        ASSERT_EQ(run.ticks[k] - run.ticks[k - 1], 1000U) << "tick " << k;
    EXPECT_EQ(h.engine().midi_out_dropped(), 0U);
}

// At other tempos a tick is a fraction of frames: each lies on the frame nearest its exact
// place, counted from the reset, so the fractions never add up to drift.
TEST(EngineMidiClock, FractionalTicksLieOnTheNearestFrameWithoutDrift) {
    for (const double bpm : {20.0, 60.0, 97.3, 133.0, 140.0, 174.5, 999.0}) {
        for (const std::uint32_t block : {64U, 128U, 1000U}) {
            SCOPED_TRACE(testing::Message() << bpm << " BPM, blocks of " << block);
            test::EngineHarness h(config());
            h.send(CommandKind::set_midi_clock_out, 0, 1.0F);
            h.send(CommandKind::clock_tempo, 0, static_cast<float>(bpm));
            h.send(CommandKind::clock_reset);  // at frame 0
            const auto run = run_clock(h, 90 * 48000, block);
            // The tempo as the engine holds it (a float through the command).
            const double per_tick =
                48000.0 * 60.0 / static_cast<double>(static_cast<float>(bpm)) / 24.0;
            ASSERT_FALSE(run.ticks.empty());
            const auto expected_count =
                static_cast<std::size_t>(std::floor((90.0 * 48000 - 0.5) / per_tick)) + 1;
            EXPECT_NEAR(static_cast<double>(run.ticks.size()), static_cast<double>(expected_count),
                        1.0);
            for (std::size_t k = 0; k < run.ticks.size(); ++k) {
                const double exact = static_cast<double>(k) * per_tick;
                ASSERT_LE(std::fabs(static_cast<double>(run.ticks[k]) - exact), 0.5 + 1e-6)
                    << "tick " << k;
            }
        }
    }
}

// A tempo change moves the ticks from its frame on, with no tick twice and none missing.
TEST(EngineMidiClock, ATempoChangeNeitherRepeatsNorSkipsATick) {
    test::EngineHarness h(config());
    h.send(CommandKind::set_midi_clock_out, 0, 1.0F);
    h.send(CommandKind::clock_tempo, 0, 120.0F);
    h.send(CommandKind::clock_reset);
    h.send_at(48000 + 500, CommandKind::clock_tempo, 0, 150.0F);  // mid-tick, mid-block
    const auto run = run_clock(h, 2 * 48000, 128);
    // 120 BPM up to frame 48,500 (ticks every 1,000: 0 … 48,000), then every 800 from the
    // beat position there: the tick after 48,000 was due at 49,000 at the old tempo, half a
    // tick later; at the new one half a tick is 400 frames: 48,900.
    std::size_t k = 0;
    while (k < run.ticks.size() && run.ticks[k] <= 48000) ++k;
    ASSERT_EQ(k, 49U);
    ASSERT_LT(k, run.ticks.size());
    EXPECT_EQ(run.ticks[k], 48900U);
    for (++k; k < run.ticks.size(); ++k) ASSERT_EQ(run.ticks[k] - run.ticks[k - 1], 800U);
}

// Off by default; turned off, nothing more is sent.
TEST(EngineMidiClock, SendsNothingUnlessAskedTo) {
    test::EngineHarness h(config());
    h.send(CommandKind::clock_reset);
    EXPECT_TRUE(run_clock(h, 48000, 128).ticks.empty());
    h.send(CommandKind::set_midi_clock_out, 0, 1.0F);
    EXPECT_EQ(run_clock(h, 48000, 128).ticks.size(), 48U);
    h.send(CommandKind::set_midi_clock_out, 0, 0.0F);
    const auto off = run_clock(h, 48000, 128);
    EXPECT_TRUE(off.ticks.empty());
    EXPECT_TRUE(off.others.empty());
}

}  // namespace
}  // namespace looperd
