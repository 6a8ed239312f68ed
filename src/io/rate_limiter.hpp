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

namespace looperd {

// Every limiter here takes the time as an argument, so that tests can drive it deterministically.
using LimiterClock = std::chrono::steady_clock;

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

// KeyedWindowLimiter: lets at most `limit` events per key through in each window (a window
// starts with a key's first event after the previous one ended). What it holds back is counted,
// and reported once the window has ended, so a log can say "N suppressed".
// The table holds at most `max_keys` keys with open windows; events of further keys share one
// overflow key (empty string), so neither memory nor output grows with the number of keys.
// Not thread-safe: the caller serialises.
class KeyedWindowLimiter {
  public:
    struct Suppressed {
        std::string key;
        std::uint64_t count = 0;
    };

    KeyedWindowLimiter(std::uint32_t limit, LimiterClock::duration window, std::size_t max_keys);

    // Whether this event of `key` goes through. Summaries of windows that ended by `now` with
    // events held back are appended to `ended` (the key's own included).
    bool admit(std::string_view key, LimiterClock::time_point now, std::vector<Suppressed>& ended);
    // Closes windows that ended by `now`, appending those that held events back to `ended`.
    void expire(LimiterClock::time_point now, std::vector<Suppressed>& ended);

    std::uint64_t suppressed_total() const noexcept { return suppressed_total_; }
    std::size_t keys() const noexcept { return entries_.size(); }

  private:
    struct Entry {
        std::string key;
        LimiterClock::time_point window_start;
        std::uint32_t passed = 0;
        std::uint64_t held = 0;
    };
    std::uint32_t limit_;
    LimiterClock::duration window_;
    std::size_t max_keys_;
    std::vector<Entry> entries_;
    std::uint64_t suppressed_total_ = 0;
};

}  // namespace looperd
