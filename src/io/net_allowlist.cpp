// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "io/net_allowlist.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace looperd {

namespace {

constexpr std::array<std::uint8_t, 12> kV4MappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

IpAddress from_v6_bytes(const std::uint8_t* b) {
    IpAddress a;
    if (std::equal(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), b)) {
        a.family = IpAddress::Family::v4;
        std::copy(b + 12, b + 16, a.bytes.begin());
    } else {
        a.family = IpAddress::Family::v6;
        std::copy(b, b + 16, a.bytes.begin());
    }
    return a;
}

// Clears every bit after the first `prefix`.
void mask(IpAddress& a, std::size_t prefix) {
    for (std::size_t i = 0; i < a.bytes.size(); ++i) {
        const std::size_t first_bit = i * 8;
        if (first_bit >= prefix) {
            a.bytes[i] = 0;
        } else if (prefix - first_bit < 8) {
            a.bytes[i] &= static_cast<std::uint8_t>(0xFF00U >> (prefix - first_bit));
        }
    }
}

}  // namespace

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
    // inet_pton needs a terminated string; anything longer than an IPv6 literal is not one.
    char buffer[INET6_ADDRSTRLEN] = {};
    if (text.empty() || text.size() >= sizeof(buffer)) return std::nullopt;
    std::memcpy(buffer, text.data(), text.size());
    IpAddress a;
    if (inet_pton(AF_INET, buffer, a.bytes.data()) == 1) {
        a.family = Family::v4;
        return a;
    }
    std::uint8_t v6[16] = {};
    if (inet_pton(AF_INET6, buffer, v6) == 1) return from_v6_bytes(v6);
    return std::nullopt;
}

std::optional<IpAddress> IpAddress::from_sockaddr(const sockaddr_storage& addr, socklen_t len) {
    if (addr.ss_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
        sockaddr_in in{};
        std::memcpy(&in, &addr, sizeof(in));
        IpAddress a;
        a.family = Family::v4;
        std::memcpy(a.bytes.data(), &in.sin_addr, 4);
        return a;
    }
    if (addr.ss_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
        sockaddr_in6 in6{};
        std::memcpy(&in6, &addr, sizeof(in6));
        std::uint8_t b[16];
        std::memcpy(b, &in6.sin6_addr, 16);
        return from_v6_bytes(b);
    }
    return std::nullopt;
}

std::string IpAddress::to_string() const {
    char text[INET6_ADDRSTRLEN] = {};
    const int af = family == Family::v4 ? AF_INET : AF_INET6;
    if (inet_ntop(af, bytes.data(), text, sizeof(text)) == nullptr) return "?";
    return text;
}

std::optional<IpNetwork> IpNetwork::parse(std::string_view text, std::string& error) {
    const auto slash = text.find('/');
    const std::string_view host = text.substr(0, slash);
    auto address = IpAddress::parse(host);
    if (!address) {
        error = "'" + std::string(text) + "' is not an IPv4 or IPv6 address or network";
        return std::nullopt;
    }
    // The prefix counts bits of the address as written: 128 for "::ffff:10.0.0.0/104".
    const std::size_t text_bits = host.find(':') != std::string_view::npos ? 128 : 32;
    std::size_t prefix = text_bits;
    if (slash != std::string_view::npos) {
        const std::string_view digits = text.substr(slash + 1);
        std::size_t v = 0;
        const auto* end = digits.data() + digits.size();
        auto [ptr, ec] = std::from_chars(digits.data(), end, v);
        if (digits.empty() || digits.size() > 3 || ec != std::errc{} || ptr != end ||
            v > text_bits) {
            error = "'" + std::string(text) + "': the prefix length must be 0 to " +
                    std::to_string(text_bits);
            return std::nullopt;
        }
        prefix = v;
    }
    // An IPv4-mapped network is stored as IPv4: its prefix counts IPv4 bits from then on.
    if (address->family == IpAddress::Family::v4 && text_bits == 128) {
        if (prefix < 96) {
            error = "'" + std::string(text) +
                    "': an IPv4-mapped network needs a prefix length of 96 or more";
            return std::nullopt;
        }
        prefix -= 96;
    }
    IpNetwork n;
    n.base = *address;
    n.prefix = static_cast<std::uint8_t>(prefix);
    mask(n.base, prefix);
    return n;
}

bool IpNetwork::contains(const IpAddress& address) const noexcept {
    if (address.family != base.family) return false;
    IpAddress masked = address;
    mask(masked, prefix);
    return masked == base;
}

std::string IpNetwork::to_string() const {
    return base.to_string() + "/" + std::to_string(prefix);
}

bool NetAllowlist::allows(const std::optional<IpAddress>& source) const noexcept {
    if (networks_.empty()) return true;
    if (!source) return false;
    return std::any_of(networks_.begin(), networks_.end(),
                       [&source](const IpNetwork& n) { return n.contains(*source); });
}

}  // namespace looperd
