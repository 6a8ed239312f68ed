// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

// CaptureProcess: records one port of one JACK server in a process of its own
// (looperd-test-capture, capture.cpp), and reads the recording as it grows through a shared
// file. For tests that record several JACK servers at once, and compare them by time.

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "capture_file.hpp"
#include "jack_server.hpp"

namespace looperd::test {

class CaptureProcess {
  public:
    // Starts `binary` recording `port` of `server` into `file` (room for `capacity`), and waits
    // (up to kHangBound) until it is connected and recording. Throws std::runtime_error with
    // its log when it is not.
    CaptureProcess(const std::string& binary, const std::string& server, const std::string& port,
                   const std::string& file, std::chrono::seconds capacity);
    ~CaptureProcess();  // SIGTERM, then the file is unmapped
    CaptureProcess(const CaptureProcess&) = delete;
    CaptureProcess& operator=(const CaptureProcess&) = delete;

    std::size_t frames() const noexcept;
    std::uint64_t xruns() const noexcept;
    // The samples recorded so far.
    std::vector<float> snapshot() const;
    // When recorded sample `k` passed through the server, in microseconds of
    // CLOCK_MONOTONIC_RAW (see CaptureCycle); nullopt before it is recorded.
    std::optional<double> host_micros(std::size_t k) const;

  private:
    std::unique_ptr<ChildProcess> process_;
    void* map_ = nullptr;
    std::size_t bytes_ = 0;
    const CaptureHeader* header_ = nullptr;
    const CaptureCycle* cycles_ = nullptr;
    const float* samples_ = nullptr;
};

}  // namespace looperd::test
