// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// Feedback to control surfaces: a real Controller and Engine (rendered by hand, no JACK), a
// fake clock that tick() is driven with, and a fake sender that keeps every datagram.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sndfile.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "daemon/controller.hpp"
#include "daemon/feedback.hpp"
#include "looperd/engine.hpp"
#include "test_endpoint.hpp"
#include "test_wav.hpp"
#include "wait_until.hpp"

namespace {

using namespace looperd;
using looperd::test::hung;
using looperd::test::kHangBound;
using looperd::test::wait_until;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

using test::endpoint;

// Two surfaces.
const OscEndpoint kA = endpoint("127.0.0.1", 7000);
const OscEndpoint kB = endpoint("127.0.0.1", 7001);

struct Datagram {
    std::string to;
    std::vector<std::uint8_t> bytes;
};

class FeedbackTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/looperd-feedback-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        make({});
    }
    void TearDown() override {
        feedback_.reset();
        controller_.reset();
        engine_.reset();
        fs::remove_all(dir_);
    }

    // `recording`: two inputs and one small recorder (else the engine records nothing).
    void make(FeedbackConfig config, std::uint32_t slots = 4, bool recording = false) {
        feedback_.reset();
        controller_.reset();
        engine_.reset();
        EngineConfig ec;
        ec.outputs = 2;
        ec.slots = slots;
        ec.voices = 16;
        ec.sample_rate = 48000;
        if (recording) {
            ec.inputs = 2;
            ec.recorders = 1;
            ec.max_record_seconds = 1.0F;
            ec.undo_memory_mib = 1;
        }
        engine_ = std::make_unique<Engine>(ec);
        ControllerConfig cc;
        cc.slots = slots;
        cc.outputs = 2;
        cc.samples_dir = dir_;
        controller_ = std::make_unique<Controller>(
            cc, budget_, [this](const Command& c) { return engine_->try_send(c); },
            [this](const OscEndpoint& to, const OscMessage& m) {
                std::lock_guard lock(mutex_);
                replies_.push_back({to.to_string(), m});
            },
            [] { return RuntimeStatus{}; },
            [this] {
                // Holds the loader thread while a test wants to see a load in flight. The test
                // opens the gate itself; the bound only keeps a failed test from hanging.
                std::unique_lock lock(gate_mutex_);
                gate_cv_.wait_for(lock, kHangBound, [this] { return gate_open_; });
                return 48000U;
            });
        config.outputs = 2;
        feedback_ = std::make_unique<Feedback>(
            config, *engine_,
            [this] {
                ++mirror_reads_;
                return controller_->snapshot();
            },
            [this](const OscEndpoint& to, const std::vector<std::uint8_t>& bytes) {
                std::lock_guard lock(mutex_);
                sent_.push_back({to.to_string(), bytes});
                if (refuse_sends_) return Feedback::SendResult::refused;
                return fail_sends_ ? Feedback::SendResult::failed : Feedback::SendResult::sent;
            },
            [this] { return now_; });
        feedback_->on_forget(
            [this](const OscEndpoint& to) { forgotten_.push_back(to.to_string()); });
        controller_->set_feedback(feedback_.get());
        feedback_->set_link_peers([this] { return link_peers_.load(); });
    }

    void send(const std::string& address, std::vector<OscArg> args = {},
              const OscEndpoint& from = endpoint("127.0.0.1", 7000)) {
        controller_->handle(OscMessage{address, std::move(args)}, from);
    }

    void tick() { feedback_->tick(now_); }

    // The engine renders `blocks`, the clock moves on by `dt`, and feedback ticks: one step of
    // the audio and network threads' life.
    void step(int blocks, std::chrono::milliseconds dt = std::chrono::milliseconds(100)) {
        render(blocks);
        now_ += dt;
        tick();
    }

    // Slot 1 holds 4 s of a 0.5 tone and plays, for a surface (kA) subscribed with feedback at
    // 100 Hz and positions and meters at `position_rate`.
    void play_long_sample_on_slot_1(int position_rate) {
        FeedbackConfig c;
        c.feedback_rate = 100;
        c.position_rate = position_rate;
        make(c);
        write_wav("long.wav", 48000 * 4);
        send("/slot/1/load", {OscArg::string("long.wav")});
        controller_->wait_for_loads();
        render(1);
        send("/notify", {OscArg::int32(1)}, kA);
        send("/slot/1/play");
    }

    void render(int blocks) {
        std::vector<float> l(256), r(256);
        float* outs[] = {l.data(), r.data()};
        for (int i = 0; i < blocks; ++i) engine_->process(outs, 256);
    }

    fs::path write_wav(const std::string& name, int frames) {
        const fs::path p = dir_ / name;
        test::write_wav(p, frames, 1, 0.5F);
        return p;
    }

    // Every message sent to `to`, datagrams in order, each checked to be a bundle within 8 KiB.
    std::vector<OscMessage> received(const std::string& to) {
        std::lock_guard lock(mutex_);
        std::vector<OscMessage> out;
        for (const auto& d : sent_) {
            if (d.to != to) continue;
            EXPECT_LE(d.bytes.size(), 8192U);
            EXPECT_EQ(std::string(d.bytes.begin(), d.bytes.begin() + 8),
                      std::string("#bundle\0", 8));
            for (auto& m : decode_osc_packet(d.bytes.data(), d.bytes.size())) {
                EXPECT_EQ(m.timetag, 1U);  // immediately
                out.push_back(std::move(m));
            }
        }
        return out;
    }
    std::size_t datagrams(const std::string& to) {
        std::lock_guard lock(mutex_);
        return static_cast<std::size_t>(std::count_if(
            sent_.begin(), sent_.end(), [&to](const Datagram& d) { return d.to == to; }));
    }
    void clear() {
        std::lock_guard lock(mutex_);
        sent_.clear();
        replies_.clear();
    }
    static std::vector<OscMessage> only(const std::vector<OscMessage>& all,
                                        const std::string& address) {
        std::vector<OscMessage> out;
        for (const auto& m : all)
            if (m.address == address) out.push_back(m);
        return out;
    }
    std::vector<std::pair<std::string, OscMessage>> errors() {
        std::lock_guard lock(mutex_);
        std::vector<std::pair<std::string, OscMessage>> out;
        for (const auto& r : replies_)
            if (r.second.address == "/error") out.push_back(r);
        return out;
    }

    fs::path dir_;
    MemoryBudget budget_{1ULL << 30};
    std::unique_ptr<Engine> engine_;
    std::unique_ptr<Controller> controller_;
    std::unique_ptr<Feedback> feedback_;
    Feedback::TimePoint now_{std::chrono::steady_clock::duration(1'000'000'000'000)};
    std::mutex mutex_;
    std::vector<Datagram> sent_;
    std::vector<std::pair<std::string, OscMessage>> replies_;
    bool fail_sends_ = false;
    bool refuse_sends_ = false;           // as a connected socket after ICMP port unreachable
    std::vector<std::string> forgotten_;  // subscribers gone, as on_forget told
    std::mutex gate_mutex_;
    std::condition_variable gate_cv_;
    bool gate_open_ = true;
    std::atomic<std::uint32_t> link_peers_{0};
    std::atomic<int> mirror_reads_{0};  // once per tick
};

// What the whole state says of each slot: its state, playing, and every saved parameter.
const std::size_t kPerSlot = 2 + saved_slot_rows().size();
// And of the rig: master gain, tempo, meter, sync, the transport (/clock/playing), monitor, the
// MIDI learning and Link's peers.
constexpr std::size_t kGlobal = 8;

TEST_F(FeedbackTest, NotifySubscribesSendsTheWholeStateAndUnsubscribes) {
    send("/notify", {OscArg::int32(1)}, kA);
    EXPECT_TRUE(feedback_->is_subscribed(kA));
    tick();
    const auto first = received("127.0.0.1:7000");
    // The whole state, plus the first clock beat and meter reading of the tick.
    ASSERT_EQ(first.size(), kGlobal + 4U * kPerSlot + 2U);
    EXPECT_EQ(only(first, "/clock/beat").size(), 1U);
    EXPECT_EQ(only(first, "/meter/out").size(), 1U);
    EXPECT_EQ(only(first, "/slot/3/state").at(0).args.at(0).s, "empty");
    EXPECT_FLOAT_EQ(only(first, "/master/gain").at(0).args.at(0).f, 1.0F);

    send("/notify", {OscArg::int32(0)}, kA);
    EXPECT_FALSE(feedback_->is_subscribed(kA));
    clear();
    send("/slot/0/gain", {OscArg::float32(0.5F)}, kA);
    now_ += 1s;
    tick();
    EXPECT_EQ(datagrams("127.0.0.1:7000"), 0U);
}

// With nobody subscribed the thread rests: no tick copies the mirror or builds messages. A
// subscriber wakes it, and while anyone is subscribed (a --notify one always) it ticks at
// max(feedback_rate, position_rate) per second.
TEST_F(FeedbackTest, TheThreadRestsWhileNobodyIsSubscribed) {
    using std::chrono::nanoseconds;
    const nanoseconds period(33'333'334);  // 1/30 s, rounded up
    EXPECT_EQ(feedback_->next_tick(), nanoseconds::zero());
    feedback_->start();
    ASSERT_TRUE(wait_until([&] { return mirror_reads_.load() == 1; })) << hung("the first tick");
    // Resting: whatever the scheduler does meanwhile, no tick runs (at 30 a second, 3 would).
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_EQ(mirror_reads_.load(), 1);
    send("/notify", {OscArg::int32(1)}, kA);
    EXPECT_EQ(feedback_->next_tick(), period);
    // The resting thread was woken: the whole state arrives without a tick of the test's.
    ASSERT_TRUE(wait_until([&] { return datagrams("127.0.0.1:7000") > 0; }))
        << hung("the first burst");
    feedback_->stop();
    send("/notify", {OscArg::int32(0)}, kA);
    EXPECT_EQ(feedback_->next_tick(), nanoseconds::zero());

    FeedbackConfig c;
    c.static_subscribers = {endpoint("127.0.0.1", 8000)};
    make(c);
    EXPECT_EQ(feedback_->next_tick(), period);
}

TEST_F(FeedbackTest, NotifyToAUrlSubscribesThatUrl) {
    send("/notify", {OscArg::int32(1), OscArg::string("osc.udp://127.0.0.1:9100/")}, kA);
    EXPECT_TRUE(feedback_->is_subscribed(endpoint("127.0.0.1", 9100)));
    EXPECT_FALSE(feedback_->is_subscribed(kA));
}

TEST_F(FeedbackTest, ModeTwoSuppressesOwnEchoesButNotOthers) {
    send("/notify", {OscArg::int32(2)}, kA);
    send("/notify", {OscArg::int32(1)}, kB);
    tick();
    clear();
    now_ += 1s;
    send("/slot/1/gain", {OscArg::float32(0.25F)}, kA);
    send("/slot/2/pan", {OscArg::float32(-0.5F)}, kB);
    tick();
    const auto a = received("127.0.0.1:7000");
    const auto b = received("127.0.0.1:7001");
    EXPECT_TRUE(only(a, "/slot/1/gain").empty());
    ASSERT_EQ(only(a, "/slot/2/pan").size(), 1U);
    EXPECT_FLOAT_EQ(only(a, "/slot/2/pan")[0].args[0].f, -0.5F);
    ASSERT_EQ(only(b, "/slot/1/gain").size(), 1U);
    EXPECT_FLOAT_EQ(only(b, "/slot/1/gain")[0].args[0].f, 0.25F);
    ASSERT_EQ(only(b, "/slot/2/pan").size(), 1U);  // mode 1: its own change too
}

// A full table makes room: the subscriber heard from least recently goes, not the newcomer.
TEST_F(FeedbackTest, AFullTableDropsTheLeastRecentlyHeard) {
    FeedbackConfig c;
    c.max_subscribers = 2;
    make(c);
    const OscEndpoint kC = endpoint("127.0.0.1", 7002);
    send("/notify", {OscArg::int32(1)}, kA);
    now_ += 1s;
    send("/notify", {OscArg::int32(1)}, kB);
    now_ += 1s;
    send("/ping", {}, kA);  // A was heard after B
    now_ += 1s;
    send("/notify", {OscArg::int32(1)}, kC);
    EXPECT_TRUE(errors().empty());
    EXPECT_EQ(feedback_->subscriber_count(), 2U);
    EXPECT_TRUE(feedback_->is_subscribed(kA));
    EXPECT_FALSE(feedback_->is_subscribed(kB));
    EXPECT_TRUE(feedback_->is_subscribed(kC));
    // Subscribing again is not a new subscriber: nobody goes.
    send("/notify", {OscArg::int32(2)}, kA);
    EXPECT_TRUE(feedback_->is_subscribed(kC));
    EXPECT_EQ(feedback_->subscriber_count(), 2U);
}

// --notify subscribers are never dropped: with every place theirs, one more is refused.
TEST_F(FeedbackTest, ATableFullOfNotifySubscribersRefusesOneMore) {
    FeedbackConfig c;
    c.max_subscribers = 2;
    c.static_subscribers = {endpoint("127.0.0.1", 8000), endpoint("127.0.0.1", 8001)};
    make(c);
    send("/notify", {OscArg::int32(1)}, kA);
    ASSERT_EQ(errors().size(), 1U);
    EXPECT_EQ(errors()[0].first, "127.0.0.1:7000");
    EXPECT_NE(errors()[0].second.args[1].s.find("too many subscribers"), std::string::npos);
    EXPECT_EQ(feedback_->subscriber_count(), 2U);
    EXPECT_FALSE(feedback_->is_subscribed(kA));
}

// A surface left idle for a whole set keeps its feedback.
TEST_F(FeedbackTest, SilenceDropsNoSubscriberByDefault) {
    send("/notify", {OscArg::int32(2)}, kA);
    for (int hour = 0; hour < 4; ++hour) {
        now_ += 3600s;
        tick();
    }
    ASSERT_TRUE(feedback_->is_subscribed(kA));
    clear();
    send("/slot/1/gain", {OscArg::float32(0.25F)}, kB);  // another client's change
    now_ += 1s;
    tick();
    const auto got = only(received("127.0.0.1:7000"), "/slot/1/gain");
    ASSERT_EQ(got.size(), 1U);
    EXPECT_FLOAT_EQ(got[0].args[0].f, 0.25F);
}

// A subscriber dropped for want of room comes back when it speaks again: with its mode (2: no
// echo of its own changes) and the whole state.
TEST_F(FeedbackTest, ADroppedSubscriberComesBackWithItsModeAndTheWholeState) {
    FeedbackConfig c;
    c.max_subscribers = 1;
    make(c);
    send("/notify", {OscArg::int32(2)}, kA);
    now_ += 1s;
    send("/notify", {OscArg::int32(1)}, kB);  // takes A's place
    ASSERT_FALSE(feedback_->is_subscribed(kA));
    tick();
    clear();
    now_ += 1s;
    send("/ping", {}, kA);
    EXPECT_TRUE(feedback_->is_subscribed(kA));
    EXPECT_FALSE(feedback_->is_subscribed(kB)) << "the table holds one";
    tick();
    const auto state = received("127.0.0.1:7000");
    EXPECT_EQ(only(state, "/slot/0/gain").size(), 1U) << "the whole state";
    EXPECT_EQ(only(state, "/master/gain").size(), 1U) << "the whole state";
    clear();
    now_ += 1s;
    send("/slot/0/gain", {OscArg::float32(0.5F)}, kA);
    tick();
    EXPECT_TRUE(only(received("127.0.0.1:7000"), "/slot/0/gain").empty())
        << "mode 2: its own change is not echoed";
}

// So is one whose sends failed, once it is reachable and speaks again.
TEST_F(FeedbackTest, ASubscriberDroppedForFailedSendsComesBackWhenItSpeaks) {
    send("/notify", {OscArg::int32(1)}, kA);
    fail_sends_ = true;
    for (int i = 0; i < 11; ++i) {
        send("/slot/0/gain", {OscArg::float32(0.01F * static_cast<float>(i))}, kB);
        tick();
        now_ += 100ms;
    }
    ASSERT_FALSE(feedback_->is_subscribed(kA));
    fail_sends_ = false;
    send("/ping", {}, kA);
    EXPECT_TRUE(feedback_->is_subscribed(kA));
}

// "Port unreachable" is evidence enough: the subscriber goes at once, and comes back when its
// surface speaks again.
TEST_F(FeedbackTest, AnUnreachableSubscriberIsDroppedAtOnceAndComesBackWhenItSpeaks) {
    FeedbackConfig c;
    c.static_subscribers = {endpoint("127.0.0.1", 8000)};
    make(c);
    send("/notify", {OscArg::int32(1)}, kA);
    tick();
    refuse_sends_ = true;
    now_ += 100ms;
    send("/slot/0/gain", {OscArg::float32(0.5F)}, kB);
    tick();  // refused
    now_ += 100ms;
    tick();
    EXPECT_FALSE(feedback_->is_subscribed(kA));
    EXPECT_TRUE(feedback_->is_subscribed(endpoint("127.0.0.1", 8000))) << "--notify stays";
    // The sending side is told, so that it closes its socket (and the refusals it holds).
    EXPECT_EQ(forgotten_, std::vector<std::string>{"127.0.0.1:7000"});
    refuse_sends_ = false;
    send("/ping", {}, kA);
    EXPECT_TRUE(feedback_->is_subscribed(kA));
}

// /notify 0 is meant: a source that unsubscribed is not brought back by its next message.
TEST_F(FeedbackTest, AnUnsubscribedSourceIsNotBroughtBack) {
    send("/notify", {OscArg::int32(1)}, kA);
    fail_sends_ = true;
    for (int i = 0; i < 11; ++i) {
        send("/slot/0/gain", {OscArg::float32(0.01F * static_cast<float>(i))}, kB);
        tick();
        now_ += 100ms;
    }
    ASSERT_FALSE(feedback_->is_subscribed(kA));  // dropped, remembered
    fail_sends_ = false;
    send("/notify", {OscArg::int32(0)}, kA);  // and then it says it is leaving
    EXPECT_FALSE(feedback_->is_subscribed(kA));
    // Dropped, then (its /notify 0 touching it back first) unsubscribed: closed both times.
    EXPECT_EQ(forgotten_, (std::vector<std::string>{"127.0.0.1:7000", "127.0.0.1:7000"}));
    send("/ping", {}, kA);
    EXPECT_FALSE(feedback_->is_subscribed(kA));
}

TEST_F(FeedbackTest, SilentDynamicSubscribersTimeOutStaticOnesStay) {
    FeedbackConfig c;
    c.static_subscribers = {endpoint("127.0.0.1", 8000)};
    c.subscriber_timeout_s = 60;
    make(c);
    send("/notify", {OscArg::int32(1)}, kA);
    send("/notify", {OscArg::int32(1)}, kB);
    EXPECT_EQ(feedback_->subscriber_count(), 3U);
    now_ += 40s;
    send("/ping", {}, kB);  // B is alive
    now_ += 30s;
    tick();
    EXPECT_FALSE(feedback_->is_subscribed(kA));
    EXPECT_TRUE(feedback_->is_subscribed(kB));
    EXPECT_TRUE(feedback_->is_subscribed(endpoint("127.0.0.1", 8000)));
    now_ += 3600s;
    tick();
    EXPECT_FALSE(feedback_->is_subscribed(kB));
    EXPECT_TRUE(feedback_->is_subscribed(endpoint("127.0.0.1", 8000)));
}

TEST_F(FeedbackTest, TenFailedSendsDropADynamicSubscriber) {
    FeedbackConfig c;
    c.static_subscribers = {endpoint("127.0.0.1", 8000)};
    make(c);
    send("/notify", {OscArg::int32(1)}, kA);
    fail_sends_ = true;
    for (int i = 0; i < 10; ++i) {
        EXPECT_TRUE(feedback_->is_subscribed(kA)) << i;
        send("/slot/0/gain", {OscArg::float32(0.01F * static_cast<float>(i))}, kA);
        tick();
        now_ += 100ms;
    }
    tick();
    EXPECT_FALSE(feedback_->is_subscribed(kA));
    EXPECT_TRUE(feedback_->is_subscribed(endpoint("127.0.0.1", 8000)));
}

TEST_F(FeedbackTest, ASuccessfulSendResetsTheFailureCount) {
    send("/notify", {OscArg::int32(1)}, kA);
    for (int i = 0; i < 30; ++i) {
        fail_sends_ = (i % 5) != 4;  // four failures, then one success
        send("/slot/0/gain", {OscArg::float32(0.01F * static_cast<float>(i))}, kA);
        tick();
        now_ += 100ms;
    }
    EXPECT_TRUE(feedback_->is_subscribed(kA));
}

TEST_F(FeedbackTest, CoalescingKeepsTheLatestValueInOrderOfFirstChange) {
    send("/notify", {OscArg::int32(1)}, kA);
    tick();
    clear();
    now_ += 1s;
    send("/slot/0/gain", {OscArg::float32(0.1F)});
    send("/slot/0/pan", {OscArg::float32(0.2F)});
    send("/slot/0/gain", {OscArg::float32(0.3F)});
    send("/slot/0/loop", {OscArg::int32(1)});  // echoed as mode
    send("/slot/0/start_seconds", {OscArg::float32(0.0F)});
    tick();
    const auto got = received("127.0.0.1:7000");
    ASSERT_GE(got.size(), 3U);
    EXPECT_EQ(got[0].address, "/slot/0/gain");
    EXPECT_FLOAT_EQ(got[0].args[0].f, 0.3F);
    EXPECT_EQ(got[1].address, "/slot/0/pan");
    EXPECT_EQ(got[2].address, "/slot/0/mode");
    EXPECT_EQ(got[2].args[0].s, "loop");
    EXPECT_EQ(only(got, "/slot/0/gain").size(), 1U);
    // start_seconds needs a loaded slot: refused here, so nothing echoed.
    EXPECT_TRUE(only(got, "/slot/0/start").empty());
}

TEST_F(FeedbackTest, ABurstOfAThousandChangesIsSentInAtMostRateBursts) {
    FeedbackConfig c;
    c.feedback_rate = 30;
    c.position_rate = 1;
    make(c);
    send("/notify", {OscArg::int32(1)}, kA);
    tick();
    now_ += 5s;
    send("/ping", {}, kA);
    tick();  // the position-rate meter message, once
    clear();
    now_ += 2s;
    send("/ping", {}, kA);
    tick();  // nothing pending: no burst, so the rate window starts fresh below
    ASSERT_EQ(datagrams("127.0.0.1:7000"), 0U);
    const auto start = now_;
    for (int i = 0; i < 1000; ++i) {
        now_ = start + std::chrono::microseconds(i * 999);
        send("/slot/0/gain", {OscArg::float32(static_cast<float>(i) / 1000.0F)}, kA);
        tick();
    }
    EXPECT_LE(datagrams("127.0.0.1:7000"), 30U);
    EXPECT_GE(datagrams("127.0.0.1:7000"), 25U);
    // What was held back arrives in the next allowed burst: the latest value.
    now_ = start + 1100ms;
    tick();
    const auto gains = only(received("127.0.0.1:7000"), "/slot/0/gain");
    ASSERT_FALSE(gains.empty());
    EXPECT_FLOAT_EQ(gains.back().args[0].f, 0.999F);
}

TEST_F(FeedbackTest, SlotStateGoesEmptyLoadingStoppedPlayingStopped) {
    write_wav("tone.wav", 48000);
    send("/notify", {OscArg::int32(1)}, kA);
    tick();
    {
        std::lock_guard lock(gate_mutex_);
        gate_open_ = false;
    }
    send("/slot/0/load", {OscArg::string("tone.wav")});
    step(0);
    {
        std::lock_guard lock(gate_mutex_);
        gate_open_ = true;
    }
    gate_cv_.notify_all();
    controller_->wait_for_loads();
    step(1);  // the engine takes the buffer
    send("/slot/0/play");
    step(2);
    send("/slot/0/stop");
    step(40);  // past the stop fade

    const auto got = received("127.0.0.1:7000");
    std::vector<std::string> states;
    for (const auto& m : only(got, "/slot/0/state")) states.push_back(m.args[0].s);
    EXPECT_EQ(states,
              (std::vector<std::string>{"empty", "loading", "stopped", "playing", "stopped"}));
    std::vector<float> playing;
    for (const auto& m : only(got, "/slot/0/playing")) playing.push_back(m.args[0].f);
    EXPECT_EQ(playing, (std::vector<float>{0.0F, 0.0F, 0.0F, 1.0F, 0.0F}));
}

TEST_F(FeedbackTest, SlotStateSaysRecordingOverdubbingAndPlayingForATake) {
    make({}, 4, true);
    send("/notify", {OscArg::int32(1)}, kA);
    tick();
    // Each step: the command, one block for the engine to apply it and publish the slot's
    // record state, then a tick.
    auto act = [this](const std::string& address) {
        send(address);
        step(1);
    };
    act("/slot/0/record");
    render(10);
    act("/slot/0/record");  // the take ends and loops
    act("/slot/0/overdub");
    send("/slot/0/info", {}, kB);
    act("/slot/0/overdub");
    act("/slot/0/clear");
    step(40);  // past the stop fade

    const auto got = received("127.0.0.1:7000");
    std::vector<std::string> states;
    for (const auto& m : only(got, "/slot/0/state")) states.push_back(m.args[0].s);
    EXPECT_EQ(states, (std::vector<std::string>{"empty", "recording", "playing", "overdubbing",
                                                "playing", "empty"}));
    std::vector<float> playing;
    for (const auto& m : only(got, "/slot/0/playing")) playing.push_back(m.args[0].f);
    // The take keeps looping under the overdub: it still plays.
    EXPECT_EQ(playing, (std::vector<float>{0.0F, 0.0F, 1.0F, 1.0F, 1.0F, 0.0F}));
    // Cleared, it shows its position back at the start.
    const auto positions = only(got, "/slot/0/position");
    ASSERT_FALSE(positions.empty());
    EXPECT_EQ(positions.back().args[0].f, 0.0F);

    // /slot/<n>/info says the same.
    std::lock_guard lock(mutex_);
    const auto info = std::find_if(replies_.begin(), replies_.end(), [](const auto& r) {
        return r.second.address == "/slot/0/info.reply";
    });
    ASSERT_NE(info, replies_.end());
    ASSERT_GE(info->second.args.size(), 2U);
    EXPECT_EQ(info->second.args[0].s, "state");
    EXPECT_EQ(info->second.args[1].s, "overdubbing");
}

// Every state a surface colours, from what the mirror and the engine publish.
TEST(FeedbackStateName, NamesEachStateASurfaceShows) {
    using RS = Engine::RecordState;
    using P = Engine::SlotPending;
    SlotMirror empty;
    SlotMirror loaded;
    loaded.loaded = true;
    SlotMirror loading;
    loading.loading = true;
    EXPECT_STREQ(Feedback::state_name(empty, false), "empty");
    EXPECT_STREQ(Feedback::state_name(loaded, false), "stopped");
    EXPECT_STREQ(Feedback::state_name(loading, false), "loading");
    EXPECT_STREQ(Feedback::state_name(loaded, false, RS::none, P{.start = true}), "queued");
    // A record pressed on an empty slot waits for the grid too.
    EXPECT_STREQ(Feedback::state_name(empty, false, RS::none, P{.start = true}), "queued");
    EXPECT_STREQ(Feedback::state_name(loaded, true), "playing");
    // A retrigger waiting for the grid: the loop plays on meanwhile.
    EXPECT_STREQ(Feedback::state_name(loaded, true, RS::none, P{.start = true}), "playing");
    EXPECT_STREQ(Feedback::state_name(loaded, true, RS::none, P{.stop = true}), "stopping");
    EXPECT_STREQ(Feedback::state_name(loaded, false, RS::none, P{.fading = true}), "stopping");
    EXPECT_STREQ(Feedback::state_name(empty, false, RS::recording), "recording");
    EXPECT_STREQ(Feedback::state_name(empty, true, RS::overdubbing, P{.stop = true}),
                 "overdubbing");
    // Each is one of the schema's choices for /slot/<n>/state.
    const osc::Row* row = osc::find("/slot/<n>/state");
    ASSERT_NE(row, nullptr);
    for (const char* state : {"empty", "loading", "stopped", "queued", "playing", "stopping",
                              "recording", "overdubbing"})
        EXPECT_NE(std::string(row->choices).find(state), std::string::npos) << state;
}

// A quantized press shows as queued at once, and the slot as playing on the grid.
TEST_F(FeedbackTest, AQuantizedPlayIsQueuedUntilItsBeat) {
    write_wav("tone.wav", 48000);
    send("/notify", {OscArg::int32(1)}, kA);
    tick();
    send("/slot/0/load", {OscArg::string("tone.wav")});
    controller_->wait_for_loads();
    send("/clock/tempo", {OscArg::float32(30.0F)});  // a beat every 2 s: 96000 frames
    send("/slot/0/quantize", {OscArg::string("beat")});
    send("/clock/reset");
    step(1);
    send("/slot/0/play");
    step(2);
    step(96000 / 256 + 2);  // past the beat
    std::vector<std::string> states;
    for (const auto& m : only(received("127.0.0.1:7000"), "/slot/0/state"))
        states.push_back(m.args[0].s);
    EXPECT_EQ(states, (std::vector<std::string>{"empty", "stopped", "queued", "playing"}));
}

// A surface's position bar goes back to the start when the slot stops, once.
TEST_F(FeedbackTest, PositionReturnsToTheStartWhenTheSlotStops) {
    play_long_sample_on_slot_1(100);
    for (int i = 0; i < 20; ++i) step(2, 10ms);
    send("/slot/1/stop");
    for (int i = 0; i < 20; ++i) step(2, 10ms);  // past the stop fade, and a few ticks more
    const auto got = received("127.0.0.1:7000");
    const auto positions = only(got, "/slot/1/position");
    ASSERT_GE(positions.size(), 3U);
    EXPECT_GT(positions[positions.size() - 2].args[0].f, 0.0F) << "it had moved";
    EXPECT_EQ(positions.back().args[0].f, 0.0F);
    const auto zeros = std::count_if(positions.begin(), positions.end(),
                                     [](const OscMessage& m) { return m.args[0].f == 0.0F; });
    EXPECT_EQ(zeros, 1) << "told once, not at every tick";
}

TEST_F(FeedbackTest, PositionAndMeterComeAtThePositionRate) {
    play_long_sample_on_slot_1(20);
    tick();
    clear();
    // One second in 10 ms steps; the engine renders 480 frames' worth per step (about).
    const auto start = now_;
    for (int i = 1; i <= 100; ++i) {
        now_ = start + std::chrono::milliseconds(i * 10);
        render(2);
        tick();
    }
    const auto got = received("127.0.0.1:7000");
    const auto positions = only(got, "/slot/1/position");
    EXPECT_GE(positions.size(), 18U);
    EXPECT_LE(positions.size(), 21U);
    float last = -1.0F;
    for (const auto& p : positions) {
        EXPECT_GT(p.args[0].f, last);
        EXPECT_LE(p.args[0].f, 1.0F);
        last = p.args[0].f;
    }
    const auto meters = only(got, "/meter/out");
    EXPECT_GE(meters.size(), 18U);
    EXPECT_LE(meters.size(), 21U);
    ASSERT_EQ(meters[0].args.size(), 2U);
    EXPECT_GT(meters[0].args[0].f, 0.1F);                // the 0.5 tone, panned
    EXPECT_TRUE(only(got, "/slot/0/position").empty());  // not playing
}

TEST_F(FeedbackTest, ClockBeatsAreSentOncePerBeatOneBased) {
    send("/notify", {OscArg::int32(1)}, kA);
    send("/clock/meter", {OscArg::int32(3)});
    std::vector<std::pair<int, int>> beats;
    // 120 BPM at 48 kHz: a beat every 24000 frames; 256-frame blocks, ticks every 8 blocks.
    for (int i = 0; i < 80; ++i) {
        render(8);
        now_ += 50ms;
        tick();
    }
    for (const auto& m : only(received("127.0.0.1:7000"), "/clock/beat"))
        beats.emplace_back(m.args[0].i, m.args[1].i);
    // 80 × 2048 frames = 6.8 beats.
    const std::vector<std::pair<int, int>> expected = {{1, 1}, {1, 2}, {1, 3}, {2, 1},
                                                       {2, 2}, {2, 3}, {3, 1}};
    EXPECT_EQ(beats, expected);
}

// Link's peers, each time their number changes (Link's own thread counts them).
TEST_F(FeedbackTest, LinkPeersAreSentWhenTheirNumberChanges) {
    send("/notify", {OscArg::int32(1)}, kA);
    tick();
    auto peers = only(received("127.0.0.1:7000"), "/clock/link_peers");
    ASSERT_EQ(peers.size(), 1U) << "the whole state says how many";
    EXPECT_EQ(peers[0].args[0].i, 0);
    for (const std::uint32_t n : {2U, 2U, 3U, 0U}) {
        link_peers_ = n;
        now_ += 100ms;
        tick();
    }
    peers = only(received("127.0.0.1:7000"), "/clock/link_peers");
    std::vector<std::int32_t> told;
    for (const auto& m : peers) told.push_back(m.args[0].i);
    EXPECT_EQ(told, (std::vector<std::int32_t>{0, 2, 3, 0}));
}

TEST_F(FeedbackTest, RefreshSendsTheWholeStateToTheSenderOrUrl) {
    send("/slot/1/gain", {OscArg::float32(0.25F)});
    send("/slot/1/quantize", {OscArg::string("bar")});
    send("/slot/2/quantize", {OscArg::float32(2.0F)});
    send("/slot/1/label", {OscArg::string("Bass")});
    send("/clock/tempo", {OscArg::float32(90.0F)});
    send("/clock/sync", {OscArg::string("jack")});
    send("/refresh", {}, kB);
    const auto got = received("127.0.0.1:7001");
    ASSERT_EQ(got.size(), kGlobal + 4U * kPerSlot);
    EXPECT_FLOAT_EQ(only(got, "/slot/1/gain").at(0).args[0].f, 0.25F);
    EXPECT_EQ(only(got, "/slot/1/quantize").at(0).args[0].s, "bar");
    EXPECT_EQ(only(got, "/slot/2/quantize").at(0).args[0].type, 'f');
    EXPECT_FLOAT_EQ(only(got, "/slot/2/quantize").at(0).args[0].f, 2.0F);
    EXPECT_FLOAT_EQ(only(got, "/clock/tempo").at(0).args[0].f, 90.0F);
    EXPECT_EQ(only(got, "/clock/sync").at(0).args[0].s, "jack");
    EXPECT_EQ(only(got, "/slot/0/fade_out").at(0).args[0].f, limits::kDefaultFadeMs);
    EXPECT_EQ(only(got, "/slot/0/state").at(0).args[0].s, "empty");
    EXPECT_EQ(only(got, "/slot/1/label").at(0).args[0].s, "Bass");
    EXPECT_EQ(only(got, "/slot/0/label").at(0).args[0].s, "");
    send("/refresh", {OscArg::string("osc.udp://127.0.0.1:9200/")}, kB);
    EXPECT_EQ(received("127.0.0.1:9200").size(), got.size());
    EXPECT_TRUE(errors().empty());
}

TEST_F(FeedbackTest, LargeStateIsSplitIntoDatagramsOfAtMost8KiB) {
    make({}, 128);
    send("/refresh", {}, kB);
    EXPECT_GT(datagrams("127.0.0.1:7001"), 4U);
    const auto got = received("127.0.0.1:7001");  // checks each datagram's size
    const auto expected = feedback_->state_messages();
    ASSERT_EQ(got.size(), expected.size());
    ASSERT_EQ(got.size(), kGlobal + 128U * kPerSlot);
    for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].address, expected[i].address);
}

TEST_F(FeedbackTest, SlotInfoAndSlotsReply) {
    write_wav("kick.wav", 24000);
    send("/slot/2/load", {OscArg::string("kick.wav")});
    controller_->wait_for_loads();
    send("/slot/2/gain", {OscArg::float32(0.5F)});
    send("/slot/2/reverse", {OscArg::int32(1)});
    send("/slot/2/mode", {OscArg::string("gate")});
    send("/slot/2/label", {OscArg::string("Kick \xC3\xA9")});
    send("/slot/2/info", {}, kB);
    std::unique_lock lock(mutex_);
    ASSERT_FALSE(replies_.empty());
    const auto [to, m] = replies_.back();
    EXPECT_EQ(to, "127.0.0.1:7001");
    EXPECT_EQ(m.address, "/slot/2/info.reply");
    std::vector<std::string> keys;
    std::map<std::string, OscArg> kv;
    ASSERT_EQ(m.args.size() % 2, 0U);
    for (std::size_t i = 0; i < m.args.size(); i += 2) {
        keys.push_back(m.args[i].s);
        kv[m.args[i].s] = m.args[i + 1];
    }
    // The first format's keys keep their places; parameters added since come after `playing`.
    std::vector<std::string> expected = {
        "state",  "path",    "frames",   "channels", "seconds", "gain",  "pan",     "rate",
        "pitch",  "reverse", "start",    "end",      "xfade",   "mode",  "poly",    "choke",
        "output", "fade_in", "fade_out", "quantize", "beats",   "input", "monitor", "playing"};
    for (const osc::Row* row : saved_slot_rows())
        if (!row->state_v1) expected.emplace_back(osc::slot_verb(row->address));
    EXPECT_EQ(keys, expected);
    EXPECT_EQ(kv["state"].s, "stopped");
    EXPECT_EQ(kv["path"].s, "kick.wav");
    EXPECT_EQ(kv["frames"].i, 24000);
    EXPECT_EQ(kv["channels"].i, 1);
    EXPECT_FLOAT_EQ(kv["seconds"].f, 0.5F);
    EXPECT_FLOAT_EQ(kv["gain"].f, 0.5F);
    EXPECT_EQ(kv["reverse"].i, 1);
    EXPECT_EQ(kv["mode"].s, "gate");
    EXPECT_EQ(kv["quantize"].s, "none");
    EXPECT_EQ(kv["playing"].i, 0);
    EXPECT_EQ(kv["label"].s, "Kick \xC3\xA9");
    replies_.clear();
    lock.unlock();
    send("/slots", {OscArg::string("osc.udp://127.0.0.1:9300/")}, kB);
    lock.lock();
    ASSERT_EQ(replies_.size(), 1U);
    EXPECT_EQ(replies_[0].first, "127.0.0.1:9300");
    EXPECT_EQ(replies_[0].second.address, "/slots.reply");
    ASSERT_EQ(replies_[0].second.args.size(), 2U);
    EXPECT_EQ(replies_[0].second.args[0].i, 2);
    EXPECT_EQ(replies_[0].second.args[1].s, "kick.wav");
}

TEST_F(FeedbackTest, ZeroConfigurationSubscribesTheSendersIpAtTheFeedbackPort) {
    FeedbackConfig c;
    c.feedback_port = 9001;
    c.subscriber_timeout_s = 60;  // asked for: silence drops no one by default
    make(c);
    send("/slot/0/gain", {OscArg::float32(0.75F)}, endpoint("10.0.0.5", 53111));
    EXPECT_TRUE(feedback_->is_subscribed(endpoint("10.0.0.5", 9001)));
    // Another message from another source port is the same client.
    send("/ping", {}, endpoint("10.0.0.5", 53112));
    EXPECT_EQ(feedback_->subscriber_count(), 1U);
    tick();
    const auto got = received("10.0.0.5:9001");
    EXPECT_FLOAT_EQ(only(got, "/slot/0/gain").at(0).args[0].f, 0.75F);
    EXPECT_EQ(datagrams("10.0.0.5:53111"), 0U);
    // Silent for longer than the timeout: dropped, and subscribed again when heard from.
    now_ += 61s;
    tick();
    EXPECT_EQ(feedback_->subscriber_count(), 0U);
    send("/ping", {}, endpoint("10.0.0.5", 53113));
    EXPECT_TRUE(feedback_->is_subscribed(endpoint("10.0.0.5", 9001)));
}

TEST_F(FeedbackTest, ThreadTicksOnItsOwn) {
    send("/notify", {OscArg::int32(1)}, kA);
    feedback_->start();
    EXPECT_TRUE(wait_until([this] { return datagrams("127.0.0.1:7000") > 0; }))
        << hung("the feedback thread's first datagram");
    feedback_->stop();
}

}  // namespace
