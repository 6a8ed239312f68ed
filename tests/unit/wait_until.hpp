// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// Waiting in a test for what another thread or process does (the loader, the persister, the
// take thread; jackd and the daemon in the integration tests).
// A test waits for the event itself, never for a time: the bound below only ends a hang, so a
// slow machine (a sanitizer, qemu-user, a busy runner) makes a test slower, never failing.
#pragma once

#include <chrono>
#include <string>
#include <thread>

namespace looperd::test {

// How long a test waits for something before calling it a hang: far beyond what anything
// here takes, even emulated 50 times slower.
inline constexpr std::chrono::seconds kHangBound{60};

// Polls `done` until it holds or `bound` has passed. Returns: whether it holds.
template <typename Predicate>
bool wait_until(Predicate&& done, std::chrono::steady_clock::duration bound = kHangBound) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= deadline) return done();
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
}

// The failure message of a wait that reached kHangBound.
inline std::string hung(const std::string& what) {
    return what + " did not happen within " + std::to_string(kHangBound.count()) +
           " s: a hang, not a slow machine";
}

}  // namespace looperd::test
