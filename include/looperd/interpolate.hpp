// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <cstdint>

// The voices' interpolating kernel: 4-point cubic Hermite over a span of frames read at a
// constant rate, with no tap past the buffer or the loop's region (Engine::read_voice finds
// such spans). Several frames at a time on the widest vectors the CPU has, chosen at run time
// (Google Highway's dynamic dispatch), and the scalar code it replaced, kept as the reference
// the tests compare it with.
namespace looperd::interpolate {

// 4-point, 3rd-order Hermite (Catmull-Rom) between y1 and y2; t = 0 returns y1 exactly. The
// vector kernel does the same operations in the same order.
inline float cubic(float y0, float y1, float y2, float y3, float t) noexcept {
    const float c1 = 0.5F * (y2 - y0);
    const float c2 = y0 - 2.5F * y1 + 2.0F * y2 - 0.5F * y3;
    const float c3 = 0.5F * (y3 - y0) + 1.5F * (y1 - y2);
    return ((c3 * t + c2) * t + c1) * t + y1;
}

// One span of one or two channels. Frame k reads the source at position + k × step; every tap
// (floor(p) − 1 … floor(p) + 2) must be inside the channel, and p > 0.
struct Span {
    const float* left = nullptr;
    const float* right = nullptr;  // nullptr: one channel
    double position = 0.0;
    double step = 0.0;  // source frames per frame, negative in reverse
    std::uint32_t frames = 0;
    // Frames in each channel. The kernel may read frames past the taps (never past this):
    // 0 keeps it to the taps.
    std::uint32_t length = 0;
    float* out_left = nullptr;
    float* out_right = nullptr;
};

// Frame k of the span, read at position p, on its own (the scalar path, and the last frames
// of the vector one).
inline void read_frame(const Span& s, std::uint32_t k, double p) noexcept {
    const auto i = static_cast<std::int64_t>(p);  // p > 0: truncation is floor
    const auto t = static_cast<float>(p - static_cast<double>(i));
    const float* a = s.left + (i - 1);
    s.out_left[k] = cubic(a[0], a[1], a[2], a[3], t);
    if (s.right != nullptr) {
        const float* z = s.right + (i - 1);
        s.out_right[k] = cubic(z[0], z[1], z[2], z[3], t);
    }
}

// Interpolates the span; returns the position after its last frame (position + frames × step).
// Each frame's position is computed on its own, so frames are independent of each other.
// Audio thread: no allocation, no lock, no system call (the target is chosen by prepare()).
double hermite(const Span& span) noexcept;

// The scalar code hermite() replaced: positions added frame by frame. The same cubic, in the
// same order of operations; the positions differ from hermite()'s by rounding only (about
// 1e-12 of a frame per frame), so the outputs agree within 1e-6.
double hermite_reference(const Span& span) noexcept;

// Chooses the instruction set now (CPU detection), so that the audio thread's first call does
// not. Idempotent; cheap after the first call.
void prepare() noexcept;

// The instruction set hermite() runs on, e.g. "AVX2", "NEON", "SSE4", "EMU128".
const char* target() noexcept;

// The instruction sets the kernel is built for, as Highway's target bits (HWY_AVX2, ...): the
// tests run each that the CPU has.
std::int64_t built_targets() noexcept;

}  // namespace looperd::interpolate
