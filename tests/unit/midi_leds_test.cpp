// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// MIDI lights: each slot's state change sends its light's message in the same block, under the
// audio-thread guard; the pad map; the init SysEx; midi_send.
#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "engine_harness.hpp"
#include "looperd/midi_commands.hpp"
#include "record_rig.hpp"

namespace {

using namespace looperd;
using Bytes = std::vector<std::uint8_t>;

static_assert(sizeof(Command) <= 32);
static_assert(std::is_trivially_copyable_v<MidiOutEvent>);

// A light message as it went out: its frame in the engine's time and its bytes.
struct Sent {
    std::uint64_t frame = 0;
    Bytes bytes;
    bool operator==(const Sent&) const = default;
};

std::vector<Sent> sent(const test::EngineHarness& h) {
    std::vector<Sent> out;
    for (const auto& [frame, e] : h.midi_output())
        out.push_back({frame, Bytes(e.bytes(), e.bytes() + e.size)});
    return out;
}

EngineConfig config(std::uint32_t slots = 4) {
    EngineConfig c;
    c.slots = slots;
    c.voices = 16;
    return c;
}

// Distinct velocities per state, so that each state is told apart.
constexpr std::uint8_t kVelocity[kLedStates] = {0, 10, 20, 30, 40, 50};

void send_all(test::EngineHarness& h, const Command& c) {
    ASSERT_TRUE(h.engine().try_send(c));
}

// A pad grid: slot n lights note 36 + n on channel 1 (status 0x90).
void pad_lights(test::EngineHarness& h, std::uint32_t slots) {
    for (std::uint32_t s = 0; s < slots; ++s)
        send_all(h, led_slot_command(s, 0x90, static_cast<std::uint8_t>(36 + s)));
    for (std::uint32_t st = 0; st < kLedStates; ++st)
        send_all(h, led_state_command(static_cast<LedState>(st), kVelocity[st]));
}

Sent note(std::uint64_t frame, std::uint32_t slot, LedState state) {
    return {
        frame,
        {0x90, static_cast<std::uint8_t>(36 + slot), kVelocity[static_cast<std::uint32_t>(state)]}};
}

TEST(EngineLeds, NoLightsUntilTheyAreMapped) {
    test::EngineHarness h(config());
    h.assign(0, h.make_dc(1, 48000, 0.5F));
    h.play(0);
    h.render(64);
    EXPECT_TRUE(sent(h).empty());
}

// Mapping the lights tells each its state at once, on the block's last frame.
TEST(EngineLeds, MappedLightsShowTheirStateInTheSameBlock) {
    test::EngineHarness h(config(2));
    h.assign(1, h.make_dc(1, 48000, 0.5F));
    pad_lights(h, 2);
    h.render(64);
    EXPECT_EQ(sent(h),
              (std::vector<Sent>{note(63, 0, LedState::empty), note(63, 1, LedState::loaded)}));
    h.render(64);
    EXPECT_TRUE(sent(h).empty()) << "nothing changed: nothing sent";
}

// Load, play, stop, unload: each change goes out in the block where it happens, exactly the
// map's message, once.
TEST(EngineLeds, EachStateChangeSendsItsMessageInTheBlockItHappens) {
    test::EngineHarness h(config(2));
    pad_lights(h, 2);
    h.render(64);
    h.assign(1, h.make_dc(1, 48000, 0.5F));
    h.render(64);  // frames 64..127
    EXPECT_EQ(sent(h), std::vector<Sent>{note(127, 1, LedState::loaded)});
    h.send_at(128 + 40, CommandKind::play, 1, 1.0F);
    h.render(64);  // frames 128..191: the voice starts on frame 168
    EXPECT_NE(h.out(0)[40], 0.0F);
    EXPECT_EQ(sent(h), std::vector<Sent>{note(191, 1, LedState::playing)});
    for (int k = 0; k < 10; ++k) {
        h.render(64);
        EXPECT_TRUE(sent(h).empty());
    }
    h.stop(1);
    h.render(64);
    EXPECT_EQ(sent(h),
              std::vector<Sent>{note(h.engine().frames_processed() - 1, 1, LedState::loaded)})
        << "a fading voice no longer plays";
    h.unload(1);
    h.render(64);
    EXPECT_EQ(sent(h),
              std::vector<Sent>{note(h.engine().frames_processed() - 1, 1, LedState::empty)});
}

// A quantized press shows queued until its grid frame, then playing in the grid's block.
TEST(EngineLeds, AQuantizedPressIsQueuedUntilItsGrid) {
    test::EngineHarness h(config(1));
    pad_lights(h, 1);
    h.assign(0, h.make_dc(1, 48000, 0.5F));
    h.send(CommandKind::clock_tempo, 0, 120.0F);  // a beat: 24,000 frames
    h.send(CommandKind::set_quantize, 0, 1.0F);
    h.render(128);
    h.play(0);
    h.render(128);
    EXPECT_EQ(sent(h), std::vector<Sent>{note(255, 0, LedState::queued)});
    while (h.engine().frames_processed() + 128 <= 24000) {
        h.render(128);
        ASSERT_TRUE(sent(h).empty());
    }
    h.render(128);  // holds frame 24,000
    EXPECT_EQ(sent(h),
              std::vector<Sent>{note(h.engine().frames_processed() - 1, 0, LedState::playing)});
}

// Recording outranks everything; an overdub shows overdubbing; the loop then plays.
TEST(EngineLeds, RecordingAndOverdubbingHaveTheirOwnLights) {
    test::RecordRig rig(test::record_config());
    pad_lights(rig.h, 8);
    rig.run(128);
    rig.send(CommandKind::record, 0);
    rig.run(128);
    EXPECT_EQ(sent(rig.h), std::vector<Sent>{note(255, 0, LedState::recording)});
    rig.run(4800);
    rig.send(CommandKind::record, 0);  // the take ends and loops
    rig.run(128);
    EXPECT_EQ(sent(rig.h), std::vector<Sent>{note(rig.t - 1, 0, LedState::playing)});
    rig.send(CommandKind::overdub, 0);
    rig.run(128);
    EXPECT_EQ(sent(rig.h), std::vector<Sent>{note(rig.t - 1, 0, LedState::overdubbing)});
    rig.send(CommandKind::overdub, 0);
    rig.run(128);
    EXPECT_EQ(sent(rig.h), std::vector<Sent>{note(rig.t - 1, 0, LedState::playing)});
}

// A state's own channel replaces the slot's (APC mini mk2: channel is brightness and blink;
// Launchpad: static, flash, pulse); CC lights (nanoKONTROL2) send a controller change.
TEST(EngineLeds, AStatesChannelAndCcLightsGoOutAsMapped) {
    test::EngineHarness h(config(2));
    send_all(h, led_slot_command(0, 0x90, 0));
    send_all(h, led_slot_command(1, 0xB3, 41));
    send_all(h, led_state_command(LedState::empty, 0));
    send_all(h, led_state_command(LedState::loaded, 5, 6));
    h.assign(0, h.make_dc(1, 48000, 0.5F));
    h.assign(1, h.make_dc(1, 48000, 0.5F));
    h.render(32);
    EXPECT_EQ(sent(h), (std::vector<Sent>{{31, {0x96, 0, 5}}, {31, {0xB6, 41, 5}}}));
    send_all(h, led_state_command(LedState::loaded, 127));
    h.render(32);
    EXPECT_EQ(sent(h), (std::vector<Sent>{{63, {0x90, 0, 127}}, {63, {0xB3, 41, 127}}}))
        << "a changed state message is sent again to the lights showing it";
}

// A refresh sends the init SysEx first, byte for byte, then every light's state.
TEST(EngineLeds, ARefreshSendsTheInitSysexThenEveryLight) {
    test::EngineHarness h(config(2));
    pad_lights(h, 2);
    const Bytes init{0xF0, 0x00, 0x20, 0x29, 0x02, 0x0D, 0x0E, 0x01, 0xF7};
    EXPECT_EQ(led_init_commands(init, [&](const Command& c) { send_all(h, c); }), 3U);
    h.render(64);
    EXPECT_EQ(sent(h).size(), 2U) << "mapping alone sends no init";
    send_all(h, led_refresh_command());
    h.render(64);
    EXPECT_EQ(sent(h),
              (std::vector<Sent>{
                  {127, init}, note(127, 0, LedState::empty), note(127, 1, LedState::empty)}));
    h.render(64);
    EXPECT_TRUE(sent(h).empty());
    // A shorter message replaces the whole one; an empty one sends no init.
    led_init_commands(Bytes{0xF0, 0x7E, 0xF7}, [&](const Command& c) { send_all(h, c); });
    send_all(h, led_refresh_command());
    h.render(64);
    ASSERT_EQ(sent(h).size(), 3U);
    EXPECT_EQ(sent(h)[0].bytes, (Bytes{0xF0, 0x7E, 0xF7}));
    led_init_commands(Bytes{}, [&](const Command& c) { send_all(h, c); });
    send_all(h, led_refresh_command());
    h.render(64);
    EXPECT_EQ(sent(h).size(), 2U);
}

// A refresh applied with no audio thread running (the server away) goes out with the next
// block.
TEST(EngineLeds, ARefreshWhileStoppedGoesOutWithTheNextBlock) {
    test::EngineHarness h(config(1));
    pad_lights(h, 1);
    h.render(64);
    send_all(h, led_refresh_command());
    EXPECT_EQ(h.engine().apply_commands_while_stopped(), 1U);
    h.render(64);
    EXPECT_EQ(sent(h), std::vector<Sent>{note(127, 0, LedState::empty)});
}

// More lights than one block's MIDI output holds: the rest go out in the next blocks, none lost.
TEST(EngineLeds, ARefreshOfManyLightsSpreadsOverBlocksLosingNone) {
    const std::uint32_t slots = limits::kMaxMidiOutEventsPerBlock + 44;
    test::EngineHarness h(config(slots));
    for (std::uint32_t s = 0; s < slots; ++s)
        send_all(h, led_slot_command(s, 0xB0, static_cast<std::uint8_t>(s % 128)));
    h.render(64);
    EXPECT_EQ(sent(h).size(), limits::kMaxMidiOutEventsPerBlock);
    h.render(64);
    EXPECT_EQ(sent(h).size(), 44U);
    EXPECT_EQ(h.engine().midi_out_dropped(), 0U);
}

// Bad arguments change nothing (the fuzzers send any value).
TEST(EngineLeds, BadArgumentsAreIgnored) {
    test::EngineHarness h(config(2));
    const float nan = std::numeric_limits<float>::quiet_NaN();
    send_all(h, Command{CommandKind::set_led_slot, 0, nan});
    send_all(h, Command{CommandKind::set_led_slot, 0, 0x80 | 36 << 8});  // note-off: no light
    send_all(h, Command{CommandKind::set_led_slot, 0, 0.5F});
    send_all(h, Command{CommandKind::set_led_state, 6});
    send_all(h, Command{CommandKind::set_pad_note, 128, 0.0F});
    send_all(h, Command{CommandKind::set_pad_note, 40, 2.0F});  // no slot 2
    send_all(h, Command{CommandKind::set_pad_note, 40, nan});
    send_all(h, Command{CommandKind::set_led_init, 4U << 24U, 0.0F});
    send_all(h, Command{CommandKind::set_led_init, 3U << 24U, 254.0F});
    send_all(h, Command{CommandKind::midi_send, 0x40});  // a data byte
    send_all(h, Command{CommandKind::midi_send, 0xF0});  // SysEx start: not short
    send_all(h, led_refresh_command());
    h.render(64);
    EXPECT_TRUE(sent(h).empty());
    const Bytes on{0x90, 36, 127};
    h.assign(0, h.make_dc(1, 48000, 0.5F));
    h.render_midi(64, {MidiEvent{3, 3, on.data()}});
    EXPECT_EQ(h.engine().slot_sounding_voices(0), 1U) << "the default pad map still holds";
}

// A profile's pad map: any note may play any slot, and a default note may play none.
TEST(EngineLeds, ThePadMapSaysWhichNotePlaysWhichSlot) {
    test::EngineHarness h(config(4));
    for (std::uint32_t s = 0; s < 4; ++s) h.assign(s, h.make_dc(1, 48000, 0.5F));
    send_all(h, pad_note_command(0, 3));    // APC mini mk2's bottom-left pad
    send_all(h, pad_note_command(36, -1));  // no longer slot 0
    h.render(64);
    const Bytes low{0x90, 0, 100};
    const Bytes c1{0x90, 36, 100};
    const Bytes d1{0x90, 37, 100};
    h.render_midi(
        64, {MidiEvent{5, 3, low.data()}, MidiEvent{6, 3, c1.data()}, MidiEvent{7, 3, d1.data()}});
    EXPECT_EQ(h.engine().slot_sounding_voices(3), 1U);
    EXPECT_EQ(h.engine().slot_sounding_voices(0), 0U);
    EXPECT_EQ(h.engine().slot_sounding_voices(1), 1U) << "the rest of the default map stays";
}

// midi_send puts one message on the output at its command's frame, sized by its status.
TEST(EngineLeds, MidiSendPutsOneShortMessageOnItsFrame) {
    test::EngineHarness h(config(1));
    h.render(100);
    send_all(h, midi_send_command(0xB2, 7, 99, 100 + 17));
    send_all(h, midi_send_command(0xC1, 5, 99, 100 + 20));       // program change: 2 bytes
    send_all(h, midi_send_command(0xFA, 1, 2, 100 + 30));        // Start: 1 byte
    send_all(h, midi_send_command(0x90, 0xFF, 0xFF, 100 + 40));  // data bytes kept to 7 bits
    h.render(64);
    EXPECT_EQ(
        sent(h),
        (std::vector<Sent>{
            {117, {0xB2, 7, 99}}, {120, {0xC1, 5}}, {130, {0xFA}}, {140, {0x90, 0x7F, 0x7F}}}));
}

// Any bits in any of the new commands, between blocks with notes and playing slots: the output
// stays well formed (in time order, inside the block, a status byte first, data bytes below
// 0x80, a SysEx framed by F0 and F7), and nothing breaks the audio-thread guard.
TEST(EngineLeds, RandomLightCommandsAlwaysGiveWellFormedOutput) {
    test::EngineHarness h(config(4));
    for (std::uint32_t s = 0; s < 4; ++s) h.assign(s, h.make_dc(1, 4800, 0.25F));
    h.send(CommandKind::set_mode, 1, 1.0F);  // a loop: stays playing
    std::mt19937 rng(11);
    const CommandKind kinds[] = {CommandKind::midi_send,     CommandKind::set_led_slot,
                                 CommandKind::set_led_state, CommandKind::set_pad_note,
                                 CommandKind::set_led_init,  CommandKind::led_refresh};
    const Bytes init{0xF0, 0x01, 0x02, 0x03, 0xF7};
    led_init_commands(init, [&](const Command& c) { send_all(h, c); });
    std::size_t inits = 0;
    std::size_t shorts = 0;
    for (int block = 0; block < 2000; ++block) {
        for (int k = 0; k < 4; ++k) {
            Command c{kinds[rng() % 6], static_cast<std::uint32_t>(rng())};
            // Whole numbers in range half the time, any bits (NaN, infinities) the rest.
            c.value = rng() % 2 == 0 ? static_cast<float>(static_cast<int>(rng() % 70000) - 2)
                                     : std::bit_cast<float>(static_cast<std::uint32_t>(rng()));
            if (c.kind == CommandKind::set_led_init) continue;  // keeps the known init
            if (c.kind == CommandKind::set_led_slot && rng() % 2 == 0) c.slot %= 4;
            if (c.kind == CommandKind::set_pad_note && rng() % 2 == 0) c.slot %= 128;
            send_all(h, c);
        }
        if (rng() % 8 == 0) h.play(rng() % 4);
        if (rng() % 8 == 0) h.stop(rng() % 4);
        const Bytes note{0x90, static_cast<std::uint8_t>(rng() % 128), 100};
        const std::uint32_t n = 16 + rng() % 256;
        h.render_midi(n, {MidiEvent{static_cast<std::uint32_t>(rng() % n), 3, note.data()}});
        std::uint32_t last = 0;
        for (const auto& [frame, e] : h.midi_output()) {
            ASSERT_GE(e.time, last);
            ASSERT_LT(e.time, n);
            last = e.time;
            const Bytes b(e.bytes(), e.bytes() + e.size);
            ASSERT_FALSE(b.empty());
            if (e.long_data) {
                ASSERT_EQ(b, init);
                ++inits;
                continue;
            }
            ++shorts;
            ASSERT_LE(b.size(), 3U);
            ASSERT_GE(b[0], 0x80);
            ASSERT_NE(b[0], 0xF0);
            ASSERT_EQ(b.size(), midi_message_size(b[0]));
            for (std::size_t i = 1; i < b.size(); ++i) ASSERT_LT(b[i], 0x80);
        }
    }
    EXPECT_GT(inits, 100U) << "refreshes sent the init";
    EXPECT_GT(shorts, 1000U) << "lights and midi_send went out";
}

}  // namespace
