// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "io/osc_server.hpp"
#include "io/window_limiter.hpp"

namespace looperd {

// ErrorLimits: which /error replies and log lines go out, so that a peer sending garbage at
// full rate neither floods the log nor is flooded with answers. At most `logs_per_second` log
// lines per kind of reason (the text before any ':', numbers folded) and `replies_per_second`
// replies per destination IP; what is held back is counted and summed up in one log line per
// kind or destination when its second ends.
//
// Threads: any (the network, loader, take and persister threads report errors); its own mutex
// serialises, and nothing here is on the audio thread.
class ErrorLimits {
  public:
    using Now = std::function<std::chrono::steady_clock::time_point()>;

    // `now` empty: std::chrono::steady_clock. Tests inject theirs.
    ErrorLimits(std::uint32_t logs_per_second, std::uint32_t replies_per_second, Now now);

    struct Verdict {
        bool log = false;
        bool reply = false;
    };
    // One error `reason` for `to`: whether its log line and its reply may go out. Summaries of
    // windows that ended are logged here.
    Verdict admit(std::string_view reason, const OscEndpoint& to);
    // At least a few times a second: logs the summaries of windows that ended.
    void expire();
    // Replies dropped so far (/status's error_replies_dropped).
    std::uint64_t replies_dropped() const;

    // The kind a reason's log lines are limited by: "slot 9 out of range" and "slot 10 out of
    // range" are one ("slot # out of range").
    static std::string kind_of(std::string_view reason);

  private:
    void log(const std::vector<KeyedWindowLimiter::Suppressed>& logs,
             const std::vector<KeyedWindowLimiter::Suppressed>& replies) const;

    std::uint32_t replies_per_second_;
    Now now_;
    mutable std::mutex mutex_;
    KeyedWindowLimiter logs_;     // keyed by the reason's kind
    KeyedWindowLimiter replies_;  // keyed by the destination's IP
};

}  // namespace looperd
