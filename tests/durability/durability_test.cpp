// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// Atomic saves under SIGKILL: state_writer saves states N = 1, 2, 3, ... in a loop and is
// killed at a random moment, 200 times. After each kill the state file must parse and be,
// byte for byte, one of the states written: the last one before the kill or the one after it,
// never a mix, never empty, never older than what an earlier round left.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "daemon/rig_state.hpp"
#include "state_text.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

TEST(Durability, StateIsTheOldOrTheNewOneAfter200KillsDuringSaves) {
    const char* writer = std::getenv("STATE_WRITER");
    if (writer == nullptr || *writer == '\0')
        GTEST_SKIP() << "STATE_WRITER is not set (meson sets it)";
    const char* wrapper = std::getenv("LOOPERD_TEST_EXEC_WRAPPER");
    // Under an emulator the writer's start-up takes longer than the kill window, so the kills
    // would land before any save: what is tested (write, fsync, rename) is the kernel's and
    // the same on every architecture, and the native run covers it.
    if (wrapper != nullptr && *wrapper != '\0')
        GTEST_SKIP() << "the writer runs under an emulator (" << wrapper << "): native runs only";
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/looperd-durability-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    const fs::path dir = pattern;
    const fs::path state = dir / "state.toml";

    std::mt19937 random(20240611);
    std::uniform_int_distribution<int> delay_us(0, 40000);
    std::uint64_t last = 0;
    int advanced = 0;
    for (int round = 0; round < 200; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        const pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            ::execl(writer, writer, dir.c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }
        std::this_thread::sleep_for(std::chrono::microseconds(delay_us(random)));
        ::kill(pid, SIGKILL);
        int status = 0;
        ASSERT_EQ(::waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
            << "the writer stopped on its own, status " << status;
        if (!fs::exists(state)) {
            ASSERT_EQ(last, 0U) << "the state file vanished";
            continue;
        }
        const std::string text = read_file(state);
        looperd::RigState rig;
        try {
            rig = looperd::parse_state(text, state.string());
        } catch (const std::exception& e) {
            FAIL() << "the state does not parse after a kill: " << e.what();
        }
        const auto n = looperd::test::durability_number(rig);
        ASSERT_TRUE(n.has_value()) << "not a state the writer wrote";
        ASSERT_EQ(text, looperd::test::durability_state(*n)) << "state " << *n << " is not whole";
        ASSERT_GE(*n, last) << "an older state came back";
        if (*n > last) ++advanced;
        last = *n;
    }
    // Kills landed while states were being written, not only before the first write.
    std::cout << "[   INFO   ] 200 kills; the writer got to state " << last << "; " << advanced
              << " rounds saved something\n";
    EXPECT_GE(advanced, 50);
    EXPECT_GE(last, 200U);
    // No temporary file survives the next start (SessionStore removes them), and at most one
    // is left by the last kill.
    int temps = 0;
    for (const auto& e : fs::directory_iterator(dir))
        temps += e.path().filename().string().ends_with(".tmp") ? 1 : 0;
    EXPECT_LE(temps, 1);
    std::error_code ignored;
    fs::remove_all(dir, ignored);
}

}  // namespace
