// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// looperd under a (stand-in) service manager: the test binds the notify socket systemd would,
// starts the real daemon with NOTIFY_SOCKET and WATCHDOG_USEC under a real jackd, and reads
// the datagrams. It stops jackd (SIGSTOP) to see the watchdog go unfed while the audio thread
// makes no progress, and runs the daemon without CAP_IPC_LOCK under a small RLIMIT_MEMLOCK to
// see the memory-lock warning.

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "jack_server.hpp"
#include "osc_client.hpp"

namespace looperd::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// The notify socket, as systemd binds it: an AF_UNIX datagram socket at a path.
class NotifyListener {
  public:
    explicit NotifyListener(const fs::path& path) : path_(path) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) throw std::runtime_error("socket(AF_UNIX)");
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        const std::string p = path.string();
        if (p.size() >= sizeof addr.sun_path) throw std::runtime_error("path too long: " + p);
        std::memcpy(addr.sun_path, p.c_str(), p.size() + 1);
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
            throw std::runtime_error("bind " + p + ": " + std::strerror(errno));
    }
    ~NotifyListener() { ::close(fd_); }
    NotifyListener(const NotifyListener&) = delete;
    NotifyListener& operator=(const NotifyListener&) = delete;

    const fs::path& path() const { return path_; }

    // The next datagram within `timeout`, kept in history().
    std::optional<std::string> receive(std::chrono::milliseconds timeout) {
        const auto ms = std::max<std::chrono::milliseconds::rep>(timeout.count(), 1);
        timeval tv{};
        tv.tv_sec = static_cast<time_t>(ms / 1000);
        tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        char buffer[4096];
        const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
        if (n < 0) return std::nullopt;
        history_.emplace_back(buffer, static_cast<std::size_t>(n));
        return history_.back();
    }

    // Waits up to `timeout` for a datagram with the line `line` (e.g. "READY=1") or, with
    // `prefix`, a line starting with it. Returns the datagram.
    std::optional<std::string> wait_for(const std::string& line, std::chrono::milliseconds timeout,
                                        bool prefix = false) {
        const auto deadline = Clock::now() + timeout;
        for (;;) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            if (left <= 0ms) return std::nullopt;
            auto d = receive(left);
            if (d && has_line(*d, line, prefix)) return d;
        }
    }

    static bool has_line(const std::string& datagram, const std::string& line,
                         bool prefix = false) {
        std::istringstream in(datagram);
        for (std::string l; std::getline(in, l);)
            if (prefix ? l.starts_with(line) : l == line) return true;
        return false;
    }

    std::string dump() const {
        std::string out;
        for (const auto& d : history_) out += "  [" + d + "]\n";
        return out;
    }

  private:
    fs::path path_;
    int fd_ = -1;
    std::vector<std::string> history_;
};

// A program on $PATH, or "" if there is none.
std::string find_on_path(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path ? path : "/usr/bin:/bin");
    for (std::string dir; std::getline(dirs, dir, ':');) {
        const fs::path candidate = fs::path(dir) / name;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    }
    return "";
}

class ServiceDaemon : public IntegrationTest {
  protected:
    void SetUp() override {
        start_jack("looperd-svc-");
        if (IsSkipped() || HasFatalFailure()) return;
        try {
            notify_ = std::make_unique<NotifyListener>(dir_ / "notify");
        } catch (const std::exception& e) {
            FAIL() << e.what();
        }
        osc_port_ = pick_free_udp_port();
    }

    void TearDown() override {
        // A test that failed while jackd was stopped must not leave it stopped.
        if (jack_ && jack_stopped_) ::kill(jack_->process().pid(), SIGCONT);
        finish(daemon_, false, [this](std::ostream& out) {
            out << "---- notify datagrams ----\n" << (notify_ ? notify_->dump() : std::string());
        });
        notify_.reset();
    }

    // Starts the daemon as systemd would start a Type=notify service, through `wrapper`
    // (a command line ending where the daemon's path goes) when given.
    void start_daemon(const std::vector<std::string>& extra_env,
                      const std::vector<std::string>& wrapper = {},
                      const std::vector<std::string>& extra_args = {}) {
        std::vector<std::string> args = daemon_args(osc_port_);
        args.insert(args.end(), extra_args.begin(), extra_args.end());
        std::string program = binary_;
        if (!wrapper.empty()) {
            program = wrapper[0];
            std::vector<std::string> full(wrapper.begin() + 1, wrapper.end());
            full.push_back(binary_);
            full.insert(full.end(), args.begin(), args.end());
            args = std::move(full);
        }
        std::vector<std::string> env = {"JACK_DEFAULT_SERVER=" + jack_->name(),
                                        "NOTIFY_SOCKET=" + notify_->path().string()};
        env.insert(env.end(), extra_env.begin(), extra_env.end());
        daemon_ = std::make_unique<ChildProcess>(program, args, env, log_path().string());
        osc_ = std::make_unique<OscClient>();
    }

    fs::path log_path() const { return dir_ / "looperd.log"; }

    void load(int slot_index, const std::string& file) {
        osc_->send(osc_port_, slot(slot_index, "load"), {osc_string(file)});
        const auto reply = osc_->wait_for_any({slot(slot_index, "loaded"), "/error"}, kHangBound);
        ASSERT_TRUE(reply) << "no reply to the load within " << kHangBound.count() << " s";
        ASSERT_EQ(reply->address, slot(slot_index, "loaded")) << reply->to_string();
    }

    void stop_jack() {
        ASSERT_EQ(::kill(jack_->process().pid(), SIGSTOP), 0);
        jack_stopped_ = true;
    }
    void continue_jack() {
        ASSERT_EQ(::kill(jack_->process().pid(), SIGCONT), 0);
        jack_stopped_ = false;
    }

    std::unique_ptr<NotifyListener> notify_;
    std::unique_ptr<ChildProcess> daemon_;
    std::unique_ptr<OscClient> osc_;
    std::uint16_t osc_port_ = 0;
    bool jack_stopped_ = false;
};

TEST_F(ServiceDaemon, ReadyStatusWatchdogAndStoppingReachTheServiceManager) {
    // stderr is "the journal": JOURNAL_STREAM names the log file's device and inode, as
    // systemd names its stream socket's.
    { std::ofstream create(log_path()); }
    struct stat st {};
    ASSERT_EQ(::stat(log_path().c_str(), &st), 0);
    const std::string journal_stream =
        "JOURNAL_STREAM=" + std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
    // A 1 s watchdog: looperd feeds it every 500 ms.
    ASSERT_NO_FATAL_FAILURE(start_daemon({"WATCHDOG_USEC=1000000", journal_stream}));

    const auto waiting =
        notify_->wait_for("STATUS=waiting for JACK server '" + jack_->name() + "'", kHangBound);
    ASSERT_TRUE(waiting) << "no 'waiting for JACK server' status";
    const auto ready = notify_->wait_for("READY=1", kHangBound);
    ASSERT_TRUE(ready) << "no READY=1 within " << kHangBound.count() << " s";
    const std::string expected_status =
        "STATUS=JACK connected, 48000 Hz/128; 0 slots loaded; "
        "OSC udp 127.0.0.1:" +
        std::to_string(osc_port_);
    EXPECT_TRUE(NotifyListener::has_line(*ready, expected_status)) << *ready;
    // OSC is bound by the time READY=1 is sent.
    osc_->send(osc_port_, "/ping");
    EXPECT_TRUE(osc_->wait_for("/pong", kHangBound)) << "no /pong right after READY=1";

    ASSERT_TRUE(notify_->wait_for("WATCHDOG=1", kHangBound)) << "the watchdog was not fed";
    ASSERT_TRUE(notify_->wait_for("WATCHDOG=1", kHangBound)) << "the watchdog was fed only once";

    // The status follows what is loaded.
    write_wav(samples_ / "a.wav", 1, noise(4800, 1, 1));
    ASSERT_NO_FATAL_FAILURE(load(3, "a.wav"));
    EXPECT_TRUE(notify_->wait_for("STATUS=JACK connected, 48000 Hz/128; 1 slot loaded", kHangBound,
                                  /*prefix=*/true))
        << "the status did not follow the load";

    // jackd stops: the audio thread makes no progress. Counted, not timed (a busy machine may
    // send or deliver a feed late): at most one feed sent before the stop and one due for the
    // cycles run before it may still arrive; a looperd that kept feeding every 500 ms would
    // send about seven in these 3.5 s.
    while (notify_->receive(1ms)) {
        // Feeds already waiting in the socket were sent while jackd ran.
    }
    ASSERT_NO_FATAL_FAILURE(stop_jack());
    const auto stopped_at = Clock::now();
    int feeds_after_stop = 0;
    while (Clock::now() - stopped_at < 3500ms) {
        const auto d = notify_->receive(100ms);
        if (d && NotifyListener::has_line(*d, "WATCHDOG=1")) ++feeds_after_stop;
    }
    EXPECT_LE(feeds_after_stop, 2) << "WATCHDOG=1 was sent while the audio thread made no progress";
    EXPECT_TRUE(daemon_->running()) << "looperd exited while jackd was stopped";

    // jackd goes on: so does the feeding.
    ASSERT_NO_FATAL_FAILURE(continue_jack());
    EXPECT_TRUE(notify_->wait_for("WATCHDOG=1", kHangBound))
        << "the watchdog was not fed after SIGCONT";

    // Stopping says so.
    const auto status = daemon_->terminate(kHangBound);
    EXPECT_TRUE(exited_with(status, 0)) << describe(status);
    const auto stopping = notify_->wait_for("STOPPING=1", kHangBound);
    ASSERT_TRUE(stopping) << "no STOPPING=1";
    EXPECT_TRUE(NotifyListener::has_line(*stopping, "STATUS=stopping: SIGTERM")) << *stopping;

    // Every log line went out in the journal's form: "<N>text", no timestamp.
    std::istringstream log(daemon_->read_log());
    int lines = 0;
    for (std::string line; std::getline(log, line); ++lines) {
        ASSERT_GE(line.size(), 3U) << line;
        EXPECT_TRUE(line[0] == '<' && line[1] >= '2' && line[1] <= '7' && line[2] == '>') << line;
    }
    EXPECT_GT(lines, 3);
    EXPECT_NE(daemon_->read_log().find("<6>looperd "), std::string::npos);
}

TEST_F(ServiceDaemon, SampleMemoryThatCannotBeLockedIsReportedOnceWithTheFix) {
    // RLIMIT_MEMLOCK of 64 KiB, and (for root) no CAP_IPC_LOCK, which would bypass it.
    const std::string prlimit = find_on_path("prlimit");
    const std::string setpriv = find_on_path("setpriv");
    if (prlimit.empty() || setpriv.empty())
        GTEST_SKIP() << "needs prlimit and setpriv (util-linux)";
    std::vector<std::string> wrapper = {prlimit, "--memlock=65536:65536"};
    if (::geteuid() == 0)
        wrapper.insert(wrapper.end(),
                       {setpriv, "--inh-caps=-ipc_lock", "--bounding-set=-ipc_lock"});
    // No recording: its preallocated buffers would be unlocked memory too, and this counts
    // samples alone.
    ASSERT_NO_FATAL_FAILURE(start_daemon({}, wrapper, {"--inputs", "0"}));
    ASSERT_TRUE(notify_->wait_for("READY=1", kHangBound))
        << "no READY=1 within " << kHangBound.count() << " s";

    // Two loads of 1 s of stereo at 48 kHz: 375 KiB each, far above the limit.
    write_wav(samples_ / "a.wav", 2, noise(48000, 2, 2));
    write_wav(samples_ / "b.wav", 2, noise(48000, 2, 3));
    ASSERT_NO_FATAL_FAILURE(load(1, "a.wav"));
    ASSERT_NO_FATAL_FAILURE(load(2, "b.wav"));
    EXPECT_TRUE(notify_->wait_for(
        "STATUS=JACK connected, 48000 Hz/128; 2 slots loaded; OSC udp "
        "127.0.0.1:" +
            std::to_string(osc_port_) + "; 750.0 KiB of samples not locked in RAM (LimitMEMLOCK)",
        3s))
        << "the status line does not say how much is not locked";

    const auto status = daemon_->terminate(kHangBound);
    EXPECT_TRUE(exited_with(status, 0)) << describe(status);
    const std::string log = daemon_->read_log();
    auto count = [&log](const std::string& what) {
        int n = 0;
        for (auto at = log.find(what); at != std::string::npos; at = log.find(what, at + 1)) ++n;
        return n;
    };
    EXPECT_EQ(count("cannot lock sample memory in RAM"), 1) << log;
    EXPECT_EQ(count("not locked in RAM)"), 2) << log;  // each load's own line
    EXPECT_EQ(count("375.0 KiB could not be locked (375.0 KiB unlocked in all) with "
                    "RLIMIT_MEMLOCK at 64.0 KiB"),
              1)
        << log;
    EXPECT_EQ(count("LimitMEMLOCK=infinity"), 2) << log;  // at start, and in the warning
    EXPECT_EQ(count("memory lock limit (RLIMIT_MEMLOCK) 64.0 KiB"), 1) << log;
}

}  // namespace
}  // namespace looperd::test
