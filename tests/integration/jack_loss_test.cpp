// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// looperd when its JACK server goes away, comes back, stalls, is not there at start, changes
// its block size or comes back at another rate. Real jackd (dummy backend), the real daemon
// with the audio-thread guard, real OSC, and the test's own JACK recorder.
//
// Timing: the machines these tests run on are shared and noisy, so every wait is for the event
// itself (the loss reported, the server rejoined), bounded only against a hang. How long each
// took is printed as a figure, never asserted.

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "fixtures.hpp"
#include "jack_midi.hpp"
#include "jack_recorder.hpp"
#include "jack_server.hpp"
#include "osc_client.hpp"

namespace looperd::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

constexpr std::size_t kLoopFrames = 4800;  // 0.1 s at 48 kHz

double ms_since(SteadyClock::time_point t) {
    return std::chrono::duration<double, std::milli>(SteadyClock::now() - t).count();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
}

// The daemon's resident memory, in KiB (VmRSS).
long rss_kib(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}

// Planar copy of an interleaved stereo buffer.
std::vector<std::vector<float>> planar(const std::vector<float>& interleaved) {
    std::vector<std::vector<float>> out(2);
    for (std::size_t k = 0; k < interleaved.size(); k += 2) {
        out[0].push_back(interleaved[k]);
        out[1].push_back(interleaved[k + 1]);
    }
    return out;
}

bool same_bits(float a, float b) {
    return std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b);
}

// Checks that rec[c][from..from+n) is the looping sample, bit for bit, at some phase of the
// loop. Returns "" or what differs.
std::string loop_difference(const std::vector<std::vector<float>>& rec,
                            const std::vector<std::vector<float>>& loop, std::size_t from,
                            std::size_t n) {
    if (rec[0].size() < from + n)
        return "recording too short: " + std::to_string(rec[0].size()) + " frames, need " +
               std::to_string(from + n);
    const std::size_t len = loop[0].size();
    // The phase: where in the loop the frame `from` is. Noise values hardly repeat; the next
    // 32 frames settle any doubt.
    std::optional<std::size_t> phase;
    for (std::size_t p = 0; p < len && !phase; ++p) {
        bool match = true;
        for (std::size_t j = 0; j < 32 && match; ++j)
            match = same_bits(rec[0][from + j], loop[0][(p + j) % len]);
        if (match) phase = p;
    }
    if (!phase) {
        char text[96];
        std::snprintf(text, sizeof text, "frame %zu (%.6g) is at no phase of the loop", from,
                      static_cast<double>(rec[0][from]));
        return text;
    }
    for (std::size_t c = 0; c < 2; ++c)
        for (std::size_t j = 0; j < n; ++j)
            if (!same_bits(rec[c][from + j], loop[c][(*phase + j) % len])) {
                char text[160];
                std::snprintf(text, sizeof text,
                              "out_%zu frame %zu: got %.9g, want %.9g (loop frame %zu, %zu frames "
                              "after the match)",
                              c + 1, from + j, static_cast<double>(rec[c][from + j]),
                              static_cast<double>(loop[c][(*phase + j) % len]), (*phase + j) % len,
                              j);
                return text;
            }
    return "";
}

class JackLoss : public IntegrationTest {
  protected:
    void TearDown() override {
        recorder_.reset();
        finish(daemon_, true);
    }

    // Starts the daemon on `server` (autoconnect on) and waits for /pong.
    void start_daemon(const std::string& server, const std::vector<std::string>& extra = {}) {
        osc_port_ = pick_free_udp_port();
        // Autoconnected: out_1 and out_2 go to the playback ports.
        std::vector<std::string> args = daemon_args(osc_port_, true);
        args.insert(args.end(), {"--jack-server", server});
        args.insert(args.end(), extra.begin(), extra.end());
        // --jack-server names the server: no environment for it.
        ASSERT_NO_FATAL_FAILURE(
            launch_daemon(daemon_, osc_, osc_port_, args, std::vector<std::string>{}));
    }

    void send(const std::string& address, const std::vector<OscValue>& args = {}) {
        osc_->send(osc_port_, address, args);
    }

    std::map<std::string, OscValue> status() {
        send("/status");
        const auto reply = osc_->wait_for("/status.reply", kHangBound);
        if (!reply)
            throw std::runtime_error("no /status.reply within " +
                                     std::to_string(kHangBound.count()) + " s");
        return status_pairs(*reply);
    }

    std::string jack_state() { return status().at("jack").s; }

    // Polls /status every `every` until `jack` is `want`. Returns the milliseconds it took, or
    // nullopt after `timeout`.
    std::optional<double> wait_jack(const std::string& want, std::chrono::milliseconds timeout,
                                    SteadyClock::time_point since,
                                    std::chrono::milliseconds every = 5ms) {
        const auto deadline = SteadyClock::now() + timeout;
        for (;;) {
            if (jack_state() == want) return ms_since(since);
            if (SteadyClock::now() >= deadline) return std::nullopt;
            std::this_thread::sleep_for(every);
        }
    }

    double wait_status(const std::string& key, double value, std::chrono::milliseconds timeout) {
        const auto deadline = SteadyClock::now() + timeout;
        for (;;) {
            const double seen = status().at(key).number();
            if (seen == value || SteadyClock::now() >= deadline) return seen;
            std::this_thread::sleep_for(20ms);
        }
    }

    // Writes a 0.1 s stereo noise loop, loads it into slot 0 and starts it looping.
    void play_loop(std::uint32_t seed) {
        const auto interleaved = noise(kLoopFrames, 2, seed);
        loop_ = planar(interleaved);
        write_wav(samples_ / "loop.wav", 2, interleaved);
        send(slot(0, "load"), {osc_string("loop.wav")});
        const auto reply = osc_->wait_for_any({slot(0, "loaded"), "/error"}, kHangBound);
        ASSERT_TRUE(reply) << "no reply to the load";
        ASSERT_EQ(reply->address, slot(0, "loaded")) << reply->to_string();
        send(slot(0, "mode"), {osc_string("loop")});
        send(slot(0, "play"));
        ASSERT_EQ(wait_status("voices", 1, kHangBound), 1);
    }

    // A new recorder on looperd's outputs; records `frames` after skipping `skip`, and checks
    // they are the loop, bit for bit.
    void expect_loop_recorded(std::size_t skip, std::size_t frames) {
        recorder_ = std::make_unique<JackRecorder>(jack_->name(), 2, 5s);
        recorder_->connect("looperd:out_1", 0);
        recorder_->connect("looperd:out_2", 1);
        recorder_->start();
        ASSERT_GE(recorder_->wait_for_frames(skip + frames, kHangBound), skip + frames)
            << "the recording stopped growing";
        EXPECT_EQ(loop_difference(recorder_->snapshot(), loop_, skip, frames), "");
        recorder_.reset();
    }

    void expect_connected_to_playback() {
        JackRecorder probe(jack_->name(), 1, 1s, "looperd-test-probe");
        EXPECT_EQ(probe.ports("^looperd:out_", JackPortIsOutput),
                  (std::vector<std::string>{"looperd:out_1", "looperd:out_2"}));
        EXPECT_EQ(probe.connections("looperd:out_1"),
                  std::vector<std::string>{"system:playback_1"});
        EXPECT_EQ(probe.connections("looperd:out_2"),
                  std::vector<std::string>{"system:playback_2"});
    }

    std::unique_ptr<ChildProcess> daemon_;
    std::unique_ptr<OscClient> osc_;
    std::unique_ptr<JackRecorder> recorder_;
    std::uint16_t osc_port_ = 0;
    std::vector<std::vector<float>> loop_;
};

TEST_F(JackLoss, TwentyServerDeathsAndReturnsDuringPlaybackKeepTheSamePlayingSamples) {
    ASSERT_NO_FATAL_FAILURE(start_jack("looperd-loss-"));
    if (IsSkipped()) return;
    ASSERT_NO_FATAL_FAILURE(start_daemon(jack_->name()));
    ASSERT_NO_FATAL_FAILURE(play_loop(11));
    ASSERT_NO_FATAL_FAILURE(expect_connected_to_playback());
    // From now on the file is gone: whatever plays after a return was never read again.
    fs::remove(samples_ / "loop.wav");

    constexpr int kCycles = 20;
    std::vector<double> detect_ms;
    std::vector<double> rejoin_ms;
    long rss_after_2 = 0;
    long rss_after_last = 0;
    for (int cycle = 1; cycle <= kCycles; ++cycle) {
        SCOPED_TRACE("cycle " + std::to_string(cycle));
        const int signal = cycle % 2 == 1 ? SIGKILL : SIGTERM;
        const auto killed = SteadyClock::now();
        jack_->process().send_signal(signal);
        if (signal == SIGKILL) forget_jack_metadata_locks();
        const auto lost = wait_jack("disconnected", kHangBound, killed);
        ASSERT_TRUE(lost) << "loss not reported within " << kHangBound.count() << " s of "
                          << strsignal(signal);
        detect_ms.push_back(*lost);
        ASSERT_TRUE(jack_->process().wait_exit(kHangBound)) << "jackd did not exit";
        // Still served without a server.
        send("/ping");
        ASSERT_TRUE(osc_->wait_for("/pong", kHangBound)) << "no /pong while the server is away";

        ASSERT_NO_THROW(jack_->restart());
        const auto ready = SteadyClock::now();
        const auto back = wait_jack("connected", kHangBound, ready, 10ms);
        ASSERT_TRUE(back) << "not rejoined within " << kHangBound.count() << " s of jackd's return";
        rejoin_ms.push_back(*back);
        ASSERT_NO_FATAL_FAILURE(expect_connected_to_playback());
        // Past the resume fade (5 ms) and the recorder's own start: three whole loops.
        ASSERT_NO_FATAL_FAILURE(expect_loop_recorded(kLoopFrames, 3 * kLoopFrames));
        if (cycle == 2) rss_after_2 = rss_kib(daemon_->pid());
        if (cycle == kCycles) rss_after_last = rss_kib(daemon_->pid());
    }

    const double detect_median = median(detect_ms);
    const double rejoin_median = median(rejoin_ms);
    const double detect_max = *std::max_element(detect_ms.begin(), detect_ms.end());
    const double rejoin_max = *std::max_element(rejoin_ms.begin(), rejoin_ms.end());
    std::cout << "[   INFO   ] loss seen after: median " << detect_median << " ms, max "
              << detect_max << " ms; rejoined after the server was ready: median " << rejoin_median
              << " ms, max " << rejoin_max << " ms; RSS after cycle 2 " << rss_after_2
              << " KiB, after cycle " << kCycles << ' ' << rss_after_last << " KiB\n";
    // The times are figures, not checks: on a busy machine either may take seconds without
    // anything being wrong. Memory is a check.
    RecordProperty("loss_detect_median_ms", static_cast<int>(detect_median));
    RecordProperty("rejoin_median_ms", static_cast<int>(rejoin_median));
    EXPECT_LE(rss_after_last - rss_after_2, 2048) << "memory grows with each reconnection";

    // No thread hangs: an answer, a clean exit (TearDown checks the exit status).
    const auto ping = SteadyClock::now();
    send("/ping");
    EXPECT_TRUE(osc_->wait_for("/pong", kHangBound)) << "no /pong after the cycles: hung";
    std::cout << "[   INFO   ] /pong after the cycles: " << ms_since(ping) << " ms\n";
    const std::string log = daemon_->read_log();
    EXPECT_NE(log.find("went away"), std::string::npos);
    EXPECT_NE(log.find("rejoined"), std::string::npos);
}

TEST_F(JackLoss, ConnectionsToTheInputsComeBackAfterTheServerReturns) {
    ASSERT_NO_FATAL_FAILURE(start_jack("looperd-inputs-"));
    if (IsSkipped()) return;
    ASSERT_NO_FATAL_FAILURE(start_daemon(jack_->name()));
    {
        JackRecorder probe(jack_->name(), 1, 1s, "looperd-test-probe");
        ASSERT_EQ(probe.connect_ports("system:capture_1", "looperd:in_1"), 0);
        ASSERT_EQ(probe.connect_ports("system:capture_2", "looperd:in_2"), 0);
    }
    // looperd reads its connections back within connections_every (0.5 s) of a change.
    const auto deadline = SteadyClock::now() + kHangBound;
    while (daemon_->read_log().find("remembering system:capture_2 → in_2") == std::string::npos &&
           SteadyClock::now() < deadline)
        std::this_thread::sleep_for(20ms);
    ASSERT_NE(daemon_->read_log().find("remembering system:capture_1 → in_1"), std::string::npos)
        << "looperd did not see the connections to its inputs";

    // Twice: a restored connection is remembered again for the next return.
    for (const int signal : {SIGKILL, SIGTERM}) {
        SCOPED_TRACE(strsignal(signal));
        const auto killed = SteadyClock::now();
        jack_->process().send_signal(signal);
        if (signal == SIGKILL) forget_jack_metadata_locks();
        ASSERT_TRUE(wait_jack("disconnected", kHangBound, killed))
            << "loss not reported within " << kHangBound.count() << " s";
        ASSERT_TRUE(jack_->process().wait_exit(kHangBound)) << "jackd did not exit";
        ASSERT_NO_THROW(jack_->restart());
        ASSERT_TRUE(wait_jack("connected", kHangBound, SteadyClock::now(), 10ms))
            << "not rejoined within " << kHangBound.count() << " s of jackd's return";
        JackRecorder probe(jack_->name(), 1, 1s, "looperd-test-probe");
        EXPECT_EQ(probe.connections("looperd:in_1"), std::vector<std::string>{"system:capture_1"});
        EXPECT_EQ(probe.connections("looperd:in_2"), std::vector<std::string>{"system:capture_2"});
        ASSERT_NO_FATAL_FAILURE(expect_connected_to_playback());
        // Let looperd read the restored connections back before the next loss.
        std::this_thread::sleep_for(700ms);
    }
}

// A controller behind a2jmidid or a restarted client registers its ports only after the
// server is back, when looperd has already rejoined: its connections are made when its ports
// appear, and the controller gets its init SysEx and every light again. The test's MIDI
// clients stand for the controller: they die with the server and come back a little later.
TEST_F(JackLoss, AMidiControllerBackAfterTheServerIsReconnectedAndLitAgain) {
    ASSERT_NO_FATAL_FAILURE(start_jack("looperd-midictl-"));
    if (IsSkipped()) return;
    ASSERT_NO_FATAL_FAILURE(start_daemon(jack_->name(), {"--midi-profile", "launchpad-mini-mk3"}));
    const std::vector<std::uint8_t> programmer{0xF0, 0x00, 0x20, 0x29, 0x02,
                                               0x0D, 0x0E, 0x01, 0xF7};
    // Every light after the SysEx, in one cycle: 64 pads.
    auto expect_init_and_lights = [&](const JackMidiReceiver& lights, std::uint8_t top_left) {
        ASSERT_GE(lights.wait_for_events(65, kHangBound), 65U) << "no init and lights";
        const auto got = lights.snapshot();
        EXPECT_EQ(got[0].bytes, programmer) << "the SysEx first";
        EXPECT_EQ(got[1].bytes, (std::vector<std::uint8_t>{0x90, 81, top_left})) << "slot 0";
    };
    auto wait_log = [&](const std::string& text) {
        const auto deadline = SteadyClock::now() + kHangBound;
        while (daemon_->read_log().find(text) == std::string::npos && SteadyClock::now() < deadline)
            std::this_thread::sleep_for(20ms);
        return daemon_->read_log().find(text) != std::string::npos;
    };

    auto pad = std::make_unique<JackMidiSender>(jack_->name(), 16);
    auto lights = std::make_unique<JackMidiReceiver>(jack_->name(), 4096);
    const std::string pad_port = pad->client_name() + ":out";
    const std::string lights_port = lights->client_name() + ":in";
    lights->start();
    pad->connect("looperd:midi_in");
    lights->connect("looperd:midi_out");
    ASSERT_NO_FATAL_FAILURE(expect_init_and_lights(*lights, 0));
    ASSERT_TRUE(wait_log("remembering " + pad_port + " → midi_in"));
    ASSERT_TRUE(wait_log("remembering midi_out → " + lights_port));
    // A slot to light: loaded is dim white (1), playing green (21).
    write_wav(samples_ / "long.wav", 1, std::vector<float>(48000 * 10, 0.25F));
    send(slot(0, "load"), {osc_string("long.wav")});
    ASSERT_TRUE(osc_->wait_for(slot(0, "loaded"), kHangBound));

    const auto killed = SteadyClock::now();
    jack_->process().send_signal(SIGKILL);
    forget_jack_metadata_locks();
    ASSERT_TRUE(wait_jack("disconnected", kHangBound, killed));
    ASSERT_TRUE(jack_->process().wait_exit(kHangBound)) << "jackd did not exit";
    pad.reset();
    lights.reset();
    ASSERT_NO_THROW(jack_->restart());
    ASSERT_TRUE(wait_jack("connected", kHangBound, SteadyClock::now(), 10ms))
        << "not rejoined within " << kHangBound.count() << " s of jackd's return";
    ASSERT_TRUE(wait_log("cannot restore " + pad_port + " → midi_in yet"))
        << "looperd rejoined after the controller came back: the test proves nothing";

    // The controller comes back after looperd: nothing but looperd connects it, maybe as soon
    // as its port registers, so it records from its first cycle.
    lights = std::make_unique<JackMidiReceiver>(jack_->name(), 4096, true);
    ASSERT_EQ(lights->client_name() + ":in", lights_port);
    ASSERT_NO_FATAL_FAILURE(expect_init_and_lights(*lights, 1));
    pad = std::make_unique<JackMidiSender>(jack_->name(), 16);
    ASSERT_EQ(pad->client_name() + ":out", pad_port);
    ASSERT_TRUE(wait_log("restored " + pad_port + " → midi_in"));
    JackRecorder probe(jack_->name(), 1, 1s, "looperd-test-probe");
    EXPECT_EQ(probe.connections("looperd:midi_in"), std::vector<std::string>{pad_port});
    EXPECT_EQ(probe.connections("looperd:midi_out"), std::vector<std::string>{lights_port});
    // The init and lights go again 250 ms and 1 s after the connection (a cycle missed on a
    // loaded machine loses them): wait until they went, so that they come before the pad's.
    {
        const auto deadline = SteadyClock::now() + kHangBound;
        auto sent_again = [&] {
            const std::string log = daemon_->read_log();
            const auto restored = log.find("restored midi_out → " + lights_port);
            return restored != std::string::npos &&
                   log.find("MIDI init and lights sent again (2 of 2)", restored) !=
                       std::string::npos;
        };
        while (!sent_again() && SteadyClock::now() < deadline) std::this_thread::sleep_for(20ms);
        ASSERT_TRUE(sent_again()) << "not sent again after the connection was restored";
    }
    // The top left pad plays slot 0, and its light turns green: the first green after them.
    pad->send({{0, {0x90, 81, 127}}});
    ASSERT_TRUE(pad->wait_done(kHangBound));
    const std::vector<std::uint8_t> green{0x90, 81, 21};
    bool lit = false;
    for (std::size_t want = 66; !lit && lights->wait_for_events(want, kHangBound) >= want; ++want)
        lit = lights->snapshot()[want - 1].bytes == green;
    EXPECT_TRUE(lit) << "slot 0's light did not turn green";
}

TEST_F(JackLoss, StartsWithoutAServerWaitsAndJoinsItWhenItAppears) {
    ASSERT_NO_FATAL_FAILURE(start_jack("looperd-boot-", false));
    if (IsSkipped()) return;
    const std::string server = JackServer::unique_name();
    ASSERT_NO_FATAL_FAILURE(start_daemon(server));
    EXPECT_EQ(jack_state(), "disconnected");
    EXPECT_EQ(status().at("sample_rate").number(), 48000) << "the assumed rate";
    // A load while waiting converts to the assumed rate.
    write_wav(samples_ / "early.wav", 2, noise(kLoopFrames, 2, 5));
    send(slot(1, "load"), {osc_string("early.wav")});
    const auto loaded = osc_->wait_for_any({slot(1, "loaded"), "/error"}, kHangBound);
    ASSERT_TRUE(loaded);
    EXPECT_EQ(loaded->address, slot(1, "loaded")) << loaded->to_string();
    std::this_thread::sleep_for(300ms);  // several retries: still one line in the log
    const std::string waiting_log = daemon_->read_log();
    const auto first = waiting_log.find("waiting for the JACK server");
    ASSERT_NE(first, std::string::npos) << "the log does not say it waits";
    EXPECT_EQ(waiting_log.find("waiting for the JACK server", first + 1), std::string::npos)
        << "the wait is logged once per attempt";

    jack_ = std::make_unique<JackServer>(jackd_, (dir_ / "jackd.log").string(), 48000, 128, true,
                                         server);
    const auto ready = SteadyClock::now();
    const auto joined = wait_jack("connected", kHangBound, ready, 10ms);
    ASSERT_TRUE(joined) << "not joined within " << kHangBound.count()
                        << " s of the server appearing";
    std::cout << "[   INFO   ] joined " << *joined << " ms after the server was ready\n";
    ASSERT_NO_FATAL_FAILURE(expect_connected_to_playback());
    EXPECT_EQ(status().at("slots_loaded").number(), 1);
}

TEST_F(JackLoss, AStoppedServerIsReportedStalledAndPlaybackResumesAfterItContinues) {
    ASSERT_NO_FATAL_FAILURE(start_jack("looperd-stall-"));
    if (IsSkipped()) return;
    ASSERT_NO_FATAL_FAILURE(start_daemon(jack_->name()));
    ASSERT_NO_FATAL_FAILURE(play_loop(12));
    // Waited for: a busy machine can hold jackd's cycles past stall_after for a moment.
    EXPECT_TRUE(wait_jack("connected", kHangBound, SteadyClock::now(), 20ms));

    const auto stopped = SteadyClock::now();
    jack_->process().send_signal(SIGSTOP);
    const auto stalled = wait_jack("stalled", kHangBound, stopped, 20ms);
    EXPECT_TRUE(stalled) << "no stall reported within " << kHangBound.count() << " s";
    // After about stall_after (1 s) on a quiet machine: a figure, not a check.
    if (stalled) std::cout << "[   INFO   ] stall reported after " << *stalled << " ms\n";
    // The server stays stopped: so does the report (a slow machine only shortens the look).
    std::this_thread::sleep_for(3s - (SteadyClock::now() - stopped));
    EXPECT_EQ(jack_state(), "stalled");
    jack_->process().send_signal(SIGCONT);
    const auto resumed = wait_jack("connected", kHangBound, SteadyClock::now(), 10ms);
    ASSERT_TRUE(resumed) << "not connected again within " << kHangBound.count() << " s of SIGCONT";
    ASSERT_NO_FATAL_FAILURE(expect_loop_recorded(kLoopFrames, 3 * kLoopFrames));
    const std::string log = daemon_->read_log();
    EXPECT_NE(log.find("stalled"), std::string::npos);
    EXPECT_NE(log.find("run again"), std::string::npos);

    // SIGTERM while the server is stopped: looperd exits at once, not when the server runs
    // again (closing its client would wait for the server).
    jack_->process().send_signal(SIGSTOP);
    ASSERT_TRUE(wait_jack("stalled", kHangBound, SteadyClock::now(), 20ms));
    const auto term = SteadyClock::now();
    daemon_->send_signal(SIGTERM);
    const auto status = daemon_->wait_exit(kHangBound);
    jack_->process().send_signal(SIGCONT);
    ASSERT_TRUE(status) << "looperd waits for the stopped server to exit";
    EXPECT_TRUE(exited_with(status, 0)) << describe(status);
    std::cout << "[   INFO   ] SIGTERM during a stall: exited after " << ms_since(term) << " ms\n";
}

TEST_F(JackLoss, BlockSizeChangesWhilePlayingLeaveTheLoopUnbroken) {
    ASSERT_NO_FATAL_FAILURE(start_jack("looperd-bufsize-"));
    if (IsSkipped()) return;
    ASSERT_NO_FATAL_FAILURE(start_daemon(jack_->name()));
    ASSERT_NO_FATAL_FAILURE(play_loop(13));
    recorder_ = std::make_unique<JackRecorder>(jack_->name(), 2, 10s);
    recorder_->connect("looperd:out_1", 0);
    recorder_->connect("looperd:out_2", 1);
    recorder_->start();
    std::vector<std::size_t> changed_at;  // recorded frames when each change was asked for
    for (const std::uint32_t size : {256U, 512U, 128U}) {
        std::this_thread::sleep_for(300ms);
        changed_at.push_back(recorder_->frames());
        ASSERT_EQ(recorder_->set_buffer_size(size), 0) << "jack_set_buffer_size " << size;
        const auto deadline = SteadyClock::now() + kHangBound;
        while (recorder_->block_size() != size && SteadyClock::now() < deadline)
            std::this_thread::sleep_for(5ms);
        EXPECT_EQ(recorder_->block_size(), size);
        EXPECT_EQ(wait_status("block_size", size, kHangBound), size);
    }
    const std::size_t wanted = recorder_->frames() + 3 * kLoopFrames;
    ASSERT_GE(recorder_->wait_for_frames(wanted, kHangBound), wanted);
    recorder_->stop();
    const auto rec = recorder_->snapshot();
    // Every frame from the first whole loop on is the loop, continuously: no gap, repeat or
    // glitch at any of the changes (JACK's synchronous mode records what was played).
    EXPECT_EQ(loop_difference(rec, loop_, kLoopFrames, rec[0].size() - kLoopFrames), "")
        << "changes asked for at recorded frames " << changed_at[0] << ", " << changed_at[1] << ", "
        << changed_at[2];
    EXPECT_EQ(status().at("voices").number(), 1);
    EXPECT_TRUE(wait_jack("connected", kHangBound, SteadyClock::now(), 20ms));
}

TEST_F(JackLoss, AServerBackAtAnotherRateGetsTheSamplesConvertedAgain) {
    // jackd's asynchronous mode: this test needs signal, not bit-exactness, and in synchronous
    // mode a loaded machine can make jackd itself hang right after the rate change (its own
    // "SuspendRefNum error"), which looperd reports as a stall but the test cannot wait out.
    ASSERT_NO_FATAL_FAILURE(start_jack("looperd-rate-", true, false));
    if (IsSkipped()) return;
    ASSERT_NO_FATAL_FAILURE(start_daemon(jack_->name()));
    ASSERT_NO_FATAL_FAILURE(play_loop(14));
    jack_->process().send_signal(SIGTERM);
    ASSERT_TRUE(jack_->process().wait_exit(kHangBound));
    ASSERT_NO_THROW(jack_->restart(44100));
    ASSERT_TRUE(wait_jack("connected", kHangBound, SteadyClock::now(), 10ms));
    EXPECT_EQ(wait_status("sample_rate", 44100, kHangBound), 44100);
    // The loop is loaded again from its file at 44.1 kHz (0.1 s: 4410 frames) and plays on.
    const auto deadline = SteadyClock::now() + kHangBound;
    double frames = 0;
    for (;;) {
        send(slot(0, "info"));
        const auto info = osc_->wait_for(slot(0, "info.reply"), kHangBound);
        ASSERT_TRUE(info);
        const auto pairs = status_pairs(*info);
        frames = pairs.at("frames").number();
        if (frames != kLoopFrames || SteadyClock::now() >= deadline) break;
        std::this_thread::sleep_for(20ms);
    }
    EXPECT_NEAR(frames, 4410, 2);
    EXPECT_EQ(wait_status("voices", 1, kHangBound), 1)
        << "the loop did not play on after the reload";
    const std::string log = daemon_->read_log();
    EXPECT_NE(log.find("again at 44100 Hz"), std::string::npos);
    // That it sounds is not checked with a recorder here: a test-side JACK client opened right
    // after a rate change sometimes never gets a cycle from jackd 1.9.21's dummy driver ("was
    // not finished, state = Triggered"), which then stalls the graph. The engine test
    // Engine.ReloadRestartsASoundingLoopButALoadDoesNot checks the reloaded loop's audio.
}

}  // namespace
}  // namespace looperd::test
