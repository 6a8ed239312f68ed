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

}  // namespace looperd
