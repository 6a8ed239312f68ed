// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

// Memory locking: keeping what the audio thread reads in RAM, so that it never waits for a page
// to come back from swap (or for a file-backed page to be read again). Sample buffers are
// prefaulted and mlock()ed one by one (SampleBuffer::prefault); the rest of the daemon is locked
// with mlockall() when the limit allows. RLIMIT_MEMLOCK decides how much may be locked, unless
// the process holds CAP_IPC_LOCK; a system service gets it from LimitMEMLOCK=, a login session
// from pam_limits (/etc/security/limits.d/).
namespace looperd {

struct MemlockLimit {
    bool unlimited = false;
    std::uint64_t bytes = 0;  // the soft limit, when not unlimited
};

// This process's RLIMIT_MEMLOCK (soft).
MemlockLimit memlock_limit() noexcept;

// "1.5 MiB", "512 KiB", "1.0 GiB".
std::string format_bytes(std::uint64_t bytes);

// What to set, for a message: "set LimitMEMLOCK=infinity in the service unit (systemctl edit
// looperd), or for a login session add \"@audio - memlock unlimited\" to
// /etc/security/limits.d/audio.conf and log in again".
std::string memlock_fix();

// The warning for a sample buffer of `bytes` that could not be locked, with `unlocked_total`
// bytes of sample memory unlocked in all and the limit: one line, with the numbers and the fix.
std::string memlock_warning(std::size_t bytes, std::uint64_t unlocked_total, MemlockLimit limit);

// Loader thread (or any, serialised by an atomic): the warning above the first time a buffer
// could not be locked in this process, nullopt after that. The limit is process-wide, so one
// warning says all there is to say; each load's own log line still says "not locked in RAM".
std::optional<std::string> memlock_warning_once(std::size_t bytes, std::uint64_t unlocked_total);

// Main thread, at start, before other threads: when RLIMIT_MEMLOCK is unlimited, locks the
// whole process with mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT): code, engine tables,
// JACK's buffers and later allocations stay in RAM once touched. MCL_ONFAULT keeps it from
// populating every thread's 8 MiB stack up front. With a finite limit it does nothing:
// MCL_FUTURE would then make allocations fail once the limit is reached, which is worse than
// a page fault. Returns a line for the log that says what was done.
std::string lock_process_memory();

}  // namespace looperd
