// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "io/multicast_group.hpp"

namespace looperd {

std::optional<MulticastGroup> MulticastGroup::parse(std::string_view text, std::string& error) {
    const auto address = IpAddress::parse(text);
    if (!address) {
        error = "'" + std::string(text) + "' is not a numeric IPv4 or IPv6 address";
        return std::nullopt;
    }
    // IpAddress stores ::ffff:a.b.c.d as IPv4, so a v4-mapped group is checked as IPv4 too.
    const bool multicast = address->family == IpAddress::Family::v4
                               ? (address->bytes[0] & 0xF0U) == 0xE0U  // 224.0.0.0/4
                               : address->bytes[0] == 0xFFU;           // ff00::/8
    if (!multicast) {
        error = "'" + std::string(text) +
                "' is not a multicast group: expected an IPv4 address in 224.0.0.0/4 (such as "
                "239.1.2.3) or an IPv6 address in ff00::/8";
        return std::nullopt;
    }
    return MulticastGroup{*address};
}

bool MulticastGroup::needs_interface() const noexcept {
    if (address.family != IpAddress::Family::v6) return false;
    const unsigned scope = address.bytes[1] & 0x0FU;  // RFC 4291 2.7: the low 4 bits
    return scope == 1 || scope == 2;
}

}  // namespace looperd
