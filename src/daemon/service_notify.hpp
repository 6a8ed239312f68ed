// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace looperd {

// ServiceNotifier: tells the service manager how looperd is doing, with systemd's notify
// protocol (sd_notify(3)): newline-separated "KEY=value" assignments in one AF_UNIX datagram
// to the socket named by $NOTIFY_SOCKET (a path, or an abstract name written with a leading
// '@'). looperd speaks it itself so that it needs no libsystemd; without NOTIFY_SOCKET (not
// started by systemd, or Type= is not notify) every call is a no-op that returns false.
//
// Threads: owned by the main thread, which is the only one that calls it. Sends never block
// (MSG_DONTWAIT): a busy service manager costs one lost status line, never a stalled loop.
class ServiceNotifier {
  public:
    // Not connected to anything: every send is a no-op.
    ServiceNotifier() = default;
    // Sends to `socket` ("/run/systemd/notify", "@name" for the abstract namespace; empty: no-op).
    // `watchdog` is the interval the manager expects WATCHDOG=1 within, if it expects any.
    ServiceNotifier(std::string socket, std::optional<std::chrono::microseconds> watchdog);
    ~ServiceNotifier();
    ServiceNotifier(ServiceNotifier&& other) noexcept;
    ServiceNotifier& operator=(ServiceNotifier&& other) noexcept;
    ServiceNotifier(const ServiceNotifier&) = delete;
    ServiceNotifier& operator=(const ServiceNotifier&) = delete;

    // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID (a watchdog meant for another PID,
    // e.g. a wrapper's, is not ours).
    static ServiceNotifier from_environment();

    bool enabled() const noexcept { return !socket_.empty(); }
    std::optional<std::chrono::microseconds> watchdog_interval() const noexcept {
        return watchdog_;
    }

    // "READY=1\nSTATUS=<status>": start-up is complete (JACK active, OSC bound).
    bool ready(std::string_view status);
    // "STATUS=<status>": one line for `systemctl status`. Newlines are replaced by spaces.
    bool status(std::string_view status);
    // "WATCHDOG=1": the daemon is alive and its audio path is healthy.
    bool watchdog();
    // "STOPPING=1\nSTATUS=<status>": shutdown has begun.
    bool stopping(std::string_view status);
    // Any assignments, sent as one datagram. Returns true if the datagram was sent whole.
    bool send(std::string_view assignments);

  private:
    std::string socket_;
    std::optional<std::chrono::microseconds> watchdog_;
    int fd_ = -1;
};

// WatchdogFeeder: decides when the main loop sends WATCHDOG=1. It feeds at half the manager's
// interval, and only while the audio thread makes progress (JACK's process callback count
// moved since the last feed) or JACK is known to be away (the daemon then handles that itself:
// it exits or reconnects, and must not be killed for it meanwhile). A wedged audio path
// (a JACK server that stopped calling us, a deadlock around the client) therefore stops the
// feeding, and the manager restarts looperd after the watchdog interval.
//
// Threads: main thread only. Pure logic: the caller passes the time and the counters, so tests
// need no clock and no JACK.
class WatchdogFeeder {
  public:
    using Clock = std::chrono::steady_clock;

    explicit WatchdogFeeder(std::chrono::microseconds watchdog_interval);

    // Returns true when WATCHDOG=1 is to be sent now; the caller sends it. `cycles` is
    // JackClient::process_cycles(), `jack_away` whether JACK is known to be gone.
    bool due(Clock::time_point now, std::uint64_t cycles, bool jack_away);

    std::chrono::microseconds feed_interval() const noexcept { return feed_interval_; }

  private:
    std::chrono::microseconds feed_interval_;
    std::optional<Clock::time_point> last_feed_;
    std::uint64_t cycles_at_last_feed_ = 0;
};

}  // namespace looperd
