// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// looperd's timing against a real jackd (dummy backend, 48 kHz, 128-frame periods): OSC
// bundle timetags, the beat grid of the internal clock and of a JACK timebase master, and the
// gate and toggle modes. Each test starts its own server and daemon and records the daemon's
// outputs with the test's own JACK client; onsets are found by matching each sample's content
// bit for bit, so a frame off is a failure.

#include <gtest/gtest.h>
#include <sndfile.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "fixtures.hpp"
#include "jack_recorder.hpp"
#include "jack_server.hpp"
#include "osc_client.hpp"
#include "timebase_master.hpp"

#ifdef LOOPERD_HAVE_LINK
#include <ableton/Link.hpp>

#endif

namespace looperd::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Recording = std::vector<std::vector<float>>;

constexpr std::uint32_t kRate = 48000;
constexpr std::uint32_t kBlock = 128;
// "Execute immediately" (OSC 1.0).
constexpr std::uint64_t kImmediately = 1;
// 10 ms in NTP 32.32 units (2^32 / 100, rounded): 480.0000000 frames at 48 kHz.
constexpr std::uint64_t kTenMsNtp = 42949673;

// Deterministic mono noise in ±[0.001, 0.5): never zero, so a voice's first frame is the first
// non-zero recorded frame, and no two seeds share a frame pattern.
std::vector<float> noise(std::size_t frames, std::uint32_t seed) {
    std::vector<float> out(frames);
    std::uint32_t x = seed * 2654435761U + 1U;
    for (auto& v : out) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        const float u = static_cast<float>(x >> 8) / 16777216.0F;
        const float magnitude = 0.001F + 0.499F * u;
        v = (x & 1U) != 0 ? magnitude : -magnitude;
    }
    return out;
}

std::string float_text(float v) {
    char text[64];
    std::snprintf(text, sizeof text, "%.9g (0x%08x)", static_cast<double>(v),
                  std::bit_cast<std::uint32_t>(v));
    return text;
}

// Compares got[at + k] with want[k] bit for bit for every k. Returns "" or the first difference.
std::string bit_difference(const std::vector<float>& got, std::size_t at,
                           const std::vector<float>& want) {
    if (at + want.size() > got.size()) {
        return "recording too short: need " + std::to_string(at + want.size()) + " frames, have " +
               std::to_string(got.size());
    }
    for (std::size_t k = 0; k < want.size(); ++k) {
        if (std::bit_cast<std::uint32_t>(got[at + k]) != std::bit_cast<std::uint32_t>(want[k])) {
            return "frame " + std::to_string(at + k) + " (sample frame " + std::to_string(k) +
                   "): got " + float_text(got[at + k]) + ", want " + float_text(want[k]);
        }
    }
    return "";
}

// Returns "" if v[from..to) is all +0.0, else the first offending frame.
std::string silence_difference(const std::vector<float>& v, std::size_t from, std::size_t to) {
    for (std::size_t k = from; k < to && k < v.size(); ++k) {
        if (std::bit_cast<std::uint32_t>(v[k]) != 0U) {
            return "frame " + std::to_string(k) + " is " + float_text(v[k]) + ", not 0";
        }
    }
    return "";
}

OscMsg msg(std::string address, std::vector<OscValue> args = {}) {
    return OscMsg{std::move(address), std::move(args)};
}

// Where a fade out of a constant `level` begins and ends, and what is wrong with it.
struct Fade {
    std::size_t begin = 0;  // first frame that is not `level`
    std::size_t end = 0;    // first frame of silence after it
    std::string problem;    // "" if it falls monotonically to exact silence and stays there
};

Fade find_fade(const std::vector<float>& v, std::size_t from, float level) {
    Fade f;
    f.begin = from;
    while (f.begin < v.size() && v[f.begin] == level) ++f.begin;
    if (f.begin == v.size()) {
        f.problem = "no fade: the level stays " + float_text(level) + " to the end";
        return f;
    }
    float previous = level;
    f.end = f.begin;
    for (; f.end < v.size() && v[f.end] != 0.0F; ++f.end) {
        if (v[f.end] > previous || v[f.end] < 0.0F) {
            f.problem = "not monotonic at frame " + std::to_string(f.end) + ": " +
                        float_text(v[f.end]) + " after " + float_text(previous);
            return f;
        }
        previous = v[f.end];
    }
    if (f.end == v.size()) {
        f.problem = "the fade does not reach silence within the recording";
        return f;
    }
    f.problem = silence_difference(v, f.end, v.size());
    if (!f.problem.empty()) f.problem = "signal after the fade: " + f.problem;
    return f;
}

class Timing : public IntegrationTest {
  protected:
    void SetUp() override {
        start_jack("looperd-timing-");
        if (IsSkipped() || HasFatalFailure()) return;
    }

    void TearDown() override {
        recorder_.reset();
        finish(daemon_, true, [this](std::ostream& out) { report_skipped(out, osc_.get()); });
    }

    void start_daemon(const std::vector<std::string>& extra_args = {}) {
        osc_port_ = pick_free_udp_port();
        std::vector<std::string> args = daemon_args(osc_port_);
        args.insert(args.end(), extra_args.begin(), extra_args.end());
        ASSERT_NO_FATAL_FAILURE(launch_daemon(daemon_, osc_, osc_port_, args));
    }

    void send(const std::string& address, const std::vector<OscValue>& args = {}) {
        osc_->send(osc_port_, address, args);
    }

    void send_bundle(std::uint64_t timetag, const std::vector<OscMsg>& messages) {
        osc_->send_bundle(osc_port_, timetag, messages);
    }

    // Sends settings, then a /ping, and fails if any /error came back before the /pong.
    void configure(const std::vector<OscMsg>& messages) {
        for (const auto& m : messages) send(m.address, m.args);
        send("/ping");
        const auto reply = osc_->wait_for_any({"/pong", "/error"}, kHangBound);
        ASSERT_TRUE(reply) << "no /pong within " << kHangBound.count() << " s";
        ASSERT_EQ(reply->address, "/pong") << "a setting was refused: " << reply->to_string();
    }

    // Writes `data` as a mono float WAV and loads it into slot `n`.
    void load_mono(int n, const std::string& name, const std::vector<float>& data) {
        write_wav(samples_ / name, 1, data);
        send(slot(n, "load"), {osc_string(name)});
        const auto reply = osc_->wait_for_any({slot(n, "loaded"), "/error"}, kHangBound);
        ASSERT_TRUE(reply) << "no reply to " << slot(n, "load") << " within " << kHangBound.count()
                           << " s";
        ASSERT_EQ(reply->address, slot(n, "loaded")) << reply->to_string();
        ASSERT_EQ(reply->args.size(), 4U) << reply->to_string();
        ASSERT_EQ(reply->args[1].i, static_cast<std::int64_t>(data.size())) << reply->to_string();
    }

    std::map<std::string, OscValue> status() {
        send("/status");
        const auto reply = osc_->wait_for("/status.reply", kHangBound);
        if (!reply)
            throw std::runtime_error("no /status.reply within " +
                                     std::to_string(kHangBound.count()) + " s");
        return status_pairs(*reply);
    }

    double status_value(const std::string& key) {
        const auto pairs = status();
        const auto it = pairs.find(key);
        if (it == pairs.end()) throw std::runtime_error("/status.reply has no " + key);
        return it->second.number();
    }

    // Polls /status until `done(value of key)` (up to `timeout`). Returns the last value.
    template <typename Done>
    double wait_status(const std::string& key, Done done, std::chrono::milliseconds timeout) {
        const auto deadline = Clock::now() + timeout;
        for (;;) {
            const double seen = status_value(key);
            if (done(seen) || Clock::now() >= deadline) return seen;
            std::this_thread::sleep_for(20ms);
        }
    }

    // Records looperd's out_1..out_`channels`.
    void record_outputs(std::size_t channels) {
        recorder_ = std::make_unique<JackRecorder>(jack_->name(), channels, 20s);
        ASSERT_EQ(recorder_->sample_rate(), kRate);
        ASSERT_EQ(recorder_->block_size(), kBlock);
        for (std::size_t c = 0; c < channels; ++c) {
            recorder_->connect("looperd:out_" + std::to_string(c + 1), c);
        }
        recorder_->start();
    }

    // Waits until channel `c` has a non-zero frame at or after `from` and `after` more frames
    // are recorded past it. Returns the recording and that frame.
    std::pair<Recording, std::size_t> wait_signal(std::size_t c, std::size_t from,
                                                  std::size_t after,
                                                  std::chrono::milliseconds timeout) {
        const auto deadline = Clock::now() + timeout;
        std::optional<std::size_t> start;
        for (;;) {
            auto rec = recorder_->snapshot();
            if (!start) start = first_nonzero(rec[c], from);
            if (start && rec[c].size() >= *start + after) return {std::move(rec), *start};
            if (Clock::now() >= deadline) {
                throw std::runtime_error(start ? "signal started but the recording stopped growing"
                                               : "no signal on out_" + std::to_string(c + 1) +
                                                     " from frame " + std::to_string(from) +
                                                     " in " + std::to_string(rec[c].size()) +
                                                     " recorded frames");
            }
            std::this_thread::sleep_for(10ms);
        }
    }

    // The recorder's frame count once looperd has taken every command sent before: it handles
    // datagrams in order on one thread, so by its /pong to a later /ping those commands are in
    // the engine's queue, for the first block that starts after. "At once" or "the next grid
    // line" counted from here holds however late a busy machine let looperd read them.
    std::size_t frames_once_taken() {
        send("/ping");
        if (!osc_->wait_for("/pong", kHangBound)) {
            throw std::runtime_error("no /pong within " + std::to_string(kHangBound.count()) +
                                     " s");
        }
        return recorder_->frames();
    }

    // Waits until `frames` more frames are recorded (bounded) and returns the recording.
    Recording record_more(std::size_t frames) {
        const std::size_t wanted = recorder_->frames() + frames;
        const std::size_t got = recorder_->wait_for_frames(wanted, kHangBound);
        if (got < wanted) throw std::runtime_error("the recording stopped growing");
        return recorder_->snapshot();
    }

    std::unique_ptr<ChildProcess> daemon_;
    std::unique_ptr<OscClient> osc_;
    std::unique_ptr<JackRecorder> recorder_;
    std::uint16_t osc_port_ = 0;
};

// A random pause, so a command meets the grid at an arbitrary phase; printed for a rerun.
std::chrono::milliseconds arbitrary_pause(std::mt19937& rng, int min_ms, int max_ms) {
    const int ms = std::uniform_int_distribution<int>(min_ms, max_ms)(rng);
    std::cout << "[   INFO   ] pause " << ms << " ms\n";
    return std::chrono::milliseconds(ms);
}

TEST_F(Timing, BundlesTenMillisecondsApartStartVoices480FramesApart) {
    ASSERT_NO_FATAL_FAILURE(start_daemon());
    // 240 frames each: the two voices of a pair never overlap, so each is found alone.
    const auto a = noise(240, 11);
    const auto b = noise(240, 12);
    ASSERT_NO_FATAL_FAILURE(load_mono(0, "a.wav", a));
    ASSERT_NO_FATAL_FAILURE(load_mono(1, "b.wav", b));
    ASSERT_NO_FATAL_FAILURE(record_outputs(1));
    TimebaseMaster clock(jack_->name());  // only reads JACK's clocks here

    // Where JACK's own clock estimate (jack_time_to_frames of each target, read by the test as
    // it sends) puts each timetag: printed beside the result, to show the absolute accuracy.
    // Its gaps vary with JACK's period estimate; the daemon's must not.
    // A bundle that reaches looperd after its time plays at once and is counted late (a busy
    // machine can hold a datagram for 200 ms): such a pair proves nothing about the gap, so
    // pairs are sent, each after the last was heard, until kPairs arrived in time.
    constexpr int kPairs = 10;
    constexpr int kMostPairs = 3 * kPairs;
    struct Pair {
        std::size_t a = 0;    // A's first recorded frame
        std::size_t end = 0;  // a recorded frame past both voices
        std::int64_t predicted_a = 0;
        std::int64_t predicted_b = 0;
        bool in_time = false;
    };
    std::vector<Pair> pairs;
    int pairs_in_time = 0;
    std::size_t heard = 0;
    double late = status_value("late");
    while (pairs_in_time < kPairs && static_cast<int>(pairs.size()) < kMostPairs) {
        Pair p;
        const jack_time_t jack_now = clock.now_usecs();
        const std::uint64_t t = ntp_from_now(200ms);
        send_bundle(t, {msg(slot(0, "play"))});
        send_bundle(t + kTenMsNtp, {msg(slot(1, "play"))});
        p.predicted_a = clock.time_to_frames(jack_now + 200000);
        p.predicted_b = clock.time_to_frames(jack_now + 210000);
        // Both are in the engine's queue by then: a late one plays in the next block.
        const std::size_t taken_by = frames_once_taken();
        p.a = wait_signal(0, heard, a.size(), kHangBound).second;
        // Past both voices, in time (B 480 frames after A) or late (B in a block after
        // taken_by); the late count then includes both.
        p.end = std::max(p.a + 480, taken_by + kBlock) + b.size() + kBlock;
        if (recorder_->wait_for_frames(p.end, kHangBound) < p.end) {
            FAIL() << "the recording stopped growing";
        }
        heard = p.end;
        const double late_now = status_value("late");
        p.in_time = late_now == late;
        late = late_now;
        pairs_in_time += p.in_time ? 1 : 0;
        pairs.push_back(p);
    }
    const auto rec = record_more(kRate / 2)[0];
    const std::int64_t rec_start = recorder_->start_frame();

    std::map<std::int64_t, int> spread;
    const std::size_t from = heard;
    for (std::size_t i = 0; i < pairs.size(); ++i) {
        SCOPED_TRACE("pair " + std::to_string(i));
        const Pair& p = pairs[i];
        if (!p.in_time) {
            std::cout << "[   INFO   ] pair " << i << ": late, not checked\n";
            continue;
        }
        ASSERT_EQ(bit_difference(rec, p.a, a), "") << "voice A";
        const auto at_b = first_nonzero(rec, p.a + a.size());
        ASSERT_TRUE(at_b && *at_b < p.end) << "voice B of pair " << i << " not found";
        ASSERT_EQ(bit_difference(rec, *at_b, b), "") << "voice B";
        EXPECT_EQ(silence_difference(rec, *at_b + b.size(), p.end), "") << "after voice B";
        const auto gap = static_cast<std::int64_t>(*at_b - p.a);
        ++spread[gap];
        const std::int64_t got_a = rec_start + static_cast<std::int64_t>(p.a);
        const std::int64_t got_b = rec_start + static_cast<std::int64_t>(*at_b);
        std::cout << "[   INFO   ] pair " << i << ": A at frame " << got_a
                  << " (jack_time_to_frames of the target " << p.predicted_a << ", " << std::showpos
                  << got_a - p.predicted_a << std::noshowpos << "), B at " << got_b << " ("
                  << std::showpos << got_b - p.predicted_b << std::noshowpos << "), gap " << gap
                  << " (its gap " << p.predicted_b - p.predicted_a << ")\n";
        EXPECT_EQ(gap, 480) << "voices of bundles timetagged 10 ms apart";
    }
    EXPECT_EQ(pairs_in_time, kPairs)
        << "of " << pairs.size() << " pairs, too few reached looperd before their timetag";
    std::ostringstream text;
    for (const auto& [gap, count] : spread) text << ' ' << gap << " frames: " << count << ';';
    std::cout << "[   INFO   ] gaps:" << text.str() << '\n';
    EXPECT_EQ(silence_difference(rec, from, rec.size()), "") << "a voice too many";
}

// Four slots, each routed to its own output pair, so each voice is recorded alone.
class TimingFourOutputs : public Timing {
  protected:
    static constexpr std::size_t kFrames = 2400;

    void load_four() {
        ASSERT_NO_FATAL_FAILURE(start_daemon({"--outputs", "8"}));
        for (int k = 0; k < 4; ++k) {
            samples_data_.push_back(noise(kFrames, 21 + static_cast<std::uint32_t>(k)));
            ASSERT_NO_FATAL_FAILURE(
                load_mono(k, "s" + std::to_string(k) + ".wav", samples_data_.back()));
        }
        std::vector<OscMsg> routing;
        for (int k = 0; k < 4; ++k) routing.push_back(msg(slot(k, "output"), {osc_int(k + 1)}));
        ASSERT_NO_FATAL_FAILURE(configure(routing));
        ASSERT_NO_FATAL_FAILURE(record_outputs(8));
    }

    // Plays slots 0..3 from one bundle with `timetag` and checks that all four begin on one
    // frame, at or after `from`, bit-exact. Returns the frame past the voices.
    std::size_t play_four(std::uint64_t timetag, std::size_t from) {
        std::vector<OscMsg> plays;
        for (int k = 0; k < 4; ++k) plays.push_back(msg(slot(k, "play")));
        send_bundle(timetag, plays);
        const auto [rec, first] = wait_signal(0, from, kFrames + kRate / 10, kHangBound);
        std::vector<std::size_t> onsets;
        for (std::size_t k = 0; k < 4; ++k) {
            SCOPED_TRACE("slot " + std::to_string(k) + " on out_" + std::to_string(2 * k + 1) +
                         " and out_" + std::to_string(2 * k + 2));
            const auto at = first_nonzero(rec[2 * k], from);
            EXPECT_TRUE(at) << "slot " << k << " did not sound on its output pair";
            if (!at) continue;
            onsets.push_back(*at);
            EXPECT_EQ(bit_difference(rec[2 * k], *at, samples_data_[k]), "");
            EXPECT_EQ(bit_difference(rec[2 * k + 1], *at, samples_data_[k]), "");
            EXPECT_EQ(silence_difference(rec[2 * k + 1], from, *at), "");
            EXPECT_EQ(silence_difference(rec[2 * k], *at + kFrames, rec[2 * k].size()), "");
        }
        std::cout << "[   INFO   ] onsets:";
        for (const auto o : onsets) {
            std::cout << ' ' << o << " (JACK frame " << recorder_->start_frame() + o << ")";
        }
        std::cout << '\n';
        for (const auto o : onsets) EXPECT_EQ(o, first) << "not on the frame slot 0 started";
        return first + kFrames;
    }

    std::vector<std::vector<float>> samples_data_;
};

TEST_F(TimingFourOutputs, OneBundleStartsFourSlotsOnTheSameFrame) {
    ASSERT_NO_FATAL_FAILURE(load_four());
    const std::size_t end = play_four(ntp_from_now(200ms), 0);
    if (HasFailure()) return;
    std::cout << "[   INFO   ] timetag now + 200 ms: voices ended at recorded frame " << end
              << '\n';
}

TEST_F(TimingFourOutputs, OneImmediateBundleStartsFourSlotsOnTheSameFrame) {
    ASSERT_NO_FATAL_FAILURE(load_four());
    // Several times: "immediately" must not depend on where in a cycle the bundle arrives.
    std::size_t from = 0;
    std::mt19937 rng(std::random_device{}());
    for (int round = 0; round < 5 && !HasFailure(); ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        from = play_four(kImmediately, from);
        std::this_thread::sleep_for(arbitrary_pause(rng, 1, 50));
    }
}

TEST_F(Timing, QuantizedPlayLandsOnTheJackTimebaseMastersBarLine) {
    ASSERT_NO_FATAL_FAILURE(start_daemon());
    constexpr std::size_t kFrames = 4800;
    const auto data = noise(kFrames, 31);
    ASSERT_NO_FATAL_FAILURE(load_mono(0, "hit.wav", data));
    ASSERT_NO_FATAL_FAILURE(record_outputs(1));

    // 150 BPM in 3/4 (not the daemon's 120 in 4/4): 19200 frames a beat, 57600 a bar. The
    // transport starts at a frame that is no multiple of the block, so bar lines fall inside
    // blocks.
    TimebaseMaster master(jack_->name());
    master.become_master(150, 3);
    const std::int64_t bar = master.frames_per_bar();
    ASSERT_EQ(bar, 57600);
    master.locate(12345);
    master.start_transport();
    const auto offset = master.wait_rolling(20, kHangBound);
    ASSERT_TRUE(offset) << "the transport did not roll within " << kHangBound.count() << " s";

    ASSERT_NO_FATAL_FAILURE(configure(
        {msg("/clock/sync", {osc_string("jack")}), msg(slot(0, "quantize"), {osc_string("bar")})}));

    std::mt19937 rng(std::random_device{}());
    std::size_t from = 0;
    const std::int64_t rec_start = recorder_->start_frame();
    for (int round = 0; round < 3; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        std::this_thread::sleep_for(arbitrary_pause(rng, 0, 1000));
        const std::size_t sent_at = recorder_->frames();
        send(slot(0, "play"));
        const std::size_t taken_by = frames_once_taken();
        const auto [rec, at] = wait_signal(0, from, kFrames, kHangBound);
        ASSERT_EQ(bit_difference(rec[0], at, data), "") << "the voice's first frames";
        // Transport frame of the voice's first frame.
        const std::int64_t transport = rec_start + static_cast<std::int64_t>(at) - *offset;
        const std::int64_t sent_transport =
            rec_start + static_cast<std::int64_t>(sent_at) - *offset;
        const std::int64_t taken_transport =
            rec_start + static_cast<std::int64_t>(taken_by) - *offset;
        std::cout << "[   INFO   ] sent near transport frame " << sent_transport
                  << ", voice at transport frame " << transport << " = bar " << transport / bar + 1
                  << " + " << transport % bar << " frames\n";
        EXPECT_EQ(transport % bar, 0) << "not on a bar line of the timebase master";
        EXPECT_GE(transport, sent_transport) << "before the command was sent";
        EXPECT_LT(transport - taken_transport, bar + 2400)
            << "not the next bar line after looperd took the command";
        from = at + kFrames;
    }
    EXPECT_EQ(master.offset_changes(), 0U) << "the transport relocated or skipped a cycle";
    EXPECT_EQ(master.bbt_mismatches(), 0U)
        << "of " << master.bbt_cycles() << " cycles, the BBT JACK reported differed from "
        << "the master's formula";
    // jackd runs synchronously, so an xrun delays a cycle but loses no frame; it is only noted.
    std::cout << "[   INFO   ] xruns seen by the recorder: " << recorder_->xruns() << '\n';
}

TEST_F(Timing, QuantizedPlayLandsOnTheInternalClocksBeatAndBarGrid) {
    ASSERT_NO_FATAL_FAILURE(start_daemon());
    const auto marker = noise(480, 41);
    const auto beat_hit = noise(4800, 42);
    const auto bar_hit = noise(4800, 43);
    ASSERT_NO_FATAL_FAILURE(load_mono(1, "marker.wav", marker));
    ASSERT_NO_FATAL_FAILURE(load_mono(0, "beat.wav", beat_hit));
    ASSERT_NO_FATAL_FAILURE(load_mono(2, "bar.wav", bar_hit));
    // 90 BPM in 3/4: 32000 frames a beat, 96000 a bar.
    constexpr std::int64_t kBeat = 32000;
    constexpr std::int64_t kBar = 3 * kBeat;
    ASSERT_NO_FATAL_FAILURE(
        configure({msg("/clock/tempo", {osc_float(90.0F)}), msg("/clock/meter", {osc_int(3)}),
                   msg(slot(0, "quantize"), {osc_string("beat")}),
                   msg(slot(2, "quantize"), {osc_string("bar")})}));
    ASSERT_NO_FATAL_FAILURE(record_outputs(1));

    // The reset and the unquantized marker share a bundle, hence a frame: the marker's first
    // frame is the grid's origin.
    send_bundle(ntp_from_now(200ms), {msg("/clock/reset"), msg(slot(1, "play"))});
    const auto [first, origin] = wait_signal(0, 0, marker.size(), kHangBound);
    ASSERT_EQ(bit_difference(first[0], origin, marker), "") << "the marker";
    std::cout << "[   INFO   ] grid origin at recorded frame " << origin << " (block offset "
              << (recorder_->start_frame() + origin) % kBlock << ")\n";

    std::mt19937 rng(std::random_device{}());
    std::size_t from = origin + marker.size();
    const std::vector<std::tuple<int, const std::vector<float>*, std::int64_t, const char*>> plays =
        {{0, &beat_hit, kBeat, "beat"}, {2, &bar_hit, kBar, "bar"}, {0, &beat_hit, kBeat, "beat"}};
    for (const auto& [n, data, grid, name] : plays) {
        SCOPED_TRACE(std::string("quantize ") + name);
        std::this_thread::sleep_for(arbitrary_pause(rng, 0, 700));
        const std::size_t sent_at = recorder_->frames();
        send(slot(n, "play"));
        const std::size_t taken_by = frames_once_taken();
        const auto [rec, at] = wait_signal(0, from, data->size(), kHangBound);
        ASSERT_EQ(bit_difference(rec[0], at, *data), "") << "the voice's first frames";
        const auto since_origin = static_cast<std::int64_t>(at - origin);
        std::cout << "[   INFO   ] sent near " << static_cast<std::int64_t>(sent_at - origin)
                  << " frames after the origin, voice at " << since_origin << " = "
                  << since_origin / grid << " " << name << "s + " << since_origin % grid << '\n';
        EXPECT_EQ(since_origin % grid, 0) << "not on a " << name << " line";
        EXPECT_GE(at, sent_at) << "before the command was sent";
        EXPECT_LT(static_cast<std::int64_t>(at) - static_cast<std::int64_t>(taken_by), grid + 2400)
            << "not the next " << name << " line after looperd took the command";
        from = at + data->size();
    }
}

TEST_F(Timing, LateBundlePlaysAtOnceAndIsCounted) {
    ASSERT_NO_FATAL_FAILURE(start_daemon());
    const auto data = noise(4800, 51);
    ASSERT_NO_FATAL_FAILURE(load_mono(0, "late.wav", data));
    auto s = status();
    ASSERT_TRUE(s.contains("late")) << "/status.reply has no late";
    ASSERT_TRUE(s.contains("scheduled_refused")) << "/status.reply has no scheduled_refused";
    EXPECT_EQ(s["late"].number(), 0);
    EXPECT_EQ(s["scheduled_refused"].number(), 0);
    ASSERT_NO_FATAL_FAILURE(record_outputs(1));

    const std::size_t sent_at = recorder_->frames();
    send_bundle(ntp_from_now(-1s), {msg(slot(0, "play"))});
    const std::size_t taken_by = frames_once_taken();
    const auto [rec, at] = wait_signal(0, 0, data.size() + kRate / 10, kHangBound);
    std::cout << "[   INFO   ] a bundle 1 s late played " << at - sent_at
              << " frames after the recorder's count at sending\n";
    EXPECT_GE(at, sent_at);
    EXPECT_LE(at, taken_by + kRate / 10) << "not at once once looperd took it";
    EXPECT_EQ(bit_difference(rec[0], at, data), "") << "not from its first frame";
    EXPECT_EQ(silence_difference(rec[0], at + data.size(), rec[0].size()), "");
    EXPECT_GE(wait_status(
                  "late", [](double v) { return v >= 1; }, 3s),
              1);
    EXPECT_EQ(status_value("scheduled_refused"), 0);
}

// A 2 s constant 0.5: any change of level is the daemon's doing.
class TimingModes : public Timing {
  protected:
    static constexpr float kLevel = 0.5F;
    static constexpr std::size_t kFrames = 2 * kRate;

    void load_dc(const std::string& mode) {
        ASSERT_NO_FATAL_FAILURE(start_daemon());
        ASSERT_NO_FATAL_FAILURE(load_mono(0, "dc.wav", std::vector<float>(kFrames, kLevel)));
        ASSERT_NO_FATAL_FAILURE(configure(
            {msg(slot(0, "mode"), {osc_string(mode)}), msg(slot(0, "fade_out"), {osc_float(10)})}));
        ASSERT_NO_FATAL_FAILURE(record_outputs(1));
    }

    // Sends `play` with `args` while the voice sounds, and checks that it fades out (10 ms)
    // after it was sent and stays silent. Returns the frame of silence.
    std::size_t expect_fade_after(const std::vector<OscValue>& args, std::size_t onset) {
        const std::size_t sent_at = recorder_->frames();
        send(slot(0, "play"), args);
        const std::size_t taken_by = frames_once_taken();
        const auto rec = record_more(kRate / 4)[0];
        const Fade f = find_fade(rec, onset, kLevel);
        EXPECT_EQ(f.problem, "");
        EXPECT_GE(f.begin, sent_at) << "the fade began before the command was sent";
        EXPECT_LE(f.begin, taken_by + kRate / 10) << "the fade began late";
        // 10 ms is 480 frames: whatever the curve, between 5 and 20 ms.
        EXPECT_GE(f.end - f.begin, 240U) << "a cut, not a 10 ms fade";
        EXPECT_LE(f.end - f.begin, 960U) << "longer than a 10 ms fade";
        std::cout << "[   INFO   ] faded over " << f.end - f.begin << " frames, "
                  << f.begin - sent_at << " frames after sending\n";
        EXPECT_EQ(wait_status(
                      "voices", [](double v) { return v == 0; }, 3s),
                  0);
        return f.end;
    }
};

TEST_F(TimingModes, GatePlaysWhileHeldAndFadesOutOnRelease) {
    ASSERT_NO_FATAL_FAILURE(load_dc("gate"));
    send(slot(0, "play"), {osc_float(1.0F)});
    const auto [rec, onset] = wait_signal(0, 0, kRate * 3 / 10, kHangBound);
    ASSERT_EQ(bit_difference(rec[0], onset, std::vector<float>(kRate * 3 / 10, kLevel)), "")
        << "not playing while held";
    ASSERT_NO_FATAL_FAILURE(expect_fade_after({osc_int(0)}, onset));
}

TEST_F(TimingModes, ToggleStartsOnOnePressAndFadesOutOnTheNext) {
    ASSERT_NO_FATAL_FAILURE(load_dc("toggle"));
    send(slot(0, "play"));
    const auto [rec, onset] = wait_signal(0, 0, kRate / 10, kHangBound);
    // A release is no press: it changes nothing.
    send(slot(0, "play"), {osc_float(0.0F)});
    const auto held = record_more(kRate / 5)[0];
    ASSERT_EQ(bit_difference(held, onset, std::vector<float>(held.size() - onset, kLevel)), "")
        << "the first press did not keep it playing (or a release stopped it)";
    const std::size_t silent = expect_fade_after({}, onset);
    // A third press starts it again.
    send(slot(0, "play"), {osc_float(1.0F)});
    const auto [again, restart] = wait_signal(0, silent, kRate / 10, kHangBound);
    EXPECT_EQ(bit_difference(again[0], restart, std::vector<float>(kRate / 10, kLevel)), "")
        << "the third press did not start it";
}

TEST_F(Timing, ReleaseIsIgnoredByAOneShot) {
    ASSERT_NO_FATAL_FAILURE(start_daemon());
    const auto data = noise(kRate / 2, 61);
    ASSERT_NO_FATAL_FAILURE(load_mono(0, "oneshot.wav", data));
    ASSERT_NO_FATAL_FAILURE(record_outputs(1));
    send(slot(0, "play"));
    const auto [rec0, onset] = wait_signal(0, 0, kBlock, kHangBound);
    send(slot(0, "play"), {osc_int(0)});
    const auto [rec, at] = wait_signal(0, onset, data.size() + kRate / 10, kHangBound);
    EXPECT_EQ(bit_difference(rec[0], at, data), "") << "the release changed the one-shot";
    EXPECT_EQ(silence_difference(rec[0], at + data.size(), rec[0].size()), "");
}

#ifdef LOOPERD_HAVE_LINK
// The test's own Ableton Link peer, in this process: a Link session and a JACK client that
// clicks (a single sample of 1.0) on each of the session's bar lines. Its cycle's time is JACK's
// own (jack_get_cycle_times: the server's delay-locked loop, the same for every client of the
// cycle), as looperd's is: Link's JACK example fits a line through its own wake-ups instead,
// which a busy machine delays by tens of milliseconds, differently for each process. Recorded
// beside looperd's output, a launch quantized to the bar is compared with the peer's bar line
// frame by frame, as two apps' outputs on one sound card would be.
class LinkClicker {
  public:
    LinkClicker(const std::string& server_name, double bpm, double quantum)
        : link_(bpm), quantum_(quantum) {
        jack_status_t status{};
        client_ = jack_client_open("looperd-test-link-peer",
                                   static_cast<jack_options_t>(JackNoStartServer | JackServerName),
                                   &status, server_name.c_str());
        if (client_ == nullptr) throw std::runtime_error("cannot open the Link peer's client");
        port_ = jack_port_register(client_, "out", JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput, 0);
        rate_ = jack_get_sample_rate(client_);
        jack_set_process_callback(client_, &LinkClicker::process_trampoline, this);
        link_.enableStartStopSync(true);
        link_.enable(true);
        if (port_ == nullptr || jack_activate(client_) != 0)
            throw std::runtime_error("cannot start the Link peer's client");
    }
    ~LinkClicker() {
        jack_deactivate(client_);
        jack_client_close(client_);
        link_.enable(false);
    }
    LinkClicker(const LinkClicker&) = delete;
    LinkClicker& operator=(const LinkClicker&) = delete;

    std::string port() const { return std::string(jack_get_client_name(client_)) + ":out"; }
    void set_tempo(double bpm) {
        auto state = link_.captureAppSessionState();
        state.setTempo(bpm, link_.clock().micros());
        link_.commitAppSessionState(state);
    }
    double tempo() const { return link_.captureAppSessionState().tempo(); }
    // Starts or stops the session now, as a peer's play and stop buttons do.
    void set_playing(bool playing) {
        auto state = link_.captureAppSessionState();
        state.setIsPlaying(playing, link_.clock().micros());
        link_.commitAppSessionState(state);
    }

  private:
    static int process_trampoline(jack_nframes_t n, void* self) {
        return static_cast<LinkClicker*>(self)->process(n);
    }
    int process(jack_nframes_t n) {
        auto* out = static_cast<float*>(jack_port_get_buffer(port_, n));
        std::fill_n(out, n, 0.0F);
        jack_nframes_t current_frames = 0;
        jack_time_t current_usecs = 0;
        jack_time_t next_usecs = 0;
        float period_usecs = 0.0F;
        if (jack_get_cycle_times(client_, &current_frames, &current_usecs, &next_usecs,
                                 &period_usecs) != 0 ||
            current_usecs == 0)
            return 0;
        // JACK's clock onto Link's (both CLOCK_MONOTONIC_RAW with JACK2 on Linux).
        const double begins = static_cast<double>(current_usecs) +
                              (static_cast<double>(link_.clock().micros().count()) -
                               static_cast<double>(jack_get_time()));
        const auto state = link_.captureAudioSessionState();
        const auto at = [](double micros) {
            return std::chrono::microseconds(std::llround(micros));
        };
        const double first = state.beatAtTime(at(begins), quantum_);
        const double last = state.beatAtTime(at(begins + 1e6 * n / rate_), quantum_);
        const double bar = quantum_ * std::ceil(first / quantum_);
        if (bar >= first && bar < last) {
            const auto k =
                static_cast<jack_nframes_t>(std::llround((bar - first) / (last - first) * n));
            if (k < n) out[k] = 1.0F;
        }
        return 0;
    }

    ableton::Link link_;
    double quantum_;
    jack_client_t* client_ = nullptr;
    jack_port_t* port_ = nullptr;
    double rate_ = 48000.0;
};

// The frame of the peer's click nearest to `frame` in channel 1, and its distance in ms
// (positive: `frame` is after the click).
std::optional<double> ms_from_nearest_click(const Recording& rec, std::size_t frame) {
    std::optional<std::size_t> click;
    const auto distance = [frame](std::size_t f) { return f > frame ? f - frame : frame - f; };
    for (std::size_t k = 0; k < rec[1].size(); ++k)
        if (rec[1][k] != 0.0F && (!click || distance(k) < distance(*click))) click = k;
    if (!click) return std::nullopt;
    return (static_cast<double>(frame) - static_cast<double>(*click)) * 1000.0 /
           static_cast<double>(kRate);
}

// An xrun (a JACK cycle that looperd, the peer or the recorder missed on a busy machine) can
// shift one recorded output against the other: a launch heard off the bar across one proves
// nothing about where looperd put it, and is tried again (looperd counts xruns: /status). One
// off the bar without an xrun fails.
constexpr int kLaunchAttempts = 5;

// looperd joins the peer's session (the older one) and takes its tempo; tempos go both ways; a
// launch quantized to the bar sounds on the peer's bar line (Link's AUDIOENGINE-1 asks for less
// than 3 ms). The figures are printed.
TEST_F(Timing, LinkTempoGoesBothWaysAndABarLaunchSoundsOnTheSessionsBar) {
    constexpr double kQuantum = 4.0;
    LinkClicker peer(jack_->name(), 128.0, kQuantum);
    const auto peer_began = Clock::now();
    ASSERT_NO_FATAL_FAILURE(start_daemon());
    // Link sessions founded less than 0.5 s apart are told apart by their random ids: 1.5 s
    // makes the peer's the older, which every newcomer joins.
    std::this_thread::sleep_until(peer_began + 1500ms);
    ASSERT_NO_FATAL_FAILURE(
        configure({{"/clock/meter", {osc_int(4)}}, {"/clock/sync", {osc_string("link")}}}));
    EXPECT_GE(wait_status(
                  "link_peers", [](double v) { return v >= 1.0; }, 20s),
              1.0)
        << "looperd never saw the test's Link peer";
    // The peer's session began first: looperd, enabled later, joins it and takes its tempo.
    EXPECT_NEAR(wait_status(
                    "tempo", [](double v) { return std::abs(v - 128.0) < 0.01; }, 10s),
                128.0, 0.01);

    // A tempo set on the peer: looperd's grid follows.
    auto began = Clock::now();
    peer.set_tempo(133.5);
    EXPECT_NEAR(wait_status(
                    "tempo", [](double v) { return std::abs(v - 133.5) < 0.01; }, 10s),
                133.5, 0.01);
    const auto to_looperd = Clock::now() - began;

    // A tempo set on looperd: the session, and so the peer, follows.
    began = Clock::now();
    ASSERT_NO_FATAL_FAILURE(configure({{"/clock/tempo", {osc_float(240.0F)}}}));
    const auto deadline = Clock::now() + 10s;
    while (std::abs(peer.tempo() - 240.0) >= 0.01 && Clock::now() < deadline)
        std::this_thread::sleep_for(5ms);
    EXPECT_NEAR(peer.tempo(), 240.0, 0.01);
    const auto to_peer = Clock::now() - began;
    std::cout << "Link tempo: peer to looperd's /status in "
              << std::chrono::duration<double, std::milli>(to_looperd).count()
              << " ms, looperd to peer in "
              << std::chrono::duration<double, std::milli>(to_peer).count() << " ms\n";

    // A launch on the next bar, at 240 BPM (a bar a second), recorded beside the peer's clicks.
    ASSERT_NO_FATAL_FAILURE(load_mono(0, "click.wav", noise(4800, 17)));
    ASSERT_NO_FATAL_FAILURE(configure({{slot(0, "quantize"), {osc_string("bar")}}}));
    recorder_ = std::make_unique<JackRecorder>(jack_->name(), 2, 40s);
    recorder_->connect("looperd:out_1", 0);
    recorder_->connect(peer.port(), 1);
    recorder_->start();
    std::optional<double> off_ms;
    for (int attempt = 1; attempt <= kLaunchAttempts && !off_ms; ++attempt) {
        const double xruns = status_value("xruns");
        const std::size_t from = recorder_->frames();
        send(slot(0, "play"));
        const auto [rec, onset] = wait_signal(0, from, kRate, kHangBound);
        off_ms = ms_from_nearest_click(rec, onset);
        ASSERT_TRUE(off_ms) << "the Link peer never clicked";
        if (std::abs(*off_ms) >= 3.0 && status_value("xruns") != xruns &&
            attempt < kLaunchAttempts) {
            std::cout << "[   INFO   ] launch " << attempt << " " << *off_ms
                      << " ms off, across an xrun: again\n";
            off_ms.reset();
        }
    }
    std::cout << "Link bar launch: looperd's onset " << *off_ms
              << " ms from the peer's bar line click\n";
    RecordProperty("link_bar_launch_ms", std::to_string(*off_ms));
    EXPECT_LT(std::abs(*off_ms), 3.0) << "the launch is off the session's bar line";
}

// Start/stop sync: a peer's stop stops looperd's loop, and its start plays it again from the
// top on the session's next bar line, beside the peer's click. Joining the playing session
// started nothing.
TEST_F(Timing, LinkStartAndStopFromAPeerStopAndRestartTheLoopOnTheBar) {
    constexpr double kQuantum = 4.0;
    LinkClicker peer(jack_->name(), 240.0, kQuantum);  // a bar a second
    peer.set_playing(true);
    const auto peer_began = Clock::now();
    ASSERT_NO_FATAL_FAILURE(start_daemon());
    std::this_thread::sleep_until(peer_began + 1500ms);  // the peer's session is the older
    const auto data = noise(kRate / 2, 23);              // a half-second loop
    ASSERT_NO_FATAL_FAILURE(load_mono(0, "loop.wav", data));
    ASSERT_NO_FATAL_FAILURE(configure({{slot(0, "mode"), {osc_string("loop")}},
                                       {"/clock/meter", {osc_int(4)}},
                                       {"/clock/sync", {osc_string("link")}}}));
    EXPECT_GE(wait_status(
                  "link_peers", [](double v) { return v >= 1.0; }, 20s),
              1.0)
        << "looperd never saw the test's Link peer";
    EXPECT_NEAR(wait_status(
                    "tempo", [](double v) { return std::abs(v - 240.0) < 0.01; }, 10s),
                240.0, 0.01);
    recorder_ = std::make_unique<JackRecorder>(jack_->name(), 2, 40s);
    recorder_->connect("looperd:out_1", 0);
    recorder_->connect(peer.port(), 1);
    recorder_->start();
    send(slot(0, "play"));
    const auto [rec, onset] = wait_signal(0, 0, kRate / 10, kHangBound);

    std::optional<double> off_ms;
    for (int attempt = 1; attempt <= kLaunchAttempts && !off_ms; ++attempt) {
        // The peer stops: the loop fades out and stays silent.
        peer.set_playing(false);
        const std::size_t stopped_at = recorder_->frames();
        const auto deadline = Clock::now() + kHangBound;
        std::optional<std::size_t> silent_from;
        while (!silent_from && Clock::now() < deadline) {
            const auto now = record_more(kRate / 10);
            std::size_t zeros = 0;
            for (std::size_t k = stopped_at; k < now[0].size() && !silent_from; ++k) {
                zeros = now[0][k] == 0.0F ? zeros + 1 : 0;
                if (zeros == kRate / 2) silent_from = k + 1 - zeros;
            }
        }
        ASSERT_TRUE(silent_from) << "the loop did not stop with the session";

        // The peer starts: the loop plays again from its first frame, on the session's bar.
        const double xruns = status_value("xruns");
        peer.set_playing(true);
        const auto [again, restart] = wait_signal(0, *silent_from, kRate / 4, kHangBound);
        EXPECT_EQ(bit_difference(again[0], restart,
                                 std::vector<float>(data.begin(), data.begin() + kRate / 4)),
                  "")
            << "the loop did not start again from the top";
        off_ms = ms_from_nearest_click(again, restart);
        ASSERT_TRUE(off_ms) << "the Link peer never clicked";
        if (std::abs(*off_ms) >= 3.0 && status_value("xruns") != xruns &&
            attempt < kLaunchAttempts) {
            std::cout << "[   INFO   ] start " << attempt << " " << *off_ms
                      << " ms off, across an xrun: again\n";
            off_ms.reset();
        }
    }
    std::cout << "Link start: looperd's loop " << *off_ms << " ms from the peer's bar line click\n";
    RecordProperty("link_start_ms", std::to_string(*off_ms));
    EXPECT_LT(std::abs(*off_ms), 3.0) << "the start is off the session's bar line";
}
#endif  // LOOPERD_HAVE_LINK

}  // namespace
}  // namespace looperd::test
