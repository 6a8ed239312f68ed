// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "io/osc_codec.hpp"
#include "io/osc_server.hpp"
#include "wait_until.hpp"

namespace looperd {
namespace {

static_assert(std::is_base_of_v<std::runtime_error, OscDecodeError>);
static_assert(!std::is_copy_constructible_v<OscServer>);
static_assert(kMaxOscPacketBytes % 4 == 3, "the largest datagram cannot be a valid OSC packet");

using Bytes = std::vector<std::uint8_t>;

// Hand-built OSC bytes, written independently of the encoder under test.
struct PacketBuilder {
    Bytes bytes;

    PacketBuilder& raw(std::initializer_list<std::uint8_t> b) {
        bytes.insert(bytes.end(), b);
        return *this;
    }
    PacketBuilder& be32(std::uint32_t v) {
        return raw({static_cast<std::uint8_t>(v >> 24U), static_cast<std::uint8_t>(v >> 16U),
                    static_cast<std::uint8_t>(v >> 8U), static_cast<std::uint8_t>(v)});
    }
    PacketBuilder& str(const std::string& s) {  // NUL-terminated, zero-padded to 4
        bytes.insert(bytes.end(), s.begin(), s.end());
        do {
            bytes.push_back(0);
        } while (bytes.size() % 4 != 0);
        return *this;
    }
    PacketBuilder& chars(const std::string& s) {  // no terminator, no padding
        bytes.insert(bytes.end(), s.begin(), s.end());
        return *this;
    }
    PacketBuilder& bundle_header() { return bundle_header_at(1); }
    PacketBuilder& bundle_header_at(std::uint64_t timetag) {
        return chars(std::string("#bundle\0", 8))
            .be32(static_cast<std::uint32_t>(timetag >> 32U))
            .be32(static_cast<std::uint32_t>(timetag));
    }
    PacketBuilder& element(const Bytes& e) {
        be32(static_cast<std::uint32_t>(e.size()));
        bytes.insert(bytes.end(), e.begin(), e.end());
        return *this;
    }
};

Bytes message_bytes(const std::string& address, std::int32_t value) {
    return PacketBuilder{}.str(address).str(",i").be32(static_cast<std::uint32_t>(value)).bytes;
}

std::vector<OscMessage> decode(const Bytes& b) {
    return decode_osc_packet(b.data(), b.size());
}

// Expects decode to throw OscDecodeError whose text contains `reason`.
void expect_rejected(const Bytes& b, const std::string& reason) {
    try {
        decode(b);
        ADD_FAILURE() << "accepted a packet that should fail with '" << reason << "'";
    } catch (const OscDecodeError& e) {
        EXPECT_NE(std::string(e.what()).find(reason), std::string::npos)
            << "reason was '" << e.what() << "', expected '" << reason << "'";
    }
}

// ---- Codec ----------------------------------------------------------------------------------

TEST(OscCodec, FactoriesSetTypeAndValue) {
    EXPECT_EQ(OscArg::int32(-7).type, 'i');
    EXPECT_EQ(OscArg::int32(-7).i, -7);
    EXPECT_EQ(OscArg::float32(0.25F).type, 'f');
    EXPECT_EQ(OscArg::float32(0.25F).f, 0.25F);
    EXPECT_EQ(OscArg::string("x").type, 's');
    EXPECT_EQ(OscArg::string("x").s, "x");
    OscMessage m{"/a", {OscArg::int32(1), OscArg::float32(2), OscArg::string("3")}};
    EXPECT_EQ(m.type_tags(), "ifs");
    EXPECT_EQ((OscMessage{"/a", {}}.type_tags()), "");
}

TEST(OscCodec, DecodesGoldenGainMessage) {
    // "/slot/3/gain" is 12 bytes, so its NUL takes a whole word of padding.
    const Bytes golden = {'/', 's', 'l', 'o', 't', '/', '3', '/', 'g',  'a',  'i', 'n',
                          0,   0,   0,   0,   ',', 'f', 0,   0,   0x3F, 0x00, 0,   0};
    const auto messages = decode(golden);
    ASSERT_EQ(messages.size(), 1U);
    EXPECT_EQ(messages[0].address, "/slot/3/gain");
    ASSERT_EQ(messages[0].type_tags(), "f");
    EXPECT_EQ(messages[0].args[0].f, 0.5F);

    EXPECT_EQ(encode_osc_message({"/slot/3/gain", {OscArg::float32(0.5F)}}), golden);
}

TEST(OscCodec, DecodesGoldenIntAndStringMessage) {
    const Bytes golden = {'/', 'a', 0, 0, ',', 'i', 's', 0, 0xFF, 0xFF, 0xFF, 0xFE, 'h', 'i', 0, 0};
    const auto messages = decode(golden);
    ASSERT_EQ(messages.size(), 1U);
    EXPECT_EQ(messages[0].address, "/a");
    ASSERT_EQ(messages[0].type_tags(), "is");
    EXPECT_EQ(messages[0].args[0].i, -2);
    EXPECT_EQ(messages[0].args[1].s, "hi");
    EXPECT_EQ(encode_osc_message(messages[0]), golden);
}

TEST(OscCodec, RoundTripsEverySupportedType) {
    OscMessage m;
    m.address = "/every/type";
    auto add = [&m](char type) -> OscArg& {
        m.args.emplace_back();
        m.args.back().type = type;
        return m.args.back();
    };
    add('i').i = std::numeric_limits<std::int32_t>::min();
    add('i').i = std::numeric_limits<std::int32_t>::max();
    add('h').h = std::numeric_limits<std::int64_t>::min() + 12345;
    add('f').f = -1.5e-20F;
    add('f').f = std::numeric_limits<float>::infinity();
    add('f').f = std::numeric_limits<float>::quiet_NaN();
    add('d').d = 3.141592653589793;
    add('s').s = "";
    add('s').s = "abc";   // 3 chars + NUL: exactly one word
    add('s').s = "abcd";  // 4 chars + NUL: two words
    add('S').s = "symbol";
    add('T');
    add('F');
    add('N');
    add('I');

    const Bytes encoded = encode_osc_message(m);
    EXPECT_EQ(encoded.size() % 4, 0U);
    const auto decoded = decode(encoded);
    ASSERT_EQ(decoded.size(), 1U);
    const OscMessage& d = decoded[0];
    EXPECT_EQ(d.address, m.address);
    ASSERT_EQ(d.type_tags(), "iihfffdsssSTFNI");
    EXPECT_EQ(d.args[0].i, m.args[0].i);
    EXPECT_EQ(d.args[1].i, m.args[1].i);
    EXPECT_EQ(d.args[2].h, m.args[2].h);
    EXPECT_EQ(d.args[3].f, m.args[3].f);
    EXPECT_TRUE(std::isinf(d.args[4].f) && d.args[4].f > 0);
    EXPECT_TRUE(std::isnan(d.args[5].f));  // kept as a float: never coerced to another type
    EXPECT_EQ(d.args[6].d, m.args[6].d);
    EXPECT_EQ(d.args[7].s, "");
    EXPECT_EQ(d.args[8].s, "abc");
    EXPECT_EQ(d.args[9].s, "abcd");
    EXPECT_EQ(d.args[10].s, "symbol");
}

TEST(OscCodec, EncodeRejectsWhatIsNotOsc) {
    EXPECT_THROW(encode_osc_message({"", {}}), OscDecodeError);
    EXPECT_THROW(encode_osc_message({"slot/1", {}}), OscDecodeError);
    EXPECT_THROW(encode_osc_message({std::string("/a\0b", 4), {}}), OscDecodeError);
    EXPECT_THROW(encode_osc_message({"/a", {OscArg::string(std::string("x\0y", 3))}}),
                 OscDecodeError);
    OscArg blob;
    blob.type = 'b';
    EXPECT_THROW(encode_osc_message({"/a", {blob}}), OscDecodeError);
}

TEST(OscCodec, BundleFlattensThreeMessagesInOrder) {
    const Bytes packet = PacketBuilder{}
                             .bundle_header()
                             .element(message_bytes("/first", 1))
                             .element(message_bytes("/second", 2))
                             .element(message_bytes("/third", 3))
                             .bytes;
    const auto messages = decode(packet);
    ASSERT_EQ(messages.size(), 3U);
    EXPECT_EQ(messages[0].address, "/first");
    EXPECT_EQ(messages[1].address, "/second");
    EXPECT_EQ(messages[2].address, "/third");
    EXPECT_EQ(messages[2].args[0].i, 3);
}

TEST(OscCodec, NestedBundleKeepsOrderAcrossLevels) {
    // [ /a, [ /b, /c ], /d ]
    const Bytes inner = PacketBuilder{}
                            .bundle_header()
                            .element(message_bytes("/b", 2))
                            .element(message_bytes("/c", 3))
                            .bytes;
    const Bytes packet = PacketBuilder{}
                             .bundle_header()
                             .element(message_bytes("/a", 1))
                             .element(inner)
                             .element(message_bytes("/d", 4))
                             .bytes;
    const auto messages = decode(packet);
    ASSERT_EQ(messages.size(), 4U);
    for (std::size_t k = 0; k < messages.size(); ++k) {
        EXPECT_EQ(messages[k].address, std::string(1, '/') + static_cast<char>('a' + k));
        EXPECT_EQ(messages[k].args[0].i, static_cast<std::int32_t>(k + 1));
    }
}

TEST(OscCodec, PlainMessageHasNoTimetag) {
    const auto messages = decode(message_bytes("/a", 1));
    ASSERT_EQ(messages.size(), 1U);
    EXPECT_EQ(messages[0].timetag, 0U);
    EXPECT_EQ((OscMessage{"/a", {}}.timetag), 0U);
}

TEST(OscCodec, BundleMessagesCarryTheBundleTimetag) {
    // Both 32-bit halves differ, so a swapped or truncated read shows.
    constexpr std::uint64_t t = 0xE8A1B2C3'40000000ULL;
    const auto messages = decode(PacketBuilder{}
                                     .bundle_header_at(t)
                                     .element(message_bytes("/a", 1))
                                     .element(message_bytes("/b", 2))
                                     .bytes);
    ASSERT_EQ(messages.size(), 2U);
    EXPECT_EQ(messages[0].timetag, t);
    EXPECT_EQ(messages[1].timetag, t);
    // "Immediately" is kept as the value 1.
    const auto now = decode(PacketBuilder{}.bundle_header().element(message_bytes("/a", 1)).bytes);
    ASSERT_EQ(now.size(), 1U);
    EXPECT_EQ(now[0].timetag, 1U);
}

TEST(OscCodec, NestedBundlesTakeTheInnermostTimetag) {
    // [t1: /a, [t2: /b, [t3: /c], /d], /e ]
    constexpr std::uint64_t t1 = 0xE8000000'00000001ULL;
    constexpr std::uint64_t t2 = 0xE8000001'80000000ULL;
    constexpr std::uint64_t t3 = 0xE8000002'00000000ULL;
    const Bytes innermost =
        PacketBuilder{}.bundle_header_at(t3).element(message_bytes("/c", 3)).bytes;
    const Bytes inner = PacketBuilder{}
                            .bundle_header_at(t2)
                            .element(message_bytes("/b", 2))
                            .element(innermost)
                            .element(message_bytes("/d", 4))
                            .bytes;
    const auto messages = decode(PacketBuilder{}
                                     .bundle_header_at(t1)
                                     .element(message_bytes("/a", 1))
                                     .element(inner)
                                     .element(message_bytes("/e", 5))
                                     .bytes);
    ASSERT_EQ(messages.size(), 5U);
    const std::uint64_t expected[] = {t1, t2, t3, t2, t1};
    for (std::size_t k = 0; k < messages.size(); ++k) {
        EXPECT_EQ(messages[k].address, std::string(1, '/') + static_cast<char>('a' + k));
        EXPECT_EQ(messages[k].timetag, expected[k]) << messages[k].address;
    }
}

TEST(OscCodec, EmptyBundleDecodesToNothing) {
    EXPECT_TRUE(decode(PacketBuilder{}.bundle_header().bytes).empty());
}

Bytes nested_bundle(int depth) {
    Bytes b = message_bytes("/deep", depth);
    for (int k = 0; k < depth; ++k) b = PacketBuilder{}.bundle_header().element(b).bytes;
    return b;
}

TEST(OscCodec, BundleDepthEightAcceptedNineRejected) {
    const auto messages = decode(nested_bundle(kMaxOscBundleDepth));
    ASSERT_EQ(messages.size(), 1U);
    EXPECT_EQ(messages[0].address, "/deep");
    expect_rejected(nested_bundle(kMaxOscBundleDepth + 1), "nested deeper");
}

TEST(OscCodec, BadBundleElementSizesRejected) {
    const Bytes msg = message_bytes("/x", 1);  // 12 bytes
    const std::uint32_t remaining = static_cast<std::uint32_t>(msg.size());
    const struct {
        std::uint32_t size;
        const char* reason;
    } cases[] = {
        {0, "empty bundle element"},
        {3, "not a multiple of 4"},
        {0xFFFFFFFCU, "truncated bundle element"},
        {0xFFFFFFFFU, "not a multiple of 4"},
        {remaining + 4, "truncated bundle element"},
        {0x80000000U, "truncated bundle element"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.size);
        Bytes packet = PacketBuilder{}.bundle_header().be32(c.size).bytes;
        packet.insert(packet.end(), msg.begin(), msg.end());
        expect_rejected(packet, c.reason);

        // The same element inside a nested bundle, after a good element.
        Bytes inner = PacketBuilder{}.bundle_header().element(msg).be32(c.size).bytes;
        inner.insert(inner.end(), msg.begin(), msg.end());
        expect_rejected(PacketBuilder{}.bundle_header().element(inner).bytes, c.reason);
    }
    // A zero size word as the last thing in the bundle.
    Bytes cut = PacketBuilder{}.bundle_header().element(msg).bytes;
    cut.resize(cut.size() + 4, 0);
    expect_rejected(cut, "empty bundle element");
}

// The size that makes `p + size` wrap the address space to `p + size == 4` on a 32-bit target
// (on a 64-bit one it is merely a size far beyond the packet). 4-aligned as `p` is.
std::uint32_t size_wrapping_32bit_pointer(const std::uint8_t* p) {
    return static_cast<std::uint32_t>(
               0U - static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(p))) +
           4U;
}

// liblo 0.31 (Debian 12) hangs or crashes on 32-bit builds on bundle element sizes like these:
// read as int32 they are negative, so a signed "size > bytes left" check passes and the reader
// steps backwards, onto the same size word (a loop that never ends) or before the buffer; or
// `pointer + size` wraps past 2^32 and lands inside the buffer again. looperd's decoder must
// refuse each one whole with OscDecodeError: never a hang, a crash or a message decoded from the
// wrong bytes. scripts/cross-test.sh runs this on i386, armhf and arm64; a hang ends in meson's
// test timeout.
TEST(OscCodec, BundleElementSizesThatBreak32BitArithmeticAreRefused) {
    const Bytes msg = message_bytes("/x", 1);  // 12 bytes
    const Bytes header = PacketBuilder{}.bundle_header().bytes;
    // Where a size word sits in the packets below, from the start of its bundle: after the
    // header and one good element.
    const std::uint32_t word_at = static_cast<std::uint32_t>(header.size() + 4 + msg.size());
    const std::uint32_t sizes[] = {
        0x7FFFFFFCU,  // the largest positive int32 that is a multiple of 4
        0x80000000U,  // INT32_MIN
        0x80000004U,
        0xC0000000U,
        0xFFFFFFFCU,                                            // -4: back onto the size word
        static_cast<std::uint32_t>(0U - 4U - 4U - msg.size()),  // back to the good element
        0U - (word_at + 4U),                                    // back to the bundle header
        0xFFFFFFF0U,
    };

    const auto check = [&](std::uint32_t size) {
        SCOPED_TRACE(::testing::Message() << "element size 0x" << std::hex << size);
        // Alone: [header][good element][size word][12 bytes].
        Bytes packet = PacketBuilder{}.bundle_header().element(msg).be32(size).bytes;
        packet.insert(packet.end(), msg.begin(), msg.end());
        expect_rejected(packet, "truncated bundle element");

        // Nested, with the outer element's size right: the inner bundle's end bounds it.
        const Bytes outer = PacketBuilder{}.bundle_header().element(packet).element(msg).bytes;
        expect_rejected(outer, "truncated bundle element");
    };
    for (const std::uint32_t size : sizes) check(size);

    // `pointer + size` wrapping to just past the address space's end, computed for the very
    // bytes the decoder reads (the vector's buffer, so its address is known before decoding).
    Bytes packet = PacketBuilder{}.bundle_header().element(msg).be32(0).bytes;
    packet.insert(packet.end(), msg.begin(), msg.end());
    const std::uint8_t* element = packet.data() + word_at + 4;
    const std::uint32_t wrap = size_wrapping_32bit_pointer(element);
    ASSERT_EQ(wrap % 4, 0U);
    for (int k = 0; k < 4; ++k) {
        packet[word_at + static_cast<std::size_t>(k)] =
            static_cast<std::uint8_t>(wrap >> (24 - 8 * k));
    }
    SCOPED_TRACE(::testing::Message() << "wrapping element size 0x" << std::hex << wrap);
    expect_rejected(packet, "truncated bundle element");
}

TEST(OscCodec, BlobSizesThatBreak32BitArithmeticAreRefused) {
    for (const std::uint32_t size : {0x7FFFFFFCU, 0x7FFFFFFFU, 0x80000000U, 0xFFFFFFF8U}) {
        SCOPED_TRACE(size);
        expect_rejected(PacketBuilder{}.str("/abc").str(",bi").be32(size).be32(0).be32(7).bytes,
                        "truncated blob");
    }
    // A blob whose payload would end exactly where `pointer + 4 + size` wraps to 4 on 32-bit.
    Bytes packet = PacketBuilder{}.str("/abc").str(",bi").be32(0).be32(0).be32(7).bytes;
    const std::size_t word_at = 8 + 4;
    const std::uint32_t wrap = size_wrapping_32bit_pointer(packet.data() + word_at + 4);
    for (int k = 0; k < 4; ++k) {
        packet[word_at + static_cast<std::size_t>(k)] =
            static_cast<std::uint8_t>(wrap >> (24 - 8 * k));
    }
    SCOPED_TRACE(wrap);
    expect_rejected(packet, "truncated blob");
}

TEST(OscCodec, TruncatedBundleHeaderRejected) {
    expect_rejected(PacketBuilder{}.chars(std::string("#bundle\0", 8)).be32(0).bytes,
                    "truncated bundle header");
    expect_rejected(PacketBuilder{}.str("#bundlx").be32(0).be32(1).bytes, "address");
}

TEST(OscCodec, TruncatedMessagePartsRejected) {
    // Address with no NUL inside the packet.
    expect_rejected(PacketBuilder{}.chars("/abc").bytes, "unterminated address");
    // Address only: no type tag string.
    expect_rejected(PacketBuilder{}.str("/abc").bytes, "missing type tag string");
    // Type tag string with no NUL.
    expect_rejected(PacketBuilder{}.str("/abc").chars(",iii").bytes,
                    "unterminated type tag string");
    // String argument with no NUL.
    expect_rejected(PacketBuilder{}.str("/abc").str(",s").chars("abcd").bytes,
                    "unterminated string argument");
    // Arguments promised by the tags but missing.
    expect_rejected(PacketBuilder{}.str("/abc").str(",i").bytes, "truncated argument 'i'");
    expect_rejected(PacketBuilder{}.str("/abc").str(",d").be32(0).bytes, "truncated argument 'd'");
    expect_rejected(PacketBuilder{}.str("/abc").str(",h").be32(0).bytes, "truncated argument 'h'");
    expect_rejected(PacketBuilder{}.str("/abc").str(",b").bytes, "truncated blob size");
    // Blob sizes beyond the bytes left, including ones that wrap 32-bit arithmetic.
    for (const std::uint32_t size : {5U, 8U, 0xFFFFFFFCU, 0xFFFFFFFDU, 0xFFFFFFFFU}) {
        SCOPED_TRACE(size);
        expect_rejected(PacketBuilder{}.str("/abc").str(",b").be32(size).be32(0).bytes,
                        "truncated blob");
    }
    // In a bundle the element size, not the packet, bounds the message.
    const Bytes inner = PacketBuilder{}.str("/abc").str(",ii").be32(1).bytes;
    expect_rejected(PacketBuilder{}.bundle_header().element(inner).be32(2).bytes,
                    "truncated argument 'i'");
}

TEST(OscCodec, MalformedAddressAndTagsRejected) {
    expect_rejected(PacketBuilder{}.str("slot").str(",").bytes, "address does not start with '/'");
    expect_rejected(PacketBuilder{}.str("/slot").str("i").be32(1).bytes, "does not start with ','");
    expect_rejected(PacketBuilder{}.str("/slot").str(",x").be32(1).bytes,
                    "unsupported type tag 'x'");
    expect_rejected(PacketBuilder{}.str("/slot").str(",i").be32(1).be32(2).bytes, "trailing bytes");
}

TEST(OscCodec, PacketSizeLimitsRejected) {
    expect_rejected({}, "empty packet");
    EXPECT_THROW(decode_osc_packet(nullptr, 0), OscDecodeError);
    expect_rejected(PacketBuilder{}.str("/abc").str(",").chars("x").bytes, "not a multiple of 4");

    // The largest valid packet (65504 bytes: a multiple of 4 under the limit) decodes.
    const std::size_t header = 8 + 4;  // "/big" + ",s"
    Bytes big = PacketBuilder{}.str("/big").str(",s").bytes;
    big.resize(65504 - 4, 'z');
    big.resize(65504, 0);
    ASSERT_EQ(big.size(), 65504U);
    const auto ok = decode(big);
    ASSERT_EQ(ok.size(), 1U);
    EXPECT_EQ(ok[0].args[0].s.size(), 65504 - header - 4);

    Bytes too_big = big;
    too_big.resize(kMaxOscPacketBytes + 1, 0);  // 65508
    expect_rejected(too_big, "exceeds the limit");
}

TEST(OscCodec, BlobAndOtherUntypedArgumentsSkippedAndKeptByTag) {
    const Bytes packet = PacketBuilder{}
                             .str("/mixed")
                             .str(",bibtmcrTs")
                             .be32(5)
                             .raw({1, 2, 3, 4, 5, 0, 0, 0})  // blob of 5 bytes, padded to 8
                             .be32(42)
                             .be32(0)  // empty blob
                             .be32(0x12345678)
                             .be32(0x9ABCDEF0)  // timetag
                             .be32(0x00903C40)  // MIDI
                             .be32('A')         // char
                             .be32(0xFF0000FF)  // RGBA
                             .str("end")
                             .bytes;
    const auto messages = decode(packet);
    ASSERT_EQ(messages.size(), 1U);
    const OscMessage& m = messages[0];
    ASSERT_EQ(m.type_tags(), "bibtmcrTs");
    EXPECT_EQ(m.args[1].i, 42);  // alignment after the padded blob is right
    EXPECT_EQ(m.args[8].s, "end");
}

TEST(OscCodec, MessageCountLimitIsEnforced) {
    const Bytes msg = PacketBuilder{}.str("/m").str(",").bytes;
    PacketBuilder at_limit;
    at_limit.bundle_header();
    for (std::size_t k = 0; k < kMaxOscMessagesPerPacket; ++k) at_limit.element(msg);
    EXPECT_EQ(decode(at_limit.bytes).size(), kMaxOscMessagesPerPacket);

    at_limit.element(msg);  // 1025
    expect_rejected(at_limit.bytes, "messages in one packet");

    // The limit counts across nested bundles too.
    PacketBuilder inner;
    inner.bundle_header();
    for (std::size_t k = 0; k < kMaxOscMessagesPerPacket / 2 + 1; ++k) inner.element(msg);
    expect_rejected(PacketBuilder{}.bundle_header().element(inner.bytes).element(inner.bytes).bytes,
                    "messages in one packet");
}

// Random and mutated datagrams: decoding may refuse them but must never crash or read out of
// bounds (run this under -Db_sanitize=address,undefined).
TEST(OscCodec, SurvivesRandomAndMutatedPackets) {
    std::mt19937 rng(20240611);
    const Bytes seeds[] = {
        encode_osc_message({"/slot/3/gain", {OscArg::float32(0.5F), OscArg::string("abc")}}),
        PacketBuilder{}
            .str("/b")
            .str(",bis")
            .be32(6)
            .raw({1, 2, 3, 4, 5, 6, 0, 0})
            .be32(7)
            .str("q")
            .bytes,
        PacketBuilder{}
            .bundle_header()
            .element(message_bytes("/a", 1))
            .element(nested_bundle(3))
            .element(message_bytes("/c", 3))
            .bytes,
    };
    const std::uint32_t nasty[] = {0, 3, 4, 0x7FFFFFFF, 0x80000000U, 0xFFFFFFFCU, 0xFFFFFFFFU};
    std::size_t accepted = 0;
    for (int iteration = 0; iteration < 20000; ++iteration) {
        Bytes packet;
        if (iteration % 4 == 0) {
            packet.resize(4 * (1 + rng() % 64));
            for (auto& b : packet) b = static_cast<std::uint8_t>(rng());
            if (rng() % 2 == 0) packet[0] = '/';
        } else {
            packet = seeds[rng() % std::size(seeds)];
            const int edits = 1 + static_cast<int>(rng() % 4);
            for (int e = 0; e < edits; ++e) {
                const std::size_t at = rng() % packet.size();
                switch (rng() % 4) {
                    case 0:
                        packet[at] = static_cast<std::uint8_t>(rng());
                        break;
                    case 1: {  // a hostile size word on a word boundary
                        const std::uint32_t v = nasty[rng() % std::size(nasty)];
                        const std::size_t w = at & ~std::size_t{3};
                        for (int k = 0; k < 4 && w + k < packet.size(); ++k) {
                            packet[w + k] = static_cast<std::uint8_t>(v >> (24 - 8 * k));
                        }
                        break;
                    }
                    case 2:
                        packet.resize(std::max<std::size_t>(4, at & ~std::size_t{3}));
                        break;
                    default:
                        packet.insert(packet.begin() + static_cast<std::ptrdiff_t>(at), 4,
                                      static_cast<std::uint8_t>(rng()));
                        break;
                }
            }
        }
        try {
            const auto messages = decode(packet);
            ++accepted;
            for (const auto& m : messages) {
                ASSERT_FALSE(m.address.empty());
                ASSERT_EQ(m.address[0], '/');
            }
        } catch (const OscDecodeError&) {
        }
    }
    // Some mutations leave a valid packet; if none did, the mutator is broken, not the codec.
    EXPECT_GT(accepted, 0U);
}

// ---- Server ---------------------------------------------------------------------------------

// A datagram over loopback is queued before sendto() returns: waiting for it only ends a hang.
constexpr int kArrivalMs = static_cast<int>(std::chrono::milliseconds(test::kHangBound).count());

// A plain UDP socket standing in for a controller.
class UdpClient {
  public:
    explicit UdpClient(int family = AF_INET) : fd_(::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
        if (fd_ < 0) throw std::runtime_error("socket");
        sockaddr_storage a{};
        socklen_t len = 0;
        if (family == AF_INET) {
            auto* in = reinterpret_cast<sockaddr_in*>(&a);
            in->sin_family = AF_INET;
            in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            len = sizeof(sockaddr_in);
        } else {
            auto* in6 = reinterpret_cast<sockaddr_in6*>(&a);
            in6->sin6_family = AF_INET6;
            in6->sin6_addr = in6addr_loopback;
            len = sizeof(sockaddr_in6);
        }
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0) {
            ::close(fd_);
            throw std::runtime_error("bind");
        }
        socklen_t got = sizeof(a);
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &got);
        port_ = family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&a)->sin_port)
                                  : ntohs(reinterpret_cast<sockaddr_in6*>(&a)->sin6_port);
    }
    ~UdpClient() { ::close(fd_); }
    UdpClient(const UdpClient&) = delete;
    UdpClient& operator=(const UdpClient&) = delete;

    std::uint16_t port() const { return port_; }

    bool send_to(const char* host, std::uint16_t port, const Bytes& data) {
        OscEndpoint to = endpoint(host, port);
        return ::sendto(fd_, data.data(), data.size(), 0, reinterpret_cast<sockaddr*>(&to.addr),
                        to.len) == static_cast<ssize_t>(data.size());
    }

    // Waits at most timeout_ms; returns false on timeout.
    bool receive(Bytes& out, int timeout_ms = kArrivalMs) {
        pollfd pfd{fd_, POLLIN, 0};
        if (::poll(&pfd, 1, timeout_ms) != 1) return false;
        out.resize(70000);
        const ssize_t n = ::recv(fd_, out.data(), out.size(), 0);
        if (n < 0) return false;
        out.resize(static_cast<std::size_t>(n));
        return true;
    }

    static OscEndpoint endpoint(const char* host, std::uint16_t port) {
        std::string error;
        const std::string url = "osc.udp://" + std::string(host) + ":" + std::to_string(port) + "/";
        auto e = OscServer::resolve_url(url, error);
        if (!e) throw std::runtime_error(error);
        return *e;
    }

  private:
    int fd_;
    std::uint16_t port_ = 0;
};

bool ipv6_loopback_available() {
    try {
        UdpClient probe(AF_INET6);
        return true;
    } catch (const std::exception&) {
        return false;
    }
}

TEST(OscServer, BindsLoopbackOnAnyFreePort) {
    OscServer server("127.0.0.1", 0);
    EXPECT_NE(server.port(), 0);
}

TEST(OscServer, SecondServerOnSamePortFailsWithCannotBind) {
    OscServer first("127.0.0.1", 0);
    try {
        OscServer second("127.0.0.1", first.port());
        FAIL() << "two servers bound the same port";
    } catch (const std::runtime_error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("cannot bind 127.0.0.1:" + std::to_string(first.port())),
                  std::string::npos)
            << what;
        EXPECT_NE(what.find("in use"), std::string::npos) << what;
    }
}

TEST(OscServer, UnresolvableBindHostFailsWithCannotBind) {
    try {
        OscServer server("256.1.1.1", 0);
        FAIL() << "bound an invalid address";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("cannot bind 256.1.1.1:0: "), std::string::npos)
            << e.what();
    }
}

TEST(OscServer, UdpRoundTripRepliesToSender) {
    OscServer server("127.0.0.1", 0);
    UdpClient client;
    ASSERT_TRUE(client.send_to("127.0.0.1", server.port(),
                               encode_osc_message({"/slot/3/gain", {OscArg::float32(0.5F)}})));

    Bytes packet;
    OscEndpoint from;
    bool truncated = true;
    ASSERT_TRUE(server.receive(packet, from, truncated, kArrivalMs))
        << test::hung("the datagram's arrival");
    EXPECT_FALSE(truncated);
    EXPECT_EQ(from.to_string(), "127.0.0.1:" + std::to_string(client.port()));
    const auto messages = decode(packet);
    ASSERT_EQ(messages.size(), 1U);
    EXPECT_EQ(messages[0].address, "/slot/3/gain");
    EXPECT_EQ(messages[0].args[0].f, 0.5F);

    ASSERT_TRUE(server.send(from, {"/done", {OscArg::string("/slot/3/gain"), OscArg::int32(3)}}));
    Bytes reply;
    ASSERT_TRUE(client.receive(reply)) << test::hung("the reply's arrival");
    const auto decoded = decode(reply);
    ASSERT_EQ(decoded.size(), 1U);
    EXPECT_EQ(decoded[0].address, "/done");
    ASSERT_EQ(decoded[0].type_tags(), "si");
    EXPECT_EQ(decoded[0].args[0].s, "/slot/3/gain");
    EXPECT_EQ(decoded[0].args[1].i, 3);
}

TEST(OscServer, ReceiveTimesOutWhenNothingArrives) {
    OscServer server("127.0.0.1", 0);
    Bytes packet;
    OscEndpoint from;
    bool truncated = true;
    const auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(server.receive(packet, from, truncated, 50));
    const auto elapsed = std::chrono::steady_clock::now() - start;
    // It waited: a slower machine only waits longer.
    EXPECT_GE(elapsed, std::chrono::milliseconds(40));
    // It stopped waiting: the bound catches a wait without end, or 50 taken as seconds, never
    // a slow machine.
    EXPECT_LT(elapsed, std::chrono::seconds(30)) << "receive() with a 50 ms timeout hung";
}

TEST(OscServer, SendFailsCleanly) {
    OscServer server("127.0.0.1", 0);
    EXPECT_FALSE(server.send(OscEndpoint{}, {"/x", {}}));  // no destination
    const OscEndpoint to = UdpClient::endpoint("127.0.0.1", 9);
    EXPECT_FALSE(server.send(to, {"bad address", {}}));  // encode throws inside a noexcept
}

TEST(OscServer, LargestIpv4DatagramArrivesWhole) {
    OscServer server("127.0.0.1", 0);
    UdpClient client;
    const Bytes big(kMaxOscPacketBytes, 0xAB);
    ASSERT_TRUE(client.send_to("127.0.0.1", server.port(), big));
    Bytes packet;
    OscEndpoint from;
    bool truncated = true;
    ASSERT_TRUE(server.receive(packet, from, truncated, kArrivalMs))
        << test::hung("the datagram's arrival");
    EXPECT_FALSE(truncated);
    EXPECT_EQ(packet, big);
}

TEST(OscServer, OversizedIpv6DatagramIsFlaggedTruncated) {
    if (!ipv6_loopback_available()) GTEST_SKIP() << "no IPv6 loopback";
    OscServer server("::1", 0);
    UdpClient client(AF_INET6);
    const Bytes big(kMaxOscPacketBytes + 16, 0xCD);  // fits IPv6's larger UDP payload
    ASSERT_TRUE(client.send_to("::1", server.port(), big));
    Bytes packet;
    OscEndpoint from;
    bool truncated = false;
    ASSERT_TRUE(server.receive(packet, from, truncated, kArrivalMs))
        << test::hung("the datagram's arrival");
    EXPECT_TRUE(truncated);
    EXPECT_EQ(packet.size(), kMaxOscPacketBytes + 1);
    EXPECT_EQ(from.to_string(), "[::1]:" + std::to_string(client.port()));
    EXPECT_THROW(decode(packet), OscDecodeError);
}

TEST(OscServer, DualStackServerRepliesToIpv4Peer) {
    if (!ipv6_loopback_available()) GTEST_SKIP() << "no IPv6";
    std::ifstream v6only("/proc/sys/net/ipv6/bindv6only");
    int only = 0;
    if (v6only >> only && only != 0) GTEST_SKIP() << "IPv6 sockets are v6-only here";
    OscServer server("::", 0);
    UdpClient client;  // IPv4
    // resolve_url prefers IPv4, so send() must map it for the IPv6 socket.
    const OscEndpoint to = UdpClient::endpoint("127.0.0.1", client.port());
    ASSERT_EQ(to.addr.ss_family, AF_INET);
    ASSERT_TRUE(server.send(to, {"/pong", {OscArg::int32(9)}}));
    Bytes reply;
    ASSERT_TRUE(client.receive(reply)) << test::hung("the reply's arrival");
    const auto decoded = decode(reply);
    ASSERT_EQ(decoded.size(), 1U);
    EXPECT_EQ(decoded[0].address, "/pong");
}

TEST(OscServer, ResolveUrlAcceptsUdpUrls) {
    std::string error;
    auto numeric = OscServer::resolve_url("osc.udp://127.0.0.1:9000/", error);
    ASSERT_TRUE(numeric.has_value()) << error;
    EXPECT_EQ(numeric->to_string(), "127.0.0.1:9000");

    auto named = OscServer::resolve_url("osc.udp://localhost:9000/", error);
    ASSERT_TRUE(named.has_value()) << error;
    const std::string text = named->to_string();
    EXPECT_TRUE(text == "127.0.0.1:9000" || text == "[::1]:9000") << text;

    auto no_slash = OscServer::resolve_url("osc.udp://127.0.0.1:1", error);
    ASSERT_TRUE(no_slash.has_value()) << error;
    EXPECT_EQ(no_slash->to_string(), "127.0.0.1:1");

    auto v6 = OscServer::resolve_url("osc.udp://[::1]:65535/", error);
    ASSERT_TRUE(v6.has_value()) << error;
    EXPECT_EQ(v6->to_string(), "[::1]:65535");
}

TEST(OscServer, ResolveUrlRejectsBadUrls) {
    for (const char* url :
         {"osc.tcp://127.0.0.1:9000/", "garbage", "", "osc.udp://127.0.0.1:0/",
          "osc.udp://127.0.0.1:70000/", "osc.udp://127.0.0.1/", "osc.udp://:9000/",
          "osc.udp://127.0.0.1:90x0/", "osc.udp://127.0.0.1:-1/", "osc.udp://[::1/"}) {
        SCOPED_TRACE(url);
        std::string error;
        EXPECT_FALSE(OscServer::resolve_url(url, error).has_value());
        EXPECT_EQ(error.rfind("bad reply URL '" + std::string(url) + "': ", 0), 0U) << error;
    }
}

}  // namespace
TEST(OscCodec, BundleEncodesHeaderTimetagAndSizedElements) {
    const OscMessage a{"/a", {OscArg::int32(7)}};
    const OscMessage b{"/slot/1/gain", {OscArg::float32(0.5F)}};
    const Bytes bundle = encode_osc_bundle({a, b});
    const Bytes ea = encode_osc_message(a);
    const Bytes eb = encode_osc_message(b);
    ASSERT_EQ(bundle.size(), 16 + 4 + ea.size() + 4 + eb.size());
    EXPECT_EQ(std::string(bundle.begin(), bundle.begin() + 8), std::string("#bundle\0", 8));
    // Timetag 1 ("immediately"), big-endian.
    EXPECT_EQ(Bytes(bundle.begin() + 8, bundle.begin() + 16), (Bytes{0, 0, 0, 0, 0, 0, 0, 1}));
    EXPECT_EQ(Bytes(bundle.begin() + 16, bundle.begin() + 20),
              (Bytes{0, 0, 0, static_cast<std::uint8_t>(ea.size())}));
    const auto decoded = decode_osc_packet(bundle.data(), bundle.size());
    ASSERT_EQ(decoded.size(), 2U);
    EXPECT_EQ(decoded[0].address, "/a");
    EXPECT_EQ(decoded[0].timetag, 1U);
    EXPECT_FLOAT_EQ(decoded[1].args[0].f, 0.5F);
    EXPECT_THROW(encode_osc_bundle({OscMessage{"nope", {}}}), OscDecodeError);
}

TEST(OscCodec, BundlesSplitWithinTheSizeLimitAndKeepOrder) {
    std::vector<OscMessage> messages;
    for (int i = 0; i < 500; ++i)
        messages.push_back({"/slot/" + std::to_string(i) + "/gain", {OscArg::float32(0.25F)}});
    const auto datagrams = encode_osc_bundles(messages, 1024);
    EXPECT_GT(datagrams.size(), 10U);
    std::vector<OscMessage> all;
    for (const auto& d : datagrams) {
        EXPECT_LE(d.size(), 1024U);
        for (auto& m : decode_osc_packet(d.data(), d.size())) all.push_back(std::move(m));
    }
    ASSERT_EQ(all.size(), messages.size());
    for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].address, messages[i].address);
    // A message too big for the limit travels alone; nothing at all: no datagram.
    const OscMessage big{"/big", {OscArg::string(std::string(2000, 'x'))}};
    const auto alone = encode_osc_bundles({messages[0], big, messages[1]}, 1024);
    ASSERT_EQ(alone.size(), 3U);
    EXPECT_GT(alone[1].size(), 1024U);
    EXPECT_TRUE(encode_osc_bundles({}, 1024).empty());
}

}  // namespace looperd

namespace {

// An address of 256 bytes decodes; one byte more is refused before it is copied.
TEST(OscCodecLimits, AddressLengthIsBounded) {
    const std::string longest = "/" + std::string(looperd::kMaxOscAddressBytes - 1, 'a');
    const auto ok = looperd::encode_osc_message(looperd::OscMessage{longest, {}});
    const auto messages = looperd::decode_osc_packet(ok.data(), ok.size());
    ASSERT_EQ(messages.size(), 1U);
    EXPECT_EQ(messages[0].address, longest);
    const auto too_long = looperd::encode_osc_message(looperd::OscMessage{longest + "b", {}});
    EXPECT_THROW(looperd::decode_osc_packet(too_long.data(), too_long.size()),
                 looperd::OscDecodeError);
}

}  // namespace
