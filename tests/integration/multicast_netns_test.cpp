// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// --osc-multicast across real network interfaces: three network namespaces (NetnsLab), a
// sender's (the hub, with the bridge) and two rigs', joined over veth pairs, with addresses that
// exist only inside them (10.78.0.0/24, fd78::/64) and no default route, as on a stage LAN. The
// rigs run in their namespaces (`ip netns exec`) on the test's JACK server (its sockets are
// files, which every network namespace sees); the test sends from the sender's namespace
// through sockets a helper thread opens there. Needs root and `ip`; skips with the reason
// otherwise. Everything made is removed by name at the end, also on failure.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fixtures.hpp"
#include "jack_server.hpp"
#include "netns_lab.hpp"
#include "osc_client.hpp"

namespace looperd::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// /ping with no arguments, as OSC encodes it.
const std::vector<std::uint8_t> kPing = {'/', 'p', 'i', 'n', 'g', 0, 0, 0, ',', 0, 0, 0};

class MulticastAcrossNamespaces : public IntegrationTest {
  protected:
    void SetUp() override {
        start_jack("looperd-mcns-");
        if (IsSkipped() || HasFatalFailure()) return;
        NetnsLab::Options options;
        // Names of this process's own (two runs at once never meet).
        options.tag = "lm" + std::to_string(::getpid());
        options.members = 2;  // rigs at .11 and .12; the sender is the hub, at .20
        options.net = 78;
        options.hub_host = 20;
        options.ipv6 = true;
        options.log_dir = dir_;
        try {
            lab_ = std::make_unique<NetnsLab>(options);
        } catch (const NetnsUnavailable& e) {
            GTEST_SKIP() << e.what();
        } catch (const std::exception& e) {
            FAIL() << e.what();
        }
        port_ = pick_free_udp_port();
    }

    void TearDown() override {
        for (auto& rig : rigs_) {
            const auto status = rig->terminate(kHangBound);
            EXPECT_TRUE(exited_with(status, 0)) << "rig on SIGTERM: " << describe(status);
            if (HasFailure())
                std::cerr << "---- " << rig->log_path() << " ----\n" << rig->read_log();
        }
        rigs_.clear();
        if (fd_ >= 0) ::close(fd_);
        sender_client_.reset();
        lab_.reset();
        std::unique_ptr<ChildProcess> none;
        finish(none, false);
    }

    // Starts rig `k` in its namespace, bound to `bind`, joined to `group` (through its veth when
    // `name_interface`); returns it without waiting (a rig that must fail is checked by exit).
    ChildProcess& start_rig(std::size_t k, const std::string& bind, const std::string& group,
                            bool name_interface = true, std::uint16_t port = 0) {
        const std::string name = "rig-" + std::to_string(rigs_.size());
        std::vector<std::string> args = {"netns", "exec", lab_->member(k), binary_};
        const auto common = daemon_args(port != 0 ? port : port_);
        args.insert(args.end(), common.begin(), common.end());
        args.insert(args.end(),
                    {"--osc-bind", bind, "--osc-multicast", group, "--client-name", name,
                     "--state-dir", (dir_ / name).string(), "--inputs", "0", "--no-dns-sd"});
        if (name_interface)
            args.insert(args.end(), {"--osc-multicast-interface", lab_->interface(k)});
        rigs_.push_back(std::make_unique<ChildProcess>(
            NetnsLab::ip_program(), args,
            std::vector<std::string>{"JACK_DEFAULT_SERVER=" + jack_->name()},
            (dir_ / (name + ".log")).string()));
        return *rigs_.back();
    }

    // Runs `open` on a thread that has entered the sender's namespace (the hub), so that the
    // sockets it opens belong there for good.
    template <typename Open>
    void in_sender_namespace(Open open) {
        try {
            NetnsLab::run_in(lab_->hub(), open);
        } catch (const std::exception& e) {
            FAIL() << e.what();
        }
    }

    // Sends /ping to the IPv6 `group` from the sender's bridge address until every one of
    // `rigs` has answered /pong, or kHangBound passes. Returns who answered.
    std::set<std::string> ping_v6_group(const std::string& group, std::size_t rigs) {
        sockaddr_in6 to{};
        to.sin6_family = AF_INET6;
        to.sin6_port = htons(port_);
        ::inet_pton(AF_INET6, group.c_str(), &to.sin6_addr);
        std::set<std::string> answered;
        const auto deadline = Clock::now() + kHangBound;
        while (answered.size() < rigs && Clock::now() < deadline) {
            ::sendto(fd_, kPing.data(), kPing.size(), 0, reinterpret_cast<sockaddr*>(&to),
                     sizeof to);
            pollfd p{fd_, POLLIN, 0};
            while (::poll(&p, 1, 200) > 0) {
                std::uint8_t reply[1500];
                sockaddr_in6 from{};
                socklen_t len = sizeof from;
                const ssize_t n = ::recvfrom(fd_, reply, sizeof reply, 0,
                                             reinterpret_cast<sockaddr*>(&from), &len);
                char host[INET6_ADDRSTRLEN] = {};
                ::inet_ntop(AF_INET6, &from.sin6_addr, host, sizeof host);
                if (n >= 5 && std::memcmp(reply, "/pong", 5) == 0) answered.insert(host);
            }
        }
        return answered;
    }

    std::unique_ptr<NetnsLab> lab_;
    std::uint16_t port_ = 0;
    std::vector<std::unique_ptr<ChildProcess>> rigs_;
    std::unique_ptr<OscClient> sender_client_;
    int fd_ = -1;
};

// Waits for `rig`'s log to say it joined (or for it to exit); fails the test otherwise.
void wait_joined(ChildProcess& rig) {
    const auto deadline = Clock::now() + kHangBound;
    while (rig.read_log().find(" ready: ") == std::string::npos) {
        ASSERT_TRUE(rig.running()) << "rig exited: " << describe(rig.status()) << "\n"
                                   << rig.read_log();
        ASSERT_LT(Clock::now(), deadline) << "rig not ready:\n" << rig.read_log();
        std::this_thread::sleep_for(50ms);
    }
}

TEST_F(MulticastAcrossNamespaces, IPv4RigsWithNoDefaultRouteJoinThroughTheNamedInterface) {
    // One rig bound to the wildcard address (it joins on its own socket), one bound to its LAN
    // address (a second socket bound to the group).
    ASSERT_NO_FATAL_FAILURE(wait_joined(start_rig(0, "0.0.0.0", "239.77.0.9")));
    ASSERT_NO_FATAL_FAILURE(wait_joined(start_rig(1, "10.78.0.12", "239.77.0.9")));
    ASSERT_NO_FATAL_FAILURE(in_sender_namespace(
        [this] { sender_client_ = std::make_unique<OscClient>("10.78.0.20"); }));

    // One /ping to the group over the bridge: one /pong from each rig, back to the sender.
    int pongs = 0;
    for (const auto deadline = Clock::now() + kHangBound; pongs < 2 && Clock::now() < deadline;) {
        sender_client_->drain();
        sender_client_->send_to("239.77.0.9", port_, "/ping");
        pongs = 0;
        while (sender_client_->wait_for("/pong", 300ms)) ++pongs;
    }
    EXPECT_EQ(pongs, 2);

    // Without the interface, a network with no default route has no route for the group: the
    // start fails and says what to do.
    ChildProcess& lost = start_rig(0, "10.78.0.11", "239.77.0.9", false, pick_free_udp_port());
    const auto status = lost.wait_exit(kHangBound);
    EXPECT_TRUE(exited_with(status, 1)) << describe(status) << "\n" << lost.read_log();
    EXPECT_NE(lost.read_log().find("no route to the group"), std::string::npos) << lost.read_log();
    EXPECT_NE(lost.read_log().find("--osc-multicast-interface"), std::string::npos);
    rigs_.pop_back();
}

TEST_F(MulticastAcrossNamespaces, IPv6RigsAnswerAPingToTheirGroupEachFromItsOwnAddress) {
    ASSERT_NO_FATAL_FAILURE(wait_joined(start_rig(0, "::", "ff15::7709")));
    ASSERT_NO_FATAL_FAILURE(wait_joined(start_rig(1, "fd78::12", "ff15::7709")));
    ASSERT_NO_FATAL_FAILURE(in_sender_namespace([this] {
        fd_ = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_in6 self{};
        self.sin6_family = AF_INET6;
        ::inet_pton(AF_INET6, "fd78::20", &self.sin6_addr);
        const unsigned bridge = ::if_nametoindex(lab_->bridge().c_str());
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&self), sizeof self) != 0 ||
            ::setsockopt(fd_, IPPROTO_IPV6, IPV6_MULTICAST_IF, &bridge, sizeof bridge) != 0)
            throw std::runtime_error(std::string("the IPv6 sender: ") + std::strerror(errno));
    }));
    EXPECT_EQ(ping_v6_group("ff15::7709", 2), (std::set<std::string>{"fd78::11", "fd78::12"}));
}

}  // namespace
}  // namespace looperd::test
