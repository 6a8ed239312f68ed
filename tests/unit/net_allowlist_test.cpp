// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// --osc-allow: CIDR parsing and matching, IPv4 and IPv6.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <cstring>

#include "io/net_allowlist.hpp"

namespace {

using namespace looperd;

IpAddress ip(const char* text) {
    auto a = IpAddress::parse(text);
    EXPECT_TRUE(a) << text;
    return a.value_or(IpAddress{});
}

IpNetwork net(const char* text) {
    std::string why;
    auto n = IpNetwork::parse(text, why);
    EXPECT_TRUE(n) << text << ": " << why;
    return n.value_or(IpNetwork{});
}

bool refused(const char* text) {
    std::string why;
    const bool bad = !IpNetwork::parse(text, why).has_value();
    if (bad) {
        EXPECT_FALSE(why.empty()) << text;
    }
    return bad;
}

TEST(IpNetwork, ParsesIPv4NetworksAndHosts) {
    EXPECT_EQ(net("192.168.1.0/24").to_string(), "192.168.1.0/24");
    EXPECT_EQ(net("10.0.0.7").to_string(), "10.0.0.7/32");
    EXPECT_EQ(net("0.0.0.0/0").to_string(), "0.0.0.0/0");
    // Host bits are ignored: this is the network the address lies in.
    EXPECT_EQ(net("192.168.1.77/24").to_string(), "192.168.1.0/24");
    EXPECT_EQ(net("172.16.200.1/12").to_string(), "172.16.0.0/12");
}

TEST(IpNetwork, ParsesIPv6NetworksAndHosts) {
    EXPECT_EQ(net("::1/128").to_string(), "::1/128");
    EXPECT_EQ(net("::1").to_string(), "::1/128");
    EXPECT_EQ(net("fe80::/10").to_string(), "fe80::/10");
    EXPECT_EQ(net("febf:1234::1/10").to_string(), "fe80::/10");
    EXPECT_EQ(net("2001:db8::/32").to_string(), "2001:db8::/32");
}

TEST(IpNetwork, IPv4MappedNetworksBecomeIPv4) {
    EXPECT_EQ(net("::ffff:10.0.0.0/104").to_string(), "10.0.0.0/8");
    EXPECT_EQ(net("::ffff:10.1.2.3").to_string(), "10.1.2.3/32");
    EXPECT_TRUE(refused("::ffff:10.0.0.0/64"));
}

TEST(IpNetwork, RefusesWhatIsNotANetwork) {
    for (const char* bad :
         {"", "/24", "192.168.1.0/", "192.168.1.0/33", "192.168.1.0/-1", "192.168.1.0/+8",
          "192.168.1.0/8x", "192.168.1/24", "256.1.1.1", "localhost", "::1/129", "fe80::1%eth0",
          "1.2.3.4/24/1", " 10.0.0.1", "10.0.0.1 ", "::1/0128", "gggg::/16"})
        EXPECT_TRUE(refused(bad)) << "'" << bad << "'";
}

TEST(IpNetwork, ContainsOnlyAddressesUnderItsPrefix) {
    const auto lan = net("192.168.1.0/24");
    EXPECT_TRUE(lan.contains(ip("192.168.1.0")));
    EXPECT_TRUE(lan.contains(ip("192.168.1.255")));
    EXPECT_FALSE(lan.contains(ip("192.168.2.1")));
    EXPECT_FALSE(lan.contains(ip("192.168.0.255")));

    const auto odd = net("10.0.0.0/9");  // a prefix that ends inside a byte
    EXPECT_TRUE(odd.contains(ip("10.127.255.255")));
    EXPECT_FALSE(odd.contains(ip("10.128.0.0")));

    const auto host = net("10.0.0.7");
    EXPECT_TRUE(host.contains(ip("10.0.0.7")));
    EXPECT_FALSE(host.contains(ip("10.0.0.6")));

    const auto link_local = net("fe80::/10");
    EXPECT_TRUE(link_local.contains(ip("fe80::1")));
    EXPECT_TRUE(link_local.contains(ip("febf:ffff::1")));
    EXPECT_FALSE(link_local.contains(ip("fec0::1")));

    EXPECT_TRUE(net("0.0.0.0/0").contains(ip("203.0.113.9")));
}

TEST(IpNetwork, FamiliesNeverMatchEachOther) {
    EXPECT_FALSE(net("::/0").contains(ip("10.0.0.1")));
    EXPECT_FALSE(net("0.0.0.0/0").contains(ip("::1")));
    EXPECT_FALSE(net("::1/128").contains(ip("127.0.0.1")));
    EXPECT_FALSE(net("127.0.0.1").contains(ip("::1")));
}

TEST(IpAddress, MappedIPv6PeersCountAsIPv4) {
    // What a dual-stack socket bound to :: reports for an IPv4 peer.
    sockaddr_storage ss{};
    sockaddr_in6 in6{};
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(9000);
    ASSERT_EQ(inet_pton(AF_INET6, "::ffff:192.168.1.20", &in6.sin6_addr), 1);
    std::memcpy(&ss, &in6, sizeof(in6));
    const auto a = IpAddress::from_sockaddr(ss, sizeof(in6));
    ASSERT_TRUE(a);
    EXPECT_EQ(a->family, IpAddress::Family::v4);
    EXPECT_EQ(a->to_string(), "192.168.1.20");
    EXPECT_TRUE(net("192.168.1.0/24").contains(*a));
}

TEST(IpAddress, ReadsSocketAddressesOfBothFamilies) {
    sockaddr_storage ss{};
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = htons(1234);
    ASSERT_EQ(inet_pton(AF_INET, "10.0.0.7", &in.sin_addr), 1);
    std::memcpy(&ss, &in, sizeof(in));
    auto a = IpAddress::from_sockaddr(ss, sizeof(in));
    ASSERT_TRUE(a);
    EXPECT_EQ(*a, ip("10.0.0.7"));
    // A length too short for the family is not an address.
    EXPECT_FALSE(IpAddress::from_sockaddr(ss, sizeof(in) - 1));

    sockaddr_in6 in6{};
    in6.sin6_family = AF_INET6;
    ASSERT_EQ(inet_pton(AF_INET6, "fe80::2", &in6.sin6_addr), 1);
    std::memcpy(&ss, &in6, sizeof(in6));
    a = IpAddress::from_sockaddr(ss, sizeof(in6));
    ASSERT_TRUE(a);
    EXPECT_EQ(a->family, IpAddress::Family::v6);
    EXPECT_EQ(a->to_string(), "fe80::2");

    sockaddr_storage unix_like{};
    unix_like.ss_family = AF_UNIX;
    EXPECT_FALSE(IpAddress::from_sockaddr(unix_like, sizeof(unix_like)));
}

TEST(NetAllowlist, EmptyAllowsEverySource) {
    const NetAllowlist all;
    EXPECT_TRUE(all.allows(ip("203.0.113.9")));
    EXPECT_TRUE(all.allows(ip("::1")));
    EXPECT_TRUE(all.allows(std::nullopt));
}

TEST(NetAllowlist, AListAllowsOnlyItsNetworksAndNotLoopbackImplicitly) {
    const NetAllowlist list({net("192.168.1.0/24"), net("10.0.0.7"), net("fe80::/10")});
    EXPECT_TRUE(list.allows(ip("192.168.1.42")));
    EXPECT_TRUE(list.allows(ip("10.0.0.7")));
    EXPECT_TRUE(list.allows(ip("fe80::abcd")));
    EXPECT_FALSE(list.allows(ip("10.0.0.8")));
    EXPECT_FALSE(list.allows(ip("192.168.10.1")));
    EXPECT_FALSE(list.allows(ip("2001:db8::1")));
    EXPECT_FALSE(list.allows(ip("127.0.0.1")));
    EXPECT_FALSE(list.allows(ip("::1")));
    EXPECT_FALSE(list.allows(std::nullopt));
}

}  // namespace
