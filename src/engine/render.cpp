// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// The Engine's mix: each voice's source frames read (rate, direction, loop seam crossfade),
// gained, panned and mapped onto the outputs, then the master gain; and input monitoring.
// Audio thread only. Wait-free and bounded by voices × frames; does not allocate.

#include <algorithm>
#include <cmath>

#include "looperd/engine.hpp"
#include "looperd/interpolate.hpp"
#include "looperd/sample_buffer.hpp"

namespace looperd {

// Reads the next n source frames of a voice into scratch_ (channel c at c * chunk), handling
// rate, direction, region, loop wrap and seam crossfade. Returns false once the voice ran out
// (a one-shot past its region); the frames after that are silence.
bool Engine::read_voice(Voice& v, std::uint32_t n) noexcept {
    const SampleBuffer& b = *v.buffer;
    const std::uint32_t channels = b.channels();
    const std::uint32_t last = b.frames() - 1;
    float* scratch = scratch_.data();
    constexpr std::uint32_t chunk = limits::kRenderChunkFrames;
    const double dir = v.reverse ? -1.0 : 1.0;

    // Past the region's edge: a loop wraps (continuing after the seam crossfade), a one-shot ends.
    // A region change waiting for the seam takes effect as the voice wraps.
    auto adopt_region = [&v]() noexcept {
        if (v.next_end == 0) return;
        v.begin = v.next_begin;
        v.end = v.next_end;
        v.xfade = std::min(v.xfade, (v.end - v.begin) / 2);
        v.next_end = 0;
    };
    auto wrapped = [this, &v, &adopt_region]() noexcept {
        if (!v.reverse && v.position >= static_cast<double>(v.end)) {
            if (!v.loop) return false;
            if (wants_swap(v)) v.swap_due = true;
            const double over = v.position - static_cast<double>(v.end);
            adopt_region();
            const double period = static_cast<double>(v.end - v.begin - v.xfade);
            v.position = v.begin + static_cast<double>(v.xfade) + std::fmod(over, period);
        } else if (v.reverse && v.position < static_cast<double>(v.begin)) {
            if (!v.loop) return false;
            if (wants_swap(v)) v.swap_due = true;
            const double below = static_cast<double>(v.begin) - v.position;
            adopt_region();
            const double period = static_cast<double>(v.end - v.begin - v.xfade);
            double under = std::fmod(below, period);
            if (under == 0.0) under = period;
            v.position = static_cast<double>(v.end - v.xfade) - under;
        }
        return true;
    };

    std::uint32_t done = 0;
    while (done < n && wrapped()) {
        const bool steady = v.copies();
        const double whole = std::floor(v.position);
        // Fast path: rate exactly 1 on an integer frame, outside any seam crossfade: frames
        // are copied unchanged, up to the region's edge (or the crossfade's start).
        if (steady && whole == v.position) {
            const auto pos = static_cast<std::uint32_t>(whole);
            const std::uint32_t xf = v.loop ? v.xfade : 0;
            std::uint32_t m = 0;
            if (!v.reverse && pos < v.end - xf) {
                m = std::min(n - done, v.end - xf - pos);
                for (std::uint32_t c = 0; c < channels; ++c)
                    std::copy_n(b.channel(c) + pos, m, scratch + c * chunk + done);
            } else if (v.reverse && pos >= v.begin + xf) {
                m = std::min(n - done, pos - (v.begin + xf) + 1);
                for (std::uint32_t c = 0; c < channels; ++c) {
                    const float* src = b.channel(c);
                    float* dst = scratch + c * chunk + done;
                    for (std::uint32_t i = 0; i < m; ++i) dst[i] = src[pos - i];
                }
            }
            if (m > 0) {
                v.position += dir * m;
                done += m;
                continue;
            }
        }
        // Interpolating span: constant rate, away from the seam crossfade, the region's edge
        // and the buffer's ends, so no index needs clamping and no per-frame edge test is
        // needed. Each frame's position is the span's start + k × rate (not added frame by
        // frame as below): frames are independent, so several are read at a time.
        if (!v.rate.moving()) {
            double r = static_cast<double>(v.rate.value);
            // A rendering's rate in full: a float's rounding would add up to a frame of drift
            // every few hundred passes. Not while a Link nudge holds another rate.
            if (v.stretched) {
                const double exact = stretched_rate(slots_[v.slot], v);
                if (static_cast<float>(exact) == v.rate.value) r = exact;
            }
            const double xf = v.loop ? static_cast<double>(v.xfade) : 0.0;
            // Every tap (i − 1 … i + 2) must be a frame the per-frame path would read unwrapped:
            // inside the buffer, and for a loop inside its region. One frame of margin on each
            // side keeps rounding away from the limits.
            const double last_d = static_cast<double>(last);
            const double edge_lo = v.loop ? static_cast<double>(v.begin) + 1.0 : 1.0;
            const double edge_hi =
                v.loop ? std::min(static_cast<double>(v.end) - 3.0, last_d - 2.0) : last_d - 2.0;
            double room = 0.0;
            if (!v.reverse) {
                const double hi = std::min(static_cast<double>(v.end) - xf, edge_hi) - 1.0;
                if (v.position >= edge_lo) room = (hi - v.position) / r;
            } else {
                const double lo = std::max(static_cast<double>(v.begin) + xf, edge_lo) + 1.0;
                if (v.position <= edge_hi) room = (v.position - lo) / r;
            }
            if (room >= 1.0) {
                const std::uint32_t m = std::min(n - done, static_cast<std::uint32_t>(room));
                // Several frames at a time (interpolate.hpp); the scalar reference in tests
                // that compare the two.
                const auto kernel =
                    reference_voices_ ? interpolate::hermite_reference : interpolate::hermite;
                double p = v.position;
                for (std::uint32_t c0 = 0; c0 < channels; c0 += 2) {
                    const bool pair = c0 + 1 < channels;
                    p = kernel({.left = b.channel(c0),
                                .right = pair ? b.channel(c0 + 1) : nullptr,
                                .position = v.position,
                                .step = dir * r,
                                .frames = m,
                                .length = b.frames(),
                                .out_left = scratch + c0 * chunk + done,
                                .out_right = pair ? scratch + (c0 + 1) * chunk + done : nullptr});
                }
                v.position = p;
                done += m;
                continue;
            }
        }
        // General path, one frame at a time: cubic interpolation, and the seam crossfade.
        const float rate = v.rate.next();
        const double p = v.position;
        const auto i1 = static_cast<std::int64_t>(std::floor(p));
        const auto t = static_cast<float>(p - static_cast<double>(i1));
        // Taps past the region's edge of a looping voice come from where the next pass
        // continues, so interpolation is seamless across the wrap; others clamp to the buffer.
        const std::int64_t period = static_cast<std::int64_t>(v.end - v.begin - v.xfade);
        auto idx = [&v, last, period](std::int64_t i) {
            if (v.loop) {
                if (i >= static_cast<std::int64_t>(v.end)) i -= period;
                if (i < static_cast<std::int64_t>(v.begin)) i += period;
            }
            return static_cast<std::uint32_t>(std::clamp<std::int64_t>(i, 0, last));
        };
        // Seam crossfade: within the last `xfade` frames of a looping pass, blend towards the
        // frames the next pass starts from.
        float mix = 0.0F;
        double other = 0.0;
        if (v.loop && v.xfade > 0) {
            const double into = v.reverse ? (static_cast<double>(v.begin + v.xfade) - 1.0 - p)
                                          : (p - static_cast<double>(v.end - v.xfade));
            if (into >= 0.0) {
                mix = static_cast<float>((into + 1.0) / (v.xfade + 1.0));
                other = v.reverse ? static_cast<double>(v.end) - 1.0 - into
                                  : static_cast<double>(v.begin) + into;
            }
        }
        const auto o1 = static_cast<std::int64_t>(std::floor(other));
        const auto ot = static_cast<float>(other - static_cast<double>(o1));
        for (std::uint32_t c = 0; c < channels; ++c) {
            const float* s = b.channel(c);
            float x =
                interpolate::cubic(s[idx(i1 - 1)], s[idx(i1)], s[idx(i1 + 1)], s[idx(i1 + 2)], t);
            if (mix > 0.0F) {
                const float y = interpolate::cubic(s[idx(o1 - 1)], s[idx(o1)], s[idx(o1 + 1)],
                                                   s[idx(o1 + 2)], ot);
                x = x * (1.0F - mix) + y * mix;
            }
            scratch[c * chunk + done] = x;
        }
        ++done;
        v.position = p + dir * static_cast<double>(rate);
    }
    // A one-shot that reached its edge exactly at the chunk's end ends now, not a chunk later.
    const bool ended = done < n || !wrapped();
    if (done < n) {
        for (std::uint32_t c = 0; c < channels; ++c)
            std::fill(scratch + c * chunk + done, scratch + c * chunk + n, 0.0F);
    }
    return !ended;
}

void Engine::render_voice(Voice& v, float* const* out, std::uint32_t offset,
                          std::uint32_t n) noexcept {
    const std::uint32_t in_channels = v.buffer->channels();
    const bool running = read_voice(v, n);

    // Gains: slot gain × envelope, and the balance per side. Constant ones stay scalars.
    const bool constant = !v.gain.moving() && !v.envelope.moving();
    const bool pan_constant = !v.pan_left.moving() && !v.pan_right.moving();
    const float constant_gain = v.gain.value * v.envelope.value;
    float gains[limits::kRenderChunkFrames];
    float left[limits::kRenderChunkFrames];
    float right[limits::kRenderChunkFrames];
    if (!constant) {
        float envelope[limits::kRenderChunkFrames];
        v.gain.fill(gains, n);
        v.envelope.fill(envelope, n);
        for (std::uint32_t i = 0; i < n; ++i) gains[i] *= envelope[i];
    }
    if (!pan_constant) {
        v.pan_left.fill(left, n);
        v.pan_right.fill(right, n);
        if (!constant) {
            for (std::uint32_t i = 0; i < n; ++i) left[i] *= gains[i];
            for (std::uint32_t i = 0; i < n; ++i) right[i] *= gains[i];
        } else {
            for (std::uint32_t i = 0; i < n; ++i) left[i] *= constant_gain;
            for (std::uint32_t i = 0; i < n; ++i) right[i] *= constant_gain;
        }
    }

    // Channel mapping: pair p takes input channel p % K to output first + p % M, for
    // p < max(K, M), M the outputs the slot plays to. Mono reaches every output, stereo
    // every output pair, K > M channels fold onto them.
    const std::uint32_t pairs = std::max(in_channels, v.out_count);
    for (std::uint32_t p = 0; p < pairs; ++p) {
        const float* __restrict src =
            scratch_.data() + (p % in_channels) * limits::kRenderChunkFrames;
        const std::uint32_t o = v.out_first + p % v.out_count;
        float* __restrict dst = out[o] + offset;
        const bool is_left = o % 2 == 0;
        if (pan_constant) {
            const float side = is_left ? v.pan_left.value : v.pan_right.value;
            if (constant) {
                const float g = constant_gain * side;
                for (std::uint32_t i = 0; i < n; ++i) dst[i] += src[i] * g;
            } else if (side == 1.0F) {
                for (std::uint32_t i = 0; i < n; ++i) dst[i] += src[i] * gains[i];
            } else {
                for (std::uint32_t i = 0; i < n; ++i) dst[i] += src[i] * gains[i] * side;
            }
        } else {
            const float* g = is_left ? left : right;
            for (std::uint32_t i = 0; i < n; ++i) dst[i] += src[i] * g[i];
        }
    }
    if (!running || (v.releasing && !v.envelope.moving())) retire_voice(v);
}

// Chunks this short are prefetched even for copying voices (Engine::render).
constexpr std::uint32_t kShortChunkFrames = 64;

// Asks the memory system for the source frames a voice reads in its next n frames (the loop's
// wrap aside). Hundreds of voices are more streams than a CPU's prefetchers follow: without
// this, a voice's loads wait on memory a cache line at a time, which costs an interpolating
// voice more than its arithmetic. A prefetch never faults; a bounded number of lines.
void Engine::prefetch_voice(const Voice& v, std::uint32_t n) noexcept {
    const SampleBuffer& b = *v.buffer;
    if (b.frames() == 0) return;
    constexpr std::uint32_t kLineFrames = 64 / sizeof(float);
    constexpr std::uint32_t kMaxLines = 64;  // per voice: 2 channels of 512 frames
    const double reach = static_cast<double>(n) * std::fabs(static_cast<double>(v.rate.value));
    const double lo = v.reverse ? v.position - reach - 2.0 : v.position - 2.0;
    const double hi = v.reverse ? v.position + 3.0 : v.position + reach + 3.0;
    const double last = static_cast<double>(b.frames() - 1);
    const auto first = static_cast<std::uint32_t>(std::clamp(lo, 0.0, last));
    const auto end = static_cast<std::uint32_t>(std::clamp(hi, 0.0, last));
    const std::uint32_t channels = b.channels();
    const std::uint32_t per_channel =
        std::min((end - first) / kLineFrames + 1, kMaxLines / std::max(channels, 1U));
    for (std::uint32_t c = 0; c < channels && per_channel > 0; ++c) {
        const float* src = b.channel(c) + first;
        for (std::uint32_t l = 0; l < per_channel; ++l)
            __builtin_prefetch(src + l * kLineFrames, 0, 3);
    }
}

void Engine::render(float* const* out, std::uint32_t offset, std::uint32_t n) noexcept {
    for (std::uint32_t done = 0; done < n; done += limits::kRenderChunkFrames) {
        const std::uint32_t m = std::min(limits::kRenderChunkFrames, n - done);
        // Each voice's source frames are asked for one voice ahead of its mix: an interpolating
        // voice's always, a copying one's in short chunks only. A copy of 128 frames or more
        // runs long enough for the hardware prefetchers to follow it, and asking as well made
        // it slower (docs/performance.md).
        const bool short_chunk = m <= kShortChunkFrames;
        Voice* next = nullptr;
        for (auto& v : voices_) {
            if (!v.active) continue;
            if (short_chunk || !v.copies()) prefetch_voice(v, m);
            if (next != nullptr) render_voice(*next, out, offset + done, m);
            next = &v;
        }
        if (next != nullptr) render_voice(*next, out, offset + done, m);
        // Voices that passed their seam onto a newer rendering: the new voice starts with the
        // next chunk, at the frame after this one.
        for (auto& v : voices_)
            if (v.active && v.swap_due) swap_at_seam(v, now_frame_ + offset + done + m);
        if (master_.moving()) {
            float g[limits::kRenderChunkFrames];
            master_.fill(g, m);
            for (std::uint32_t o = 0; o < config_.outputs; ++o)
                for (std::uint32_t i = 0; i < m; ++i) out[o][offset + done + i] *= g[i];
        } else if (master_.value != 1.0F) {
            for (std::uint32_t o = 0; o < config_.outputs; ++o)
                for (std::uint32_t i = 0; i < m; ++i) out[o][offset + done + i] *= master_.value;
        }
    }
}

// Input monitoring, before the mix's master gain: every input to the output of its number
// (global), and each monitored slot's pair to the slot's outputs.
void Engine::monitor_segment(float* const* out, std::uint32_t offset, std::uint32_t n) noexcept {
    if (inputs_.channels == nullptr) return;
    if (monitor_all_) {
        const std::uint32_t m = std::min(inputs_.count, config_.outputs);
        for (std::uint32_t o = 0; o < m; ++o)
            for (std::uint32_t i = 0; i < n; ++i)
                out[o][offset + i] += inputs_.channels[o][offset + i];
    }
    if (monitored_slots_ == 0) return;
    for (std::uint32_t slot = 0; slot < slots_.size(); ++slot) {
        const Slot& s = slots_[slot];
        if (!s.monitor) continue;
        const float* left = nullptr;
        const float* right = nullptr;
        inputs_.pair(recorders_.slot_input(slot), left, right);
        if (!left) continue;
        std::uint32_t first = 0;
        std::uint32_t count = config_.outputs;
        if (s.output != 0 && config_.outputs > 2) {
            first = std::min(2 * (s.output - 1), config_.outputs - 1);
            count = std::min(2U, config_.outputs - first);
        }
        for (std::uint32_t o = first; o < first + count; ++o) {
            const float* src = (o % 2 == 0 ? left : right) + offset;
            for (std::uint32_t i = 0; i < n; ++i) out[o][offset + i] += src[i];
        }
    }
}

}  // namespace looperd
