// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <memory>

#include "daemon/dns_sd_service.hpp"

namespace looperd {

// DnsSdPublisher: announces one DNS-SD service on the local network for as long as it lives,
// by asking avahi-daemon over D-Bus (libavahi-client). Announcing never stops looperd:
//   - no D-Bus system bus, or no avahi-daemon on it: one warning line; looperd tries again
//     (D-Bus every few seconds; avahi-daemon is noticed as soon as it appears on the bus);
//   - avahi-daemon stopping or restarting: announced again once it is back;
//   - the name taken on the network: the next alternative ("NAME #2"), logged.
// Destroying it withdraws the service (avahi-daemon sends the goodbye packets).
//
// Threads: constructed and destroyed by the main thread. Everything else happens on a thread of
// its own (Avahi's threaded poll), which owns the client and logs; it never touches the audio
// path. In a build without Avahi it does nothing and built_in() is false.
class DnsSdPublisher {
  public:
    // Starts the thread and returns at once: connecting happens on that thread, so a slow or
    // absent D-Bus does not hold up start-up. Throws std::runtime_error if the thread cannot
    // be started.
    explicit DnsSdPublisher(DnsSdService service);
    // Withdraws the service and stops the thread. Blocks for as long as avahi-daemon takes to
    // answer (D-Bus gives up after 25 s if it does not).
    ~DnsSdPublisher();
    DnsSdPublisher(const DnsSdPublisher&) = delete;
    DnsSdPublisher& operator=(const DnsSdPublisher&) = delete;

    // Whether this build announces anything (it was built with libavahi-client).
    static bool built_in() noexcept;

  private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace looperd
