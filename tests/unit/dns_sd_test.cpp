// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// What DNS-SD announces, without a network or avahi-daemon: the name, the TXT strings, and
// which interface and family follow from --osc-bind. The announcing itself is checked against a
// real avahi-daemon by tests/integration/dns_sd_test.cpp.

#include "daemon/dns_sd_service.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "daemon/options.hpp"

namespace looperd {
namespace {

IpAddress ip(const char* text) {
    auto a = IpAddress::parse(text);
    if (!a) throw std::runtime_error(std::string("bad address in test: ") + text);
    return *a;
}

// A machine with loopback, a wired and a wireless interface.
const std::vector<InterfaceAddress> kInterfaces = {
    {"lo", 1, ip("127.0.0.1")}, {"lo", 1, ip("::1")},         {"eth0", 2, ip("192.168.1.10")},
    {"eth0", 2, ip("fe80::1")}, {"wlan0", 3, ip("10.0.0.5")}, {"wlan0", 3, ip("2001:db8::5")},
};

std::optional<DnsSdService> plan(const Options& o, std::string& why_not) {
    return plan_dns_sd(o, 9950, "0.1.0", "stage-pi", kInterfaces, why_not);
}

Options bound_to(const std::string& address) {
    Options o;
    o.osc_bind = address;
    return o;
}

TEST(DnsSd, TheDefaultNameIsLooperdOnTheHostsFirstLabel) {
    EXPECT_EQ(default_dns_sd_name("stage-pi"), "looperd on stage-pi");
    EXPECT_EQ(default_dns_sd_name("stage-pi.example.org"), "looperd on stage-pi");
    EXPECT_EQ(default_dns_sd_name(""), "looperd");
}

TEST(DnsSd, ALongHostNameIsCutToOneDnsLabelWithoutSplittingACharacter) {
    const std::string name = default_dns_sd_name(std::string(100, 'h'));
    EXPECT_EQ(name.size(), kMaxDnsSdNameBytes);
    EXPECT_EQ(name, "looperd on " + std::string(kMaxDnsSdNameBytes - 11, 'h'));
    // "€" is three bytes: 17 of them fill 51 of the 52 bytes left after "looperd on ", and the
    // 18th goes whole, not in part.
    std::string euros;
    for (int k = 0; k < 20; ++k) euros += "\xE2\x82\xAC";
    const std::string cut = default_dns_sd_name(euros);
    EXPECT_EQ(cut.size(), 11U + 51U);
    EXPECT_EQ(cut.substr(11), euros.substr(0, 51));
}

TEST(DnsSd, TxtSaysVersionSlotsAndHowToGetFeedback) {
    Options o;
    o.slots = 16;
    EXPECT_EQ(dns_sd_txt("0.1.0", o), (std::vector<std::string>{"txtvers=1", "version=0.1.0",
                                                                "slots=16", "feedback=/notify"}));
    o.feedback_port = 9000;
    EXPECT_EQ(dns_sd_txt("0.1.0", o).back(), "feedback-port=9000");
}

TEST(DnsSd, EveryIpv4InterfaceWhenBoundToAnyAddress) {
    std::string why_not;
    Options o = bound_to("0.0.0.0");
    o.feedback_port = 9000;
    const auto service = plan(o, why_not);
    ASSERT_TRUE(service) << why_not;
    EXPECT_EQ(service->name, "looperd on stage-pi");
    EXPECT_EQ(service->port, 9950);
    EXPECT_EQ(service->interface_index, 0U);
    EXPECT_EQ(service->family, DnsSdFamily::ipv4);
    EXPECT_EQ(service->txt, dns_sd_txt("0.1.0", o));
    EXPECT_TRUE(service->warning.empty());
    EXPECT_EQ(service->where(), "port 9950 on every interface (IPv4)");
}

TEST(DnsSd, BothFamiliesWhenBoundToTheDualStackAnyAddress) {
    std::string why_not;
    const auto service = plan(bound_to("::"), why_not);
    ASSERT_TRUE(service) << why_not;
    EXPECT_EQ(service->interface_index, 0U);
    EXPECT_EQ(service->family, DnsSdFamily::any);
}

TEST(DnsSd, OnlyTheInterfaceThatHasTheBoundAddress) {
    std::string why_not;
    const auto wired = plan(bound_to("192.168.1.10"), why_not);
    ASSERT_TRUE(wired) << why_not;
    EXPECT_EQ(wired->interface_index, 2U);
    EXPECT_EQ(wired->family, DnsSdFamily::ipv4);
    EXPECT_EQ(wired->where(), "port 9950 on eth0 (IPv4)");

    const auto wireless6 = plan(bound_to("2001:db8::5"), why_not);
    ASSERT_TRUE(wireless6) << why_not;
    EXPECT_EQ(wireless6->interface_index, 3U);
    EXPECT_EQ(wireless6->family, DnsSdFamily::ipv6);

    const auto link_local = plan(bound_to("fe80::1%eth0"), why_not);
    ASSERT_TRUE(link_local) << why_not;
    EXPECT_EQ(link_local->interface_index, 2U);
}

TEST(DnsSd, AnAddressOnNoKnownInterfaceIsAnnouncedEverywhereWithAWarning) {
    std::string why_not;
    const auto service =
        plan_dns_sd(bound_to("192.168.1.10"), 9950, "0.1.0", "stage-pi", {}, why_not);
    ASSERT_TRUE(service) << why_not;
    EXPECT_EQ(service->interface_index, 0U);
    EXPECT_EQ(service->family, DnsSdFamily::ipv4);
    EXPECT_NE(service->warning.find("192.168.1.10"), std::string::npos) << service->warning;
}

TEST(DnsSd, NothingIsAnnouncedForLoopbackOrWhenTurnedOff) {
    for (const char* bind : {"127.0.0.1", "127.0.0.2", "::1", "localhost"}) {
        std::string why_not;
        EXPECT_FALSE(plan(bound_to(bind), why_not)) << bind;
        EXPECT_NE(why_not.find("--osc-bind 0.0.0.0"), std::string::npos) << why_not;
    }
    Options off = bound_to("0.0.0.0");
    off.dns_sd = false;
    std::string why_not;
    EXPECT_FALSE(plan(off, why_not));
    EXPECT_EQ(why_not, "--no-dns-sd");
}

TEST(DnsSd, AGivenNameIsUsedAsItIs) {
    Options o = bound_to("0.0.0.0");
    o.dns_sd_name = "Bühne links";
    std::string why_not;
    const auto service = plan(o, why_not);
    ASSERT_TRUE(service) << why_not;
    EXPECT_EQ(service->name, "Bühne links");
}

TEST(DnsSd, TheMachinesOwnInterfacesIncludeLoopback) {
    // Whichever way they are read (netlink, else SIOCGIFCONF), 127.0.0.1 on an interface that
    // is up is among them.
    bool loopback = false;
    for (const auto& i : local_interface_addresses())
        if (i.address == ip("127.0.0.1") && i.index != 0) loopback = true;
    EXPECT_TRUE(loopback);
}

}  // namespace
}  // namespace looperd
