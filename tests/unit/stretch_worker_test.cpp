// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// The stretch thread through the controller (docs/stretch.md): renderings for `stretch pitch`
// slots reach the engine's ring for the tempo of the moment, go stale with a newer one, never
// outlive their sample, and stay within the memory budget. The engine is a ring that keeps
// what it is sent; the real renderer runs.
#include <gtest/gtest.h>

#include <chrono>
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
        config.inputs = 0;
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
        controller_->start_stretching([] { return 120.0; });
    }

    void send(const std::string& address, std::vector<OscArg> args = {}) {
        controller_->handle(OscMessage{address, std::move(args)}, from_);
    }

    // Slot n: a stereo file of 4 beats at 120 BPM (96,000 frames), looping, 4 beats, pitch.
    void load_loop(int n) {
        test::write_wav(dir_ / "loop.wav", 96000, 2);
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
};

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
