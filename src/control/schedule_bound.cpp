// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "control/schedule_bound.hpp"

#include <algorithm>
#include <functional>

namespace looperd {

namespace {

// Scheduling further ahead than this is refused.
constexpr double kMaxAheadSeconds = 3600.0;

}  // namespace

ScheduleBound::ScheduleBound(std::size_t capacity) : capacity_(capacity) {
    pending_.reserve(capacity);
}

void ScheduleBound::advance(std::uint64_t now_frame) {
    now_ = now_frame;
    while (!pending_.empty() && pending_.front() <= now_) {
        std::pop_heap(pending_.begin(), pending_.end(), std::greater<>{});
        pending_.pop_back();
    }
}

ScheduleBound::Verdict ScheduleBound::admit(std::uint64_t frame, std::size_t reserved,
                                            std::uint32_t sample_rate) {
    if (frame <= now_) return Verdict::ok;  // next block, or late: applied at once
    if (static_cast<double>(frame - now_) > kMaxAheadSeconds * static_cast<double>(sample_rate))
        return Verdict::too_far;
    if (pending_.size() + reserved >= capacity_) {
        ++refused_;
        return Verdict::full;
    }
    return Verdict::ok;
}

void ScheduleBound::note(std::uint64_t frame) {
    if (frame <= now_) return;
    pending_.push_back(frame);
    std::push_heap(pending_.begin(), pending_.end(), std::greater<>{});
}

}  // namespace looperd
