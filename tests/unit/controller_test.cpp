// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// OSC message → engine command translation, for every address with good and bad arguments.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sndfile.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "daemon/controller.hpp"
#include "looperd/sample_buffer.hpp"

namespace {

using namespace looperd;
namespace fs = std::filesystem;

OscEndpoint endpoint(const char* ip, std::uint16_t port) {
    OscEndpoint e;
    auto* in = reinterpret_cast<sockaddr_in*>(&e.addr);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    inet_pton(AF_INET, ip, &in->sin_addr);
    e.len = sizeof(sockaddr_in);
    return e;
}

struct Reply {
    std::string to;
    OscMessage message;
};

class ControllerTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/looperd-controller-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        make(std::make_unique<MemoryBudget>(1ULL << 30), true);
    }
    void TearDown() override {
        controller_.reset();
        for (auto* b : assigned_) delete b;
        fs::remove_all(dir_);
    }

    void make(std::unique_ptr<MemoryBudget> budget, bool accept) {
        controller_.reset();
        budget_ = std::move(budget);
        accept_ = accept;
        ControllerConfig config;
        config.slots = 8;
        config.samples_dir = dir_;
        controller_ = std::make_unique<Controller>(
            config, *budget_,
            [this](const Command& c) {
                if (!accept_) return false;
                commands_.push_back(c);
                if (c.kind == CommandKind::assign_buffer) assigned_.push_back(c.buffer);
                return true;
            },
            [this](const OscEndpoint& to, const OscMessage& m) {
                std::lock_guard lock(replies_mutex_);
                replies_.push_back({to.to_string(), m});
            },
            [] {
                RuntimeStatus s;
                s.voices = 3;
                s.voices_max = 256;
                s.sample_rate = 48000;
                s.block_size = 128;
                s.xruns = 2;
                s.dropped = 1;
                s.dsp_load = 1.5F;
                return s;
            },
            [] { return 48000U; });
    }

    void send(const std::string& address, std::vector<OscArg> args = {}) {
        controller_->handle(OscMessage{address, std::move(args)}, from_);
    }

    // Writes a 48 kHz float WAV of `frames` frames and `channels` channels.
    fs::path write_wav(const std::string& name, int frames, int channels) {
        const fs::path p = dir_ / name;
        SF_INFO info{};
        info.samplerate = 48000;
        info.channels = channels;
        info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
        SNDFILE* f = sf_open(p.c_str(), SFM_WRITE, &info);
        EXPECT_NE(f, nullptr);
        std::vector<float> data(static_cast<std::size_t>(frames * channels), 0.25F);
        sf_writef_float(f, data.data(), frames);
        sf_close(f);
        return p;
    }

    std::vector<Reply> errors() {
        std::vector<Reply> out;
        for (auto& r : replies_)
            if (r.message.address == "/error") out.push_back(r);
        return out;
    }

    // Expects exactly one /error, for `address`, and no command.
    void expect_rejected(const std::string& address, std::vector<OscArg> args) {
        commands_.clear();
        replies_.clear();
        send(address, std::move(args));
        ASSERT_EQ(replies_.size(), 1U) << address;
        EXPECT_EQ(replies_[0].message.address, "/error");
        ASSERT_EQ(replies_[0].message.args.size(), 2U);
        EXPECT_EQ(replies_[0].message.args[0].s, address);
        EXPECT_FALSE(replies_[0].message.args[1].s.empty());
        EXPECT_EQ(replies_[0].to, "127.0.0.1:5555");
        EXPECT_TRUE(commands_.empty()) << address;
    }

    // Expects exactly one command and no reply.
    Command expect_command(const std::string& address, std::vector<OscArg> args) {
        commands_.clear();
        replies_.clear();
        send(address, std::move(args));
        EXPECT_TRUE(replies_.empty())
            << address << ": "
            << (replies_.empty()                      ? ""
                : replies_[0].message.args.size() > 1 ? replies_[0].message.args[1].s
                                                      : "");
        EXPECT_EQ(commands_.size(), 1U) << address;
        return commands_.empty() ? Command{} : commands_[0];
    }

    fs::path dir_;
    std::unique_ptr<MemoryBudget> budget_;
    bool accept_ = true;
    std::unique_ptr<Controller> controller_;
    std::vector<Command> commands_;
    std::vector<SampleBuffer*> assigned_;
    std::mutex replies_mutex_;
    std::vector<Reply> replies_;
    OscEndpoint from_ = endpoint("127.0.0.1", 5555);
};

TEST_F(ControllerTest, PingAnswersPongToTheSender) {
    send("/ping");
    ASSERT_EQ(replies_.size(), 1U);
    EXPECT_EQ(replies_[0].message.address, "/pong");
    EXPECT_EQ(replies_[0].to, "127.0.0.1:5555");
}

TEST_F(ControllerTest, PingAnswersToTheReplyUrl) {
    send("/ping", {OscArg::string("osc.udp://127.0.0.1:7777/")});
    ASSERT_EQ(replies_.size(), 1U);
    EXPECT_EQ(replies_[0].message.address, "/pong");
    EXPECT_EQ(replies_[0].to, "127.0.0.1:7777");
}

TEST_F(ControllerTest, PingRejectsBadReplyUrlAndExtraArguments) {
    expect_rejected("/ping", {OscArg::string("osc.tcp://127.0.0.1:7777/")});
    expect_rejected("/ping", {OscArg::int32(3)});
    expect_rejected("/ping", {OscArg::string("osc.udp://127.0.0.1:7777/"), OscArg::int32(1)});
}

TEST_F(ControllerTest, PlayAndStopActOnNoArgumentOrNonZeroAndIgnoreZero) {
    for (const char* verb : {"play", "stop"}) {
        const auto kind = std::string(verb) == "play" ? CommandKind::play : CommandKind::stop;
        const std::string address = std::string("/slot/3/") + verb;
        auto c = expect_command(address, {});
        EXPECT_EQ(c.kind, kind);
        EXPECT_EQ(c.slot, 3U);
        EXPECT_EQ(expect_command(address, {OscArg::float32(1.0F)}).kind, kind);
        EXPECT_EQ(expect_command(address, {OscArg::int32(1)}).kind, kind);
        commands_.clear();
        replies_.clear();
        send(address, {OscArg::float32(0.0F)});  // a button release
        send(address, {OscArg::int32(0)});
        EXPECT_TRUE(commands_.empty());
        EXPECT_TRUE(replies_.empty());
        expect_rejected(address, {OscArg::string("x")});
        expect_rejected(address, {OscArg::float32(std::nanf(""))});
        expect_rejected(address, {OscArg::int32(1), OscArg::int32(1)});
    }
}

TEST_F(ControllerTest, GainAcceptsIntOrFloatInRange) {
    auto c = expect_command("/slot/1/gain", {OscArg::float32(0.5F)});
    EXPECT_EQ(c.kind, CommandKind::set_gain);
    EXPECT_EQ(c.slot, 1U);
    EXPECT_EQ(c.value, 0.5F);
    EXPECT_EQ(expect_command("/slot/1/gain", {OscArg::int32(2)}).value, 2.0F);
    EXPECT_EQ(expect_command("/slot/1/gain", {OscArg::float32(4.0F)}).value, 4.0F);
    EXPECT_EQ(expect_command("/slot/1/gain", {OscArg::float32(0.0F)}).value, 0.0F);
    expect_rejected("/slot/1/gain", {OscArg::float32(4.01F)});
    expect_rejected("/slot/1/gain", {OscArg::float32(-0.1F)});
    expect_rejected("/slot/1/gain", {OscArg::float32(std::nanf(""))});
    expect_rejected("/slot/1/gain", {OscArg::float32(INFINITY)});
    expect_rejected("/slot/1/gain", {OscArg::string("1")});
    expect_rejected("/slot/1/gain", {});
}

TEST_F(ControllerTest, MasterGainAcceptsIntOrFloatInRange) {
    auto c = expect_command("/master/gain", {OscArg::float32(0.25F)});
    EXPECT_EQ(c.kind, CommandKind::set_master_gain);
    EXPECT_EQ(c.value, 0.25F);
    EXPECT_EQ(expect_command("/master/gain", {OscArg::int32(1)}).value, 1.0F);
    expect_rejected("/master/gain", {OscArg::float32(5.0F)});
    expect_rejected("/master/gain", {OscArg::float32(std::nanf(""))});
    expect_rejected("/master/gain", {});
}

TEST_F(ControllerTest, LoopTakesZeroOrOne) {
    auto c = expect_command("/slot/2/loop", {OscArg::int32(1)});
    EXPECT_EQ(c.kind, CommandKind::set_mode);
    EXPECT_EQ(c.value, 1.0F);
    EXPECT_EQ(expect_command("/slot/2/loop", {OscArg::float32(0.0F)}).value, 0.0F);
    expect_rejected("/slot/2/loop", {OscArg::int32(2)});
    expect_rejected("/slot/2/loop", {OscArg::float32(0.5F)});
    expect_rejected("/slot/2/loop", {});
}

TEST_F(ControllerTest, StopAllTakesNoArguments) {
    EXPECT_EQ(expect_command("/stop_all", {}).kind, CommandKind::stop_all);
    expect_rejected("/stop_all", {OscArg::int32(1)});
}

TEST_F(ControllerTest, BadSlotsAndUnknownAddressesAreRejected) {
    expect_rejected("/slot/8/play", {});  // 8 slots: 0..7
    expect_rejected("/slot/99999999999/play", {});
    expect_rejected("/slot/-1/play", {});
    expect_rejected("/slot/+1/play", {});
    expect_rejected("/slot/x/play", {});
    expect_rejected("/slot//play", {});
    expect_rejected("/slot/1/fly", {});
    expect_rejected("/slot/1", {});
    expect_rejected("/nope", {});
    expect_rejected("/", {});
    expect_rejected("/ping/", {});
}

TEST_F(ControllerTest, RepliesFromPeersAreNeverAnswered) {
    send("/error", {OscArg::string("/x"), OscArg::string("y")});
    send("/pong");
    send("/status.reply");
    send("/slot/1/loaded", {OscArg::string("a.wav")});
    EXPECT_TRUE(replies_.empty());
    EXPECT_TRUE(commands_.empty());
}

TEST_F(ControllerTest, MalformedPacketsAnswerError) {
    controller_->reject_packet("truncated bundle element", from_);
    ASSERT_EQ(replies_.size(), 1U);
    EXPECT_EQ(replies_[0].message.address, "/error");
    EXPECT_NE(replies_[0].message.args[1].s.find("truncated bundle element"), std::string::npos);
}

TEST_F(ControllerTest, FullCommandRingAnswersErrorAndChangesNothing) {
    make(std::make_unique<MemoryBudget>(1ULL << 30), false);
    send("/slot/0/play");
    ASSERT_EQ(errors().size(), 1U);
    EXPECT_NE(errors()[0].message.args[1].s.find("queue full"), std::string::npos);
}

TEST_F(ControllerTest, LoadResolvesRelativePathsAndRepliesLoaded) {
    write_wav("a.wav", 4800, 2);
    send("/slot/4/load", {OscArg::string("a.wav")});
    controller_->wait_for_loads();
    ASSERT_EQ(commands_.size(), 1U);
    EXPECT_EQ(commands_[0].kind, CommandKind::assign_buffer);
    EXPECT_EQ(commands_[0].slot, 4U);
    ASSERT_NE(commands_[0].buffer, nullptr);
    EXPECT_EQ(commands_[0].buffer->frames(), 4800U);
    ASSERT_EQ(replies_.size(), 1U);
    const auto& m = replies_[0].message;
    EXPECT_EQ(m.address, "/slot/4/loaded");
    ASSERT_EQ(m.type_tags(), "siif");
    EXPECT_EQ(m.args[0].s, "a.wav");
    EXPECT_EQ(m.args[1].i, 4800);
    EXPECT_EQ(m.args[2].i, 2);
    EXPECT_FLOAT_EQ(m.args[3].f, 0.1F);
    EXPECT_EQ(controller_->slots_loaded(), 1U);
    EXPECT_EQ(budget_->used(), 4800U * 2U * sizeof(float));
}

TEST_F(ControllerTest, LoadAnswersToTheReplyUrl) {
    const auto abs = write_wav("b.wav", 480, 1);
    send("/slot/0/load",
         {OscArg::string(abs.string()), OscArg::string("osc.udp://127.0.0.1:6001/")});
    controller_->wait_for_loads();
    ASSERT_EQ(replies_.size(), 1U);
    EXPECT_EQ(replies_[0].message.address, "/slot/0/loaded");
    EXPECT_EQ(replies_[0].to, "127.0.0.1:6001");
}

TEST_F(ControllerTest, LoadOfAMissingFileAnswersErrorAndKeepsTheSlot) {
    write_wav("a.wav", 480, 2);
    send("/slot/1/load", {OscArg::string("a.wav")});
    controller_->wait_for_loads();
    commands_.clear();
    replies_.clear();
    send("/slot/1/load", {OscArg::string("missing.wav")});
    controller_->wait_for_loads();
    EXPECT_TRUE(commands_.empty());
    ASSERT_EQ(errors().size(), 1U);
    EXPECT_EQ(errors()[0].message.args[0].s, "/slot/1/load");
    EXPECT_EQ(controller_->slots_loaded(), 1U);  // what was loaded stays loaded
}

TEST_F(ControllerTest, LoadRejectsBadArguments) {
    expect_rejected("/slot/0/load", {});
    expect_rejected("/slot/0/load", {OscArg::int32(1)});
    expect_rejected("/slot/0/load", {OscArg::string("")});
    expect_rejected("/slot/0/load", {OscArg::string("a.wav"), OscArg::string("not a url")});
}

TEST_F(ControllerTest, LoadOverTheMemoryBudgetAnswersError) {
    make(std::make_unique<MemoryBudget>(1000), true);
    write_wav("big.wav", 4800, 2);
    send("/slot/0/load", {OscArg::string("big.wav")});
    controller_->wait_for_loads();
    EXPECT_TRUE(commands_.empty());
    ASSERT_EQ(errors().size(), 1U);
    EXPECT_NE(errors()[0].message.args[1].s.find("memory budget"), std::string::npos);
    EXPECT_EQ(budget_->used(), 0U);
}

TEST_F(ControllerTest, UnloadSendsCommandAndSupersedesAPendingLoad) {
    write_wav("a.wav", 48000, 2);
    send("/slot/2/load", {OscArg::string("a.wav")});
    send("/slot/2/unload");  // arrives while the load may still run
    controller_->wait_for_loads();
    // Either order of completion ends with the slot empty.
    EXPECT_EQ(controller_->slots_loaded(), 0U);
    bool saw_unload = false;
    for (auto& c : commands_) saw_unload |= c.kind == CommandKind::unload;
    EXPECT_TRUE(saw_unload);
    bool assigned_after_unload = false;
    for (std::size_t i = 0; i < commands_.size(); ++i)
        if (commands_[i].kind == CommandKind::unload)
            for (std::size_t j = i + 1; j < commands_.size(); ++j)
                assigned_after_unload |= commands_[j].kind == CommandKind::assign_buffer;
    EXPECT_FALSE(assigned_after_unload);
    expect_rejected("/slot/2/unload", {OscArg::int32(1)});
}

TEST_F(ControllerTest, StatusReportsEveryKey) {
    write_wav("a.wav", 480, 2);
    send("/slot/0/load", {OscArg::string("a.wav")});
    controller_->wait_for_loads();
    replies_.clear();
    send("/status");
    ASSERT_EQ(replies_.size(), 1U);
    const auto& m = replies_[0].message;
    EXPECT_EQ(m.address, "/status.reply");
    ASSERT_EQ(m.args.size() % 2, 0U);
    std::map<std::string, OscArg> kv;
    for (std::size_t i = 0; i < m.args.size(); i += 2) {
        ASSERT_EQ(m.args[i].type, 's');
        kv[m.args[i].s] = m.args[i + 1];
    }
    EXPECT_EQ(kv.at("voices").i, 3);
    EXPECT_EQ(kv.at("slots_loaded").i, 1);
    EXPECT_EQ(kv.at("sample_rate").i, 48000);
    EXPECT_EQ(kv.at("block_size").i, 128);
    EXPECT_EQ(kv.at("xruns").i, 2);
    EXPECT_EQ(kv.at("dropped").i, 1);
    EXPECT_EQ(kv.at("memory_bytes").i, 480 * 2 * 4);
    EXPECT_FLOAT_EQ(kv.at("dsp_load").f, 1.5F);
    send("/status", {OscArg::string("osc.udp://127.0.0.1:6002/")});
    EXPECT_EQ(replies_.back().to, "127.0.0.1:6002");
    expect_rejected("/status", {OscArg::int32(1)});
}

// docs/osc.md documents the public interface: every address the controller answers is in it.
TEST(ControllerDocs, EveryAddressIsDocumented) {
    std::ifstream in(LOOPERD_SOURCE_DIR "/docs/osc.md");
    ASSERT_TRUE(in) << "docs/osc.md not found";
    std::stringstream text;
    text << in.rdbuf();
    for (const auto& a : Controller::addresses())
        EXPECT_NE(text.str().find("`" + a), std::string::npos) << a << " is not in docs/osc.md";
}

}  // namespace
