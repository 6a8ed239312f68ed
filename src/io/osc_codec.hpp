// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace looperd {

// One OSC argument. `type` is the OSC type tag; only the field that type uses is set.
// Types decoded with values: i (int32), h (int64), f (float32), d (float64), s and S
// (string), T, F, N, I (no payload). Any other tag (blob b, midi m, ...) is kept with its
// tag only, so that handlers can reject it as a wrong type.
struct OscArg {
    char type = 'N';
    std::int32_t i = 0;
    std::int64_t h = 0;
    float f = 0.0F;
    double d = 0.0;
    std::string s;

    static OscArg int32(std::int32_t v);
    static OscArg float32(float v);
    static OscArg string(std::string v);
};

struct OscMessage {
    std::string address;
    std::vector<OscArg> args;
    // When the message is due: 0 when it did not come in a bundle, 1 for "immediately", else
    // the NTP time (32.32 fixed point, seconds since 1900) of its innermost enclosing bundle.
    std::uint64_t timetag = 0;

    std::string type_tags() const;  // "ifs" for (int, float, string)
};

class OscDecodeError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Decoding limits: datagrams beyond these are refused whole, before any allocation they
// would size.
inline constexpr std::size_t kMaxOscPacketBytes = 65507;  // largest UDP payload over IPv4
inline constexpr int kMaxOscBundleDepth = 8;
inline constexpr std::size_t kMaxOscMessagesPerPacket = 1024;
// Longer than any address looperd answers ("/slot/4095/start_seconds") by far.
inline constexpr std::size_t kMaxOscAddressBytes = 256;

// Decodes one datagram: a message, or a bundle (nested up to kMaxOscBundleDepth) flattened
// to its messages in order, each carrying the timetag of its innermost bundle (applying it is
// the caller's business).
// Framing, sizes and type tags are checked here with unsigned arithmetic; liblo is not used.
// Throws OscDecodeError with a reason ("truncated bundle element", ...).
std::vector<OscMessage> decode_osc_packet(const std::uint8_t* data, std::size_t size);

// Encodes one message as an OSC 1.0 datagram. Throws OscDecodeError on an address that is
// not an OSC address.
std::vector<std::uint8_t> encode_osc_message(const OscMessage& message);

// The timetag that means "apply on receipt".
inline constexpr std::uint64_t kOscTimetagImmediately = 1;

// Encodes messages as one OSC 1.0 bundle (each message's own timetag is ignored). Throws
// OscDecodeError as encode_osc_message does, or when the bundle exceeds kMaxOscPacketBytes.
std::vector<std::uint8_t> encode_osc_bundle(const std::vector<OscMessage>& messages,
                                            std::uint64_t timetag = kOscTimetagImmediately);

// Encodes messages, in order, as as few bundles as keep each datagram within `max_bytes`; a
// message too large to fit any bundle of that size travels alone in one larger bundle. No
// messages: no datagrams.
std::vector<std::vector<std::uint8_t>> encode_osc_bundles(
    const std::vector<OscMessage>& messages, std::size_t max_bytes,
    std::uint64_t timetag = kOscTimetagImmediately);

}  // namespace looperd
