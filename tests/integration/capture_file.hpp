// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

// The file a capture process (capture.cpp) records one JACK port into, shared with the test
// through mmap: a header, then each recorded cycle's time, then the samples. The capture
// process writes and publishes counts with release stores; the test reads them with acquire
// loads. A process of its own per JACK server, because libjack keeps one server's shared state
// per process: a second server's clients in the test's process would read the first's graph.

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace looperd::test {

struct CaptureHeader {
    static constexpr std::uint32_t kStarting = 0;
    static constexpr std::uint32_t kRecording = 1;
    std::atomic<std::uint32_t> state{kStarting};
    std::uint32_t rate = 0;
    std::uint64_t capacity_frames = 0;
    std::uint64_t capacity_cycles = 0;
    std::atomic<std::uint64_t> frames{0};  // samples recorded and final
    std::atomic<std::uint64_t> cycles{0};  // cycle entries recorded and final
    std::atomic<std::uint64_t> xruns{0};
};

// One recorded cycle: its first sample's index, and when the cycle began on CLOCK_MONOTONIC_RAW
// (Ableton Link's clock, shared by every network namespace) as JACK's delay-locked loop puts it,
// and how long it lasts.
struct CaptureCycle {
    std::uint64_t first = 0;
    double begins_micros = 0.0;
    double period_micros = 0.0;
    std::uint32_t frames = 0;
    std::uint32_t unused = 0;
};

inline constexpr std::size_t kCaptureHeaderBytes = 4096;

inline std::size_t capture_file_bytes(std::uint64_t frames, std::uint64_t cycles) {
    return kCaptureHeaderBytes + cycles * sizeof(CaptureCycle) + frames * sizeof(float);
}

static_assert(sizeof(CaptureHeader) <= kCaptureHeaderBytes);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

}  // namespace looperd::test
