// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "io/udp_links.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace looperd {

namespace {

bool same(const OscEndpoint& a, const OscEndpoint& b) {
    return a.len == b.len && std::memcmp(&a.addr, &b.addr, a.len) == 0;
}

}  // namespace

UdpLinks::UdpLinks(std::size_t capacity) : capacity_(std::max<std::size_t>(capacity, 1)) {}

UdpLinks::~UdpLinks() {
    for (const auto& l : links_) ::close(l.fd);
}

std::size_t UdpLinks::size() const {
    std::lock_guard lock(mutex_);
    return links_.size();
}

UdpLinks::Link* UdpLinks::find(const OscEndpoint& to) {
    for (auto& l : links_)
        if (same(l.to, to)) return &l;
    return nullptr;
}

UdpLinks::Link* UdpLinks::open(const OscEndpoint& to) {
    const int fd = ::socket(to.addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return nullptr;
    // connect() on UDP sends nothing: it fixes the peer, so that the kernel reports its ICMP
    // errors on this socket.
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&to.addr), to.len) != 0) {
        ::close(fd);
        return nullptr;
    }
    if (links_.size() >= capacity_) {
        const auto oldest =
            std::min_element(links_.begin(), links_.end(),
                             [](const Link& a, const Link& b) { return a.used < b.used; });
        ::close(oldest->fd);
        links_.erase(oldest);
    }
    links_.push_back({to, fd, sends_});
    return &links_.back();
}

UdpLinks::Result UdpLinks::send(const OscEndpoint& to, std::span<const std::uint8_t> datagram) {
    std::lock_guard lock(mutex_);
    Link* link = find(to);
    if (link == nullptr) link = open(to);
    if (link == nullptr) return Result::failed;
    link->used = ++sends_;
    if (::send(link->fd, datagram.data(), datagram.size(), MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
        return Result::sent;
    if (errno != ECONNREFUSED) return Result::failed;
    // The kernel reported an earlier datagram's ICMP error, once, instead of sending this one:
    // send it now, so that a destination listening again (a --notify one, never dropped)
    // misses nothing.
    (void)::send(link->fd, datagram.data(), datagram.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    return Result::refused;
}

void UdpLinks::close(const OscEndpoint& to) {
    std::lock_guard lock(mutex_);
    const auto it =
        std::find_if(links_.begin(), links_.end(), [&to](const Link& l) { return same(l.to, to); });
    if (it == links_.end()) return;
    ::close(it->fd);
    links_.erase(it);
}

}  // namespace looperd
