// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "control/error_limits.hpp"

#include <spdlog/spdlog.h>

#include "io/net_allowlist.hpp"

namespace looperd {

namespace {

// Reasons and destinations tracked at once; the rest share one overflow entry, so the log and
// the replies stay bounded whatever a peer sends.
constexpr std::size_t kKinds = 32;
constexpr std::size_t kDestinations = 64;

}  // namespace

ErrorLimits::ErrorLimits(std::uint32_t logs_per_second, std::uint32_t replies_per_second, Now now)
    : replies_per_second_(replies_per_second),
      now_(now ? std::move(now) : Now([] { return std::chrono::steady_clock::now(); })),
      logs_(logs_per_second, std::chrono::seconds(1), kKinds),
      replies_(replies_per_second, std::chrono::seconds(1), kDestinations) {}

std::string ErrorLimits::kind_of(std::string_view reason) {
    // The text before any ':' (details follow it), numbers folded to '#'.
    reason = reason.substr(0, reason.find(':'));
    std::string kind;
    for (const char c : reason) {
        const bool digit = c >= '0' && c <= '9';
        if (digit && !kind.empty() && kind.back() == '#') continue;
        kind.push_back(digit ? '#' : c);
        if (kind.size() >= 48) break;
    }
    return kind.empty() ? "?" : kind;
}

ErrorLimits::Verdict ErrorLimits::admit(std::string_view reason, const OscEndpoint& to) {
    const auto host = IpAddress::from_sockaddr(to.addr, to.len);
    std::vector<KeyedWindowLimiter::Suppressed> logs;
    std::vector<KeyedWindowLimiter::Suppressed> replies;
    Verdict v;
    {
        std::lock_guard lock(mutex_);
        const auto now = now_();
        v.log = logs_.admit(kind_of(reason), now, logs);
        v.reply = replies_.admit(host ? host->to_string() : "?", now, replies);
    }
    log(logs, replies);
    return v;
}

void ErrorLimits::expire() {
    std::vector<KeyedWindowLimiter::Suppressed> logs;
    std::vector<KeyedWindowLimiter::Suppressed> replies;
    {
        std::lock_guard lock(mutex_);
        const auto now = now_();
        logs_.expire(now, logs);
        replies_.expire(now, replies);
    }
    log(logs, replies);
}

std::uint64_t ErrorLimits::replies_dropped() const {
    std::lock_guard lock(mutex_);
    return replies_.suppressed_total();
}

void ErrorLimits::log(const std::vector<KeyedWindowLimiter::Suppressed>& logs,
                      const std::vector<KeyedWindowLimiter::Suppressed>& replies) const {
    // At most one line per tracked kind or destination and window: bounded like the rest.
    for (const auto& s : logs)
        spdlog::warn("{} more error(s) like '{}' suppressed", s.count,
                     s.key.empty() ? "(other reasons)" : s.key);
    for (const auto& s : replies)
        spdlog::warn("{} /error repl{} to {} dropped: over {} a second", s.count,
                     s.count == 1 ? "y" : "ies", s.key.empty() ? "other peers" : s.key,
                     replies_per_second_);
}

}  // namespace looperd
