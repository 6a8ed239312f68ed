// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// call_holding_off_cancellation: libjack cancels a client's audio thread asynchronously; a
// cancel that lands inside a noexcept function terminates the process. Both halves are shown
// on a real thread: unguarded, the process dies; held off, the thread is cancelled after the
// function returned and the process lives on.

#include "io/cancel_hold.hpp"

#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <thread>

namespace looperd {
namespace {

// A hang bound only: the main thread sets `stop` within milliseconds.
constexpr std::uint64_t kMaxSpins = 100'000'000'000;

struct Shared {
    std::atomic<bool> started{false};
    std::atomic<bool> stop{false};
    std::atomic<bool> finished{false};
    std::atomic<bool> after_render{false};
    bool hold = false;
};

// Sets a flag; may throw, as far as the compiler can tell, like the libjack calls process()
// makes.
[[gnu::noinline]] void mark(std::atomic<bool>& flag) {
    if (flag.exchange(true)) throw std::logic_error("marked twice");
}

// Stands for JackClient::process: noexcept, busy, making no cancellation point. The object
// whose destructor may throw (process() holds rt_guard::Scope and calls libjack) gives the
// function the unwind table entries on which the C++ runtime terminates an unwind through it.
// Kept out of line, as the real one is.
[[gnu::noinline]] int render(Shared& s) noexcept {
    struct Finish {
        Shared& s;
        ~Finish() noexcept(false) { mark(s.finished); }
    } finish{s};
    mark(s.started);
    // No call in the loop: the cancel lands between two instructions of this function, as it
    // can inside the engine's mixing loops. Bounded (about a minute) only against a hang.
    std::uint64_t spins = 0;
    while (!s.stop.load() && spins < kMaxSpins) ++spins;
    return spins < kMaxSpins ? 0 : 1;
}

// Stands for libjack's audio thread: cancellable asynchronously, as libjack makes it.
void* audio_thread(void* arg) {
    auto& s = *static_cast<Shared*>(arg);
    pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, nullptr);
    if (s.hold)
        call_holding_off_cancellation([&s]() noexcept { return render(s); });
    else
        render(s);
    // Not reached when a cancel came during render(): acted on as the hold ends.
    s.after_render.store(true);
    for (;;) pthread_testcancel();
}

// Cancels the thread once it is inside render(); then lets render() return.
void cancel_inside_render(Shared& s) {
    pthread_t t{};
    EXPECT_EQ(pthread_create(&t, nullptr, audio_thread, &s), 0);
    while (!s.started.load()) std::this_thread::yield();
    EXPECT_EQ(pthread_cancel(t), 0);
    // Time for the cancel's signal to reach the thread while it is still inside render(). Had
    // it not arrived yet, the thread is cancelled later, outside: the test passes either way
    // with the hold, and the unguarded case below never sets stop.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    s.stop.store(true);
    EXPECT_EQ(pthread_join(t, nullptr), 0);
}

TEST(CancelHoldDeathTest, AnAsynchronousCancelInsideANoexceptFunctionTerminates) {
    // Under qemu-user, GTEST_DEATH_TEST_STYLE=fast: see Guard::SetUp in tests/guard.
    if (std::getenv("GTEST_DEATH_TEST_STYLE") == nullptr)
        GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_DEATH(
        {
            Shared s;
            pthread_t t{};
            pthread_create(&t, nullptr, audio_thread, &s);
            while (!s.started.load()) std::this_thread::yield();
            pthread_cancel(t);
            pthread_join(t, nullptr);
        },
        "terminate called without an active exception");
}

TEST(CancelHold, TheCancelIsActedOnAfterTheNoexceptFunctionReturned) {
    Shared s;
    s.hold = true;
    cancel_inside_render(s);
    // glibc leaves the thread's result null when the cancel is acted on as cancellation is
    // enabled again, so the flags tell: render() ran to its end, and the thread went no
    // further than the end of the hold.
    EXPECT_TRUE(s.finished.load()) << "render() was cut short";
    EXPECT_FALSE(s.after_render.load()) << "the cancel was lost";
}

}  // namespace
}  // namespace looperd
