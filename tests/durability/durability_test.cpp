// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// Atomic saves under SIGKILL: state_writer saves states N = 1, 2, 3, ... in a loop, announcing
// each save on a pipe before it starts, and is killed during a save, 200 times. After each kill
// the state file must parse and be, byte for byte, the state of the last save that returned or
// of the one under way, never a mix, never empty, never older.
//
// The kills are placed by what the writer says and does, not by the clock, so that they land
// during saves on any machine, under any sanitizer or emulator and under any load: each round
// waits for the writer to announce its second to fourth save (so at least one save of the round
// has returned), then kills it either as soon as its next save writes a file (inotify) or after
// a random part of one save's duration as measured in that round.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>

#include "daemon/rig_state.hpp"
#include "state_text.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Bounds every wait: only a hung or crashed writer takes this long, however slow the machine.
constexpr auto kHangBound = 60s;

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// Waits until fd is readable or the deadline passes; true when readable (or at end of file).
bool wait_readable(int fd, Clock::time_point deadline) {
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return false;
        pollfd p{fd, POLLIN, 0};
        const int r = ::poll(&p, 1, static_cast<int>(left.count()));
        if (r > 0) return true;
        if (r < 0 && errno != EINTR) return false;
    }
}

// The writer's announcements: one number a line, on a pipe.
class Announcements {
  public:
    explicit Announcements(int fd) : fd_(fd) {}
    Announcements(const Announcements&) = delete;
    Announcements& operator=(const Announcements&) = delete;
    ~Announcements() { ::close(fd_); }

    // The next announced save; nullopt at end of file or when nothing came within the bound.
    std::optional<std::uint64_t> next(Clock::time_point deadline) {
        for (;;) {
            if (const auto eol = pending_.find('\n'); eol != std::string::npos) {
                const std::uint64_t n = std::stoull(pending_.substr(0, eol));
                pending_.erase(0, eol + 1);
                last_ = n;
                return n;
            }
            if (!wait_readable(fd_, deadline)) return std::nullopt;
            std::array<char, 256> buf{};
            const ssize_t got = ::read(fd_, buf.data(), buf.size());
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) return std::nullopt;
            pending_.append(buf.data(), static_cast<std::size_t>(got));
        }
    }

    // After the writer died: reads to the end; the last save it announced (0 if none).
    std::uint64_t last_announced(Clock::time_point deadline) {
        while (next(deadline)) {
        }
        return last_;
    }

  private:
    int fd_;
    std::string pending_;
    std::uint64_t last_ = 0;
};

// Discards what inotify has queued, then waits until a save creates or writes a file in the
// watched directory (the lock file aside); false when none did within the bound.
bool wait_for_save_writing(int inotify_fd, Clock::time_point deadline) {
    std::array<char, 4096> buf{};
    while (::read(inotify_fd, buf.data(), buf.size()) > 0) {
    }
    for (;;) {
        if (!wait_readable(inotify_fd, deadline)) return false;
        const ssize_t got = ::read(inotify_fd, buf.data(), buf.size());
        for (ssize_t at = 0; at < got;) {
            // Copied out rather than cast: a char buffer may not be cast to the event's
            // alignment (-Wcast-align on 32-bit ARM). The name follows, NUL-padded to len.
            inotify_event e{};
            std::memcpy(&e, buf.data() + at, sizeof e);
            const char* name = buf.data() + at + sizeof e;
            if (e.len > 0 && std::string_view(name) != ".lock") return true;
            at += static_cast<ssize_t>(sizeof e + e.len);
        }
    }
}

int temps_in(const fs::path& dir) {
    int temps = 0;
    for (const auto& e : fs::directory_iterator(dir))
        temps += e.path().filename().string().ends_with(".tmp") ? 1 : 0;
    return temps;
}

TEST(Durability, StateIsTheOldOrTheNewOneAfter200KillsDuringSaves) {
    const char* writer = std::getenv("STATE_WRITER");
    if (writer == nullptr || *writer == '\0')
        GTEST_SKIP() << "STATE_WRITER is not set (meson sets it)";
    // Cross builds run the writer through the emulator that runs this test.
    const char* wrapper = std::getenv("LOOPERD_TEST_EXEC_WRAPPER");
    const bool wrapped = wrapper != nullptr && *wrapper != '\0';
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/looperd-durability-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    const fs::path dir = pattern;
    const fs::path state = dir / "state.toml";

    const int inotify_fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    ASSERT_GE(inotify_fd, 0) << std::strerror(errno);
    ASSERT_GE(::inotify_add_watch(inotify_fd, dir.c_str(), IN_CREATE | IN_MODIFY), 0)
        << std::strerror(errno);

    std::mt19937 random(20240611);
    std::uint64_t last = 0;
    int landed = 0;    // the save under way had been renamed into place: the new state
    int mid_save = 0;  // killed between the temporary file's creation and its rename
    for (int round = 0; round < 200; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        std::array<int, 2> out{};
        ASSERT_EQ(::pipe2(out.data(), O_CLOEXEC), 0);
        const pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            ::dup2(out[1], STDOUT_FILENO);
            if (wrapped)
                ::execlp(wrapper, wrapper, writer, dir.c_str(), static_cast<char*>(nullptr));
            else
                ::execl(writer, writer, dir.c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }
        ::close(out[1]);
        Announcements saves(out[0]);
        const auto deadline = Clock::now() + kHangBound;

        // Announcement k comes after save k - 1 returned: k >= 2 makes every round save.
        const int k = 2 + static_cast<int>(random() % 3);
        Clock::time_point before_last{};
        Clock::time_point at_last{};
        bool announced = true;
        for (int i = 0; i < k && announced; ++i) {
            before_last = at_last;
            announced = saves.next(deadline).has_value();
            at_last = Clock::now();
        }
        bool placed = announced;
        if (announced && round % 2 == 0) {
            placed = wait_for_save_writing(inotify_fd, deadline);
        } else if (announced) {
            // Somewhere in the next save, whatever one save takes on this machine now.
            std::uniform_real_distribution<double> part(0.0, 1.0);
            std::this_thread::sleep_for((at_last - before_last) * part(random));
        }
        ::kill(pid, SIGKILL);
        int status = 0;
        ASSERT_EQ(::waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(announced && placed)
            << "the writer announced no save or wrote no file within " << kHangBound.count()
            << " s (a hang or a failed start), status " << status;
        ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
            << "the writer stopped on its own, status " << status;
        const std::uint64_t begun = saves.last_announced(Clock::now() + kHangBound);

        mid_save += temps_in(dir) > 0 ? 1 : 0;
        ASSERT_TRUE(fs::exists(state)) << "no state file after save " << begun - 1 << " returned";
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
        ASSERT_TRUE(*n == begun || *n + 1 == begun)
            << "state " << *n << " after the writer had begun save " << begun
            << ": neither the last save that returned nor the one under way";
        ASSERT_GT(*n, last) << "a save that returned was lost";
        landed += *n == begun ? 1 : 0;
        last = *n;
    }
    std::cout << "[   INFO   ] 200 kills; the writer got to state " << last << "; " << mid_save
              << " kills between a temporary file's creation and its rename, " << landed
              << " just after a rename\n";
    // The point of the test: kills that interrupted a save, not only kills between saves.
    EXPECT_GE(mid_save, 1);
    // No temporary file survives the next start (SessionStore removes them), and at most one
    // is left by the last kill.
    EXPECT_LE(temps_in(dir), 1);
    ::close(inotify_fd);
    std::error_code ignored;
    fs::remove_all(dir, ignored);
}

}  // namespace
