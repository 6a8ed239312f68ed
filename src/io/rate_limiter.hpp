// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "io/net_allowlist.hpp"
#include "io/window_limiter.hpp"

namespace looperd {

// TokenBucket: `rate` tokens a second, holding at most `burst`. Starts full.
class TokenBucket {
  public:
    TokenBucket(double rate, double burst, LimiterClock::time_point now) noexcept
        : rate_(rate), burst_(burst), tokens_(burst), last_(now) {}

    // Takes one token if there is one. Time going backwards adds nothing.
    bool try_take(LimiterClock::time_point now) noexcept;

  private:
    double rate_;
    double burst_;
    double tokens_;
    LimiterClock::time_point last_;
};

// SourceRateLimiter: one token bucket per source address (--osc-rate, --osc-burst), in a table of
// at most `max_sources`; when it is full, the source seen least recently gives up its place (and
// starts again with a full bucket if it comes back, so eviction never starves anyone).
// Network thread only.
class SourceRateLimiter {
  public:
    static constexpr std::size_t kDefaultMaxSources = 256;

    // rate 0: no limit, admit() is always true.
    SourceRateLimiter(std::uint32_t rate, std::uint32_t burst,
                      std::size_t max_sources = kDefaultMaxSources);

    // Whether one more datagram from `source` is within its limit.
    bool admit(const IpAddress& source, LimiterClock::time_point now);

    bool enabled() const noexcept { return rate_ > 0; }
    std::size_t sources() const noexcept { return entries_.size(); }

  private:
    struct Entry {
        IpAddress source;
        TokenBucket bucket;
        LimiterClock::time_point last_seen;
    };
    double rate_;
    double burst_;
    std::size_t max_sources_;
    std::vector<Entry> entries_;  // a linear scan of at most 256 is cheaper than hashing here
};

}  // namespace looperd
