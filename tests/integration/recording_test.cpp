// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// Live looping against a real jackd (dummy backend, 48 kHz, 128-frame periods): the test's own
// JACK client plays known noise into looperd:in_1/in_2, another records looperd:out_1/out_2,
// and the takes, overdubs, undo, redo and monitoring are checked sample by sample against
// docs/recording.md; so are the takes saved (/slot/<n>/save), kept in the state directory and
// back after jackd and looperd die, and the bar lines /clock/from_slot puts on a loop. Both test
// clients and looperd run in one JACK cycle (client to client, no latency), so recording index T
// and the player's frame of the same JACK frame line up. The presses' frames are not known to the
// test: it finds the loop's start in the output and its length as the output's period, then checks
// every frame of several passes.

#include <gtest/gtest.h>
#include <lo/lo.h>
#include <signal.h>
#include <sndfile.h>
#include <sys/stat.h>

#include <bit>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "fixtures.hpp"
#include "jack_player.hpp"
#include "jack_recorder.hpp"
#include "jack_server.hpp"
#include "osc_client.hpp"
#include "unit/signal_measure.hpp"

namespace looperd::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Signal = std::vector<std::vector<float>>;  // one vector per channel

constexpr std::uint32_t kRate = 48000;
constexpr std::uint32_t kBlock = 128;

// Stereo noise, each channel its own seed, so that left and right differ everywhere.
Signal stereo_noise(std::size_t frames, std::uint32_t seed) {
    return {noise(frames, 1, seed), noise(frames, 1, seed + 1000)};
}

std::string float_text(float v) {
    char text[64];
    std::snprintf(text, sizeof text, "%.9g (0x%08x)", static_cast<double>(v),
                  std::bit_cast<std::uint32_t>(v));
    return text;
}

bool same_bits(float a, float b) {
    return std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b);
}

// Compares got[k] with want(k) bit for bit for k in [from, to). Returns "" or the first
// difference.
template <typename Want>
std::string difference(const std::vector<float>& got, std::size_t from, std::size_t to, Want want) {
    if (to > got.size()) {
        return "recording too short: need " + std::to_string(to) + " frames, have " +
               std::to_string(got.size());
    }
    for (std::size_t k = from; k < to; ++k) {
        const float w = want(k);
        if (!same_bits(got[k], w)) {
            return "frame " + std::to_string(k) + " (" + std::to_string(k - from) +
                   " into the span): got " + float_text(got[k]) + ", want " + float_text(w);
        }
    }
    return "";
}

// The first k in [from, to) where got[k] differs from want(k); `to` if none.
template <typename Want>
std::size_t first_difference(const std::vector<float>& got, std::size_t from, std::size_t to,
                             Want want) {
    for (std::size_t k = from; k < to && k < got.size(); ++k)
        if (!same_bits(got[k], want(k))) return k;
    return to;
}

// The loop as the output shows it, in recording indices: its first frame, its period, and
// the player's frame that the take's frame 0 holds.
struct Loop {
    std::size_t end = 0;     // recording index where the take's frame 0 first plays
    std::size_t length = 0;  // frames
    std::int64_t first = 0;  // player frame recorded into take frame 0
};

// StateListener: a feedback subscriber (liblo, bundles unpacked by liblo) that keeps every
// /slot/<n>/state it is sent. Owned by the test thread; liblo is polled, never threaded.
class StateListener {
  public:
    StateListener() {
        server_ = lo_server_new_with_proto(nullptr, LO_UDP, nullptr);
        if (server_ == nullptr) throw std::runtime_error("cannot open a liblo server");
        lo_server_add_method(server_, nullptr, nullptr, &StateListener::handle, this);
    }
    ~StateListener() { lo_server_free(server_); }
    StateListener(const StateListener&) = delete;
    StateListener& operator=(const StateListener&) = delete;

    std::string url() const {
        return "osc.udp://127.0.0.1:" + std::to_string(lo_server_get_port(server_)) + "/";
    }

    // Waits up to `timeout` until `address` was last told `state`. Returns whether it was.
    bool wait_state(const std::string& address, const std::string& state,
                    std::chrono::milliseconds timeout) {
        const auto deadline = Clock::now() + timeout;
        for (;;) {
            if (last(address) == state) return true;
            if (Clock::now() >= deadline) return false;
            lo_server_recv_noblock(server_, 10);
        }
    }

    std::string last(const std::string& address) const {
        for (auto it = seen_.rbegin(); it != seen_.rend(); ++it)
            if (it->first == address) return it->second;
        return "";
    }

    // "/slot/0/state recording, ..." for failure messages.
    std::string history(const std::string& address) const {
        std::string out;
        for (const auto& [a, s] : seen_)
            if (a == address) out += (out.empty() ? "" : ", ") + s;
        return out.empty() ? "(nothing)" : out;
    }

  private:
    static int handle(const char* path, const char* types, lo_arg** argv, int argc, lo_message,
                      void* self) {
        const std::string address = path;
        if (address.ends_with("/state") && argc == 1 && types[0] == 's')
            static_cast<StateListener*>(self)->seen_.emplace_back(address, &argv[0]->s);
        return 0;
    }

    lo_server server_ = nullptr;
    std::vector<std::pair<std::string, std::string>> seen_;
};

class LiveLooping : public IntegrationTest {
  protected:
    void SetUp() override { start_jack("looperd-rec-"); }

    void TearDown() override {
        player_.reset();
        recorder_.reset();
        finish(daemon_, true);
    }

    // Starts looperd with little recording memory (2 recorders of `max_seconds`, 4 MiB of
    // undo) and `extra` flags (and `env`, see launch_daemon), the player on its inputs and the
    // recorder on its outputs.
    void start_daemon(const std::vector<std::string>& extra = {},
                      const std::string& max_seconds = "2",
                      std::optional<std::vector<std::string>> env = std::nullopt) {
        if (IsSkipped() || HasFatalFailure()) return;
        osc_port_ = pick_free_udp_port();
        std::vector<std::string> args = daemon_args(osc_port_);
        args.insert(args.end(), {"--recorders", "2", "--max-record-seconds", max_seconds,
                                 "--undo-memory-mib", "4"});
        args.insert(args.end(), extra.begin(), extra.end());
        ASSERT_NO_FATAL_FAILURE(launch_daemon(daemon_, osc_, osc_port_, args, std::move(env)));
        try {
            player_ = std::make_unique<JackPlayer>(jack_->name(), 2, 8s);
            player_->connect(0, "looperd:in_1");
            player_->connect(1, "looperd:in_2");
            recorder_ = std::make_unique<JackRecorder>(jack_->name(), 2, 20s);
            ASSERT_EQ(recorder_->sample_rate(), kRate);
            ASSERT_EQ(recorder_->block_size(), kBlock);
            recorder_->connect("looperd:out_1", 0);
            recorder_->connect("looperd:out_2", 1);
        } catch (const std::exception& e) {
            FAIL() << e.what();
        }
    }

    void send(const std::string& address, const std::vector<OscValue>& args = {}) {
        osc_->send(osc_port_, address, args);
    }

    // Subscribes a StateListener to feedback and waits for the whole state it is sent first.
    std::unique_ptr<StateListener> subscribe() {
        auto listener = std::make_unique<StateListener>();
        send("/notify", {osc_int(1), osc_string(listener->url())});
        EXPECT_TRUE(listener->wait_state(slot(0, "state"), "empty", kHangBound))
            << "no /slot/0/state empty in the state sent on /notify; seen: "
            << listener->history(slot(0, "state"));
        return listener;
    }

    // The player's frame played in the JACK cycle that recording index `t` was recorded in.
    std::int64_t player_frame(std::size_t t) const {
        const auto jack_frame = static_cast<std::uint32_t>(recorder_->start_frame() + t);
        return static_cast<std::int32_t>(jack_frame - player_->start_frame());
    }

    // Waits until at least `frames` are recorded (bounded); returns the recording.
    Signal recorded(std::size_t frames, std::chrono::milliseconds timeout = 10s) const {
        if (recorder_->wait_for_frames(frames, timeout) < frames) {
            throw std::runtime_error("the recording stopped at " +
                                     std::to_string(recorder_->frames()) + " frames, short of " +
                                     std::to_string(frames));
        }
        return recorder_->snapshot();
    }

    // Finds the loop that starts at the first non-zero frame of out_1, at or after `from`:
    // its period (at most `max_length`) and which played frame its frame 0 holds. Waits for
    // enough of the output (bounded). Fails the test if there is none.
    Loop find_loop(const Signal& played, std::size_t from, std::size_t max_length) {
        Loop loop;
        const auto deadline = Clock::now() + kHangBound;
        std::optional<std::size_t> end;
        Signal rec;
        while (!end) {
            rec = recorder_->snapshot();
            for (std::size_t k = from; k < rec[0].size() && !end; ++k)
                if (rec[0][k] != 0.0F) end = k;
            if (!end && Clock::now() >= deadline) {
                ADD_FAILURE() << "no signal on out_1 after " << rec[0].size() << " frames";
                return loop;
            }
            if (!end) std::this_thread::sleep_for(10ms);
        }
        loop.end = *end;
        // The period: the first shift at which 512 frames repeat exactly (noise never does).
        constexpr std::size_t kProbe = 512;
        rec = recorded(loop.end + max_length + kProbe);
        const auto& v = rec[0];
        for (std::size_t p = 1; p <= max_length; ++p) {
            bool repeats = true;
            for (std::size_t i = 0; i < kProbe && repeats; ++i)
                repeats = same_bits(v[loop.end + p + i], v[loop.end + i]);
            if (repeats) {
                loop.length = p;
                break;
            }
        }
        if (loop.length == 0) {
            ADD_FAILURE() << "out_1 does not repeat within " << max_length << " frames";
            return loop;
        }
        // The played frame the take begins with: where those 512 frames are in the signal.
        for (std::size_t j = 0; j + kProbe <= played[0].size(); ++j) {
            bool match = true;
            for (std::size_t i = 0; i < kProbe && match; ++i)
                match = same_bits(played[0][j + i], v[loop.end + i]);
            if (match) {
                loop.first = static_cast<std::int64_t>(j);
                return loop;
            }
        }
        ADD_FAILURE() << "the loop's first frames are nowhere in the played signal";
        loop.length = 0;
        return loop;
    }

    // The record offset the loop shows: how far after the take's start (end − length) the
    // input frame that became take frame 0 arrived.
    std::int64_t offset_of(const Loop& loop) const {
        return loop.first - player_frame(loop.end - loop.length);
    }

    // Every frame of both outputs in [from, to) is the take made of `played`.
    void expect_loop(const Signal& rec, const Signal& played, const Loop& loop, std::size_t from,
                     std::size_t to) const {
        for (std::size_t c = 0; c < 2; ++c) {
            EXPECT_EQ(difference(rec[c], from, to,
                                 [&](std::size_t t) {
                                     const auto k = (t - loop.end) % loop.length;
                                     return played[c][static_cast<std::size_t>(loop.first) + k];
                                 }),
                      "")
                << "out_" << c + 1;
        }
    }

    bool log_has(const std::string& text) const {
        return daemon_->read_log().find(text) != std::string::npos;
    }

    // Records a take of about `ms` of `played` into slot 0 (two presses). Returns its loop.
    Loop record_take(const Signal& played, std::chrono::milliseconds ms,
                     StateListener* listener = nullptr) {
        const std::size_t before = recorder_->frames();
        send(slot(0, "record"));
        if (listener) {
            EXPECT_TRUE(listener->wait_state(slot(0, "state"), "recording", kHangBound))
                << "seen: " << listener->history(slot(0, "state"));
        }
        std::this_thread::sleep_for(ms);
        send(slot(0, "record"));
        // The take lasts `ms` plus however late the second press is (a busy machine): the loop
        // is looked for up to half a second longer than asked, so that a 1,000 ms take that
        // came out 48,128 frames long is still found.
        const auto longest =
            static_cast<std::size_t>(kRate) * static_cast<std::size_t>(ms.count() + 500) / 1000;
        return find_loop(played, before, longest);
    }

    std::unique_ptr<ChildProcess> daemon_;
    std::unique_ptr<OscClient> osc_;
    std::unique_ptr<JackPlayer> player_;
    std::unique_ptr<JackRecorder> recorder_;
    std::uint16_t osc_port_ = 0;
};

TEST_F(LiveLooping, ATakeLoopsTheInputFrameForFrameFromTheSecondPress) {
    ASSERT_NO_FATAL_FAILURE(start_daemon());
    const Signal played = stereo_noise(4 * kRate, 11);
    player_->play(played);
    recorder_->start();
    const Loop loop = record_take(played, 300ms);
    ASSERT_GT(loop.length, 0U);

    // Both presses land on block starts (outside a bundle a command takes the next block), so
    // the take's length is whole blocks; the output is silent while the slot records.
    EXPECT_EQ(loop.end % kBlock, 0U);
    EXPECT_EQ(loop.length % kBlock, 0U);
    EXPECT_GT(loop.length, kRate / 10);
    EXPECT_EQ(offset_of(loop), 0) << "take frame 0 is not the input at the take's start";
    EXPECT_TRUE(log_has("slot 0: take of " + std::to_string(loop.length) + " frames loops"))
        << "the log does not give the take's length";

    const Signal rec = recorded(loop.end + 3 * loop.length);
    for (std::size_t c = 0; c < 2; ++c)
        EXPECT_EQ(difference(rec[c], 0, loop.end, [](std::size_t) { return 0.0F; }), "")
            << "out_" << c + 1 << " before the loop";
    expect_loop(rec, played, loop, loop.end, loop.end + 3 * loop.length);
    std::cout << "[   INFO   ] take of " << loop.length << " frames, looped from index " << loop.end
              << '\n';
    // The take holds one of the two recorders.
    send("/status");
    const auto status = osc_->wait_for("/status.reply", kHangBound);
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(status_pairs(*status).at("recorders_free").number(), 1.0);
}

TEST_F(LiveLooping, RecordOffsetShiftsTheTakeByExactlyThatManyFrames) {
    // Not a multiple of the block, so a rounding to blocks would show.
    constexpr int kOffset = 1000;
    ASSERT_NO_FATAL_FAILURE(start_daemon({"--record-offset", std::to_string(kOffset)}));
    const Signal played = stereo_noise(4 * kRate, 12);
    player_->play(played);
    recorder_->start();
    const Loop loop = record_take(played, 300ms);
    ASSERT_GT(loop.length, 0U);
    EXPECT_EQ(offset_of(loop), kOffset);
    EXPECT_TRUE(log_has("record offset: 1000 frames (JACK round trip 0 + --record-offset 1000)"))
        << "client-to-client connections should add no latency";
    const Signal rec = recorded(loop.end + 3 * loop.length);
    expect_loop(rec, played, loop, loop.end, loop.end + 3 * loop.length);
}

TEST_F(LiveLooping, OverdubLayersOnePassAndUndoRedoSwapItBitForBit) {
    ASSERT_NO_FATAL_FAILURE(start_daemon());
    auto listener = subscribe();
    const Signal played = stereo_noise(4 * kRate, 13);
    player_->play(played);
    recorder_->start();
    const Loop loop = record_take(played, 250ms, listener.get());
    ASSERT_GT(loop.length, 0U);
    ASSERT_EQ(offset_of(loop), 0);
    const std::string state = slot(0, "state");
    EXPECT_TRUE(listener->wait_state(state, "playing", kHangBound))
        << "a looping take is not 'playing'; seen: " << listener->history(state);
    auto base = [&](std::size_t c, std::size_t t) {
        return played[c][static_cast<std::size_t>(loop.first) + (t - loop.end) % loop.length];
    };

    // Silence in, overdub on (layering silence changes no bit), then exactly one pass of a
    // second signal, then overdub off: every take frame gets exactly one frame of it.
    player_->stop();
    send(slot(0, "overdub"));
    ASSERT_TRUE(listener->wait_state(state, "overdubbing", kHangBound))
        << "seen: " << listener->history(state);
    const Signal layer = stereo_noise(loop.length, 14);
    player_->play(layer);
    const auto burst = static_cast<std::size_t>(
        static_cast<std::int32_t>(player_->start_frame() - recorder_->start_frame()));
    ASSERT_TRUE(player_->wait_done(kHangBound));
    send(slot(0, "overdub"));
    EXPECT_TRUE(listener->wait_state(state, "playing", kHangBound))
        << "seen: " << listener->history(state);

    // Input frame t is added to the take frame playing at t, heard from t + length on; the
    // expected sum is the same float addition the engine makes.
    auto layered = [&](std::size_t c, std::size_t t) {
        return base(c, t) + layer[c][(t - burst) % loop.length];
    };
    const std::size_t heard = burst + loop.length;
    Signal rec = recorded(heard + 2 * loop.length);
    for (std::size_t c = 0; c < 2; ++c) {
        SCOPED_TRACE("out_" + std::to_string(c + 1));
        EXPECT_EQ(difference(rec[c], loop.end, heard, [&](std::size_t t) { return base(c, t); }),
                  "")
            << "before the layer is heard";
        EXPECT_EQ(difference(rec[c], heard, heard + 2 * loop.length,
                             [&](std::size_t t) { return layered(c, t); }),
                  "")
            << "take + layer";
    }

    // Undo, then redo: the output switches once, on a block start, from one to the other and
    // stays there for two passes. `since`: from there on the output was `from_fn`.
    auto check_switch = [&](const char* verb, std::size_t since, auto from_fn, auto to_fn,
                            std::size_t& at) {
        SCOPED_TRACE(verb);
        const std::size_t sent = recorder_->frames();
        send(slot(0, verb));
        const auto deadline = Clock::now() + kHangBound;
        for (;;) {
            rec = recorder_->snapshot();
            at = first_difference(rec[0], sent, rec[0].size(),
                                  [&](std::size_t t) { return from_fn(0, t); });
            if (at < rec[0].size() || Clock::now() >= deadline) break;
            std::this_thread::sleep_for(10ms);
        }
        ASSERT_LT(at, rec[0].size()) << "the output never changed";
        EXPECT_EQ(at % kBlock, 0U) << "the swap did not happen on a block start";
        rec = recorded(at + 2 * loop.length);
        for (std::size_t c = 0; c < 2; ++c) {
            EXPECT_EQ(difference(rec[c], since, at, [&](std::size_t t) { return from_fn(c, t); }),
                      "")
                << "out_" << c + 1 << " before the switch";
            EXPECT_EQ(difference(rec[c], at, at + 2 * loop.length,
                                 [&](std::size_t t) { return to_fn(c, t); }),
                      "")
                << "out_" << c + 1 << " after the switch";
        }
    };
    std::size_t undone = 0;
    ASSERT_NO_FATAL_FAILURE(check_switch("undo", heard, layered, base, undone));
    EXPECT_TRUE(log_has("slot 0: undone"));
    std::size_t redone = 0;
    ASSERT_NO_FATAL_FAILURE(check_switch("redo", undone, base, layered, redone));
    EXPECT_TRUE(log_has("slot 0: redone"));
    std::cout << "[   INFO   ] take of " << loop.length << " frames; undo heard at index " << undone
              << ", redo " << redone << '\n';
}

TEST_F(LiveLooping, ATakeReachingTheMaximumEndsThereLoopsAndClearSilencesIt) {
    // 0.5 s at 48 kHz: a take of at most 24000 frames.
    constexpr std::size_t kMax = 24000;
    ASSERT_NO_FATAL_FAILURE(start_daemon({}, "0.5"));
    const Signal played = stereo_noise(4 * kRate, 15);
    player_->play(played);
    recorder_->start();
    send(slot(0, "record"));  // one press only: the maximum ends the take
    const Loop loop = find_loop(played, 0, kRate);
    ASSERT_GT(loop.length, 0U);
    EXPECT_EQ(loop.length, kMax);
    EXPECT_EQ(offset_of(loop), 0);
    const Signal before = recorded(loop.end + 2 * loop.length);
    expect_loop(before, played, loop, loop.end, loop.end + 2 * loop.length);
    EXPECT_TRUE(log_has("slot 0: take reached the maximum length (24000 frames"))
        << "the log does not say the take reached the maximum";
    EXPECT_TRUE(daemon_->running()) << describe(daemon_->status());

    // Clear: the loop plays on until the command's block, fades out (the slot's stop fade,
    // 5 ms) and then every frame is exactly 0.
    const std::size_t sent = recorder_->frames();
    send(slot(0, "clear"));
    const Signal rec = recorded(sent + kRate / 2);
    const std::size_t fade = first_difference(rec[0], sent, rec[0].size(), [&](std::size_t t) {
        return played[0][static_cast<std::size_t>(loop.first) + (t - loop.end) % loop.length];
    });
    ASSERT_LT(fade, rec[0].size()) << "the loop played on after /slot/0/clear";
    expect_loop(rec, played, loop, loop.end, fade);
    std::size_t silent = rec[0].size();
    while (silent > fade && rec[0][silent - 1] == 0.0F && rec[1][silent - 1] == 0.0F) --silent;
    EXPECT_LE(silent - fade, kRate / 200 + kBlock) << "no silence 5 ms after the fade began";
    EXPECT_GE(rec[0].size() - silent, kRate / 4) << "not silent for the rest of the recording";
    for (std::size_t c = 0; c < 2; ++c)
        EXPECT_EQ(difference(rec[c], silent, rec[c].size(), [](std::size_t) { return 0.0F; }), "")
            << "out_" << c + 1 << " after the fade";
    send("/ping");
    EXPECT_TRUE(osc_->wait_for("/pong", kHangBound)) << "no /pong after the take and the clear";
}

TEST_F(LiveLooping, MonitoringPassesTheInputThroughInTheSameCycle) {
    ASSERT_NO_FATAL_FAILURE(start_daemon());
    const Signal played = stereo_noise(6 * kRate, 16);
    player_->play(played);
    recorder_->start();
    auto input = [&](std::size_t c, std::size_t t) {
        return played[c][static_cast<std::size_t>(player_frame(t))];
    };
    // Monitoring turned on at `address` shows from a block start on: output frame t is the
    // input of frame t, on both sides, for a quarter of a second. Returns that block start.
    auto check_on = [&](const std::string& address, std::size_t& at) {
        SCOPED_TRACE(address);
        const std::size_t sent = recorder_->frames();
        send(address, {osc_int(1)});
        const auto deadline = Clock::now() + kHangBound;
        Signal rec;
        for (at = sent;;) {
            rec = recorder_->snapshot();
            while (at < rec[0].size() && rec[0][at] == 0.0F) ++at;
            if (at < rec[0].size() || Clock::now() >= deadline) break;
            std::this_thread::sleep_for(10ms);
        }
        ASSERT_LT(at, rec[0].size()) << "no input on out_1";
        EXPECT_EQ(at % kBlock, 0U);
        rec = recorded(at + kRate / 4);
        for (std::size_t c = 0; c < 2; ++c) {
            EXPECT_EQ(difference(rec[c], sent, at, [](std::size_t) { return 0.0F; }), "")
                << "out_" << c + 1 << " before monitoring";
            EXPECT_EQ(
                difference(rec[c], at, at + kRate / 4, [&](std::size_t t) { return input(c, t); }),
                "")
                << "out_" << c + 1 << " is not in_" << c + 1 << " of the same cycle";
        }
    };
    std::size_t on = 0;
    ASSERT_NO_FATAL_FAILURE(check_on(slot(0, "monitor"), on));

    // Off again: the input stops at a block start, and silence follows.
    const std::size_t sent = recorder_->frames();
    send(slot(0, "monitor"), {osc_int(0)});
    // A quarter of a second past when looperd had taken it (its /pong to a later /ping), not
    // past the sending: a busy machine may read it late.
    send("/ping");
    ASSERT_TRUE(osc_->wait_for("/pong", kHangBound)) << "no /pong after the monitor 0";
    Signal rec = recorded(recorder_->frames() + kRate / 4);
    const std::size_t off =
        first_difference(rec[0], sent, rec[0].size(), [&](std::size_t t) { return input(0, t); });
    ASSERT_LT(off, rec[0].size()) << "monitoring went on after /slot/0/monitor 0";
    EXPECT_EQ(off % kBlock, 0U);
    for (std::size_t c = 0; c < 2; ++c) {
        EXPECT_EQ(difference(rec[c], on, off, [&](std::size_t t) { return input(c, t); }), "");
        EXPECT_EQ(difference(rec[c], off, rec[c].size(), [](std::size_t) { return 0.0F; }), "")
            << "out_" << c + 1 << " after monitoring ended";
    }

    std::size_t all = 0;
    ASSERT_NO_FATAL_FAILURE(check_on("/monitor", all));
}

// ---- Keeping takes: /slot/<n>/save, the state directory's takes, /clock/from_slot ----------

// A WAV's frames, one vector per channel; empty when it cannot be read.
Signal read_wav(const fs::path& p, SF_INFO& info) {
    info = SF_INFO{};
    SNDFILE* f = sf_open(p.c_str(), SFM_READ, &info);
    if (f == nullptr) return {};
    std::vector<float> all(static_cast<std::size_t>(info.frames * info.channels));
    sf_readf_float(f, all.data(), info.frames);
    sf_close(f);
    Signal out(static_cast<std::size_t>(info.channels));
    for (std::size_t i = 0; i < all.size(); ++i)
        out[i % static_cast<std::size_t>(info.channels)].push_back(all[i]);
    return out;
}

// The file holds exactly the take of `loop`: its length, every frame of both sides.
void expect_take_file(const fs::path& p, const Signal& played, const Loop& loop) {
    SF_INFO info;
    const Signal wav = read_wav(p, info);
    ASSERT_EQ(wav.size(), 2U) << p << " is not a stereo file";
    EXPECT_EQ(info.samplerate, static_cast<int>(kRate));
    EXPECT_EQ(info.format, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
    ASSERT_EQ(wav[0].size(), loop.length) << p;
    for (std::size_t c = 0; c < 2; ++c)
        EXPECT_EQ(difference(wav[c], 0, loop.length,
                             [&](std::size_t k) {
                                 return played[c][static_cast<std::size_t>(loop.first) + k];
                             }),
                  "")
            << p << " channel " << c;
}

// Waits (bounded) until `p` exists and holds `text`.
bool wait_file_has(const fs::path& p, const std::string& text, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        std::ifstream in(p);
        for (std::string line; std::getline(in, line);)
            if (line.find(text) != std::string::npos) return true;
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(20ms);
    }
}

TEST_F(LiveLooping, SaveWritesAWavThatReadsBackEqualToTheLoop) {
    ASSERT_NO_FATAL_FAILURE(start_daemon());
    const Signal played = stereo_noise(4 * kRate, 21);
    player_->play(played);
    recorder_->start();
    const Loop loop = record_take(played, 300ms);
    ASSERT_GT(loop.length, 0U);

    osc_->drain();
    send(slot(0, "save"), {osc_string("take.wav")});
    const auto saved = osc_->wait_for(slot(0, "saved"), kHangBound);
    ASSERT_TRUE(saved.has_value()) << "no /slot/0/saved";
    ASSERT_EQ(saved->type_tags(), "sif");
    EXPECT_EQ(saved->args[0].s, "take.wav");
    EXPECT_EQ(saved->args[1].number(), static_cast<double>(loop.length));
    EXPECT_FLOAT_EQ(static_cast<float>(saved->args[2].number()),
                    static_cast<float>(loop.length) / static_cast<float>(kRate));
    expect_take_file(samples_ / "take.wav", played, loop);

    // Kept in the state directory too, and the saved rig names it as a take.
    const fs::path kept = dir_ / "state" / "takes" / "slot-0.wav";
    EXPECT_TRUE(wait_file_has(dir_ / "state" / "state.toml", "take = true", kHangBound))
        << "the saved rig does not name the take";
    expect_take_file(kept, played, loop);

    // Outside the sample roots, or no take: /error, nothing written.
    send(slot(0, "save"), {osc_string("../outside.wav")});
    auto e = osc_->wait_for("/error", kHangBound);
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->to_string(),
              "/error s:\"/slot/0/save\" s:\"path outside the allowed sample roots\"");
    send(slot(1, "save"), {osc_string("none.wav")});
    e = osc_->wait_for("/error", kHangBound);
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->to_string(), "/error s:\"/slot/1/save\" s:\"slot 1 holds no take\"");
    EXPECT_FALSE(fs::exists(dir_ / "outside.wav"));
    EXPECT_FALSE(fs::exists(samples_ / "none.wav"));
}

TEST_F(LiveLooping, AKeptTakeComesBackAfterKill9AndOverdubsAgain) {
    ASSERT_NO_FATAL_FAILURE(start_daemon());
    const Signal played = stereo_noise(4 * kRate, 22);
    player_->play(played);
    recorder_->start();
    const Loop loop = record_take(played, 300ms);
    ASSERT_GT(loop.length, 0U);
    ASSERT_TRUE(wait_file_has(dir_ / "state" / "state.toml", "take = true", kHangBound))
        << "the saved rig does not name the take";

    // The power goes: jackd and looperd die with no clean exit (jackd first: a synchronous
    // server would wait out its timeout for a client killed in the middle of a cycle). Then
    // both start again, looperd on the same state directory.
    player_.reset();
    recorder_.reset();
    ASSERT_NO_THROW(jack_->kill_hard());
    daemon_->send_signal(SIGKILL);
    ASSERT_TRUE(daemon_->wait_exit(kHangBound).has_value());
    forget_jack_metadata_locks();
    daemon_.reset();
    ASSERT_NO_THROW(jack_->restart());
    ASSERT_NO_FATAL_FAILURE(start_daemon());
    const auto deadline = Clock::now() + kHangBound;
    while (!log_has("slot 0: take of " + std::to_string(loop.length) + " frames loaded") &&
           Clock::now() < deadline)
        std::this_thread::sleep_for(20ms);
    ASSERT_TRUE(log_has("slot 0: take of " + std::to_string(loop.length) + " frames loaded"))
        << "the take did not come back as a take";

    // Stopped after a restart, as every slot; play: the same loop, frame for frame.
    recorder_->start();
    const std::size_t before = recorder_->frames();
    send(slot(0, "play"));
    const Loop back = find_loop(played, before, kRate);
    ASSERT_EQ(back.length, loop.length);
    EXPECT_EQ(back.first, loop.first) << "the restored take begins elsewhere in the input";
    const Signal rec = recorded(back.end + 3 * back.length);
    expect_loop(rec, played, back, back.end, back.end + 3 * back.length);

    // A take again: it overdubs.
    send(slot(0, "overdub"));
    std::this_thread::sleep_for(100ms);
    send(slot(0, "overdub"));
    const auto until = Clock::now() + kHangBound;
    while (!log_has("slot 0: overdub ended") && Clock::now() < until)
        std::this_thread::sleep_for(20ms);
    EXPECT_TRUE(log_has("slot 0: overdubbing")) << "the restored take does not overdub";
}

// A fresh account: HOME is an empty directory (no .local at all) and neither STATE_DIRECTORY
// nor XDG_STATE_HOME is set. The very first run makes ~/.local/state/looperd/takes with its
// parents, each private, logs no error, and keeps the first take on disk.
TEST_F(LiveLooping, AFirstRunOnAFreshAccountMakesItsDirectoriesAndKeepsTheTake) {
    if (IsSkipped() || HasFatalFailure()) return;
    const fs::path home = dir_ / "home";
    ASSERT_TRUE(fs::create_directory(home));
    ASSERT_NO_FATAL_FAILURE(start_daemon({}, "2",
                                         std::vector<std::string>{
                                             "JACK_DEFAULT_SERVER=" + jack_->name(),
                                             "HOME=" + home.string(),
                                             "STATE_DIRECTORY=",
                                             "XDG_STATE_HOME=",
                                         }));
    const Signal played = stereo_noise(4 * kRate, 24);
    player_->play(played);
    recorder_->start();
    const Loop loop = record_take(played, 300ms);
    ASSERT_GT(loop.length, 0U);

    const fs::path state = home / ".local" / "state" / "looperd";
    ASSERT_TRUE(wait_file_has(state / "state.toml", "take = true", kHangBound))
        << "the first run's rig does not name its take";
    expect_take_file(state / "takes" / "slot-0.wav", played, loop);
    for (const fs::path& d : {home / ".local", home / ".local" / "state", state, state / "takes"}) {
        struct stat st {};
        ASSERT_EQ(::stat(d.c_str(), &st), 0) << d << " was not made";
        EXPECT_EQ(st.st_mode & 0777U, 0700U) << d << " is not private";
    }
    // No error or critical line: the takes directory was there before anything needed it.
    const std::regex error_line(R"((^|\n)\S+ \S+ (error|critical) [^\n]*)");
    std::smatch m;
    const std::string log = daemon_->read_log();
    EXPECT_FALSE(std::regex_search(log, m, error_line)) << "the first run logged: " << m.str();
}

TEST_F(LiveLooping, ClockFromSlotPutsBarLinesOnTheLoopsPasses) {
    ASSERT_NO_FATAL_FAILURE(start_daemon());
    // A click to launch on the grid: 256 frames of 0.25, a one-shot.
    write_wav(samples_ / "click.wav", 2, std::vector<float>(2 * 256, 0.25F));
    send(slot(1, "load"), {osc_string("click.wav")});
    ASSERT_TRUE(osc_->wait_for(slot(1, "loaded"), kHangBound).has_value());
    send(slot(1, "quantize"), {osc_string("bar")});
    send("/clock/meter", {osc_int(2)});

    const Signal played = stereo_noise(6 * kRate, 23);
    player_->play(played);
    recorder_->start();
    const Loop loop = record_take(played, 1000ms);
    ASSERT_GT(loop.length, 0U);
    // Two beats over the take: one bar of 2/4.
    osc_->drain();
    send("/clock/from_slot", {osc_int(0), osc_int(2)});
    // No reply when accepted: a /ping behind it shows it was taken without an /error.
    send("/ping");
    const auto answer = osc_->wait_for_any({"/pong", "/error"}, kHangBound);
    ASSERT_TRUE(answer.has_value());
    ASSERT_EQ(answer->address, "/pong") << answer->to_string();
    const double bpm = 2.0 * 60.0 * kRate / static_cast<double>(loop.length);
    const std::size_t sent = recorder_->frames();
    send(slot(1, "play"));
    // Counted from when looperd had taken the play (its /pong to a later /ping), so that a
    // busy machine's delay in reading it is not blamed on the grid.
    send("/ping");
    ASSERT_TRUE(osc_->wait_for("/pong", kHangBound)) << "no /pong after the play";
    const std::size_t taken_by = recorder_->frames();
    const Signal rec = recorded(taken_by + 3 * loop.length);
    const std::size_t click = first_difference(rec[0], sent, rec[0].size(), [&](std::size_t t) {
        return played[0][static_cast<std::size_t>(loop.first) + (t - loop.end) % loop.length];
    });
    ASSERT_LT(click, rec[0].size()) << "the click never played";
    EXPECT_EQ((click - loop.end) % loop.length, 0U)
        << "the bar line is " << (click - loop.end) % loop.length << " frames into a pass (tempo "
        << bpm << " BPM)";
    EXPECT_LE(click, taken_by + 2 * loop.length) << "the click waited more than a bar";
}

#ifdef LOOPERD_HAVE_RUBBERBAND
// A take in `stretch pitch` (docs/stretch.md#takes): at the tempo it was recorded at it plays as
// it is; at another tempo it is rendered from a copy of it and keeps its pitch; after an overdub
// pass it is copied and rendered again. A 375 Hz sine, 128 frames a cycle, so that a take of
// whole blocks is whole cycles and loops without a step.
TEST_F(LiveLooping, AStretchedTakeKeepsItsPitchAtAnotherTempoAndAfterAnOverdub) {
    ASSERT_NO_FATAL_FAILURE(start_daemon());
    const auto listener = subscribe();
    constexpr double kHz = 375.0;
    Signal played(2, std::vector<float>(6 * kRate));
    for (std::size_t i = 0; i < played[0].size(); ++i)
        played[0][i] = played[1][i] =
            static_cast<float>(0.25 * std::sin(2.0 * M_PI * kHz * static_cast<double>(i) / kRate));
    player_->play(played);
    recorder_->start();
    send(slot(0, "record"));
    ASSERT_TRUE(listener->wait_state(slot(0, "state"), "recording", kHangBound));
    std::this_thread::sleep_for(1000ms);
    send(slot(0, "record"));
    ASSERT_TRUE(listener->wait_state(slot(0, "state"), "playing", kHangBound));
    // Two beats over the take: its own tempo, near 120 BPM.
    send("/clock/from_slot", {osc_int(0), osc_int(2)});
    send(slot(0, "beats"), {osc_float(2.0F)});
    send(slot(0, "stretch"), {osc_string("pitch")});
    send("/ping");
    ASSERT_TRUE(osc_->wait_for("/pong", kHangBound));
    // The tone on out_1 over the last second, in cents from 375 Hz.
    auto cents_now = [&]() {
        const std::size_t wanted = recorder_->frames() + kRate;
        const Signal rec = recorded(wanted);
        return cents(tone_frequency(rec[0].data(), rec[0].size() - kRate, rec[0].size(), kRate),
                     kHz);
    };
    std::this_thread::sleep_for(500ms);
    EXPECT_FALSE(log_has("stretched to")) << "rendered at its own tempo";
    EXPECT_NEAR(cents_now(), 0.0, 3.0) << "the take at its own tempo";

    player_->stop();  // the overdub below layers silence: a new content all the same
    const std::string state = slot(0, "state");
    for (const char* step : {"a new tempo", "an overdub pass"}) {
        SCOPED_TRACE(step);
        if (std::string(step) == "a new tempo") {
            send("/clock/tempo", {osc_float(90.0F)});
        } else {
            send(slot(0, "overdub"), {osc_int(1)});
            ASSERT_TRUE(listener->wait_state(state, "overdubbing", kHangBound))
                << listener->history(state);
            std::this_thread::sleep_for(300ms);
            send(slot(0, "overdub"), {osc_int(1)});
        }
        EXPECT_TRUE(listener->wait_state(state, "stretching", kHangBound))
            << listener->history(state);
        ASSERT_TRUE(listener->wait_state(state, "playing", 4 * kHangBound))
            << listener->history(state);
        // The swap waits for the seam: a pass of 2 beats at 90 BPM, then a second to measure.
        std::this_thread::sleep_for(1400ms);
        const double off = cents_now();
        EXPECT_NEAR(off, 0.0, 3.0) << "the take's tone moved";
        std::cout << "[   INFO   ] after " << step << ": " << off << " cents from " << kHz
                  << " Hz\n";
    }
    // One rendering per step, each from its own copy of the take.
    const std::string log = daemon_->read_log();
    std::size_t renders = 0;
    for (auto at = log.find("stretched to"); at != std::string::npos;
         at = log.find("stretched to", at + 1))
        ++renders;
    EXPECT_GE(renders, 2U) << log;
}
#endif

}  // namespace
}  // namespace looperd::test
