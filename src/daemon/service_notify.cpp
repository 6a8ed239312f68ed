// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "daemon/service_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <charconv>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace looperd {

namespace {

std::optional<std::uint64_t> parse_unsigned(const char* text) {
    if (text == nullptr || *text == '\0') return std::nullopt;
    std::uint64_t value = 0;
    const char* end = text + std::strlen(text);
    const auto [ptr, ec] = std::from_chars(text, end, value);
    if (ec != std::errc{} || ptr != end) return std::nullopt;
    return value;
}

// A STATUS= value is one line: a newline would start a new assignment.
std::string one_line(std::string_view text) {
    std::string out(text);
    for (auto& c : out)
        if (c == '\n' || c == '\r') c = ' ';
    return out;
}

}  // namespace

ServiceNotifier::ServiceNotifier(std::string socket,
                                 std::optional<std::chrono::microseconds> watchdog)
    : socket_(std::move(socket)), watchdog_(watchdog) {
    // Only absolute paths and abstract names are valid, as sd_notify(3) has it.
    if (!socket_.empty() && socket_[0] != '/' && socket_[0] != '@') socket_.clear();
    if (socket_.size() >= sizeof(sockaddr_un::sun_path)) socket_.clear();
    // A watchdog nobody can be told about is no watchdog.
    if (socket_.empty()) watchdog_.reset();
    if (socket_.empty()) return;
    // Opened once, at start: a daemon that later runs out of descriptors can still report.
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) socket_.clear();
}

ServiceNotifier::~ServiceNotifier() {
    if (fd_ >= 0) ::close(fd_);
}

ServiceNotifier::ServiceNotifier(ServiceNotifier&& other) noexcept
    : socket_(std::move(other.socket_)),
      watchdog_(other.watchdog_),
      fd_(std::exchange(other.fd_, -1)) {
    other.socket_.clear();
}

ServiceNotifier& ServiceNotifier::operator=(ServiceNotifier&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        socket_ = std::move(other.socket_);
        other.socket_.clear();
        watchdog_ = other.watchdog_;
        fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
}

ServiceNotifier ServiceNotifier::from_environment() {
    const char* socket = std::getenv("NOTIFY_SOCKET");
    std::optional<std::chrono::microseconds> watchdog;
    const auto usec = parse_unsigned(std::getenv("WATCHDOG_USEC"));
    const auto pid = parse_unsigned(std::getenv("WATCHDOG_PID"));
    // A WATCHDOG_PID of another process means the watchdog is someone else's to feed.
    const bool ours = !pid || *pid == static_cast<std::uint64_t>(::getpid());
    if (usec && *usec > 0 && ours) watchdog = std::chrono::microseconds(*usec);
    return ServiceNotifier(socket ? socket : "", watchdog);
}

bool ServiceNotifier::send(std::string_view assignments) {
    if (socket_.empty() || fd_ < 0) return false;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, socket_.data(), socket_.size());
    // An abstract name has no terminating NUL, and its length is exactly what is given.
    if (socket_[0] == '@') addr.sun_path[0] = '\0';
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_.size() +
                                            (socket_[0] == '@' ? 0 : 1));
    const ssize_t sent =
        ::sendto(fd_, assignments.data(), assignments.size(), MSG_NOSIGNAL | MSG_DONTWAIT,
                 reinterpret_cast<sockaddr*>(&addr), len);
    return sent == static_cast<ssize_t>(assignments.size());
}

bool ServiceNotifier::ready(std::string_view status) {
    return send("READY=1\nSTATUS=" + one_line(status));
}

bool ServiceNotifier::status(std::string_view status) {
    return send("STATUS=" + one_line(status));
}

bool ServiceNotifier::watchdog() {
    return send("WATCHDOG=1");
}

bool ServiceNotifier::stopping(std::string_view status) {
    return send("STOPPING=1\nSTATUS=" + one_line(status));
}

WatchdogFeeder::WatchdogFeeder(std::chrono::microseconds watchdog_interval)
    // Half the interval, as sd_watchdog_enabled(3) advises: one late tick of the main loop
    // must not cost a restart.
    : feed_interval_(watchdog_interval / 2) {}

bool WatchdogFeeder::due(Clock::time_point now, std::uint64_t cycles, bool jack_away) {
    if (last_feed_ && now - *last_feed_ < feed_interval_) return false;
    // Progress is measured from the last feed (from 0 for the first): a count that has not
    // moved since then means the audio thread has not run a single cycle in that time.
    const bool progressed = cycles != cycles_at_last_feed_;
    if (!progressed && !jack_away) return false;
    last_feed_ = now;
    cycles_at_last_feed_ = cycles;
    return true;
}

}  // namespace looperd
