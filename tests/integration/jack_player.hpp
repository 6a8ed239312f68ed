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

// JackPlayer: the test's own JACK source. Registers `channels` output ports (out_1..out_N) and
// plays a signal the test hands it, once, then silence; it says at which JACK frame the
// signal's frame 0 was played, so the test can tell which input frame looperd saw when. The
// buffers are allocated and touched up front, so the process callback never allocates. The
// test thread owns the object and calls every method; the process callback reads the signal
// only between play() and the end of the signal or stop(), while the test thread leaves it
// alone.
class JackPlayer {
  public:
    // Throws std::runtime_error if the server cannot be reached. Signals of up to `capacity`.
    JackPlayer(const std::string& server_name, std::size_t channels, std::chrono::seconds capacity);
    ~JackPlayer();
    JackPlayer(const JackPlayer&) = delete;
    JackPlayer& operator=(const JackPlayer&) = delete;

    // Connects output `channel` (0-based) to `destination_port` (e.g. "looperd:in_1").
    void connect(std::size_t channel, const std::string& destination_port);

    // Plays `signal` (one vector per channel, all of one length) from the next cycle on, once,
    // then silence. Stops what played before. Returns once the first cycle of it has begun
    // (waits up to kHangBound, then throws); start_frame() is then valid.
    void play(const std::vector<std::vector<float>>& signal);
    // Silence from the next cycle on. Returns once the callback has let go of the signal
    // (waits up to kHangBound, then throws).
    void stop();
    // Waits until the whole signal has been played or `timeout` passes. Returns whether it was.
    bool wait_done(std::chrono::milliseconds timeout) const;

    // The JACK frame time at which the signal's frame 0 was played.
    std::uint32_t start_frame() const noexcept {
        return start_frame_.load(std::memory_order_acquire);
    }
    std::string client_name() const { return jack_get_client_name(client_); }

  private:
    enum class State : int { kIdle, kArmed, kPlaying, kStopping, kDone };

    static int process_trampoline(jack_nframes_t nframes, void* self);
    int process(jack_nframes_t nframes) noexcept;

    jack_client_t* client_ = nullptr;
    std::vector<jack_port_t*> ports_;
    std::vector<std::vector<float>> buffers_;
    std::size_t capacity_ = 0;

    // Written by the test thread while the callback leaves the signal alone (idle or done),
    // then published by the release store of kArmed.
    std::size_t length_ = 0;
    // Callback only: frames of the signal played so far.
    std::size_t position_ = 0;
    std::atomic<State> state_{State::kIdle};
    std::atomic<std::uint32_t> start_frame_{0};
};

}  // namespace looperd::test
