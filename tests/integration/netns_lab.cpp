// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "netns_lab.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <thread>

#include "frame_hub.hpp"
#include "jack_server.hpp"

namespace looperd::test {

namespace {

// Runs `ip` with `args` to its end; false, with its output in `why`, unless it exits 0.
bool run_ip(const std::string& ip, const std::vector<std::string>& args,
            const std::filesystem::path& log, std::string& why) {
    ChildProcess child(ip, args, {}, log.string());
    const auto status = child.wait_exit(kHangBound);
    why = (status ? describe_wait_status(*status) : std::string("still running")) + ": " +
          child.read_log();
    return status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0;
}

}  // namespace

std::string NetnsLab::ip_program() {
    const char* ip = std::getenv("IP");
    return ip != nullptr ? ip : "";
}

NetnsLab::NetnsLab(Options options) : options_(std::move(options)), ip_(ip_program()) {
    if (::geteuid() != 0) throw NetnsUnavailable("needs root to make network namespaces");
    if (ip_.empty())
        throw NetnsUnavailable("IP is not set: meson did not find `ip` (Debian: iproute2)");
    hub_ = options_.tag + "h";
    bridge_ = options_.tag + "br";
    for (std::size_t k = 0; k < options_.members; ++k)
        members_.push_back(options_.tag + std::to_string(k));

    // A namespace that cannot be made (a container without CAP_SYS_ADMIN, no /run/netns) is a
    // skip, not a failure: nothing of the machine is wrong.
    std::string why;
    if (!run_ip(ip_, {"netns", "add", hub_}, options_.log_dir / "ip.log", why))
        throw NetnsUnavailable("`ip netns add` is not available here: " + why);
    made_.push_back(hub_);
    try {
        ip({"-n", hub_, "link", "set", "lo", "up"});
        if (!options_.frame_hub) {
            // Snooping off: with no querier on this little network the bridge floods every
            // group.
            ip({"-n", hub_, "link", "add", bridge_, "type", "bridge", "mcast_snooping", "0"});
            ip({"-n", hub_, "link", "set", bridge_, "up"});
            ip({"-n", hub_, "addr", "add", hub_address() + "/24", "dev", bridge_});
            if (options_.ipv6)
                ip({"-n", hub_, "addr", "add", hub_address_v6() + "/64", "dev", bridge_, "nodad"});
        }
        std::vector<std::string> ports;
        for (std::size_t k = 0; k < members_.size(); ++k) {
            const std::string& ns = members_[k];
            ip({"netns", "add", ns});
            made_.push_back(ns);
            ports.push_back(ns + "h");
            ip({"link", "add", ns, "netns", ns, "type", "veth", "peer", "name", ports.back(),
                "netns", hub_});
            if (!options_.frame_hub)
                ip({"-n", hub_, "link", "set", ports.back(), "master", bridge_});
            ip({"-n", hub_, "link", "set", ports.back(), "up"});
            ip({"-n", ns, "link", "set", "lo", "up"});
            ip({"-n", ns, "link", "set", ns, "up"});
            ip({"-n", ns, "addr", "add", address(k) + "/24", "dev", ns});
            if (options_.ipv6)
                ip({"-n", ns, "addr", "add", address_v6(k) + "/64", "dev", ns, "nodad"});
        }
        if (options_.frame_hub)
            frame_hub_ = std::make_unique<FrameHub>(hub_, ports, options_.impairment);
    } catch (...) {
        remove();
        throw;
    }
}

NetnsLab::~NetnsLab() {
    remove();
}

std::string NetnsLab::address(std::size_t k) const {
    return "10." + std::to_string(options_.net) + ".0." + std::to_string(11 + k);
}
std::string NetnsLab::address_v6(std::size_t k) const {
    return "fd" + std::to_string(options_.net) + "::" + std::to_string(11 + k);
}
std::string NetnsLab::hub_address() const {
    return "10." + std::to_string(options_.net) + ".0." + std::to_string(options_.hub_host);
}
std::string NetnsLab::hub_address_v6() const {
    return "fd" + std::to_string(options_.net) + "::" + std::to_string(options_.hub_host);
}

void NetnsLab::plug(std::size_t k, bool connected) {
    ip({"-n", hub_, "link", "set", members_.at(k) + "h", connected ? "up" : "down"});
}

std::size_t NetnsLab::frames_dropped() const {
    return frame_hub_ ? frame_hub_->dropped() : 0;
}
std::size_t NetnsLab::frames_forwarded() const {
    return frame_hub_ ? frame_hub_->forwarded() : 0;
}

void NetnsLab::run_in(const std::string& ns, const std::function<void()>& work) {
    std::exception_ptr failure;
    std::thread t([&] {
        const int fd = ::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
        try {
            if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0)
                throw std::runtime_error("cannot enter network namespace " + ns + ": " +
                                         std::strerror(errno));
            work();
        } catch (...) {
            failure = std::current_exception();
        }
        if (fd >= 0) ::close(fd);
    });
    t.join();
    if (failure) std::rethrow_exception(failure);
}

void NetnsLab::ip(const std::vector<std::string>& args) const {
    std::string why;
    if (!run_ip(ip_, args, options_.log_dir / "ip.log", why)) {
        std::string line = "ip";
        for (const auto& a : args) line += " " + a;
        throw std::runtime_error(line + ": " + why);
    }
}

// Deleting a namespace deletes the interfaces in it; the other end of a veth pair goes with its
// peer, and the bridge with the hub's namespace.
void NetnsLab::remove() noexcept {
    frame_hub_.reset();
    for (auto it = made_.rbegin(); it != made_.rend(); ++it) {
        std::string why;
        try {
            if (std::filesystem::exists("/run/netns/" + *it) &&
                !run_ip(ip_, {"netns", "del", *it}, options_.log_dir / "ip.log", why))
                std::fprintf(stderr, "ip netns del %s: %s\n", it->c_str(), why.c_str());
        } catch (const std::exception& e) {
            std::fprintf(stderr, "ip netns del %s: %s\n", it->c_str(), e.what());
        }
    }
    made_.clear();
}

}  // namespace looperd::test
