// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace looperd {

// Every limiter takes the time as an argument, so that tests can drive it deterministically.
using LimiterClock = std::chrono::steady_clock;

// KeyedWindowLimiter: lets at most `limit` events per key through in each window (a window
// starts with a key's first event after the previous one ended). What it holds back is counted,
// and reported once the window has ended, so a log can say "N suppressed".
// The table holds at most `max_keys` keys with open windows, so neither memory nor output grows
// with the number of keys. When it is full, a new key either shares one overflow key (the empty
// string: /error replies and their log lines, per peer and per kind) or takes the place of the
// key whose window is oldest, which reports what it held back (a log's repeated lines: a new
// line must always get through).
// Not thread-safe: the caller serialises. Takes the time as an argument, so that tests drive it.
class KeyedWindowLimiter {
  public:
    struct Suppressed {
        std::string key;
        std::uint64_t count = 0;
    };

    enum class Overflow : std::uint8_t { shared_key, forget_oldest };

    KeyedWindowLimiter(std::uint32_t limit, LimiterClock::duration window, std::size_t max_keys,
                       Overflow overflow = Overflow::shared_key);

    // Whether this event of `key` goes through. Summaries of windows that ended by `now` with
    // events held back are appended to `ended` (the key's own included).
    bool admit(std::string_view key, LimiterClock::time_point now, std::vector<Suppressed>& ended);
    // Closes windows that ended by `now`, appending those that held events back to `ended`.
    void expire(LimiterClock::time_point now, std::vector<Suppressed>& ended);

    std::uint64_t suppressed_total() const noexcept { return suppressed_total_; }
    LimiterClock::duration window() const noexcept { return window_; }
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
    Overflow overflow_;
    std::vector<Entry> entries_;  // a linear scan of a few dozen is cheaper than hashing
    std::uint64_t suppressed_total_ = 0;
};

}  // namespace looperd
