// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <spdlog/common.h>
#include <spdlog/details/log_msg.h>
#include <spdlog/sinks/base_sink.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "io/window_limiter.hpp"

// looperd's logging: stderr, in a form that suits where stderr goes.
//
// - Under systemd, stderr is a stream to journald, which stamps every line itself and reads a
//   "<N>" prefix as the line's syslog priority (sd-daemon(3)). looperd then prints "<N>message":
//   no second timestamp, no colour codes, and `journalctl -p warning` works.
// - Anywhere else (a terminal, a file, a test), "2024-05-01 12:00:00.123 info message", coloured
//   on a terminal.
// - Either way a line repeated over and over (a misbehaving controller, a flapping cable) is
//   printed at most a few times per window; then one line says how often it was held back.
namespace looperd::logging {

// The syslog priority journald files a line of `level` under: trace and debug 7 (debug), info 6
// (info), warn 4 (warning), err 3 (err), critical 2 (crit).
int syslog_priority(spdlog::level::level_enum level) noexcept;

// Whether `fd` is the stream systemd connected to the journal: `journal_stream` is the value of
// $JOURNAL_STREAM, "<device>:<inode>" in decimal, and must match fstat(fd). A null or malformed
// value, or a stream redirected since (e.g. `looperd 2>file` in a unit's shell), is not.
bool is_journal_stream(int fd, const char* journal_stream) noexcept;

// RepeatFilter: lets at most `limit` identical lines (same level, same text) through per
// `window`, starting at a line's first appearance, and counts the rest. Distinct lines always
// pass: it remembers the `max_lines` most recently seen texts, and a text it does not remember
// starts afresh. What was held back is reported once the window ends or the text is forgotten.
// Not thread-safe (RepeatFilterSink serialises it). Takes the time as an argument.
// The algorithm is KeyedWindowLimiter's, keyed by level and text, forgetting the oldest.
class RepeatFilter {
  public:
    using Clock = std::chrono::steady_clock;
    struct Held {
        spdlog::level::level_enum level = spdlog::level::info;
        std::string text;
        std::uint64_t count = 0;
    };

    RepeatFilter(std::uint32_t limit, Clock::duration window, std::size_t max_lines);

    // Whether this line is printed. Lines whose holding ended are appended to `ended`.
    bool admit(spdlog::level::level_enum level, std::string_view text, Clock::time_point now,
               std::vector<Held>& ended);
    // Ends windows that are over by `now`, appending those that held lines back to `ended`.
    void expire(Clock::time_point now, std::vector<Held>& ended);

    Clock::duration window() const noexcept { return limiter_.window(); }

  private:
    // Moves suppressed_ into `ended` as lines.
    void decode(std::vector<Held>& ended);

    KeyedWindowLimiter limiter_;
    std::vector<KeyedWindowLimiter::Suppressed> suppressed_;  // reused between calls
};

// RepeatFilterSink: a spdlog sink that passes lines through a RepeatFilter to `inner`, and
// prints "(repeated N more times in the last S s) <line>" at the line's level when a holding
// ends. The repeat summary is checked on every line and by expire(), which the main loop calls
// a few times a second, so a flood that stops is summed up soon after.
//
// Threads: any thread may log through it and call expire() (spdlog's sink mutex serialises).
// spdlog's own dup_filter_sink (Debian 12's spdlog 1.10) was not used: it only drops a line
// equal to the one just before it, so two alternating lines flood anyway, and it tells how
// many it skipped only when a different line comes, which may be never.
class RepeatFilterSink final : public spdlog::sinks::base_sink<std::mutex> {
  public:
    using Clock = RepeatFilter::Clock;

    // `now` defaults to Clock::now; tests pass their own.
    RepeatFilterSink(std::shared_ptr<spdlog::sinks::sink> inner, RepeatFilter filter,
                     std::function<Clock::time_point()> now = {});

    void expire();

  protected:
    void sink_it_(const spdlog::details::log_msg& msg) override;
    void flush_() override;
    void set_pattern_(const std::string& pattern) override;
    void set_formatter_(std::unique_ptr<spdlog::formatter> formatter) override;

  private:
    void report(const std::vector<RepeatFilter::Held>& ended);

    std::shared_ptr<spdlog::sinks::sink> inner_;
    RepeatFilter filter_;
    std::function<Clock::time_point()> now_;
    std::vector<RepeatFilter::Held> ended_;
    std::string logger_name_ = "looperd";
};

// The "<N>" prefix and message pattern for the journal, and today's format elsewhere.
// Returns a formatter for `journal` or not, for use on any sink.
std::unique_ptr<spdlog::formatter> make_formatter(bool journal);

// Main thread, before any other thread starts: installs the default logger ("looperd") on
// stderr at `level`, in the journal's form when stderr is the journal (JOURNAL_STREAM).
// Returns whether it is.
bool setup(const std::string& level);

// Main thread, a few times a second: reports lines the repeat filter held back whose window
// has ended. A no-op before setup().
void expire_repeats();

}  // namespace looperd::logging
