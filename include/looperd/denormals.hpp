// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <cstdint>

// MXCSR exists where SSE does: always on x86_64; on 32-bit x86 only when the compiler may use SSE
// (Debian's i386 baseline is i686 without it, whose x87 unit has no flush-to-zero mode at all).
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

namespace looperd {

// ScopedFlushDenormals: flush-to-zero and denormals-are-zero for the current thread while in
// scope, restored on exit. A fading tail or a filter decaying to silence would otherwise fall
// into denormal numbers, which cost up to a hundred times more per operation on x86.
// Audio thread. Wait-free; a register write, no syscall.
class ScopedFlushDenormals {
  public:
    ScopedFlushDenormals() noexcept {
#if defined(__SSE__)
        saved_ = _mm_getcsr();
        _mm_setcsr(saved_ | 0x8040U);  // FTZ (bit 15) | DAZ (bit 6)
#elif defined(__aarch64__)
        std::uint64_t fpcr = 0;
        asm volatile("mrs %0, fpcr" : "=r"(fpcr));
        saved_ = fpcr;
        asm volatile("msr fpcr, %0" : : "r"(fpcr | (1ULL << 24)));  // FZ
#elif defined(__arm__) && defined(__ARM_FP)
        std::uint32_t fpscr = 0;
        asm volatile("vmrs %0, fpscr" : "=r"(fpscr));
        saved_ = fpscr;
        asm volatile("vmsr fpscr, %0" : : "r"(fpscr | (1U << 24)));  // FZ
#endif
    }
    ~ScopedFlushDenormals() {
#if defined(__SSE__)
        _mm_setcsr(static_cast<unsigned int>(saved_));
#elif defined(__aarch64__)
        asm volatile("msr fpcr, %0" : : "r"(saved_));
#elif defined(__arm__) && defined(__ARM_FP)
        asm volatile("vmsr fpscr, %0" : : "r"(static_cast<std::uint32_t>(saved_)));
#endif
    }
    ScopedFlushDenormals(const ScopedFlushDenormals&) = delete;
    ScopedFlushDenormals& operator=(const ScopedFlushDenormals&) = delete;

  private:
    std::uint64_t saved_ = 0;
};

}  // namespace looperd
