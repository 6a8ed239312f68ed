// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// Staged loading's loader-thread stages alone: read, install, reply, against a real mirror and
// command port, with no controller and no network.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sndfile.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "control/command_port.hpp"
#include "control/mirror.hpp"
#include "daemon/sample_loading.hpp"
#include "daemon/take_tracker.hpp"
#include "io/memory_budget.hpp"
#include "looperd/sample_buffer.hpp"
#include "test_wav.hpp"
#include "wait_until.hpp"

namespace {

namespace fs = std::filesystem;
using namespace looperd;

struct Sent {
    OscEndpoint to;
    OscMessage message;
};

class SampleLoadingTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/looperd-loading-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        to_.len = sizeof(sockaddr_in);  // a peer that asked: it gets the reply
    }
    void TearDown() override {
        loading_.reset();
        for (const auto& c : commands_) delete c.buffer;
        fs::remove_all(dir_);
    }

    fs::path write_wav(const std::string& name, int frames) {
        const fs::path p = dir_ / name;
        test::write_wav(p, frames, 1, 0.5F);
        return p;
    }

    // A load request as the network thread makes it: a new generation, then the job.
    LoadJob request(std::uint32_t slot, const fs::path& file) {
        Mirror::Transaction tx(mirror_);
        Mirror::Slot& s = tx.edit(slot);
        ++s.generation;
        s.loading = true;
        s.loading_path = file.filename().string();
        const std::uint64_t generation = s.generation;
        tx.commit();  // `s` is gone with the transaction's copy
        return LoadJob{slot, generation, file.filename().string(), file, to_, false, false};
    }

    std::vector<Sent> sent() {
        std::lock_guard lock(mutex_);
        return sent_;
    }

    fs::path dir_;
    OscEndpoint to_;
    Mirror mirror_{4, 5.0F};
    std::vector<Command> commands_;  // the command ring's stand-in (loader thread)
    CommandPort port_{[this](const Command& c) {
        commands_.push_back(c);
        return true;
    }};
    MemoryBudget budget_{1ULL << 30};
    // The engine's rate, read by the loader thread at the start of every read. A test may
    // hold the loader there.
    std::atomic<bool> hold_{false};
    std::atomic<bool> held_{false};
    std::function<std::uint32_t()> rate_ = [this] {
        if (hold_.load()) {
            held_.store(true);
            while (hold_.load()) std::this_thread::yield();
        }
        return 48000U;
    };
    TakeTracker takes_{TakeTracker::Config{}, mirror_, port_, rate_};
    std::mutex mutex_;
    std::vector<Sent> sent_;
    std::unique_ptr<SampleLoading> loading_ = std::make_unique<SampleLoading>(
        mirror_, port_, budget_, rate_, takes_,
        [this](const OscEndpoint& to, const OscMessage& m) {
            std::lock_guard lock(mutex_);
            sent_.push_back({to, m});
        },
        [this](const OscEndpoint& to, const std::string& address, const std::string& reason) {
            std::lock_guard lock(mutex_);
            sent_.push_back(
                {to, OscMessage{"/error", {OscArg::string(address), OscArg::string(reason)}}});
        });
};

TEST_F(SampleLoadingTest, ReadsInstallsAndReplies) {
    const auto file = write_wav("a.wav", 4800);
    ASSERT_TRUE(loading_->queue(request(2, file)));
    loading_->drain();
    ASSERT_EQ(commands_.size(), 1U);
    EXPECT_EQ(commands_[0].kind, CommandKind::assign_buffer);
    EXPECT_EQ(commands_[0].slot, 2U);
    EXPECT_EQ(commands_[0].value, 0.0F) << "a load replaces what plays";
    ASSERT_NE(commands_[0].buffer, nullptr);
    EXPECT_EQ(commands_[0].buffer->frames(), 4800U);
    const auto replies = sent();
    ASSERT_EQ(replies.size(), 1U);
    EXPECT_EQ(replies[0].message.address, "/slot/2/loaded");
    EXPECT_EQ(replies[0].message.args[0].s, "a.wav");
    EXPECT_EQ(replies[0].message.args[1].i, 4800);
    const MirrorState m = mirror_.snapshot();
    EXPECT_TRUE(m.slots[2].loaded);
    EXPECT_FALSE(m.slots[2].loading);
    EXPECT_EQ(m.slots[2].frames, 4800U);
    EXPECT_EQ(m.slots[2].path, "a.wav");
}

// A load whose slot was unloaded or loaded again meanwhile is not installed, and its memory goes
// back to the budget.
TEST_F(SampleLoadingTest, ASupersededLoadIsNotInstalled) {
    const auto file = write_wav("a.wav", 4800);
    const LoadJob stale = request(1, file);
    (void)request(1, file);  // a later request: the slot's generation moves on
    ASSERT_TRUE(loading_->queue(stale));
    loading_->drain();
    EXPECT_TRUE(commands_.empty());
    EXPECT_EQ(budget_.used(), 0U);
    const auto replies = sent();
    ASSERT_EQ(replies.size(), 1U);
    EXPECT_EQ(replies[0].message.address, "/error");
    EXPECT_EQ(replies[0].message.args[0].s, "/slot/1/load");
    EXPECT_EQ(replies[0].message.args[1].s, "superseded by a later load or unload of this slot");
    EXPECT_TRUE(mirror_.snapshot().slots[1].loading) << "the later request is still in flight";
}

// Shutdown: a load in progress stops at its next chunk, and the slot shows nothing loading.
TEST_F(SampleLoadingTest, CancelStopsALoadInProgress) {
    const auto file = write_wav("a.wav", 48000);
    hold_.store(true);
    ASSERT_TRUE(loading_->queue(request(0, file)));
    ASSERT_TRUE(test::wait_until([this] { return held_.load(); }))
        << "the loader never started the load";
    loading_->cancel();
    hold_.store(false);
    loading_->drain();
    EXPECT_TRUE(commands_.empty());
    EXPECT_EQ(budget_.used(), 0U);
    const auto replies = sent();
    ASSERT_EQ(replies.size(), 1U);
    EXPECT_EQ(replies[0].message.address, "/error");
    EXPECT_NE(replies[0].message.args[1].s.find("cancelled"), std::string::npos)
        << replies[0].message.args[1].s;
    const MirrorState m = mirror_.snapshot();
    EXPECT_FALSE(m.slots[0].loaded);
    EXPECT_FALSE(m.slots[0].loading);
}

}  // namespace
