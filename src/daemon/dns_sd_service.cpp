// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "daemon/dns_sd_service.hpp"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>

namespace looperd {

namespace {

bool is_loopback(const IpAddress& a) {
    if (a.family == IpAddress::Family::v4) return a.bytes[0] == 127;
    static constexpr std::array<std::uint8_t, 16> kLoopback6{0, 0, 0, 0, 0, 0, 0, 0,
                                                             0, 0, 0, 0, 0, 0, 0, 1};
    return a.bytes == kLoopback6;
}

bool is_any(const IpAddress& a) {
    const auto n = a.bits() / 8;
    return std::all_of(a.bytes.begin(), a.bytes.begin() + static_cast<std::ptrdiff_t>(n),
                       [](std::uint8_t b) { return b == 0; });
}

// The longest prefix of `text` of at most `max` bytes that does not split a UTF-8 character.
std::string_view utf8_prefix(std::string_view text, std::size_t max) {
    if (text.size() <= max) return text;
    std::size_t end = max;
    // Continuation bytes are 10xxxxxx: step back to the start of the character they belong to.
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0U) == 0x80U) --end;
    return text.substr(0, end);
}

DnsSdFamily family_of(const IpAddress& a) {
    return a.family == IpAddress::Family::v4 ? DnsSdFamily::ipv4 : DnsSdFamily::ipv6;
}

}  // namespace

std::string DnsSdService::where() const {
    std::string out = "port " + std::to_string(port) + " on " +
                      (interface_name.empty() ? std::string("every interface") : interface_name);
    switch (family) {
        case DnsSdFamily::any:
            return out + " (IPv4 and IPv6)";
        case DnsSdFamily::ipv4:
            return out + " (IPv4)";
        case DnsSdFamily::ipv6:
            return out + " (IPv6)";
    }
    return out;
}

std::string default_dns_sd_name(std::string_view host_name) {
    // "stage-pi.example.org" is announced as "stage-pi": mDNS names are in .local.
    const std::string_view label = host_name.substr(0, host_name.find('.'));
    if (label.empty()) return "looperd";
    const std::string prefix = "looperd on ";
    return prefix + std::string(utf8_prefix(label, kMaxDnsSdNameBytes - prefix.size()));
}

std::vector<std::string> dns_sd_txt(std::string_view version, const Options& options) {
    // RFC 6763 section 6.7: txtvers first, so that a later change of meaning can say so.
    std::vector<std::string> txt = {
        "txtvers=1",
        "version=" + std::string(version),
        "slots=" + std::to_string(options.slots),
        "feedback=/notify",
    };
    if (options.feedback_port != 0)
        txt.push_back("feedback-port=" + std::to_string(options.feedback_port));
    return txt;
}

std::optional<DnsSdService> plan_dns_sd(const Options& options, std::uint16_t port,
                                        std::string_view version, std::string_view host_name,
                                        const std::vector<InterfaceAddress>& interfaces,
                                        std::string& why_not) {
    if (!options.dns_sd) {
        why_not = "--no-dns-sd";
        return std::nullopt;
    }
    // "fe80::1%eth0": the zone names the interface.
    const std::string& bind = options.osc_bind;
    const auto percent = bind.find('%');
    const std::string zone = percent == std::string::npos ? "" : bind.substr(percent + 1);
    const auto address = bind == "localhost" ? IpAddress::parse("127.0.0.1")
                                             : IpAddress::parse(bind.substr(0, percent));
    if (address && is_loopback(*address)) {
        why_not = "OSC listens on " + bind + " (this machine only): --osc-bind 0.0.0.0 to be found";
        return std::nullopt;
    }

    DnsSdService service;
    service.name =
        options.dns_sd_name.empty() ? default_dns_sd_name(host_name) : options.dns_sd_name;
    service.port = port;
    service.txt = dns_sd_txt(version, options);
    if (!address) return service;  // not numeric: every interface, both families
    service.family = family_of(*address);
    if (is_any(*address)) {
        // "::" is dual-stack on Linux (unless net.ipv6.bindv6only is set): both families.
        if (address->family == IpAddress::Family::v6) service.family = DnsSdFamily::any;
        return service;
    }
    for (const auto& i : interfaces) {
        if (i.address == *address && (zone.empty() || zone == i.name)) {
            service.interface_index = i.index;
            service.interface_name = i.name;
            return service;
        }
    }
    service.warning =
        "no interface found with the address " + bind + ": announcing on every interface";
    return service;
}

std::string local_host_name() {
    std::array<char, 256> name{};
    if (::gethostname(name.data(), name.size() - 1) != 0) return {};
    return name.data();
}

std::vector<InterfaceAddress> local_interface_addresses() {
    std::vector<InterfaceAddress> out;
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) == 0) {
        const std::unique_ptr<ifaddrs, void (*)(ifaddrs*)> owned(list, &::freeifaddrs);
        for (const ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
            if (i->ifa_addr == nullptr || (i->ifa_flags & IFF_UP) == 0) continue;
            const auto family = i->ifa_addr->sa_family;
            if (family != AF_INET && family != AF_INET6) continue;
            sockaddr_storage storage{};
            const socklen_t len = family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
            std::memcpy(&storage, i->ifa_addr, len);
            const auto address = IpAddress::from_sockaddr(storage, len);
            if (address) out.push_back({i->ifa_name, ::if_nametoindex(i->ifa_name), *address});
        }
        return out;
    }
    // No netlink: the IPv4 addresses through the socket ioctls.
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return out;
    std::array<ifreq, 64> requests{};
    ifconf conf{};
    conf.ifc_len = static_cast<int>(sizeof(ifreq) * requests.size());
    conf.ifc_req = requests.data();
    if (::ioctl(fd, SIOCGIFCONF, &conf) == 0) {
        const auto n = static_cast<std::size_t>(conf.ifc_len) / sizeof(ifreq);
        for (std::size_t k = 0; k < n && k < requests.size(); ++k) {
            sockaddr_storage storage{};
            std::memcpy(&storage, &requests[k].ifr_addr, sizeof(sockaddr_in));
            const auto address = IpAddress::from_sockaddr(storage, sizeof(sockaddr_in));
            if (address)
                out.push_back(
                    {requests[k].ifr_name, ::if_nametoindex(requests[k].ifr_name), *address});
        }
    }
    ::close(fd);
    return out;
}

}  // namespace looperd
