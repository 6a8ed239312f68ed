// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "daemon/logging.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace looperd::logging {

namespace {

// "%*": the line's syslog priority as journald reads it, "<4>".
class PriorityFlag final : public spdlog::custom_flag_formatter {
  public:
    void format(const spdlog::details::log_msg& msg, const std::tm&,
                spdlog::memory_buf_t& dest) override {
        const char text[] = {'<', static_cast<char>('0' + syslog_priority(msg.level)), '>'};
        dest.append(text, text + sizeof text);
    }
    std::unique_ptr<spdlog::custom_flag_formatter> clone() const override {
        return std::make_unique<PriorityFlag>();
    }
};

// The filter in front of stderr, for expire_repeats(). Set once by setup().
std::shared_ptr<RepeatFilterSink> g_filter;  // NOLINT: the process's one logger

// A few identical lines get through each window, so that a repeat that matters is still seen
// in its context; the window is long enough for a technician to read the summary.
constexpr std::uint32_t kRepeatLimit = 3;
constexpr auto kRepeatWindow = std::chrono::seconds(10);
constexpr std::size_t kRepeatLines = 32;

}  // namespace

int syslog_priority(spdlog::level::level_enum level) noexcept {
    switch (level) {
        case spdlog::level::trace:
        case spdlog::level::debug:
            return 7;  // LOG_DEBUG
        case spdlog::level::info:
            return 6;  // LOG_INFO
        case spdlog::level::warn:
            return 4;  // LOG_WARNING
        case spdlog::level::err:
            return 3;  // LOG_ERR
        case spdlog::level::critical:
            return 2;  // LOG_CRIT
        default:
            return 6;
    }
}

bool is_journal_stream(int fd, const char* journal_stream) noexcept {
    if (journal_stream == nullptr) return false;
    const char* end = journal_stream + std::strlen(journal_stream);
    const char* colon = std::find(journal_stream, end, ':');
    if (colon == end) return false;
    unsigned long long dev = 0;
    unsigned long long ino = 0;
    const auto d = std::from_chars(journal_stream, colon, dev);
    const auto i = std::from_chars(colon + 1, end, ino);
    if (d.ec != std::errc{} || d.ptr != colon || i.ec != std::errc{} || i.ptr != end ||
        colon + 1 == end)
        return false;
    struct stat st {};
    if (::fstat(fd, &st) != 0) return false;
    return static_cast<unsigned long long>(st.st_dev) == dev &&
           static_cast<unsigned long long>(st.st_ino) == ino;
}

// The limiter's key: the level as one character, then the text.
namespace {
std::string repeat_key(spdlog::level::level_enum level, std::string_view text) {
    std::string key(1, static_cast<char>('0' + static_cast<int>(level)));
    key.append(text);
    return key;
}
}  // namespace

RepeatFilter::RepeatFilter(std::uint32_t limit, Clock::duration window, std::size_t max_lines)
    : limiter_(std::max<std::uint32_t>(limit, 1), window, max_lines,
               KeyedWindowLimiter::Overflow::forget_oldest) {}

void RepeatFilter::decode(std::vector<Held>& ended) {
    for (auto& s : suppressed_)
        ended.push_back(
            {static_cast<spdlog::level::level_enum>(s.key[0] - '0'), s.key.substr(1), s.count});
    suppressed_.clear();
}

void RepeatFilter::expire(Clock::time_point now, std::vector<Held>& ended) {
    limiter_.expire(now, suppressed_);
    decode(ended);
}

bool RepeatFilter::admit(spdlog::level::level_enum level, std::string_view text,
                         Clock::time_point now, std::vector<Held>& ended) {
    const bool pass = limiter_.admit(repeat_key(level, text), now, suppressed_);
    decode(ended);
    return pass;
}

RepeatFilterSink::RepeatFilterSink(std::shared_ptr<spdlog::sinks::sink> inner, RepeatFilter filter,
                                   std::function<Clock::time_point()> now)
    : inner_(std::move(inner)), filter_(std::move(filter)), now_(std::move(now)) {
    if (!now_) now_ = [] { return Clock::now(); };
}

void RepeatFilterSink::sink_it_(const spdlog::details::log_msg& msg) {
    ended_.clear();
    logger_name_.assign(msg.logger_name.data(), msg.logger_name.size());
    const bool pass = filter_.admit(
        msg.level, std::string_view(msg.payload.data(), msg.payload.size()), now_(), ended_);
    report(ended_);
    if (pass) inner_->log(msg);
}

void RepeatFilterSink::expire() {
    std::lock_guard lock(mutex_);
    ended_.clear();
    filter_.expire(now_(), ended_);
    report(ended_);
}

void RepeatFilterSink::report(const std::vector<RepeatFilter::Held>& ended) {
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(filter_.window()).count();
    for (const auto& h : ended) {
        const std::string text = "(repeated " + std::to_string(h.count) + " more time" +
                                 (h.count == 1 ? "" : "s") + " in " + std::to_string(seconds) +
                                 " s) " + h.text;
        inner_->log(spdlog::details::log_msg(logger_name_, h.level, text));
    }
}

void RepeatFilterSink::flush_() {
    inner_->flush();
}

void RepeatFilterSink::set_pattern_(const std::string& pattern) {
    inner_->set_pattern(pattern);
}

void RepeatFilterSink::set_formatter_(std::unique_ptr<spdlog::formatter> formatter) {
    inner_->set_formatter(std::move(formatter));
}

std::unique_ptr<spdlog::formatter> make_formatter(bool journal) {
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    if (journal) {
        // journald adds the time, the unit and the PID itself, and shows the priority.
        formatter->add_flag<PriorityFlag>('*').set_pattern("%*%v");
    } else {
        formatter->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
    }
    return formatter;
}

bool setup(const std::string& level) {
    const bool journal = is_journal_stream(STDERR_FILENO, std::getenv("JOURNAL_STREAM"));
    // No colour codes for the journal: it would store them as text.
    std::shared_ptr<spdlog::sinks::sink> stderr_sink;
    if (journal)
        stderr_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    else
        stderr_sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    g_filter = std::make_shared<RepeatFilterSink>(
        stderr_sink, RepeatFilter(kRepeatLimit, kRepeatWindow, kRepeatLines));
    auto logger = std::make_shared<spdlog::logger>("looperd", g_filter);
    logger->set_formatter(make_formatter(journal));
    logger->set_level(spdlog::level::from_str(level));
    spdlog::set_default_logger(logger);
    return journal;
}

void expire_repeats() {
    if (g_filter) g_filter->expire();
}

}  // namespace looperd::logging
