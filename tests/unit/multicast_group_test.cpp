// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// --osc-multicast: which groups are taken, which are refused and why; the interface by name.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "io/multicast_group.hpp"
#include "io/multicast_socket.hpp"

namespace {

using namespace looperd;

std::string accepted(const char* text) {
    std::string why;
    const auto group = MulticastGroup::parse(text, why);
    EXPECT_TRUE(group) << text << ": " << why;
    return group ? group->to_string() : std::string();
}

// The reason given for refusing `text`; empty (and a failure) when it was taken.
std::string refusal(const char* text) {
    std::string why;
    const auto group = MulticastGroup::parse(text, why);
    EXPECT_FALSE(group) << text << " was taken as a group";
    EXPECT_FALSE(why.empty()) << text;
    return why;
}

TEST(MulticastGroup, TakesIPv4AddressesIn224Slash4) {
    EXPECT_EQ(accepted("239.1.2.3"), "239.1.2.3");
    EXPECT_EQ(accepted("224.0.0.0"), "224.0.0.0");
    EXPECT_EQ(accepted("239.255.255.255"), "239.255.255.255");
    EXPECT_EQ(accepted("232.5.6.7"), "232.5.6.7");
}

TEST(MulticastGroup, TakesIPv6AddressesInFf00Slash8) {
    EXPECT_EQ(accepted("ff15::1234"), "ff15::1234");
    EXPECT_EQ(accepted("FF02::1"), "ff02::1");
    EXPECT_EQ(accepted("ff3e::8000:1"), "ff3e::8000:1");
}

TEST(MulticastGroup, TakesAV4MappedGroupAsIPv4) {
    std::string why;
    const auto group = MulticastGroup::parse("::ffff:239.1.2.3", why);
    ASSERT_TRUE(group) << why;
    EXPECT_EQ(group->address.family, IpAddress::Family::v4);
    EXPECT_EQ(group->to_string(), "239.1.2.3");
}

TEST(MulticastGroup, RefusesUnicastAddressesSayingWhatAGroupIs) {
    for (const char* text : {"223.255.255.255", "240.0.0.1", "192.168.1.10", "127.0.0.1", "0.0.0.0",
                             "255.255.255.255", "::1", "fe80::1", "fe00::1", "::ffff:10.0.0.1"}) {
        const std::string why = refusal(text);
        EXPECT_NE(why.find("not a multicast group"), std::string::npos) << text << ": " << why;
        EXPECT_NE(why.find("224.0.0.0/4"), std::string::npos) << why;
        EXPECT_NE(why.find("ff00::/8"), std::string::npos) << why;
    }
}

TEST(MulticastGroup, RefusesNamesNetworksAndJunk) {
    for (const char* text : {"", "example.com", "239.1.2.3/8", "239.1.2", "239.1.2.3:9950",
                             "ff15::1234%eth0", " 239.1.2.3", "239.1.2.256"}) {
        const std::string why = refusal(text);
        EXPECT_NE(why.find("not a numeric IPv4 or IPv6 address"), std::string::npos)
            << "'" << text << "': " << why;
    }
}

TEST(MulticastGroup, OnlyInterfaceAndLinkLocalIPv6GroupsNeedAnInterface) {
    std::string why;
    auto needs = [&why](const char* text) {
        return MulticastGroup::parse(text, why).value_or(MulticastGroup{}).needs_interface();
    };
    EXPECT_TRUE(needs("ff02::1"));
    EXPECT_TRUE(needs("ff01::1"));
    EXPECT_TRUE(needs("ff12::1234"));  // transient, link-local scope
    EXPECT_TRUE(needs("ff32::8000:1"));
    EXPECT_FALSE(needs("ff05::1234"));  // site-local
    EXPECT_FALSE(needs("ff15::1234"));
    EXPECT_FALSE(needs("ff0e::1"));  // global
    EXPECT_FALSE(needs("239.1.2.3"));
    EXPECT_FALSE(needs("224.0.0.251"));
}

TEST(MulticastInterface, FindsLoopbackByNameAndRefusesAMissingOneByName) {
    EXPECT_GT(interface_index("lo"), 0U);
    for (const char* name : {"looperd-no-such0", "", "a-name-longer-than-ifnamsiz"}) {
        try {
            interface_index(name);
            ADD_FAILURE() << "'" << name << "' was found";
        } catch (const std::runtime_error& e) {
            const std::string what = e.what();
            EXPECT_NE(what.find("no network interface named '" + std::string(name) + "'"),
                      std::string::npos)
                << what;
        }
    }
}

}  // namespace
