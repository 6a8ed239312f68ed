// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// The stretch thread through the controller (docs/stretch.md): renderings for `stretch pitch`
// slots reach the engine's ring for the tempo of the moment, go stale with a newer one, never
// outlive their sample, and stay within the memory budget. The engine is a ring that keeps
// what it is sent (and answers the snapshots of takes as the test says); the real renderer
// runs.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "daemon/controller.hpp"
#include "io/stretch_render.hpp"
#include "looperd/sample_buffer.hpp"
#include "test_endpoint.hpp"
#include "test_wav.hpp"
#include "wait_until.hpp"

namespace {

using namespace looperd;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

OscArg str(const char* s) {
    return OscArg::string(s);
}

// Where the test's messages come from: a surface, so that refusals are answered.
OscEndpoint surface() {
    return test::endpoint("127.0.0.1", 9000);
}

class StretchWorkerTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!stretch_available()) GTEST_SKIP() << "built without Rubber Band";
        char tmpl[] = "/tmp/looperd-stretch-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override {
        controller_.reset();
        // The engine's part: each buffer sent goes, once no one else holds it.
        for (auto* b : sent_)
            if (b->let_go()) delete b;
        if (!dir_.empty()) fs::remove_all(dir_);
    }

    void make(std::uint64_t budget_bytes) {
        budget_ = std::make_unique<MemoryBudget>(budget_bytes);
        ControllerConfig config;
        config.slots = 4;
        config.inputs = 2;  // takes: their events come from the test (take_event)
        config.recorders = 2;
        config.max_record_frames = 480000;
        config.samples_dir = dir_;
        controller_ = std::make_unique<Controller>(
            config, *budget_,
            [this](const Command& c) {
                std::lock_guard lock(mutex_);
                commands_.push_back(c);
                if (c.buffer && (c.kind == CommandKind::assign_buffer ||
                                 c.kind == CommandKind::assign_stretched))
                    sent_.push_back(c.buffer);
                return true;
            },
            [this](const OscEndpoint& to, const OscMessage& m) {
                std::lock_guard lock(mutex_);
                (void)to;
                replies_.push_back(m);
            },
            [] { return RuntimeStatus{}; }, [] { return 48000U; });
        controller_->start_stretching(
            [] { return 120.0; },
            [this](std::uint32_t slot) { return slot == 0 ? take_content_.load() : 0U; });
    }

    // The engine's part of a take: its events, and the copies of it the take thread asks for
    // (a snapshot command, answered with a 1 kHz sine `frames` long, of content `content`).
    void take_event(EventKind kind, std::uint32_t frames = 0) {
        controller_->engine_event(Event{kind, 0, nullptr, frames});
    }
    std::size_t snapshots() {
        std::lock_guard lock(mutex_);
        std::size_t n = 0;
        for (const auto& c : commands_)
            if (c.kind == CommandKind::snapshot) ++n;
        return n;
    }
    SampleBuffer* lent(std::size_t k) {
        std::lock_guard lock(mutex_);
        std::size_t n = 0;
        for (const auto& c : commands_)
            if (c.kind == CommandKind::snapshot && n++ == k) return c.buffer;
        return nullptr;
    }
    void answer_snapshot(std::size_t k, std::uint32_t frames, std::uint32_t content) {
        SampleBuffer* lent = this->lent(k);
        ASSERT_NE(lent, nullptr);
        for (std::uint32_t c = 0; c < 2; ++c)
            for (std::uint32_t i = 0; i < frames; ++i)
                lent->mutable_channel(c)[i] =
                    0.5F * static_cast<float>(std::sin(2.0 * M_PI * 1000.0 * i / 48000.0));
        lent->set_frames(frames);
        controller_->engine_event(Event{EventKind::snapshot_done, 0, lent, frames, content});
    }
    // The take contents of the renderings sent for slot 0, in order.
    std::vector<std::uint32_t> rendered_contents() {
        std::lock_guard lock(mutex_);
        std::vector<std::uint32_t> out;
        for (const auto& c : commands_)
            if (c.kind == CommandKind::assign_stretched && c.slot == 0 && c.buffer)
                out.push_back(c.content);
        return out;
    }

    void send(const std::string& address, std::vector<OscArg> args = {}) {
        controller_->handle(OscMessage{address, std::move(args)}, from_);
    }

    // Slot n: a stereo file (by default 110,000 frames: 4 beats at 104.7 BPM, so that the
    // tempo of 120 needs a rendering), looping, 4 beats, pitch.
    void load_loop(int n, std::uint32_t frames = 110000) {
        test::write_wav(dir_ / "loop.wav", frames, 2);
        const std::string slot = "/slot/" + std::to_string(n) + "/";
        send(slot + "load", {str("loop.wav")});
        controller_->wait_for_loads();
        send(slot + "mode", {str("loop")});
        send(slot + "beats", {OscArg::float32(4.0F)});
        send(slot + "stretch", {str("pitch")});
    }

    // The renderings sent so far for `slot`: their lengths, in order (0: one that dropped it).
    std::vector<std::uint32_t> renderings(std::uint32_t slot) {
        std::lock_guard lock(mutex_);
        std::vector<std::uint32_t> out;
        for (const auto& c : commands_)
            if (c.kind == CommandKind::assign_stretched && c.slot == slot)
                out.push_back(c.buffer ? c.buffer->frames() : 0);
        return out;
    }
    std::vector<OscMessage> errors() {
        std::lock_guard lock(mutex_);
        std::vector<OscMessage> out;
        for (const auto& m : replies_)
            if (m.address == "/error") out.push_back(m);
        return out;
    }

    fs::path dir_;
    std::unique_ptr<MemoryBudget> budget_;
    std::unique_ptr<Controller> controller_;
    std::mutex mutex_;
    std::vector<Command> commands_;
    std::vector<SampleBuffer*> sent_;
    std::vector<OscMessage> replies_;
    OscEndpoint from_ = surface();
    std::atomic<std::uint32_t> take_content_{0};
};

// A loop whose beats last as long at the tempo as it does, at its own pitch, plays as it is:
// nothing is rendered, and a rendering made for another tempo goes when the tempo comes back.
TEST_F(StretchWorkerTest, ALoopAtItsOwnTempoPlaysAsItIs) {
    make(1ULL << 30);
    load_loop(0, 96000);  // 4 beats at 120 BPM
    std::this_thread::sleep_for(300ms);
    EXPECT_TRUE(renderings(0).empty());
    EXPECT_FALSE(controller_->stretching(0));
    send("/clock/tempo", {OscArg::float32(90.0F)});
    ASSERT_TRUE(test::wait_until([&] { return renderings(0).size() == 1; }));
    EXPECT_EQ(renderings(0)[0], 128000U);
    // `beats` off for a while and back: the engine kept the rendering, nothing is made again.
    send("/slot/0/beats", {OscArg::float32(0.0F)});
    std::this_thread::sleep_for(200ms);
    send("/slot/0/beats", {OscArg::float32(4.0F)});
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(renderings(0).size(), 1U) << "rendered again for the same beats and tempo";
    send("/clock/tempo", {OscArg::float32(120.0F)});
    ASSERT_TRUE(test::wait_until([&] { return renderings(0).size() == 2; }));
    EXPECT_EQ(renderings(0)[1], 0U) << "the rendering dropped";
    // Its own tempo, another pitch: rendered.
    send("/slot/0/pitch", {OscArg::float32(-2.0F)});
    ASSERT_TRUE(test::wait_until([&] { return renderings(0).size() == 3; }));
    EXPECT_EQ(renderings(0)[2], 96000U);
    EXPECT_EQ(controller_->stretch_renders(), 2U);
}

// With no slot in `stretch pitch` the thread does not poll; a slot put there wakes it, and it
// polls the tempo while one is there.
TEST_F(StretchWorkerTest, TheThreadRestsWhileNoSlotStretches) {
    make(1ULL << 30);
    ASSERT_TRUE(test::wait_until([&] { return controller_->stretch_resting(); }));
    load_loop(0);  // 4 beats of a loop at 104.7 BPM, at 120
    ASSERT_TRUE(test::wait_until([&] { return renderings(0).size() == 1; }))
        << "the resting thread was not woken";
    EXPECT_FALSE(controller_->stretch_resting());
    send("/slot/0/stretch", {str("off")});
    ASSERT_TRUE(test::wait_until([&] { return controller_->stretch_resting(); }));
    send("/slot/0/stretch", {str("pitch")});
    ASSERT_TRUE(test::wait_until([&] { return !controller_->stretch_resting(); }));
}

// A take is rendered from a copy of it, asked for once it is settled and again after each
// change (an overdub pass, an undo or a redo); each rendering names the take content it was
// made from, and nothing is copied or rendered while the take is changing.
TEST_F(StretchWorkerTest, ATakeIsRenderedFromACopyOfItAfterEachChange) {
    make(1ULL << 30);
    take_event(EventKind::take_started);
    take_event(EventKind::take_finished, 96000);  // 4 beats at 120 BPM
    send("/slot/0/beats", {OscArg::float32(4.0F)});
    send("/slot/0/stretch", {str("pitch")});
    take_content_ = 7;
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(snapshots(), 0U) << "at its own tempo the take plays as it is";
    EXPECT_FALSE(controller_->stretching(0));

    send("/clock/tempo", {OscArg::float32(90.0F)});
    ASSERT_TRUE(test::wait_until([&] { return snapshots() == 1; }));
    EXPECT_TRUE(controller_->stretching(0)) << "waiting for the copy";
    // The copy refused (the engine away, say): asked again a second later.
    controller_->engine_event(Event{EventKind::snapshot_refused, 0, lent(0)});
    ASSERT_TRUE(test::wait_until([&] { return snapshots() == 2; }));
    EXPECT_TRUE(controller_->stretching(0));
    answer_snapshot(1, 96000, 7);
    ASSERT_TRUE(test::wait_until([&] { return rendered_contents().size() == 1; }));
    EXPECT_EQ(rendered_contents()[0], 7U);
    EXPECT_EQ(renderings(0).back(), 128000U);
    EXPECT_TRUE(test::wait_until([&] { return !controller_->stretching(0); }));

    // Overdubbed: nothing while it changes, then a new copy and rendering.
    take_content_ = 0;
    take_event(EventKind::overdub_started);
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(snapshots(), 2U);
    EXPECT_FALSE(controller_->stretching(0));
    take_content_ = 8;
    take_event(EventKind::overdub_ended);
    // The take thread also keeps nothing here (no takes directory): the next snapshot is ours.
    ASSERT_TRUE(test::wait_until([&] { return snapshots() == 3; }));
    // A copy that raced a change (content 0) is not rendered; the next settled one is.
    answer_snapshot(2, 96000, 0);
    std::this_thread::sleep_for(200ms);
    EXPECT_EQ(rendered_contents().size(), 1U);
    take_content_ = 9;
    take_event(EventKind::undo_done);
    ASSERT_TRUE(test::wait_until([&] { return snapshots() == 4; }));
    answer_snapshot(3, 96000, 9);
    ASSERT_TRUE(test::wait_until([&] { return rendered_contents().size() == 2; }));
    EXPECT_EQ(rendered_contents()[1], 9U);

    // Back at its own tempo: the rendering goes, and so does the copy.
    const auto used = budget_->used();
    send("/clock/tempo", {OscArg::float32(120.0F)});
    ASSERT_TRUE(test::wait_until([&] { return renderings(0).back() == 0U; }));
    EXPECT_TRUE(test::wait_until([&] { return budget_->used() <= used - 96000U * 2 * 4; }))
        << "the copy's bytes go back to the budget";
    EXPECT_TRUE(errors().empty());
}

TEST_F(StretchWorkerTest, EachTempoGetsItsRenderingAndTheSlotSaysStretchingMeanwhile) {
    make(1ULL << 30);
    load_loop(0);
    ASSERT_TRUE(test::wait_until([&] { return renderings(0).size() == 1; }));
    EXPECT_EQ(renderings(0)[0], 96000U) << "4 beats at 120 BPM";
    EXPECT_TRUE(test::wait_until([&] { return !controller_->stretching(0); }));
    send("/clock/tempo", {OscArg::float32(90.0F)});
    ASSERT_TRUE(test::wait_until([&] { return renderings(0).size() == 2; }));
    EXPECT_EQ(renderings(0)[1], 128000U) << "4 beats at 90 BPM";
    // The pitch and the region are what a rendering is made for too.
    send("/slot/0/pitch", {OscArg::float32(3.0F)});
    ASSERT_TRUE(test::wait_until([&] { return renderings(0).size() == 3; }));
    send("/slot/0/end", {OscArg::float32(0.5F)});
    ASSERT_TRUE(test::wait_until([&] { return renderings(0).size() == 4; }));
    EXPECT_EQ(renderings(0)[3], 128000U) << "half the sample, still 4 beats";
    EXPECT_EQ(controller_->stretch_renders(), 4U);
    // Other slots and modes ask for nothing.
    EXPECT_TRUE(renderings(1).empty());
    send("/slot/0/stretch", {str("rate")});
    send("/clock/tempo", {OscArg::float32(100.0F)});
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(renderings(0).size(), 4U) << "a rendering for a slot in stretch rate";
    EXPECT_TRUE(errors().empty());
}

// A fader: a hundred tempos in a second. Renders for tempos already passed stop early; the last
// tempo's rendering comes, and far fewer than a hundred are made.
TEST_F(StretchWorkerTest, ATempoFaderEndsWithTheLastTemposRendering) {
    make(1ULL << 30);
    load_loop(0);
    ASSERT_TRUE(test::wait_until([&] { return renderings(0).size() == 1; }));
    for (int k = 0; k < 100; ++k) {
        send("/clock/tempo", {OscArg::float32(80.0F + 0.5F * static_cast<float>(k))});
        std::this_thread::sleep_for(10ms);
    }
    // 4 beats at 129.5 BPM: 88,957 frames.
    ASSERT_TRUE(test::wait_until([&] { return renderings(0).back() == 88958U; }))
        << renderings(0).back();
    EXPECT_LT(renderings(0).size(), 50U);
    EXPECT_TRUE(test::wait_until([&] { return !controller_->stretching(0); }));
}

// Unloaded or loaded again while its rendering is made: the rendering never reaches the engine
// after the command that changed the sample, and every byte goes back to the budget.
TEST_F(StretchWorkerTest, ARenderingNeverOutlivesItsSample) {
    make(1ULL << 30);
    load_loop(0);
    ASSERT_TRUE(test::wait_until([&] { return renderings(0).size() == 1; }));
    send("/clock/tempo", {OscArg::float32(40.0F)});  // a long one: 12 s of stereo
    ASSERT_TRUE(test::wait_until([&] { return controller_->stretching(0); }));
    send("/slot/0/unload");
    std::this_thread::sleep_for(1s);
    {
        std::lock_guard lock(mutex_);
        bool unloaded = false;
        for (const auto& c : commands_) {
            if (c.kind == CommandKind::unload && c.slot == 0) unloaded = true;
            if (unloaded && c.kind == CommandKind::assign_stretched)
                ADD_FAILURE() << "a rendering after the unload";
        }
        EXPECT_TRUE(unloaded);
    }
    EXPECT_FALSE(controller_->stretching(0));
    controller_.reset();
    // The engine's part: what it was sent goes (sample, first rendering).
    for (auto* b : sent_) {
        const auto bytes = b->bytes();
        if (b->let_go()) {
            delete b;
            budget_->release(bytes);
        }
    }
    sent_.clear();
    EXPECT_EQ(budget_->used(), 0U) << "bytes still reserved";
}

// Over the memory budget: refused at once when the mode is asked for, or later with /error to
// whoever asked; the slot keeps the rendering it has.
TEST_F(StretchWorkerTest, RenderingsBeyondTheBudgetAreRefusedWithTheReason) {
    make(3ULL << 20);  // 3 MiB: the sample and one rendering at 120 BPM (768 KiB each)
    load_loop(0);
    ASSERT_TRUE(test::wait_until([&] { return renderings(0).size() == 1; }));
    send("/clock/tempo", {OscArg::float32(20.0F)});  // 4.4 MiB
    ASSERT_TRUE(test::wait_until([&] { return !errors().empty(); }));
    const auto e = errors().front();
    ASSERT_EQ(e.args.size(), 2U);
    EXPECT_EQ(e.args[0].s, "/slot/0/stretch");
    EXPECT_NE(e.args[1].s.find("budget"), std::string::npos) << e.args[1].s;
    EXPECT_EQ(renderings(0).size(), 1U) << "the rendering it had stays";
    EXPECT_FALSE(controller_->stretching(0)) << "a refusal is not retried until something changes";
    // Asked for while the tempo makes it too long: refused at once.
    send("/slot/1/load", {str("loop.wav")});
    controller_->wait_for_loads();
    send("/slot/1/beats", {OscArg::float32(4.0F)});
    send("/slot/1/stretch", {str("pitch")});
    ASSERT_EQ(errors().size(), 2U);
    EXPECT_EQ(errors()[1].args[0].s, "/slot/1/stretch");
    // A tempo that fits again renders.
    send("/clock/tempo", {OscArg::float32(120.0F)});
    EXPECT_TRUE(test::wait_until([&] { return !controller_->stretching(0); }));
}

}  // namespace
