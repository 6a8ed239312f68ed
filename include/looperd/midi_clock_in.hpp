// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <cstdint>

namespace looperd {

// MidiClockIn: follows an external MIDI clock (24 ticks a beat) and its transport messages.
// Owned by the Engine; audio thread only. Wait-free, O(1) per message; does not allocate.
//
// Each tick's frame goes through a delay-locked loop (Fons Adriaensen, "Using a DLL to filter
// time", 2005): a second-order loop that estimates the tick period and the tick's true time
// from jittered arrival frames. The loop starts as a growing-memory least-squares line fit
// (the best estimate from the ticks seen so far) and narrows to a fixed bandwidth of
// kBandwidthHz once the fit's gains fall below the loop's: that locks to within 0.1 BPM in
// one bar of ±1 ms jitter and then keeps the phase within a few frames. A tempo step the
// narrow loop would take bars to follow (three ticks in a row off by more than a tenth of a
// period and 2 ms, on the same side) restarts the fit from the current estimate.
//
// Transport: Start (FA) makes the next tick song position 0, Continue (FB) makes it the
// position the last Stop or Song Position Pointer left; Stop (FC) freezes the song position,
// while ticks that go on coming still set tempo and phase. A tick after a gap longer than
// kLossSeconds starts the loop afresh.
class MidiClockIn {
  public:
    // The loop's bandwidth at lock (Adriaensen's B): the phase then moves by less than a frame
    // per tick for ±1 ms of jitter, and a slow tempo ramp is followed within a bar.
    static constexpr double kBandwidthHz = 0.2;
    // No tick for this long: the clock is lost (the grid runs on at the last tempo).
    static constexpr double kLossSeconds = 2.0;
    static constexpr double kTicksPerBeat = 24.0;

    // What a tick tells the grid: at `frame` (fractional, the filtered time of the tick) the
    // grid is on a tick, `frames_per_tick` apart. `relabel`: that tick is song position
    // `song_tick` (after Start, Continue or a Song Position Pointer); otherwise the grid keeps
    // its own count, on the tick nearest its beat.
    struct Tick {
        double frame = 0.0;
        double frames_per_tick = 0.0;
        bool relabel = false;
        std::uint64_t song_tick = 0;
    };

    // A tick (F8) on `frame`. `guess`: frames per tick to start from when the loop has no
    // estimate (the grid's current tempo). `sample_rate` bounds the period to what a clock can
    // mean (kMinBpm..kMaxBpm).
    Tick tick(std::uint64_t frame, double guess, double sample_rate) noexcept;
    void start() noexcept;                                  // FA
    void resume() noexcept;                                 // FB (Continue)
    void stop() noexcept;                                   // FC
    void song_position(std::uint16_t sixteenths) noexcept;  // F2

    // Called once a block: true once when the clock has just been lost (no tick since
    // kLossSeconds before `now`).
    bool check_loss(std::uint64_t now, double sample_rate) noexcept;

    bool locked() const noexcept { return count_ > 0; }
    bool running() const noexcept { return running_; }
    // The song position of the next tick, in ticks.
    std::uint64_t song_tick() const noexcept { return song_tick_; }
    double frames_per_tick() const noexcept { return period_; }

    // The tempos an external clock is followed at (beyond them the period is held at the bound).
    static constexpr int kMinBpm = 10;
    static constexpr int kMaxBpm = 999;

  private:
    std::uint64_t count_ = 0;  // ticks in the loop since it (re)started; 0: not locked
    std::uint64_t fit_ = 0;    // ticks the least-squares start has seen
    double next_ = 0.0;        // predicted frame of the next tick
    double period_ = 0.0;      // filtered frames per tick
    std::uint64_t last_frame_ = 0;
    int slip_side_ = 0;  // -1, 0, 1: the side of the last ticks far off the prediction
    int slip_run_ = 0;
    bool running_ = false;
    bool relabel_ = false;
    std::uint64_t song_tick_ = 0;
};

}  // namespace looperd
