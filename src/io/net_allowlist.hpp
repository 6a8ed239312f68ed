// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace looperd {

// An IPv4 or IPv6 host address, without a port. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, what
// a dual-stack socket reports for IPv4 peers) are stored as IPv4, so that one IPv4 rule covers
// both ways an IPv4 peer can arrive.
struct IpAddress {
    enum class Family : std::uint8_t { v4, v6 };
    Family family = Family::v4;
    std::array<std::uint8_t, 16> bytes{};  // network order; IPv4 uses the first 4

    // Numeric text only ("10.0.0.7", "fe80::1"); no host names, no zone ids.
    static std::optional<IpAddress> parse(std::string_view text);
    // The host part of a socket address; nullopt for families other than AF_INET and AF_INET6.
    static std::optional<IpAddress> from_sockaddr(const sockaddr_storage& addr, socklen_t len);

    std::size_t bits() const noexcept { return family == Family::v4 ? 32 : 128; }
    std::string to_string() const;
    bool operator==(const IpAddress&) const = default;
};

// A network in CIDR notation: "192.168.1.0/24", "10.0.0.7" (/32), "::1/128", "fe80::/10".
struct IpNetwork {
    IpAddress base;  // host bits cleared
    std::uint8_t prefix = 0;

    // Host bits set in the text ("192.168.1.5/24") are ignored: that is the network
    // 192.168.1.0/24. Returns nullopt and sets `error` when the text is not a network.
    static std::optional<IpNetwork> parse(std::string_view text, std::string& error);

    bool contains(const IpAddress& address) const noexcept;
    std::string to_string() const;
    bool operator==(const IpNetwork&) const = default;
};

// NetAllowlist: which sources may talk to looperd (--osc-allow). Empty: every source is allowed.
// Built before the network thread starts and read-only after, so it needs no lock.
class NetAllowlist {
  public:
    NetAllowlist() = default;
    explicit NetAllowlist(std::vector<IpNetwork> networks) : networks_(std::move(networks)) {}

    bool empty() const noexcept { return networks_.empty(); }
    const std::vector<IpNetwork>& networks() const noexcept { return networks_; }

    // Whether `source` is inside one of the networks (or the list is empty). A source of an
    // unknown family (nullopt) is allowed only by an empty list.
    bool allows(const std::optional<IpAddress>& source) const noexcept;

  private:
    std::vector<IpNetwork> networks_;
};

}  // namespace looperd
