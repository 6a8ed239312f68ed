// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <cstdint>

namespace looperd {

class SampleBuffer;

// Ramp: a value moving linearly to a target over a number of frames, landing on the target
// exactly (so that unity gain after a ramp is bit-exact again). Audio thread only.
struct Ramp {
    float value = 1.0F;
    float target = 1.0F;
    float step = 0.0F;
    std::uint32_t remaining = 0;

    void jump(float v) noexcept {
        value = target = v;
        step = 0.0F;
        remaining = 0;
    }
    void go(float to, std::uint32_t frames) noexcept {
        target = to;
        if (frames == 0 || to == value) {
            jump(to);
            return;
        }
        remaining = frames;
        step = (to - value) / static_cast<float>(frames);
    }
    bool moving() const noexcept { return remaining != 0; }
    // Advance one frame and return the value for that frame.
    float next() noexcept {
        if (remaining == 0) return value;
        --remaining;
        value = remaining == 0 ? target : value + step;
        return value;
    }
    // Writes the next n per-frame values to out and advances by n frames. The same values as
    // n calls of next(), within rounding, in a form the compiler vectorises.
    void fill(float* out, std::uint32_t n) noexcept {
        const std::uint32_t ramp = remaining < n ? remaining : n;
        const float start = value;
        for (std::uint32_t i = 0; i < ramp; ++i) out[i] = start + step * static_cast<float>(i + 1);
        if (ramp > 0) {
            remaining -= ramp;
            value = remaining == 0 ? target : start + step * static_cast<float>(ramp);
            out[ramp - 1] = value;
        }
        for (std::uint32_t i = ramp; i < n; ++i) out[i] = value;
    }
};

// Voice: one playing pass over one buffer. Owned by the Engine's fixed pool; audio thread only.
struct Voice {
    SampleBuffer* buffer = nullptr;  // holds one rt reference while active
    std::uint32_t slot = 0;
    std::uint64_t started = 0;  // frame of its start: the slot's oldest voice has the lowest
    bool active = false;
    bool loop = false;
    bool releasing = false;  // fading out; ends when the envelope reaches 0
    bool reverse = false;
    // Plays its slot's rendering (stretch pitch): the whole buffer is the region, and the pitch
    // is in the frames. swap_due: it passed its seam while the slot plays something else now.
    bool stretched = false;
    bool swap_due = false;
    double position = 0.0;    // next frame to read (fractional when the rate is not 1)
    std::uint32_t begin = 0;  // region [begin, end) in frames
    std::uint32_t end = 0;
    std::uint32_t xfade = 0;       // loop seam crossfade, frames (< end - begin)
    std::uint32_t next_begin = 0;  // a region change, adopted at the next loop seam
    std::uint32_t next_end = 0;    // (0: none)
    std::uint32_t out_first = 0;   // outputs it plays to: [out_first, out_first + out_count)
    std::uint32_t out_count = 0;
    float velocity = 1.0F;  // what the press scaled the slot's gain by (a MIDI note's velocity)
    Ramp gain;              // slot gain × velocity, smoothed
    Ramp envelope;          // fade in to 1, fade out to 0
    Ramp pan_left;          // balance gains, smoothed
    Ramp pan_right;
    Ramp rate;  // effective rate (rate × pitch × tempo factor), glides
    // Kept on an external beat grid (Engine::lock_loops): the grid's beat where the region's
    // first frame played, the region's length in beats, and whether the rate is nudged now.
    bool grid_locked = false;
    bool nudged = false;
    double grid_beat = 0.0;
    double grid_length = 0.0;

    // Reads its frames unchanged (rate exactly 1, not gliding): the copy path, no taps.
    [[nodiscard]] bool copies() const noexcept { return !rate.moving() && rate.value == 1.0F; }
};

}  // namespace looperd
