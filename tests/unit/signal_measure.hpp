// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

// Measurements on rendered audio for the stretch tests: a tone's frequency, and where the
// onsets of a click track fall. Test code only.
#include <cmath>
#include <cstddef>
#include <vector>

namespace looperd::test {

// The frequency of a steady tone in x[from, to), from its upward zero crossings, each placed
// between frames by linear interpolation: cycles between the first and the last crossing over
// the time between them.
inline double tone_frequency(const float* x, std::size_t from, std::size_t to, double rate) {
    double first = -1.0;
    double last = -1.0;
    std::size_t cycles = 0;
    for (std::size_t i = from + 1; i < to; ++i) {
        if (x[i - 1] < 0.0F && x[i] >= 0.0F) {
            const double t = static_cast<double>(i - 1) +
                             static_cast<double>(-x[i - 1]) / static_cast<double>(x[i] - x[i - 1]);
            if (first < 0.0) {
                first = t;
            } else {
                ++cycles;
            }
            last = t;
        }
    }
    if (cycles == 0) return 0.0;
    return static_cast<double>(cycles) * rate / (last - first);
}

inline double cents(double f, double reference) {
    return 1200.0 * std::log2(f / reference);
}

// A click track: a decaying 2 kHz burst on every beat, `beats` of them, `beat_frames` apart.
inline std::vector<float> click_track(std::size_t beats, std::size_t beat_frames, double rate) {
    std::vector<float> x(beats * beat_frames, 0.0F);
    for (std::size_t b = 0; b < beats; ++b)
        for (std::size_t j = 0; j < 480; ++j)
            x[b * beat_frames + j] = static_cast<float>(
                0.9 * std::sin(2.0 * M_PI * 2000.0 * static_cast<double>(j) / rate) *
                std::exp(-static_cast<double>(j) / 80.0));
    return x;
}

// Where an onset starts in x[from, to): the first frame at which the energy over the last 48
// frames reaches half its largest value in that span.
inline std::size_t onset(const float* x, std::size_t from, std::size_t to) {
    std::vector<double> e(to - from, 0.0);
    double peak = 0.0;
    double sum = 0.0;
    for (std::size_t i = from; i < to; ++i) {
        sum += static_cast<double>(x[i]) * static_cast<double>(x[i]);
        if (i >= from + 48) sum -= static_cast<double>(x[i - 48]) * static_cast<double>(x[i - 48]);
        e[i - from] = sum;
        peak = std::max(peak, sum);
    }
    for (std::size_t i = from; i < to; ++i)
        if (e[i - from] >= 0.5 * peak) return i;
    return from;
}

}  // namespace looperd::test
