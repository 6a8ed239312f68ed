// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// OSC 1.0 is decoded and encoded here in our own code, not with liblo: every length is checked
// against the bytes left with unsigned arithmetic, no type is ever coerced into another, and the
// only allocations are the strings and vectors of the result, all bounded by the datagram size.

#include "io/osc_codec.hpp"

#include <bit>
#include <cstring>
#include <string_view>
#include <utility>

namespace looperd {

OscArg OscArg::int32(std::int32_t v) {
    OscArg arg;
    arg.type = 'i';
    arg.i = v;
    return arg;
}

OscArg OscArg::float32(float v) {
    OscArg arg;
    arg.type = 'f';
    arg.f = v;
    return arg;
}

OscArg OscArg::string(std::string v) {
    OscArg arg;
    arg.type = 's';
    arg.s = std::move(v);
    return arg;
}

std::string OscMessage::type_tags() const {
    std::string tags;
    tags.reserve(args.size());
    for (const OscArg& arg : args) tags.push_back(arg.type);
    return tags;
}

namespace {

constexpr char kBundleTag[8] = {'#', 'b', 'u', 'n', 'd', 'l', 'e', '\0'};
constexpr std::size_t kBundleHeaderBytes = sizeof(kBundleTag) + 8;  // tag + timetag

std::uint32_t load_be32(const std::uint8_t* p) noexcept {
    return (std::uint32_t{p[0]} << 24U) | (std::uint32_t{p[1]} << 16U) |
           (std::uint32_t{p[2]} << 8U) | std::uint32_t{p[3]};
}

std::uint64_t load_be64(const std::uint8_t* p) noexcept {
    return (std::uint64_t{load_be32(p)} << 32U) | load_be32(p + 4);
}

void store_be32(std::vector<std::uint8_t>& out, std::uint32_t v) {
    out.push_back(static_cast<std::uint8_t>(v >> 24U));
    out.push_back(static_cast<std::uint8_t>(v >> 16U));
    out.push_back(static_cast<std::uint8_t>(v >> 8U));
    out.push_back(static_cast<std::uint8_t>(v));
}

void store_be64(std::vector<std::uint8_t>& out, std::uint64_t v) {
    store_be32(out, static_cast<std::uint32_t>(v >> 32U));
    store_be32(out, static_cast<std::uint32_t>(v));
}

// Writes `s` with its terminating NUL and zero padding to a multiple of 4.
void store_string(std::vector<std::uint8_t>& out, std::string_view s) {
    out.insert(out.end(), s.begin(), s.end());
    do {
        out.push_back(0);
    } while (out.size() % 4 != 0);
}

bool is_bundle(const std::uint8_t* data, std::size_t size) noexcept {
    return size >= sizeof(kBundleTag) && std::memcmp(data, kBundleTag, sizeof(kBundleTag)) == 0;
}

// Returns the length of the NUL-terminated string at the start of `data` and stores in
// `padded` the bytes it occupies (NUL and padding included). Throws if either runs past `size`.
std::size_t read_string(const std::uint8_t* data, std::size_t size, std::size_t& padded,
                        const char* what) {
    const void* nul = std::memchr(data, 0, size);
    if (nul == nullptr) throw OscDecodeError(std::string("unterminated ") + what);
    const auto length = static_cast<std::size_t>(static_cast<const std::uint8_t*>(nul) - data);
    padded = (length + 4) & ~std::size_t{3};  // length + NUL, rounded up to 4
    // Unreachable while every offset and size stays 4-aligned; kept so this stands alone.
    if (padded > size) throw OscDecodeError(std::string("truncated ") + what);
    return length;
}

// Bytes of payload for the fixed-size types; blob ('b') is handled apart.
int fixed_payload_bytes(char tag) {
    switch (tag) {
        case 'i':
        case 'f':
        case 'c':
        case 'r':
        case 'm':
            return 4;
        case 'h':
        case 'd':
        case 't':
            return 8;
        case 'T':
        case 'F':
        case 'N':
        case 'I':
        case '[':
        case ']':
            return 0;
        default:
            return -1;
    }
}

OscMessage decode_message(const std::uint8_t* data, std::size_t size) {
    if (size == 0) throw OscDecodeError("empty message");
    if (data[0] != '/') throw OscDecodeError("address does not start with '/'");

    OscMessage message;
    std::size_t padded = 0;
    const std::size_t address_length = read_string(data, size, padded, "address");
    if (address_length > kMaxOscAddressBytes) {
        throw OscDecodeError("address longer than " + std::to_string(kMaxOscAddressBytes) +
                             " bytes");
    }
    message.address.assign(reinterpret_cast<const char*>(data), address_length);
    std::size_t pos = padded;

    if (pos == size) throw OscDecodeError("missing type tag string");
    if (data[pos] != ',') throw OscDecodeError("type tag string does not start with ','");
    const std::size_t tags_length = read_string(data + pos, size - pos, padded, "type tag string");
    const std::string_view tags(reinterpret_cast<const char*>(data + pos + 1), tags_length - 1);
    pos += padded;

    // Invariant from here on: pos <= size, so `size - pos` never wraps.
    message.args.reserve(tags.size());
    for (const char tag : tags) {
        OscArg arg;
        arg.type = tag;
        const std::uint8_t* p = data + pos;
        const std::size_t left = size - pos;
        if (tag == 's' || tag == 'S') {
            const std::size_t length = read_string(p, left, padded, "string argument");
            arg.s.assign(reinterpret_cast<const char*>(p), length);
            pos += padded;
        } else if (tag == 'b') {
            if (left < 4) throw OscDecodeError("truncated blob size");
            // 64-bit so that a size of 0xFFFFFFFF rounds up without wrapping on any target.
            const std::uint64_t blob_bytes = (std::uint64_t{load_be32(p)} + 3U) & ~std::uint64_t{3};
            if (blob_bytes > left - 4) throw OscDecodeError("truncated blob");
            pos += 4 + static_cast<std::size_t>(blob_bytes);
        } else {
            const int bytes = fixed_payload_bytes(tag);
            if (bytes < 0) throw OscDecodeError(std::string("unsupported type tag '") + tag + "'");
            if (left < static_cast<std::size_t>(bytes)) {
                throw OscDecodeError(std::string("truncated argument '") + tag + "'");
            }
            switch (tag) {
                case 'i':
                    arg.i = static_cast<std::int32_t>(load_be32(p));
                    break;
                case 'f':
                    arg.f = std::bit_cast<float>(load_be32(p));
                    break;
                case 'h':
                    arg.h = static_cast<std::int64_t>(load_be64(p));
                    break;
                case 'd':
                    arg.d = std::bit_cast<double>(load_be64(p));
                    break;
                default:
                    break;  // no payload, or one we skip and keep as its tag only
            }
            pos += static_cast<std::size_t>(bytes);
        }
        message.args.push_back(std::move(arg));
    }
    if (pos != size) throw OscDecodeError("trailing bytes after arguments");
    return message;
}

void decode_element(const std::uint8_t* data, std::size_t size, int depth, std::uint64_t timetag,
                    std::vector<OscMessage>& out);

// `depth` is 1 for a bundle that is the whole datagram.
void decode_bundle(const std::uint8_t* data, std::size_t size, int depth,
                   std::vector<OscMessage>& out) {
    if (depth > kMaxOscBundleDepth) {
        throw OscDecodeError("bundles nested deeper than " + std::to_string(kMaxOscBundleDepth));
    }
    if (size < kBundleHeaderBytes || !is_bundle(data, size)) {
        throw OscDecodeError("truncated bundle header");
    }
    // OSC 1.0 leaves a nested bundle's own timetag in force for its contents, so the innermost
    // one wins.
    const std::uint64_t timetag = load_be64(data + sizeof(kBundleTag));
    std::size_t pos = kBundleHeaderBytes;
    while (pos < size) {
        // Invariant: pos < size, so `size - pos` is the positive count of bytes left.
        if (size - pos < 4) throw OscDecodeError("truncated bundle element size");
        const std::uint32_t element = load_be32(data + pos);
        pos += 4;
        if (element == 0) throw OscDecodeError("empty bundle element");
        if (element % 4 != 0) throw OscDecodeError("bundle element size not a multiple of 4");
        if (element > size - pos) throw OscDecodeError("truncated bundle element");
        decode_element(data + pos, element, depth, timetag, out);
        pos += element;
    }
}

// `timetag`: that of the enclosing bundle, 0 for an element that is the whole datagram.
void decode_element(const std::uint8_t* data, std::size_t size, int depth, std::uint64_t timetag,
                    std::vector<OscMessage>& out) {
    if (is_bundle(data, size)) {
        decode_bundle(data, size, depth + 1, out);
        return;
    }
    if (out.size() >= kMaxOscMessagesPerPacket) {
        throw OscDecodeError("more than " + std::to_string(kMaxOscMessagesPerPacket) +
                             " messages in one packet");
    }
    out.push_back(decode_message(data, size));
    out.back().timetag = timetag;
}

}  // namespace

std::vector<OscMessage> decode_osc_packet(const std::uint8_t* data, std::size_t size) {
    if (size == 0 || data == nullptr) throw OscDecodeError("empty packet");
    if (size > kMaxOscPacketBytes) {
        throw OscDecodeError("packet of " + std::to_string(size) + " bytes exceeds the limit of " +
                             std::to_string(kMaxOscPacketBytes));
    }
    if (size % 4 != 0) {
        throw OscDecodeError("packet size " + std::to_string(size) + " is not a multiple of 4");
    }
    std::vector<OscMessage> messages;
    decode_element(data, size, 0, 0, messages);
    return messages;
}

std::vector<std::uint8_t> encode_osc_message(const OscMessage& message) {
    const std::string& address = message.address;
    if (address.empty() || address.front() != '/' || address.find('\0') != std::string::npos) {
        throw OscDecodeError("not an OSC address: '" + address + "'");
    }

    std::string tags = ",";
    tags += message.type_tags();

    std::vector<std::uint8_t> out;
    out.reserve(address.size() + tags.size() + 8 + message.args.size() * 8);
    store_string(out, address);
    store_string(out, tags);
    for (const OscArg& arg : message.args) {
        switch (arg.type) {
            case 'i':
                store_be32(out, static_cast<std::uint32_t>(arg.i));
                break;
            case 'h':
                store_be64(out, static_cast<std::uint64_t>(arg.h));
                break;
            case 'f':
                store_be32(out, std::bit_cast<std::uint32_t>(arg.f));
                break;
            case 'd':
                store_be64(out, std::bit_cast<std::uint64_t>(arg.d));
                break;
            case 's':
            case 'S':
                // An embedded NUL would end the string early and misalign every later argument.
                if (arg.s.find('\0') != std::string::npos) {
                    throw OscDecodeError("string argument contains a NUL byte");
                }
                store_string(out, arg.s);
                break;
            case 'T':
            case 'F':
            case 'N':
            case 'I':
                break;
            default:
                throw OscDecodeError(std::string("cannot encode type tag '") + arg.type + "'");
        }
    }
    if (out.size() > kMaxOscPacketBytes) {
        throw OscDecodeError("encoded message of " + std::to_string(out.size()) +
                             " bytes exceeds the limit of " + std::to_string(kMaxOscPacketBytes));
    }
    return out;
}

namespace {

// The bundle header ("#bundle", timetag) followed by each element's size and bytes.
std::vector<std::uint8_t> assemble_bundle(const std::vector<std::vector<std::uint8_t>>& elements,
                                          std::size_t first, std::size_t last,
                                          std::uint64_t timetag) {
    std::vector<std::uint8_t> out(std::begin(kBundleTag), std::end(kBundleTag));
    store_be64(out, timetag);
    for (std::size_t i = first; i < last; ++i) {
        store_be32(out, static_cast<std::uint32_t>(elements[i].size()));
        out.insert(out.end(), elements[i].begin(), elements[i].end());
    }
    if (out.size() > kMaxOscPacketBytes) {
        throw OscDecodeError("encoded bundle of " + std::to_string(out.size()) +
                             " bytes exceeds the limit of " + std::to_string(kMaxOscPacketBytes));
    }
    return out;
}

}  // namespace

std::vector<std::uint8_t> encode_osc_bundle(const std::vector<OscMessage>& messages,
                                            std::uint64_t timetag) {
    std::vector<std::vector<std::uint8_t>> elements;
    elements.reserve(messages.size());
    for (const auto& m : messages) elements.push_back(encode_osc_message(m));
    return assemble_bundle(elements, 0, elements.size(), timetag);
}

std::vector<std::vector<std::uint8_t>> encode_osc_bundles(const std::vector<OscMessage>& messages,
                                                          std::size_t max_bytes,
                                                          std::uint64_t timetag) {
    std::vector<std::vector<std::uint8_t>> elements;
    elements.reserve(messages.size());
    for (const auto& m : messages) elements.push_back(encode_osc_message(m));
    std::vector<std::vector<std::uint8_t>> out;
    std::size_t first = 0;
    std::size_t size = kBundleHeaderBytes;
    for (std::size_t i = 0; i < elements.size(); ++i) {
        const std::size_t element = 4 + elements[i].size();
        // Close the current bundle when this element would overflow it (never an empty one).
        if (i > first && size + element > max_bytes) {
            out.push_back(assemble_bundle(elements, first, i, timetag));
            first = i;
            size = kBundleHeaderBytes;
        }
        size += element;
    }
    if (first < elements.size())
        out.push_back(assemble_bundle(elements, first, elements.size(), timetag));
    return out;
}

}  // namespace looperd
