// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "io/window_limiter.hpp"

#include <algorithm>

namespace looperd {

KeyedWindowLimiter::KeyedWindowLimiter(std::uint32_t limit, LimiterClock::duration window,
                                       std::size_t max_keys, Overflow overflow)
    : limit_(limit),
      window_(window),
      max_keys_(std::max<std::size_t>(max_keys, 1)),
      overflow_(overflow) {
    entries_.reserve(max_keys_ + 1);
}

void KeyedWindowLimiter::expire(LimiterClock::time_point now, std::vector<Suppressed>& ended) {
    // Closed windows leave the table: a key only holds a place while it is being limited.
    auto keep = std::remove_if(entries_.begin(), entries_.end(), [&](const Entry& e) {
        if (now - e.window_start < window_) return false;
        if (e.held > 0) ended.push_back({e.key, e.held});
        return true;
    });
    entries_.erase(keep, entries_.end());
}

bool KeyedWindowLimiter::admit(std::string_view key, LimiterClock::time_point now,
                               std::vector<Suppressed>& ended) {
    expire(now, ended);
    auto find = [this](std::string_view k) {
        return std::find_if(entries_.begin(), entries_.end(),
                            [k](const Entry& e) { return e.key == k; });
    };
    auto it = find(key);
    if (it == entries_.end() && overflow_ == Overflow::forget_oldest) {
        if (entries_.size() >= max_keys_) {
            auto oldest = std::min_element(
                entries_.begin(), entries_.end(),
                [](const Entry& a, const Entry& b) { return a.window_start < b.window_start; });
            if (oldest->held > 0) ended.push_back({oldest->key, oldest->held});
            entries_.erase(oldest);
        }
        entries_.push_back(Entry{std::string(key), now, 0, 0});
        it = entries_.end() - 1;
    } else if (it == entries_.end()) {
        // The overflow key takes its place beyond max_keys_ (it may be the one extra entry).
        const std::size_t named = static_cast<std::size_t>(std::count_if(
            entries_.begin(), entries_.end(), [](const Entry& e) { return !e.key.empty(); }));
        if (!key.empty() && named >= max_keys_) key = {};
        it = find(key);
        if (it == entries_.end()) {
            entries_.push_back(Entry{std::string(key), now, 0, 0});
            it = entries_.end() - 1;
        }
    }
    if (it->passed < limit_) {
        ++it->passed;
        return true;
    }
    ++it->held;
    ++suppressed_total_;
    return false;
}

}  // namespace looperd
