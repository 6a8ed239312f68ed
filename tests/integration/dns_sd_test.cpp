// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// DNS-SD against a real avahi-daemon. Each test runs in a network namespace of its own (the
// test thread unshares one, so everything it starts is inside): loopback, and two veth pairs
// with documentation addresses (192.0.2.1 on ldv0, 198.51.100.1 on ldv2), since avahi-daemon
// ignores loopback. In it run a dbus-daemon of the test's own as the system bus (libdbus
// reads DBUS_SYSTEM_BUS_ADDRESS), an avahi-daemon on that bus (with a /run of its own, so that
// the machine's avahi-daemon, if any, is neither seen nor disturbed), a private jackd and
// looperd; `avahi-browse -rpt _osc._udp` says what the network is told. Nothing leaves the
// namespace, and every process is stopped by its PID. Root is needed for the namespace: the
// tests skip without it (CI runs as root).

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "fixtures.hpp"
#include "jack_server.hpp"
#include "osc_client.hpp"

namespace looperd::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// One service as `avahi-browse -rpt` resolves it.
struct Resolved {
    std::string interface;
    std::string protocol;
    std::string name;
    std::string address;
    int port = 0;
    std::vector<std::string> txt;
};

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// avahi-browse -p escapes names: "\032" is a byte in decimal, "\." and "\\" the character.
std::string unescape(const std::string& text) {
    std::string out;
    for (std::size_t k = 0; k < text.size(); ++k) {
        if (text[k] == '\\' && k + 3 < text.size() && is_digit(text[k + 1]) &&
            is_digit(text[k + 2]) && is_digit(text[k + 3])) {
            out += static_cast<char>(std::stoi(text.substr(k + 1, 3)));
            k += 3;
        } else if (text[k] == '\\' && k + 1 < text.size()) {
            out += text[++k];
        } else {
            out += text[k];
        }
    }
    return out;
}

// `"a=1" "b=2"` → {"a=1", "b=2"}.
std::vector<std::string> txt_strings(const std::string& text) {
    std::vector<std::string> out;
    std::size_t k = 0;
    while ((k = text.find('"', k)) != std::string::npos) {
        const auto end = text.find('"', k + 1);
        if (end == std::string::npos) break;
        out.push_back(text.substr(k + 1, end - k - 1));
        k = end + 1;
    }
    return out;
}

std::vector<std::string> split(const std::string& line, char sep, std::size_t max_fields) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (out.size() + 1 < max_fields) {
        const auto at = line.find(sep, start);
        if (at == std::string::npos) break;
        out.push_back(line.substr(start, at - start));
        start = at + 1;
    }
    out.push_back(line.substr(start));
    return out;
}

class DnsSd : public IntegrationTest {
  protected:
    void SetUp() override {
#ifndef LOOPERD_HAVE_AVAHI
        GTEST_SKIP() << "looperd was built without Avahi (-Davahi): nothing is announced";
#else
        if (::geteuid() != 0)
            GTEST_SKIP() << "needs root for a network namespace of its own (CI runs as root)";
        for (const char* var :
             {"DBUS_DAEMON", "AVAHI_DAEMON", "AVAHI_BROWSE", "AVAHI_PUBLISH", "IP", "UNSHARE"}) {
            const char* value = std::getenv(var);
            ASSERT_TRUE(value != nullptr && *value != '\0')
                << var << " is not set: meson did not find the program (Debian: dbus, "
                << "avahi-daemon, avahi-utils, iproute2, util-linux; scripts/install-deps.sh "
                << "--test installs them)";
            programs_[var] = value;
        }
        // The namespace is the test thread's: every process it starts from now on is in it.
        home_netns_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        ASSERT_GE(home_netns_, 0) << std::strerror(errno);
        if (::unshare(CLONE_NEWNET) != 0)
            GTEST_SKIP() << "cannot make a network namespace (unshare: " << std::strerror(errno)
                         << "): a container without CAP_SYS_ADMIN?";
        in_netns_ = true;

        ASSERT_NO_FATAL_FAILURE(start_jack("looperd-dnssd-"));
        if (IsSkipped()) return;
        for (const auto& args : std::vector<std::vector<std::string> >{
                 {"link", "set", "lo", "up"},
                 {"link", "add", "ldv0", "type", "veth", "peer", "name", "ldv1"},
                 {"link", "add", "ldv2", "type", "veth", "peer", "name", "ldv3"},
                 {"addr", "add", "192.0.2.1/24", "dev", "ldv0"},
                 {"addr", "add", "198.51.100.1/24", "dev", "ldv2"},
                 {"link", "set", "ldv0", "up"},
                 {"link", "set", "ldv1", "up"},
                 {"link", "set", "ldv2", "up"},
                 {"link", "set", "ldv3", "up"},
             }) {
            ASSERT_NO_FATAL_FAILURE(run_ok(programs_["IP"], args));
        }
        ASSERT_NO_FATAL_FAILURE(start_dbus());
        looperd_env_ = {"JACK_DEFAULT_SERVER=" + jack_->name(), bus_env()};
#endif
    }

    void TearDown() override {
        finish(daemon_, true, [this](std::ostream& out) {
            report_skipped(out, osc_.get());
            for (const auto* p : {avahi_.get(), dbus_.get()})
                if (p != nullptr) out << "---- " << p->log_path() << " ----\n" << p->read_log();
        });
        if (squatter_) squatter_->terminate(5s);
        if (avahi_) avahi_->terminate(5s);
        if (dbus_) dbus_->terminate(5s);
        squatter_.reset();
        avahi_.reset();
        dbus_.reset();
        // Back to the machine's network namespace; the test's goes with its last process.
        if (in_netns_) {
            EXPECT_EQ(::setns(home_netns_, CLONE_NEWNET), 0) << std::strerror(errno);
        }
        if (home_netns_ >= 0) ::close(home_netns_);
    }

    std::string bus_env() const {
        return "DBUS_SYSTEM_BUS_ADDRESS=unix:path=" + (dir_ / "bus").string();
    }

    // Runs a program to its end (bounded); fails the test unless it exits 0.
    void run_ok(const std::string& program, const std::vector<std::string>& args) {
        const std::string log = (dir_ / "command.log").string();
        ChildProcess child(program, args, {}, log);
        const auto status = child.wait_exit(kHangBound);
        ASSERT_TRUE(exited_with(status, 0))
            << program << " " << args[0] << " " << args[1] << ": " << describe(status) << "\n"
            << child.read_log();
    }

    // A system bus of the test's own: anyone may own any name and talk to anyone.
    void start_dbus() {
        const fs::path config = dir_ / "bus.conf";
        std::ofstream(config) << R"(<!DOCTYPE busconfig PUBLIC
 "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=)" << (dir_ / "bus").string()
                              << R"(</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
)";
        dbus_ = std::make_unique<ChildProcess>(
            programs_["DBUS_DAEMON"],
            std::vector<std::string>{"--config-file=" + config.string(), "--nofork", "--nopidfile"},
            std::vector<std::string>{}, (dir_ / "dbus.log").string());
        ASSERT_TRUE(wait_until([&] { return fs::exists(dir_ / "bus") || !dbus_->running(); }))
            << hung("the D-Bus socket");
        ASSERT_TRUE(dbus_->running()) << dbus_->read_log();
    }

    // avahi-daemon on the test's bus, in a mount namespace whose /run is empty: its pid file
    // and socket are its own, whatever runs on the machine. Waits until it has started.
    void start_avahi() {
        const fs::path config = dir_ / "avahi.conf";
        std::ofstream(config) << "[server]\nuse-ipv4=yes\nuse-ipv6=no\n"
                                 "allow-interfaces=ldv0,ldv2\nenable-dbus=yes\n"
                                 "[publish]\npublish-hinfo=no\npublish-workstation=no\n";
        const std::string log = (dir_ / ("avahi-" + std::to_string(++avahi_runs_) + ".log"));
        avahi_ = std::make_unique<ChildProcess>(
            programs_["UNSHARE"],
            std::vector<std::string>{
                "--mount", "--propagation", "private", "sh", "-c",
                "mount -t tmpfs -o mode=0755 looperd-test /run && exec \"$0\" \"$@\"",
                programs_["AVAHI_DAEMON"], "--no-drop-root", "--no-chroot", "--no-rlimits", "-f",
                config.string()},
            std::vector<std::string>{bus_env()}, log);
        ASSERT_TRUE(wait_until([&] {
            return !avahi_->running() ||
                   avahi_->read_log().find("Server startup complete") != std::string::npos;
        })) << hung("avahi-daemon's start");
        ASSERT_TRUE(avahi_->running()) << avahi_->read_log();
    }

    // What `avahi-browse -rpt _osc._udp` lists now, resolved; the services it saw go away
    // during the dump are left out.
    std::vector<Resolved> browse() {
        const std::string log = (dir_ / "browse.log").string();
        ChildProcess child(programs_["AVAHI_BROWSE"], {"-rpt", "_osc._udp"}, {bus_env()}, log);
        if (!child.wait_exit(kHangBound)) child.terminate(1s);
        std::map<std::tuple<std::string, std::string, std::string>, Resolved> seen;
        std::istringstream lines(child.read_log());
        for (std::string line; std::getline(lines, line);) {
            const auto f = split(line, ';', 10);
            if (f.size() < 4) continue;
            const auto key = std::make_tuple(f[1], f[2], unescape(f[3]));
            if (f[0] == "-") seen.erase(key);
            if (f[0] != "=" || f.size() < 10) continue;
            seen[key] =
                Resolved{f[1], f[2], unescape(f[3]), f[7], std::stoi(f[8]), txt_strings(f[9])};
        }
        std::vector<Resolved> out;
        for (auto& [key, r] : seen) out.push_back(std::move(r));
        return out;
    }

    std::vector<Resolved> named(const std::string& name) {
        std::vector<Resolved> out;
        for (auto& r : browse())
            if (r.name == name) out.push_back(std::move(r));
        return out;
    }

    // Browses until `done` holds for the services named `name` (bounded).
    template <typename Predicate>
    std::vector<Resolved> browse_until(const std::string& name, Predicate&& done) {
        const auto deadline = Clock::now() + kHangBound;
        for (;;) {
            auto found = named(name);
            if (done(found) || Clock::now() >= deadline) return found;
            std::this_thread::sleep_for(200ms);
        }
    }

    // Lines of looperd's log that contain `text` (and, if given, `level`).
    int log_lines(const std::string& text, const std::string& level = {}) const {
        if (!daemon_) return 0;
        std::istringstream lines(daemon_->read_log());
        int n = 0;
        for (std::string line; std::getline(lines, line);)
            if (line.find(text) != std::string::npos &&
                (level.empty() || line.find(" " + level + " ") != std::string::npos))
                ++n;
        return n;
    }

    std::vector<std::string> looperd_args(std::uint16_t port, const std::string& name,
                                          const std::string& bind = "0.0.0.0") const {
        auto args = daemon_args(port);
        args.insert(args.end(), {"--osc-bind", bind, "--dns-sd-name", name});
        return args;
    }

    std::map<std::string, std::string> programs_;
    int home_netns_ = -1;
    bool in_netns_ = false;
    int avahi_runs_ = 0;
    std::vector<std::string> looperd_env_;
    std::unique_ptr<ChildProcess> dbus_;
    std::unique_ptr<ChildProcess> avahi_;
    std::unique_ptr<ChildProcess> squatter_;
    std::unique_ptr<ChildProcess> daemon_;
    std::unique_ptr<OscClient> osc_;
};

bool has(const std::vector<std::string>& list, const std::string& item) {
    return std::find(list.begin(), list.end(), item) != list.end();
}

TEST_F(DnsSd, AnnouncesTheBoundPortNameAndTxtThenWithdrawsThemOnStop) {
    ASSERT_NO_FATAL_FAILURE(start_avahi());
    const std::uint16_t port = pick_free_udp_port();
    const std::string name = "looperd test " + std::to_string(::getpid());
    auto args = looperd_args(port, name);
    args.insert(args.end(), {"--slots", "16", "--feedback-port", "9123"});
    ASSERT_NO_FATAL_FAILURE(launch_daemon(daemon_, osc_, port, args, looperd_env_));

    // Bound to 0.0.0.0: both interfaces, IPv4.
    const auto found = browse_until(name, [](const auto& f) { return f.size() >= 2; });
    ASSERT_EQ(found.size(), 2U) << hung("the announcement on ldv0 and ldv2");
    std::map<std::string, std::string> addresses;
    for (const auto& r : found) {
        addresses[r.interface] = r.address;
        EXPECT_EQ(r.protocol, "IPv4");
        EXPECT_EQ(r.port, port);
        EXPECT_TRUE(has(r.txt, "version=" LOOPERD_VERSION)) << ::testing::PrintToString(r.txt);
        EXPECT_TRUE(has(r.txt, "slots=16")) << ::testing::PrintToString(r.txt);
        EXPECT_TRUE(has(r.txt, "feedback=/notify")) << ::testing::PrintToString(r.txt);
        EXPECT_TRUE(has(r.txt, "feedback-port=9123")) << ::testing::PrintToString(r.txt);
    }
    EXPECT_EQ(addresses["ldv0"], "192.0.2.1");
    EXPECT_EQ(addresses["ldv2"], "198.51.100.1");
    EXPECT_TRUE(wait_until([&] { return log_lines("DNS-SD: announced '" + name + "'") == 1; }))
        << hung("the log line saying so");

    // SIGTERM: withdrawn before looperd exits.
    const auto status = daemon_->terminate(kHangBound);
    EXPECT_TRUE(exited_with(status, 0)) << describe(status);
    EXPECT_EQ(log_lines("DNS-SD: withdrew '" + name + "'"), 1);
    EXPECT_TRUE(browse_until(name, [](const auto& f) { return f.empty(); }).empty())
        << hung("the withdrawal");
}

TEST_F(DnsSd, BoundToOneAddressOnlyItsInterfaceIsAnnounced) {
    ASSERT_NO_FATAL_FAILURE(start_avahi());
    const std::uint16_t port = pick_free_udp_port();
    const std::string name = "looperd ldv2 " + std::to_string(::getpid());
    // Not on loopback, so the test's OSC client cannot ping it: the announcement shows it up.
    daemon_ = std::make_unique<ChildProcess>(binary_, looperd_args(port, name, "198.51.100.1"),
                                             looperd_env_, (dir_ / "looperd.log").string());
    const auto found = browse_until(name, [](const auto& f) { return !f.empty(); });
    ASSERT_EQ(found.size(), 1U) << hung("the announcement");
    EXPECT_EQ(found[0].interface, "ldv2");
    EXPECT_EQ(found[0].address, "198.51.100.1");
    EXPECT_EQ(found[0].port, port);
    EXPECT_TRUE(wait_until([&] { return log_lines("on ldv2 (IPv4)") == 1; }))
        << hung("the log line naming ldv2");
    // Still only there once the announcement is established.
    EXPECT_EQ(named(name).size(), 1U);
}

TEST_F(DnsSd, WithoutAvahiDaemonItWarnsOnceAndAnnouncesWhenTheDaemonStartsAndRestarts) {
    const std::uint16_t port = pick_free_udp_port();
    const std::string name = "looperd late " + std::to_string(::getpid());
    ASSERT_NO_FATAL_FAILURE(
        launch_daemon(daemon_, osc_, port, looperd_args(port, name), looperd_env_));
    EXPECT_TRUE(wait_until([&] { return log_lines("avahi-daemon is not running") >= 1; }))
        << hung("the warning");
    EXPECT_EQ(log_lines("avahi-daemon is not running", "warning"), 1);
    EXPECT_EQ(log_lines("DNS-SD", "warning"), 1);

    // The daemon comes: looperd announces itself without being told.
    ASSERT_NO_FATAL_FAILURE(start_avahi());
    EXPECT_EQ(browse_until(name, [](const auto& f) { return f.size() == 2; }).size(), 2U)
        << hung("the announcement once avahi-daemon started");

    // The daemon restarts (a package upgrade): announced again.
    avahi_->terminate(kHangBound);
    EXPECT_TRUE(wait_until([&] { return log_lines("lost avahi-daemon") == 1; }))
        << hung("looperd noticing avahi-daemon's exit");
    ASSERT_NO_FATAL_FAILURE(start_avahi());
    EXPECT_EQ(browse_until(name, [](const auto& f) { return f.size() == 2; }).size(), 2U)
        << hung("the announcement after avahi-daemon's restart");
    EXPECT_TRUE(wait_until([&] { return log_lines("DNS-SD: announced '" + name + "'") == 2; }))
        << hung("the second announcement's log line");

    // It kept playing meanwhile.
    osc_->send(port, "/ping");
    EXPECT_TRUE(osc_->wait_for("/pong", kHangBound));
}

TEST_F(DnsSd, ANameTakenOnTheNetworkBecomesTheNextAlternative) {
    ASSERT_NO_FATAL_FAILURE(start_avahi());
    const std::string name = "looperd taken " + std::to_string(::getpid());
    // Another service already has the name.
    squatter_ = std::make_unique<ChildProcess>(
        programs_["AVAHI_PUBLISH"], std::vector<std::string>{"-s", name, "_osc._udp", "9"},
        std::vector<std::string>{bus_env()}, (dir_ / "avahi-publish.log").string());
    ASSERT_FALSE(browse_until(name, [](const auto& f) { return !f.empty(); }).empty())
        << hung("avahi-publish's announcement");

    const std::uint16_t port = pick_free_udp_port();
    ASSERT_NO_FATAL_FAILURE(
        launch_daemon(daemon_, osc_, port, looperd_args(port, name), looperd_env_));
    const auto found = browse_until(name + " #2", [](const auto& f) { return f.size() == 2; });
    ASSERT_EQ(found.size(), 2U) << hung("the announcement under the alternative name");
    EXPECT_EQ(found[0].port, port);
    EXPECT_EQ(log_lines("the name '" + name + "' is taken on the network: announcing as '" + name +
                            " #2'",
                        "warning"),
              1);
    // The other service keeps its own name and port.
    const auto other = named(name);
    ASSERT_FALSE(other.empty());
    EXPECT_EQ(other[0].port, 9);
}

TEST_F(DnsSd, WithoutDBusItWarnsOnceAndStillAnswersPing) {
    const std::uint16_t port = pick_free_udp_port();
    looperd_env_ = {"JACK_DEFAULT_SERVER=" + jack_->name(),
                    "DBUS_SYSTEM_BUS_ADDRESS=unix:path=" + (dir_ / "no-bus-here").string()};
    ASSERT_NO_FATAL_FAILURE(
        launch_daemon(daemon_, osc_, port, looperd_args(port, "looperd no bus"), looperd_env_));
    // It tries again every 5 s (at debug level): wait for a second try, then count warnings.
    EXPECT_TRUE(wait_until([&] { return log_lines("cannot reach D-Bus") >= 2; }))
        << hung("a second try");
    EXPECT_EQ(log_lines("cannot reach D-Bus", "warning"), 1);
    osc_->send(port, "/ping");
    EXPECT_TRUE(osc_->wait_for("/pong", kHangBound));
}

}  // namespace
}  // namespace looperd::test
