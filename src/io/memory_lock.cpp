// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "io/memory_lock.hpp"

#include <sys/mman.h>
#include <sys/resource.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace looperd {

MemlockLimit memlock_limit() noexcept {
    rlimit rl{};
    if (::getrlimit(RLIMIT_MEMLOCK, &rl) != 0) return {};
    if (rl.rlim_cur == RLIM_INFINITY) return {true, 0};
    return {false, static_cast<std::uint64_t>(rl.rlim_cur)};
}

std::string format_bytes(std::uint64_t bytes) {
    char text[32];
    constexpr double kKiB = 1024.0;
    const auto b = static_cast<double>(bytes);
    if (bytes < 1024)
        std::snprintf(text, sizeof text, "%llu bytes", static_cast<unsigned long long>(bytes));
    else if (b < kKiB * kKiB)
        std::snprintf(text, sizeof text, "%.1f KiB", b / kKiB);
    else if (b < kKiB * kKiB * kKiB)
        std::snprintf(text, sizeof text, "%.1f MiB", b / (kKiB * kKiB));
    else
        std::snprintf(text, sizeof text, "%.1f GiB", b / (kKiB * kKiB * kKiB));
    return text;
}

std::string memlock_fix() {
    return "set LimitMEMLOCK=infinity in the service unit (systemctl edit looperd), or for a "
           "login session add \"@audio - memlock unlimited\" to "
           "/etc/security/limits.d/audio.conf and log in again";
}

std::string memlock_warning(std::size_t bytes, std::uint64_t unlocked_total, MemlockLimit limit) {
    const std::string limit_text = limit.unlimited ? "unlimited" : format_bytes(limit.bytes);
    return "cannot lock sample memory in RAM: " + format_bytes(bytes) + " could not be locked (" +
           format_bytes(unlocked_total) + " unlocked in all) with RLIMIT_MEMLOCK at " + limit_text +
           "; if it is swapped out, the audio thread will stall on page faults. To fix it, " +
           memlock_fix() + ". (Said once; each load's line says \"not locked in RAM\".)";
}

std::optional<std::string> memlock_warning_once(std::size_t bytes, std::uint64_t unlocked_total) {
    static std::atomic<bool> said{false};
    if (said.exchange(true, std::memory_order_relaxed)) return std::nullopt;
    return memlock_warning(bytes, unlocked_total, memlock_limit());
}

std::string lock_process_memory() {
    const MemlockLimit limit = memlock_limit();
    if (!limit.unlimited) {
        return "memory lock limit (RLIMIT_MEMLOCK) " + format_bytes(limit.bytes) +
               ": samples are locked in RAM up to it, the rest of the daemon is not; for no "
               "limit, " +
               memlock_fix();
    }
    if (::mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0) {
        return std::string("memory lock limit unlimited, but mlockall failed: ") +
               std::strerror(errno) + "; samples are still locked one by one";
    }
    return "memory locked in RAM (RLIMIT_MEMLOCK unlimited: mlockall, pages kept once touched)";
}

}  // namespace looperd
