// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// --osc-multicast against real daemons on one JACK server: two rigs on this machine, each bound
// to its own loopback address on the same port and joined to one group on `lo`, the way rigs on
// a stage LAN share a port and a group. Multicast on loopback needs no network: the sender sets
// IP_MULTICAST_IF to its loopback address and the members join on lo.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fixtures.hpp"
#include "jack_server.hpp"
#include "osc_client.hpp"

namespace looperd::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Administratively scoped (RFC 2365): never routed off the site, and here never off lo.
constexpr const char* kGroup = "239.77.0.1";

class Multicast : public IntegrationTest {
  protected:
    struct Rig {
        std::string ip;  // the rig's own --osc-bind address
        std::unique_ptr<ChildProcess> daemon;
    };

    void SetUp() override {
        start_jack("looperd-mc-");
        if (IsSkipped() || HasFatalFailure()) return;
        port_ = pick_free_udp_port();
        osc_ = std::make_unique<OscClient>();
    }

    void TearDown() override {
        for (auto& rig : rigs_) {
            if (!rig.daemon) continue;
            const auto status = rig.daemon->terminate(kHangBound);
            EXPECT_TRUE(exited_with(status, 0))
                << "rig " << rig.ip << " on SIGTERM: " << describe(status);
            if (HasFailure())
                std::cerr << "---- looperd log, rig " << rig.ip << " ----\n"
                          << rig.daemon->read_log();
            rig.daemon.reset();
        }
        std::unique_ptr<ChildProcess> none;
        finish(none, false, [this](std::ostream& out) { report_skipped(out, osc_.get()); });
    }

    // Starts a rig bound to `ip` on the test's port, joined to kGroup on lo, with its own JACK
    // client name, state directory and log; waits for its /pong by unicast.
    void start_rig(const std::string& ip, const std::vector<std::string>& extra = {}) {
        const std::string name = "rig-" + std::to_string(rigs_.size());
        std::vector<std::string> args = daemon_args(port_);
        args.insert(args.end(), {"--osc-bind", ip, "--osc-multicast", kGroup,
                                 "--osc-multicast-interface", "lo", "--client-name", name,
                                 "--state-dir", (dir_ / name).string(), "--inputs", "0"});
        args.insert(args.end(), extra.begin(), extra.end());
        Rig rig{ip,
                std::make_unique<ChildProcess>(
                    binary_, args, std::vector<std::string>{"JACK_DEFAULT_SERVER=" + jack_->name()},
                    (dir_ / (name + ".log")).string())};
        const auto deadline = Clock::now() + kHangBound;
        for (;;) {
            ASSERT_TRUE(rig.daemon->running())
                << "rig " << ip << " exited during startup: " << describe(rig.daemon->status())
                << "\n"
                << rig.daemon->read_log();
            osc_->send_to(ip, port_, "/ping");
            if (osc_->wait_for("/pong", 100ms)) break;
            ASSERT_LT(Clock::now(), deadline) << "rig " << ip << " never answered /ping";
        }
        osc_->drain();
        rigs_.push_back(std::move(rig));
    }

    // How many messages at `address` arrive within `window` (after the first within kHangBound).
    int count_replies(OscClient& client, const std::string& address,
                      std::chrono::milliseconds window) {
        if (!client.wait_for(address, kHangBound)) return 0;
        int n = 1;
        const auto end = Clock::now() + window;
        while (Clock::now() < end) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
            if (client.wait_for(address, left)) ++n;
        }
        return n;
    }

    std::map<std::string, OscValue> reply_pairs(const std::string& ip, const std::string& address,
                                                const std::string& reply) {
        osc_->send_to(ip, port_, address);
        const auto got = osc_->wait_for(reply, kHangBound);
        if (!got) throw std::runtime_error("no " + reply + " from " + ip);
        return status_pairs(*got);  // key/value pairs, like /status.reply
    }

    double gain_of(const std::string& ip, int n) {
        return reply_pairs(ip, slot(n, "info"), slot(n, "info.reply")).at("gain").number();
    }

    std::map<std::string, OscValue> status_of(const std::string& ip) {
        return reply_pairs(ip, "/status", "/status.reply");
    }

    std::uint16_t port_ = 0;
    std::unique_ptr<OscClient> osc_;
    std::vector<Rig> rigs_;
};

TEST_F(Multicast, OneMessageToTheGroupReachesEveryRigAndEachAnswersTheSender) {
    ASSERT_NO_FATAL_FAILURE(start_rig("127.0.0.1"));
    ASSERT_NO_FATAL_FAILURE(start_rig("127.0.0.3"));

    // One /ping to the group: one /pong from each rig, to the sender's own port.
    osc_->send_to(kGroup, port_, "/ping");
    EXPECT_EQ(count_replies(*osc_, "/pong", 500ms), 2);

    // Each rig acts on a message sent to the group...
    osc_->send_to(kGroup, port_, slot(0, "gain"), {osc_float(0.5F)});
    // ...and on a timetagged bundle ("immediately") sent to it.
    osc_->send_bundle_to(
        kGroup, port_, 1,
        {OscMsg{slot(1, "gain"), {osc_float(0.25F)}}, OscMsg{slot(2, "gain"), {osc_float(2.0F)}}});
    for (const auto& rig : rigs_) {
        const auto deadline = Clock::now() + kHangBound;
        while (gain_of(rig.ip, 2) != 2.0 && Clock::now() < deadline)
            std::this_thread::sleep_for(20ms);
        EXPECT_EQ(gain_of(rig.ip, 0), 0.5) << rig.ip;
        EXPECT_EQ(gain_of(rig.ip, 1), 0.25) << rig.ip;
        EXPECT_EQ(gain_of(rig.ip, 2), 2.0) << rig.ip;
    }

    // A bad message through the group: an /error from each rig, to the sender alone.
    osc_->send_to(kGroup, port_, slot(0, "gain"), {osc_string("loud")});
    EXPECT_EQ(count_replies(*osc_, "/error", 500ms), 2);
    for (const auto& rig : rigs_) EXPECT_TRUE(rig.daemon->running()) << rig.ip;
}

TEST_F(Multicast, ASourceOutsideTheAllowlistIsDroppedAndCountedAsOnUnicast) {
    ASSERT_NO_FATAL_FAILURE(start_rig("127.0.0.1", {"--osc-allow", "127.0.0.1/32"}));
    const std::string ip = rigs_[0].ip;

    OscClient outsider("127.0.0.2");
    for (int i = 0; i < 5; ++i) outsider.send_to(kGroup, port_, "/ping");
    outsider.send_to(kGroup, port_, "/nope");  // not even an /error goes back
    EXPECT_FALSE(outsider.wait_for("/pong", 500ms)) << "a host outside the allowlist got /pong";
    EXPECT_FALSE(outsider.wait_for("/error", 100ms)) << "a host outside the allowlist got /error";
    double dropped = 0;
    for (const auto deadline = Clock::now() + kHangBound; Clock::now() < deadline;) {
        dropped = status_of(ip).at("dropped_not_allowed").number();
        if (dropped >= 6) break;
        std::this_thread::sleep_for(20ms);
    }
    EXPECT_EQ(dropped, 6);
    EXPECT_NE(rigs_[0].daemon->read_log().find("dropping datagrams from 127.0.0.2"),
              std::string::npos)
        << "the drop was not logged";

    // A source inside the allowlist is served through the group as before.
    osc_->send_to(kGroup, port_, "/ping");
    EXPECT_TRUE(osc_->wait_for("/pong", kHangBound));
}

TEST_F(Multicast, ANoisySourceOnTheGroupIsRateLimitedAndAQuietOneIsNot) {
    ASSERT_NO_FATAL_FAILURE(start_rig("127.0.0.1", {"--osc-rate", "50", "--osc-burst", "20"}));
    const std::string ip = rigs_[0].ip;

    OscClient noisy("127.0.0.2");
    const auto begin = Clock::now();
    int quiet_pongs = 0;
    for (int round = 0; round < 5; ++round) {
        for (int i = 0; i < 100; ++i) noisy.send_to(kGroup, port_, "/ping");
        osc_->send_to(kGroup, port_, "/ping");
        if (osc_->wait_for("/pong", kHangBound)) ++quiet_pongs;
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_EQ(quiet_pongs, 5) << "the quiet source lost commands to the noisy one";
    const double dropped = status_of(ip).at("dropped_rate_limited").number();
    const double seconds = std::chrono::duration<double>(Clock::now() - begin).count();
    EXPECT_GE(dropped, 500.0 - (20.0 + 50.0 * seconds))
        << "more than the burst and 50/s got through in " << seconds << " s";
    EXPECT_LE(dropped, 500.0);
}

// Start-up refusals need no JACK server: the group is checked with the options, the interface
// when the socket joins (before JACK).
class MulticastStartup : public ::testing::Test {};

TEST_F(MulticastStartup, ANonMulticastGroupOrAMissingInterfaceStopsTheStartWithAClearMessage) {
    const char* binary = std::getenv("LOOPERD_BINARY");
    if (binary == nullptr || *binary == '\0') GTEST_SKIP() << "LOOPERD_BINARY is not set";
    const char* tmp = std::getenv("TMPDIR");
    std::string dir = std::string(tmp && *tmp ? tmp : "/tmp") + "/looperd-mc-start-XXXXXX";
    ASSERT_NE(::mkdtemp(dir.data()), nullptr);
    const std::string port = std::to_string(pick_free_udp_port());
    struct Case {
        std::vector<std::string> args;
        int code;
        std::string says;
    };
    const std::vector<Case> cases = {
        {{"--osc-multicast", "192.168.1.10"},
         2,
         "--osc-multicast: '192.168.1.10' is not a multicast group"},
        {{"--osc-multicast", "239.1.2.3", "--osc-multicast-interface", "looperd-none0"},
         1,
         "no network interface named 'looperd-none0'"},
        {{"--osc-multicast", "ff02::1234"}, 1, "name the interface it is on"},
    };
    for (const auto& c : cases) {
        std::vector<std::string> args = {"--osc-port", port, "--no-state", "--no-dns-sd"};
        args.insert(args.end(), c.args.begin(), c.args.end());
        ChildProcess child(binary, args, {"XDG_CONFIG_HOME=" + dir}, dir + "/out.log");
        const auto status = child.wait_exit(kHangBound);
        EXPECT_TRUE(exited_with(status, c.code)) << c.args[1] << ": " << describe(status) << "\n"
                                                 << child.read_log();
        EXPECT_NE(child.read_log().find(c.says), std::string::npos) << child.read_log();
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
}

}  // namespace
}  // namespace looperd::test
