// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "frame_hub.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <queue>
#include <random>
#include <stdexcept>

namespace looperd::test {

namespace {

using HubClock = std::chrono::steady_clock;

struct Held {
    HubClock::time_point due;
    std::size_t from = 0;
    std::vector<std::uint8_t> frame;
    bool operator>(const Held& o) const { return due > o.due; }
};

// A sender's stack leaves the UDP checksum to the interface (veth offloads it); a frame taken
// off the wire here still lacks it, and the receiver's stack would drop it. IPv4 lets a UDP
// sender send none: clear it.
void clear_udp_checksum(std::vector<std::uint8_t>& f) {
    constexpr std::size_t kEth = 14;
    if (f.size() < kEth + 20 || f[12] != 0x08 || f[13] != 0x00) return;  // IPv4 only
    const std::size_t ihl = static_cast<std::size_t>(f[kEth] & 0x0F) * 4;
    const bool first_fragment = (f[kEth + 6] & 0x1F) == 0 && f[kEth + 7] == 0;
    if (f[kEth + 9] != IPPROTO_UDP || !first_fragment || f.size() < kEth + ihl + 8) return;
    f[kEth + ihl + 6] = 0;
    f[kEth + ihl + 7] = 0;
}

}  // namespace

FrameHub::FrameHub(const std::string& ns, const std::vector<std::string>& interfaces,
                   Impairment impairment)
    : impairment_(impairment) {
    NetnsLab::run_in(ns, [&] {
        for (const auto& name : interfaces) {
            const unsigned index = ::if_nametoindex(name.c_str());
            const int fd =
                ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL));
            if (index == 0 || fd < 0)
                throw std::runtime_error("frame hub: no port on " + name + ": " +
                                         std::strerror(errno));
            ports_.push_back(fd);
            sockaddr_ll at{};
            at.sll_family = AF_PACKET;
            at.sll_protocol = htons(ETH_P_ALL);
            at.sll_ifindex = static_cast<int>(index);
            packet_mreq promisc{};
            promisc.mr_ifindex = static_cast<int>(index);
            promisc.mr_type = PACKET_MR_PROMISC;
            const int one = 1;
            if (::bind(fd, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0 ||
                ::setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &promisc, sizeof promisc) !=
                    0 ||
                ::setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) != 0)
                throw std::runtime_error("frame hub: cannot open " + name + ": " +
                                         std::strerror(errno));
        }
    });
    if (::pipe2(wake_, O_CLOEXEC) != 0) throw std::runtime_error("frame hub: no pipe");
    thread_ = std::thread([this] { run(); });
}

FrameHub::~FrameHub() {
    if (thread_.joinable()) {
        const char stop = 1;
        (void)::write(wake_[1], &stop, 1);
        thread_.join();
    }
    for (const int fd : ports_) ::close(fd);
    for (const int fd : wake_)
        if (fd >= 0) ::close(fd);
}

void FrameHub::run() noexcept {
    std::priority_queue<Held, std::vector<Held>, std::greater<>> held;
    std::mt19937 rng(20808);  // fixed: a failing run loses the same frames again
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    const double jitter = static_cast<double>(impairment_.jitter.count());
    std::vector<pollfd> fds;
    for (const int fd : ports_) fds.push_back({fd, POLLIN, 0});
    fds.push_back({wake_[0], POLLIN, 0});
    std::vector<std::uint8_t> buffer(65536);
    for (;;) {
        timespec wait{0, 100'000'000};
        if (!held.empty()) {
            const auto left = std::max(held.top().due - HubClock::now(), HubClock::duration{0});
            const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
            wait = {static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
        }
        if (::ppoll(fds.data(), fds.size(), &wait, nullptr) < 0 && errno != EINTR) return;
        if ((fds.back().revents & POLLIN) != 0) return;
        for (std::size_t p = 0; p < ports_.size(); ++p) {
            if ((fds[p].revents & POLLIN) == 0) continue;
            for (;;) {
                sockaddr_ll from{};
                socklen_t len = sizeof from;
                const ssize_t n = ::recvfrom(ports_[p], buffer.data(), buffer.size(), 0,
                                             reinterpret_cast<sockaddr*>(&from), &len);
                if (n <= 0) break;
                if (from.sll_pkttype == PACKET_OUTGOING) continue;
                if (unit(rng) < impairment_.loss) {
                    dropped_.fetch_add(1, std::memory_order_relaxed);
                    continue;
                }
                const double micros = static_cast<double>(impairment_.delay.count()) +
                                      (2.0 * unit(rng) - 1.0) * jitter;
                Held h{HubClock::now() + std::chrono::microseconds(
                                             static_cast<std::int64_t>(std::max(0.0, micros))),
                       p,
                       {buffer.begin(), buffer.begin() + n}};
                clear_udp_checksum(h.frame);
                held.push(std::move(h));
            }
        }
        const auto now = HubClock::now();
        while (!held.empty() && held.top().due <= now) {
            const Held& h = held.top();
            for (std::size_t q = 0; q < ports_.size(); ++q)
                if (q != h.from) (void)::send(ports_[q], h.frame.data(), h.frame.size(), 0);
            forwarded_.fetch_add(1, std::memory_order_relaxed);
            held.pop();
        }
    }
}

}  // namespace looperd::test
