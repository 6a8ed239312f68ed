// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "io/net_allowlist.hpp"

namespace looperd {

// MulticastGroup: the group --osc-multicast joins, an IPv4 address in 224.0.0.0/4 or an IPv6
// one in ff00::/8. Constant once parsed; any thread.
struct MulticastGroup {
    IpAddress address;

    // Numeric text only ("239.1.2.3", "ff15::1234"). Returns nullopt and sets `error` saying
    // why when the text is not an address or not a multicast one.
    static std::optional<MulticastGroup> parse(std::string_view text, std::string& error);

    // IPv6 groups of interface-local or link-local scope (ff01::/16, ff02::/16, and the same
    // with flags set) mean something only on one interface, so they need one to be named.
    bool needs_interface() const noexcept;
    std::string to_string() const { return address.to_string(); }
    bool operator==(const MulticastGroup&) const = default;
};

}  // namespace looperd
