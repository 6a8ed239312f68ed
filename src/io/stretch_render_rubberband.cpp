// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// Time-stretching with Rubber Band (GPLv2+: a looperd built with it is distributed under the
// GPL). Offline mode with the R3 engine: the whole region is studied first, so the stretch is
// planned over it, and the output has the exact length asked for.
#include <rubberband/RubberBandStretcher.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "io/stretch_render.hpp"

namespace looperd {

namespace {

using RubberBand::RubberBandStretcher;

constexpr std::uint32_t kBlock = 4096;       // frames handed to Rubber Band at once
constexpr std::uint32_t kContext = 16384;    // frames of the loop around it, each side
constexpr std::uint32_t kAlignReach = 256;   // frames the onsets may be moved back, each way
constexpr std::uint32_t kSeamFade = 960;     // frames of the seam's crossfade (20 ms at 48 kHz)
constexpr std::uint32_t kEnvelopeBlock = 8;  // frames per envelope point (the coarse search)
constexpr std::uint32_t kSmooth = 16;        // frames of the envelope's window
constexpr std::uint32_t kRise = 16;          // frames over which a rise is measured
// How alike the rendering's envelope and the stretch's plan must be before onsets are moved:
// a loop without clear onsets (a pad, a sine) is left where Rubber Band put it.
constexpr double kAlignConfidence = 0.5;

void check_cancel(const std::function<bool()>& cancelled) {
    if (cancelled && cancelled()) throw StretchCancelled();
}

// Energy per frame (all channels) of the region as the plan places it in time: output frame t
// reads the region at t / ratio.
std::vector<float> planned_energy(const StretchRequest& q, double ratio) {
    const SampleBuffer& b = *q.source;
    const std::uint32_t length = q.end - q.begin;
    std::vector<float> e(q.frames, 0.0F);
    for (std::uint32_t t = 0; t < q.frames; ++t) {
        auto at = static_cast<std::uint32_t>(static_cast<double>(t) / ratio);
        at = q.begin + std::min(at, length - 1);
        float sum = 0.0F;
        for (std::uint32_t c = 0; c < b.channels(); ++c) sum += b.channel(c)[at] * b.channel(c)[at];
        e[t] = sum;
    }
    return e;
}

// Sums of `e` over windows of `width` frames, one point every `step` frames.
std::vector<double> windows(const std::vector<float>& e, std::size_t first, std::size_t count,
                            std::uint32_t step, std::uint32_t width) {
    std::vector<double> out(count, 0.0);
    for (std::size_t k = 0; k < count; ++k) {
        const std::size_t from = first + k * step;
        double sum = 0.0;
        for (std::size_t i = from; i < std::min(from + width, e.size()); ++i)
            sum += static_cast<double>(e[i]);
        out[k] = sum;
    }
    return out;
}

// Onsets: where the energy rises (the half-wave rectified difference of a smoothed envelope).
// Attacks are what the ear places in time; Rubber Band keeps their shape rather than stretching
// it, so the decays would mislead a match of the envelopes themselves.
std::vector<float> rises(const std::vector<float>& e) {
    std::vector<float> smooth(e.size(), 0.0F);
    double sum = 0.0;
    for (std::size_t i = 0; i < e.size(); ++i) {
        sum += static_cast<double>(e[i]);
        if (i >= kSmooth) sum -= static_cast<double>(e[i - kSmooth]);
        smooth[i] = static_cast<float>(sum);
    }
    std::vector<float> out(e.size(), 0.0F);
    for (std::size_t i = kRise; i < e.size(); ++i)
        out[i] = std::max(0.0F, smooth[i] - smooth[i - kRise]);
    return out;
}

// Pearson correlation of a and b[shift, shift + a.size()).
double correlation(const std::vector<double>& a, const std::vector<double>& b, std::size_t shift) {
    const std::size_t n = a.size();
    double ma = 0.0;
    double mb = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        ma += a[i];
        mb += b[shift + i];
    }
    ma /= static_cast<double>(n);
    mb /= static_cast<double>(n);
    double ab = 0.0;
    double aa = 0.0;
    double bb = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        const double x = a[i] - ma;
        const double y = b[shift + i] - mb;
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    return aa > 0.0 && bb > 0.0 ? ab / std::sqrt(aa * bb) : 0.0;
}

// Where in `window` (rendered frames, `reach` of them before the rendering's place and after)
// the rendering's onsets best match the plan: an offset into the window, `reach` if unsure.
std::uint32_t aligned_start(const StretchRequest& q, double ratio,
                            const std::vector<std::vector<float>>& window, std::uint32_t reach) {
    if (reach == 0) return 0;
    std::vector<float> got(window[0].size(), 0.0F);
    for (const auto& ch : window)
        for (std::size_t i = 0; i < got.size(); ++i) got[i] += ch[i] * ch[i];
    got = rises(got);
    const std::vector<float> plan = rises(planned_energy(q, ratio));
    // Coarse: every kEnvelopeBlock frames over the whole reach.
    const std::size_t points = q.frames / kEnvelopeBlock;
    if (points < 8) return reach;
    const auto a = windows(plan, 0, points, kEnvelopeBlock, kEnvelopeBlock);
    const auto b =
        windows(got, 0, points + 2 * reach / kEnvelopeBlock, kEnvelopeBlock, kEnvelopeBlock);
    std::size_t best = reach / kEnvelopeBlock;
    double best_r = correlation(a, b, best);
    for (std::size_t s = 0; s <= 2 * reach / kEnvelopeBlock; ++s) {
        const double r = correlation(a, b, s);
        if (r > best_r) {
            best_r = r;
            best = s;
        }
    }
    if (best_r < kAlignConfidence) return reach;
    // Fine: every frame within one coarse step of the best, on a smoothed envelope.
    const std::size_t fine_points = q.frames - kEnvelopeBlock;
    const auto fa = windows(plan, 0, fine_points, 1, kEnvelopeBlock);
    const auto fb = windows(got, 0, fine_points + 2 * reach, 1, kEnvelopeBlock);
    const std::size_t centre = best * kEnvelopeBlock;
    std::size_t fine = centre;
    double fine_r = -2.0;
    for (std::size_t s = centre > kEnvelopeBlock ? centre - kEnvelopeBlock : 0;
         s <= std::min<std::size_t>(centre + kEnvelopeBlock, 2 * reach); ++s) {
        const double r = correlation(fa, fb, s);
        if (r > fine_r) {
            fine_r = r;
            fine = s;
        }
    }
    return static_cast<std::uint32_t>(fine);
}

}  // namespace

bool stretch_available() noexcept {
    return true;
}

std::unique_ptr<SampleBuffer> render_stretched(const StretchRequest& q,
                                               const std::function<bool()>& cancelled) {
    if (!q.source || q.end <= q.begin || q.end > q.source->frames() || q.frames == 0)
        throw std::runtime_error("nothing to stretch: an empty region");
    if (!(q.pitch_scale > 0.0) || !std::isfinite(q.pitch_scale))
        throw std::runtime_error("a pitch scale must be above 0");
    const SampleBuffer& b = *q.source;
    const std::uint32_t channels = b.channels();
    const std::uint32_t length = q.end - q.begin;
    const double ratio = static_cast<double>(q.frames) / static_cast<double>(length);
    const std::uint32_t context = std::min(length, kContext);
    const std::uint64_t total_in = std::uint64_t{length} + 2ULL * context;
    // The region's first frame lands here in the output. The window kept reaches a little
    // before and after it: for the alignment, and before it for the seam's crossfade.
    const auto out_first = static_cast<std::uint64_t>(std::llround(context * ratio));
    const auto reach =
        static_cast<std::uint32_t>(std::min<std::uint64_t>(kAlignReach, out_first / 4));
    const auto fade = static_cast<std::uint32_t>(
        std::min<std::uint64_t>({kSeamFade, q.frames / 4, out_first - 2 * reach}));
    const std::uint64_t window_first = out_first - reach - fade;
    const std::uint64_t window_frames = std::uint64_t{q.frames} + 2ULL * reach + fade;

    RubberBandStretcher rb(b.sample_rate(), channels,
                           RubberBandStretcher::OptionProcessOffline |
                               RubberBandStretcher::OptionEngineFiner |
                               RubberBandStretcher::OptionChannelsTogether,
                           ratio, q.pitch_scale);
    rb.setExpectedInputDuration(total_in);
    rb.setMaxProcessSize(kBlock);

    // The input: the region's last `context` frames, the region, its first `context` frames.
    std::vector<std::vector<float>> block(channels, std::vector<float>(kBlock));
    std::vector<const float*> in(channels);
    auto fill = [&](std::uint64_t from, std::uint32_t n) {
        for (std::uint32_t c = 0; c < channels; ++c) {
            const float* src = b.channel(c);
            for (std::uint32_t i = 0; i < n; ++i) {
                const std::uint64_t j = from + i;
                const std::uint64_t k = (j + length - context) % length;
                block[c][i] = src[q.begin + k];
            }
            in[c] = block[c].data();
        }
    };
    for (std::uint64_t at = 0; at < total_in; at += kBlock) {
        check_cancel(cancelled);
        const auto n = static_cast<std::uint32_t>(std::min<std::uint64_t>(kBlock, total_in - at));
        fill(at, n);
        rb.study(in.data(), n, at + n == total_in);
    }

    std::vector<std::vector<float>> window(channels, std::vector<float>(window_frames, 0.0F));
    std::vector<std::vector<float>> got(channels);
    std::vector<float*> out(channels);
    std::uint64_t produced = 0;
    auto drain = [&] {
        for (int available = rb.available(); available > 0; available = rb.available()) {
            const auto n = static_cast<std::uint32_t>(available);
            for (std::uint32_t c = 0; c < channels; ++c) {
                got[c].resize(n);
                out[c] = got[c].data();
            }
            const std::size_t r = rb.retrieve(out.data(), n);
            // The part of [produced, produced + r) inside the window.
            const std::uint64_t lo = std::max(produced, window_first);
            const std::uint64_t hi = std::min(produced + r, window_first + window_frames);
            for (std::uint64_t t = lo; t < hi; ++t)
                for (std::uint32_t c = 0; c < channels; ++c)
                    window[c][t - window_first] = got[c][t - produced];
            produced += r;
        }
    };
    for (std::uint64_t at = 0; at < total_in; at += kBlock) {
        check_cancel(cancelled);
        const auto n = static_cast<std::uint32_t>(std::min<std::uint64_t>(kBlock, total_in - at));
        fill(at, n);
        rb.process(in.data(), n, at + n == total_in);
        drain();
    }
    drain();
    if (produced < window_first + window_frames - reach)
        throw std::runtime_error("the stretch gave " + std::to_string(produced) +
                                 " frames, fewer than its plan");

    // The alignment looks at [fade, fade + frames + 2 × reach) of the window.
    std::vector<std::vector<float>> around(channels);
    for (std::uint32_t c = 0; c < channels; ++c)
        around[c].assign(window[c].begin() + fade, window[c].end());
    const std::uint32_t start = fade + aligned_start(q, ratio, around, reach);
    auto result = std::make_unique<SampleBuffer>(channels, q.frames, b.sample_rate());
    for (std::uint32_t c = 0; c < channels; ++c) {
        float* dst = result->mutable_channel(c);
        const float* w = window[c].data();
        std::copy_n(w + start, q.frames, dst);
        // The seam: the last frames crossfade into the ones the stretch placed just before the
        // first (the region's end again, rendered in front of its start), which run on into
        // the first frame. A stretch that keeps the pitch cannot keep a loop's phase as well:
        // without this, a tone would jump at every pass.
        for (std::uint32_t i = 0; i < fade; ++i) {
            const float to = static_cast<float>(i + 1) / static_cast<float>(fade + 1);
            float& x = dst[q.frames - fade + i];
            x = x * (1.0F - to) + w[start - fade + i] * to;
        }
    }
    check_cancel(cancelled);
    result->prefault();
    return result;
}

}  // namespace looperd
