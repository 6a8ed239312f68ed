// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// MIDI into the real daemon under a real jackd (dummy backend, 48 kHz, 128-frame periods): a
// test client writes notes into looperd:midi_in on chosen JACK frames, another records
// looperd's out_1, and each onset is found by its content, so a frame off is a failure. The
// sender, looperd and the recorder run in one JACK cycle, in that order, so an event's frame
// and its onset's frame are comparable directly.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fixtures.hpp"
#include "jack_midi.hpp"
#include "jack_recorder.hpp"
#include "jack_server.hpp"
#include "osc_client.hpp"
#include "timebase_master.hpp"

namespace looperd::test {
namespace {

using namespace std::chrono_literals;

constexpr std::uint32_t kBlock = 128;

class Midi : public IntegrationTest {
  protected:
    void SetUp() override { start_jack("looperd-midi-"); }

    void TearDown() override {
        recorder_.reset();
        sender_.reset();
        finish(daemon_, true, [this](std::ostream& out) { report_skipped(out, osc_.get()); });
    }

    void start_daemon(const std::vector<std::string>& extra = {}) {
        port_ = pick_free_udp_port();
        auto args = daemon_args(port_);
        args.insert(args.end(), extra.begin(), extra.end());
        ASSERT_NO_FATAL_FAILURE(launch_daemon(daemon_, osc_, port_, args));
    }

    void send(const std::string& address, const std::vector<OscValue>& args = {}) {
        osc_->send(port_, address, args);
    }

    // Sends the messages, then a /ping; fails if an /error came back before the /pong.
    void configure(const std::vector<OscMsg>& messages) {
        for (const auto& m : messages) send(m.address, m.args);
        send("/ping");
        const auto reply = osc_->wait_for_any({"/pong", "/error"}, kHangBound);
        ASSERT_TRUE(reply) << "no /pong";
        ASSERT_EQ(reply->address, "/pong") << "refused: " << reply->to_string();
    }

    void load_mono(int n, const std::string& name, const std::vector<float>& data) {
        write_wav(samples_ / name, 1, data);
        send(slot(n, "load"), {osc_string(name)});
        const auto reply = osc_->wait_for_any({slot(n, "loaded"), "/error"}, kHangBound);
        ASSERT_TRUE(reply) << "no reply to " << slot(n, "load");
        ASSERT_EQ(reply->address, slot(n, "loaded")) << reply->to_string();
    }

    // The sender on looperd:midi_in, the recorder on looperd:out_1.
    void connect_clients(std::chrono::seconds capacity) {
        sender_ = std::make_unique<JackMidiSender>(jack_->name(), 4096);
        sender_->connect("looperd:midi_in");
        recorder_ = std::make_unique<JackRecorder>(jack_->name(), 1, capacity);
        ASSERT_EQ(recorder_->block_size(), kBlock);
        recorder_->connect("looperd:out_1", 0);
        recorder_->start();
    }

    // Sends `events` and records until `frames` past the first of them are recorded. Returns
    // the recording and the recording index of the sender's frame 0.
    std::pair<std::vector<float>, std::size_t> play(const std::vector<MidiEvent>& events,
                                                    std::size_t frames) {
        sender_->send(events);
        const auto zero = static_cast<std::size_t>(
            static_cast<std::uint32_t>(sender_->start_frame() - recorder_->start_frame()));
        EXPECT_TRUE(sender_->wait_done(kHangBound)) << "the sender did not finish";
        EXPECT_EQ(sender_->lost(), 0U);
        EXPECT_EQ(sender_->late(), 0U);
        recorder_->wait_for_frames(zero + frames, kHangBound);
        auto rec = recorder_->snapshot()[0];
        EXPECT_GE(rec.size(), zero + frames) << "the recording stopped growing";
        return {std::move(rec), zero};
    }

    // Whether the daemon's log shows `text` within kHangBound.
    bool wait_log(const std::string& text) const {
        const auto deadline = std::chrono::steady_clock::now() + kHangBound;
        while (daemon_->read_log().find(text) == std::string::npos &&
               std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(20ms);
        return daemon_->read_log().find(text) != std::string::npos;
    }

    std::map<std::string, OscValue> status() {
        send("/status");
        const auto reply = osc_->wait_for("/status.reply", kHangBound);
        if (!reply) throw std::runtime_error("no /status.reply");
        return status_pairs(*reply);
    }

    std::unique_ptr<ChildProcess> daemon_;
    std::unique_ptr<OscClient> osc_;
    std::unique_ptr<JackMidiSender> sender_;
    std::unique_ptr<JackRecorder> recorder_;
    std::uint16_t port_ = 0;
};

std::string read_text(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

std::vector<float> mono_noise(std::size_t frames, std::uint32_t seed) {
    return noise(frames, 1, seed);
}

// 1,000 notes at random frames, each cycle offset equally likely, velocities random: every
// onset lies at the same distance from its event's frame (0 frames of jitter), and plays the
// sample scaled by its velocity's gain.
TEST_F(Midi, NotesPlayTheirSlotOnTheEventsOwnFrameWithNoJitter) {
    ASSERT_NO_FATAL_FAILURE(start_daemon());
    const auto sample = mono_noise(64, 5);
    ASSERT_NO_FATAL_FAILURE(load_mono(0, "hit.wav", sample));
    ASSERT_NO_FATAL_FAILURE(connect_clients(20s));

    // Event k in [k × 600, k × 600 + 472): at least 128 frames apart, so each 64-frame voice
    // has ended before the next starts.
    constexpr std::size_t kNotes = 1000;
    constexpr std::uint64_t kSpacing = 600;
    std::mt19937 random(1234);
    std::vector<MidiEvent> events;
    std::vector<std::uint8_t> velocities;
    std::set<std::uint64_t> offsets_in_cycle;
    for (std::size_t k = 0; k < kNotes; ++k) {
        const std::uint64_t at = k * kSpacing + random() % (kSpacing - kBlock);
        const auto velocity = static_cast<std::uint8_t>(1 + random() % 127);
        // On channel 10, as a drum pad sends; a note-off follows 20 frames later (oneshot
        // slots ignore it).
        events.push_back({at, {0x99, 36, velocity}});
        events.push_back({at + 20, {0x89, 36, 0}});
        velocities.push_back(velocity);
        offsets_in_cycle.insert(at % kBlock);
    }
    const auto [rec, zero] = play(events, kNotes * kSpacing + kBlock);
    ASSERT_FALSE(HasFailure());

    std::map<std::int64_t, int> distances;  // onset - event frame → how many
    std::size_t worst_level = 0;
    double worst_error = 0.0;
    std::size_t from = zero;
    for (std::size_t k = 0; k < kNotes; ++k) {
        const std::size_t event = zero + events[2 * k].frame_offset;
        std::size_t onset = from;
        while (onset < rec.size() && rec[onset] == 0.0F) ++onset;
        ASSERT_LT(onset, rec.size()) << "note " << k << " never sounded";
        distances[static_cast<std::int64_t>(onset) - static_cast<std::int64_t>(event)]++;
        // Linear curve: the sample × velocity / 127, within float rounding.
        const float gain = static_cast<float>(velocities[k]) / 127.0F;
        for (std::size_t i = 0; i < sample.size(); ++i) {
            const double error = std::fabs(rec[onset + i] - sample[i] * gain);
            if (error > worst_error) {
                worst_error = error;
                worst_level = k;
            }
        }
        from = onset + sample.size();
    }
    std::string seen;
    for (const auto& [d, n] : distances)
        seen += std::to_string(d) + " frames: " + std::to_string(n) + " notes; ";
    EXPECT_EQ(distances.size(), 1U) << "onset − event frame varies: " << seen;
    EXPECT_EQ(distances.begin()->first, 0) << seen;
    std::cout << "[   INFO   ] onset − event frame: " << seen << offsets_in_cycle.size()
              << " distinct offsets in the cycle\n";
    EXPECT_EQ(offsets_in_cycle.size(), kBlock) << "every offset in the cycle was tried";
    EXPECT_LE(worst_error, 1e-6) << "note " << worst_level << " (velocity "
                                 << +velocities[worst_level] << ") at the wrong level";

    const auto s = status();
    EXPECT_EQ(s.at("midi_events").number(), 2.0 * kNotes);
    EXPECT_EQ(s.at("midi_dropped").number(), 0.0);
    EXPECT_EQ(s.at("voices_refused").number(), 0.0);
}

// In gate mode the note-off releases on its own frame: the sample plays unchanged up to it and
// fades out from it; a note-on with velocity 0 does the same.
TEST_F(Midi, NoteOffReleasesAGateSlotOnItsFrame) {
    ASSERT_NO_FATAL_FAILURE(start_daemon({"--velocity-curve", "fixed"}));
    const auto sample = mono_noise(48000, 9);
    ASSERT_NO_FATAL_FAILURE(load_mono(1, "pad.wav", sample));
    ASSERT_NO_FATAL_FAILURE(configure({{slot(1, "mode"), {osc_string("gate")}}}));
    ASSERT_NO_FATAL_FAILURE(connect_clients(10s));
    for (const std::uint8_t off_status : {std::uint8_t{0x80}, std::uint8_t{0x90}}) {
        SCOPED_TRACE(off_status == 0x80 ? "note-off" : "note-on, velocity 0");
        // Velocity 30 under --velocity-curve fixed: the slot's gain, the sample bit for bit.
        const std::vector<MidiEvent> events{{37, {0x90, 37, 30}}, {1000 + 77, {off_status, 37, 0}}};
        const auto [rec, zero] = play(events, 48000 / 2);
        ASSERT_FALSE(HasFailure());
        const std::size_t on = zero + 37;
        const std::size_t off = zero + 1077;
        for (std::size_t i = zero; i < on; ++i) ASSERT_EQ(rec[i], 0.0F) << "before the note";
        for (std::size_t i = on; i < off; ++i)
            ASSERT_EQ(rec[i], sample[i - on]) << "frame " << i - on << " of the note";
        EXPECT_LT(std::fabs(rec[off + 1]), std::fabs(sample[off + 1 - on]))
            << "the fade starts at the note-off's frame";
        // The default fade is 5 ms (240 frames): silence after it.
        for (std::size_t i = off + 240; i < off + 2000; ++i)
            ASSERT_EQ(rec[i], 0.0F) << "sound " << i - off << " frames after the note-off";
    }
}

// --midi-clock-out: ticks on midi_out exactly 1,000 frames apart at 120 BPM and 48 kHz, and
// Start followed by a tick on the frame /clock/reset restarted the grid.
TEST_F(Midi, ClockOutTicksEvery1000FramesAt120BpmAndStartsOnReset) {
    // No lights: this test reads midi_out for the clock alone.
    ASSERT_NO_FATAL_FAILURE(start_daemon({"--midi-clock-out", "--midi-profile", "none"}));
    ASSERT_NO_FATAL_FAILURE(configure({{"/clock/tempo", {osc_float(120.0F)}}}));
    JackMidiReceiver receiver(jack_->name(), 4096);
    receiver.connect("looperd:midi_out");
    receiver.start();
    ASSERT_NO_FATAL_FAILURE(configure({{"/clock/reset", {}}}));
    // Five seconds: 240 ticks.
    ASSERT_GE(receiver.wait_for_events(260, kHangBound), 260U);
    const auto got = receiver.snapshot();
    std::size_t start = got.size();
    for (std::size_t i = 0; i < got.size(); ++i)
        if (got[i].bytes == std::vector<std::uint8_t>{0xFA}) start = i;
    ASSERT_LT(start + 241, got.size()) << "no Start, or too few ticks after it";
    EXPECT_EQ(got[start + 1].frame, got[start].frame) << "the first tick on Start's frame";
    for (std::size_t i = start + 1; i < got.size(); ++i) {
        ASSERT_EQ(got[i].bytes, std::vector<std::uint8_t>{0xF8}) << "event " << i;
        if (i > start + 1) {
            ASSERT_EQ(got[i].frame - got[i - 1].frame, 1000U) << "tick " << i;
        }
    }
    // Before the reset the clock ticked on its first grid, also 1,000 frames apart.
    for (std::size_t i = 1; i < start; ++i) {
        ASSERT_EQ(got[i].frame - got[i - 1].frame, 1000U) << "tick " << i << ", before Start";
    }
}

// The cycle of JACK frame `frame`, counted from the cycle that began at `start` (a cycle's
// first frame): looperd and the test's clients run in one JACK cycle, so equal cycles are the
// same process callback.
std::uint64_t cycle_of(std::uint64_t frame, std::uint64_t start) {
    return static_cast<std::uint32_t>(frame - start) / kBlock;
}

// The generic profile (the default): slot 0's light is note 36 on channel 1. Played over OSC,
// its note-on (velocity 127, playing) reaches midi_out in the JACK cycle of the voice's first
// audio, on that cycle's last frame; stopped, the light goes back to loaded (velocity 8) in the
// cycle the fade out begins.
TEST_F(Midi, LightsChangeInTheCycleTheSlotStartsAndStops) {
    ASSERT_NO_FATAL_FAILURE(start_daemon({"--slots", "4"}));
    ASSERT_NO_FATAL_FAILURE(
        load_mono(0, "long.wav", std::vector<float>(static_cast<std::size_t>(48000 * 4), 0.25F)));
    recorder_ = std::make_unique<JackRecorder>(jack_->name(), 1, 20s);
    recorder_->connect("looperd:out_1", 0);
    JackMidiReceiver lights(jack_->name(), 4096);
    lights.start();
    recorder_->start();
    // A new connection to midi_out refreshes every light: slot 0 loaded, 1..3 empty. (It is
    // sent again 250 ms and 1 s later: those lights show the state of their time, and come
    // after the changes looked for below.)
    lights.connect("looperd:midi_out");
    ASSERT_GE(lights.wait_for_events(4, kHangBound), 4U) << "no refresh after connecting";
    auto got = lights.snapshot();
    EXPECT_EQ(got[0].bytes, (std::vector<std::uint8_t>{0x90, 36, 8}));
    EXPECT_EQ(got[1].bytes, (std::vector<std::uint8_t>{0x90, 37, 0}));
    EXPECT_EQ(got[3].bytes, (std::vector<std::uint8_t>{0x90, 39, 0}));
    std::size_t seen = 4;

    // Waits for the next light with `bytes`, past those already seen.
    auto wait_for_light = [&](const std::vector<std::uint8_t>& bytes) -> ReceivedMidiEvent {
        for (std::size_t want = seen + 1; want < 4096; ++want) {
            if (lights.wait_for_events(want, kHangBound) < want) break;
            const auto events = lights.snapshot();
            for (; seen < events.size(); ++seen)
                if (events[seen].bytes == bytes) return events[seen++];
        }
        ADD_FAILURE() << "no light " << int(bytes[1]) << " at " << int(bytes[2]);
        return {};
    };

    send(slot(0, "play"));
    const ReceivedMidiEvent playing = wait_for_light({0x90, 36, 127});
    ASSERT_FALSE(HasFailure());
    recorder_->wait_for_frames(
        static_cast<std::uint32_t>(playing.frame + kBlock - recorder_->start_frame()), kHangBound);
    auto rec = recorder_->snapshot()[0];
    const auto onset = static_cast<std::size_t>(
        std::find_if(rec.begin(), rec.end(), [](float x) { return x != 0.0F; }) - rec.begin());
    ASSERT_LT(onset, rec.size()) << "no sound";
    const std::uint64_t start = recorder_->start_frame();
    EXPECT_EQ(cycle_of(playing.frame, start), cycle_of(start + onset, start))
        << "the light and the first audio in one JACK cycle";
    EXPECT_EQ((playing.frame - start) % kBlock, kBlock - 1) << "on the cycle's last frame";

    const float steady = rec[onset + kBlock];
    send(slot(0, "stop"));
    const ReceivedMidiEvent loaded = wait_for_light({0x90, 36, 8});
    ASSERT_FALSE(HasFailure());
    recorder_->wait_for_frames(static_cast<std::uint32_t>(loaded.frame + kBlock - start),
                               kHangBound);
    rec = recorder_->snapshot()[0];
    std::size_t fade = onset + kBlock;
    while (fade < rec.size() && rec[fade] == steady) ++fade;
    ASSERT_LT(fade, rec.size()) << "no fade out";
    EXPECT_EQ(cycle_of(loaded.frame, start), cycle_of(start + fade, start))
        << "the loaded light in the cycle the fade out begins";
}

// The Launchpad Mini [MK3] profile: connecting to midi_out brings its Programmer-mode SysEx
// first, then all 64 lights in slot order, in one cycle; its pads (notes 11..88) play the slots
// they light; /midi/leds/refresh sends it all again.
TEST_F(Midi, LaunchpadProfileSendsItsSysexFirstThenEveryLight) {
    ASSERT_NO_FATAL_FAILURE(start_daemon({"--midi-profile", "launchpad-mini-mk3"}));
    const std::vector<std::uint8_t> programmer{0xF0, 0x00, 0x20, 0x29, 0x02,
                                               0x0D, 0x0E, 0x01, 0xF7};
    JackMidiReceiver lights(jack_->name(), 4096);
    lights.start();
    lights.connect("looperd:midi_out");
    auto check_refresh = [&](std::size_t from) {
        ASSERT_GE(lights.wait_for_events(from + 65, kHangBound), from + 65);
        const auto got = lights.snapshot();
        EXPECT_EQ(got[from].bytes, programmer) << "the SysEx first";
        for (std::size_t n = 0; n < 64; ++n) {
            const auto note = static_cast<std::uint8_t>((8 - n / 8) * 10 + 1 + n % 8);
            EXPECT_EQ(got[from + 1 + n].bytes, (std::vector<std::uint8_t>{0x90, note, 0}))
                << "slot " << n << ": empty, off";
            EXPECT_EQ(got[from + 1 + n].frame, got[from].frame) << "one cycle";
        }
    };
    ASSERT_NO_FATAL_FAILURE(check_refresh(0));
    // The same goes again 250 ms and 1 s later (a controller missing a cycle gets them all
    // the same); what follows waits until both went, so that they come before it.
    ASSERT_TRUE(wait_log("MIDI init and lights sent again (2 of 2)"));
    // The index of the first event from `from` on with `bytes`; the events' count if none
    // came within kHangBound.
    auto find = [&](const std::vector<std::uint8_t>& bytes, std::size_t from) {
        for (std::size_t want = from + 1; lights.wait_for_events(want, kHangBound) >= want;
             ++want) {
            if (lights.snapshot()[want - 1].bytes == bytes) return want - 1;
        }
        return lights.events();
    };

    // Ten seconds: still playing when the refresh below comes.
    ASSERT_NO_FATAL_FAILURE(load_mono(0, "a.wav", std::vector<float>(48000 * 10, 0.25F)));
    const std::size_t loaded = find({0x90, 81, 1}, 65);
    ASSERT_LT(loaded, lights.events()) << "slot 0 loaded: dim white";
    sender_ = std::make_unique<JackMidiSender>(jack_->name(), 16);
    sender_->connect("looperd:midi_in");
    sender_->send({{0, {0x90, 81, 127}}});  // the top left pad
    ASSERT_TRUE(sender_->wait_done(kHangBound));
    const std::size_t green = find({0x90, 81, 21}, loaded + 1);
    ASSERT_LT(green, lights.events()) << "playing: green";
    EXPECT_EQ(cycle_of(lights.snapshot()[green].frame, sender_->start_frame()), 0U)
        << "in the cycle of the pad's note";

    ASSERT_NO_FATAL_FAILURE(configure({{"/midi/leds/refresh", {}}}));
    ASSERT_GE(lights.wait_for_events(green + 1 + 65, kHangBound), green + 1 + 65);
    const auto again = lights.snapshot();
    EXPECT_EQ(again[green + 1].bytes, programmer);
    EXPECT_EQ(again[green + 2].bytes, (std::vector<std::uint8_t>{0x90, 81, 21})) << "slot 0 plays";
}

// A controller's client that misses the cycle its init and lights went out in (not running
// yet, or late on a loaded machine) gets them 250 ms and 1 s later: here, one that records
// only from 50 ms after looperd sent them.
TEST_F(Midi, AControllerThatMissedItsLightsGetsThemAgain) {
    ASSERT_NO_FATAL_FAILURE(start_daemon({"--midi-profile", "launchpad-mini-mk3"}));
    JackMidiReceiver lights(jack_->name(), 4096);
    lights.connect("looperd:midi_out");
    ASSERT_TRUE(wait_log("remembering midi_out → " + lights.client_name() + ":in"));
    std::this_thread::sleep_for(50ms);
    lights.start();
    ASSERT_GE(lights.wait_for_events(65, kHangBound), 65U) << "no init and lights again";
    const auto got = lights.snapshot();
    EXPECT_EQ(got[0].bytes,
              (std::vector<std::uint8_t>{0xF0, 0x00, 0x20, 0x29, 0x02, 0x0D, 0x0E, 0x01, 0xF7}))
        << "the SysEx first";
    for (std::size_t n = 0; n < 64; ++n) {
        const auto note = static_cast<std::uint8_t>((8 - n / 8) * 10 + 1 + n % 8);
        EXPECT_EQ(got[1 + n].bytes, (std::vector<std::uint8_t>{0x90, note, 0})) << "slot " << n;
    }
}

// /clock/sync midi: 20 s of 97.3 BPM clock with ±1 ms (±48 frames) of pseudo-random jitter,
// Start before the first tick. Once a bar has passed, /status's tempo reads 97.3 ± 0.1, and a
// press of a looping slot quantized to the beat sounds within 48 frames of the true beat (the
// unjittered tick's frame, every 24th from the one after Start).
TEST_F(Midi, ClockInFollowsAJitteredClockAndLaunchesOnItsBeat) {
    ASSERT_NO_FATAL_FAILURE(start_daemon());
    ASSERT_NO_FATAL_FAILURE(load_mono(0, "loop.wav", std::vector<float>(4800, 0.5F)));
    ASSERT_NO_FATAL_FAILURE(configure({{"/clock/sync", {osc_string("midi")}},
                                       {slot(0, "mode"), {osc_string("loop")}},
                                       {slot(0, "quantize"), {osc_string("beat")}}}));
    ASSERT_NO_FATAL_FAILURE(connect_clients(40s));

    constexpr double kBpm = 97.3;
    const double per_tick = 48000.0 * 60.0 / kBpm / 24.0;
    constexpr double kFirst = 1000.0;  // the true frame of tick 0, after Start
    const auto ticks = static_cast<std::size_t>(20.0 * kBpm / 60.0 * 24.0);
    std::mt19937 random(97);
    std::vector<MidiEvent> events{{500, {0xFA}}};
    for (std::size_t k = 0; k < ticks; ++k) {
        const auto jitter = static_cast<std::int64_t>(random() % 97) - 48;
        const auto exact = std::llround(kFirst + static_cast<double>(k) * per_tick);
        events.push_back({static_cast<std::uint64_t>(exact + jitter), {0xF8}});
    }
    sender_->send(events);
    const auto zero = static_cast<std::size_t>(
        static_cast<std::uint32_t>(sender_->start_frame() - recorder_->start_frame()));
    // Two bars (about 5 s) of ticks, then the tempo and a press while the clock runs on.
    recorder_->wait_for_frames(zero + static_cast<std::size_t>(kFirst + 2 * 96 * per_tick),
                               kHangBound);
    const double tempo = status().at("tempo").number();
    EXPECT_NEAR(tempo, kBpm, 0.1);
    send(slot(0, "play"));
    ASSERT_TRUE(sender_->wait_done(kHangBound)) << "the sender did not finish";
    EXPECT_EQ(sender_->lost(), 0U);
    EXPECT_EQ(sender_->late(), 0U);
    const std::size_t end = zero + static_cast<std::size_t>(kFirst + ticks * per_tick);
    recorder_->wait_for_frames(end, kHangBound);
    const auto rec = recorder_->snapshot()[0];
    ASSERT_GE(rec.size(), end);
    std::size_t onset = zero;
    while (onset < end && rec[onset] == 0.0F) ++onset;
    ASSERT_LT(onset, end) << "the slot never sounded while the clock ran";
    const double beats = (static_cast<double>(onset - zero) - kFirst) / (per_tick * 24.0);
    const double off = (beats - std::nearbyint(beats)) * per_tick * 24.0;
    std::cout << "[   INFO   ] tempo " << tempo << " BPM; onset " << off
              << " frames from the true beat " << std::nearbyint(beats) << "\n";
    EXPECT_LE(std::fabs(off), 48.0);
    EXPECT_GE(beats, 8.0) << "launched after two bars, on a later beat";
    EXPECT_EQ(status().at("midi_dropped").number(), 0.0);
}

// --midi-clock-out with /clock/sync jack and a timebase master at 120 BPM (1,000 frames a
// tick): the transport rolls from 0 (Start, then a tick on its frame, 1,000 frames apart),
// stops (Stop, no tick after it), is moved to beat 5.5 and rolls again (Song Position Pointer
// 22 before Continue, and the first tick on Continue's frame: the 16th it named).
TEST_F(Midi, ClockOutFollowsJacksTransportWithStartStopAndSongPosition) {
    // No lights: this test reads midi_out for the clock alone.
    ASSERT_NO_FATAL_FAILURE(start_daemon({"--midi-clock-out", "--midi-profile", "none"}));
    TimebaseMaster master(jack_->name());
    master.become_master(120, 4);
    master.locate(0);
    ASSERT_NO_FATAL_FAILURE(configure({{"/clock/sync", {osc_string("jack")}}}));
    JackMidiReceiver receiver(jack_->name(), 8192);
    receiver.connect("looperd:midi_out");
    receiver.start();
    using Bytes = std::vector<std::uint8_t>;
    // Waits until `bytes` was received (after event `after`); its index.
    auto wait_for = [&](const Bytes& bytes, std::size_t after) -> std::size_t {
        const auto deadline = std::chrono::steady_clock::now() + kHangBound;
        while (std::chrono::steady_clock::now() < deadline) {
            const auto got = receiver.snapshot();
            for (std::size_t i = after; i < got.size(); ++i)
                if (got[i].bytes == bytes) return i;
            std::this_thread::sleep_for(10ms);
        }
        ADD_FAILURE() << "no " << std::hex << +bytes[0] << " on midi_out";
        return 0;
    };
    master.start_transport();
    const std::size_t start = wait_for({0xFA}, 0);
    ASSERT_FALSE(HasFailure());
    receiver.wait_for_events(start + 100, kHangBound);
    master.stop_transport();
    const std::size_t stop = wait_for({0xFC}, start);
    ASSERT_FALSE(HasFailure());
    master.locate(24000 * 5 + 12000);
    master.start_transport();
    const std::size_t resume = wait_for({0xFB}, stop);
    ASSERT_FALSE(HasFailure());
    receiver.wait_for_events(resume + 50, kHangBound);
    const auto got = receiver.snapshot();
    ASSERT_GT(got.size(), resume + 49);

    ASSERT_EQ(got[start + 1].bytes, Bytes{0xF8}) << "a tick right after Start";
    EXPECT_EQ(got[start + 1].frame, got[start].frame) << "on Start's frame";
    for (std::size_t i = start + 2; i < stop; ++i) {
        ASSERT_EQ(got[i].bytes, Bytes{0xF8}) << "event " << i;
        ASSERT_EQ(got[i].frame - got[i - 1].frame, 1000U) << "tick " << i;
    }
    for (std::size_t i = stop + 1; i < resume; ++i)
        ASSERT_EQ(got[i].bytes[0], 0xF2) << "only the pointer while stopped, event " << i;
    ASSERT_GT(resume, stop + 1);
    EXPECT_EQ(got[resume - 1].bytes, (Bytes{0xF2, 22, 0})) << "beat 5.5 is 16th 22";
    ASSERT_EQ(got[resume + 1].bytes, Bytes{0xF8});
    EXPECT_EQ(got[resume + 1].frame, got[resume].frame) << "the first tick on the 16th";
    for (std::size_t i = resume + 2; i < got.size(); ++i) {
        ASSERT_EQ(got[i].bytes, Bytes{0xF8}) << "event " << i;
        ASSERT_EQ(got[i].frame - got[i - 1].frame, 1000U) << "tick " << i;
    }
}

// --no-midi registers no MIDI ports; the MIDI counters stay at 0.
TEST_F(Midi, NoMidiRegistersNoPorts) {
    ASSERT_NO_FATAL_FAILURE(start_daemon({"--no-midi"}));
    JackRecorder probe(jack_->name(), 1, 1s, "looperd-test-probe");
    EXPECT_TRUE(probe.ports("looperd:midi_.*", 0, nullptr).empty());
    EXPECT_FALSE(probe.ports("looperd:out_1", 0).empty());
    const auto s = status();
    EXPECT_EQ(s.at("midi_events").number(), 0.0);
}

// Notes beyond the slots, controllers, clock, SysEx and stray bytes change nothing, and the
// daemon answers as before.
TEST_F(Midi, UnmappedNotesAndOtherMessagesChangeNothing) {
    ASSERT_NO_FATAL_FAILURE(start_daemon({"--slots", "4"}));
    ASSERT_NO_FATAL_FAILURE(load_mono(0, "a.wav", mono_noise(4800, 3)));
    ASSERT_NO_FATAL_FAILURE(connect_clients(10s));
    std::vector<std::uint8_t> sysex(200, 0x11);
    sysex.front() = 0xF0;
    sysex.back() = 0xF7;
    const std::vector<MidiEvent> events{
        {0, {0x90, 35, 100}}, {1, {0x90, 40, 100}}, {2, {0xB0, 7, 100}},
        {3, {0xF8}},          {4, {0x55, 0x66}},    {5, sysex},
        {6, {0x90, 36}},      {400, {0xC0, 3}},     {500, {0xE0, 0, 64}},
    };
    const auto [rec, zero] = play(events, 4800);
    ASSERT_FALSE(HasFailure());
    for (std::size_t i = zero; i < zero + 4800; ++i) ASSERT_EQ(rec[i], 0.0F) << "frame " << i;
    send("/ping");
    EXPECT_TRUE(osc_->wait_for("/pong", kHangBound));
    EXPECT_EQ(status().at("voices").number(), 0.0);
}

// MIDI learn end to end: /midi/learn, a CC moved on a real controller port, the slot's gain
// following it, the binding listed, saved, and moving the gain again after the daemon restarts
// with the same state directory.
//
// A MIDI event written in a cycle that looperd misses (an xrun: a loaded machine runs the
// non-real-time server late) never reaches it, as with any JACK client. So each CC is sent
// again until it is seen to act; an absolute CC sent twice sets the same value, and a daemon
// that ignores the CC still fails, with the count of MIDI events it read.
TEST_F(Midi, ALearnedCcMovesItsAddressAndSurvivesARestart) {
    const auto state = dir_ / "state";
    const std::vector<std::string> extra{"--state-dir", state.string(), "--slots", "4"};
    ASSERT_NO_FATAL_FAILURE(start_daemon(extra));
    sender_ = std::make_unique<JackMidiSender>(jack_->name(), 4096);
    sender_->connect("looperd:midi_in");
    configure({{"/midi/learn", {osc_string("/slot/2/gain")}}});

    // Sends a fader move on channel 5, every `again` until `acted` or kHangBound.
    auto move_until = [this](std::uint8_t value, std::chrono::milliseconds again,
                             const std::function<bool()>& acted) {
        const auto deadline = std::chrono::steady_clock::now() + kHangBound;
        while (std::chrono::steady_clock::now() < deadline) {
            sender_->send({{0, {0xB4, 21, value}}});
            if (!sender_->wait_done(kHangBound)) break;
            const auto resend = std::chrono::steady_clock::now() + again;
            while (std::chrono::steady_clock::now() < resend)
                if (acted()) return true;
        }
        ADD_FAILURE() << "CC value " << +value << " did not act; looperd read "
                      << status().at("midi_events").number() << " MIDI events";
        return false;
    };

    // The first move is learned, the next ones move the gain.
    std::optional<OscMsg> learned;
    ASSERT_TRUE(move_until(10, 1s, [&] {
        learned = osc_->wait_for("/midi/learned", 100ms);
        return learned.has_value();
    })) << "no /midi/learned";
    EXPECT_EQ(learned->args.at(0).s, "cc:21@5 /slot/2/gain");

    // The slot's gain, asked until it is `expected` (the CC acts within a few ms).
    auto gain_reaches = [this, &move_until](std::uint8_t value, float expected) {
        double gain = -1.0;
        const bool reached = move_until(value, 2s, [&] {
            send(slot(2, "info"));
            const auto info = osc_->wait_for(slot(2, "info.reply"), kHangBound);
            if (!info) return false;
            gain = status_pairs(*info).at("gain").number();
            if (static_cast<float>(gain) == expected) return true;
            std::this_thread::sleep_for(10ms);
            return false;
        });
        if (!reached) ADD_FAILURE() << "gain " << gain << ", not " << expected;
        return reached;
    };
    EXPECT_TRUE(gain_reaches(127, 4.0F));
    EXPECT_TRUE(gain_reaches(32, 4.0F * 32 / 127));

    send("/midi/bindings");
    const auto listed = osc_->wait_for("/midi/bindings.reply", kHangBound);
    ASSERT_TRUE(listed);
    ASSERT_EQ(listed->args.size(), 1U);
    EXPECT_EQ(listed->args[0].s, "cc:21@5 /slot/2/gain");

    // Saved: the state file names it once the change is written.
    const auto deadline = std::chrono::steady_clock::now() + kHangBound;
    bool saved = false;
    while (!saved && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(20ms);
        saved = read_text(state / "state.toml").find("cc:21@5 /slot/2/gain") != std::string::npos;
    }
    ASSERT_TRUE(saved) << "the binding was not saved";
    sender_.reset();
    const auto stopped = daemon_->terminate(kHangBound);
    ASSERT_TRUE(exited_with(stopped, 0)) << describe(stopped);

    ASSERT_NO_FATAL_FAILURE(start_daemon(extra));
    sender_ = std::make_unique<JackMidiSender>(jack_->name(), 4096);
    sender_->connect("looperd:midi_in");
    EXPECT_TRUE(gain_reaches(64, 4.0F * 64 / 127));
}

}  // namespace
}  // namespace looperd::test
