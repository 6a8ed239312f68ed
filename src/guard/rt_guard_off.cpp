// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// The production build's guard: nothing to check, nothing to cost.
#include "looperd/rt_guard.hpp"

namespace looperd::rt_guard {

void enter() noexcept {}
void exit() noexcept {}
bool enabled() noexcept {
    return false;
}
bool rtsan_linked() noexcept {
    return false;
}

}  // namespace looperd::rt_guard
