// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

// A small stage LAN on one machine, for tests that need several hosts: network namespaces
// ("members") cabled by veth pairs to a hub namespace, with addresses that exist only inside
// them (10.<net>.0.0/24, and fd<net>::/64 where asked) and no default route. The hub is the
// kernel's bridge, or, to mimic Wi-Fi, the tests' own frame hub: it forwards every Ethernet frame
// after a delay with jitter, and drops some, as netem does (this machine's kernel may lack
// sch_netem; the hub needs nothing but packet sockets). Needs root and `ip`. Everything made is
// removed by name when the lab goes, also after a failed test.

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace looperd::test {

// What the frame hub does to each frame: delay ± jitter (uniform), and loss (0 … 1).
struct Impairment {
    std::chrono::microseconds delay{0};
    std::chrono::microseconds jitter{0};
    double loss = 0.0;
};

// Thrown when this machine cannot make network namespaces at all (no root, no `ip`, a container
// without CAP_SYS_ADMIN): the caller skips, nothing of looperd is wrong.
class NetnsUnavailable : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

class FrameHub;

class NetnsLab {
  public:
    struct Options {
        std::string tag;          // a prefix unique to the test process (interface names: 15 bytes)
        std::size_t members = 2;  // namespaces <tag>0, <tag>1, …
        int net = 78;             // 10.<net>.0.0/24
        int hub_host = 20;        // the hub's own address on the bridge (none with a frame hub)
        bool ipv6 = false;        // also fd<net>::<host>/64
        bool frame_hub = false;   // the tests' frame hub instead of the kernel's bridge
        Impairment impairment;    // the frame hub's
        std::filesystem::path log_dir;  // where `ip`'s output goes
    };

    // Makes the lab. Throws NetnsUnavailable when namespaces cannot be made here, and
    // std::runtime_error (with `ip`'s words) when a later step fails.
    explicit NetnsLab(Options options);
    ~NetnsLab();
    NetnsLab(const NetnsLab&) = delete;
    NetnsLab& operator=(const NetnsLab&) = delete;

    // The `ip` program, from the environment meson gives (IP), or "" when it did not find one.
    static std::string ip_program();

    const std::string& hub() const noexcept { return hub_; }
    const std::string& member(std::size_t k) const { return members_.at(k); }
    std::size_t members() const noexcept { return members_.size(); }
    // Member k's interface (in its namespace), named like the namespace.
    const std::string& interface(std::size_t k) const { return members_.at(k); }
    std::string address(std::size_t k) const;     // "10.<net>.0.<11 + k>"
    std::string address_v6(std::size_t k) const;  // "fd<net>::<11 + k>"
    std::string hub_address() const;              // "10.<net>.0.<hub_host>"
    std::string hub_address_v6() const;           // "fd<net>::<hub_host>"
    const std::string& bridge() const noexcept { return bridge_; }

    // Pulls member k's cable out (false) or plugs it back in (true): its far end, in the hub,
    // goes down or up. The member keeps its address, as a rig whose Wi-Fi drops does.
    void plug(std::size_t k, bool connected);

    // Frames the frame hub dropped on purpose so far (0 with a bridge).
    std::size_t frames_dropped() const;
    std::size_t frames_forwarded() const;

    // Runs `work` on a thread that has entered network namespace `ns`: sockets it opens, and
    // threads it starts (an Ableton Link instance's), belong there for good. Rethrows what
    // `work` throws.
    static void run_in(const std::string& ns, const std::function<void()>& work);

  private:
    void ip(const std::vector<std::string>& args) const;
    void remove() noexcept;

    Options options_;
    std::string ip_;
    std::string hub_;
    std::string bridge_;
    std::vector<std::string> members_;
    std::vector<std::string> made_;  // namespaces made so far, for remove()
    std::unique_ptr<FrameHub> frame_hub_;
};

}  // namespace looperd::test
