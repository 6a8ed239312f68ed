// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "garbage.hpp"

#include <cmath>
#include <limits>

namespace looperd::load {

namespace {

// xorshift32: the same mix on every run and machine.
class Random {
  public:
    explicit Random(std::uint32_t seed) : x_(seed * 2654435761U + 1U) {}
    std::uint32_t next() {
        x_ ^= x_ << 13;
        x_ ^= x_ >> 17;
        x_ ^= x_ << 5;
        return x_;
    }
    // In [lo, hi].
    std::uint32_t in(std::uint32_t lo, std::uint32_t hi) { return lo + next() % (hi - lo + 1); }
    float unit() { return static_cast<float>(next() >> 8) / 16777216.0F; }

  private:
    std::uint32_t x_;
};

Bytes random_bytes(Random& r, std::size_t n) {
    Bytes b(n);
    for (auto& v : b) v = static_cast<std::uint8_t>(r.next());
    return b;
}

std::string slot_address(Random& r, const char* what) {
    return "/slot/" + std::to_string(r.in(3, 9)) + "/" + what;
}

// Well-formed OSC that changes nothing looperd plays on slots 0 to 2.
GarbageItem valid(Random& r) {
    switch (r.in(0, 9)) {
        case 0:
            return {"valid /ping", osc_message("/ping")};
        case 1:
            return {"valid /status", osc_message("/status")};
        case 2:
            return {"valid gain", osc_message_f(slot_address(r, "gain"), 4.0F * r.unit())};
        case 3:
            return {"valid pan", osc_message_f(slot_address(r, "pan"), 2.0F * r.unit() - 1.0F)};
        case 4:
            return {"valid rate", osc_message_f(slot_address(r, "rate"), 0.5F + r.unit())};
        case 5:
            return {"valid info", osc_message(slot_address(r, "info"))};
        case 6:
            return {"valid mode", osc_message_s(slot_address(r, "mode"), "loop")};
        case 7:
            return {"valid bundle", osc_bundle(1, {osc_message_f(slot_address(r, "gain"), r.unit()),
                                                   osc_message_f(slot_address(r, "pan"), 0.0F),
                                                   osc_message("/ping")})};
        case 8: {
            // Nested exactly as deep as looperd allows.
            Bytes b = osc_message_f(slot_address(r, "gain"), r.unit());
            for (int d = 0; d < 8; ++d) b = osc_bundle(1, {b});
            return {"valid 8-deep bundle", b};
        }
        default:
            return {"valid /slots", osc_message("/slots")};
    }
}

GarbageItem malformed(Random& r) {
    switch (r.in(0, 15)) {
        case 0:
            return {"random bytes", random_bytes(r, r.in(1, 600))};
        case 1: {
            Bytes b = random_bytes(r, r.in(4, 200));
            b[0] = '/';
            return {"random after '/'", b};
        }
        case 2: {
            Bytes b = random_bytes(r, r.in(16, 200));
            const std::string tag = "#bundle";
            std::copy(tag.begin(), tag.end(), b.begin());
            b[7] = 0;
            return {"random bundle body", b};
        }
        case 3: {
            Bytes b = valid(r).bytes;
            b.resize(r.in(1, static_cast<std::uint32_t>(b.size() - 1)));
            return {"truncated", b};
        }
        case 4:
            return {"unknown type tag",
                    OscWriter().str(slot_address(r, "gain")).str(",x").u32(1).take()};
        case 5:
            // Tags promise three floats; one is there.
            return {"tags beyond data",
                    OscWriter().str(slot_address(r, "gain")).str(",fff").f32(0.5F).take()};
        case 6:
            return {"no type tags", OscWriter().str(slot_address(r, "gain")).f32(0.5F).take()};
        case 7: {
            // A string argument with no terminating NUL, up to the end of the datagram.
            Bytes b = OscWriter().str(slot_address(r, "mode")).str(",s").take();
            for (int k = 0; k < 64; ++k) b.push_back('a');
            return {"unterminated string", b};
        }
        case 8:
            return {
                "blob of lying size",
                OscWriter().str(slot_address(r, "gain")).str(",b").u32(0x7FFFFFF0U).u32(0).take()};
        case 9: {
            OscWriter w;
            w.str("#bundle").u64(1).u32(r.next() | 0x80000000U).raw(osc_message("/ping"));
            return {"bundle element of lying size", w.take()};
        }
        case 10: {
            Bytes b = osc_message("/ping");
            for (std::uint32_t d = 0, n = r.in(9, 40); d < n; ++d) b = osc_bundle(1, {b});
            return {"bundle nested too deep", b};
        }
        case 11: {
            std::vector<Bytes> many(1100, osc_message("/a"));
            return {"bundle of 1100 messages", osc_bundle(1, many)};
        }
        case 12:
            return {"address over 256 bytes",
                    osc_message_f("/slot/5/" + std::string(r.in(300, 1000), 'g'), 1.0F)};
        case 13: {
            const float bad[] = {std::numeric_limits<float>::quiet_NaN(),
                                 std::numeric_limits<float>::infinity(), -1.0F, 1e30F};
            return {"value out of range", osc_message_f(slot_address(r, "gain"), bad[r.in(0, 3)])};
        }
        case 14: {
            // A timetag more than an hour ahead, and a slot beyond the table.
            return {"refused bundle", osc_bundle(ntp_now(std::chrono::hours(3)),
                                                 {osc_message_f("/slot/4000/gain", 1.0F)})};
        }
        default: {
            const char* tags[] = {",h", ",d", ",T", ",N", ",S", ",c", ",m", ",[f]"};
            return {"odd type tags",
                    OscWriter().str(slot_address(r, "gain")).str(tags[r.in(0, 7)]).u64(0).take()};
        }
    }
}

}  // namespace

std::vector<GarbageItem> make_garbage(std::size_t count, std::uint32_t seed) {
    Random r(seed);
    std::vector<GarbageItem> out;
    out.reserve(count);
    for (std::size_t k = 0; k < count; ++k) {
        if (k % 2048 == 1023) {
            // UDP's largest datagram: the most any one read can cost.
            out.push_back({"65507 random bytes", random_bytes(r, 65507)});
        } else if (r.in(0, 3) == 0) {
            out.push_back(valid(r));
        } else {
            out.push_back(malformed(r));
        }
    }
    return out;
}

}  // namespace looperd::load
