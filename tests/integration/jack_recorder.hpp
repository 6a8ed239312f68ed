// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <jack/jack.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace looperd::test {

// JackRecorder: the test's own JACK capture client. Registers `channels` input ports
// (in_1..in_N) and copies every cycle into buffers allocated and touched up front, so the
// process callback never allocates. The test thread owns the object and calls every method;
// the process callback only writes samples past the published write index.
class JackRecorder {
  public:
    // Throws std::runtime_error if the server cannot be reached. A client that only looks at
    // the graph takes another name than the recorders': looperd connects its ports again to a
    // port of a name it was connected to, when that port comes back.
    JackRecorder(const std::string& server_name, std::size_t channels,
                 std::chrono::seconds capacity,
                 const std::string& client_name = "looperd-test-recorder");
    ~JackRecorder();
    JackRecorder(const JackRecorder&) = delete;
    JackRecorder& operator=(const JackRecorder&) = delete;

    // Connects `source_port` (e.g. "looperd:out_1") to input `channel` (0-based).
    void connect(const std::string& source_port, std::size_t channel);

    // Discards what was recorded and records from the next cycle on. Returns once the first
    // recording cycle has begun (waits up to kHangBound, then throws).
    void start();
    // Stops recording; the recording stays readable.
    void stop();

    // The JACK frame time of the first recorded frame (valid once start() has returned), so
    // recording index k is JACK frame start_frame() + k.
    std::uint32_t start_frame() const noexcept {
        return start_frame_.load(std::memory_order_acquire);
    }
    // Frames recorded so far (a multiple of the block size).
    std::size_t frames() const noexcept { return published_.load(std::memory_order_acquire); }
    // A copy of the recorded frames, one vector per channel.
    std::vector<std::vector<float>> snapshot() const;
    // Waits until at least `frames` are recorded or `timeout` passes. Returns frames().
    std::size_t wait_for_frames(std::size_t frames, std::chrono::milliseconds timeout) const;

    std::uint32_t sample_rate() const noexcept { return sample_rate_; }
    std::uint32_t block_size() const noexcept { return jack_get_buffer_size(client_); }
    std::size_t capacity_frames() const noexcept { return capacity_; }
    bool overflowed() const noexcept { return overflowed_.load(std::memory_order_relaxed); }
    std::uint64_t xruns() const noexcept { return xruns_.load(std::memory_order_relaxed); }
    std::string client_name() const { return jack_get_client_name(client_); }

    // Names of the server's ports of `type` matching `pattern` (a regex) with all of `flags`.
    std::vector<std::string> ports(const std::string& pattern, unsigned long flags,
                                   const char* type = JACK_DEFAULT_AUDIO_TYPE) const;
    // The full names of the ports `port` (a full name) is connected to.
    std::vector<std::string> connections(const std::string& port) const;
    // Connects any two ports of the server (full names, source first), as jack_connect does.
    // Returns JACK's result (EEXIST: already connected).
    int connect_ports(const std::string& source, const std::string& destination);
    // Asks the server for another block size (what jack_bufsize does). Returns JACK's result.
    int set_buffer_size(std::uint32_t frames);

  private:
    enum class State : int { kIdle, kArmed, kRecording };

    static int process_trampoline(jack_nframes_t nframes, void* self);
    static int xrun_trampoline(void* self);
    int process(jack_nframes_t nframes) noexcept;

    jack_client_t* client_ = nullptr;
    std::vector<jack_port_t*> ports_;
    std::vector<std::vector<float>> buffers_;
    std::size_t capacity_ = 0;
    std::uint32_t sample_rate_ = 0;

    // The test thread arms; the callback moves kArmed to kRecording when it resets the index,
    // so a reset never races with a copy.
    std::atomic<State> state_{State::kIdle};
    // Release-published by the callback after a block is copied: frames below it are final.
    std::atomic<std::size_t> published_{0};
    std::atomic<std::uint32_t> start_frame_{0};
    std::atomic<bool> overflowed_{false};
    std::atomic<std::uint64_t> xruns_{0};
};

}  // namespace looperd::test
