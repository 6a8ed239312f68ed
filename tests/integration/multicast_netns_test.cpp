// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// --osc-multicast across real network interfaces: three network namespaces made with `ip netns`,
// a sender's and two rigs', joined by a bridge (in the sender's namespace) over veth pairs,
// with addresses that exist only inside them (10.78.0.0/24, fd78::/64) and no default route, as
// on a stage LAN. The rigs run in their namespaces (`ip netns exec`) on the test's JACK server
// (its sockets are files, which every network namespace sees); the test sends from the
// sender's namespace through sockets a helper thread opens there. Needs root and `ip`; skips
// with the reason otherwise. Everything made is removed by name at the end, also on failure.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
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
        if (::geteuid() != 0) GTEST_SKIP() << "needs root to make network namespaces";
        const char* ip = std::getenv("IP");
        if (ip == nullptr || *ip == '\0')
            GTEST_SKIP() << "IP is not set: meson did not find `ip` (Debian: iproute2)";
        ip_ = ip;
        // Names of this process's own (two runs at once never meet), short enough for an
        // interface name (15 bytes).
        const std::string tag = "lm" + std::to_string(::getpid());
        sender_ = tag + "s";
        rigs_ns_ = {tag + "a", tag + "b"};
        bridge_ = tag + "br";
        start_jack("looperd-mcns-");
        if (IsSkipped() || HasFatalFailure()) return;

        // A namespace that cannot be made (a container without CAP_SYS_ADMIN, no /run/netns)
        // is a skip, not a failure: nothing of the machine is wrong.
        std::string why;
        if (!run(ip_, {"netns", "add", sender_}, why))
            GTEST_SKIP() << "`ip netns add` is not available here: " << why;
        for (const auto& ns : rigs_ns_) {
            ASSERT_TRUE(run(ip_, {"netns", "add", ns}, why)) << why;
        }
        // Snooping off: with no querier on this little network the bridge floods every group.
        ip_ok({"-n", sender_, "link", "add", bridge_, "type", "bridge", "mcast_snooping", "0"});
        ip_ok({"-n", sender_, "link", "set", "lo", "up"});
        ip_ok({"-n", sender_, "link", "set", bridge_, "up"});
        ip_ok({"-n", sender_, "addr", "add", "10.78.0.20/24", "dev", bridge_});
        ip_ok({"-n", sender_, "addr", "add", "fd78::20/64", "dev", bridge_, "nodad"});
        for (std::size_t k = 0; k < rigs_ns_.size(); ++k) {
            const std::string& ns = rigs_ns_[k];
            const std::string host = std::to_string(11 + k);  // rigs at .11 and .12
            ip_ok({"link", "add", ns, "netns", ns, "type", "veth", "peer", "name", ns + "h",
                   "netns", sender_});
            ip_ok({"-n", sender_, "link", "set", ns + "h", "master", bridge_});
            ip_ok({"-n", sender_, "link", "set", ns + "h", "up"});
            ip_ok({"-n", ns, "link", "set", "lo", "up"});
            ip_ok({"-n", ns, "link", "set", ns, "up"});
            ip_ok({"-n", ns, "addr", "add", "10.78.0." + host + "/24", "dev", ns});
            ip_ok({"-n", ns, "addr", "add", "fd78::" + host + "/64", "dev", ns, "nodad"});
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
        remove_namespaces();
        std::unique_ptr<ChildProcess> none;
        finish(none, false);
    }

    // Runs `program` to its end; false, with its output in `why`, unless it exits 0.
    bool run(const std::string& program, const std::vector<std::string>& args, std::string& why) {
        ChildProcess child(program, args, {}, (dir_ / "ip.log").string());
        const auto status = child.wait_exit(kHangBound);
        why = describe(status) + ": " + child.read_log();
        return exited_with(status, 0);
    }

    void ip_ok(const std::vector<std::string>& args) {
        std::string why;
        ASSERT_TRUE(run(ip_, args, why)) << "ip " << args[0] << " " << args[1] << " ...: " << why;
    }

    // Deleting a namespace deletes the interfaces in it; the other end of a veth pair goes with
    // its peer, and the bridge with the sender's namespace.
    void remove_namespaces() {
        if (ip_.empty()) return;
        for (const auto& ns : std::vector<std::string>{sender_, rigs_ns_[0], rigs_ns_[1]}) {
            if (!std::filesystem::exists("/run/netns/" + ns)) continue;
            std::string why;
            EXPECT_TRUE(run(ip_, {"netns", "del", ns}, why))
                << "ip netns del " << ns << ": " << why;
        }
    }

    // Starts rig `k` in its namespace, bound to `bind`, joined to `group` (through its veth when
    // `name_interface`); returns it without waiting (a rig that must fail is checked by exit).
    ChildProcess& start_rig(std::size_t k, const std::string& bind, const std::string& group,
                            bool name_interface = true, std::uint16_t port = 0) {
        const std::string name = "rig-" + std::to_string(rigs_.size());
        std::vector<std::string> args = {"netns", "exec", rigs_ns_[k], binary_};
        const auto common = daemon_args(port != 0 ? port : port_);
        args.insert(args.end(), common.begin(), common.end());
        args.insert(args.end(),
                    {"--osc-bind", bind, "--osc-multicast", group, "--client-name", name,
                     "--state-dir", (dir_ / name).string(), "--inputs", "0", "--no-dns-sd"});
        if (name_interface) args.insert(args.end(), {"--osc-multicast-interface", rigs_ns_[k]});
        rigs_.push_back(std::make_unique<ChildProcess>(
            ip_, args, std::vector<std::string>{"JACK_DEFAULT_SERVER=" + jack_->name()},
            (dir_ / (name + ".log")).string()));
        return *rigs_.back();
    }

    // Runs `open` on a thread that has entered the sender's namespace, so that the sockets it
    // opens belong there for good.
    template <typename Open>
    void in_sender_namespace(Open open) {
        std::string error;
        std::thread t([&] {
            const int ns = ::open(("/run/netns/" + sender_).c_str(), O_RDONLY | O_CLOEXEC);
            if (ns < 0 || ::setns(ns, CLONE_NEWNET) != 0) {
                error = std::string("cannot enter the sender's namespace: ") + std::strerror(errno);
            } else {
                try {
                    open();
                } catch (const std::exception& e) {
                    error = e.what();
                }
            }
            if (ns >= 0) ::close(ns);
        });
        t.join();
        ASSERT_TRUE(error.empty()) << error;
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

    std::string ip_;
    std::string sender_;
    std::vector<std::string> rigs_ns_;
    std::string bridge_;
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
        const unsigned bridge = ::if_nametoindex(bridge_.c_str());
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&self), sizeof self) != 0 ||
            ::setsockopt(fd_, IPPROTO_IPV6, IPV6_MULTICAST_IF, &bridge, sizeof bridge) != 0)
            throw std::runtime_error(std::string("the IPv6 sender: ") + std::strerror(errno));
    }));
    EXPECT_EQ(ping_v6_group("ff15::7709", 2), (std::set<std::string>{"fd78::11", "fd78::12"}));
}

}  // namespace
}  // namespace looperd::test
