// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// Feedback to control surfaces, against a real jackd (dummy backend, 48 kHz, 128-frame periods):
// each test starts its own server and daemon, subscribes one or more surfaces and checks what
// they receive, datagram by datagram. Bundles are unpacked here, with the framing parsed by the
// test itself and each message decoded by liblo, independently of looperd's own codec.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <lo/lo.h>
#include <netinet/in.h>
#include <poll.h>
#include <sndfile.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "fixtures.hpp"
#include "jack_recorder.hpp"
#include "jack_server.hpp"
#include "osc_client.hpp"

namespace looperd::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::uint32_t kRate = 48000;
constexpr std::uint32_t kBlock = 128;

// One datagram as a surface received it: when, whether it was a bundle (and its timetag), and
// the messages it held, in order. `error` is set when its framing or a message is malformed.
struct Datagram {
    Clock::time_point at;
    bool bundle = false;
    std::uint64_t timetag = 0;
    std::size_t bytes = 0;
    std::vector<OscMsg> messages;
    std::string error;
};

std::uint32_t read_be32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           std::uint32_t{p[3]};
}

struct LoMessageDeleter {
    void operator()(lo_message m) const noexcept { lo_message_free(m); }
};
using LoMessage = std::unique_ptr<std::remove_pointer_t<lo_message>, LoMessageDeleter>;

// Decodes one OSC message with liblo. Returns nullopt if it is not one.
std::optional<OscMsg> decode_message(const std::uint8_t* data, std::size_t size) {
    // lo_message_deserialise wants writable memory; keep a copy.
    std::vector<std::uint8_t> copy(data, data + size);
    const char* path = lo_get_path(copy.data(), static_cast<ssize_t>(copy.size()));
    if (path == nullptr || path[0] != '/') return std::nullopt;
    int result = 0;
    LoMessage m(lo_message_deserialise(copy.data(), copy.size(), &result));
    if (!m) return std::nullopt;
    OscMsg msg;
    msg.address = path;
    const char* types = lo_message_get_types(m.get());
    lo_arg** argv = lo_message_get_argv(m.get());
    const int argc = lo_message_get_argc(m.get());
    // liblo's argument pointers need not be aligned for lo_arg: read them with memcpy.
    for (int k = 0; k < argc; ++k) {
        OscValue v;
        v.type = types[k];
        switch (v.type) {
            case 'i': {
                std::int32_t x = 0;
                std::memcpy(&x, argv[k], sizeof x);
                v.i = x;
                break;
            }
            case 'h': {
                std::int64_t x = 0;
                std::memcpy(&x, argv[k], sizeof x);
                v.i = x;
                break;
            }
            case 'f': {
                float x = 0.0F;
                std::memcpy(&x, argv[k], sizeof x);
                v.f = x;
                break;
            }
            case 'd': {
                double x = 0.0;
                std::memcpy(&x, argv[k], sizeof x);
                v.f = x;
                break;
            }
            case 's':
            case 'S':
                v.s = reinterpret_cast<const char*>(argv[k]);
                break;
            default:
                break;
        }
        msg.args.push_back(std::move(v));
    }
    return msg;
}

// Unpacks an OSC packet (a message or a bundle, nested bundles flattened) into `out`. Returns
// "" or what is wrong with it.
std::string unpack(const std::uint8_t* data, std::size_t size, int depth, Datagram& out) {
    static constexpr char kTag[8] = {'#', 'b', 'u', 'n', 'd', 'l', 'e', '\0'};
    if (size >= 8 && std::memcmp(data, kTag, 8) == 0) {
        if (depth > 8) return "bundles nested deeper than 8";
        if (size < 16) return "bundle shorter than its header";
        if (depth == 0) {
            out.bundle = true;
            out.timetag = (std::uint64_t{read_be32(data + 8)} << 32) | read_be32(data + 12);
        }
        std::size_t at = 16;
        while (at < size) {
            if (size - at < 4) return "truncated element size at byte " + std::to_string(at);
            const std::uint32_t length = read_be32(data + at);
            at += 4;
            if (length == 0 || length % 4 != 0 || length > size - at) {
                return "bad element size " + std::to_string(length) + " at byte " +
                       std::to_string(at - 4);
            }
            const std::string error = unpack(data + at, length, depth + 1, out);
            if (!error.empty()) return error;
            at += length;
        }
        return "";
    }
    auto msg = decode_message(data, size);
    if (!msg) return "undecodable message of " + std::to_string(size) + " bytes";
    out.messages.push_back(std::move(*msg));
    return "";
}

// Surface: what a control surface does on the network, on one UDP socket on 127.0.0.1: it
// sends from the port it listens on (as liblo servers and TouchOSC do) and keeps every datagram
// it receives, so tests can look at bursts as well as messages. Owned by the test thread.
class Surface {
  public:
    explicit Surface(std::uint16_t port = 0) {
        fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(port);
        socklen_t len = sizeof addr;
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
            ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
            const std::string error = std::strerror(errno);
            ::close(fd_);
            throw std::runtime_error("cannot bind a surface's socket: " + error);
        }
        port_ = ntohs(addr.sin_port);
    }
    ~Surface() { ::close(fd_); }
    Surface(const Surface&) = delete;
    Surface& operator=(const Surface&) = delete;

    std::uint16_t port() const noexcept { return port_; }
    std::string url() const { return "osc.udp://127.0.0.1:" + std::to_string(port_) + "/"; }

    void send(std::uint16_t to_port, const std::string& address,
              const std::vector<OscValue>& args = {}) {
        LoMessage m(lo_message_new());
        for (const auto& a : args) {
            switch (a.type) {
                case 'i':
                    lo_message_add_int32(m.get(), static_cast<std::int32_t>(a.i));
                    break;
                case 'f':
                    lo_message_add_float(m.get(), static_cast<float>(a.f));
                    break;
                case 's':
                    lo_message_add_string(m.get(), a.s.c_str());
                    break;
                default:
                    throw std::runtime_error(std::string("cannot send type ") + a.type);
            }
        }
        std::size_t size = lo_message_length(m.get(), address.c_str());
        std::vector<std::uint8_t> packet(size);
        if (lo_message_serialise(m.get(), address.c_str(), packet.data(), &size) == nullptr) {
            throw std::runtime_error("cannot encode " + address);
        }
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        to.sin_port = htons(to_port);
        const ssize_t sent =
            ::sendto(fd_, packet.data(), size, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
        if (sent != static_cast<ssize_t>(size)) {
            throw std::runtime_error("cannot send " + address + ": " + std::strerror(errno));
        }
    }

    // Receives one datagram within `timeout` and keeps it. Returns a pointer to the kept copy,
    // valid until the next receive, or nullptr.
    const Datagram* receive(std::chrono::milliseconds timeout) {
        pollfd p{fd_, POLLIN, 0};
        const int ready =
            ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(0, timeout.count())));
        if (ready <= 0) return nullptr;
        std::vector<std::uint8_t> packet(65536);
        const ssize_t n = ::recv(fd_, packet.data(), packet.size(), 0);
        if (n <= 0) return nullptr;
        Datagram d;
        d.at = Clock::now();
        d.bytes = static_cast<std::size_t>(n);
        d.error = unpack(packet.data(), d.bytes, 0, d);
        log_.push_back(std::move(d));
        return &log_.back();
    }

    // Waits up to `timeout` for a message at `address` that `accept` takes (any, if empty),
    // looking at what arrives from now on. Everything received stays in log().
    std::optional<OscMsg> wait_for(const std::string& address, std::chrono::milliseconds timeout,
                                   const std::function<bool(const OscMsg&)>& accept = {}) {
        const auto deadline = Clock::now() + timeout;
        for (;;) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            if (left.count() < 0) return std::nullopt;
            const Datagram* d = receive(left);
            if (d == nullptr) {
                if (Clock::now() >= deadline) return std::nullopt;
                continue;
            }
            for (const auto& m : d->messages) {
                if (m.address == address && (!accept || accept(m))) return m;
            }
        }
    }

    // Receives for `duration`. Returns the datagrams received meanwhile.
    std::vector<Datagram> collect(std::chrono::milliseconds duration) {
        const std::size_t first = log_.size();
        const auto deadline = Clock::now() + duration;
        for (;;) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            if (left.count() <= 0) break;
            receive(left);
        }
        return {log_.begin() + static_cast<std::ptrdiff_t>(first), log_.end()};
    }

    // Receives until nothing arrived for `quiet`, at most `timeout`. Returns true once quiet.
    bool settle(std::chrono::milliseconds quiet, std::chrono::milliseconds timeout) {
        const auto deadline = Clock::now() + timeout;
        while (Clock::now() < deadline) {
            if (receive(quiet) == nullptr) return true;
        }
        return false;
    }

    const std::vector<Datagram>& log() const noexcept { return log_; }

    // Every message received so far, in order.
    std::vector<OscMsg> messages() const {
        std::vector<OscMsg> out;
        for (const auto& d : log_) out.insert(out.end(), d.messages.begin(), d.messages.end());
        return out;
    }

    std::string dump(std::size_t last = 60) const {
        std::string out;
        const std::size_t from = log_.size() > last ? log_.size() - last : 0;
        for (std::size_t k = from; k < log_.size(); ++k) {
            const auto& d = log_[k];
            out += "  [" + std::to_string(k) + "] " + (d.bundle ? "bundle" : "message") + " " +
                   std::to_string(d.bytes) + " bytes" +
                   (d.error.empty() ? "" : " ERROR " + d.error) + "\n";
            for (const auto& m : d.messages) out += "      " + m.to_string() + "\n";
        }
        return out;
    }

  private:
    int fd_ = -1;
    std::uint16_t port_ = 0;
    std::vector<Datagram> log_;
};

// The messages at `address` in `datagrams`, in order.
std::vector<OscMsg> at_address(const std::vector<Datagram>& datagrams, const std::string& address) {
    std::vector<OscMsg> out;
    for (const auto& d : datagrams) {
        for (const auto& m : d.messages) {
            if (m.address == address) out.push_back(m);
        }
    }
    return out;
}

bool has_one_number(const OscMsg& m, double value) {
    if (m.args.size() != 1) return false;
    try {
        return m.args[0].number() == value;
    } catch (const std::exception&) {
        return false;
    }
}

bool has_one_string(const OscMsg& m, const std::string& value) {
    return m.args.size() == 1 && m.args[0].type == 's' && m.args[0].s == value;
}

class Feedback : public IntegrationTest {
  protected:
    void SetUp() override {
        start_jack("looperd-fb-");
        if (IsSkipped() || HasFatalFailure()) return;
    }

    void TearDown() override {
        recorder_.reset();
        finish(daemon_, true, [this](std::ostream& out) {
            for (const auto& [name, surface] : watched_) {
                out << "---- what " << name << " received (last datagrams) ----\n"
                    << surface->dump();
            }
        });
    }

    // Starts looperd with `extra` flags and waits (up to 10 s) for it to answer /ping.
    void start_daemon(const std::vector<std::string>& extra = {}) {
        osc_port_ = pick_free_udp_port();
        std::vector<std::string> args = daemon_args(osc_port_);
        args.insert(args.end(), extra.begin(), extra.end());
        ASSERT_NO_FATAL_FAILURE(launch_daemon(daemon_, osc_, osc_port_, args));
    }

    void send(const std::string& address, const std::vector<OscValue>& args = {}) {
        osc_->send(osc_port_, address, args);
    }

    void load(int n, const std::string& file, int frames) {
        send(slot(n, "load"), {osc_string(file)});
        const auto reply = osc_->wait_for_any({slot(n, "loaded"), "/error"}, kHangBound);
        ASSERT_TRUE(reply) << "no reply to " << slot(n, "load") << " within " << kHangBound.count()
                           << " s";
        ASSERT_EQ(reply->address, slot(n, "loaded")) << reply->to_string();
        ASSERT_EQ(reply->args.at(1).i, frames) << reply->to_string();
    }

    // Polls /status until `voices` voices play, up to `timeout`.
    bool wait_voices(double voices, std::chrono::milliseconds timeout) {
        const auto deadline = Clock::now() + timeout;
        for (;;) {
            send("/status");
            const auto reply = osc_->wait_for("/status.reply", kHangBound);
            if (reply && status_pairs(*reply).at("voices").number() == voices) return true;
            if (Clock::now() >= deadline) return false;
            std::this_thread::sleep_for(20ms);
        }
    }

    // A surface whose traffic is printed if the test fails.
    Surface& surface(const std::string& name, std::uint16_t port = 0) {
        owned_.push_back(std::make_unique<Surface>(port));
        watched_.emplace_back(name, owned_.back().get());
        return *owned_.back();
    }

    // Subscribes `s` with /notify `mode` and waits until the state it is sent has arrived and
    // gone quiet (bounded).
    void subscribe(Surface& s, int mode) {
        s.send(osc_port_, "/notify", {osc_int(mode)});
        ASSERT_TRUE(s.wait_for("/master/gain", kHangBound))
            << "no /master/gain in the state sent on /notify " << mode;
        ASSERT_TRUE(s.settle(300ms, kHangBound)) << "the state sent on /notify never went quiet";
    }

    void record_outputs() {
        recorder_ = std::make_unique<JackRecorder>(jack_->name(), 2, 20s);
        ASSERT_EQ(recorder_->sample_rate(), kRate);
        ASSERT_EQ(recorder_->block_size(), kBlock);
        recorder_->connect("looperd:out_1", 0);
        recorder_->connect("looperd:out_2", 1);
    }

    std::unique_ptr<ChildProcess> daemon_;
    std::unique_ptr<OscClient> osc_;
    std::unique_ptr<JackRecorder> recorder_;
    std::vector<std::unique_ptr<Surface>> owned_;
    std::vector<std::pair<std::string, Surface*>> watched_;
    std::uint16_t osc_port_ = 0;
};

TEST_F(Feedback, SubscriberSeesAOneShotStartMoveAndEnd) {
    ASSERT_NO_FATAL_FAILURE(start_daemon());
    constexpr int kFrames = kRate;  // 1 s
    write_wav(samples_ / "one.wav", 1, noise(kFrames, 1, 11));
    ASSERT_NO_FATAL_FAILURE(load(2, "one.wav", kFrames));

    Surface& s = surface("subscriber");
    s.send(osc_port_, "/notify", {osc_int(1)});
    const auto initial = s.wait_for(slot(2, "state"), kHangBound);
    ASSERT_TRUE(initial) << "the state sent on /notify has no " << slot(2, "state");
    EXPECT_TRUE(has_one_string(*initial, "stopped")) << initial->to_string();
    ASSERT_TRUE(s.settle(300ms, kHangBound));
    const auto first = s.log().size();

    const auto play_sent = Clock::now();
    send(slot(2, "play"));
    const auto playing = s.wait_for(slot(2, "playing"), kHangBound,
                                    [](const OscMsg& m) { return has_one_number(m, 1); });
    ASSERT_TRUE(playing) << "no " << slot(2, "playing") << " 1 within " << kHangBound.count()
                         << " s of the play";
    EXPECT_EQ(playing->type_tags(), "f") << playing->to_string();
    const auto stopped = s.wait_for(slot(2, "playing"), kHangBound,
                                    [](const OscMsg& m) { return has_one_number(m, 0); });
    ASSERT_TRUE(stopped) << "no " << slot(2, "playing") << " 0 within " << kHangBound.count()
                         << " s: a 1 s one-shot";
    // Position updates that were already in flight with the end may follow it: take them too.
    s.settle(300ms, kHangBound);

    const std::vector<Datagram> seen(s.log().begin() + static_cast<std::ptrdiff_t>(first),
                                     s.log().end());
    std::vector<double> positions;
    std::vector<std::string> states;
    std::vector<double> playing_values;
    for (const auto& d : seen) {
        EXPECT_EQ(d.error, "");
        EXPECT_TRUE(d.bundle) << "feedback must come as bundles";
        for (const auto& m : d.messages) {
            if (m.address == slot(2, "position")) {
                ASSERT_EQ(m.type_tags(), "f") << m.to_string();
                positions.push_back(m.args[0].f);
            } else if (m.address == slot(2, "state")) {
                ASSERT_EQ(m.type_tags(), "s") << m.to_string();
                states.push_back(m.args[0].s);
            } else if (m.address == slot(2, "playing")) {
                playing_values.push_back(m.args.at(0).number());
            }
        }
    }
    EXPECT_EQ(playing_values, (std::vector<double>{1, 0}));
    EXPECT_EQ(states, (std::vector<std::string>{"playing", "stopped"}));
    // 1 s at the default 20 Hz: about 20 updates on a quiet machine, a figure only (a busy
    // one may let the feedback thread tick far less often). The rate is a check, over the
    // time from the play to the last datagram, which only a slow machine lengthens.
    const double span_s =
        std::chrono::duration<double>((seen.empty() ? play_sent : seen.back().at) - play_sent)
            .count();
    // Once stopped, the slot's position goes back to the start, once, as the last update.
    ASSERT_FALSE(positions.empty());
    EXPECT_EQ(positions.back(), 0.0) << "the position did not go back to the start on stop";
    positions.pop_back();
    EXPECT_GE(positions.size(), 2U) << "the position was not reported as it moved";
    EXPECT_LE(static_cast<double>(positions.size()), 20.0 * span_s + 2.0)
        << "more position updates than --position-rate allows over " << span_s << " s";
    for (std::size_t k = 0; k < positions.size(); ++k) {
        EXPECT_GE(positions[k], 0.0);
        EXPECT_LE(positions[k], 1.0);
        // Equal is allowed: on a loaded machine jackd may hold a cycle past a position tick.
        if (k > 0) {
            EXPECT_GE(positions[k], positions[k - 1]) << "position went back at " << k;
        }
    }
    if (!positions.empty()) {
        EXPECT_LT(positions.front(), positions.back()) << "the position did not move";
        std::cout << "[   INFO   ] " << positions.size() << " position updates over " << span_s
                  << " s, from " << positions.front() << " to " << positions.back() << '\n';
    }
    // No position updates once the slot stopped: wait a little longer and look.
    const auto after = s.collect(300ms);
    EXPECT_TRUE(at_address(after, slot(2, "position")).empty())
        << "position updates after the slot stopped";
}

TEST_F(Feedback, ChangesAreEchoedToEverySubscriberAndToTheSenderOnlyInMode1) {
    ASSERT_NO_FATAL_FAILURE(start_daemon());
    write_wav(samples_ / "one.wav", 1, noise(kRate, 1, 12));
    ASSERT_NO_FATAL_FAILURE(load(0, "one.wav", kRate));
    Surface& echo = surface("mode 1 subscriber");
    Surface& quiet = surface("mode 2 subscriber");
    ASSERT_NO_FATAL_FAILURE(subscribe(echo, 1));
    ASSERT_NO_FATAL_FAILURE(subscribe(quiet, 2));

    // From the mode 1 subscriber: both see it, on the address a control would send to.
    echo.send(osc_port_, slot(0, "gain"), {osc_float(0.5F)});
    auto is_half = [](const OscMsg& m) { return has_one_number(m, 0.5); };
    EXPECT_TRUE(quiet.wait_for(slot(0, "gain"), kHangBound, is_half)) << "not echoed to the other";
    EXPECT_TRUE(echo.wait_for(slot(0, "gain"), kHangBound, is_half))
        << "not echoed to its mode 1 sender";

    // From the mode 2 subscriber: the other sees it, the sender does not.
    quiet.send(osc_port_, slot(0, "gain"), {osc_float(0.25F)});
    auto is_quarter = [](const OscMsg& m) { return has_one_number(m, 0.25); };
    EXPECT_TRUE(echo.wait_for(slot(0, "gain"), kHangBound, is_quarter))
        << "not echoed to the other";
    EXPECT_FALSE(quiet.wait_for(slot(0, "gain"), 700ms)) << "echoed to its mode 2 sender";

    // From a client that is not subscribed: both see it, normalised as the contract says.
    const std::vector<
        std::pair<std::pair<std::string, OscValue>, std::function<bool(const OscMsg&)>>>
        changes = {
            {{"/master/gain", osc_float(0.75F)},
             [](const OscMsg& m) { return has_one_number(m, 0.75); }},
            {{slot(0, "pan"), osc_float(-0.5F)},
             [](const OscMsg& m) { return has_one_number(m, -0.5); }},
            {{slot(0, "loop"), osc_int(1)},
             [](const OscMsg& m) { return has_one_string(m, "loop"); }},
            {{slot(0, "start_seconds"), osc_float(0.25F)},
             [](const OscMsg& m) { return has_one_number(m, 0.25); }},
            {{slot(0, "quantize"), osc_string("bar")},
             [](const OscMsg& m) { return has_one_string(m, "bar"); }},
            {{"/clock/tempo", osc_float(96.0F)},
             [](const OscMsg& m) { return has_one_number(m, 96); }},
        };
    for (const auto& [change, want] : changes) {
        const auto& [address, value] = change;
        SCOPED_TRACE(address);
        send(address, {value});
        std::string echoed = address;
        if (address == slot(0, "loop")) echoed = slot(0, "mode");
        if (address == slot(0, "start_seconds")) echoed = slot(0, "start");
        EXPECT_TRUE(echo.wait_for(echoed, kHangBound, want))
            << "mode 1 subscriber did not see " << echoed;
        EXPECT_TRUE(quiet.wait_for(echoed, kHangBound, want))
            << "mode 2 subscriber did not see " << echoed;
    }

    // A refused change is not echoed.
    send(slot(0, "gain"), {osc_float(9.0F)});
    ASSERT_TRUE(osc_->wait_for("/error", kHangBound));
    EXPECT_FALSE(echo.wait_for(slot(0, "gain"), 500ms)) << "a refused gain was echoed";

    // /notify 0 unsubscribes.
    echo.send(osc_port_, "/notify", {osc_int(0)});
    echo.settle(300ms, kHangBound);
    send(slot(0, "gain"), {osc_float(0.125F)});
    EXPECT_TRUE(quiet.wait_for(slot(0, "gain"), kHangBound))
        << "the remaining subscriber lost feedback";
    EXPECT_FALSE(echo.wait_for(slot(0, "gain"), 700ms)) << "feedback after /notify 0";
}

TEST_F(Feedback, RefreshSendsTheWholeState) {
    ASSERT_NO_FATAL_FAILURE(start_daemon());
    write_wav(samples_ / "a.wav", 2, noise(9600, 2, 13));
    write_wav(samples_ / "b.wav", 1, noise(4800, 1, 14));
    ASSERT_NO_FATAL_FAILURE(load(0, "a.wav", 9600));
    ASSERT_NO_FATAL_FAILURE(load(5, "b.wav", 4800));
    send(slot(0, "gain"), {osc_float(0.5F)});
    send(slot(5, "pan"), {osc_float(-0.5F)});
    send(slot(5, "mode"), {osc_string("loop")});
    send(slot(5, "play"));
    send("/master/gain", {osc_float(0.75F)});
    send("/clock/tempo", {osc_float(100.0F)});
    // The play reaches the engine at its next block: wait until its voice sounds.
    ASSERT_TRUE(wait_voices(1, kHangBound)) << "slot 5 did not start";

    Surface& asker = surface("refresh asker");
    Surface& other = surface("refresh url target");
    for (Surface* target : {&asker, &other}) {
        SCOPED_TRACE(target == &asker ? "to the sender" : "to a url");
        if (target == &asker) {
            asker.send(osc_port_, "/refresh");
        } else {
            asker.send(osc_port_, "/refresh", {osc_string(other.url())});
        }
        ASSERT_TRUE(target->wait_for("/clock/tempo", kHangBound))
            << "no /clock/tempo in the refresh";
        // Every address checked below is waited for, not a quiet spell: a busy machine may
        // space the refresh's bundles out.
        std::vector<std::string> wanted = {"/master/gain", "/clock/meter", "/clock/sync"};
        for (int n : {0, 5}) {
            for (const char* p : {"state", "playing", "gain", "pan", "rate", "pitch", "reverse",
                                  "start", "end", "xfade", "mode", "poly", "choke", "output",
                                  "fade_in", "fade_out", "quantize", "beats"}) {
                wanted.push_back(slot(n, p));
            }
        }
        const auto deadline = Clock::now() + kHangBound;
        for (const auto& address : wanted) {
            const auto have = target->messages();
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            if (left.count() > 0 && std::none_of(have.begin(), have.end(), [&](const OscMsg& m) {
                    return m.address == address;
                })) {
                target->wait_for(address, left);
            }
        }
        target->settle(300ms, kHangBound);
        const auto msgs = target->messages();
        std::map<std::string, OscMsg> last;
        for (const auto& m : msgs) last[m.address] = m;
        for (const auto& d : target->log()) {
            EXPECT_EQ(d.error, "");
            EXPECT_TRUE(d.bundle);
        }
        auto expect_value = [&](const std::string& address,
                                const std::function<bool(const OscMsg&)>& want) {
            const auto it = last.find(address);
            if (it == last.end()) {
                ADD_FAILURE() << "the refresh has no " << address;
            } else {
                EXPECT_TRUE(want(it->second)) << it->second.to_string();
            }
        };
        for (int n : {0, 5}) {
            for (const char* p : {"state", "playing", "gain", "pan", "rate", "pitch", "reverse",
                                  "start", "end", "xfade", "mode", "poly", "choke", "output",
                                  "fade_in", "fade_out", "quantize", "beats"}) {
                EXPECT_TRUE(last.contains(slot(n, p))) << "the refresh has no " << slot(n, p);
            }
        }
        expect_value(slot(0, "state"),
                     [](const OscMsg& m) { return has_one_string(m, "stopped"); });
        expect_value(slot(5, "state"),
                     [](const OscMsg& m) { return has_one_string(m, "playing"); });
        expect_value(slot(0, "playing"), [](const OscMsg& m) { return has_one_number(m, 0); });
        expect_value(slot(5, "playing"), [](const OscMsg& m) { return has_one_number(m, 1); });
        expect_value(slot(0, "gain"), [](const OscMsg& m) { return has_one_number(m, 0.5); });
        expect_value(slot(5, "gain"), [](const OscMsg& m) { return has_one_number(m, 1); });
        expect_value(slot(5, "pan"), [](const OscMsg& m) { return has_one_number(m, -0.5); });
        expect_value(slot(0, "pan"), [](const OscMsg& m) { return has_one_number(m, 0); });
        expect_value(slot(5, "mode"), [](const OscMsg& m) { return has_one_string(m, "loop"); });
        expect_value(slot(0, "mode"), [](const OscMsg& m) { return has_one_string(m, "oneshot"); });
        expect_value(slot(0, "end"), [](const OscMsg& m) { return has_one_number(m, 1); });
        expect_value(slot(0, "quantize"),
                     [](const OscMsg& m) { return has_one_string(m, "none"); });
        expect_value("/master/gain", [](const OscMsg& m) { return has_one_number(m, 0.75); });
        expect_value("/clock/tempo", [](const OscMsg& m) { return has_one_number(m, 100); });
        expect_value("/clock/meter", [](const OscMsg& m) { return has_one_number(m, 4); });
        expect_value("/clock/sync", [](const OscMsg& m) { return has_one_string(m, "internal"); });
    }
    // /refresh does not subscribe: a later change reaches neither.
    send(slot(0, "gain"), {osc_float(0.25F)});
    EXPECT_FALSE(asker.wait_for(slot(0, "gain"), 700ms)) << "/refresh subscribed its sender";
    EXPECT_FALSE(other.wait_for(slot(0, "gain"), 100ms)) << "/refresh subscribed its url";
}

TEST_F(Feedback, DeadSubscribersDisturbNeitherAudioNorOtherSubscribers) {
    const std::uint16_t static_dead = pick_free_udp_port();
    ASSERT_NO_FATAL_FAILURE(
        start_daemon({"--notify", "osc.udp://127.0.0.1:" + std::to_string(static_dead) + "/",
                      "--subscriber-timeout", "2"}));
    constexpr int kFrames = 9600;
    const auto data = noise(kFrames, 2, 15);
    write_wav(samples_ / "loop.wav", 2, data);
    ASSERT_NO_FATAL_FAILURE(load(0, "loop.wav", kFrames));
    send(slot(0, "loop"), {osc_int(1)});

    // A dynamic subscriber at a port where nothing listens, subscribed by a client that then
    // goes silent, and a live subscriber that stays silent too.
    const std::uint16_t dynamic_dead = pick_free_udp_port();
    {
        Surface gone;
        gone.send(
            osc_port_, "/notify",
            {osc_int(1), osc_string("osc.udp://127.0.0.1:" + std::to_string(dynamic_dead) + "/")});
        std::this_thread::sleep_for(100ms);
    }
    // Nothing can receive at that port, so the daemon's log is the only witness that the
    // subscription was taken (and so that it is dropped below, not never made).
    {
        const std::string log = daemon_->read_log();
        const std::string endpoint = "127.0.0.1:" + std::to_string(dynamic_dead);
        bool subscribed = false;
        std::istringstream lines(log);
        for (std::string line; std::getline(lines, line);) {
            if (line.find("subscribed") != std::string::npos &&
                line.find(endpoint) != std::string::npos) {
                subscribed = true;
            }
        }
        EXPECT_TRUE(subscribed) << "no log line says " << endpoint << " was subscribed";
    }
    Surface& silent = surface("silent subscriber");
    ASSERT_NO_FATAL_FAILURE(subscribe(silent, 1));
    Surface& live = surface("live subscriber");
    ASSERT_NO_FATAL_FAILURE(subscribe(live, 1));

    ASSERT_NO_FATAL_FAILURE(record_outputs());
    recorder_->start();
    send(slot(0, "play"));

    // For 3.5 s, past the 2 s timeout: the live subscriber keeps changing slot 1's gain (slot 1
    // is empty, so the audio stays bit-exact) and must see each change and slot 0's position.
    int gain_changes = 0;
    const auto until = Clock::now() + 3500ms;
    while (Clock::now() < until) {
        const float g = 0.01F * static_cast<float>(++gain_changes % 100);
        live.send(osc_port_, slot(1, "gain"), {osc_float(g)});
        EXPECT_TRUE(live.wait_for(
            slot(1, "gain"), 1s,
            [g](const OscMsg& m) { return has_one_number(m, static_cast<double>(g)); }))
            << "change " << gain_changes << " not echoed to the live subscriber";
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_FALSE(at_address(live.log(), slot(0, "position")).empty())
        << "no position updates for the playing slot";

    // The silent subscriber was fed until it was dropped, 2 s after it subscribed (read from
    // its socket only now: whatever is there was sent before the drop); it is past 3.5 s now.
    silent.settle(200ms, kHangBound);
    EXPECT_FALSE(at_address(silent.log(), slot(1, "gain")).empty())
        << "the silent subscriber got nothing before its timeout";
    live.send(osc_port_, slot(1, "gain"), {osc_float(0.9F)});
    EXPECT_TRUE(live.wait_for(slot(1, "gain"), kHangBound));
    EXPECT_FALSE(silent.wait_for(slot(1, "gain"), 700ms))
        << "a dynamic subscriber silent for longer than --subscriber-timeout was not dropped";

    // The dynamic dead one was dropped; the static one never is: listen at both ports now.
    Surface& at_static = surface("listener at the --notify port", static_dead);
    Surface& at_dynamic = surface("listener at the dead /notify port", dynamic_dead);
    live.send(osc_port_, slot(1, "gain"), {osc_float(0.8F)});
    EXPECT_TRUE(at_static.wait_for(slot(1, "gain"), kHangBound))
        << "the static --notify subscriber was dropped";
    EXPECT_FALSE(at_dynamic.wait_for(slot(1, "gain"), 700ms))
        << "the dead dynamic subscriber was not dropped after --subscriber-timeout";

    // Everything recorded is the loop from its first frame, bit for bit, with no gap.
    const std::size_t wanted = recorder_->frames() + kRate / 10;
    ASSERT_GE(recorder_->wait_for_frames(wanted, kHangBound), wanted);
    const auto rec = recorder_->snapshot();
    std::size_t start = 0;
    while (start < rec[0].size() && rec[0][start] == 0.0F) ++start;
    ASSERT_LT(start, rec[0].size()) << "no signal recorded";
    ASSERT_GT(rec[0].size() - start, static_cast<std::size_t>(3 * kRate)) << "recording too short";
    for (std::size_t c = 0; c < 2; ++c) {
        SCOPED_TRACE("out_" + std::to_string(c + 1));
        for (std::size_t k = start; k < rec[c].size(); ++k) {
            const float want = data[((k - start) % kFrames) * 2 + c];
            if (std::bit_cast<std::uint32_t>(rec[c][k]) != std::bit_cast<std::uint32_t>(want)) {
                ADD_FAILURE() << "frame " << k << " (loop frame " << (k - start) % kFrames
                              << "): got " << rec[c][k] << ", want " << want;
                break;
            }
        }
    }
    // xruns are not checked: jackd runs without realtime here, and in its synchronous mode a
    // late client delays the cycle rather than corrupting it, which the comparison above sees.
    std::cout << "[   INFO   ] " << gain_changes << " changes echoed while two dead subscribers "
              << "were fed; " << recorder_->xruns() << " xruns\n";
}

// A surface that goes away is dropped on evidence (ICMP port unreachable on looperd's connected
// socket), not after a silence; when it comes back and sends anything, it is subscribed again
// with its old mode and gets the whole state.
TEST_F(Feedback, AClosedSurfaceIsDroppedAndComesBackWithTheWholeState) {
    ASSERT_NO_FATAL_FAILURE(start_daemon());
    const std::uint16_t port = pick_free_udp_port();
    const std::string endpoint = "127.0.0.1:" + std::to_string(port);
    {
        Surface first(port);
        ASSERT_NO_FATAL_FAILURE(subscribe(first, 1));
    }  // the surface's socket closes: nothing listens at its port now

    // Changes from another client are sent to the closed port until the kernel says so.
    auto log_says = [this, &endpoint](const std::string& what) {
        std::istringstream lines(daemon_->read_log());
        for (std::string line; std::getline(lines, line);)
            if (line.find(what) != std::string::npos && line.find(endpoint) != std::string::npos)
                return true;
        return false;
    };
    const auto deadline = Clock::now() + kHangBound;
    int changes = 0;
    while (!log_says("dropped") && Clock::now() < deadline) {
        send(slot(1, "gain"), {osc_float(0.01F * static_cast<float>(++changes % 50))});
        std::this_thread::sleep_for(50ms);
    }
    ASSERT_TRUE(log_says("dropped")) << "the closed surface was never dropped";
    EXPECT_TRUE(log_says("port unreachable")) << "dropped, but not for the unreachable port";

    // The surface comes back on the same port. Until it sends, it is not fed.
    Surface& back = surface("surface back on its port", port);
    send(slot(1, "gain"), {osc_float(0.375F)});
    EXPECT_FALSE(back.wait_for(slot(1, "gain"), 700ms)) << "fed before it sent anything";
    // Its first message brings it back, with the whole state (as it is now). The /pong and the
    // state may come in either order.
    back.send(osc_port_, "/ping");
    EXPECT_TRUE(back.wait_for(slot(1, "gain"), kHangBound, [](const OscMsg& m) {
        return has_one_number(m, 0.375);
    })) << "no whole state after coming back";
    back.settle(300ms, kHangBound);
    EXPECT_FALSE(at_address(back.log(), "/pong").empty()) << "no /pong";
    EXPECT_TRUE(log_says("resubscribed"));
    // And its old mode (1): its own changes are echoed to it.
    back.send(osc_port_, slot(1, "gain"), {osc_float(0.625F)});
    EXPECT_TRUE(back.wait_for(slot(1, "gain"), kHangBound, [](const OscMsg& m) {
        return has_one_number(m, 0.625);
    })) << "its own change was not echoed: not back in mode 1";
}

TEST_F(Feedback, BurstsAreLimitedToTheFeedbackRateAndEndOnTheLastValue) {
    constexpr int kRateLimit = 10;
    ASSERT_NO_FATAL_FAILURE(start_daemon({"--feedback-rate", std::to_string(kRateLimit)}));
    Surface& s = surface("subscriber");
    ASSERT_NO_FATAL_FAILURE(subscribe(s, 1));
    const auto first = s.log().size();

    // 500 changes over 200 ms from another client.
    constexpr int kChanges = 500;
    const auto begin = Clock::now();
    float last = 0.0F;
    for (int k = 0; k < kChanges; ++k) {
        last = static_cast<float>(k + 1) / 1000.0F;
        send(slot(0, "gain"), {osc_float(last)});
        std::this_thread::sleep_until(begin + std::chrono::microseconds(400 * (k + 1)));
    }
    const auto burst_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - begin).count();
    // About 200 ms on a quiet machine: a figure. What the checks below expect follows from the
    // bursts actually received, whatever the time the changes took.
    send("/ping");
    ASSERT_TRUE(osc_->wait_for("/pong", kHangBound));
    EXPECT_TRUE(s.wait_for(slot(0, "gain"), kHangBound, [last](const OscMsg& m) {
        return has_one_number(m, static_cast<double>(last));
    })) << "the last value never came";
    s.collect(1500ms);
    const std::vector<Datagram> seen(s.log().begin() + static_cast<std::ptrdiff_t>(first),
                                     s.log().end());

    // Datagrams of one burst are sent back to back (a burst over 8 KiB is split): group those
    // less than 5 ms apart.
    std::vector<Clock::time_point> bursts;
    for (const auto& d : seen) {
        EXPECT_EQ(d.error, "");
        EXPECT_TRUE(d.bundle);
        EXPECT_EQ(d.timetag, 1U) << "feedback bundles are timetagged \"immediately\"";
        if (bursts.empty() || d.at - bursts.back() > 5ms) bursts.push_back(d.at);
    }
    ASSERT_FALSE(bursts.empty());
    // In any window starting at a burst: at most the rate's share of it, plus one for the
    // window's edge. The short window catches bursts sent at the tick rate (20 Hz here, the
    // position rate) during the 200 ms of changes; pairs of bursts are not timed one by one,
    // since a feedback thread delayed by a loaded machine may send one late and the next on
    // time.
    auto most_in = [&bursts](std::chrono::milliseconds window) {
        std::size_t most = 0;
        for (std::size_t k = 0; k < bursts.size(); ++k) {
            std::size_t n = 0;
            for (std::size_t j = k; j < bursts.size() && bursts[j] - bursts[k] < window; ++j) ++n;
            most = std::max(most, n);
        }
        return most;
    };
    const std::size_t most_1s = most_in(1000ms);
    const std::size_t most_300ms = most_in(300ms);
    EXPECT_LE(most_1s, static_cast<std::size_t>(kRateLimit + 1))
        << "bursts in one second, with --feedback-rate " << kRateLimit;
    EXPECT_LE(most_300ms, static_cast<std::size_t>(kRateLimit * 3 / 10 + 1))
        << "bursts in 300 ms, with --feedback-rate " << kRateLimit;

    const auto gains = at_address(seen, slot(0, "gain"));
    ASSERT_FALSE(gains.empty()) << "no gain feedback at all";
    EXPECT_LE(gains.size(), bursts.size()) << "a burst carried more than one gain: not coalesced";
    EXPECT_TRUE(has_one_number(gains.back(), static_cast<double>(last)))
        << "last value seen: " << gains.back().to_string() << ", last sent: " << last;
    std::cout << "[   INFO   ] " << kChanges << " changes in " << burst_ms << " ms → "
              << seen.size() << " datagrams, " << bursts.size() << " bursts, " << gains.size()
              << " gain messages; at most " << most_1s << " bursts in 1 s, " << most_300ms
              << " in 300 ms\n";
}

TEST_F(Feedback, ZeroConfigSubscribesSendersAtTheFeedbackPort) {
    // The surface listens on a fixed port and sends from another, as TouchOSC does.
    const std::uint16_t feedback_port = pick_free_udp_port();
    Surface& listener = surface("listener at --feedback-port", feedback_port);
    ASSERT_NO_FATAL_FAILURE(start_daemon({"--feedback-port", std::to_string(feedback_port)}));
    Surface& sender = surface("sender");
    sender.send(osc_port_, "/ping");
    ASSERT_TRUE(sender.wait_for("/pong", kHangBound)) << "/pong goes to the sender's own port";
    // Subscribed by the first message from its IP, it is sent the whole state.
    EXPECT_TRUE(listener.wait_for("/clock/tempo", kHangBound)) << "no state at --feedback-port";
    listener.settle(300ms, kHangBound);

    sender.send(osc_port_, slot(3, "gain"), {osc_float(0.5F)});
    EXPECT_TRUE(listener.wait_for(slot(3, "gain"), kHangBound, [](const OscMsg& m) {
        return has_one_number(m, 0.5);
    })) << "no feedback at --feedback-port";
    send("/master/gain", {osc_float(0.25F)});
    EXPECT_TRUE(listener.wait_for("/master/gain", kHangBound, [](const OscMsg& m) {
        return has_one_number(m, 0.25);
    })) << "another client's change did not reach the --feedback-port subscriber";
    const auto at_sender = sender.collect(500ms);
    EXPECT_TRUE(at_address(at_sender, slot(3, "gain")).empty() &&
                at_address(at_sender, "/master/gain").empty())
        << "feedback went to the sender's own port";
}

}  // namespace
}  // namespace looperd::test
