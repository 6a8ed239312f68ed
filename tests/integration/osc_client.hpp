// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace looperd::test {

// One OSC argument as the test sends or receives it. The test encodes and decodes with liblo
// itself, independently of looperd's own codec, so the two are checked against each other.
struct OscValue {
    char type = 'N';  // i, h, f, d, s, or any other tag (no payload kept)
    std::int64_t i = 0;
    double f = 0.0;
    std::string s;

    // The value of any numeric type as a double; throws std::runtime_error for others.
    double number() const;
};

OscValue osc_int(std::int32_t v);
OscValue osc_float(float v);
OscValue osc_string(std::string v);

struct OscMsg {
    std::string address;
    std::vector<OscValue> args;

    std::string type_tags() const;
    std::string to_string() const;  // "/slot/0/loaded s:noise.wav i:9600 ..."
};

// A /status.reply's key/value pairs. Throws std::runtime_error if the pairs are malformed.
std::map<std::string, OscValue> status_pairs(const OscMsg& reply);

// OscClient: a UDP socket on 127.0.0.1 (any free port) that sends to a daemon and waits for
// its replies. Owned by the test thread.
class OscClient {
  public:
    OscClient();
    // Binds to another loopback address (e.g. "127.0.0.2"), to play a second host.
    explicit OscClient(const std::string& bind_ip);
    ~OscClient();
    OscClient(const OscClient&) = delete;
    OscClient& operator=(const OscClient&) = delete;

    std::uint16_t port() const noexcept { return port_; }
    std::string url() const;  // "osc.udp://127.0.0.1:<port>/"

    // Sends one message to 127.0.0.1:`to_port`. Throws std::runtime_error on failure.
    void send(std::uint16_t to_port, const std::string& address,
              const std::vector<OscValue>& args = {});

    // Sends one message to `ip`:`to_port`, an IPv4 address: another loopback address (a second
    // rig on this machine) or a multicast group, which the message leaves for through the
    // interface of the address this client is bound to (lo), looped back to this machine.
    // Throws std::runtime_error on failure.
    void send_to(const std::string& ip, std::uint16_t to_port, const std::string& address,
                 const std::vector<OscValue>& args = {});
    void send_bundle_to(const std::string& ip, std::uint16_t to_port, std::uint64_t timetag,
                        const std::vector<OscMsg>& messages);

    // Sends one bundle holding `messages` in one datagram. `timetag` is NTP 32.32 (1 means
    // "immediately"). Throws std::runtime_error on failure.
    void send_bundle(std::uint16_t to_port, std::uint64_t timetag,
                     const std::vector<OscMsg>& messages);

    // Waits up to `timeout` for a message at `address`; other messages are skipped (and kept
    // in skipped() for failure reports).
    std::optional<OscMsg> wait_for(const std::string& address, std::chrono::milliseconds timeout);
    // The same for the first message at any of `addresses`.
    std::optional<OscMsg> wait_for_any(const std::vector<std::string>& addresses,
                                       std::chrono::milliseconds timeout);

    // Reads and discards whatever has arrived.
    void drain();

    const std::vector<OscMsg>& skipped() const noexcept { return skipped_; }

  private:
    void send_datagram(std::uint16_t to_port, const std::vector<std::uint8_t>& packet,
                       const std::string& what, const std::string& to_ip = "127.0.0.1");
    std::optional<OscMsg> receive(std::chrono::milliseconds timeout);

    int fd_ = -1;
    std::uint16_t port_ = 0;
    std::vector<OscMsg> skipped_;
};

}  // namespace looperd::test
