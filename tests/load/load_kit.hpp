// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

// The pieces every load scenario is built from: raw OSC bytes, loopback sockets, a paced
// sender, a /ping monitor, a /status poller, the rig (a private jackd and the daemon) and the
// report that prints figures and checks bounds.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "../integration/jack_recorder.hpp"
#include "../integration/jack_server.hpp"
#include "../integration/osc_client.hpp"

namespace looperd::load {

using Clock = std::chrono::steady_clock;
using Bytes = std::vector<std::uint8_t>;

// OSC encoding by hand, so that the tool can also write what no library would: truncated
// messages, lying sizes, wrong type tags. Every write pads to 4 bytes as OSC requires.
class OscWriter {
  public:
    OscWriter& str(std::string_view s);  // NUL-terminated, padded
    OscWriter& i32(std::int32_t v);
    OscWriter& u32(std::uint32_t v);
    OscWriter& f32(float v);
    OscWriter& u64(std::uint64_t v);
    OscWriter& raw(const Bytes& b);
    Bytes take() { return std::move(bytes_); }

  private:
    Bytes bytes_;
};

Bytes osc_message(std::string_view address);
Bytes osc_message_f(std::string_view address, float v);
Bytes osc_message_i(std::string_view address, std::int32_t v);
Bytes osc_message_s(std::string_view address, std::string_view v);
Bytes osc_bundle(std::uint64_t timetag, const std::vector<Bytes>& elements);
// The float argument of a one-float message starts here (for patching a precomputed datagram).
std::size_t float_offset(std::string_view address);

// The wall clock as an NTP timetag (32.32), plus `ahead`.
std::uint64_t ntp_now(std::chrono::nanoseconds ahead = {});

// One decoded OSC message (what the tool needs: address and f, i, s arguments).
struct Received {
    std::string address;
    std::vector<double> numbers;  // f, i, d and h arguments in order
    std::vector<std::string> strings;
};
// Unpacks a datagram (a message or bundles, flattened). Skips what it cannot decode.
void unpack(const std::uint8_t* data, std::size_t size, std::vector<Received>& out);

// A UDP socket bound to a loopback address (any port, unless `port` names one): a source of its
// own for the daemon's per-IP rate limit. Owned by one thread at a time.
class UdpSocket {
  public:
    explicit UdpSocket(const std::string& bind_ip, std::uint16_t port = 0);
    ~UdpSocket();
    UdpSocket(const UdpSocket&) = delete;
    UdpSocket& operator=(const UdpSocket&) = delete;

    int fd() const noexcept { return fd_; }
    std::uint16_t port() const noexcept { return port_; }
    const std::string& ip() const noexcept { return ip_; }
    std::string url() const;

    // One datagram to 127.0.0.1:`to_port`. Returns false if the kernel refused it.
    bool send(std::uint16_t to_port, const Bytes& datagram);
    // Waits up to `timeout` for one datagram; unpacks it into `out`. Returns false on timeout.
    bool receive(std::vector<Received>& out, std::chrono::milliseconds timeout);
    // Reads what has arrived (waiting up to `settle` for stragglers) and counts messages by
    // address.
    std::map<std::string, std::uint64_t> drain(std::chrono::milliseconds settle);

  private:
    int fd_ = -1;
    std::uint16_t port_ = 0;
    std::string ip_;
};

// Writes datagram number `seq` into `out` (reused between calls: it keeps its capacity).
using Generator = std::function<void(std::uint64_t seq, Bytes& out)>;

struct SendStats {
    std::uint64_t sent = 0;          // datagrams the kernel accepted
    std::uint64_t send_errors = 0;   // sendmmsg refusals (counted, never retried)
    double seconds = 0.0;            // from the first tick to the last
    std::uint64_t most_at_once = 0;  // the most datagrams one tick sent (a late tick catches up)
    double rate() const { return seconds > 0.0 ? static_cast<double>(sent) / seconds : 0.0; }
};

// PacedSender: one thread sending `rate` datagrams a second for `duration` to 127.0.0.1:`port`,
// paced every millisecond: each tick sends what is due since the start (so a late tick catches
// up), with sendmmsg, spread over `sockets` in runs of `run` (datagram `seq` goes from socket
// (seq / run) % sockets: with a run of 1, each socket can be a client of its own). Owns its
// thread; the sockets must outlive it.
class PacedSender {
  public:
    PacedSender(std::vector<UdpSocket*> sockets, std::uint16_t port, double rate,
                Generator generator, std::uint64_t run = 16);
    ~PacedSender();
    PacedSender(const PacedSender&) = delete;
    PacedSender& operator=(const PacedSender&) = delete;

    void start(std::chrono::milliseconds duration);
    // Waits for the end. Returns what was sent.
    SendStats join();
    double target_rate() const noexcept { return rate_; }
    Clock::time_point started() const noexcept { return started_; }
    Clock::time_point ended() const noexcept { return ended_; }

  private:
    void run(std::chrono::milliseconds duration);

    std::vector<UdpSocket*> sockets_;
    std::uint16_t port_;
    double rate_;
    Generator generator_;
    std::uint64_t run_;
    std::thread thread_;
    SendStats stats_;
    Clock::time_point started_{};
    Clock::time_point ended_{};
};

// PingMonitor: its own source (a loopback address of its own), sending /ping every `interval`
// and timing each /pong; one ping is outstanding at a time, and one unanswered within
// `give_up` is counted lost. Owns its thread.
class PingMonitor {
  public:
    struct Ping {
        Clock::time_point sent;
        std::optional<std::chrono::microseconds> latency;  // nullopt: lost
    };
    PingMonitor(const std::string& bind_ip, std::uint16_t port,
                std::chrono::milliseconds interval = std::chrono::milliseconds(100),
                std::chrono::milliseconds give_up = std::chrono::milliseconds(1000));
    ~PingMonitor();
    PingMonitor(const PingMonitor&) = delete;
    PingMonitor& operator=(const PingMonitor&) = delete;

    void stop();
    // The pings sent in [from, to).
    std::vector<Ping> pings(Clock::time_point from, Clock::time_point to) const;

  private:
    void run();

    UdpSocket socket_;
    std::uint16_t port_;
    std::chrono::milliseconds interval_;
    std::chrono::milliseconds give_up_;
    std::atomic<bool> stopping_{false};
    mutable std::mutex mutex_;
    std::vector<Ping> pings_;
    std::thread thread_;
};

// Latency figures over a set of pings.
struct LatencySummary {
    std::size_t count = 0;
    std::size_t lost = 0;
    double median_ms = 0.0;
    double p99_ms = 0.0;
    double max_ms = 0.0;  // of the answered ones
    std::string to_string() const;
};
LatencySummary summarise(const std::vector<PingMonitor::Ping>& pings);

// StatusPoller: its own source, asking /status every `interval` and keeping every answer with
// its time. Owns its thread.
class StatusPoller {
  public:
    struct Sample {
        Clock::time_point at;
        std::map<std::string, double> values;  // the numeric pairs of /status.reply
    };
    StatusPoller(const std::string& bind_ip, std::uint16_t port,
                 std::chrono::milliseconds interval = std::chrono::milliseconds(250));
    ~StatusPoller();
    StatusPoller(const StatusPoller&) = delete;
    StatusPoller& operator=(const StatusPoller&) = delete;

    void stop();
    std::vector<Sample> samples(Clock::time_point from, Clock::time_point to) const;

  private:
    void run();

    UdpSocket socket_;
    std::uint16_t port_;
    std::chrono::milliseconds interval_;
    std::atomic<bool> stopping_{false};
    mutable std::mutex mutex_;
    std::vector<Sample> samples_;
    std::thread thread_;
};

struct Paths {
    std::string daemon;
    std::string jackd;
};

// Rig: a private jackd (dummy backend, unique name) and the daemon on a free port, in a
// temporary directory of their own (removed at the end unless `keep`). Owned by the scenario's
// thread (the main thread), which makes every call; the daemon and jackd are stopped by PID.
class Rig {
  public:
    // `realtime`: ask jackd (and so the daemon's process thread) for SCHED_FIFO.
    Rig(const Paths& paths, const std::vector<std::string>& daemon_args, bool keep, bool realtime);
    ~Rig();
    Rig(const Rig&) = delete;
    Rig& operator=(const Rig&) = delete;

    std::uint16_t port() const noexcept { return port_; }
    const std::filesystem::path& samples() const noexcept { return samples_; }
    const std::filesystem::path& dir() const noexcept { return dir_; }
    test::JackServer& jack() noexcept { return *jack_; }
    test::OscClient& control() noexcept { return *control_; }
    pid_t pid() const noexcept { return daemon_->pid(); }
    bool alive() { return daemon_->running(); }

    // Sends on the control socket.
    void send(const std::string& address, const std::vector<test::OscValue>& args = {});
    // Loads `file` (under samples/) into `slot` and waits for /loaded. Throws otherwise.
    void load(int slot, const std::string& file);
    // Returns once the daemon answered a /ping from the control socket: it reads its one
    // socket in order, so every datagram that reached it before (from any source) has been
    // handled. Throws when no answer comes within test::kHangBound.
    void sync();
    // /status, as numbers. Throws when no reply comes within test::kHangBound.
    std::map<std::string, double> status();
    // /slot/<n>/info's pairs. Throws when no reply comes within test::kHangBound.
    std::map<std::string, test::OscValue> info(int slot);
    // Resident memory (VmRSS), in KiB.
    long rss_kib() const;
    // Datagrams the kernel dropped at the daemon's socket (its receive buffer was full).
    std::uint64_t socket_drops() const;
    // SIGTERM; the daemon's wait status (nullopt if it had to be killed).
    std::optional<int> stop();
    std::string daemon_log() const { return daemon_->read_log(); }
    // Whether some thread of the daemon runs SCHED_FIFO (JACK's process thread, when jackd got
    // realtime), and the same for jackd.
    bool daemon_realtime() const;
    bool jackd_realtime() const;
    // jackd's log so far, in bytes: a mark for xrun_lines().
    std::uintmax_t jackd_log_mark() const;
    // Since `mark`, jackd's own lines about xruns: its driver woke late ("XRun = N usec"), or a
    // client had not finished its cycle in time ("was not finished").
    struct JackXruns {
        int driver_late = 0;
        int client_late = 0;
        long max_late_us = 0;  // the latest of the driver's late wake-ups
    };
    JackXruns jackd_xruns(std::uintmax_t mark) const;

  private:
    // Sends `address` on the control socket (again every second) until a message at `answer`
    // comes back, for test::kHangBound at most.
    std::optional<test::OscMsg> ask(const std::string& address, const std::string& answer);

    std::filesystem::path dir_;
    std::filesystem::path samples_;
    bool keep_;
    std::uint16_t port_ = 0;
    std::unique_ptr<test::JackServer> jack_;
    std::unique_ptr<test::ChildProcess> daemon_;
    std::unique_ptr<test::OscClient> control_;
};

// Report: prints a scenario's figures and checks as they come, and keeps its verdict. Main
// thread only. Speed (rates reached, latency, render time, xruns) is printed as figures; only
// checks fail a scenario.
class Report {
  public:
    explicit Report(std::string scenario);
    void figure(const std::string& name, const std::string& value);
    // A bound: `measured` is printed with `bound`, and the scenario fails if !ok.
    void check(const std::string& what, bool ok, const std::string& measured,
               const std::string& bound);
    // The load a sender reached, as a figure; below 90% of its target it says so, and the
    // verdict too. Every check is written to hold for the load actually sent. `unit` names what
    // was sent.
    void load(const std::string& who, const SendStats& stats, double target,
              const std::string& unit = "datagrams");
    void note(const std::string& text);
    // Prints the verdict line. Returns 0 (pass) or 1 (a check failed).
    int finish();

  private:
    std::string scenario_;
    int failed_ = 0;
    int load_below_ = 0;
};

std::string fixed(double v, int decimals = 1);

}  // namespace looperd::load
