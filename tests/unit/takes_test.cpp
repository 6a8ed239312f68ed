// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// Keeping takes, off the audio thread: the take thread's WAV writing, and the controller's
// /slot/<n>/save, /slot/<n>/load_take, /clock/from_slot and the takes it keeps in the state
// directory. The engine's side is played by a fake that answers each snapshot from its own
// thread, as the housekeeping thread would.

#include <gtest/gtest.h>
#include <sndfile.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "daemon/controller.hpp"
#include "daemon/rig_state.hpp"
#include "daemon/take_keeper.hpp"
#include "looperd/sample_buffer.hpp"
#include "wait_until.hpp"

namespace fs = std::filesystem;

namespace looperd::test {
namespace {

constexpr std::uint32_t kRate = 48000;
constexpr std::uint32_t kMaxFrames = 4 * kRate;

std::vector<std::vector<float>> read_wav(const fs::path& p, SF_INFO& info) {
    info = SF_INFO{};
    SNDFILE* f = sf_open(p.c_str(), SFM_READ, &info);
    if (f == nullptr) return {};
    std::vector<float> all(static_cast<std::size_t>(info.frames * info.channels));
    sf_readf_float(f, all.data(), info.frames);
    sf_close(f);
    std::vector<std::vector<float>> out(static_cast<std::size_t>(info.channels));
    for (std::size_t i = 0; i < all.size(); ++i)
        out[i % static_cast<std::size_t>(info.channels)].push_back(all[i]);
    return out;
}

// Sample k of a slot's take on channel c: distinct per slot, channel and frame. Exact in float
// (a whole number below 2^24 over a power of two), so that no excess precision (x87 on i386)
// can tell a computed value from a stored one.
float pattern(std::uint32_t slot, std::uint32_t c, std::uint32_t k) {
    const std::uint32_t whole = (slot + 1) * 1000 + c * 100000 + k % 977;
    return static_cast<float>(whole) / 1048576.0F;
}

TEST(TakeKeeperWav, WritesStereoFloatThatReadsBackBitForBit) {
    char tmpl[] = "/tmp/looperd-takes-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    const fs::path dir = tmpl;
    std::vector<float> left(20000);
    std::vector<float> right(20000);
    for (std::uint32_t k = 0; k < 20000; ++k) {
        left[k] = pattern(0, 0, k) - 0.5F;
        right[k] = -pattern(0, 1, k);
    }
    TakeKeeper::write_wav(dir / "a.wav", left.data(), right.data(), 20000, 44100);
    SF_INFO info;
    const auto back = read_wav(dir / "a.wav", info);
    EXPECT_EQ(info.samplerate, 44100);
    EXPECT_EQ(info.channels, 2);
    EXPECT_EQ(info.format, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
    ASSERT_EQ(back.size(), 2U);
    EXPECT_EQ(back[0], left);
    EXPECT_EQ(back[1], right);

    // A failed write leaves the old file as it was, and no temporary file behind.
    const auto before = fs::file_size(dir / "a.wav");
    EXPECT_THROW(
        TakeKeeper::write_wav(dir / "missing" / "a.wav", left.data(), right.data(), 10, kRate),
        std::runtime_error);
    EXPECT_EQ(fs::file_size(dir / "a.wav"), before);
    std::size_t files = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++files;
    EXPECT_EQ(files, 1U);
    fs::remove_all(dir);
}

TEST(TakeKeeperTimeout, ACopyThatNeverComesBackIsReportedAndTheBufferIsNeverReused) {
    // An engine that takes the snapshot command and never answers (JACK went away).
    std::mutex m;
    std::vector<SampleBuffer*> lent;
    TakeKeeper keeper(
        [&](const Command& c) {
            std::lock_guard lock(m);
            lent.push_back(c.buffer);
            return true;
        },
        [] { return kRate; }, 1000, std::chrono::milliseconds(100));
    std::vector<std::string> errors;
    auto job = [&](std::uint32_t slot) {
        return TakeJob{slot, 0, "/nonexistent/x.wav", false,
                       [&](const std::string& why, std::uint32_t) {
                           std::lock_guard lock(m);
                           errors.push_back(why);
                       }};
    };
    keeper.save(job(1));
    keeper.wait_idle();
    keeper.save(job(2));
    keeper.wait_idle();
    {
        std::lock_guard lock(m);
        ASSERT_EQ(errors.size(), 2U);
        EXPECT_EQ(errors[0],
                  "the take was not ready within 100 ms (still being recorded, or JACK is "
                  "away): try again later");
        EXPECT_EQ(errors[1],
                  "an earlier take's copy has not come back (JACK away?): try again later");
        EXPECT_EQ(lent.size(), 1U) << "the buffer still in the engine was lent again";
    }
    // Back at last: the next save lends it again.
    keeper.snapshot_event(Event{EventKind::snapshot_refused, 1, lent[0], 0});
    keeper.save(job(3));
    keeper.wait_idle();
    {
        std::lock_guard lock(m);
        ASSERT_EQ(lent.size(), 2U);
        EXPECT_EQ(lent[1], lent[0]) << "one export buffer, reused";
    }
    // Given back before the keeper goes (one still lent at stop() is left allocated rather
    // than freed under the engine).
    keeper.snapshot_event(Event{EventKind::snapshot_refused, 3, lent[1], 0});
    keeper.stop();
}

class ControllerTakesTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/looperd-takes-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        fs::create_directory(dir_ / "takes");
        make();
    }
    void TearDown() override {
        join_answers();
        controller_.reset();
        for (auto* b : owned_) delete b;
        fs::remove_all(dir_);
    }

    void make(bool keep = true, std::uint32_t inputs = 2) {
        join_answers();
        controller_.reset();
        ControllerConfig config;
        config.slots = 8;
        config.inputs = inputs;
        config.recorders = 2;
        config.max_record_frames = kMaxFrames;
        config.samples_dir = dir_;
        if (keep) config.takes_dir = fs::canonical(dir_ / "takes");
        config.take_frames = [this](std::uint32_t slot) {
            std::lock_guard lock(mutex_);
            return take_frames_[slot];
        };
        controller_ = std::make_unique<Controller>(
            config, budget_, [this](const Command& c) { return engine(c); },
            [this](const OscEndpoint&, const OscMessage& m) {
                std::lock_guard lock(mutex_);
                replies_.push_back(m);
                changed_.notify_all();
            },
            [] { return RuntimeStatus{}; }, [] { return kRate; });
    }

    // The fake engine: records commands; answers a snapshot from another thread with the
    // slot's take (take_frames_[slot] frames of pattern()), or refuses it without one. It
    // publishes take_frames_ as the engine publishes its takes' lengths.
    bool engine(const Command& c) {
        std::lock_guard lock(mutex_);
        commands_.push_back(c);
        if (c.kind == CommandKind::load_take || c.kind == CommandKind::assign_buffer)
            owned_.push_back(c.buffer);
        if (c.kind != CommandKind::snapshot) return true;
        const std::uint32_t frames = take_frames_[c.slot];
        answers_.emplace_back([this, c, frames] {
            Event e{frames > 0 ? EventKind::snapshot_done : EventKind::snapshot_refused, c.slot,
                    c.buffer, frames};
            for (std::uint32_t ch = 0; ch < 2 && frames > 0; ++ch)
                for (std::uint32_t k = 0; k < frames; ++k)
                    c.buffer->mutable_channel(ch)[k] = pattern(c.slot, ch, k);
            c.buffer->set_frames(frames);
            controller_->engine_event(e);
        });
        return true;
    }
    void join_answers() {
        std::vector<std::thread> all;
        {
            std::lock_guard lock(mutex_);
            all.swap(answers_);
        }
        for (auto& t : all) t.join();
    }
    // A take of `frames` finished on `slot`, as the housekeeping thread reports it.
    void finish_take(std::uint32_t slot, std::uint32_t frames) {
        {
            std::lock_guard lock(mutex_);
            take_frames_[slot] = frames;
        }
        controller_->engine_event(Event{EventKind::take_started, slot, nullptr, 0});
        controller_->engine_event(Event{EventKind::take_finished, slot, nullptr, frames});
        controller_->wait_for_takes();
    }
    void send(const std::string& address, std::vector<OscArg> args = {}) {
        controller_->handle(OscMessage{address, std::move(args)}, from_);
    }
    // Waits for a reply to `address` (the take thread's, for a save) and returns it.
    std::optional<OscMessage> reply(const std::string& address) {
        std::unique_lock lock(mutex_);
        std::optional<OscMessage> found;
        if (!changed_.wait_for(lock, kHangBound, [&] {
                for (const auto& m : replies_)
                    if (m.address == address) found = m;
                return found.has_value();
            }))
            ADD_FAILURE() << hung("a " + address + " reply");
        return found;
    }
    std::vector<Command> commands(CommandKind kind) {
        std::lock_guard lock(mutex_);
        std::vector<Command> out;
        for (const auto& c : commands_)
            if (c.kind == kind) out.push_back(c);
        return out;
    }
    void expect_take_file(const fs::path& p, std::uint32_t slot, std::uint32_t frames) {
        SF_INFO info;
        const auto back = read_wav(p, info);
        ASSERT_EQ(back.size(), 2U) << p;
        EXPECT_EQ(info.samplerate, static_cast<int>(kRate));
        ASSERT_EQ(back[0].size(), frames);
        for (std::uint32_t c = 0; c < 2; ++c)
            for (std::uint32_t k = 0; k < frames; ++k)
                ASSERT_EQ(back[c][k], pattern(slot, c, k)) << "channel " << c << " frame " << k;
    }

    fs::path dir_;
    MemoryBudget budget_{1ULL << 30};
    std::unique_ptr<Controller> controller_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<Command> commands_;
    std::vector<OscMessage> replies_;
    std::vector<std::thread> answers_;
    std::vector<SampleBuffer*> owned_;
    std::uint32_t take_frames_[8] = {};
    OscEndpoint from_ = [] {
        OscEndpoint e{};
        std::string why;
        return OscServer::resolve_url("osc.udp://127.0.0.1:5555", why).value_or(e);
    }();
};

TEST_F(ControllerTakesTest, AFinishedTakeIsKeptAndTheRigNamesIt) {
    finish_take(2, 30000);
    const fs::path kept = fs::canonical(dir_ / "takes") / "slot-2.wav";
    expect_take_file(kept, 2, 30000);
    const MirrorState m = controller_->snapshot();
    EXPECT_TRUE(m.slots[2].loaded);
    EXPECT_TRUE(m.slots[2].take);
    EXPECT_EQ(m.slots[2].path, kept.string());
    const RigState rig = rig_from_mirror(m, SlotParams{});
    ASSERT_EQ(rig.slots.size(), 1U);
    EXPECT_TRUE(rig.slots[0].take);
    const auto messages = rig_messages(rig);
    ASSERT_FALSE(messages.empty());
    EXPECT_EQ(messages.back().address, "/slot/2/load_take");
    EXPECT_EQ(messages.back().args[0].s, kept.string());

    // An overdub pass ending writes it again, as it now sounds.
    {
        std::lock_guard lock(mutex_);
        take_frames_[2] = 30000;
    }
    controller_->engine_event(Event{EventKind::overdub_ended, 2, nullptr, 0});
    controller_->wait_for_takes();
    EXPECT_EQ(commands(CommandKind::snapshot).size(), 2U);
}

TEST_F(ControllerTakesTest, ClearingOrRecordingAnewDeletesTheKeptTake) {
    finish_take(1, 1000);
    const fs::path kept = dir_ / "takes" / "slot-1.wav";
    ASSERT_TRUE(fs::exists(kept));
    send("/slot/1/clear");
    controller_->wait_for_takes();
    EXPECT_FALSE(fs::exists(kept));
    EXPECT_FALSE(controller_->snapshot().slots[1].take);

    finish_take(1, 1000);
    ASSERT_TRUE(fs::exists(kept));
    controller_->engine_event(Event{EventKind::take_started, 1, nullptr, 0});
    controller_->wait_for_takes();
    EXPECT_FALSE(fs::exists(kept));
    EXPECT_FALSE(controller_->snapshot().slots[1].loaded);
}

TEST_F(ControllerTakesTest, NoStateDirectoryKeepsNothing) {
    make(false);
    finish_take(1, 1000);
    EXPECT_TRUE(commands(CommandKind::snapshot).empty());
    EXPECT_TRUE(controller_->snapshot().slots[1].take);
    EXPECT_TRUE(controller_->snapshot().slots[1].path.empty());
}

TEST_F(ControllerTakesTest, SaveWritesTheTakeWhereAskedAndReplies) {
    make(false);
    finish_take(3, 12345);
    send("/slot/3/save", {OscArg::string("mine.wav")});
    const auto saved = reply("/slot/3/saved");
    ASSERT_TRUE(saved.has_value());
    ASSERT_EQ(saved->args.size(), 3U);
    EXPECT_EQ(saved->args[0].s, "mine.wav");
    EXPECT_EQ(saved->args[1].i, 12345);
    EXPECT_FLOAT_EQ(saved->args[2].f, 12345.0F / kRate);
    expect_take_file(dir_ / "mine.wav", 3, 12345);

    // A slot without a take: the engine refuses, the musician is told.
    send("/slot/4/save", {OscArg::string("none.wav")});
    const auto refused = reply("/error");
    ASSERT_TRUE(refused.has_value());
    EXPECT_EQ(refused->args[0].s, "/slot/4/save");
    EXPECT_EQ(refused->args[1].s, "slot 4 holds no take");
    EXPECT_FALSE(fs::exists(dir_ / "none.wav"));
}

TEST_F(ControllerTakesTest, SaveRefusesBadPathsBeforeAnythingIsCopied) {
    const std::pair<std::vector<OscArg>, std::string> cases[] = {
        {{OscArg::string("take.aiff")}, "a take is saved as a WAV file: the path must end in .wav"},
        {{OscArg::string("/etc/x.wav")}, "path outside the allowed sample roots"},
        {{OscArg::string("../x.wav")}, "path outside the allowed sample roots"},
        {{OscArg::int32(3)}, "expected a file path string"},
        {{}, "expected 1 to 2 argument(s), got 0 ('')"},
    };
    for (const auto& [args, why] : cases) {
        {
            std::lock_guard lock(mutex_);
            replies_.clear();
        }
        send("/slot/0/save", args);
        const auto e = reply("/error");
        ASSERT_TRUE(e.has_value()) << why;
        EXPECT_EQ(e->args[1].s, why);
    }
    fs::create_directory(dir_ / "folder.wav");
    send("/slot/0/save", {OscArg::string("folder.wav")});
    controller_->wait_for_takes();
    EXPECT_TRUE(commands(CommandKind::snapshot).empty());
}

TEST_F(ControllerTakesTest, LoadTakeSendsTheFileAsATake) {
    {
        SF_INFO info{};
        info.samplerate = kRate;
        info.channels = 1;
        info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
        SNDFILE* f = sf_open((dir_ / "loop.wav").c_str(), SFM_WRITE, &info);
        ASSERT_NE(f, nullptr);
        std::vector<float> data(4800, 0.25F);
        sf_writef_float(f, data.data(), 4800);
        sf_close(f);
    }
    send("/slot/5/load_take", {OscArg::string("loop.wav")});
    const auto loaded = reply("/slot/5/loaded");
    ASSERT_TRUE(loaded.has_value());
    const auto sent = commands(CommandKind::load_take);
    ASSERT_EQ(sent.size(), 1U);
    EXPECT_EQ(sent[0].slot, 5U);
    EXPECT_EQ(sent[0].buffer->frames(), 4800U);
    EXPECT_TRUE(commands(CommandKind::assign_buffer).empty());
    const RigState rig = rig_from_mirror(controller_->snapshot(), SlotParams{});
    ASSERT_EQ(rig.slots.size(), 1U);
    EXPECT_TRUE(rig.slots[0].take);
    EXPECT_EQ(rig.slots[0].file, "loop.wav");
    // A file the musician loaded is never deleted by looperd.
    send("/slot/5/unload");
    controller_->wait_for_takes();
    EXPECT_TRUE(fs::exists(dir_ / "loop.wav"));
}

TEST_F(ControllerTakesTest, ARestoredTakeWithRecordingOffPlaysAsASample) {
    make(true, 0);
    {
        SF_INFO info{};
        info.samplerate = kRate;
        info.channels = 2;
        info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
        SNDFILE* f = sf_open((dir_ / "takes" / "slot-1.wav").c_str(), SFM_WRITE, &info);
        ASSERT_NE(f, nullptr);
        std::vector<float> data(2 * 4800, 0.25F);
        sf_writef_float(f, data.data(), 4800);
        sf_close(f);
    }
    RigState rig;
    rig.slots.push_back({1, (fs::canonical(dir_ / "takes") / "slot-1.wav").string(), {}, true});
    controller_->apply_rig(rig_messages(rig), Controller::internal_endpoint());
    controller_->wait_for_loads();
    EXPECT_EQ(commands(CommandKind::assign_buffer).size(), 1U);
    EXPECT_TRUE(commands(CommandKind::load_take).empty());
    EXPECT_TRUE(controller_->snapshot().slots[1].loaded);
    EXPECT_FALSE(controller_->snapshot().slots[1].take);
    // From a peer, the address says recording is off.
    send("/slot/2/load_take", {OscArg::string("takes/slot-1.wav")});
    ASSERT_TRUE(reply("/error").has_value());
}

TEST_F(ControllerTakesTest, ClockFromSlotSetsTheTempoFromTheTake) {
    finish_take(2, 2 * kRate);  // 2 s
    send("/clock/from_slot", {OscArg::int32(2), OscArg::int32(4)});
    const auto sent = commands(CommandKind::clock_from_slot);
    ASSERT_EQ(sent.size(), 1U);
    EXPECT_EQ(sent[0].slot, 2U);
    EXPECT_EQ(sent[0].value, 120.0F);  // 4 beats in 2 s
    EXPECT_EQ(controller_->snapshot().tempo, 120.0F);

    const std::pair<std::vector<OscArg>, std::string> refused[] = {
        {{OscArg::int32(3), OscArg::int32(4)}, "slot 3 holds no take"},
        {{OscArg::int32(8), OscArg::int32(4)}, "slot must be a whole number from 0 to 7"},
        {{OscArg::int32(2), OscArg::int32(0)}, "beats must be a whole number from 1 to 1024"},
        {{OscArg::int32(2), OscArg::float32(2.5F)}, "beats must be a whole number from 1 to 1024"},
        {{OscArg::int32(2), OscArg::int32(1000)}, "1000 beats over the take make 30000.00 BPM"},
        {{OscArg::int32(2)}, "expected 2 argument(s), got 1"},
    };
    for (const auto& [args, why] : refused) {
        {
            std::lock_guard lock(mutex_);
            replies_.clear();
        }
        send("/clock/from_slot", args);
        const auto e = reply("/error");
        ASSERT_TRUE(e.has_value()) << why;
        EXPECT_EQ(e->args[1].s.substr(0, why.size()), why);
    }
    send("/clock/sync", {OscArg::string("jack")});
    {
        std::lock_guard lock(mutex_);
        replies_.clear();
    }
    send("/clock/from_slot", {OscArg::int32(2), OscArg::int32(4)});
    ASSERT_TRUE(reply("/error").has_value());
    EXPECT_EQ(commands(CommandKind::clock_from_slot).size(), 1U);
    send("/clock/sync", {OscArg::string("midi")});
    {
        std::lock_guard lock(mutex_);
        replies_.clear();
    }
    send("/clock/from_slot", {OscArg::int32(2), OscArg::int32(4)});
    const auto midi = reply("/error");
    ASSERT_TRUE(midi.has_value());
    EXPECT_EQ(midi->args[1].s, "the clock follows MIDI clock: /clock/sync internal first");
    EXPECT_EQ(commands(CommandKind::clock_from_slot).size(), 1U);
}

// A surface shows a take playing from the engine's state, published every block; the mirror
// hears of it from housekeeping, a poll later. /clock/from_slot sent in between takes the
// engine's length. A slot the mirror has let go is not taken at the engine's word, which is
// the old take's until the engine's next block.
TEST_F(ControllerTakesTest, ClockFromSlotTakesTheEnginesLengthBeforeTheMirrorHearsOfTheTake) {
    controller_->engine_event(Event{EventKind::take_started, 2, nullptr, 0});
    {
        std::lock_guard lock(mutex_);
        take_frames_[2] = 2 * kRate;  // it loops; take_finished not read yet
    }
    ASSERT_FALSE(controller_->snapshot().slots[2].take);
    send("/clock/from_slot", {OscArg::int32(2), OscArg::int32(4)});
    auto sent = commands(CommandKind::clock_from_slot);
    ASSERT_EQ(sent.size(), 1U);
    EXPECT_EQ(sent[0].value, 120.0F);

    send("/slot/2/clear");
    send("/clock/from_slot", {OscArg::int32(2), OscArg::int32(4)});
    const auto e = reply("/error");
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->args[1].s, "slot 2 holds no take");
    EXPECT_EQ(commands(CommandKind::clock_from_slot).size(), 1U);

    // A take started again: the engine's word counts again.
    controller_->engine_event(Event{EventKind::take_started, 2, nullptr, 0});
    send("/clock/from_slot", {OscArg::int32(2), OscArg::int32(2)});
    sent = commands(CommandKind::clock_from_slot);
    ASSERT_EQ(sent.size(), 2U);
    EXPECT_EQ(sent[1].value, 60.0F);
}

TEST(RigTakes, TakeKeyRoundTripsAndNeedsAFile) {
    RigState rig;
    rig.slots.push_back({3, "/state/takes/slot-3.wav", SlotParams{}, true});
    const RigState back = parse_state(rig_to_toml(rig, true), "state.toml");
    ASSERT_EQ(back.slots.size(), 1U);
    EXPECT_TRUE(back.slots[0].take);
    EXPECT_EQ(back.slots[0].file, "/state/takes/slot-3.wav");
    EXPECT_EQ(rig_messages(back).back().address, "/slot/3/load_take");

    const std::string no_file = std::string("format = \"looperd-state\"\nversion = 1\n") +
                                "[[slot]]\nindex = 1\ntake = true\n";
    EXPECT_THROW(parse_state(no_file, "state.toml"), RigError);
    const std::string not_bool = std::string("format = \"looperd-state\"\nversion = 1\n") +
                                 "[[slot]]\nindex = 1\nfile = \"a.wav\"\ntake = 1\n";
    EXPECT_THROW(parse_state(not_bool, "state.toml"), RigError);
}

}  // namespace
}  // namespace looperd::test
