// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// DnsSdPublisher in a build without libavahi-client: announces nothing.
#include "daemon/dns_sd_publisher.hpp"

namespace looperd {

struct DnsSdPublisher::State {};

DnsSdPublisher::DnsSdPublisher(DnsSdService) {}

DnsSdPublisher::~DnsSdPublisher() = default;

bool DnsSdPublisher::built_in() noexcept {
    return false;
}

}  // namespace looperd
