// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// Controller profiles (docs/midi.md#lights): every shipped profile loads and says what its
// maker's MIDI implementation says; a broken profile is refused with its file and line.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/config_file.hpp"
#include "daemon/midi_profile.hpp"

namespace {

using namespace looperd;
namespace fs = std::filesystem;

const fs::path kProfiles = fs::path(LOOPERD_SOURCE_DIR) / "examples" / "midi-profiles";

// Every error of parsing `text` as "bad.toml", joined by newlines ("" when it parses).
std::string errors_of(const std::string& text) {
    try {
        parse_midi_profile(text, "bad.toml");
    } catch (const ConfigError& e) {
        std::string all;
        for (const auto& error : e.errors()) all += error + "\n";
        return all;
    }
    return "";
}

const Command* find(const std::vector<Command>& commands, CommandKind kind, std::uint32_t slot) {
    for (const auto& c : commands)
        if (c.kind == kind && c.slot == slot) return &c;
    return nullptr;
}

constexpr const char* kMinimal = R"(
[lights]
message = "note"
first = 36
[lights.states]
empty = { value = 0 }
loaded = { value = 1 }
queued = { value = 2 }
playing = { value = 3 }
recording = { value = 4 }
overdubbing = { value = 5 }
)";

TEST(MidiProfile, EveryShippedProfileLoadsByNameAndIsTheFileInExamples) {
    const auto names = shipped_midi_profiles();
    ASSERT_EQ(names.size(), 4U);
    for (const auto name : names) {
        SCOPED_TRACE(std::string(name));
        std::optional<MidiProfile> by_name;
        ASSERT_NO_THROW(by_name = load_midi_profile(std::string(name)));
        ASSERT_TRUE(by_name.has_value());
        EXPECT_FALSE(by_name->description.empty());
        EXPECT_FALSE(by_name->numbers.empty());
        const fs::path file = kProfiles / (std::string(name) + ".toml");
        std::optional<MidiProfile> by_path;
        ASSERT_NO_THROW(by_path = load_midi_profile(file.string()));
        ASSERT_TRUE(by_path.has_value());
        const auto a = midi_profile_commands(*by_name, 128);
        const auto b = midi_profile_commands(*by_path, 128);
        ASSERT_EQ(a.size(), b.size());
        for (std::size_t i = 0; i < a.size(); ++i) {
            EXPECT_EQ(a[i].kind, b[i].kind);
            EXPECT_EQ(a[i].slot, b[i].slot);
            EXPECT_EQ(a[i].value, b[i].value);
        }
    }
    // Nothing else is in the folder: every file there is shipped by name.
    std::size_t files = 0;
    for (const auto& entry : fs::directory_iterator(kProfiles)) {
        ++files;
        const auto stem = entry.path().stem().string();
        EXPECT_NE(std::find(names.begin(), names.end(), stem), names.end()) << stem;
    }
    EXPECT_EQ(files, names.size());
}

TEST(MidiProfile, NoneMeansNoLightsAndAnUnknownNameIsRefused) {
    EXPECT_FALSE(load_midi_profile("none").has_value());
    try {
        load_midi_profile("apc-mini");
        FAIL() << "an unknown name loaded";
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("no profile named 'apc-mini'"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("apc-mini-mk2"), std::string::npos) << e.what();
    }
    EXPECT_THROW(load_midi_profile("/nonexistent/profile.toml"), ConfigError);
}

// The generic profile: note 36 + n on channel 1, the default pad map left as it is.
TEST(MidiProfile, GenericLightsNote36PlusNOnChannel1) {
    const auto p = load_midi_profile("generic");
    ASSERT_TRUE(p);
    const auto c = midi_profile_commands(*p, 4);
    ASSERT_EQ(c.size(), 4U + kLedStates + 1) << "4 lights, 6 states, no pad map, no init";
    EXPECT_EQ(c.back().kind, CommandKind::set_led_init);
    EXPECT_EQ(c.back().slot, 0U) << "an empty init: none sent before a refresh";
    for (std::uint32_t n = 0; n < 4; ++n) {
        EXPECT_EQ(c[n].kind, CommandKind::set_led_slot);
        EXPECT_EQ(c[n].slot, n);
        EXPECT_EQ(c[n].value, static_cast<float>(0x90 | (36 + n) << 8));
    }
    EXPECT_EQ(p->states[static_cast<int>(LedState::empty)].value, 0) << "velocity 0 is off";
    EXPECT_FALSE(p->pads.has_value());
}

// Launchpad Mini [MK3]: Programmer mode's SysEx, notes 11..88 with 81 at the top left, and its
// pads playing the slots they light.
TEST(MidiProfile, LaunchpadMiniMk3EntersProgrammerModeAndMapsItsGrid) {
    const auto p = load_midi_profile("launchpad-mini-mk3");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->init,
              (std::vector<std::uint8_t>{0xF0, 0x00, 0x20, 0x29, 0x02, 0x0D, 0x0E, 0x01, 0xF7}));
    ASSERT_EQ(p->numbers.size(), 64U);
    EXPECT_EQ(p->numbers.front(), 81);
    EXPECT_EQ(p->numbers[7], 88);
    EXPECT_EQ(p->numbers.back(), 18);
    EXPECT_EQ(p->states[static_cast<int>(LedState::queued)].channel, 1U) << "channel 2: flash";
    EXPECT_EQ(p->states[static_cast<int>(LedState::overdubbing)].channel, 2U) << "3: pulse";
    const auto c = midi_profile_commands(*p, 128);
    const Command* top_left = find(c, CommandKind::set_pad_note, 81);
    ASSERT_NE(top_left, nullptr);
    EXPECT_EQ(top_left->value, 0.0F);
    const Command* c1 = find(c, CommandKind::set_pad_note, 36);
    ASSERT_NE(c1, nullptr);
    EXPECT_EQ(c1->value, 45.0F) << "note 36 is the pad of row 3 (from the bottom), column 6: "
                                   "the 6th row from the top, slot 5 × 8 + 5";
    const Command* low = find(c, CommandKind::set_pad_note, 10);
    ASSERT_NE(low, nullptr);
    EXPECT_EQ(low->value, -1.0F) << "no pad sends note 10: it plays nothing";
    EXPECT_EQ(std::count_if(c.begin(), c.end(),
                            [](const Command& k) { return k.kind == CommandKind::set_led_init; }),
              3)
        << "9 bytes, 3 a command";
}

// APC mini mk2: notes 0..63 with 56 at the top left; the channel sets brightness and blinking.
TEST(MidiProfile, ApcMiniMk2UsesTheChannelForBrightnessAndBlink) {
    const auto p = load_midi_profile("apc-mini-mk2");
    ASSERT_TRUE(p);
    ASSERT_EQ(p->numbers.size(), 64U);
    EXPECT_EQ(p->numbers.front(), 56);
    EXPECT_EQ(p->numbers.back(), 7);
    EXPECT_EQ(p->states[static_cast<int>(LedState::playing)].channel, 6U) << "0x96: 100 %";
    EXPECT_EQ(p->states[static_cast<int>(LedState::queued)].channel, 14U) << "0x9E: blink";
    EXPECT_TRUE(p->init.empty());
    ASSERT_TRUE(p->pads);
    EXPECT_EQ(*p->pads, p->numbers);
}

// nanoKONTROL2: CCs 32..39, 48..55, 64..71 on channel 1, on/off.
TEST(MidiProfile, NanoKontrol2LightsItsButtonsByCc) {
    const auto p = load_midi_profile("nanokontrol2");
    ASSERT_TRUE(p);
    EXPECT_TRUE(p->cc);
    ASSERT_EQ(p->numbers.size(), 24U);
    EXPECT_EQ(p->numbers[0], 32);
    EXPECT_EQ(p->numbers[8], 48);
    EXPECT_EQ(p->numbers[16], 64);
    const auto c = midi_profile_commands(*p, 128);
    ASSERT_EQ(c.size(), 24U + kLedStates + 1) << "24 lights (slots beyond have none), no init";
    EXPECT_EQ(c[0].value, static_cast<float>(0xB0 | 32 << 8));
    EXPECT_FALSE(p->pads.has_value()) << "its buttons send CCs: no pad map";
}

TEST(MidiProfile, AMinimalProfileParses) {
    EXPECT_EQ(errors_of(kMinimal), "");
}

// Each problem names the file, the line and the column, and all are listed at once.
TEST(MidiProfile, ErrorsNameTheFileAndLine) {
    EXPECT_EQ(errors_of("[lights\n"),
              "bad.toml:1:8: Error while parsing table header: expected "
              "']', saw '\\n'\n")
        << "a TOML syntax error";
    std::string text = kMinimal;
    text.replace(text.find("value = 3"), 9, "value = 300");
    EXPECT_EQ(errors_of(text),
              "bad.toml:9:21: lights.states.playing.value: expected a whole number 0..127, got a "
              "whole number (300)\n");
    EXPECT_EQ(errors_of("colour = 1\n" + std::string(kMinimal)),
              "bad.toml:1:1: unknown key 'colour' in a profile\n");
    text = kMinimal;
    text.erase(text.find("overdubbing"));
    EXPECT_NE(errors_of(text).find("state 'overdubbing' is missing"), std::string::npos);
    EXPECT_NE(errors_of("init = [0xF0, 0x80, 0xF7]\n" + std::string(kMinimal))
                  .find("bad.toml:1:8: init: expected one SysEx message"),
              std::string::npos);
    text = kMinimal;
    text.replace(text.find("first = 36"), 10, "first = 36\nnumbers = [1]");
    EXPECT_NE(errors_of(text).find("give either 'first'"), std::string::npos);
    text = kMinimal;
    text.replace(text.find("\"note\""), 6, "\"cc\"");
    EXPECT_NE(errors_of(text + "[pads]\nnotes = \"lights\"\n").find("\"lights\" needs note lights"),
              std::string::npos);
    EXPECT_NE(errors_of(std::string(kMinimal) + "[pads]\nnotes = [1, 2, 1]\n")
                  .find("bad.toml:13:9: pads.notes: a note is listed twice"),
              std::string::npos);
    text = kMinimal;
    text.replace(text.find("first = 36"), 10, "first = 36\ncolour = 1");
    EXPECT_EQ(errors_of(text), "bad.toml:5:1: unknown key 'colour' in [lights]\n");
    text.replace(text.find("value = 3"), 9, "value = -1");
    EXPECT_EQ(errors_of(text),
              "bad.toml:5:1: unknown key 'colour' in [lights]\n"
              "bad.toml:10:21: lights.states.playing.value: expected a whole number 0..127, got a "
              "whole number (-1)\n")
        << "every problem, in one go";
    EXPECT_EQ(errors_of("description = \"x\"\n"), "bad.toml: the [lights] table is missing\n");
}

}  // namespace
