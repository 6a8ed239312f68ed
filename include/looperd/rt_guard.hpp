// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

namespace looperd::rt_guard {

// The audio-thread guard. The JACK process callback and every engine test bracket the render
// call with a Scope. In the production build these are empty functions. In the guarded build
// (tests and looperd-guarded) any allocation or free made inside a Scope aborts the process
// with a message, and, where LLVM's RealtimeSanitizer runtime is linked, so does any lock,
// blocking call, sleep, file or socket call.
void enter() noexcept;
void exit() noexcept;

// True when this binary was built with the guard (and so enter() means something).
bool enabled() noexcept;
// True when RealtimeSanitizer's runtime is linked into this binary.
bool rtsan_linked() noexcept;

class Scope {
  public:
    Scope() noexcept { enter(); }
    ~Scope() { exit(); }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
};

}  // namespace looperd::rt_guard
