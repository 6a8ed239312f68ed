// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// MIDI bindings as data: their text, their checks against the schema, and what each kind of
// message does to each kind of address.

#include <gtest/gtest.h>

#include "control/midi_binding.hpp"
#include "control/osc_schema.hpp"

namespace {

using namespace looperd;

MidiBinding binding(std::string_view text) {
    std::string error;
    const osc::Row* row = nullptr;
    const auto words = midi_binding_words(text);
    if (words.size() > 1) row = osc::match(words[1]);
    auto b = parse_midi_binding(text, row ? row->max : 0.0, error);
    EXPECT_TRUE(b) << text << ": " << error;
    return b.value_or(MidiBinding{});
}

std::string refusal(std::string_view text) {
    std::string error;
    const auto words = midi_binding_words(text);
    const osc::Row* row = words.size() > 1 ? osc::match(words[1]) : nullptr;
    EXPECT_FALSE(parse_midi_binding(text, row ? row->max : 0.0, error)) << text;
    return error;
}

// What `m` makes of binding `text`, with the address's value `current`.
std::optional<OscMessage> drive(std::string_view text, MidiMessage m,
                                std::optional<double> current = std::nullopt) {
    const MidiBinding b = binding(text);
    const osc::Row* row = osc::match(b.address);
    return midi_binding_message(b, *row, row->max, m, current);
}

double value(const std::optional<OscMessage>& m) {
    EXPECT_TRUE(m && m->args.size() == 1);
    if (!m || m->args.empty()) return -1.0;
    return osc::number(m->args[0]).value_or(-1.0);
}

MidiMessage cc(std::uint8_t number, std::uint8_t v, std::uint8_t channel = 0) {
    return {static_cast<std::uint8_t>(0xB0 | channel), number, v};
}
MidiMessage note_on(std::uint8_t note, std::uint8_t velocity = 100, std::uint8_t channel = 0) {
    return {static_cast<std::uint8_t>(0x90 | channel), note, velocity};
}
MidiMessage note_off(std::uint8_t note) {
    return {0x80, note, 0};
}

TEST(MidiBinding, SourcesReadAndWriteTheSameText) {
    for (const char* text : {"cc:7", "cc:7@1", "note:40@10", "note:0", "program", "program@16",
                             "bend", "bend@2", "cc:127@16"}) {
        std::string error;
        const auto s = parse_midi_source(text, error);
        ASSERT_TRUE(s) << text << ": " << error;
        EXPECT_EQ(to_text(*s), text);
    }
    std::string error;
    const auto s = parse_midi_source("cc:7@3", error);
    EXPECT_EQ(s->kind, MidiControlKind::cc);
    EXPECT_EQ(s->number, 7);
    EXPECT_EQ(s->channel, 2);  // channels are 1-based in text, 0-based on the wire
    EXPECT_EQ(s->channels(), 1U << 2);
    EXPECT_EQ(parse_midi_source("note:1", error)->channels(), 0xFFFF);
}

TEST(MidiBinding, BadSourcesSayWhy) {
    for (const char* text : {"cc", "cc:", "cc:128", "cc:-1", "cc:7@0", "cc:7@17", "cc:7@", "knob:1",
                             "program:3", "bend:1", "note:x", ""}) {
        std::string error;
        EXPECT_FALSE(parse_midi_source(text, error)) << text;
        EXPECT_NE(error.find("MIDI source"), std::string::npos) << error;
    }
}

TEST(MidiBinding, MatchesItsKindNumberAndChannel) {
    std::string error;
    const auto omni = *parse_midi_source("cc:7", error);
    const auto ch2 = *parse_midi_source("cc:7@2", error);
    EXPECT_TRUE(omni.matches(cc(7, 5, 0)));
    EXPECT_TRUE(omni.matches(cc(7, 5, 15)));
    EXPECT_FALSE(omni.matches(cc(8, 5, 0)));
    EXPECT_FALSE(omni.matches(note_on(7)));
    EXPECT_TRUE(ch2.matches(cc(7, 5, 1)));
    EXPECT_FALSE(ch2.matches(cc(7, 5, 0)));
    const auto note = *parse_midi_source("note:40", error);
    EXPECT_TRUE(note.matches(note_on(40)));
    EXPECT_TRUE(note.matches(note_off(40)));
    const auto bend = *parse_midi_source("bend", error);
    EXPECT_TRUE(bend.matches({0xE3, 0x11, 0x40}));
    EXPECT_FALSE(bend.matches({0xD3, 0x11, 0x40}));  // channel pressure is not bindable
}

TEST(MidiBinding, BindingsRoundTripAsText) {
    for (const char* text :
         {"cc:7@1 /master/gain", "cc:7@1 /master/gain range=0:2", "note:40 /slot/3/record",
          "cc:16 /slot/0/gain relative=twos", "cc:17 /slot/0/pan relative=offset",
          "note:41 /monitor", "note:42 /slot/1/reverse momentary", "cc:20 /slot/2/play",
          "program /slot/0/mode", "bend@3 /slot/5/pitch range=-2:2", "note:43 /stop_all",
          "cc:1 /clock/tempo range=60:180", "cc:2 /slot/0/quantize"}) {
        EXPECT_EQ(to_text(binding(text)), text);
    }
    EXPECT_EQ(to_text(binding("note:41   /monitor   toggle")), "note:41 /monitor");
}

TEST(MidiBinding, BindingsTheSchemaCannotTakeAreRefused) {
    EXPECT_NE(refusal("cc:7").find("needs a source"), std::string::npos);
    EXPECT_NE(refusal("cc:7 /nope").find("no such address /nope"), std::string::npos);
    EXPECT_NE(refusal("cc:7 /slot/0/load").find("cannot be driven by MIDI"), std::string::npos);
    EXPECT_NE(refusal("cc:7 /slot/0/label").find("cannot be driven"), std::string::npos);
    EXPECT_NE(refusal("note:1 /status").find("cannot be driven"), std::string::npos);
    EXPECT_NE(refusal("cc:7 /master/gain range=0:9").find("within /master/gain's 0 to 4"),
              std::string::npos);
    EXPECT_NE(refusal("cc:7 /master/gain range=-1:1").find("within"), std::string::npos);
    EXPECT_NE(refusal("cc:7 /master/gain range=1").find("range=LOW:HIGH"), std::string::npos);
    EXPECT_NE(refusal("cc:7 /slot/0/mode range=0:1").find("has no range"), std::string::npos);
    EXPECT_NE(refusal("cc:7 /slot/0/play absolute").find("is a button"), std::string::npos);
    EXPECT_NE(refusal("note:7 /slot/0/gain relative=twos").find("only a CC"), std::string::npos);
    EXPECT_NE(refusal("cc:7 /master/gain fast").find("unknown option \"fast\""), std::string::npos);
    EXPECT_NE(refusal("cc:7 /pong").find("no such address"), std::string::npos);
}

TEST(MidiBinding, AbsoluteSpreadsTheValueOverTheRange) {
    EXPECT_DOUBLE_EQ(value(drive("cc:7 /master/gain", cc(7, 0))), 0.0);
    EXPECT_DOUBLE_EQ(value(drive("cc:7 /master/gain", cc(7, 127))), 4.0);
    EXPECT_FLOAT_EQ(static_cast<float>(value(drive("cc:7 /master/gain", cc(7, 64)))),
                    static_cast<float>(4.0 * 64 / 127));
    EXPECT_DOUBLE_EQ(value(drive("cc:7 /master/gain range=0.5:1", cc(7, 127))), 1.0);
    EXPECT_DOUBLE_EQ(value(drive("cc:7 /master/gain range=0.5:1", cc(7, 0))), 0.5);
    // Reversed: a fader that turns the gain down as it goes up.
    EXPECT_DOUBLE_EQ(value(drive("cc:7 /master/gain range=1:0", cc(7, 127))), 0.0);
    // A whole number is rounded: poly 1..64.
    EXPECT_DOUBLE_EQ(value(drive("cc:7 /slot/0/poly", cc(7, 127))), 64.0);
    EXPECT_DOUBLE_EQ(value(drive("cc:7 /slot/0/poly", cc(7, 0))), 1.0);
    const auto poly = drive("cc:7 /slot/0/poly", cc(7, 64));
    EXPECT_EQ(poly->args[0].type, 'i');
    EXPECT_EQ(poly->address, "/slot/0/poly");
    // Pitch bend has 14 bits: the centre (0x2000) is the middle of the range.
    EXPECT_DOUBLE_EQ(value(drive("bend /slot/0/pitch", {0xE0, 0x7F, 0x7F})), 24.0);
    EXPECT_DOUBLE_EQ(value(drive("bend /slot/0/pitch", {0xE0, 0x00, 0x00})), -24.0);
    EXPECT_NEAR(value(drive("bend /slot/0/pitch", {0xE0, 0x00, 0x40})), 0.0, 0.01);
    // A program change's number.
    EXPECT_DOUBLE_EQ(value(drive("program /slot/0/poly", {0xC0, 127, 0})), 64.0);
}

TEST(MidiBinding, RelativeEncodersStepFromTheCurrentValue) {
    // Two's complement: 1 is one step up, 127 one down, 64 the most down (-64).
    EXPECT_NEAR(value(drive("cc:16 /master/gain relative=twos", cc(16, 1), 1.0)), 1.0 + 4.0 / 127,
                1e-6);
    EXPECT_NEAR(value(drive("cc:16 /master/gain relative=twos", cc(16, 127), 1.0)), 1.0 - 4.0 / 127,
                1e-6);
    EXPECT_NEAR(value(drive("cc:16 /master/gain relative=twos", cc(16, 3), 1.0)),
                1.0 + 3 * 4.0 / 127, 1e-6);
    // Binary offset: 64 is no move, 65 up, 63 down.
    EXPECT_FALSE(drive("cc:16 /master/gain relative=offset", cc(16, 64), 1.0));
    EXPECT_FALSE(drive("cc:16 /master/gain relative=twos", cc(16, 0), 1.0));
    EXPECT_NEAR(value(drive("cc:16 /master/gain relative=offset", cc(16, 65), 1.0)),
                1.0 + 4.0 / 127, 1e-6);
    EXPECT_NEAR(value(drive("cc:16 /master/gain relative=offset", cc(16, 60), 1.0)),
                1.0 - 4 * 4.0 / 127, 1e-6);
    // Clamped at the range's ends; a whole number steps by one.
    EXPECT_DOUBLE_EQ(value(drive("cc:16 /master/gain relative=twos", cc(16, 10), 3.99)), 4.0);
    EXPECT_DOUBLE_EQ(value(drive("cc:16 /master/gain relative=twos", cc(16, 120), 0.01)), 0.0);
    EXPECT_DOUBLE_EQ(value(drive("cc:16 /slot/0/poly relative=twos", cc(16, 1), 5.0)), 6.0);
    // Without a current value, from the row's default.
    EXPECT_NEAR(value(drive("cc:16 /master/gain relative=twos", cc(16, 1))), 1.0 + 4.0 / 127, 1e-6);
}

TEST(MidiBinding, ButtonsPressAndRelease) {
    // play: a press, and a release (gate mode acts on it).
    const auto press = drive("note:40 /slot/2/play", note_on(40));
    ASSERT_TRUE(press);
    EXPECT_EQ(press->address, "/slot/2/play");
    EXPECT_DOUBLE_EQ(value(press), 1.0);
    EXPECT_DOUBLE_EQ(value(drive("note:40 /slot/2/play", note_off(40))), 0.0);
    EXPECT_DOUBLE_EQ(value(drive("note:40 /slot/2/play", note_on(40, 0))), 0.0);
    // A CC button: 64 and up is down.
    EXPECT_DOUBLE_EQ(value(drive("cc:20 /slot/2/play", cc(20, 127))), 1.0);
    EXPECT_DOUBLE_EQ(value(drive("cc:20 /slot/2/play", cc(20, 0))), 0.0);
    // toggle on a button: presses only.
    EXPECT_FALSE(drive("note:40 /slot/2/play toggle", note_off(40)));
    // An action: a press, nothing on release.
    const auto stop = drive("note:43 /stop_all", note_on(43));
    ASSERT_TRUE(stop);
    EXPECT_TRUE(stop->args.empty());
    EXPECT_FALSE(drive("note:43 /stop_all", note_off(43)));
    EXPECT_TRUE(drive("program /clock/reset", {0xC0, 5, 0}));
}

TEST(MidiBinding, TogglesAndMomentaryValues) {
    // A pad on a whole 0/1 row toggles it by default.
    EXPECT_DOUBLE_EQ(value(drive("note:41 /monitor", note_on(41), 0.0)), 1.0);
    EXPECT_DOUBLE_EQ(value(drive("note:41 /monitor", note_on(41), 1.0)), 0.0);
    EXPECT_FALSE(drive("note:41 /monitor", note_off(41), 1.0));
    // The float the mirror keeps counts as the top.
    EXPECT_DOUBLE_EQ(
        value(drive("note:41 /master/gain range=0:0.8", note_on(41), static_cast<float>(0.8))),
        0.0);
    // Momentary: held is the top, released the bottom.
    EXPECT_DOUBLE_EQ(value(drive("note:42 /slot/1/reverse momentary", note_on(42))), 1.0);
    EXPECT_DOUBLE_EQ(value(drive("note:42 /slot/1/reverse momentary", note_off(42))), 0.0);
    EXPECT_DOUBLE_EQ(value(drive("cc:64 /slot/1/reverse momentary", cc(64, 127))), 1.0);
    EXPECT_DOUBLE_EQ(value(drive("cc:64 /slot/1/reverse momentary", cc(64, 0))), 0.0);
}

TEST(MidiBinding, ChoicesSpreadOrStep) {
    auto choice = [](const std::optional<OscMessage>& m) {
        EXPECT_TRUE(m && m->args.size() == 1 && m->args[0].type == 's');
        return m ? m->args[0].s : std::string{};
    };
    // oneshot|loop|gate|toggle over a fader.
    EXPECT_EQ(choice(drive("cc:7 /slot/0/mode", cc(7, 0))), "oneshot");
    EXPECT_EQ(choice(drive("cc:7 /slot/0/mode", cc(7, 42))), "loop");
    EXPECT_EQ(choice(drive("cc:7 /slot/0/mode", cc(7, 127))), "toggle");
    // A pad steps to the next, round.
    EXPECT_EQ(choice(drive("note:9 /slot/0/mode", note_on(9), 1.0)), "gate");
    EXPECT_EQ(choice(drive("note:9 /slot/0/mode", note_on(9), 3.0)), "oneshot");
    // An encoder steps one choice a detent, stopping at the ends.
    EXPECT_EQ(choice(drive("cc:7 /slot/0/quantize relative=twos", cc(7, 1), 0.0)), "beat");
    EXPECT_EQ(choice(drive("cc:7 /slot/0/quantize relative=twos", cc(7, 127), 0.0)), "none");
    EXPECT_EQ(choice(drive("cc:7 /clock/sync", cc(7, 127))), "link");
    EXPECT_EQ(choice(drive("cc:7 /clock/sync", cc(7, 64))), "midi");
    EXPECT_EQ(choice(drive("cc:7 /clock/sync", cc(7, 42))), "jack");
}

TEST(MidiBinding, BoundCcsEchoTheValueBack) {
    const MidiBinding gain = binding("cc:7@2 /master/gain");
    const osc::Row& row = *osc::match("/master/gain");
    auto echo = midi_echo_message(gain, row, row.max, OscArg::float32(2.0F));
    ASSERT_TRUE(echo);
    EXPECT_EQ(echo->status, 0xB1);  // channel 2
    EXPECT_EQ(echo->data1, 7);
    EXPECT_EQ(echo->data2, 64);  // 2 of 0..4: 63.5, rounded
    echo = midi_echo_message(gain, row, row.max, OscArg::float32(4.0F));
    EXPECT_EQ(echo->data2, 127);
    // On any channel: echoed on channel 1.
    echo = midi_echo_message(binding("cc:7 /master/gain range=0:2"), row, row.max,
                             OscArg::float32(3.0F));
    EXPECT_EQ(echo->status, 0xB0);
    EXPECT_EQ(echo->data2, 127);  // clamped to the binding's range
    const osc::Row& mode = *osc::match("/slot/0/mode");
    echo = midi_echo_message(binding("cc:9 /slot/0/mode"), mode, mode.max, OscArg::string("gate"));
    EXPECT_EQ(echo->data2, 85);  // the third of four choices: 2/3 of 127
    // Notes and actions are not echoed as CCs.
    EXPECT_FALSE(
        midi_echo_message(binding("note:9 /master/gain"), row, row.max, OscArg::float32(1.0F)));
}

}  // namespace
