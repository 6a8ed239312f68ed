// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

// Joining a multicast group (--osc-multicast): the socket options, kept apart from OscServer's
// unicast socket. Main thread, at start-up; every function throws std::runtime_error with a
// reason a technician can act on.

#include <cstdint>
#include <string>

#include "io/multicast_group.hpp"

namespace looperd {

// The index of network interface `name` ("eth0", "lo"). Throws when there is none by that name.
unsigned interface_index(const std::string& name);

// Joins `group` on UDP socket `fd` through interface `ifindex` (0: the one the kernel's routing
// table chooses). An IPv6 socket may join an IPv4 group: it receives IPv4 as v4-mapped.
void join_multicast_group(int fd, const MulticastGroup& group, unsigned ifindex);

// A UDP socket bound to `group`:`port` and joined, which receives only what is sent to the
// group. SO_REUSEADDR, so that several rigs on one machine can each receive the group.
// Returns its descriptor (close-on-exec); the caller closes it.
int open_multicast_socket(const MulticastGroup& group, std::uint16_t port, unsigned ifindex);

}  // namespace looperd
