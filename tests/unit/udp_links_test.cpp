// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// Feedback's connected sockets, against real UDP sockets on the loopback interface.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "io/udp_links.hpp"
#include "wait_until.hpp"

namespace {

using namespace looperd;

// A UDP socket bound to a free loopback port.
struct Listener {
    int fd = -1;
    OscEndpoint at;
    Listener() {
        fd = ::socket(AF_INET, SOCK_DGRAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        socklen_t len = sizeof a;
        EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
        std::memcpy(&at.addr, &a, sizeof a);
        at.len = sizeof a;
        bound_receive_wait();
    }
    // Listening again on a port that was closed: a surface come back.
    explicit Listener(const OscEndpoint& again) : at(again) {
        fd = ::socket(AF_INET, SOCK_DGRAM, 0);
        EXPECT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&at.addr), at.len), 0);
        bound_receive_wait();
    }
    ~Listener() { close(); }
    void close() {
        if (fd >= 0) ::close(fd);
        fd = -1;
    }
    // The size of the next datagram, or -1 if none comes within the bound.
    ssize_t receive() {
        std::vector<std::uint8_t> got(64);
        return ::recv(fd, got.data(), got.size(), 0);
    }
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;

  private:
    void bound_receive_wait() {
        timeval tv{5, 0};  // a receive never hangs the test
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
};

const std::vector<std::uint8_t> kDatagram{'/', 'p', 'i', 'n', 'g', 0, 0, 0, ',', 0, 0, 0};
const auto kDatagramSize = static_cast<ssize_t>(kDatagram.size());

// Sends to a closed port until a send reports the refusal. The ICMP answer to one datagram
// comes back before (or while) the next is sent: on loopback that is the second send.
bool send_until_refused(UdpLinks& links, const OscEndpoint& at) {
    return test::wait_until([&] { return links.send(at, kDatagram) == UdpLinks::Result::refused; });
}

TEST(UdpLinks, SendsThroughOneConnectedSocketPerDestination) {
    Listener a;
    Listener b;
    UdpLinks links;
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(links.send(a.at, kDatagram), UdpLinks::Result::sent);
        EXPECT_EQ(links.send(b.at, kDatagram), UdpLinks::Result::sent);
    }
    EXPECT_EQ(links.size(), 2U);
    std::vector<std::uint8_t> got(64);
    for (int i = 0; i < 3; ++i) {
        ASSERT_EQ(::recv(a.fd, got.data(), got.size(), 0), static_cast<ssize_t>(kDatagram.size()));
        ASSERT_EQ(::recv(b.fd, got.data(), got.size(), 0), static_cast<ssize_t>(kDatagram.size()));
    }
    got.resize(kDatagram.size());
    EXPECT_EQ(got, kDatagram);
}

// A surface that vanished: its host answers "port unreachable", which the next send reports.
TEST(UdpLinks, ReportsADestinationNothingListensOnAsRefused) {
    Listener gone;
    const OscEndpoint at = gone.at;
    gone.close();
    UdpLinks links;
    EXPECT_TRUE(send_until_refused(links, at)) << "no send was ever refused";
}

// A destination listening again (a --notify surface restarted) misses nothing: the datagram whose
// send reported the old refusal is sent after all.
TEST(UdpLinks, ARefusedSendStillDeliversToADestinationListeningAgain) {
    Listener gone;
    const OscEndpoint at = gone.at;
    gone.close();
    UdpLinks links;
    ASSERT_TRUE(send_until_refused(links, at)) << "no send was ever refused";
    // One more datagram to the dead port leaves its refusal pending (on loopback the ICMP
    // answer is back before send() returns)...
    (void)links.send(at, kDatagram);
    // ...and the port listens again.
    Listener back(at);
    (void)links.send(at, kDatagram);  // sent, refused or not
    EXPECT_EQ(back.receive(), kDatagramSize) << "the datagram was lost";
}

// A surface dropped for a refusal and back on its port later: its link was closed at the drop,
// so no refusal left over from the dead port is reported against the live one.
TEST(UdpLinks, AClosedLinkForgetsALeftOverRefusal) {
    Listener gone;
    const OscEndpoint at = gone.at;
    gone.close();
    UdpLinks links;
    ASSERT_TRUE(send_until_refused(links, at)) << "no send was ever refused";
    (void)links.send(at, kDatagram);  // its refusal is left pending on the socket
    links.close(at);
    EXPECT_EQ(links.size(), 0U);
    Listener back(at);
    EXPECT_EQ(links.send(at, kDatagram), UdpLinks::Result::sent);
    EXPECT_EQ(back.receive(), kDatagramSize);
}

TEST(UdpLinks, ClosesTheLeastRecentlyUsedSocketBeyondItsCapacity) {
    Listener a;
    Listener b;
    Listener c;
    UdpLinks links(2);
    EXPECT_EQ(links.send(a.at, kDatagram), UdpLinks::Result::sent);
    EXPECT_EQ(links.send(b.at, kDatagram), UdpLinks::Result::sent);
    EXPECT_EQ(links.send(a.at, kDatagram), UdpLinks::Result::sent);  // b is now the oldest
    EXPECT_EQ(links.send(c.at, kDatagram), UdpLinks::Result::sent);
    EXPECT_EQ(links.size(), 2U);
    links.close(c.at);
    EXPECT_EQ(links.size(), 1U);
    // A closed link opens again on demand.
    EXPECT_EQ(links.send(b.at, kDatagram), UdpLinks::Result::sent);
    EXPECT_EQ(links.size(), 2U);
}

}  // namespace
