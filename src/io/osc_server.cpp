// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

#include "io/osc_server.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string_view>
#include <system_error>

#include "io/multicast_socket.hpp"

namespace looperd {

namespace {

using AddrInfoPtr = std::unique_ptr<addrinfo, decltype(&freeaddrinfo)>;

// "host:port", with IPv6 literals in brackets so that the port stays readable.
std::string host_port(std::string_view host, std::string_view port) {
    std::string text;
    if (host.find(':') != std::string_view::npos) {
        text.append("[").append(host).append("]");
    } else {
        text.append(host);
    }
    text.append(":").append(port);
    return text;
}

std::string errno_text(int err) {
    return std::generic_category().message(err);
}

}  // namespace

std::string OscEndpoint::to_string() const {
    char host[INET6_ADDRSTRLEN] = {};
    if (addr.ss_family == AF_INET && len >= sizeof(sockaddr_in)) {
        sockaddr_in in{};
        std::memcpy(&in, &addr, sizeof(in));
        if (inet_ntop(AF_INET, &in.sin_addr, host, sizeof(host)) == nullptr) return "?";
        return host_port(host, std::to_string(ntohs(in.sin_port)));
    }
    if (addr.ss_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
        sockaddr_in6 in6{};
        std::memcpy(&in6, &addr, sizeof(in6));
        if (inet_ntop(AF_INET6, &in6.sin6_addr, host, sizeof(host)) == nullptr) return "?";
        return host_port(host, std::to_string(ntohs(in6.sin6_port)));
    }
    return "?";
}

OscServer::OscServer(const std::string& bind_host, std::uint16_t port) {
    const std::string service = std::to_string(port);
    const std::string where = "cannot bind " + host_port(bind_host, service) + ": ";

    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const int gai = getaddrinfo(bind_host.c_str(), service.c_str(), &hints, &found);
    if (gai != 0) throw std::runtime_error(where + gai_strerror(gai));
    const AddrInfoPtr results(found, &freeaddrinfo);

    // "localhost" may give ::1 and 127.0.0.1: the first one that binds wins.
    int err = EADDRNOTAVAIL;
    for (const addrinfo* ai = results.get(); ai != nullptr; ai = ai->ai_next) {
        const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        // No SO_REUSEADDR: a second daemon on the same port must fail, not share datagrams.
        if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            fd_ = fd;
            break;
        }
        err = errno;
        ::close(fd);
    }
    if (fd_ < 0) throw std::runtime_error(where + errno_text(err));

    // Port 0 asks the kernel for a free port; report the one it chose.
    sockaddr_storage bound{};
    socklen_t bound_len = sizeof(bound);
    if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&bound), &bound_len) != 0) {
        err = errno;
        ::close(fd_);
        fd_ = -1;
        throw std::runtime_error(where + errno_text(err));
    }
    if (bound.ss_family == AF_INET6) {
        port_ = ntohs(reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port);
    } else {
        port_ = ntohs(reinterpret_cast<const sockaddr_in*>(&bound)->sin_port);
    }
}

OscServer::~OscServer() {
    if (fd_ >= 0) ::close(fd_);
    if (group_fd_ >= 0) ::close(group_fd_);
}

namespace {

// Whether `fd` is bound to 0.0.0.0 or ::, where a multicast datagram to its port arrives too.
bool bound_to_wildcard(int fd) {
    sockaddr_storage bound{};
    socklen_t len = sizeof(bound);
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len) != 0) return false;
    if (bound.ss_family == AF_INET) {
        return reinterpret_cast<const sockaddr_in*>(&bound)->sin_addr.s_addr == htonl(INADDR_ANY);
    }
    if (bound.ss_family == AF_INET6) {
        const auto& in6 = reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_addr;
        return IN6_IS_ADDR_UNSPECIFIED(&in6);
    }
    return false;
}

int socket_family(int fd) {
    sockaddr_storage bound{};
    socklen_t len = sizeof(bound);
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len) != 0) return AF_UNSPEC;
    return bound.ss_family;
}

}  // namespace

void OscServer::join(const MulticastGroup& group, const std::string& interface) {
    const unsigned ifindex = interface.empty() ? 0 : interface_index(interface);
    if (ifindex == 0 && group.needs_interface()) {
        throw std::runtime_error("--osc-multicast " + group.to_string() +
                                 " is a link-local IPv6 group: name the interface it is on "
                                 "with --osc-multicast-interface");
    }
    // A wildcard-bound socket of the group's family (or a dual-stack one, for IPv4) already
    // hears the port's multicast; a second socket on the same port would need SO_REUSEADDR on
    // both, which would let a second daemon share the unicast port too.
    const int family = socket_family(fd_);
    const bool same_family =
        family == AF_INET6 || (family == AF_INET && group.address.family == IpAddress::Family::v4);
    if (bound_to_wildcard(fd_) && same_family) {
        join_multicast_group(fd_, group, ifindex);
        return;
    }
    group_fd_ = open_multicast_socket(group, port_, ifindex);
}

bool OscServer::receive(std::vector<std::uint8_t>& packet, OscEndpoint& from, bool& truncated,
                        int timeout_ms) {
    truncated = false;
    pollfd pfds[2] = {{fd_, POLLIN, 0}, {group_fd_, POLLIN, 0}};
    const nfds_t count = group_fd_ >= 0 ? 2 : 1;
    const int ready = ::poll(pfds, count, timeout_ms);
    if (ready < 0) {
        if (errno == EINTR) return false;
        throw std::runtime_error("poll on OSC socket: " + errno_text(errno));
    }
    if (ready == 0) return false;
    // Both sockets ready: take turns, so that a flood on one never starves the other.
    int fd = fd_;
    if (count == 2 && pfds[1].revents != 0 && (pfds[0].revents == 0 || group_first_)) {
        fd = group_fd_;
    }
    group_first_ = fd == fd_;

    // One byte more than the limit, and MSG_TRUNC for the real size: an oversized datagram is
    // flagged, never mistaken for a complete one. Resizing a reused vector does not allocate.
    packet.resize(kMaxOscPacketBytes + 1);
    from = OscEndpoint{};
    from.len = sizeof(from.addr);
    const ssize_t got = ::recvfrom(fd, packet.data(), packet.size(), MSG_TRUNC | MSG_DONTWAIT,
                                   reinterpret_cast<sockaddr*>(&from.addr), &from.len);
    if (got < 0) {
        const int err = errno;
        packet.clear();
        // Transient: a spurious wake-up, a signal, or a queued ICMP error from an earlier send.
        if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ECONNREFUSED) {
            return false;
        }
        throw std::runtime_error("recvfrom on OSC socket: " + errno_text(err));
    }
    const auto arrived = static_cast<std::size_t>(got);
    truncated = arrived > kMaxOscPacketBytes;
    packet.resize(std::min(arrived, packet.size()));
    return true;
}

bool OscServer::send(const OscEndpoint& to, const OscMessage& message) noexcept {
    try {
        return send_packet(to, encode_osc_message(message));
    } catch (...) {
        return false;
    }
}

bool OscServer::send_bundle(const OscEndpoint& to, const std::vector<OscMessage>& messages,
                            std::size_t max_bytes) noexcept {
    try {
        bool all = true;
        for (const auto& datagram : encode_osc_bundles(messages, max_bytes))
            all = send_packet(to, datagram) && all;
        return all;
    } catch (...) {
        return false;
    }
}

bool OscServer::send_packet(const OscEndpoint& to,
                            const std::vector<std::uint8_t>& datagram) noexcept {
    try {
        if (to.len == 0) return false;
        // MSG_DONTWAIT: a reply is dropped rather than stall the calling thread.
        ssize_t sent = ::sendto(fd_, datagram.data(), datagram.size(), MSG_DONTWAIT,
                                reinterpret_cast<const sockaddr*>(&to.addr), to.len);
        if (sent < 0 && (errno == EAFNOSUPPORT || errno == EINVAL) &&
            to.addr.ss_family == AF_INET) {
            // An IPv6 socket reaches IPv4 peers through v4-mapped addresses (::ffff:a.b.c.d);
            // resolve_url prefers IPv4, so this is the path for an IPv6-bound daemon.
            sockaddr_in in{};
            std::memcpy(&in, &to.addr, sizeof(in));
            sockaddr_in6 mapped{};
            mapped.sin6_family = AF_INET6;
            mapped.sin6_port = in.sin_port;
            mapped.sin6_addr.s6_addr[10] = 0xFF;
            mapped.sin6_addr.s6_addr[11] = 0xFF;
            std::memcpy(&mapped.sin6_addr.s6_addr[12], &in.sin_addr, 4);
            sent = ::sendto(fd_, datagram.data(), datagram.size(), MSG_DONTWAIT,
                            reinterpret_cast<const sockaddr*>(&mapped), sizeof(mapped));
        }
        return sent >= 0 && static_cast<std::size_t>(sent) == datagram.size();
    } catch (...) {
        return false;
    }
}

std::optional<OscEndpoint> OscServer::resolve_url(const std::string& url, std::string& error) {
    const auto fail = [&](const std::string& reason) -> std::optional<OscEndpoint> {
        error = "bad reply URL '" + url + "': " + reason;
        return std::nullopt;
    };

    // osc.<protocol>://<host>:<port>[/<path>]; IPv6 hosts are written in brackets.
    std::string_view rest = url;
    constexpr std::string_view kScheme = "osc.";
    if (!rest.starts_with(kScheme)) return fail("expected osc.udp://host:port/");
    rest.remove_prefix(kScheme.size());
    const std::size_t scheme_end = rest.find("://");
    if (scheme_end == std::string_view::npos) return fail("expected osc.udp://host:port/");
    const std::string_view protocol = rest.substr(0, scheme_end);
    if (protocol != "udp") return fail("protocol '" + std::string(protocol) + "' is not udp");
    rest.remove_prefix(scheme_end + 3);
    rest = rest.substr(0, rest.find('/'));  // the path, if any, plays no part in a reply

    std::string_view host;
    std::string_view port_text;
    if (rest.starts_with('[')) {
        const std::size_t close = rest.find(']');
        if (close == std::string_view::npos) return fail("unterminated '[' in host");
        host = rest.substr(1, close - 1);
        rest.remove_prefix(close + 1);
        if (!rest.starts_with(':')) return fail("missing port");
        port_text = rest.substr(1);
    } else {
        const std::size_t colon = rest.rfind(':');
        if (colon == std::string_view::npos) return fail("missing port");
        host = rest.substr(0, colon);
        port_text = rest.substr(colon + 1);
    }
    if (host.empty()) return fail("missing host");

    unsigned port = 0;
    const auto [end, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (port_text.empty() || ec != std::errc{} || end != port_text.data() + port_text.size() ||
        port < 1 || port > 65535) {
        return fail("port '" + std::string(port_text) + "' is not in 1..65535");
    }

    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const std::string host_str(host);
    const std::string port_str = std::to_string(port);
    const int gai = getaddrinfo(host_str.c_str(), port_str.c_str(), &hints, &found);
    if (gai != 0) return fail(gai_strerror(gai));
    const AddrInfoPtr results(found, &freeaddrinfo);

    // IPv4 first: send() maps it for an IPv6 socket, while an IPv4 socket cannot reach IPv6.
    const addrinfo* chosen = results.get();
    for (const addrinfo* ai = results.get(); ai != nullptr; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            chosen = ai;
            break;
        }
    }
    if (chosen == nullptr || chosen->ai_addrlen > sizeof(sockaddr_storage)) {
        return fail("no usable address");
    }
    OscEndpoint endpoint;
    std::memcpy(&endpoint.addr, chosen->ai_addr, chosen->ai_addrlen);
    endpoint.len = chosen->ai_addrlen;
    return endpoint;
}

}  // namespace looperd
