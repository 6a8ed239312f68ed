// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace looperd {

// A slot's region in a buffer's frames: [begin, end), from its `/start` and `/end` fractions.
// One rule for everyone who needs it (voices, region changes, the stretch thread), so that a
// rendering is made of exactly the frames a voice would play: each fraction rounded to the
// nearest frame, at least one frame long, within the buffer.
struct Region {
    std::uint32_t begin = 0;
    std::uint32_t end = 0;
};

// Any thread. Wait-free. A buffer of no frames (a take being recorded) has an empty region.
inline Region region_frames(float start, float end, std::uint32_t frames) noexcept {
    if (frames == 0) return {};
    auto at = [frames](float fraction) {
        const double f = std::clamp(static_cast<double>(fraction), 0.0, 1.0);
        return static_cast<std::uint32_t>(std::lround(f * static_cast<double>(frames)));
    };
    const std::uint32_t begin = std::min(at(start), frames - 1);
    return {begin, std::clamp(at(end), begin + 1, frames)};
}

}  // namespace looperd
