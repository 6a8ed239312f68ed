// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// The voices' interpolating kernel (include/looperd/interpolate.hpp). Google Highway compiles
// the part between HWY_BEFORE_NAMESPACE and HWY_AFTER_NAMESPACE once per instruction set (this
// file includes itself through foreach_target.h); hermite() calls the best one the CPU has.
// Built with -ffp-contract=off: the cubic keeps its separate multiplies and adds on every
// target, so that it matches the scalar reference bit for bit given the same positions.

// No SVE: its vectors have no fixed 128-bit blocks for the transpose below, and no Raspberry Pi
// has it; arm64 runs the NEON kernel.
#ifndef HWY_DISABLED_TARGETS
#define HWY_DISABLED_TARGETS (HWY_SVE | HWY_SVE2 | HWY_SVE_256 | HWY_SVE2_128)
#endif
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "engine/interpolate.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "looperd/interpolate.hpp"

// The 32-frame window (WindowFrames) needs AVX-512's two-register permute. Defined again
// for each target this file is compiled for.
#undef LOOPERD_WINDOW_FRAMES
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
#define LOOPERD_WINDOW_FRAMES 1
#else
#define LOOPERD_WINDOW_FRAMES 0
#endif

HWY_BEFORE_NAMESPACE();
namespace looperd::interpolate::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// The cubic of interpolate::cubic(), on vectors.
template <class D, class V>
HWY_INLINE V Cubic(D d, V y0, V y1, V y2, V y3, V t) {
    const V half = hn::Set(d, 0.5F);
    const V c1 = hn::Mul(half, hn::Sub(y2, y0));
    const V c2 =
        hn::Sub(hn::Add(hn::Sub(y0, hn::Mul(hn::Set(d, 2.5F), y1)), hn::Mul(hn::Set(d, 2.0F), y2)),
                hn::Mul(half, y3));
    const V c3 =
        hn::Add(hn::Mul(half, hn::Sub(y3, y0)), hn::Mul(hn::Set(d, 1.5F), hn::Sub(y1, y2)));
    return hn::Add(hn::Mul(hn::Add(hn::Mul(hn::Add(hn::Mul(c3, t), c2), t), c1), t), y1);
}

// Without a vector unit (HWY_EMU128, HWY_SCALAR), or without vectors of doubles for the
// positions (32-bit ARM's NEON), the frames are read one at a time, as the last frames of a
// span are everywhere.
#if HWY_TARGET != HWY_EMU128 && HWY_TARGET != HWY_SCALAR && HWY_HAVE_FLOAT64
// One channel of up to 8 frames (a vector of d's lanes, 4 or 8): each frame's four taps are
// one unaligned load of 4 floats (no gathers: slow on many CPUs), and four frames' loads are
// transposed into four vectors of one tap each, per 128-bit block.
template <class D, class V>
HWY_INLINE V Channel(D d, const float* HWY_RESTRICT src, const std::int32_t* first, V t) {
    const hn::Full128<float> d4;
    V rows[4];
    for (int j = 0; j < 4; ++j) {
        if constexpr (hn::MaxLanes(D()) == 8) {
            rows[j] =
                hn::Combine(d, hn::LoadU(d4, src + first[4 + j]), hn::LoadU(d4, src + first[j]));
        } else {
            rows[j] = hn::LoadU(d4, src + first[j]);
        }
    }
    // rows[j], block b: taps 0..3 of frame 4b + j. Interleaving pairs of floats, then pairs of
    // pairs, turns them into taps[m], block b: tap m of frames 4b..4b + 3.
    const hn::Repartition<std::uint64_t, D> d64;
    const V a = hn::InterleaveLower(d, rows[0], rows[1]);
    const V b = hn::InterleaveLower(d, rows[2], rows[3]);
    const V c = hn::InterleaveUpper(d, rows[0], rows[1]);
    const V e = hn::InterleaveUpper(d, rows[2], rows[3]);
    const V y0 = hn::BitCast(d, hn::InterleaveLower(d64, hn::BitCast(d64, a), hn::BitCast(d64, b)));
    const V y1 = hn::BitCast(d, hn::InterleaveUpper(d64, hn::BitCast(d64, a), hn::BitCast(d64, b)));
    const V y2 = hn::BitCast(d, hn::InterleaveLower(d64, hn::BitCast(d64, c), hn::BitCast(d64, e)));
    const V y3 = hn::BitCast(d, hn::InterleaveUpper(d64, hn::BitCast(d64, c), hn::BitCast(d64, e)));
    return Cubic(d, y0, y1, y2, y3, t);
}
#endif

#if LOOPERD_WINDOW_FRAMES
// AVX-512: 16 frames at a time from a window of 32 source frames, two loads per channel.
// The window starts at the lowest tap of the 16 frames; each tap of each frame is picked from
// it by a two-register permute (vpermt2ps, which Highway 1.0 does not wrap), instead of one
// load and a transpose per frame. At |step| ≤ kWindowStep the 16 frames' taps span at most
// 15 × 1.8 + 1 + 3 < 32 source frames. Returns the frames done: it stops before a window
// that would read past the channel's `length` frames, and the paths below take the rest.
constexpr double kWindowStep = 1.8;

std::uint32_t WindowFrames(const Span& s) {
    const hn::Full512<float> d;
    const hn::Full512<std::int32_t> di;
    const hn::Full512<double> dd;
    const hn::Half<decltype(d)> dh;
    const hn::Half<decltype(di)> dih;
    const auto iota = hn::Iota(dd, 0.0);
    const auto start = hn::Set(dd, s.position);
    const auto step = hn::Set(dd, s.step);
    constexpr std::uint32_t kFrames = hn::MaxLanes(d);  // 16
    constexpr std::uint32_t kHalf = hn::MaxLanes(dh);
    const double lowest_frame = s.step < 0.0 ? kFrames - 1 : 0;
    std::uint32_t k = 0;
    for (; k + kFrames <= s.frames; k += kFrames) {
        const auto kd = static_cast<double>(k);
        // The lowest frame's whole part, by the lanes' own arithmetic (p > 0: truncation is
        // floor); its first tap is the window's first frame.
        const auto low = static_cast<std::int64_t>(s.position + (kd + lowest_frame) * s.step);
        if (static_cast<std::uint64_t>(low) + 2 * kFrames - 1 > s.length) break;
        const auto low_d = hn::Set(dd, static_cast<double>(low));
        // Each frame's fraction, and its first tap's place in the window (0 … 28).
        const auto part = [&](double k0, auto& offset) {
            const auto p = hn::Add(start, hn::Mul(hn::Add(iota, hn::Set(dd, k0)), step));
            const auto whole = hn::Trunc(p);
            offset = hn::DemoteTo(dih, hn::Sub(whole, low_d));
            return hn::DemoteTo(dh, hn::Sub(p, whole));
        };
        hn::Vec<decltype(dih)> first_low;
        hn::Vec<decltype(dih)> first_high;
        const auto t_low = part(kd, first_low);
        const auto t = hn::Combine(d, part(kd + kHalf, first_high), t_low);
        const auto tap0 = hn::Combine(di, first_high, first_low);
        const auto one = hn::Set(di, 1);
        const auto tap1 = hn::Add(tap0, one);
        const auto tap2 = hn::Add(tap1, one);
        const auto tap3 = hn::Add(tap2, one);
        const auto channel = [&](const float* HWY_RESTRICT src, float* HWY_RESTRICT out) {
            const float* window = src + (low - 1);
            const __m512 lo = hn::LoadU(d, window).raw;
            const __m512 hi = hn::LoadU(d, window + kFrames).raw;
            using V = hn::Vec<decltype(d)>;
            const V y0{_mm512_permutex2var_ps(lo, tap0.raw, hi)};
            const V y1{_mm512_permutex2var_ps(lo, tap1.raw, hi)};
            const V y2{_mm512_permutex2var_ps(lo, tap2.raw, hi)};
            const V y3{_mm512_permutex2var_ps(lo, tap3.raw, hi)};
            hn::StoreU(Cubic(d, y0, y1, y2, y3, t), d, out + k);
        };
        channel(s.left, s.out_left);
        if (s.right != nullptr) channel(s.right, s.out_right);
    }
    return k;
}
#endif

double HermiteSpan(const Span& s) {
    std::uint32_t k = 0;
#if HWY_TARGET != HWY_EMU128 && HWY_TARGET != HWY_SCALAR && HWY_HAVE_FLOAT64
    // Whole parts in 32 bits: a span past 2^31 frames (12 hours at 48 kHz) is read one frame at
    // a time below.
    constexpr double kNarrow = 2147483000.0;
    if (std::max(s.position, s.position + s.frames * s.step) < kNarrow) {
#if LOOPERD_WINDOW_FRAMES
        if (std::abs(s.step) <= kWindowStep) k = WindowFrames(s);
#endif
        // Frames 8 at a time on 256-bit vectors (AVX2, AVX-512), 4 at a time on 128-bit ones
        // (SSE4, NEON). Positions in doubles, as the voice keeps them, each half of the frames
        // in a vector of doubles: their fractions go to the cubic, their whole parts to memory,
        // from where each frame's load takes its address.
        const hn::CappedTag<float, 8> d;
        const hn::Half<decltype(d)> dh;
        const hn::Rebind<double, decltype(dh)> dd;
        const hn::Rebind<std::int32_t, decltype(dd)> di;
        constexpr std::uint32_t lanes = hn::MaxLanes(d);
        constexpr std::uint32_t half = lanes / 2;
        const auto iota = hn::Iota(dd, 0.0);
        const auto start = hn::Set(dd, s.position);
        const auto step = hn::Set(dd, s.step);
        const auto one = hn::Set(dd, 1.0);
        std::int32_t first[lanes];  // each frame's first tap
        const auto fraction = [&](double k0, std::int32_t* whole_out) {
            const auto p = hn::Add(start, hn::Mul(hn::Add(iota, hn::Set(dd, k0)), step));
            const auto whole = hn::Trunc(p);  // p > 0: truncation is floor
            hn::StoreU(hn::DemoteTo(di, hn::Sub(whole, one)), di, whole_out);
            return hn::DemoteTo(dh, hn::Sub(p, whole));
        };
        for (; k + lanes <= s.frames; k += lanes) {
            const auto kd = static_cast<double>(k);
            const auto low = fraction(kd, first);
            const auto t = hn::Combine(d, fraction(kd + half, first + half), low);
            hn::StoreU(Channel(d, s.left, first, t), d, s.out_left + k);
            if (s.right != nullptr) hn::StoreU(Channel(d, s.right, first, t), d, s.out_right + k);
        }
    }
#endif
    // The last frames, fewer than a vector: the same arithmetic one at a time.
    for (; k < s.frames; ++k) read_frame(s, k, s.position + static_cast<double>(k) * s.step);
    return s.position + static_cast<double>(s.frames) * s.step;
}

const char* TargetName() {
    return hwy::TargetName(HWY_TARGET);
}

}  // namespace looperd::interpolate::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace looperd::interpolate {

HWY_EXPORT(HermiteSpan);
HWY_EXPORT(TargetName);

double hermite(const Span& span) noexcept {
    return HWY_DYNAMIC_DISPATCH(HermiteSpan)(span);
}

double hermite_reference(const Span& s) noexcept {
    double p = s.position;
    for (std::uint32_t k = 0; k < s.frames; ++k) {
        read_frame(s, k, p);
        p += s.step;
    }
    return p;
}

void prepare() noexcept {
    hwy::GetChosenTarget().Update(hwy::SupportedTargets());
}

const char* target() noexcept {
    return HWY_DYNAMIC_DISPATCH(TargetName)();
}

// HWY_TARGETS as this file sees it: without the targets disabled above.
std::int64_t built_targets() noexcept {
    return HWY_TARGETS;
}

}  // namespace looperd::interpolate
#endif  // HWY_ONCE
