// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "load_kit.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>

namespace looperd::load {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string errno_text(const std::string& what) {
    return what + ": " + std::strerror(errno);
}

std::uint32_t read_be32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           std::uint32_t{p[3]};
}

// The length of the padded OSC string at `p` (at most `left` bytes), or 0 if it does not end.
std::size_t padded_string(const std::uint8_t* p, std::size_t left) {
    const auto* end = static_cast<const std::uint8_t*>(std::memchr(p, 0, left));
    if (end == nullptr) return 0;
    const std::size_t n = static_cast<std::size_t>(end - p) + 1;
    const std::size_t padded = (n + 3) & ~std::size_t{3};
    return padded <= left ? padded : 0;
}

void unpack_at(const std::uint8_t* data, std::size_t size, int depth, std::vector<Received>& out) {
    static constexpr char kTag[8] = {'#', 'b', 'u', 'n', 'd', 'l', 'e', '\0'};
    if (size >= 16 && std::memcmp(data, kTag, 8) == 0) {
        if (depth > 8) return;
        std::size_t at = 16;
        while (at + 4 <= size) {
            const std::uint32_t length = read_be32(data + at);
            at += 4;
            if (length > size - at) return;
            unpack_at(data + at, length, depth + 1, out);
            at += length;
        }
        return;
    }
    if (size < 4 || data[0] != '/') return;
    const std::size_t address_len = padded_string(data, size);
    if (address_len == 0) return;
    Received r;
    r.address = reinterpret_cast<const char*>(data);
    std::size_t at = address_len;
    if (at >= size || data[at] != ',') {
        out.push_back(std::move(r));
        return;
    }
    const std::size_t tags_len = padded_string(data + at, size - at);
    if (tags_len == 0) return;
    const std::string tags(reinterpret_cast<const char*>(data + at + 1));
    at += tags_len;
    for (const char t : tags) {
        if (t == 'i' || t == 'f') {
            if (at + 4 > size) return;
            const std::uint32_t bits = read_be32(data + at);
            at += 4;
            r.numbers.push_back(t == 'i' ? static_cast<double>(static_cast<std::int32_t>(bits))
                                         : static_cast<double>(std::bit_cast<float>(bits)));
        } else if (t == 'h' || t == 'd') {
            if (at + 8 > size) return;
            const std::uint64_t bits =
                (std::uint64_t{read_be32(data + at)} << 32) | read_be32(data + at + 4);
            at += 8;
            r.numbers.push_back(t == 'h' ? static_cast<double>(static_cast<std::int64_t>(bits))
                                         : std::bit_cast<double>(bits));
        } else if (t == 's' || t == 'S') {
            const std::size_t n = padded_string(data + at, size - at);
            if (n == 0) return;
            r.strings.emplace_back(reinterpret_cast<const char*>(data + at));
            at += n;
        } else if (t == 'T' || t == 'F' || t == 'N' || t == 'I') {
            // no payload
        } else {
            break;  // a type the tool never expects back: keep what was read
        }
    }
    out.push_back(std::move(r));
}

double ms(std::chrono::microseconds us) {
    return static_cast<double>(us.count()) / 1000.0;
}

}  // namespace

// ---- OSC bytes -------------------------------------------------------------------------------

OscWriter& OscWriter::str(std::string_view s) {
    bytes_.insert(bytes_.end(), s.begin(), s.end());
    bytes_.push_back(0);
    while (bytes_.size() % 4 != 0) bytes_.push_back(0);
    return *this;
}

OscWriter& OscWriter::u32(std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8)
        bytes_.push_back(static_cast<std::uint8_t>(v >> shift));
    return *this;
}

OscWriter& OscWriter::i32(std::int32_t v) {
    return u32(static_cast<std::uint32_t>(v));
}

OscWriter& OscWriter::f32(float v) {
    return u32(std::bit_cast<std::uint32_t>(v));
}

OscWriter& OscWriter::u64(std::uint64_t v) {
    u32(static_cast<std::uint32_t>(v >> 32));
    return u32(static_cast<std::uint32_t>(v));
}

OscWriter& OscWriter::raw(const Bytes& b) {
    bytes_.insert(bytes_.end(), b.begin(), b.end());
    return *this;
}

Bytes osc_message(std::string_view address) {
    return OscWriter().str(address).str(",").take();
}

Bytes osc_message_f(std::string_view address, float v) {
    return OscWriter().str(address).str(",f").f32(v).take();
}

Bytes osc_message_i(std::string_view address, std::int32_t v) {
    return OscWriter().str(address).str(",i").i32(v).take();
}

Bytes osc_message_s(std::string_view address, std::string_view v) {
    return OscWriter().str(address).str(",s").str(v).take();
}

Bytes osc_bundle(std::uint64_t timetag, const std::vector<Bytes>& elements) {
    OscWriter w;
    w.str("#bundle").u64(timetag);
    for (const auto& e : elements) w.u32(static_cast<std::uint32_t>(e.size())).raw(e);
    return w.take();
}

std::size_t float_offset(std::string_view address) {
    return ((address.size() + 4) & ~std::size_t{3}) + 4;
}

std::uint64_t ntp_now(std::chrono::nanoseconds ahead) {
    timespec wall{};
    clock_gettime(CLOCK_REALTIME, &wall);
    constexpr std::uint64_t kNtpUnixOffset = 2208988800ULL;
    const auto ns = static_cast<std::uint64_t>(wall.tv_nsec) +
                    static_cast<std::uint64_t>(ahead.count() % 1'000'000'000);
    const std::uint64_t seconds = static_cast<std::uint64_t>(wall.tv_sec) + kNtpUnixOffset +
                                  static_cast<std::uint64_t>(ahead.count() / 1'000'000'000) +
                                  ns / 1'000'000'000ULL;
    return (seconds << 32U) + (((ns % 1'000'000'000ULL) << 32U) / 1'000'000'000ULL);
}

void unpack(const std::uint8_t* data, std::size_t size, std::vector<Received>& out) {
    unpack_at(data, size, 0, out);
}

// ---- sockets ---------------------------------------------------------------------------------

UdpSocket::UdpSocket(const std::string& bind_ip, std::uint16_t port) : ip_(bind_ip) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error(errno_text("socket"));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    if (::inet_pton(AF_INET, bind_ip.c_str(), &addr.sin_addr) != 1) {
        ::close(fd_);
        throw std::runtime_error("not an IPv4 address: " + bind_ip);
    }
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        const std::string error =
            errno_text("cannot bind " + bind_ip + (port ? ":" + std::to_string(port) : ""));
        ::close(fd_);
        throw std::runtime_error(error);
    }
    port_ = ntohs(addr.sin_port);
}

UdpSocket::~UdpSocket() {
    ::close(fd_);
}

std::string UdpSocket::url() const {
    return "osc.udp://" + ip_ + ":" + std::to_string(port_) + "/";
}

bool UdpSocket::send(std::uint16_t to_port, const Bytes& datagram) {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons(to_port);
    return ::sendto(fd_, datagram.data(), datagram.size(), 0, reinterpret_cast<sockaddr*>(&to),
                    sizeof to) == static_cast<ssize_t>(datagram.size());
}

bool UdpSocket::receive(std::vector<Received>& out, std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(0, timeout.count()))) <= 0)
        return false;
    static thread_local std::vector<std::uint8_t> buffer(65536);
    const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (n <= 0) return false;
    unpack(buffer.data(), static_cast<std::size_t>(n), out);
    return true;
}

std::map<std::string, std::uint64_t> UdpSocket::drain(std::chrono::milliseconds settle) {
    std::map<std::string, std::uint64_t> counts;
    std::vector<Received> got;
    while (receive(got, settle)) {
        for (const auto& r : got) ++counts[r.address];
        got.clear();
    }
    return counts;
}

// ---- paced sender ----------------------------------------------------------------------------

PacedSender::PacedSender(std::vector<UdpSocket*> sockets, std::uint16_t port, double rate,
                         Generator generator, std::uint64_t run)
    : sockets_(std::move(sockets)),
      port_(port),
      rate_(rate),
      generator_(std::move(generator)),
      run_(std::max<std::uint64_t>(run, 1)) {
    if (sockets_.empty()) throw std::invalid_argument("PacedSender needs a socket");
}

PacedSender::~PacedSender() {
    if (thread_.joinable()) thread_.join();
}

void PacedSender::start(std::chrono::milliseconds duration) {
    thread_ = std::thread([this, duration] { run(duration); });
}

SendStats PacedSender::join() {
    if (thread_.joinable()) thread_.join();
    return stats_;
}

void PacedSender::run(std::chrono::milliseconds duration) {
    constexpr std::size_t kBatch = 64;  // datagrams per sendmmsg
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons(port_);
    std::vector<Bytes> buffers(kBatch);
    std::vector<iovec> iov(kBatch);
    std::vector<mmsghdr> headers(kBatch);

    // Sends datagrams [first, last) from one socket.
    auto send_range = [&](UdpSocket& socket, std::uint64_t first, std::uint64_t last) {
        while (first < last) {
            const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(last - first, kBatch));
            for (std::size_t k = 0; k < n; ++k) {
                generator_(first + k, buffers[k]);
                iov[k] = iovec{buffers[k].data(), buffers[k].size()};
                headers[k] = mmsghdr{};
                headers[k].msg_hdr.msg_name = &to;
                headers[k].msg_hdr.msg_namelen = sizeof to;
                headers[k].msg_hdr.msg_iov = &iov[k];
                headers[k].msg_hdr.msg_iovlen = 1;
            }
            std::size_t done = 0;
            while (done < n) {
                const int r = ::sendmmsg(socket.fd(), headers.data() + done,
                                         static_cast<unsigned>(n - done), 0);
                if (r <= 0) {
                    // A refused datagram is counted as not sent; the next one is tried.
                    ++stats_.send_errors;
                    ++done;
                    continue;
                }
                stats_.sent += static_cast<std::uint64_t>(r);
                done += static_cast<std::size_t>(r);
            }
            first += n;
        }
    };

    const auto total = static_cast<std::uint64_t>(
        std::llround(rate_ * std::chrono::duration<double>(duration).count()));
    std::uint64_t issued = 0;
    started_ = Clock::now();
    timespec next{};
    clock_gettime(CLOCK_MONOTONIC, &next);
    while (issued < total) {
        const double elapsed = std::chrono::duration<double>(Clock::now() - started_).count();
        const auto due = std::min<std::uint64_t>(
            total, static_cast<std::uint64_t>(std::floor(rate_ * elapsed)) + 1);
        stats_.most_at_once = std::max(stats_.most_at_once, due - issued);
        while (issued < due) {
            const std::uint64_t run_end = std::min(due, (issued / run_ + 1) * run_);
            send_range(*sockets_[(issued / run_) % sockets_.size()], issued, run_end);
            issued = run_end;
        }
        next.tv_nsec += 1'000'000;
        if (next.tv_nsec >= 1'000'000'000) {
            next.tv_nsec -= 1'000'000'000;
            ++next.tv_sec;
        }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, nullptr);
    }
    ended_ = Clock::now();
    stats_.seconds = std::chrono::duration<double>(ended_ - started_).count();
    // The last datagram went out at the start of the last tick; a sender that kept up spans
    // the duration it was given, one that fell behind spans more.
    stats_.seconds = std::max(stats_.seconds, std::chrono::duration<double>(duration).count() -
                                                  1.0 / std::max(rate_, 1.0));
}

// ---- ping monitor ----------------------------------------------------------------------------

PingMonitor::PingMonitor(const std::string& bind_ip, std::uint16_t port,
                         std::chrono::milliseconds interval, std::chrono::milliseconds give_up)
    : socket_(bind_ip), port_(port), interval_(interval), give_up_(give_up) {
    thread_ = std::thread([this] { run(); });
}

PingMonitor::~PingMonitor() {
    stop();
}

void PingMonitor::stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
}

void PingMonitor::run() {
    const Bytes ping = osc_message("/ping");
    std::vector<Received> got;
    auto next = Clock::now();
    while (!stopping_) {
        std::this_thread::sleep_until(next);
        next += interval_;
        // Whatever a previous lost ping brought back late is not this ping's answer.
        socket_.drain(0ms);
        Ping p{Clock::now(), std::nullopt};
        if (socket_.send(port_, ping)) {
            const auto deadline = p.sent + give_up_;
            while (!p.latency && Clock::now() < deadline) {
                got.clear();
                const auto left =
                    std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
                if (!socket_.receive(got, left)) continue;
                for (const auto& r : got) {
                    if (r.address == "/pong") {
                        p.latency = std::chrono::duration_cast<std::chrono::microseconds>(
                            Clock::now() - p.sent);
                    }
                }
            }
        }
        {
            std::lock_guard lock(mutex_);
            pings_.push_back(p);
        }
        if (Clock::now() > next) next = Clock::now();  // a lost ping does not make a burst
    }
}

std::vector<PingMonitor::Ping> PingMonitor::pings(Clock::time_point from,
                                                  Clock::time_point to) const {
    std::lock_guard lock(mutex_);
    std::vector<Ping> out;
    for (const auto& p : pings_)
        if (p.sent >= from && p.sent < to) out.push_back(p);
    return out;
}

std::string LatencySummary::to_string() const {
    std::ostringstream out;
    out << count << " pings, " << lost << " lost; median " << fixed(median_ms, 2) << " ms, p99 "
        << fixed(p99_ms, 2) << " ms, max " << fixed(max_ms, 2) << " ms";
    return out.str();
}

LatencySummary summarise(const std::vector<PingMonitor::Ping>& pings) {
    LatencySummary s;
    s.count = pings.size();
    std::vector<double> values;
    for (const auto& p : pings) {
        if (p.latency)
            values.push_back(ms(*p.latency));
        else
            ++s.lost;
    }
    if (values.empty()) return s;
    std::sort(values.begin(), values.end());
    auto at = [&](double q) {
        const auto k = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
        return values[std::min(values.size() - 1, k == 0 ? 0 : k - 1)];
    };
    s.median_ms = at(0.5);
    s.p99_ms = at(0.99);
    s.max_ms = values.back();
    return s;
}

// ---- status poller ---------------------------------------------------------------------------

StatusPoller::StatusPoller(const std::string& bind_ip, std::uint16_t port,
                           std::chrono::milliseconds interval)
    : socket_(bind_ip), port_(port), interval_(interval) {
    thread_ = std::thread([this] { run(); });
}

StatusPoller::~StatusPoller() {
    stop();
}

void StatusPoller::stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
}

void StatusPoller::run() {
    const Bytes status = osc_message("/status");
    std::vector<Received> got;
    auto next = Clock::now();
    while (!stopping_) {
        std::this_thread::sleep_until(next);
        next += interval_;
        socket_.drain(0ms);
        if (!socket_.send(port_, status)) continue;
        const auto deadline = Clock::now() + 1s;
        bool answered = false;
        while (!answered && Clock::now() < deadline) {
            got.clear();
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
            if (!socket_.receive(got, left)) continue;
            for (const auto& r : got) {
                if (r.address != "/status.reply") continue;
                // The pairs alternate string key, value: keys land in strings, values in
                // numbers, in the same order (every value looperd sends is a number).
                Sample s{Clock::now(), {}};
                for (std::size_t k = 0; k < r.strings.size() && k < r.numbers.size(); ++k)
                    s.values[r.strings[k]] = r.numbers[k];
                std::lock_guard lock(mutex_);
                samples_.push_back(std::move(s));
                answered = true;
            }
        }
        if (Clock::now() > next) next = Clock::now();
    }
}

std::vector<StatusPoller::Sample> StatusPoller::samples(Clock::time_point from,
                                                        Clock::time_point to) const {
    std::lock_guard lock(mutex_);
    std::vector<Sample> out;
    for (const auto& s : samples_)
        if (s.at >= from && s.at < to) out.push_back(s);
    return out;
}

// ---- rig -------------------------------------------------------------------------------------

Rig::Rig(const Paths& paths, const std::vector<std::string>& daemon_args, bool keep, bool realtime)
    : keep_(keep) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/looperd-load-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error(errno_text("mkdtemp"));
    dir_ = pattern;
    samples_ = dir_ / "samples";
    fs::create_directory(samples_);
    jack_ = std::make_unique<test::JackServer>(paths.jackd, (dir_ / "jackd.log").string(), 48000,
                                               128, true, std::string(), realtime);
    port_ = test::pick_free_udp_port();
    std::vector<std::string> args = {
        "--jack-server",   jack_->name(),         "--no-autoconnect",
        "--osc-port",      std::to_string(port_), "--samples-dir",
        samples_.string(), "--state-dir",         (dir_ / "state").string()};
    args.insert(args.end(), daemon_args.begin(), daemon_args.end());
    daemon_ = std::make_unique<test::ChildProcess>(paths.daemon, args, std::vector<std::string>{},
                                                   (dir_ / "looperd.log").string());
    control_ = std::make_unique<test::OscClient>("127.0.0.1");
    const auto deadline = Clock::now() + test::kHangBound;
    for (;;) {
        if (!daemon_->running())
            throw std::runtime_error("the daemon exited during startup; its log:\n" +
                                     daemon_->read_log());
        control_->send(port_, "/ping");
        if (control_->wait_for("/pong", 100ms)) break;
        if (Clock::now() >= deadline)
            throw std::runtime_error("the daemon did not answer /ping within " +
                                     std::to_string(test::kHangBound.count()) +
                                     " s (hung); its log:\n" + daemon_->read_log());
    }
}

Rig::~Rig() {
    control_.reset();
    if (daemon_) daemon_->terminate(test::kHangBound);
    daemon_.reset();
    jack_.reset();
    if (!keep_) {
        std::error_code ignored;
        fs::remove_all(dir_, ignored);
    }
}

void Rig::send(const std::string& address, const std::vector<test::OscValue>& args) {
    control_->send(port_, address, args);
}

void Rig::load(int slot, const std::string& file) {
    const std::string base = "/slot/" + std::to_string(slot) + "/";
    send(base + "load", {test::osc_string(file)});
    const auto reply = control_->wait_for_any({base + "loaded", "/error"}, test::kHangBound);
    if (!reply) {
        throw std::runtime_error("no reply to " + base + "load within " +
                                 std::to_string(test::kHangBound.count()) + " s");
    }
    if (reply->address != base + "loaded")
        throw std::runtime_error("loading " + file + ": " + reply->to_string());
}

std::optional<test::OscMsg> Rig::ask(const std::string& address, const std::string& answer) {
    // Asked again every second: right after a flood the request itself may be one of the
    // datagrams the kernel drops at the daemon's full socket.
    const auto deadline = Clock::now() + test::kHangBound;
    control_->drain();
    while (Clock::now() < deadline) {
        send(address);
        if (auto reply = control_->wait_for(answer, 1s)) return reply;
    }
    return std::nullopt;
}

void Rig::sync() {
    if (!ask("/ping", "/pong")) {
        throw std::runtime_error("no /pong within " + std::to_string(test::kHangBound.count()) +
                                 " s (hung)");
    }
}

std::map<std::string, double> Rig::status() {
    const auto reply = ask("/status", "/status.reply");
    if (!reply) {
        throw std::runtime_error("no /status.reply within " +
                                 std::to_string(test::kHangBound.count()) + " s");
    }
    std::map<std::string, double> out;
    for (const auto& [key, value] : test::status_pairs(*reply)) {
        if (value.type != 's') out[key] = value.number();
    }
    return out;
}

std::map<std::string, test::OscValue> Rig::info(int slot) {
    const std::string address = "/slot/" + std::to_string(slot) + "/info";
    const auto reply = ask(address, address + ".reply");
    if (!reply) {
        throw std::runtime_error("no " + address + ".reply within " +
                                 std::to_string(test::kHangBound.count()) + " s");
    }
    return test::status_pairs(*reply);
}

long Rig::rss_kib() const {
    std::ifstream in("/proc/" + std::to_string(daemon_->pid()) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    }
    throw std::runtime_error("no VmRSS for the daemon's process");
}

std::uint64_t Rig::socket_drops() const {
    // /proc/net/udp: "sl local_address rem_address st ... drops", addresses as hex IP:port.
    std::ifstream in("/proc/net/udp");
    std::string line;
    std::getline(in, line);
    char wanted[16];
    std::snprintf(wanted, sizeof wanted, ":%04X", port_);
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string sl, local;
        fields >> sl >> local;
        if (local.size() < 5 || local.substr(local.size() - 5) != wanted) continue;
        std::string last, field;
        while (fields >> field) last = field;
        return std::stoull(last);
    }
    throw std::runtime_error("the daemon's socket is not in /proc/net/udp");
}

namespace {

// Whether any thread of `pid` runs under SCHED_FIFO or SCHED_RR (/proc/<pid>/task/*/stat, the
// policy field: the 41st, the 39th after the parenthesised name).
bool any_thread_realtime(pid_t pid) {
    std::error_code ec;
    for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
        std::ifstream in(task.path() / "stat");
        std::string text;
        std::getline(in, text);  // one line
        const auto paren = text.rfind(')');
        if (paren == std::string::npos) continue;
        std::istringstream fields(text.substr(paren + 1));
        std::string field;
        for (int k = 0; k < 39 && fields >> field; ++k) {
        }
        if (field == "1" || field == "2") return true;
    }
    return false;
}

}  // namespace

bool Rig::daemon_realtime() const {
    return any_thread_realtime(daemon_->pid());
}

bool Rig::jackd_realtime() const {
    return any_thread_realtime(jack_->process().pid());
}

std::uintmax_t Rig::jackd_log_mark() const {
    std::error_code ec;
    const auto size = fs::file_size(jack_->process().log_path(), ec);
    return ec ? 0 : size;
}

Rig::JackXruns Rig::jackd_xruns(std::uintmax_t mark) const {
    std::ifstream in(jack_->process().log_path());
    in.seekg(static_cast<std::streamoff>(mark));
    JackXruns x;
    std::string line;
    while (std::getline(in, line)) {
        if (const auto at = line.find("XRun = "); at != std::string::npos) {
            ++x.driver_late;
            x.max_late_us = std::max(x.max_late_us, std::atol(line.c_str() + at + 7));
        }
        if (line.find("was not finished") != std::string::npos) ++x.client_late;
    }
    return x;
}

std::optional<int> Rig::stop() {
    return daemon_->terminate(test::kHangBound);
}

// ---- report ----------------------------------------------------------------------------------

std::string fixed(double v, int decimals) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", decimals, v);
    return text;
}

Report::Report(std::string scenario) : scenario_(std::move(scenario)) {}

void Report::figure(const std::string& name, const std::string& value) {
    std::printf("  %-26s %s\n", name.c_str(), value.c_str());
    std::fflush(stdout);
}

void Report::check(const std::string& what, bool ok, const std::string& measured,
                   const std::string& bound) {
    if (!ok) ++failed_;
    std::printf("  %-4s %s: %s (bound: %s)\n", ok ? "ok" : "FAIL", what.c_str(), measured.c_str(),
                bound.c_str());
    std::fflush(stdout);
}

void Report::load(const std::string& who, const SendStats& stats, double target,
                  const std::string& unit) {
    const double rate = stats.rate();
    const bool below = rate < 0.9 * target;
    if (below) ++load_below_;
    const std::string errors =
        stats.send_errors ? ", " + std::to_string(stats.send_errors) + " send errors" : "";
    std::printf("  %-26s %llu %s in %.2f s = %.0f/s (target %.0f/s)%s%s\n", ("load " + who).c_str(),
                static_cast<unsigned long long>(stats.sent), unit.c_str(), stats.seconds, rate,
                target, errors.c_str(),
                below ? "; BELOW the target: this machine was too busy to send faster, and the "
                        "checks hold for the load that was sent"
                      : "");
    std::fflush(stdout);
}

void Report::note(const std::string& text) {
    std::printf("  %s\n", text.c_str());
    std::fflush(stdout);
}

int Report::finish() {
    const char* verdict = failed_ > 0       ? "FAIL"
                          : load_below_ > 0 ? "PASS (at a lower load than its target)"
                                            : "PASS";
    std::printf("  verdict %s: %s\n\n", scenario_.c_str(), verdict);
    std::fflush(stdout);
    return failed_ > 0 ? 1 : 0;
}

}  // namespace looperd::load
