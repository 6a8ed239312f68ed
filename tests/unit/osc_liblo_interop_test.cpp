// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// looperd's OSC codec against an independent implementation: what liblo writes, looperd reads,
// and what looperd writes, liblo reads, value for value.
#include <gtest/gtest.h>
#include <lo/lo.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "io/osc_codec.hpp"

namespace {

using namespace looperd;

std::vector<std::uint8_t> serialise(lo_message m, const char* path) {
    std::size_t size = lo_message_length(m, path);
    std::vector<std::uint8_t> out(size);
    lo_message_serialise(m, path, out.data(), &size);
    out.resize(size);
    return out;
}

TEST(OscLibloInterop, LooperdReadsWhatLibloWrites) {
    lo_message m = lo_message_new();
    lo_message_add_int32(m, -7);
    lo_message_add_float(m, 0.25F);
    lo_message_add_string(m, "drone-loop.wav");
    lo_message_add_double(m, 1.5);
    lo_message_add_int64(m, 1LL << 40);
    lo_message_add_true(m);
    lo_message_add_nil(m);
    const auto bytes = serialise(m, "/slot/12/load");
    lo_message_free(m);

    const auto messages = decode_osc_packet(bytes.data(), bytes.size());
    ASSERT_EQ(messages.size(), 1U);
    const auto& got = messages[0];
    EXPECT_EQ(got.address, "/slot/12/load");
    ASSERT_EQ(got.type_tags(), "ifsdhTN");
    EXPECT_EQ(got.args[0].i, -7);
    EXPECT_EQ(got.args[1].f, 0.25F);
    EXPECT_EQ(got.args[2].s, "drone-loop.wav");
    EXPECT_EQ(got.args[3].d, 1.5);
    EXPECT_EQ(got.args[4].h, 1LL << 40);
}

TEST(OscLibloInterop, LooperdReadsLibloBundlesInOrder) {
    lo_timetag now;
    lo_timetag_now(&now);
    lo_bundle b = lo_bundle_new(now);
    lo_message a = lo_message_new();
    lo_message_add_float(a, 1.0F);
    lo_message c = lo_message_new();
    lo_message_add_int32(c, 1);
    lo_bundle_add_message(b, "/slot/0/play", a);
    lo_bundle_add_message(b, "/slot/1/loop", c);
    std::size_t size = lo_bundle_length(b);
    std::vector<std::uint8_t> bytes(size);
    lo_bundle_serialise(b, bytes.data(), &size);
    lo_bundle_free_recursive(b);

    const auto messages = decode_osc_packet(bytes.data(), size);
    ASSERT_EQ(messages.size(), 2U);
    EXPECT_EQ(messages[0].address, "/slot/0/play");
    EXPECT_EQ(messages[0].args.at(0).f, 1.0F);
    EXPECT_EQ(messages[1].address, "/slot/1/loop");
    EXPECT_EQ(messages[1].args.at(0).i, 1);
}

TEST(OscLibloInterop, LibloReadsWhatLooperdWrites) {
    const OscMessage reply{"/slot/3/loaded",
                           {OscArg::string("kick.wav"), OscArg::int32(16800), OscArg::int32(1),
                            OscArg::float32(0.35F)}};
    auto bytes = encode_osc_message(reply);
    int result = 0;
    lo_message m = lo_message_deserialise(bytes.data(), bytes.size(), &result);
    ASSERT_NE(m, nullptr) << "liblo error " << result;
    EXPECT_STREQ(lo_message_get_types(m), "siif");
    // liblo's argument pointers point into the packed message: read them with memcpy, as
    // they need not be aligned for lo_arg.
    lo_arg** argv = lo_message_get_argv(m);
    auto int_at = [&](int k) {
        std::int32_t v = 0;
        std::memcpy(&v, argv[k], sizeof v);
        return v;
    };
    float seconds = 0.0F;
    std::memcpy(&seconds, argv[3], sizeof seconds);
    EXPECT_STREQ(reinterpret_cast<const char*>(argv[0]), "kick.wav");
    EXPECT_EQ(int_at(1), 16800);
    EXPECT_EQ(int_at(2), 1);
    EXPECT_EQ(seconds, 0.35F);
    char* path = lo_get_path(bytes.data(), static_cast<ssize_t>(bytes.size()));
    ASSERT_NE(path, nullptr);
    EXPECT_STREQ(path, "/slot/3/loaded");
    lo_message_free(m);
}

}  // namespace
