// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "capture_process.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>
#include <thread>

namespace looperd::test {

CaptureProcess::CaptureProcess(const std::string& binary, const std::string& server,
                               const std::string& port, const std::string& file,
                               std::chrono::seconds capacity) {
    // An earlier capture's file would look ready until the new process truncates it.
    std::error_code ignored;
    std::filesystem::remove(file, ignored);
    process_ = std::make_unique<ChildProcess>(
        binary, std::vector<std::string>{server, port, file, std::to_string(capacity.count())},
        std::vector<std::string>{}, file + ".log");
    const auto fail = [&](const std::string& why) {
        throw std::runtime_error("capture of " + port + " on " + server + ": " + why + "\n" +
                                 process_->read_log());
    };
    const auto deadline = std::chrono::steady_clock::now() + kHangBound;
    for (;;) {
        if (!process_->running()) fail("exited: " + describe_wait_status(*process_->status()));
        if (std::chrono::steady_clock::now() >= deadline) fail("not recording");
        if (map_ == nullptr) {
            // The file is the full size once the capture has mapped it.
            const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
            struct stat st {};
            if (fd >= 0 && ::fstat(fd, &st) == 0 && st.st_size > 0) {
                bytes_ = static_cast<std::size_t>(st.st_size);
                map_ = ::mmap(nullptr, bytes_, PROT_READ, MAP_SHARED, fd, 0);
                if (map_ == MAP_FAILED) map_ = nullptr;
            }
            if (fd >= 0) ::close(fd);
        }
        if (map_ != nullptr) {
            header_ = static_cast<const CaptureHeader*>(map_);
            if (header_->state.load(std::memory_order_acquire) == CaptureHeader::kRecording) break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    const auto* base = static_cast<const unsigned char*>(map_);
    cycles_ = reinterpret_cast<const CaptureCycle*>(base + kCaptureHeaderBytes);
    samples_ = reinterpret_cast<const float*>(cycles_ + header_->capacity_cycles);
}

CaptureProcess::~CaptureProcess() {
    process_->terminate(std::chrono::seconds(5));
    if (map_ != nullptr) ::munmap(map_, bytes_);
}

std::size_t CaptureProcess::frames() const noexcept {
    return header_->frames.load(std::memory_order_acquire);
}

std::uint64_t CaptureProcess::xruns() const noexcept {
    return header_->xruns.load(std::memory_order_relaxed);
}

std::vector<float> CaptureProcess::snapshot() const {
    return {samples_, samples_ + frames()};
}

std::optional<double> CaptureProcess::host_micros(std::size_t k) const {
    const std::size_t count = header_->cycles.load(std::memory_order_acquire);
    const auto* end = cycles_ + count;
    const auto* it = std::upper_bound(
        cycles_, end, k, [](std::size_t v, const CaptureCycle& c) { return v < c.first; });
    if (it == cycles_) return std::nullopt;
    const CaptureCycle& c = *(it - 1);
    if (k >= c.first + c.frames) return std::nullopt;
    return c.begins_micros + c.period_micros * static_cast<double>(k - c.first) / c.frames;
}

}  // namespace looperd::test
