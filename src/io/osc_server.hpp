// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "io/multicast_group.hpp"
#include "io/osc_codec.hpp"

namespace looperd {

// A UDP peer: where a datagram came from, or where a reply goes.
struct OscEndpoint {
    sockaddr_storage addr{};
    socklen_t len = 0;

    std::string to_string() const;  // "127.0.0.1:9000", "[::1]:9000"
};

// OscServer: looperd's own UDP socket, bound to one address (liblo 0.31 can only bind to all
// interfaces), and with --osc-multicast a second one that receives a group on the same port.
// Owned by the network thread, which calls receive(); send() may be called from any thread:
// each sendto() of one datagram is atomic on a UDP socket. Replies always leave from the first
// socket, so a datagram that came through the group is answered to its sender alone.
class OscServer {
  public:
    // Binds `bind_host` (numeric IPv4 or IPv6, or "localhost") on `port` (0: any free port).
    // Throws std::runtime_error with a clear reason ("cannot bind 127.0.0.1:9000: Address
    // already in use").
    OscServer(const std::string& bind_host, std::uint16_t port);
    ~OscServer();
    OscServer(const OscServer&) = delete;
    OscServer& operator=(const OscServer&) = delete;

    std::uint16_t port() const noexcept { return port_; }

    // Main thread, once, before the network thread starts. Also receives what is sent to `group` on
    // port(), joined through interface `interface` (empty: the kernel's choice). A socket bound
    // to the wildcard address joins itself (a second one could not share its port); any other
    // gets a second socket bound to the group. Throws std::runtime_error with a clear reason
    // (no such interface, a link-local IPv6 group without one, the join refused).
    void join(const MulticastGroup& group, const std::string& interface);

    // Network thread. Waits up to timeout_ms for one datagram, on either socket. Returns false on
    // timeout. `packet` is resized to what arrived (datagrams over kMaxOscPacketBytes arrive
    // truncated and are flagged by `truncated`).
    bool receive(std::vector<std::uint8_t>& packet, OscEndpoint& from, bool& truncated,
                 int timeout_ms);

    // Any thread. Returns false if the datagram could not be sent.
    bool send(const OscEndpoint& to, const OscMessage& message) noexcept;
    // Any thread. One encoded datagram (a message or a bundle). Returns false if it could not
    // be sent.
    bool send_packet(const OscEndpoint& to, const std::vector<std::uint8_t>& datagram) noexcept;
    // Any thread. `messages` as bundles (timetag "immediately") of at most `max_bytes` each.
    // Returns false if any datagram could not be encoded or sent.
    bool send_bundle(const OscEndpoint& to, const std::vector<OscMessage>& messages,
                     std::size_t max_bytes) noexcept;

    // Parses "osc.udp://host:port/" (liblo's URL form) into an endpoint. Returns nullopt and
    // sets `error` when it is not a UDP URL or the host does not resolve.
    static std::optional<OscEndpoint> resolve_url(const std::string& url, std::string& error);

  private:
    int fd_ = -1;
    int group_fd_ = -1;         // -1: no group, or the group is joined on fd_
    bool group_first_ = false;  // which socket is read first when both have a datagram
    std::uint16_t port_ = 0;
};

}  // namespace looperd
