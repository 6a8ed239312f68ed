// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <cstdint>

namespace looperd {

// InputBlock: the host's input channels for the block being processed. A view: the host owns
// the frames, valid for that block only. Audio thread only.
struct InputBlock {
    const float* const* channels = nullptr;  // nullptr: the host passed no inputs
    std::uint32_t count = 0;                 // channels usable: the host's, at most the config's

    // Input pair `pair` (1..): in_2k-1 and in_2k. A pair whose right input does not exist is
    // mono (left on both sides); pair 0 or a pair beyond the inputs is silence (nullptr).
    // Audio thread. Wait-free; does not allocate.
    void pair(std::uint32_t pair, const float*& left, const float*& right) const noexcept {
        left = right = nullptr;
        if (pair == 0 || channels == nullptr) return;
        const std::uint32_t l = 2 * (pair - 1);
        if (l >= count) return;
        left = channels[l];
        right = l + 1 < count ? channels[l + 1] : left;
    }
};

}  // namespace looperd
