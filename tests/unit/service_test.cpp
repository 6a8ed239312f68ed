// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// Living under a service manager: the notify protocol against a real AF_UNIX socket the test
// binds, the watchdog's feeding rule with a fake clock, journald logging, and the memory-lock
// warning in a child process without CAP_IPC_LOCK and with a small RLIMIT_MEMLOCK.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/logging.hpp"
#include "daemon/service_notify.hpp"
#include "io/memory_lock.hpp"
#include "looperd/sample_buffer.hpp"
#include "wait_until.hpp"

namespace looperd {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A datagram socket standing in for systemd's notify socket: a path in a fresh temporary
// directory, or an abstract name ("@..."), bound by the test.
class NotifySocket {
  public:
    explicit NotifySocket(bool abstract) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        EXPECT_GE(fd_, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        socklen_t len = 0;
        if (abstract) {
            name_ = "@looperd-notify-test-" + std::to_string(::getpid()) + "-" +
                    std::to_string(counter_++);
            std::memcpy(addr.sun_path, name_.data(), name_.size());
            addr.sun_path[0] = '\0';
            len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size());
        } else {
            std::string dir = (fs::temp_directory_path() / "looperd-notify-XXXXXX").string();
            EXPECT_NE(::mkdtemp(dir.data()), nullptr);
            dir_ = dir;
            name_ = (dir_ / "notify").string();
            std::memcpy(addr.sun_path, name_.c_str(), name_.size() + 1);
            len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size() + 1);
        }
        EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len), 0) << std::strerror(errno);
    }
    ~NotifySocket() {
        if (fd_ >= 0) ::close(fd_);
        if (!dir_.empty()) fs::remove_all(dir_);
    }
    NotifySocket(const NotifySocket&) = delete;
    NotifySocket& operator=(const NotifySocket&) = delete;

    const std::string& name() const { return name_; }

    // The next datagram, or nullopt after `timeout`. A datagram is queued before the sender's
    // sendto() returns, so the bound only ends a wait for one never sent.
    std::optional<std::string> receive(std::chrono::milliseconds timeout = test::kHangBound) {
        timeval tv{};
        tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
        tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        char buffer[4096];
        const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
        if (n < 0) return std::nullopt;
        return std::string(buffer, static_cast<std::size_t>(n));
    }

  private:
    static inline int counter_ = 0;
    int fd_ = -1;
    fs::path dir_;
    std::string name_;
};

TEST(ServiceNotifier, ReadyAndStatusGoInOneDatagramToAPathSocket) {
    NotifySocket socket(false);
    ServiceNotifier notifier(socket.name(), std::nullopt);
    ASSERT_TRUE(notifier.enabled());
    EXPECT_TRUE(notifier.ready("JACK connected, 48000 Hz/128; 0 slots loaded"));
    EXPECT_EQ(socket.receive(), "READY=1\nSTATUS=JACK connected, 48000 Hz/128; 0 slots loaded");
}

TEST(ServiceNotifier, AbstractNamesWithAnAtSignReachTheAbstractSocket) {
    NotifySocket socket(true);
    ServiceNotifier notifier(socket.name(), std::nullopt);
    EXPECT_TRUE(notifier.watchdog());
    EXPECT_EQ(socket.receive(), "WATCHDOG=1");
}

TEST(ServiceNotifier, EachMessageIsExactlyTheProtocolsAssignments) {
    NotifySocket socket(false);
    ServiceNotifier notifier(socket.name(), std::nullopt);
    EXPECT_TRUE(notifier.status("waiting for JACK server"));
    EXPECT_TRUE(notifier.watchdog());
    EXPECT_TRUE(notifier.stopping("stopping: SIGTERM"));
    EXPECT_EQ(socket.receive(), "STATUS=waiting for JACK server");
    EXPECT_EQ(socket.receive(), "WATCHDOG=1");
    EXPECT_EQ(socket.receive(), "STOPPING=1\nSTATUS=stopping: SIGTERM");
}

TEST(ServiceNotifier, AStatusWithANewlineStaysOneAssignment) {
    NotifySocket socket(false);
    ServiceNotifier notifier(socket.name(), std::nullopt);
    EXPECT_TRUE(notifier.status("failed: line one\nREADY=1\r"));
    EXPECT_EQ(socket.receive(), "STATUS=failed: line one READY=1 ");
}

TEST(ServiceNotifier, WithoutASocketEverythingIsANoOp) {
    ServiceNotifier none;
    EXPECT_FALSE(none.enabled());
    EXPECT_FALSE(none.ready("x"));
    EXPECT_FALSE(none.watchdog());
    // Only absolute paths and abstract names are valid addresses.
    ServiceNotifier relative("notify.sock", std::nullopt);
    EXPECT_FALSE(relative.enabled());
    EXPECT_FALSE(relative.watchdog());
}

TEST(ServiceNotifier, NobodyListeningIsNotAnError) {
    ServiceNotifier notifier("/nonexistent-dir-for-looperd/notify", std::nullopt);
    EXPECT_TRUE(notifier.enabled());
    EXPECT_FALSE(notifier.watchdog());  // failed, and said so, without throwing or blocking
}

// Sets and restores one environment variable.
class ScopedEnv {
  public:
    ScopedEnv(const char* name, const std::optional<std::string>& value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        if (value)
            ::setenv(name, value->c_str(), 1);
        else
            ::unsetenv(name);
    }
    ~ScopedEnv() {
        if (old_)
            ::setenv(name_, old_->c_str(), 1);
        else
            ::unsetenv(name_);
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

  private:
    const char* name_;
    std::optional<std::string> old_;
};

TEST(ServiceNotifier, ReadsSocketAndWatchdogFromTheEnvironment) {
    NotifySocket socket(false);
    ScopedEnv notify("NOTIFY_SOCKET", socket.name());
    {
        ScopedEnv usec("WATCHDOG_USEC", "2000000");
        ScopedEnv pid("WATCHDOG_PID", std::to_string(::getpid()));
        auto n = ServiceNotifier::from_environment();
        ASSERT_TRUE(n.enabled());
        ASSERT_TRUE(n.watchdog_interval());
        EXPECT_EQ(*n.watchdog_interval(), 2s);
        EXPECT_TRUE(n.ready("up"));
        EXPECT_EQ(socket.receive(), "READY=1\nSTATUS=up");
    }
    {
        // Without WATCHDOG_PID the watchdog is ours.
        ScopedEnv usec("WATCHDOG_USEC", "500000");
        ScopedEnv pid("WATCHDOG_PID", std::nullopt);
        EXPECT_EQ(ServiceNotifier::from_environment().watchdog_interval(), 500ms);
    }
    {
        // Another PID's watchdog is not ours to feed.
        ScopedEnv usec("WATCHDOG_USEC", "2000000");
        ScopedEnv pid("WATCHDOG_PID", std::to_string(::getpid() + 1));
        EXPECT_FALSE(ServiceNotifier::from_environment().watchdog_interval());
    }
    for (const char* bad : {"", "0", "12x", "-5"}) {
        ScopedEnv usec("WATCHDOG_USEC", std::string(bad));
        ScopedEnv pid("WATCHDOG_PID", std::nullopt);
        EXPECT_FALSE(ServiceNotifier::from_environment().watchdog_interval()) << bad;
    }
}

TEST(ServiceNotifier, NoNotifySocketMeansNotUnderSystemd) {
    ScopedEnv notify("NOTIFY_SOCKET", std::nullopt);
    ScopedEnv usec("WATCHDOG_USEC", "2000000");
    auto n = ServiceNotifier::from_environment();
    EXPECT_FALSE(n.enabled());
    EXPECT_FALSE(n.watchdog_interval());
    EXPECT_FALSE(n.watchdog());
}

using FeedClock = WatchdogFeeder::Clock;

TEST(WatchdogFeeder, FeedsAtHalfTheIntervalWhileTheAudioThreadRuns) {
    WatchdogFeeder feeder(2s);
    EXPECT_EQ(feeder.feed_interval(), 1s);
    const FeedClock::time_point t0{};
    std::uint64_t cycles = 10;
    EXPECT_TRUE(feeder.due(t0, cycles, false));  // the first feed, cycles have run
    cycles += 300;
    EXPECT_FALSE(feeder.due(t0 + 900ms, cycles, false));  // not yet half the interval
    EXPECT_TRUE(feeder.due(t0 + 1000ms, cycles, false));
    cycles += 1;  // one cycle is progress enough
    EXPECT_FALSE(feeder.due(t0 + 1500ms, cycles, false));
    EXPECT_TRUE(feeder.due(t0 + 2100ms, cycles, false));
}

TEST(WatchdogFeeder, StopsFeedingWhileTheAudioThreadStallsAndResumesAfter) {
    WatchdogFeeder feeder(2s);
    const FeedClock::time_point t0{};
    EXPECT_TRUE(feeder.due(t0, 100, false));
    // No cycle for ten seconds: never fed, so the manager's watchdog fires after 2 s.
    for (auto t = 100ms; t <= 10s; t += 100ms)
        EXPECT_FALSE(feeder.due(t0 + t, 100, false)) << t.count();
    // A cycle runs again: fed at the next tick.
    EXPECT_TRUE(feeder.due(t0 + 10100ms, 101, false));
}

TEST(WatchdogFeeder, FeedsWhileJackIsKnownToBeAway) {
    WatchdogFeeder feeder(2s);
    const FeedClock::time_point t0{};
    EXPECT_TRUE(feeder.due(t0, 100, false));
    EXPECT_FALSE(feeder.due(t0 + 1s, 100, false));
    // The server has gone: the daemon deals with it itself and must not be killed meanwhile.
    EXPECT_TRUE(feeder.due(t0 + 1100ms, 100, true));
    EXPECT_FALSE(feeder.due(t0 + 1500ms, 100, true));  // still at most every interval/2
    EXPECT_TRUE(feeder.due(t0 + 2100ms, 100, true));
}

TEST(WatchdogFeeder, TheFirstFeedWaitsForTheFirstCycle) {
    WatchdogFeeder feeder(2s);
    const FeedClock::time_point t0{};
    EXPECT_FALSE(feeder.due(t0, 0, false));
    EXPECT_FALSE(feeder.due(t0 + 5s, 0, false));
    EXPECT_TRUE(feeder.due(t0 + 5100ms, 1, false));
}

TEST(Logging, LevelsMapToSyslogPriorities) {
    EXPECT_EQ(logging::syslog_priority(spdlog::level::trace), 7);
    EXPECT_EQ(logging::syslog_priority(spdlog::level::debug), 7);
    EXPECT_EQ(logging::syslog_priority(spdlog::level::info), 6);
    EXPECT_EQ(logging::syslog_priority(spdlog::level::warn), 4);
    EXPECT_EQ(logging::syslog_priority(spdlog::level::err), 3);
    EXPECT_EQ(logging::syslog_priority(spdlog::level::critical), 2);
}

TEST(Logging, TheJournalIsRecognisedByDeviceAndInode) {
    char path[] = "/tmp/looperd-journal-XXXXXX";
    const int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    ::unlink(path);
    struct stat st {};
    ASSERT_EQ(::fstat(fd, &st), 0);
    const auto dev = static_cast<unsigned long long>(st.st_dev);
    const auto ino = static_cast<unsigned long long>(st.st_ino);
    const std::string match = std::to_string(dev) + ":" + std::to_string(ino);
    EXPECT_TRUE(logging::is_journal_stream(fd, match.c_str()));
    // stderr redirected elsewhere since systemd set JOURNAL_STREAM: not the journal any more.
    const std::string other_ino = std::to_string(dev) + ":" + std::to_string(ino + 1);
    const std::string other_dev = std::to_string(dev + 1) + ":" + std::to_string(ino);
    EXPECT_FALSE(logging::is_journal_stream(fd, other_ino.c_str()));
    EXPECT_FALSE(logging::is_journal_stream(fd, other_dev.c_str()));
    for (const char* bad : {"", ":", "12", "12:", ":34", "a:b", "1:2:3", "1 :2"})
        EXPECT_FALSE(logging::is_journal_stream(fd, bad)) << bad;
    EXPECT_FALSE(logging::is_journal_stream(fd, nullptr));
    ::close(fd);
}

// Logs through `formatter` into a string.
std::string formatted(bool journal, spdlog::level::level_enum level, const std::string& text) {
    std::ostringstream out;
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
    spdlog::logger logger("looperd", sink);
    logger.set_formatter(logging::make_formatter(journal));
    logger.set_level(spdlog::level::trace);
    logger.log(level, text);
    return out.str();
}

TEST(Logging, JournalLinesCarryThePriorityAndNoTimestamp) {
    EXPECT_EQ(formatted(true, spdlog::level::warn, "no physical playback ports"),
              "<4>no physical playback ports\n");
    EXPECT_EQ(formatted(true, spdlog::level::info, "ready"), "<6>ready\n");
    EXPECT_EQ(formatted(true, spdlog::level::critical, "gone"), "<2>gone\n");
    EXPECT_EQ(formatted(true, spdlog::level::debug, "d"), "<7>d\n");
}

TEST(Logging, ElsewhereLinesKeepTheirTimestampAndLevel) {
    const std::string line = formatted(false, spdlog::level::warn, "no physical playback ports");
    EXPECT_TRUE(std::regex_match(
        line, std::regex(
                  R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} warning no physical playback ports\n)")))
        << line;
}

TEST(RepeatFilter, IdenticalLinesAreHeldBackAfterTheLimitAndCounted) {
    logging::RepeatFilter filter(3, 10s, 8);
    const logging::RepeatFilter::Clock::time_point t0{};
    std::vector<logging::RepeatFilter::Held> ended;
    int passed = 0;
    for (int i = 0; i < 100; ++i)
        passed += filter.admit(spdlog::level::warn, "cannot send", t0 + i * 10ms, ended) ? 1 : 0;
    EXPECT_EQ(passed, 3);
    EXPECT_TRUE(ended.empty());
    filter.expire(t0 + 9999ms, ended);
    EXPECT_TRUE(ended.empty());  // the window is still open
    filter.expire(t0 + 10s, ended);
    ASSERT_EQ(ended.size(), 1U);
    EXPECT_EQ(ended[0].count, 97U);
    EXPECT_EQ(ended[0].text, "cannot send");
    EXPECT_EQ(ended[0].level, spdlog::level::warn);
    // A new window lets the line through again.
    ended.clear();
    EXPECT_TRUE(filter.admit(spdlog::level::warn, "cannot send", t0 + 10s, ended));
}

TEST(RepeatFilter, DistinctLinesAlwaysPass) {
    logging::RepeatFilter filter(1, 10s, 4);
    const logging::RepeatFilter::Clock::time_point t0{};
    std::vector<logging::RepeatFilter::Held> ended;
    // Loading 128 samples at once logs 128 different lines: every one is printed.
    for (int i = 0; i < 128; ++i)
        EXPECT_TRUE(filter.admit(spdlog::level::info, "slot " + std::to_string(i) + ": loaded",
                                 t0 + i * 1ms, ended));
    EXPECT_TRUE(ended.empty());
}

TEST(RepeatFilter, AlternatingLinesAreEachLimited) {
    // spdlog's dup_filter_sink would print all of these: no line equals the one before it.
    logging::RepeatFilter filter(2, 10s, 8);
    const logging::RepeatFilter::Clock::time_point t0{};
    std::vector<logging::RepeatFilter::Held> ended;
    int passed = 0;
    for (int i = 0; i < 50; ++i) {
        passed += filter.admit(spdlog::level::warn, "A", t0 + i * 1ms, ended) ? 1 : 0;
        passed += filter.admit(spdlog::level::warn, "B", t0 + i * 1ms, ended) ? 1 : 0;
    }
    EXPECT_EQ(passed, 4);
    // The same text at another level is another line.
    EXPECT_TRUE(filter.admit(spdlog::level::err, "A", t0 + 60ms, ended));
}

TEST(RepeatFilter, AForgottenLineReportsWhatItHeld) {
    logging::RepeatFilter filter(1, 10s, 2);
    const logging::RepeatFilter::Clock::time_point t0{};
    std::vector<logging::RepeatFilter::Held> ended;
    filter.admit(spdlog::level::warn, "A", t0, ended);
    filter.admit(spdlog::level::warn, "A", t0, ended);  // held
    filter.admit(spdlog::level::warn, "B", t0 + 1ms, ended);
    EXPECT_TRUE(ended.empty());
    filter.admit(spdlog::level::warn, "C", t0 + 2ms, ended);  // A, the oldest, is forgotten
    ASSERT_EQ(ended.size(), 1U);
    EXPECT_EQ(ended[0].text, "A");
    EXPECT_EQ(ended[0].count, 1U);
}

TEST(RepeatFilterSink, AFloodBecomesAFewLinesAndOneSummary) {
    std::ostringstream out;
    auto inner = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
    auto now = logging::RepeatFilterSink::Clock::time_point{};
    auto sink = std::make_shared<logging::RepeatFilterSink>(inner, logging::RepeatFilter(3, 10s, 8),
                                                            [&now] { return now; });
    spdlog::logger logger("looperd", sink);
    logger.set_formatter(logging::make_formatter(true));
    for (int i = 0; i < 1000; ++i) logger.warn("cannot send /slot/1/state to 10.0.0.7:9000");
    logger.info("something else");
    EXPECT_EQ(out.str(),
              "<4>cannot send /slot/1/state to 10.0.0.7:9000\n"
              "<4>cannot send /slot/1/state to 10.0.0.7:9000\n"
              "<4>cannot send /slot/1/state to 10.0.0.7:9000\n"
              "<6>something else\n");
    now += 10s;
    sink->expire();
    EXPECT_EQ(out.str().substr(out.str().find("something else\n") + 15),
              "<4>(repeated 997 more times in 10 s) cannot send /slot/1/state to 10.0.0.7:9000\n");
}

// The capability sets of this process, as the kernel's capget/capset take them (glibc has no
// wrapper and libcap is not a dependency).
struct Caps {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
};

// In a child process: drops CAP_IPC_LOCK (root would bypass RLIMIT_MEMLOCK with it), sets a
// 64 KiB RLIMIT_MEMLOCK, prefaults two 4 MiB buffers and prints what the daemon would log.
// Exits 0 if everything is as expected, else 1 with the reason on stderr.
[[noreturn]] void memlock_child() {
    Caps caps;
    if (::syscall(SYS_capget, &caps.header, caps.data) != 0) {
        std::fprintf(stderr, "capget: %s\n", std::strerror(errno));
        std::_Exit(1);
    }
    constexpr unsigned kIpcLock = CAP_IPC_LOCK;
    caps.data[kIpcLock / 32].effective &= ~(1U << (kIpcLock % 32));
    caps.data[kIpcLock / 32].permitted &= ~(1U << (kIpcLock % 32));
    if (::syscall(SYS_capset, &caps.header, caps.data) != 0) {
        std::fprintf(stderr, "capset: %s\n", std::strerror(errno));
        std::_Exit(1);
    }
    const rlimit small{64 * 1024, 64 * 1024};
    if (::setrlimit(RLIMIT_MEMLOCK, &small) != 0) {
        std::fprintf(stderr, "setrlimit: %s\n", std::strerror(errno));
        std::_Exit(1);
    }
    const auto limit = memlock_limit();
    if (limit.unlimited || limit.bytes != 64 * 1024) {
        std::fprintf(stderr, "memlock_limit() did not read the limit back\n");
        std::_Exit(1);
    }
    constexpr std::uint32_t kFrames = 1024 * 1024;  // 4 MiB of mono floats
    int failures = 0;
    std::vector<std::unique_ptr<SampleBuffer>> buffers;
    for (int i = 0; i < 2; ++i) {
        auto buffer = std::make_unique<SampleBuffer>(1, kFrames, 48000);
        if (buffer->prefault()) {
            std::fprintf(stderr, "mlock of 4 MiB succeeded under a 64 KiB limit\n");
            std::_Exit(1);
        }
        buffers.push_back(std::move(buffer));
        if (auto warning =
                memlock_warning_once(kFrames * sizeof(float), SampleBuffer::unlocked_bytes())) {
            std::fprintf(stderr, "WARNING: %s\n", warning->c_str());
        } else {
            ++failures;
        }
    }
    if (failures != 1) {
        std::fprintf(stderr, "warned %d times, not once\n", 2 - failures);
        std::_Exit(1);
    }
    if (SampleBuffer::unlocked_bytes() != 2ULL * kFrames * sizeof(float)) {
        std::fprintf(stderr, "unlocked_bytes() is %llu\n",
                     static_cast<unsigned long long>(SampleBuffer::unlocked_bytes()));
        std::_Exit(1);
    }
    buffers.clear();
    if (SampleBuffer::unlocked_bytes() != 0) {
        std::fprintf(stderr, "unlocked_bytes() not back to 0 after the buffers were freed\n");
        std::_Exit(1);
    }
    std::fprintf(stderr, "%s\n", lock_process_memory().c_str());
    std::_Exit(0);
}

// GCC says which sanitizer is on with macros, clang with __has_feature.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define LOOPERD_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define LOOPERD_SANITIZED 1
#endif
#endif

TEST(MemoryLock, ATooLowLimitIsReportedOnceWithTheNumbersAndTheFix) {
#ifdef LOOPERD_SANITIZED
    GTEST_SKIP() << "the sanitizers' runtime replaces mlock with a no-op that succeeds; the "
                    "plain build and the integration test check this";
#endif
    // Under qemu-user, GTEST_DEATH_TEST_STYLE=fast: see Guard::SetUp in tests/guard.
    if (std::getenv("GTEST_DEATH_TEST_STYLE") == nullptr)
        GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(memlock_child(), ::testing::ExitedWithCode(0),
                "WARNING: cannot lock sample memory in RAM: 4\\.0 MiB could not be locked "
                "\\(4\\.0 MiB unlocked in all\\) with RLIMIT_MEMLOCK at 64\\.0 KiB;.*"
                "LimitMEMLOCK=infinity in the service unit.*"
                "@audio - memlock unlimited.*/etc/security/limits\\.d/"
                "(.|\n)*memory lock limit \\(RLIMIT_MEMLOCK\\) 64\\.0 KiB");
}

TEST(MemoryLock, SizesReadAsATechnicianWouldWriteThem) {
    EXPECT_EQ(format_bytes(512), "512 bytes");
    EXPECT_EQ(format_bytes(64 * 1024), "64.0 KiB");
    EXPECT_EQ(format_bytes(8 * 1024 * 1024), "8.0 MiB");
    EXPECT_EQ(format_bytes(3ULL * 1024 * 1024 * 1024 / 2), "1.5 GiB");
}

}  // namespace
}  // namespace looperd
