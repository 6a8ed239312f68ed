// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "load_kit.hpp"

namespace looperd::load {

// One datagram of the garbage mix and what it is, for the figures.
struct GarbageItem {
    std::string kind;
    Bytes bytes;
};

// A deterministic mix (from `seed`) of `count` datagrams: about a quarter well-formed OSC that
// leaves slots 0 to 2 and everything global alone (pings, status, queries, parameters of slots
// 3 to 9, bundles up to the nesting limit), the rest malformed: random bytes, truncated
// messages, wrong or lying type tags, lying sizes, bundles nested too deep or holding too many
// messages, over-long addresses, out-of-range values, and a few datagrams of UDP's maximum size.
std::vector<GarbageItem> make_garbage(std::size_t count, std::uint32_t seed);

}  // namespace looperd::load
