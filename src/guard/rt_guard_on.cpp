// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// The guarded build's audio-thread guard: our own allocation check, plus RealtimeSanitizer
// when its runtime is linked (it also catches locks, sleeps, file and socket calls).
// Our own check exists for machines without that runtime (arm64 Raspberry Pi OS).
#include <unistd.h>

#include <cstdlib>
#include <new>

#include "looperd/rt_guard.hpp"

#ifndef LOOPERD_GUARD_ALLOC_HOOKS
#define LOOPERD_GUARD_ALLOC_HOOKS 1
#endif

#ifdef LOOPERD_HAVE_RTSAN
extern "C" void __rtsan_init();
extern "C" void __rtsan_realtime_enter();
extern "C" void __rtsan_realtime_exit();
#endif

namespace {

thread_local int g_realtime_depth = 0;

#if LOOPERD_GUARD_ALLOC_HOOKS
[[noreturn]] void violation(const char* what) noexcept {
    // write(2), not stdio: stdio may allocate or lock, and we are reporting exactly that.
    static const char prefix[] = "looperd rt_guard: real-time violation: ";
    (void)!::write(2, prefix, sizeof(prefix) - 1);
    std::size_t n = 0;
    while (what[n] != '\0') ++n;
    (void)!::write(2, what, n);
    (void)!::write(2, " on the audio thread\n", 21);
    std::abort();
}

void* checked_alloc(std::size_t size, const char* what) {
    if (g_realtime_depth > 0) violation(what);
    void* p = std::malloc(size == 0 ? 1 : size);
    if (!p) throw std::bad_alloc();
    return p;
}

void* checked_alloc_aligned(std::size_t size, std::align_val_t align, const char* what) {
    if (g_realtime_depth > 0) violation(what);
    const auto a = static_cast<std::size_t>(align);
    void* p = std::aligned_alloc(a, (size + a - 1) / a * a);
    if (!p) throw std::bad_alloc();
    return p;
}

void checked_free(void* p, const char* what) noexcept {
    if (p && g_realtime_depth > 0) violation(what);
    std::free(p);
}
#endif

}  // namespace

namespace looperd::rt_guard {

void enter() noexcept {
#ifdef LOOPERD_HAVE_RTSAN
    static const bool initialised = (__rtsan_init(), true);
    (void)initialised;
    __rtsan_realtime_enter();
#endif
    ++g_realtime_depth;
}

void exit() noexcept {
    --g_realtime_depth;
#ifdef LOOPERD_HAVE_RTSAN
    __rtsan_realtime_exit();
#endif
}

bool enabled() noexcept {
    return true;
}

bool rtsan_linked() noexcept {
#ifdef LOOPERD_HAVE_RTSAN
    return true;
#else
    return false;
#endif
}

}  // namespace looperd::rt_guard

#if LOOPERD_GUARD_ALLOC_HOOKS
// Replaceable global allocation functions: every C++ allocation in the process goes through
// these, so an allocation inside a guard Scope cannot go unnoticed.
void* operator new(std::size_t n) {
    return checked_alloc(n, "operator new");
}
void* operator new[](std::size_t n) {
    return checked_alloc(n, "operator new[]");
}
void* operator new(std::size_t n, std::align_val_t a) {
    return checked_alloc_aligned(n, a, "operator new");
}
void* operator new[](std::size_t n, std::align_val_t a) {
    return checked_alloc_aligned(n, a, "operator new[]");
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    try {
        return checked_alloc(n, "operator new");
    } catch (...) {
        return nullptr;
    }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
    try {
        return checked_alloc(n, "operator new[]");
    } catch (...) {
        return nullptr;
    }
}
void operator delete(void* p) noexcept {
    checked_free(p, "operator delete");
}
void operator delete[](void* p) noexcept {
    checked_free(p, "operator delete[]");
}
void operator delete(void* p, std::size_t) noexcept {
    checked_free(p, "operator delete");
}
void operator delete[](void* p, std::size_t) noexcept {
    checked_free(p, "operator delete[]");
}
void operator delete(void* p, std::align_val_t) noexcept {
    checked_free(p, "operator delete");
}
void operator delete[](void* p, std::align_val_t) noexcept {
    checked_free(p, "operator delete[]");
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
    checked_free(p, "operator delete");
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
    checked_free(p, "operator delete[]");
}
#endif  // LOOPERD_GUARD_ALLOC_HOOKS
