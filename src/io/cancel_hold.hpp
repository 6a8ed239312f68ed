// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <pthread.h>

#include <utility>

namespace looperd {

// Runs `f` with the calling thread's cancellation held off, then acts on a cancel that came
// meanwhile, here, where unwinding is allowed.
//
// Why: libjack stops a client's audio thread with an asynchronous pthread_cancel (when a client
// is closed after its server died, for one). glibc cancels by unwinding the thread's stack, and
// an unwind that meets a noexcept function (JackClient::process, Engine::process) calls
// std::terminate ("terminate called without an active exception"): the daemon would die with
// its server. Audio thread: pthread_setcancelstate changes a flag of the thread, with no system
// call and no lock. Must not itself be called from a noexcept function.
template <typename F>
auto call_holding_off_cancellation(F&& f) {
    int old = 0;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
    auto result = std::forward<F>(f)();
    // Re-enabling acts on a pending asynchronous cancel at once, unwinding from here.
    pthread_setcancelstate(old, &old);
    return result;
}

}  // namespace looperd
