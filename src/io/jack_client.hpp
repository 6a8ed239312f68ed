// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <jack/jack.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "looperd/engine.hpp"

namespace looperd {

// JackClient: looperd's JACK client. Opens the client and its output ports, runs the engine
// from the process callback, and keeps the server's state (rate, block size, xruns, whether
// it is still there) in atomics for the other threads.
//
// Threads: constructed, activated and closed by the main thread. The callbacks are one-line
// trampolines into members: process() runs on JACK's audio thread; the others on JACK's
// notification thread.
class JackClient {
  public:
    // Opens the client on `server_name` (empty: JACK_DEFAULT_SERVER or the default server)
    // without starting a server. Throws std::runtime_error with JACK's reason.
    JackClient(const std::string& client_name, const std::string& server_name,
               std::uint32_t outputs);
    ~JackClient();
    JackClient(const JackClient&) = delete;
    JackClient& operator=(const JackClient&) = delete;

    // Starts processing into `engine`, which must outlive the client or close().
    void activate(Engine& engine);
    // Connects out_i to the i-th physical playback port. Returns how many were connected.
    std::uint32_t connect_physical_outputs();
    void close() noexcept;

    std::string name() const;
    std::uint32_t sample_rate() const noexcept {
        return sample_rate_.load(std::memory_order_relaxed);
    }
    std::uint32_t block_size() const noexcept {
        return block_size_.load(std::memory_order_relaxed);
    }
    std::uint64_t xruns() const noexcept { return xruns_.load(std::memory_order_relaxed); }
    float dsp_load() const noexcept;
    // True once the server has gone away; shutdown_reason() then says why.
    bool server_gone() const noexcept { return server_gone_.load(std::memory_order_acquire); }
    std::string shutdown_reason() const;

  private:
    int process(jack_nframes_t nframes) noexcept;

    jack_client_t* client_ = nullptr;
    std::vector<jack_port_t*> ports_;
    std::vector<float*> buffers_;  // preallocated: process() only fills it
    Engine* engine_ = nullptr;

    std::atomic<std::uint32_t> sample_rate_{0};
    std::atomic<std::uint32_t> block_size_{0};
    std::atomic<std::uint64_t> xruns_{0};
    std::atomic<bool> server_gone_{false};
    char shutdown_reason_[256] = {};
};

}  // namespace looperd
