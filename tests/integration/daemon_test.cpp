// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// looperd against a real jackd (dummy backend, 48 kHz, 128-frame periods): each test starts
// its own server and daemon, drives the daemon over OSC and records its outputs with the
// test's own JACK client. Audio is checked bit for bit.

#include <gtest/gtest.h>
#include <sndfile.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bit>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "fixtures.hpp"
#include "jack_recorder.hpp"
#include "jack_server.hpp"
#include "osc_client.hpp"
#include "unit/signal_measure.hpp"

namespace looperd::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Recording = std::vector<std::vector<float>>;

constexpr std::uint32_t kRate = 48000;
constexpr std::uint32_t kBlock = 128;

// Channel `c` of an interleaved buffer.
std::vector<float> channel_of(const std::vector<float>& interleaved, std::size_t channels,
                              std::size_t c) {
    std::vector<float> out;
    for (std::size_t k = c; k < interleaved.size(); k += channels) out.push_back(interleaved[k]);
    return out;
}

// "0.42279458 (0x3ed87896)": enough digits and the bits, since a one-ulp error must show.
std::string float_text(float v) {
    char text[64];
    std::snprintf(text, sizeof text, "%.9g (0x%08x)", static_cast<double>(v),
                  std::bit_cast<std::uint32_t>(v));
    return text;
}

// Compares got[at + k] with want(k) bit for bit for k < n. Returns "" or the first difference.
template <typename Want>
std::string bit_difference(const std::vector<float>& got, std::size_t at, std::size_t n,
                           Want want) {
    if (at + n > got.size()) {
        return "recording too short: need " + std::to_string(at + n) + " frames, have " +
               std::to_string(got.size());
    }
    for (std::size_t k = 0; k < n; ++k) {
        const float w = want(k);
        if (std::bit_cast<std::uint32_t>(got[at + k]) != std::bit_cast<std::uint32_t>(w)) {
            return "frame " + std::to_string(at + k) + " (sample frame " + std::to_string(k) +
                   "): got " + float_text(got[at + k]) + ", want " + float_text(w);
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

class Daemon : public IntegrationTest {
  protected:
    void SetUp() override {
        start_jack("looperd-it-");
        if (IsSkipped() || HasFatalFailure()) return;
        ASSERT_NO_FATAL_FAILURE(start_daemon());
    }

    void TearDown() override {
        if (recorder_ && HasFailure()) save_recording(dir_ / "recorded.wav");
        recorder_.reset();
        finish(daemon_, expect_clean_exit_,
               [this](std::ostream& out) { report_skipped(out, osc_.get()); });
    }

    // Writes what the recorder holds as a float WAV, for a look after a failure.
    void save_recording(const fs::path& path) const {
        const auto rec = recorder_->snapshot();
        std::vector<float> interleaved;
        interleaved.reserve(rec[0].size() * rec.size());
        for (std::size_t k = 0; k < rec[0].size(); ++k) {
            for (const auto& channel : rec) interleaved.push_back(channel[k]);
        }
        try {
            write_wav(path, static_cast<int>(rec.size()), interleaved);
            std::cerr << "(recording saved to " << path << ")\n";
        } catch (const std::exception& e) {
            std::cerr << e.what() << '\n';
        }
    }

    void start_daemon() {
        osc_port_ = pick_free_udp_port();
        std::vector<std::string> args = daemon_args(osc_port_);
        // Recording stays on, with little memory: the start does not wait for 300 MiB to be
        // touched.
        args.insert(args.end(), {"--max-record-seconds", "2", "--undo-memory-mib", "4"});
        args.insert(args.end(), extra_args_.begin(), extra_args_.end());
        std::string env = "JACK_DEFAULT_SERVER=" + jack_->name();
        if (server_by_flag_) {
            // The flag must win over the environment.
            args.insert(args.end(), {"--jack-server", jack_->name()});
            env = "JACK_DEFAULT_SERVER=looperd-test-no-such-server";
        }
        ASSERT_NO_FATAL_FAILURE(
            launch_daemon(daemon_, osc_, osc_port_, args, std::vector<std::string>{env}));
    }

    void send(const std::string& address, const std::vector<OscValue>& args = {}) {
        osc_->send(osc_port_, address, args);
    }

    static std::string slot(int n, const std::string& what) {
        return "/slot/" + std::to_string(n) + "/" + what;
    }

    // Loads `path` into slot `n` and checks the /loaded reply's frames, channels and seconds.
    void load(int n, const std::string& path, int frames, int channels) {
        send(slot(n, "load"), {osc_string(path)});
        const auto reply = osc_->wait_for_any({slot(n, "loaded"), "/error"}, kHangBound);
        ASSERT_TRUE(reply) << "no reply to " << slot(n, "load") << " within " << kHangBound.count()
                           << " s";
        ASSERT_EQ(reply->address, slot(n, "loaded")) << reply->to_string();
        ASSERT_EQ(reply->type_tags(), "siif") << reply->to_string();
        EXPECT_TRUE(reply->args[0].s.ends_with(path)) << reply->to_string();
        EXPECT_EQ(reply->args[1].i, frames) << reply->to_string();
        EXPECT_EQ(reply->args[2].i, channels) << reply->to_string();
        EXPECT_NEAR(reply->args[3].f, static_cast<double>(frames) / kRate, 1e-6)
            << reply->to_string();
    }

    std::map<std::string, OscValue> status() {
        send("/status");
        const auto reply = osc_->wait_for("/status.reply", kHangBound);
        if (!reply)
            throw std::runtime_error("no /status.reply within " +
                                     std::to_string(kHangBound.count()) + " s");
        return status_pairs(*reply);
    }

    // Polls /status until `key` equals `value` (up to `timeout`). Returns the last value seen.
    double wait_status(const std::string& key, double value, std::chrono::milliseconds timeout) {
        const auto deadline = Clock::now() + timeout;
        for (;;) {
            const auto pairs = status();
            const auto it = pairs.find(key);
            if (it == pairs.end()) throw std::runtime_error("/status.reply has no " + key);
            const double seen = it->second.number();
            if (seen == value || Clock::now() >= deadline) return seen;
            std::this_thread::sleep_for(20ms);
        }
    }

    // Sends a bad message and expects /error naming its address, with a reason.
    void expect_error(const std::string& address, const std::vector<OscValue>& args = {}) {
        send(address, args);
        const auto reply = osc_->wait_for("/error", kHangBound);
        ASSERT_TRUE(reply) << "no /error within " << kHangBound.count() << " s for " << address;
        ASSERT_GE(reply->args.size(), 2U) << reply->to_string();
        EXPECT_EQ(reply->args[0].type, 's') << reply->to_string();
        EXPECT_EQ(reply->args[0].s, address) << reply->to_string();
        EXPECT_EQ(reply->args[1].type, 's') << reply->to_string();
        EXPECT_FALSE(reply->args[1].s.empty()) << reply->to_string();
    }

    void record_outputs() {
        recorder_ = std::make_unique<JackRecorder>(jack_->name(), 2, 20s);
        ASSERT_EQ(recorder_->sample_rate(), kRate);
        ASSERT_EQ(recorder_->block_size(), kBlock);
        recorder_->connect("looperd:out_1", 0);
        recorder_->connect("looperd:out_2", 1);
    }

    // Waits until out_1 carries signal and `after` more frames are recorded past its first
    // non-zero frame. Returns the recording and that frame.
    std::pair<Recording, std::size_t> record_from_signal(std::size_t after,
                                                         std::chrono::milliseconds timeout) {
        const auto deadline = Clock::now() + timeout;
        std::optional<std::size_t> start;
        for (;;) {
            auto rec = recorder_->snapshot();
            if (!start) start = first_nonzero(rec[0]);
            if (start && rec[0].size() >= *start + after) return {std::move(rec), *start};
            if (Clock::now() >= deadline) {
                throw std::runtime_error(start ? "signal started but the recording stopped growing"
                                               : "no signal on out_1 after " +
                                                     std::to_string(rec[0].size()) +
                                                     " recorded frames");
            }
            std::this_thread::sleep_for(10ms);
        }
    }

    // Plays a constant 0.5 stereo loop, then sends `address` (stop or unload) and checks the
    // fade: from 0.5 down to exact silence, monotonic, with no step larger than 4x an even
    // 5 ms ramp, within 20 ms.
    void check_fade_out_on(const std::string& address) {
        constexpr int kFrames = 4800;
        constexpr float kLevel = 0.5F;
        write_wav(samples_ / "dc.wav", 2, std::vector<float>(kFrames * 2, kLevel));
        ASSERT_NO_FATAL_FAILURE(load(0, "dc.wav", kFrames, 2));
        send(slot(0, "loop"), {osc_int(1)});
        ASSERT_NO_FATAL_FAILURE(record_outputs());
        recorder_->start();
        send(slot(0, "play"));
        // Two whole loops first, so looping is proven before the fade.
        const auto before = record_from_signal(2 * kFrames, kHangBound);
        send(address);
        const std::size_t wanted = recorder_->frames() + kRate / 2;
        ASSERT_GE(recorder_->wait_for_frames(wanted, kHangBound), wanted);
        const auto rec = recorder_->snapshot();
        const std::size_t start = before.second;

        constexpr float kMaxStep = kLevel / (0.005F * kRate) * 4.0F;
        constexpr std::size_t kMaxFadeFrames = kRate / 50;  // 20 ms
        for (std::size_t c = 0; c < 2; ++c) {
            SCOPED_TRACE("out_" + std::to_string(c + 1));
            const auto& v = rec[c];
            EXPECT_EQ(silence_difference(v, 0, start), "");
            std::size_t fade = start;
            while (fade < v.size() && v[fade] == kLevel) ++fade;
            ASSERT_GE(fade - start, static_cast<std::size_t>(2 * kFrames))
                << "level left 0.5 before " << address << " was sent";
            ASSERT_LT(fade, v.size()) << "no fade after " << address;
            std::size_t silent = fade;
            float previous = kLevel;
            for (; silent < v.size() && v[silent] != 0.0F; ++silent) {
                ASSERT_LE(v[silent], previous) << "fade not monotonic at frame " << silent;
                ASSERT_LE(previous - v[silent], kMaxStep) << "click at frame " << silent;
                previous = v[silent];
            }
            ASSERT_LE(previous, kMaxStep) << "step to silence at frame " << silent;
            EXPECT_LE(silent - fade, kMaxFadeFrames) << "fade longer than 20 ms";
            EXPECT_EQ(silence_difference(v, silent, v.size()), "") << "signal after the fade";
            std::cout << "[   INFO   ] " << address << " faded out over " << silent - fade
                      << " frames\n";
        }
        EXPECT_EQ(
            bit_difference(rec[1], 0, rec[0].size(), [&](std::size_t k) { return rec[0][k]; }), "")
            << "out_1 and out_2 differ";
    }

    std::unique_ptr<ChildProcess> daemon_;
    std::unique_ptr<OscClient> osc_;
    std::unique_ptr<JackRecorder> recorder_;
    std::uint16_t osc_port_ = 0;
    bool expect_clean_exit_ = true;
    // Set by derived fixtures before SetUp.
    std::vector<std::string> extra_args_;
    bool server_by_flag_ = false;
};

TEST_F(Daemon, PlaysStereoOneShotBitExactFromABlockBoundary) {
    constexpr int kFrames = 9600;
    const auto data = noise(kFrames, 2, 1);
    write_wav(samples_ / "noise.wav", 2, data);
    ASSERT_NO_FATAL_FAILURE(load(0, "noise.wav", kFrames, 2));
    ASSERT_NO_FATAL_FAILURE(record_outputs());
    recorder_->start();
    send(slot(0, "play"));
    const auto [rec, start] = record_from_signal(kFrames + kRate / 10, kHangBound);

    EXPECT_EQ(start % kBlock, 0U) << "playback did not start on a block boundary";
    const auto left = channel_of(data, 2, 0);
    const auto right = channel_of(data, 2, 1);
    EXPECT_EQ(silence_difference(rec[0], 0, start), "") << "out_1 before the sample";
    EXPECT_EQ(silence_difference(rec[1], 0, start), "") << "out_2 before the sample";
    EXPECT_EQ(bit_difference(rec[0], start, kFrames, [&](std::size_t k) { return left[k]; }), "")
        << "out_1";
    EXPECT_EQ(bit_difference(rec[1], start, kFrames, [&](std::size_t k) { return right[k]; }), "")
        << "out_2";
    EXPECT_EQ(silence_difference(rec[0], start + kFrames, rec[0].size()), "") << "out_1 after";
    EXPECT_EQ(silence_difference(rec[1], start + kFrames, rec[1].size()), "") << "out_2 after";
    EXPECT_FALSE(recorder_->overflowed());
}

TEST_F(Daemon, MonoSamplePlaysIdenticallyOnBothOutputs) {
    constexpr int kFrames = 4800;
    const auto data = noise(kFrames, 1, 2);
    write_wav(samples_ / "mono.wav", 1, data);
    ASSERT_NO_FATAL_FAILURE(load(3, "mono.wav", kFrames, 1));
    ASSERT_NO_FATAL_FAILURE(record_outputs());
    recorder_->start();
    send(slot(3, "play"));
    const auto [rec, start] = record_from_signal(kFrames + kRate / 10, kHangBound);

    for (std::size_t c = 0; c < 2; ++c) {
        SCOPED_TRACE("out_" + std::to_string(c + 1));
        EXPECT_EQ(silence_difference(rec[c], 0, start), "");
        EXPECT_EQ(bit_difference(rec[c], start, kFrames, [&](std::size_t k) { return data[k]; }),
                  "");
        EXPECT_EQ(silence_difference(rec[c], start + kFrames, rec[c].size()), "");
    }
}

TEST_F(Daemon, StatusCountsSlotsVoicesAndMemory) {
    write_wav(samples_ / "stereo.wav", 2, noise(9600, 2, 3));
    write_wav(samples_ / "mono.wav", 1, noise(4800, 1, 4));

    auto s = status();
    for (const char* key : {"voices", "slots_loaded", "sample_rate", "block_size", "xruns",
                            "dropped", "memory_bytes", "dsp_load"}) {
        ASSERT_TRUE(s.contains(key)) << "/status.reply has no " << key;
        EXPECT_NO_THROW(s[key].number()) << key << " is not a number";
    }
    EXPECT_EQ(s["slots_loaded"].number(), 0);
    EXPECT_EQ(s["memory_bytes"].number(), 0);

    ASSERT_NO_FATAL_FAILURE(load(0, "stereo.wav", 9600, 2));
    ASSERT_NO_FATAL_FAILURE(load(1, "mono.wav", 4800, 1));
    s = status();
    EXPECT_EQ(s["slots_loaded"].number(), 2);
    EXPECT_EQ(s["sample_rate"].number(), 48000);
    EXPECT_EQ(s["block_size"].number(), 128);
    EXPECT_EQ(s["memory_bytes"].number(), 9600 * 2 * 4 + 4800 * 1 * 4);
    EXPECT_EQ(s["dropped"].number(), 0);
    EXPECT_EQ(s["voices"].number(), 0);

    send(slot(0, "loop"), {osc_int(1)});
    send(slot(0, "play"));
    EXPECT_EQ(wait_status("voices", 1, kHangBound), 1);
    std::this_thread::sleep_for(400ms);  // two wraps of the 0.2 s loop
    EXPECT_EQ(status()["voices"].number(), 1) << "the looping voice ended";

    send("/stop_all");
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(wait_status("voices", 0, kHangBound), 0);
    s = status();
    EXPECT_EQ(s["slots_loaded"].number(), 2) << "/stop_all unloaded something";
    EXPECT_EQ(s["dropped"].number(), 0);

    // The buffer is freed off the audio thread after the swap: wait for it, bounded.
    send(slot(1, "unload"));
    EXPECT_EQ(wait_status("memory_bytes", 9600 * 2 * 4, kHangBound), 9600 * 2 * 4);
    EXPECT_EQ(status()["slots_loaded"].number(), 1);
}

TEST_F(Daemon, StatusReportsTheLongestBlockRenderOfTheLastSecond) {
    // 0 until a whole second of audio has been rendered, then the audio thread's own timing
    // of Engine::process: above 0.
    const auto deadline = Clock::now() + kHangBound;
    double render_us = 0.0;
    while (render_us == 0.0 && Clock::now() < deadline) {
        const auto s = status();
        ASSERT_TRUE(s.contains("render_max_us")) << "/status.reply has no render_max_us";
        ASSERT_EQ(s.at("render_max_us").type, 'f');
        render_us = s.at("render_max_us").number();
        if (render_us == 0.0) std::this_thread::sleep_for(100ms);
    }
    EXPECT_GT(render_us, 0.0) << "no block render was timed within " << kHangBound.count() << " s";
    // How long is a figure, not a check: a busy machine may preempt any render.
    std::cout << "[   INFO   ] longest block render in the last second: " << render_us << " us\n";
}

TEST_F(Daemon, BadMessagesAnswerErrorAndLeavePlaybackUntouched) {
    ASSERT_NO_FATAL_FAILURE(expect_error(slot(0, "load"), {osc_string("does-not-exist.wav")}));
    {
        std::ofstream junk(samples_ / "not-audio.wav");
        junk << "this is not a sound file\n";
    }
    ASSERT_NO_FATAL_FAILURE(expect_error(slot(0, "load"), {osc_string("not-audio.wav")}));
    EXPECT_EQ(status()["slots_loaded"].number(), 0);

    constexpr int kFrames = 9600;
    const auto data = noise(kFrames, 2, 5);
    write_wav(samples_ / "loop.wav", 2, data);
    ASSERT_NO_FATAL_FAILURE(load(0, "loop.wav", kFrames, 2));
    send(slot(0, "loop"), {osc_int(1)});
    ASSERT_NO_FATAL_FAILURE(record_outputs());
    recorder_->start();
    send(slot(0, "play"));
    record_from_signal(kBlock, kHangBound);

    const float nan = std::numeric_limits<float>::quiet_NaN();
    const std::vector<std::pair<std::string, std::vector<OscValue>>> bad = {
        {"/nope", {}},
        {"/slot/999999/play", {}},
        {"/slot/128/play", {}},
        {"/slot/-1/play", {}},
        {"/slot/abc/play", {}},
        {"/slot/0/gain", {osc_string("loud")}},
        {"/slot/0/gain", {osc_float(nan)}},
        {"/slot/0/gain", {osc_float(5.0F)}},
        {"/slot/0/gain", {}},
        {"/master/gain", {osc_float(-1.0F)}},
        {"/master/gain", {osc_float(nan)}},
        {"/slot/0/loop", {osc_string("yes")}},
        {"/slot/0/load", {osc_int(7)}},
    };
    for (const auto& [address, args] : bad) {
        SCOPED_TRACE(address);
        ASSERT_NO_FATAL_FAILURE(expect_error(address, args));
    }
    osc_->send(osc_port_, "/ping");
    EXPECT_TRUE(osc_->wait_for("/pong", kHangBound)) << "no /pong after the bad messages";

    // Everything recorded so far, and half a second more, is the loop from its first frame
    // at unchanged gain: the bad messages changed nothing.
    const std::size_t wanted = recorder_->frames() + kRate / 2;
    ASSERT_GE(recorder_->wait_for_frames(wanted, kHangBound), wanted);
    const auto rec = recorder_->snapshot();
    const auto start = first_nonzero(rec[0]);
    ASSERT_TRUE(start);
    ASSERT_GT(rec[0].size() - *start, static_cast<std::size_t>(2 * kFrames)) << "loop too short";
    for (std::size_t c = 0; c < 2; ++c) {
        SCOPED_TRACE("out_" + std::to_string(c + 1));
        const auto expected = channel_of(data, 2, c);
        EXPECT_EQ(silence_difference(rec[c], 0, *start), "");
        EXPECT_EQ(bit_difference(rec[c], *start, rec[c].size() - *start,
                                 [&](std::size_t k) { return expected[k % kFrames]; }),
                  "");
    }
}

TEST_F(Daemon, ReplyUrlSendsRepliesToAnotherPort) {
    OscClient other;
    send("/ping", {osc_string(other.url())});
    EXPECT_TRUE(other.wait_for("/pong", kHangBound)) << "/pong did not reach " << other.url();
    EXPECT_FALSE(osc_->wait_for("/pong", 300ms)) << "/pong went to the sender as well";

    send("/status", {osc_string(other.url())});
    EXPECT_TRUE(other.wait_for("/status.reply", kHangBound));

    write_wav(samples_ / "a.wav", 1, noise(480, 1, 6));
    send(slot(2, "load"), {osc_string("a.wav"), osc_string(other.url())});
    const auto loaded = other.wait_for("/slot/2/loaded", kHangBound);
    ASSERT_TRUE(loaded) << "/slot/2/loaded did not reach " << other.url();
    EXPECT_EQ(loaded->type_tags(), "siif") << loaded->to_string();
    EXPECT_FALSE(osc_->wait_for("/slot/2/loaded", 300ms)) << "/loaded went to the sender too";
}

TEST_F(Daemon, SigtermWhilePlayingExitsWithCodeZero) {
    write_wav(samples_ / "loop.wav", 2, noise(4800, 2, 7));
    ASSERT_NO_FATAL_FAILURE(load(0, "loop.wav", 4800, 2));
    send(slot(0, "loop"), {osc_int(1)});
    send(slot(0, "play"));
    ASSERT_EQ(wait_status("voices", 1, kHangBound), 1);

    const auto begin = Clock::now();
    daemon_->send_signal(SIGTERM);
    const auto status = daemon_->wait_exit(kHangBound);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - begin);
    EXPECT_TRUE(exited_with(status, 0)) << describe(status);
    std::cout << "[   INFO   ] SIGTERM to exit: " << ms.count() << " ms\n";
    RecordProperty("sigterm_exit_ms", static_cast<int>(ms.count()));
}

TEST_F(Daemon, SigintExitsWithCodeZero) {
    const auto begin = Clock::now();
    daemon_->send_signal(SIGINT);
    const auto status = daemon_->wait_exit(kHangBound);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - begin);
    EXPECT_TRUE(exited_with(status, 0)) << describe(status);
    std::cout << "[   INFO   ] SIGINT to exit: " << ms.count() << " ms\n";
}

TEST_F(Daemon, KeepsServingOscWhenTheJackServerDies) {
    jack_->kill_hard();
    ASSERT_FALSE(jack_->process().running()) << "jackd survived SIGKILL for 5 s";
    const auto deadline = Clock::now() + kHangBound;
    while (status()["jack"].s != "disconnected" && Clock::now() < deadline)
        std::this_thread::sleep_for(10ms);
    EXPECT_EQ(status()["jack"].s, "disconnected");
    EXPECT_TRUE(daemon_->running()) << describe(daemon_->status());
    send("/ping");
    EXPECT_TRUE(osc_->wait_for("/pong", kHangBound));
}

TEST_F(Daemon, StopFadesOutWithoutClick) {
    check_fade_out_on(slot(0, "stop"));
}

TEST_F(Daemon, UnloadOfAPlayingSlotFadesOutWithoutClick) {
    check_fade_out_on(slot(0, "unload"));
}

class DaemonWithOptions : public Daemon {
  protected:
    DaemonWithOptions() {
        extra_args_ = {"--client-name", "stage-looper", "--outputs", "4"};
        server_by_flag_ = true;
    }
};

TEST_F(DaemonWithOptions, RegistersNamedClientWithRequestedOutputsOnTheServerGivenByFlag) {
    JackRecorder probe(jack_->name(), 1, 1s, "looperd-test-probe");
    const auto outputs = probe.ports("^stage-looper:", JackPortIsOutput);
    EXPECT_EQ(outputs, (std::vector<std::string>{"stage-looper:out_1", "stage-looper:out_2",
                                                 "stage-looper:out_3", "stage-looper:out_4"}));
    // The default --inputs 2: in_1 and in_2 for recording.
    EXPECT_EQ(probe.ports("^stage-looper:", JackPortIsInput),
              (std::vector<std::string>{"stage-looper:in_1", "stage-looper:in_2"}));
    EXPECT_TRUE(probe.ports("^looperd:", 0).empty());
}

// Only 127.0.0.1 may talk to this daemon; 127.0.0.2 (loopback too) plays a host outside.
class DaemonWithAllowlist : public Daemon {
  protected:
    DaemonWithAllowlist() { extra_args_ = {"--osc-allow", "127.0.0.1/32"}; }
};

TEST_F(DaemonWithAllowlist, DatagramsFromOutsideTheAllowlistAreDroppedSilentlyAndCounted) {
    OscClient outsider("127.0.0.2");
    for (int i = 0; i < 5; ++i) outsider.send(osc_port_, "/ping");
    outsider.send(osc_port_, "/nope");  // not even an /error goes back
    EXPECT_FALSE(outsider.wait_for("/pong", 500ms)) << "a host outside the allowlist got /pong";
    EXPECT_FALSE(outsider.wait_for("/error", 100ms)) << "a host outside the allowlist got /error";
    EXPECT_EQ(wait_status("dropped_not_allowed", 6, kHangBound), 6);
    // The allowed host is served as before.
    send("/ping");
    EXPECT_TRUE(osc_->wait_for("/pong", kHangBound));
}

// A low per-source rate, so that one noisy host is easy to make.
class DaemonWithRateLimit : public Daemon {
  protected:
    DaemonWithRateLimit() { extra_args_ = {"--osc-rate", "50", "--osc-burst", "20"}; }
};

TEST_F(DaemonWithRateLimit, ANoisySourceIsLimitedAndAQuietOneKeepsAllItsCommands) {
    OscClient noisy("127.0.0.2");
    int quiet_pongs = 0;
    const auto begin = Clock::now();
    for (int round = 0; round < 5; ++round) {
        for (int i = 0; i < 100; ++i) noisy.send(osc_port_, "/ping");  // a stuck fader
        send("/ping");
        if (osc_->wait_for("/pong", kHangBound)) ++quiet_pongs;
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_EQ(quiet_pongs, 5) << "the quiet source lost commands to the noisy one";
    // 500 from the noisy host: at most the burst plus 50/s of the time they took got through.
    // The time is measured up to the count's reply, so a slow machine loosens the bound rather
    // than failing it (about a second here on a quiet one).
    const double dropped = status()["dropped_rate_limited"].number();
    const double seconds = std::chrono::duration<double>(Clock::now() - begin).count();
    EXPECT_GE(dropped, 500.0 - (20.0 + 50.0 * seconds))
        << "more than the burst and 50/s got through in " << seconds << " s";
    EXPECT_LE(dropped, 500.0);
    std::cout << "[   INFO   ] " << dropped << " of 500 dropped over " << seconds << " s\n";
}

// Runs `binary` with `args` (no JACK server needed) and returns its wait status and output.
std::pair<std::optional<int>, std::string> run_cli(const std::string& binary,
                                                   const std::vector<std::string>& args) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/looperd-cli-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp " + pattern);
    std::optional<int> status;
    std::string log;
    {
        ChildProcess child(binary, args, {}, pattern + "/out.log");
        status = child.wait_exit(kHangBound);
        if (!status) child.terminate(kHangBound);
        log = child.read_log();
    }
    std::error_code ignored;
    fs::remove_all(pattern, ignored);
    return {status, log};
}

const char* plain_binary() {
    const char* binary = std::getenv("LOOPERD_PLAIN_BINARY");
    return binary != nullptr && *binary != '\0' ? binary : nullptr;
}

TEST(Cli, VersionAndHelpExitZero) {
    if (plain_binary() == nullptr) GTEST_SKIP() << "LOOPERD_PLAIN_BINARY is not set";
    const auto [version_status, version] = run_cli(plain_binary(), {"--version"});
    EXPECT_TRUE(exited_with(version_status, 0)) << describe(version_status) << '\n' << version;
    EXPECT_NE(version.find("looperd"), std::string::npos) << version;
    const auto [help_status, help] = run_cli(plain_binary(), {"--help"});
    EXPECT_TRUE(exited_with(help_status, 0)) << describe(help_status) << '\n' << help;
    for (const char* option : {"--jack-server", "--osc-port", "--samples-dir", "--outputs"}) {
        EXPECT_NE(help.find(option), std::string::npos) << "--help does not mention " << option;
    }
}

TEST(Cli, UnknownOptionExitsNonZero) {
    if (plain_binary() == nullptr) GTEST_SKIP() << "LOOPERD_PLAIN_BINARY is not set";
    const auto [status, output] = run_cli(plain_binary(), {"--no-such-option"});
    ASSERT_TRUE(status) << "still running after 10 s";
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) != 0) << describe(status);
    EXPECT_NE(output.find("--no-such-option"), std::string::npos) << output;
}

TEST(Cli, ABadSampleRateExitsNonZero) {
    if (plain_binary() == nullptr) GTEST_SKIP() << "LOOPERD_PLAIN_BINARY is not set";
    const auto [status, output] = run_cli(plain_binary(), {"--sample-rate", "100"});
    ASSERT_TRUE(status) << "still running after 10 s";
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) != 0) << describe(status);
    EXPECT_NE(output.find("--sample-rate"), std::string::npos) << output;
}

// Time-stretching (docs/stretch.md): `stretch pitch` through OSC, the real renderer, a real
// JACK server, the output recorded.
#ifdef LOOPERD_HAVE_RUBBERBAND
class Stretch : public Daemon {
  protected:
    // Slot 0: a stereo 1 kHz sine of 4 beats at 120 BPM (2,000 whole cycles), looping, in
    // `stretch pitch`, subscribed to feedback.
    void load_sine_loop() {
        std::vector<float> data(4 * 24000 * 2);
        for (std::size_t i = 0; i < data.size() / 2; ++i)
            data[2 * i] = data[2 * i + 1] =
                static_cast<float>(0.5 * std::sin(2.0 * M_PI * 1000.0 * i / kRate));
        write_wav(samples_ / "sine.wav", 2, data);
        ASSERT_NO_FATAL_FAILURE(load(0, "sine.wav", 96000, 2));
        send(slot(0, "mode"), {osc_string("loop")});
        send(slot(0, "beats"), {osc_float(4.0F)});
        send(slot(0, "stretch"), {osc_string("pitch")});
        ASSERT_EQ(info_value("stretch"), "pitch");
    }
    // The value of `key` in slot 0's /info.reply, as text.
    std::string info_value(const std::string& key) {
        send(slot(0, "info"));
        const auto info = osc_->wait_for(slot(0, "info.reply"), kHangBound);
        if (!info) return "(no /info.reply)";
        for (std::size_t k = 0; k + 1 < info->args.size(); k += 2)
            if (info->args[k].s == key) return info->args[k + 1].s;
        return "(no " + key + ")";
    }
    // Polls slot 0's state (/slot/0/info) every 20 ms until it is `state`.
    bool wait_state(const std::string& state, std::chrono::milliseconds timeout = kHangBound) {
        const auto deadline = Clock::now() + timeout;
        while (Clock::now() < deadline) {
            if (info_value("state") == state) return true;
            std::this_thread::sleep_for(20ms);
        }
        return false;
    }
    // The tone's frequency on out_1 over the last `seconds` recorded, in cents from 1 kHz.
    double cents_now(double seconds) {
        const std::size_t frames = static_cast<std::size_t>(seconds * kRate);
        const std::size_t wanted = recorder_->frames() + frames;
        EXPECT_GE(recorder_->wait_for_frames(wanted, kHangBound), wanted);
        const auto rec = recorder_->snapshot();
        const double f =
            tone_frequency(rec[0].data(), rec[0].size() - frames, rec[0].size(), kRate);
        return cents(f, 1000.0);
    }
};

// The figure through the whole daemon: a 1 kHz loop of 4 beats at 120 BPM, the tempo
// changed to 90, 100, 137 and 160: each time the slot says `stretching`, then `playing` once the
// rendering is in, and the tone stays at 1 kHz within ±3 cents, with no step in the output.
TEST_F(Stretch, ASineLoopKeepsItsPitchAsTheTempoChanges) {
    ASSERT_NO_FATAL_FAILURE(load_sine_loop());
    ASSERT_NO_FATAL_FAILURE(record_outputs());
    recorder_->start();
    send(slot(0, "play"));
    ASSERT_TRUE(wait_state("playing")) << "the slot never played";
    for (const float bpm : {90.0F, 100.0F, 137.0F, 160.0F}) {
        SCOPED_TRACE(std::to_string(bpm) + " BPM");
        send("/clock/tempo", {osc_float(bpm)});
        EXPECT_TRUE(wait_state("stretching")) << "no stretching state";
        ASSERT_TRUE(wait_state("playing")) << "the rendering never came in";
        // One whole pass (the swap waits for the seam), then a second to measure.
        const double pass = 4.0 * 60.0 / static_cast<double>(bpm);
        std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(pass * 1000)));
        const double off = cents_now(1.0);
        EXPECT_NEAR(off, 0.0, 3.0) << "the tone moved";
        std::cout << "[   INFO   ] " << bpm << " BPM: " << off << " cents from 1 kHz\n";
    }
    send(slot(0, "info"));
    const auto info = osc_->wait_for(slot(0, "info.reply"), kHangBound);
    ASSERT_TRUE(info);
    bool pitch = false;
    for (std::size_t k = 0; k + 1 < info->args.size(); k += 2)
        pitch = pitch || (info->args[k].s == "stretch" && info->args[k + 1].s == "pitch");
    EXPECT_TRUE(pitch) << info->to_string();
    const auto rec = recorder_->snapshot();
    const auto start = first_nonzero(rec[0]);
    ASSERT_TRUE(start);
    // No click: no frame-to-frame step beyond 1.5 times the steepest of the 2 ms around it (a
    // sine's slope is smooth; while a rendering is on its way the loop keeps time by its rate,
    // so the tone, and its slope, move until the seam).
    std::size_t clicks = 0;
    const std::size_t near = kRate / 500;
    std::vector<float> step(rec[0].size(), 0.0F);
    for (std::size_t i = *start + 1; i < rec[0].size(); ++i)
        step[i] = std::abs(rec[0][i] - rec[0][i - 1]);
    for (std::size_t i = *start + near + 1; i + near < rec[0].size(); ++i) {
        float around = 0.0F;
        for (std::size_t j = i - near; j <= i + near; ++j)
            if (j + 1 < i || j > i + 1) around = std::max(around, step[j]);
        if (step[i] > 1.5F * around) ++clicks;
    }
    EXPECT_EQ(clicks, 0U) << "steps in the output";
}

// Bad input: a mode that does not exist, a fader moving the tempo 100 times a second, the slot
// unloaded while it renders. Each answered or survived; the loop ends up right.
TEST_F(Stretch, AFaderFloodAndAnUnloadMidRenderLoseNothing) {
    ASSERT_NO_FATAL_FAILURE(load_sine_loop());
    ASSERT_NO_FATAL_FAILURE(expect_error(slot(0, "stretch"), {osc_string("elastic")}));
    ASSERT_NO_FATAL_FAILURE(record_outputs());
    recorder_->start();
    send(slot(0, "play"));
    ASSERT_TRUE(wait_state("playing"));
    // A fader from 80 to 140 BPM over a second, 100 messages.
    for (int k = 0; k < 100; ++k) {
        send("/clock/tempo", {osc_float(80.0F + 0.6F * static_cast<float>(k))});
        std::this_thread::sleep_for(10ms);
    }
    ASSERT_TRUE(wait_state("playing")) << "the last tempo's rendering never came in";
    std::this_thread::sleep_for(
        std::chrono::milliseconds(static_cast<int>(4.0 * 60.0 / 139.4 * 1000)));
    EXPECT_NEAR(cents_now(1.0), 0.0, 3.0);
    // Unloaded while a render for a new tempo runs, then loaded again.
    send("/clock/tempo", {osc_float(70.0F)});
    ASSERT_TRUE(wait_state("stretching"));
    send(slot(0, "unload"));
    ASSERT_TRUE(wait_state("empty"));
    ASSERT_NO_FATAL_FAILURE(load(0, "sine.wav", 96000, 2));
    send(slot(0, "play"));
    ASSERT_TRUE(wait_state("playing"));
    std::this_thread::sleep_for(
        std::chrono::milliseconds(static_cast<int>(4.0 * 60.0 / 70.0 * 1000)));
    EXPECT_NEAR(cents_now(1.0), 0.0, 3.0);
    EXPECT_EQ(status().at("slots_loaded").number(), 1.0);
}

class StretchBudget : public Stretch {
  protected:
    void SetUp() override {
        extra_args_ = {"--memory-budget", "4M"};
        Stretch::SetUp();
    }
};

// A rendering beyond the memory budget is refused with /error, at once when the mode is asked
// for, or later when a tempo makes it too long; the slot keeps what it has and plays on.
TEST_F(StretchBudget, ARenderingBeyondTheBudgetIsRefusedAndThePreviousOneStays) {
    ASSERT_NO_FATAL_FAILURE(load_sine_loop());  // 768 KiB, and its 768 KiB rendering
    send(slot(0, "play"));
    ASSERT_TRUE(wait_state("playing"));
    ASSERT_NO_FATAL_FAILURE(record_outputs());
    recorder_->start();
    // 4 beats at 20 BPM: 12 s of stereo, 4.4 MiB: over the budget. The asker hears why.
    send("/clock/tempo", {osc_float(20.0F)});
    const auto error = osc_->wait_for("/error", kHangBound);
    ASSERT_TRUE(error) << "no /error for a rendering over the budget";
    EXPECT_EQ(error->args[0].s, slot(0, "stretch")) << error->to_string();
    EXPECT_NE(error->args[1].s.find("budget"), std::string::npos) << error->to_string();
    // The slot plays on: its rendering for 120 BPM, slowed to keep time.
    const std::size_t wanted = recorder_->frames() + kRate;
    ASSERT_GE(recorder_->wait_for_frames(wanted, kHangBound), wanted);
    const auto rec = recorder_->snapshot();
    EXPECT_TRUE(first_nonzero(rec[0], rec[0].size() - kRate / 2)) << "silence";
    // A mode asked for while the tempo makes it too long is refused at once.
    send(slot(1, "load"), {osc_string("sine.wav")});
    ASSERT_TRUE(osc_->wait_for(slot(1, "loaded"), kHangBound));
    send(slot(1, "beats"), {osc_float(16.0F)});
    ASSERT_NO_FATAL_FAILURE(expect_error(slot(1, "stretch"), {osc_string("pitch")}));
    EXPECT_EQ(status().at("slots_loaded").number(), 2.0);
}
#endif

// Memory on demand (docs/recording.md#memory), at the default take length (60 s) and undo
// memory (128 MiB). Resident memory is read from /proc: VmRSS less RssShmem, the JACK server's
// shared port memory, which every client of the server maps whole (105 MiB with Debian's
// jackd2 at its default port count, in jack_metro as in looperd) and which is not looperd's.
class RecordMemoryAtDefaults : public Daemon {
  protected:
    RecordMemoryAtDefaults() {
        extra_args_ = {"--max-record-seconds", "60", "--undo-memory-mib", "128"};
    }

    // Resident memory of looperd's own, in KiB.
    std::uint64_t own_resident_kib() const {
        std::ifstream in("/proc/" + std::to_string(daemon_->pid()) + "/status");
        std::uint64_t rss = 0;
        std::uint64_t shared = 0;
        for (std::string line; std::getline(in, line);) {
            if (line.starts_with("VmRSS:")) rss = std::stoull(line.substr(6));
            if (line.starts_with("RssShmem:")) shared = std::stoull(line.substr(9));
        }
        if (rss == 0) throw std::runtime_error("no VmRSS for the daemon in /proc");
        return rss - shared;
    }
};

TEST_F(RecordMemoryAtDefaults, HoldsWhatTheFirstTakeNeedsAndGrowsOnlyWithTheTakes) {
    write_wav(samples_ / "small.wav", 2, noise(9600, 2, 3));
    ASSERT_NO_FATAL_FAILURE(load(0, "small.wav", 9600, 2));
    const std::uint64_t take_kib = std::uint64_t{60} * kRate * 2 * sizeof(float) / 1024;
    const std::uint64_t idle = own_resident_kib();
    std::cout << "resident at the defaults with one small sample: " << idle / 1024 << " MiB\n";
    EXPECT_LE(idle, std::uint64_t{96} * 1024) << "KiB";

    send(slot(1, "record"));
    send(slot(2, "record"));
    ASSERT_EQ(wait_status("recorders_free", 6.0, kHangBound), 6.0) << "two takes recording";
    // The spare made at start became slot 1's; slot 2's buffer and the next spare are made
    // while they record: two takes' worth more than at rest (a MiB of slack for the rest).
    const std::uint64_t made = 2 * take_kib - 1024;
    const auto grown = [&] { return own_resident_kib() >= idle + made; };
    const auto deadline = Clock::now() + kHangBound;
    while (!grown() && Clock::now() < deadline) std::this_thread::sleep_for(50ms);
    const std::uint64_t recording = own_resident_kib();
    std::cout << "resident while two 60 s takes record: " << recording / 1024 << " MiB (the "
              << "takes need " << 2 * take_kib / 1024 << ")\n";
    EXPECT_GE(recording, idle + made) << "no memory was made for the second take";
    EXPECT_LE(recording, 2 * take_kib + std::uint64_t{64} * 1024) << "KiB";

    send(slot(1, "record"));
    send(slot(2, "record"));
    ASSERT_EQ(wait_status("recorders_free", 6.0, kHangBound), 6.0);
    ASSERT_NO_FATAL_FAILURE(wait_for_pong(*daemon_, *osc_, osc_port_));
}

// A take the budget cannot hold is refused with /error to whoever pressed; the takes under
// way go on. 10 s takes are 3.7 MiB: the one made at start is outside the budget, one more fits
// in 6 MiB, a third does not.
class RecordMemoryBudget : public Daemon {
  protected:
    RecordMemoryBudget() { extra_args_ = {"--max-record-seconds", "10", "--memory-budget", "6M"}; }
};

TEST_F(RecordMemoryBudget, ATakeTheBudgetCannotHoldIsRefusedAndTheOthersRecordOn) {
    send(slot(0, "record"));
    send(slot(1, "record"));
    ASSERT_EQ(wait_status("recorders_free", 6.0, kHangBound), 6.0) << "two takes recording";
    send(slot(2, "record"));
    const auto error = osc_->wait_for("/error", kHangBound);
    ASSERT_TRUE(error) << "no /error for a take over the budget";
    EXPECT_EQ(error->args[0].s, slot(2, "record")) << error->to_string();
    EXPECT_NE(error->args[1].s.find("--memory-budget"), std::string::npos) << error->to_string();
    EXPECT_EQ(status().at("recorders_free").number(), 6.0) << "slots 0 and 1 record on";
    // Clearing a take gives its memory to the next press.
    send(slot(0, "clear"));
    send(slot(2, "record"));
    ASSERT_EQ(wait_status("recorders_free", 6.0, kHangBound), 6.0);
    send(slot(1, "record"));
    send(slot(2, "record"));
    EXPECT_FALSE(osc_->wait_for("/error", 500ms)) << "nothing else was refused";
}

// Voluntary context switches of each of `pid`'s threads, by name ("main" for the main
// thread; threads of one name are summed): a thread that sleeps on a timer or until woken
// switches once per wake-up.
std::map<std::string, std::uint64_t> switches_by_thread(pid_t pid) {
    std::map<std::string, std::uint64_t> by_name;
    for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
        std::ifstream in(task.path() / "status");
        std::string name;
        std::optional<std::uint64_t> switches;
        for (std::string line; std::getline(in, line);) {
            if (line.starts_with("Name:")) name = line.substr(line.find_first_not_of(" \t", 5));
            if (line.starts_with("voluntary_ctxt_switches:"))
                switches = std::stoull(line.substr(24));
        }
        if (!switches) continue;  // the thread ended meanwhile
        if (task.path().filename() == std::to_string(pid)) name = "main";
        by_name[name] += *switches;
    }
    return by_name;
}

// A rig with nothing to do costs next to nothing: each thread sleeps on a long timer or until
// something wakes it (docs/architecture.md, "Threads"), so a Raspberry Pi's cores stay with the
// audio. A loop plays meanwhile, as on stage between songs; no surface is subscribed. Counts,
// not times: a loaded machine wakes a sleeping thread less often, never more.
TEST_F(Daemon, ThreadsWithNothingToDoWakeRarely) {
    write_wav(samples_ / "loop.wav", 2, noise(48000, 2, 5));
    ASSERT_NO_FATAL_FAILURE(load(0, "loop.wav", 48000, 2));
    send(slot(0, "mode"), {osc_string("loop")});
    send(slot(0, "play"));
    ASSERT_EQ(wait_status("voices", 1, kHangBound), 1);
    std::this_thread::sleep_for(1s);  // the play's events are read; the timers lengthen

    // Wake-ups a second at most: the thread's timer (docs/architecture.md), and half again.
    const std::map<std::string, double> most = {
        {"main", 30},           // JackLink::kPollJoined, 50 ms
        {"housekeeping", 35},   // Housekeeping::kIdlePoll, 40 ms
        {"record-memory", 15},  // 100 ms while nothing records
        {"osc", 15},            // 100 ms receive timeout
        {"persistence", 2},     // the rig does not change
        {"midi-control", 2},    // no MIDI port plugged in
        {"feedback", 2},        // no subscriber
        {"stretch", 2},         // no slot in stretch pitch
        {"link-follow", 2},     // Link is off
        {"loader", 2},         {"take-keeper", 2},
    };
    constexpr double kSeconds = 4;
    const auto before = switches_by_thread(daemon_->pid());
    std::this_thread::sleep_for(std::chrono::duration<double>(kSeconds));
    const auto after = switches_by_thread(daemon_->pid());
    for (const char* name : {"main", "housekeeping", "record-memory", "osc", "feedback"})
        ASSERT_TRUE(before.contains(name)) << "no thread named " << name;
    for (const auto& [name, count] : after) {
        const auto was = before.find(name);
        if (was == before.end()) continue;
        const double rate = static_cast<double>(count - was->second) / kSeconds;
        std::cout << name << ": " << rate << " wake-ups a second\n";
        if (const auto bound = most.find(name); bound != most.end()) {
            EXPECT_LE(rate, bound->second) << name;
        }
    }
}

}  // namespace
}  // namespace looperd::test
