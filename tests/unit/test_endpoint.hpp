// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

// An IPv4 OSC endpoint for tests: where a test's messages come from, or go.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdint>

#include "io/osc_server.hpp"

namespace looperd::test {

inline OscEndpoint endpoint(const char* ip, std::uint16_t port) {
    OscEndpoint e;
    auto* in = reinterpret_cast<sockaddr_in*>(&e.addr);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    inet_pton(AF_INET, ip, &in->sin_addr);
    e.len = sizeof(sockaddr_in);
    return e;
}

}  // namespace looperd::test
