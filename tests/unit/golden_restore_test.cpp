// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// A state directory written by an earlier looperd (tests/golden/state-v1) restores through the
// controller exactly: the same rig text back from the mirror, and the same engine commands, in
// the same order, as the looperd that wrote it sent (restore-commands.txt). Whatever is
// reorganised behind the OSC handlers, a saved rig must sound and save as it did.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/controller.hpp"
#include "daemon/rig_state.hpp"
#include "io/memory_budget.hpp"
#include "looperd/sample_buffer.hpp"

namespace {

using namespace looperd;
namespace fs = std::filesystem;

const fs::path kSource = LOOPERD_SOURCE_DIR;
const fs::path kGolden = kSource / "tests/golden/state-v1";

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string placed(std::string text, const fs::path& state_dir) {
    const std::string mark = "@STATE_DIR@";
    for (auto at = text.find(mark); at != std::string::npos; at = text.find(mark, at))
        text.replace(at, mark.size(), state_dir.string());
    return text;
}

// One command as a line: what the engine is told, without the buffer's address.
std::string describe(const Command& c) {
    char line[160];
    std::snprintf(line, sizeof line, "kind=%d slot=%u value=%.9g frame=%llu",
                  static_cast<int>(c.kind), c.slot, static_cast<double>(c.value),
                  static_cast<unsigned long long>(c.frame));
    std::string out = line;
    if (c.buffer != nullptr)
        out += " buffer=" + std::to_string(c.buffer->frames()) + "x" +
               std::to_string(c.buffer->channels()) + "@" + std::to_string(c.buffer->sample_rate());
    return out;
}

class GoldenRestore : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/looperd-golden-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        fs::create_directories(dir_ / "samples");
        fs::create_directories(dir_ / "state/takes");
        for (const auto& e : fs::directory_iterator(kSource / "examples/samples"))
            fs::copy_file(e.path(), dir_ / "samples" / e.path().filename());
        fs::copy_file(kGolden / "takes/slot-5.wav", dir_ / "state/takes/slot-5.wav");
    }
    void TearDown() override {
        controller_.reset();
        for (auto* b : owned_) delete b;
        fs::remove_all(dir_);
    }

    // The controller as the daemon that wrote the golden directory had it: 8 slots, 4 outputs,
    // 4 inputs, takes kept in the state directory.
    void make() {
        ControllerConfig config;
        config.slots = 8;
        config.outputs = 4;
        config.inputs = 4;
        config.max_record_frames = 5 * 48000;
        config.samples_dir = dir_ / "samples";
        config.takes_dir = dir_ / "state/takes";
        controller_ = std::make_unique<Controller>(
            config, budget_,
            [this](const Command& c) {
                std::lock_guard lock(mutex_);
                commands_.push_back(describe(c));
                if (c.buffer != nullptr && c.kind != CommandKind::snapshot)
                    owned_.push_back(c.buffer);
                return true;
            },
            [](const OscEndpoint&, const OscMessage&) {}, [] { return RuntimeStatus{}; },
            [] { return 48000U; });
    }

    std::string restored(const std::string& text) {
        const RigState rig = parse_state(text, "golden");
        controller_->apply_rig(rig_messages(rig), Controller::internal_endpoint());
        controller_->wait_for_loads();
        SlotParams defaults;
        return rig_to_toml(rig_from_mirror(controller_->snapshot(), defaults), true);
    }

    fs::path dir_;
    MemoryBudget budget_{1ULL << 30};
    std::unique_ptr<Controller> controller_;
    std::mutex mutex_;
    std::vector<std::string> commands_;
    std::vector<SampleBuffer*> owned_;
};

TEST_F(GoldenRestore, TheStateFileReadsAndWritesBackByteForByte) {
    for (const char* name : {"state.toml", "sessions/second-set.toml"}) {
        const std::string text = placed(read_file(kGolden / name), dir_ / "state");
        EXPECT_EQ(rig_to_toml(parse_state(text, name), true), text) << name;
    }
}

TEST_F(GoldenRestore, TheRigRestoresThroughTheControllerWithTheSameCommands) {
    make();
    const std::string text = placed(read_file(kGolden / "state.toml"), dir_ / "state");
    EXPECT_EQ(restored(text), text);
    controller_->stop();

    // The parameters are sent from this thread, the buffers from the loader thread, each in
    // order; how the two interleave depends on the machine, so the log lists them apart.
    std::string log;
    std::string buffers;
    for (const auto& line : commands_)
        (line.find(" buffer=") == std::string::npos ? log : buffers) += line + "\n";
    log += buffers;
    const fs::path expected = kGolden / "restore-commands.txt";
    if (const char* write = std::getenv("LOOPERD_WRITE_GOLDEN"); write && *write == '1') {
        std::ofstream(expected, std::ios::binary) << log;
        GTEST_SKIP() << "wrote " << expected;
    }
    EXPECT_EQ(log, read_file(expected));
}

}  // namespace
