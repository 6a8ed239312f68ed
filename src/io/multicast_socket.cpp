// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "io/multicast_socket.hpp"

#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace looperd {

namespace {

[[noreturn]] void fail(const std::string& what, int err) {
    throw std::runtime_error(what + ": " + std::generic_category().message(err));
}

// A join the kernel had to route itself fails with ENODEV when no route leads to the group:
// the usual case on a stage LAN with no default route, which naming the interface solves.
[[noreturn]] void fail(const std::string& what, int err, unsigned ifindex) {
    if (err == ENODEV && ifindex == 0) {
        throw std::runtime_error(what + ": no route to the group (a network with no default " +
                                 "route?): name the interface with --osc-multicast-interface");
    }
    fail(what, err);
}

}  // namespace

unsigned interface_index(const std::string& name) {
    const unsigned index = name.size() < IF_NAMESIZE ? ::if_nametoindex(name.c_str()) : 0;
    if (index == 0)
        throw std::runtime_error("--osc-multicast-interface: no network interface named '" + name +
                                 "' (ip link lists them)");
    return index;
}

void join_multicast_group(int fd, const MulticastGroup& group, unsigned ifindex) {
    const std::string where = "cannot join multicast group " + group.to_string();
    if (group.address.family == IpAddress::Family::v4) {
        // ip_mreqn, not ip_mreq: it names the interface by index, which a stage LAN without
        // a default route needs, and an interface without an IPv4 address still has.
        ip_mreqn request{};
        std::memcpy(&request.imr_multiaddr, group.address.bytes.data(), 4);
        request.imr_address.s_addr = htonl(INADDR_ANY);
        request.imr_ifindex = static_cast<int>(ifindex);
        if (::setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &request, sizeof(request)) != 0)
            fail(where, errno, ifindex);
        // Only this group's datagrams: by default Linux also delivers, to a socket bound to the
        // wildcard address, the groups other programs on the machine joined.
        const int off = 0;
        ::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &off, sizeof(off));
        return;
    }
    ipv6_mreq request{};
    std::memcpy(&request.ipv6mr_multiaddr, group.address.bytes.data(), 16);
    request.ipv6mr_interface = ifindex;
    if (::setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &request, sizeof(request)) != 0)
        fail(where, errno, ifindex);
}

int open_multicast_socket(const MulticastGroup& group, std::uint16_t port, unsigned ifindex) {
    const bool v4 = group.address.family == IpAddress::Family::v4;
    const std::string where = "cannot bind multicast group " +
                              (v4 ? group.to_string() : "[" + group.to_string() + "]") + ":" +
                              std::to_string(port);
    const int fd = ::socket(v4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fail(where, errno);
    try {
        const int on = 1;
        if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0) fail(where, errno);
        // Bound to the group itself, not the wildcard: no clash with the unicast socket's
        // --osc-bind address on the same port, and nothing but the group's datagrams.
        int bound = 0;
        if (v4) {
            sockaddr_in in{};
            in.sin_family = AF_INET;
            in.sin_port = htons(port);
            std::memcpy(&in.sin_addr, group.address.bytes.data(), 4);
            bound = ::bind(fd, reinterpret_cast<const sockaddr*>(&in), sizeof(in));
        } else {
            sockaddr_in6 in6{};
            in6.sin6_family = AF_INET6;
            in6.sin6_port = htons(port);
            std::memcpy(&in6.sin6_addr, group.address.bytes.data(), 16);
            // A link-local group exists once per link: the kernel needs to know which.
            if (group.needs_interface()) in6.sin6_scope_id = ifindex;
            bound = ::bind(fd, reinterpret_cast<const sockaddr*>(&in6), sizeof(in6));
        }
        if (bound != 0) fail(where, errno);
        join_multicast_group(fd, group, ifindex);
    } catch (...) {
        ::close(fd);
        throw;
    }
    return fd;
}

}  // namespace looperd
