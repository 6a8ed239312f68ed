// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "io/rate_limiter.hpp"

#include <algorithm>

namespace looperd {

bool TokenBucket::try_take(LimiterClock::time_point now) noexcept {
    if (now > last_) {
        const double seconds = std::chrono::duration<double>(now - last_).count();
        tokens_ = std::min(burst_, tokens_ + seconds * rate_);
        last_ = now;
    }
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
}

SourceRateLimiter::SourceRateLimiter(std::uint32_t rate, std::uint32_t burst,
                                     std::size_t max_sources)
    : rate_(rate), burst_(std::max<std::uint32_t>(burst, 1)), max_sources_(max_sources) {
    entries_.reserve(max_sources_);
}

bool SourceRateLimiter::admit(const IpAddress& source, LimiterClock::time_point now) {
    if (rate_ <= 0.0) return true;
    auto it = std::find_if(entries_.begin(), entries_.end(),
                           [&source](const Entry& e) { return e.source == source; });
    if (it == entries_.end()) {
        if (entries_.size() >= max_sources_) {
            it = std::min_element(
                entries_.begin(), entries_.end(),
                [](const Entry& a, const Entry& b) { return a.last_seen < b.last_seen; });
            *it = Entry{source, TokenBucket(rate_, burst_, now), now};
        } else {
            entries_.push_back(Entry{source, TokenBucket(rate_, burst_, now), now});
            it = entries_.end() - 1;
        }
    }
    it->last_seen = std::max(it->last_seen, now);
    return it->bucket.try_take(now);
}

KeyedWindowLimiter::KeyedWindowLimiter(std::uint32_t limit, LimiterClock::duration window,
                                       std::size_t max_keys)
    : limit_(limit), window_(window), max_keys_(std::max<std::size_t>(max_keys, 1)) {
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
    if (it == entries_.end()) {
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
