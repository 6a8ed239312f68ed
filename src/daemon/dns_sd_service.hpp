// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/options.hpp"
#include "io/net_allowlist.hpp"

// What looperd announces with DNS-SD, worked out from the options and the bound socket: the
// name, port, interface and TXT strings. Pure functions (the host name and the interfaces are
// arguments), so tests need no network and no avahi-daemon; DnsSdPublisher announces the result.
namespace looperd {

inline constexpr std::string_view kDnsSdServiceType = "_osc._udp";

// One address of one network interface (getifaddrs).
struct InterfaceAddress {
    std::string name;  // "eth0"
    unsigned index = 0;
    IpAddress address;
};

// Which IP families the announcement is made over (and so which addresses browsers resolve).
enum class DnsSdFamily : std::uint8_t { any, ipv4, ipv6 };

// DnsSdService: one announcement. Built by the main thread; handed to DnsSdPublisher.
struct DnsSdService {
    std::string name;              // "looperd on stage-pi"
    std::uint16_t port = 0;        // the OSC port as bound
    unsigned interface_index = 0;  // 0: every interface
    std::string interface_name;    // for the log; empty: every interface
    DnsSdFamily family = DnsSdFamily::any;
    std::vector<std::string> txt;  // "key=value" strings
    std::string warning;           // something the log should say; empty: nothing

    // "port 9950 on every interface (IPv4)", "port 9950 on eth0 (IPv6)": for the log.
    std::string where() const;
};

// "looperd on <host>": the host name's first label, the whole cut to kMaxDnsSdNameBytes at a
// UTF-8 character boundary. An empty host name gives "looperd".
std::string default_dns_sd_name(std::string_view host_name);

// The TXT strings: txtvers=1, version=<looperd's version>, slots=<n>, and how to get feedback:
// feedback=/notify (send /notify to subscribe), plus feedback-port=<p> with --feedback-port.
std::vector<std::string> dns_sd_txt(std::string_view version, const Options& options);

// What to announce for the OSC socket bound at `options.osc_bind` on `port`, or nullopt with
// the reason in `why_not` (DNS-SD off; a loopback address, which no other machine can reach).
// - 0.0.0.0: every interface, IPv4; "::" (dual-stack): every interface, both families.
// - a specific address: the interface that has it, in its family; when none is found (the
//   interface list could not be read), every interface in that family, and `warning` says so.
std::optional<DnsSdService> plan_dns_sd(const Options& options, std::uint16_t port,
                                        std::string_view version, std::string_view host_name,
                                        const std::vector<InterfaceAddress>& interfaces,
                                        std::string& why_not);

// The machine's host name (gethostname); empty if it cannot be read.
std::string local_host_name();

// Every address of every interface that is up. getifaddrs reads them over netlink; where that
// is not allowed (the systemd unit's RestrictAddressFamilies=), the IPv4 ones are read with
// SIOCGIFCONF on an AF_INET socket instead. Empty when neither works.
std::vector<InterfaceAddress> local_interface_addresses();

}  // namespace looperd
