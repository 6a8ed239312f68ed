// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <vector>

#include "io/osc_server.hpp"

namespace looperd {

// UdpLinks: one connected UDP socket per destination, for feedback. A connected socket hears
// the ICMP "port unreachable" a vanished surface's host answers, and reports it as ECONNREFUSED
// on a later send: evidence that nothing listens there any more, which the server's own
// (unconnected) socket never gets. The sockets are made on first use, at most `capacity`
// (the least recently used one is closed for a new one).
//
// Threads: any; one mutex guards the table (sends are non-blocking).
class UdpLinks {
  public:
    enum class Result : std::uint8_t { sent, failed, refused };

    explicit UdpLinks(std::size_t capacity = 512);
    ~UdpLinks();
    UdpLinks(const UdpLinks&) = delete;
    UdpLinks& operator=(const UdpLinks&) = delete;

    // One datagram to `to`. `refused`: an earlier datagram to `to` was answered "port
    // unreachable"; `failed`: any other error (no socket, a full buffer, no route).
    Result send(const OscEndpoint& to, std::span<const std::uint8_t> datagram);
    // Closes the socket to `to`, if any (its subscriber is gone).
    void close(const OscEndpoint& to);
    std::size_t size() const;

  private:
    struct Link {
        OscEndpoint to;
        int fd = -1;
        std::uint64_t used = 0;  // when last sent through, in sends
    };
    Link* find(const OscEndpoint& to);
    Link* open(const OscEndpoint& to);

    mutable std::mutex mutex_;
    std::vector<Link> links_;
    std::size_t capacity_;
    std::uint64_t sends_ = 0;
};

}  // namespace looperd
