// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

// The tests' Wi-Fi: an Ethernet hub in user space that forwards each frame arriving on one of
// its ports to all the others after a delay with jitter, and drops a share of them, as netem on
// each sender's interface would. Its ports are interfaces of the namespace it was made in
// (packet sockets); it carries IPv4 (a UDP checksum the sender left to the hardware is cleared,
// which IPv4 allows) and ARP.

#include <atomic>
#include <cstddef>
#include <string>
#include <thread>
#include <vector>

#include "netns_lab.hpp"

namespace looperd::test {

class FrameHub {
  public:
    // Opens a packet socket on each of `interfaces` (in the namespace `ns`, entered by the
    // hub's thread) and starts forwarding. Throws std::runtime_error when a port cannot be
    // opened.
    FrameHub(const std::string& ns, const std::vector<std::string>& interfaces,
             Impairment impairment);
    ~FrameHub();  // stops forwarding and closes the ports
    FrameHub(const FrameHub&) = delete;
    FrameHub& operator=(const FrameHub&) = delete;

    std::size_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }
    std::size_t forwarded() const noexcept { return forwarded_.load(std::memory_order_relaxed); }

  private:
    void run() noexcept;

    Impairment impairment_;
    std::vector<int> ports_;
    int wake_[2] = {-1, -1};  // a pipe: a byte in it ends run()
    std::atomic<std::size_t> dropped_{0};
    std::atomic<std::size_t> forwarded_{0};
    std::thread thread_;
};

}  // namespace looperd::test
