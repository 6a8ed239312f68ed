// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "osc_client.hpp"

#include <arpa/inet.h>
#include <lo/lo.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace looperd::test {

namespace {

using Clock = std::chrono::steady_clock;

struct LoMessageDeleter {
    void operator()(lo_message m) const noexcept { lo_message_free(m); }
};
using LoMessage = std::unique_ptr<std::remove_pointer_t<lo_message>, LoMessageDeleter>;

std::optional<OscMsg> decode(std::vector<std::uint8_t>& packet) {
    // Bundles and garbage are not replies the test waits for.
    const char* path = lo_get_path(packet.data(), static_cast<ssize_t>(packet.size()));
    if (path == nullptr || path[0] != '/') return std::nullopt;
    int result = 0;
    LoMessage m(lo_message_deserialise(packet.data(), packet.size(), &result));
    if (!m) return std::nullopt;
    OscMsg msg;
    msg.address = path;
    const char* types = lo_message_get_types(m.get());
    lo_arg** argv = lo_message_get_argv(m.get());
    const int argc = lo_message_get_argc(m.get());
    // liblo's argument pointers point into the packed message and need not be aligned for
    // lo_arg: read them with memcpy.
    auto read = [&](int k, auto& out) { std::memcpy(&out, argv[k], sizeof out); };
    for (int k = 0; k < argc; ++k) {
        OscValue v;
        v.type = types[k];
        switch (v.type) {
            case 'i': {
                std::int32_t x = 0;
                read(k, x);
                v.i = x;
                break;
            }
            case 'h': {
                std::int64_t x = 0;
                read(k, x);
                v.i = x;
                break;
            }
            case 'f': {
                float x = 0.0F;
                read(k, x);
                v.f = x;
                break;
            }
            case 'd': {
                double x = 0.0;
                read(k, x);
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

}  // namespace

double OscValue::number() const {
    switch (type) {
        case 'i':
        case 'h':
            return static_cast<double>(i);
        case 'f':
        case 'd':
            return f;
        default:
            throw std::runtime_error(std::string("not a number: type ") + type);
    }
}

OscValue osc_int(std::int32_t v) {
    OscValue a;
    a.type = 'i';
    a.i = v;
    return a;
}

OscValue osc_float(float v) {
    OscValue a;
    a.type = 'f';
    a.f = static_cast<double>(v);
    return a;
}

OscValue osc_string(std::string v) {
    OscValue a;
    a.type = 's';
    a.s = std::move(v);
    return a;
}

std::string OscMsg::type_tags() const {
    std::string tags;
    for (const auto& a : args) tags += a.type;
    return tags;
}

std::string OscMsg::to_string() const {
    std::ostringstream out;
    out << address;
    for (const auto& a : args) {
        out << ' ' << a.type << ':';
        switch (a.type) {
            case 'i':
            case 'h':
                out << a.i;
                break;
            case 'f':
            case 'd':
                out << a.f;
                break;
            case 's':
            case 'S':
                out << '"' << a.s << '"';
                break;
            default:
                out << '?';
                break;
        }
    }
    return out.str();
}

std::map<std::string, OscValue> status_pairs(const OscMsg& reply) {
    if (reply.args.size() % 2 != 0) {
        throw std::runtime_error("odd number of arguments in " + reply.to_string());
    }
    std::map<std::string, OscValue> pairs;
    for (std::size_t k = 0; k < reply.args.size(); k += 2) {
        if (reply.args[k].type != 's') {
            throw std::runtime_error("key " + std::to_string(k / 2) + " is not a string in " +
                                     reply.to_string());
        }
        pairs[reply.args[k].s] = reply.args[k + 1];
    }
    return pairs;
}

OscClient::OscClient() : OscClient("127.0.0.1") {}

OscClient::OscClient(const std::string& bind_ip) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    if (::inet_pton(AF_INET, bind_ip.c_str(), &addr.sin_addr) != 1) {
        ::close(fd_);
        throw std::runtime_error("not an IPv4 address: " + bind_ip);
    }
    socklen_t len = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        const std::string error = std::strerror(errno);
        ::close(fd_);
        throw std::runtime_error("cannot bind the test's OSC socket: " + error);
    }
    port_ = ntohs(addr.sin_port);
    // What send_to() sends to a group leaves through this address's interface and comes back
    // to this machine's own members: multicast on loopback, with no route or network needed.
    const unsigned char loop = 1;
    if (::setsockopt(fd_, IPPROTO_IP, IP_MULTICAST_IF, &addr.sin_addr, sizeof addr.sin_addr) != 0 ||
        ::setsockopt(fd_, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop) != 0) {
        const std::string error = std::strerror(errno);
        ::close(fd_);
        throw std::runtime_error("cannot set the test's multicast options: " + error);
    }
}

OscClient::~OscClient() {
    ::close(fd_);
}

std::string OscClient::url() const {
    return "osc.udp://127.0.0.1:" + std::to_string(port_) + "/";
}

namespace {

LoMessage encode(const std::string& address, const std::vector<OscValue>& args) {
    LoMessage m(lo_message_new());
    for (const auto& a : args) {
        switch (a.type) {
            case 'i':
                lo_message_add_int32(m.get(), static_cast<std::int32_t>(a.i));
                break;
            case 'h':
                lo_message_add_int64(m.get(), a.i);
                break;
            case 'f':
                lo_message_add_float(m.get(), static_cast<float>(a.f));
                break;
            case 'd':
                lo_message_add_double(m.get(), a.f);
                break;
            case 's':
                lo_message_add_string(m.get(), a.s.c_str());
                break;
            default:
                throw std::runtime_error(std::string("cannot send type ") + a.type + " in " +
                                         address);
        }
    }
    return m;
}

// One message as the bytes of a datagram.
std::vector<std::uint8_t> serialise(const std::string& address, const std::vector<OscValue>& args) {
    LoMessage m = encode(address, args);
    std::size_t size = lo_message_length(m.get(), address.c_str());
    std::vector<std::uint8_t> packet(size);
    if (lo_message_serialise(m.get(), address.c_str(), packet.data(), &size) == nullptr) {
        throw std::runtime_error("cannot encode " + address);
    }
    packet.resize(size);
    return packet;
}

}  // namespace

void OscClient::send(std::uint16_t to_port, const std::string& address,
                     const std::vector<OscValue>& args) {
    send_datagram(to_port, serialise(address, args), address);
}

void OscClient::send_to(const std::string& ip, std::uint16_t to_port, const std::string& address,
                        const std::vector<OscValue>& args) {
    send_datagram(to_port, serialise(address, args), address, ip);
}

void OscClient::send_bundle(std::uint16_t to_port, std::uint64_t timetag,
                            const std::vector<OscMsg>& messages) {
    send_bundle_to("127.0.0.1", to_port, timetag, messages);
}

void OscClient::send_bundle_to(const std::string& ip, std::uint16_t to_port, std::uint64_t timetag,
                               const std::vector<OscMsg>& messages) {
    const lo_timetag tt{static_cast<std::uint32_t>(timetag >> 32),
                        static_cast<std::uint32_t>(timetag & 0xFFFFFFFFU)};
    struct LoBundleDeleter {
        void operator()(lo_bundle b) const noexcept { lo_bundle_free_recursive(b); }
    };
    std::unique_ptr<std::remove_pointer_t<lo_bundle>, LoBundleDeleter> bundle(lo_bundle_new(tt));
    for (const auto& msg : messages) {
        LoMessage m = encode(msg.address, msg.args);
        if (lo_bundle_add_message(bundle.get(), msg.address.c_str(), m.get()) != 0) {
            throw std::runtime_error("cannot add " + msg.address + " to a bundle");
        }
        m.release();  // the bundle owns it now: lo_bundle_free_recursive frees it
    }
    std::size_t size = lo_bundle_length(bundle.get());
    std::vector<std::uint8_t> packet(size);
    if (lo_bundle_serialise(bundle.get(), packet.data(), &size) == nullptr) {
        throw std::runtime_error("cannot encode a bundle");
    }
    packet.resize(size);
    send_datagram(to_port, packet, "a bundle", ip);
}

void OscClient::send_datagram(std::uint16_t to_port, const std::vector<std::uint8_t>& packet,
                              const std::string& what, const std::string& to_ip) {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    if (::inet_pton(AF_INET, to_ip.c_str(), &to.sin_addr) != 1) {
        throw std::runtime_error("cannot send " + what + ": not an IPv4 address: " + to_ip);
    }
    to.sin_port = htons(to_port);
    const ssize_t sent =
        ::sendto(fd_, packet.data(), packet.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    if (sent != static_cast<ssize_t>(packet.size())) {
        throw std::runtime_error("cannot send " + what + ": " + std::strerror(errno));
    }
}

std::optional<OscMsg> OscClient::receive(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(0, timeout.count())));
    if (ready <= 0) return std::nullopt;
    std::vector<std::uint8_t> packet(65536);
    const ssize_t n = ::recv(fd_, packet.data(), packet.size(), 0);
    if (n <= 0) return std::nullopt;
    packet.resize(static_cast<std::size_t>(n));
    auto msg = decode(packet);
    if (!msg) {
        OscMsg junk;
        junk.address = "(undecodable datagram of " + std::to_string(n) + " bytes)";
        skipped_.push_back(junk);
    }
    return msg;
}

std::optional<OscMsg> OscClient::wait_for(const std::string& address,
                                          std::chrono::milliseconds timeout) {
    return wait_for_any({address}, timeout);
}

std::optional<OscMsg> OscClient::wait_for_any(const std::vector<std::string>& addresses,
                                              std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() < 0) return std::nullopt;
        auto msg = receive(left);
        if (!msg) {
            if (Clock::now() >= deadline) return std::nullopt;
            continue;
        }
        if (std::find(addresses.begin(), addresses.end(), msg->address) != addresses.end()) {
            return msg;
        }
        skipped_.push_back(std::move(*msg));
    }
}

void OscClient::drain() {
    while (auto msg = receive(std::chrono::milliseconds(0))) skipped_.push_back(std::move(*msg));
}

}  // namespace looperd::test
