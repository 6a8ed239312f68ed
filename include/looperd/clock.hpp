// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <cmath>
#include <cstdint>

#include "looperd/command.hpp"
#include "looperd/timing.hpp"

namespace looperd {

// Clock: the beat grid that quantized starts land on. Owned by the Engine; audio thread only.
//
// Internal: a tempo and a meter, anchored at a frame where the beat count is known, so a
// tempo change keeps the beats continuous. Following JACK: while the transport rolls with
// BBT, each block re-anchors at the transport's beat position and tempo; otherwise the
// internal clock runs on at the last tempo seen. Following MIDI clock: each tick re-anchors
// the grid at the tick's filtered time (MidiClockIn), a fractional frame. Following Ableton
// Link: each block re-anchors at the session's beat and tempo (LinkInfo); without a session
// the grid runs on at the last tempo seen.
class Clock {
  public:
    // Audio thread. Called at the start of every block.
    void begin_block(const BlockTiming& t, std::uint32_t sample_rate) noexcept {
        sample_rate_ = sample_rate;
        if (!started_) {
            anchor_frame_ = static_cast<double>(t.frame);
            anchor_beat_ = 0.0;
            started_ = true;
        }
        const TransportInfo& tr = t.transport;
        if (source_ == ClockSource::jack && tr.valid && tr.rolling && tr.bpm > 0.0) {
            bpm_ = tr.bpm;
            if (tr.beats_per_bar >= 1.0) meter_ = tr.beats_per_bar;
            anchor_frame_ = static_cast<double>(t.frame);
            anchor_beat_ = tr.beat;
        }
        // An Ableton Link session: its tempo, and its beat where the block's first frame will
        // sound; the meter stays looperd's (it is the session's quantum).
        const LinkInfo& link = t.link;
        if (source_ == ClockSource::link && link.valid && link.bpm > 0.0) {
            bpm_ = link.bpm;
            anchor_frame_ = static_cast<double>(t.frame);
            anchor_beat_ = link.beat;
        }
    }

    void set_tempo(double bpm, std::uint64_t at) noexcept {
        reanchor(at);
        bpm_ = bpm;
    }
    void set_meter(double beats_per_bar) noexcept { meter_ = beats_per_bar; }
    void reset(std::uint64_t at) noexcept {
        anchor_frame_ = static_cast<double>(at);
        anchor_beat_ = 0.0;
        started_ = true;
    }
    void set_source(ClockSource s) noexcept { source_ = s; }
    // The grid is on `beat` at `frame` (fractional) and runs at `bpm` from there: an external
    // clock's tick (MIDI clock in).
    void follow(double frame, double beat, double bpm) noexcept {
        anchor_frame_ = frame;
        anchor_beat_ = beat;
        bpm_ = bpm;
        started_ = true;
    }

    ClockSource source() const noexcept { return source_; }

    double bpm() const noexcept { return bpm_; }
    double meter() const noexcept { return meter_; }
    double frames_per_beat() const noexcept { return sample_rate_ * 60.0 / bpm_; }

    // The beat position at `frame` (beats since the grid's zero; bar lines at multiples of the
    // meter).
    double beat_at(std::uint64_t frame) const noexcept {
        return beat_at_exact(static_cast<double>(frame));
    }
    // The same at a fractional frame.
    double beat_at_exact(double frame) const noexcept {
        return anchor_beat_ + (frame - anchor_frame_) / frames_per_beat();
    }

    // The frame (fractional) where the grid is at `beat`.
    double frame_at_beat(double beat) const noexcept {
        return anchor_frame_ + (beat - anchor_beat_) * frames_per_beat();
    }

    // The first grid frame at or after `frame`. `step`: beats between grid lines (> 0), or
    // -1 for a bar. A frame within half a frame of a grid line is on it.
    std::uint64_t next_grid_frame(std::uint64_t frame, double step) const noexcept {
        if (step < 0.0) step = meter_;
        const double fpb = frames_per_beat();
        const double beat = beat_at(frame);
        const double tolerance = 0.5 / fpb;  // half a frame, in beats
        const double k = std::ceil((beat - tolerance) / step);
        const double grid_beat = k * step;
        const double grid_frame = anchor_frame_ + (grid_beat - anchor_beat_) * fpb;
        const double rounded = std::nearbyint(grid_frame);
        return rounded <= static_cast<double>(frame) ? frame : static_cast<std::uint64_t>(rounded);
    }

  private:
    void reanchor(std::uint64_t at) noexcept {
        anchor_beat_ = beat_at(at);
        anchor_frame_ = static_cast<double>(at);
    }

    ClockSource source_ = ClockSource::internal;
    double bpm_ = 120.0;
    double meter_ = 4.0;
    double sample_rate_ = 48000.0;
    double anchor_frame_ = 0.0;  // fractional: a MIDI clock tick's filtered time
    double anchor_beat_ = 0.0;
    bool started_ = false;
};

}  // namespace looperd
