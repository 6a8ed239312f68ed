// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <jack/jack.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "io/render_meter.hpp"
#include "looperd/engine.hpp"

namespace looperd {

// JackClient: looperd's JACK client. Opens the client and its output ports, runs the engine
// from the process callback, and keeps the server's state (rate, block size, xruns, whether
// it is still there) in atomics for the other threads.
//
// Threads: constructed, activated and closed by the main thread. The callbacks are one-line
// trampolines into members: process() runs on JACK's audio thread; the others on JACK's
// notification thread. frame_for_ntp() and current_frame() are for the network thread.
//
// Frames: JACK counts frames in 32 bits, which wrap after about a day at 48 kHz. The engine and
// the scheduler see them extended to 64 bits (the low 32 bits are JACK's), so a frame far
// enough ahead never looks like one in the past.
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
    // The longest Engine::process of one block in the last completed second of audio, in
    // microseconds, timed on the audio thread (0 until a second has been rendered).
    double render_max_us() const noexcept {
        return static_cast<double>(render_meter_.last_window_max_ns()) / 1000.0;
    }

    // Network thread, any time after activate(). Not for the audio thread.
    //
    // The 64-bit frame an OSC timetag falls on: 1 ("immediately") is the first frame of the
    // block after the next, so that every command of one bundle lands on the same frame;
    // otherwise the frame on the line through an anchor (wall clock as NTP and JACK's
    // clock read back to back) at the sample rate. The anchor is renewed every 250 ms, so
    // intervals between timetags are exact and the two clocks' drift never accumulates.
    // Offsets beyond two hours are clamped. Network thread only.
    std::uint64_t frame_for_ntp(std::uint64_t timetag) const;
    // The 64-bit frame JACK estimates for now.
    std::uint64_t current_frame() const;
    // True once the server has gone away; shutdown_reason() then says why.
    bool server_gone() const noexcept { return server_gone_.load(std::memory_order_acquire); }
    std::string shutdown_reason() const;

  private:
    int process(jack_nframes_t nframes) noexcept;
    // JACK's 32-bit frame `f`, within ±2³¹ frames of now, extended to 64 bits.
    std::uint64_t extend(jack_nframes_t f) const;

    jack_client_t* client_ = nullptr;
    std::vector<jack_port_t*> ports_;
    std::vector<float*> buffers_;  // preallocated: process() only fills it
    Engine* engine_ = nullptr;

    // Audio thread only: the 64-bit extension of jack_last_frame_time().
    std::uint64_t frame_wraps_ = 0;  // multiples of 2³²
    jack_nframes_t last_cycle_low_ = 0;
    // The 64-bit frame of the last cycle's start, published for the network thread. One word,
    // so the reader never sees half of an update; kNoCycle until the first cycle.
    static constexpr std::uint64_t kNoCycle = ~std::uint64_t{0};
    static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
                  "the audio thread publishes the cycle frame without a lock");
    std::atomic<std::uint64_t> cycle_frame_{kNoCycle};
    // frame_for_ntp's anchor (network thread only).
    mutable std::uint64_t anchor_ntp_ = 0;
    mutable std::uint64_t anchor_frame_ = 0;

    std::atomic<std::uint32_t> sample_rate_{0};
    std::atomic<std::uint32_t> block_size_{0};
    std::atomic<std::uint64_t> xruns_{0};
    RenderMeter render_meter_;
    std::atomic<bool> server_gone_{false};
    char shutdown_reason_[256] = {};
};

}  // namespace looperd
