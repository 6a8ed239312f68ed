// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <jack/jack.h>
#include <jack/transport.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace looperd::test {

// TimebaseMaster: the test's own JACK client that reads the server's clocks and, once asked,
// becomes the unconditional timebase master, providing bar/beat/tick from the transport frame
// with a formula the test knows. The test thread owns it and calls every method; the process
// and timebase callbacks only read the transport and publish numbers through atomics.
class TimebaseMaster {
  public:
    // Throws std::runtime_error if the server cannot be reached.
    explicit TimebaseMaster(const std::string& server_name);
    ~TimebaseMaster();
    TimebaseMaster(const TimebaseMaster&) = delete;
    TimebaseMaster& operator=(const TimebaseMaster&) = delete;

    // Provides BBT at `bpm` with `beats_per_bar` from now on. A beat must last a whole number
    // of frames; there is one tick per frame, so the BBT at any frame is exact. Throws
    // std::runtime_error if JACK refuses.
    void become_master(std::uint32_t bpm, std::uint32_t beats_per_bar);
    std::uint32_t frames_per_beat() const noexcept { return frames_per_beat_; }
    std::uint32_t frames_per_bar() const noexcept { return frames_per_beat_ * beats_per_bar_; }

    void locate(jack_nframes_t transport_frame);
    void start_transport();
    void stop_transport();

    // Waits until the transport has rolled for `cycles` cycles without a relocation. Returns
    // JACK frame time − transport frame (constant while it rolls), or nullopt on timeout.
    std::optional<std::int64_t> wait_rolling(int cycles, std::chrono::milliseconds timeout) const;
    // Rolling cycles in which the offset above changed (a relocation or a skipped cycle).
    std::uint64_t offset_changes() const noexcept {
        return offset_changes_.load(std::memory_order_relaxed);
    }
    // Rolling cycles in which the BBT the transport reported differed from the formula.
    std::uint64_t bbt_mismatches() const noexcept {
        return bbt_mismatches_.load(std::memory_order_relaxed);
    }
    std::uint64_t bbt_cycles() const noexcept {
        return bbt_cycles_.load(std::memory_order_relaxed);
    }

    // JACK's clocks, as any client sees them.
    jack_time_t now_usecs() const noexcept { return jack_get_time(); }
    jack_nframes_t time_to_frames(jack_time_t usecs) const noexcept {
        return jack_time_to_frames(client_, usecs);
    }
    jack_nframes_t frame_time() const noexcept { return jack_frame_time(client_); }
    std::uint32_t sample_rate() const noexcept { return jack_get_sample_rate(client_); }

  private:
    static int process_trampoline(jack_nframes_t nframes, void* self);
    static void timebase_trampoline(jack_transport_state_t state, jack_nframes_t nframes,
                                    jack_position_t* pos, int new_pos, void* self);
    int process(jack_nframes_t nframes) noexcept;
    void timebase(jack_position_t* pos) const noexcept;
    // BBT of `frame` by the formula; `pos` gets bar, beat, tick and the fixed fields.
    void fill_bbt(jack_nframes_t frame, jack_position_t& pos) const noexcept;

    jack_client_t* client_ = nullptr;
    // Written before become_master() registers the callback, read-only afterwards.
    std::uint32_t bpm_ = 120;
    std::uint32_t beats_per_bar_ = 4;
    std::uint32_t frames_per_beat_ = 0;
    std::atomic<bool> master_{false};

    std::atomic<std::int64_t> offset_{0};
    std::atomic<std::uint64_t> stable_cycles_{0};
    std::atomic<std::uint64_t> offset_changes_{0};
    std::atomic<std::uint64_t> bbt_mismatches_{0};
    std::atomic<std::uint64_t> bbt_cycles_{0};
};

}  // namespace looperd::test
