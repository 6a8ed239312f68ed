// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// Time-stretching in a looperd built without Rubber Band: refused, with the reason.
#include "io/stretch_render.hpp"

namespace looperd {

bool stretch_available() noexcept {
    return false;
}

std::unique_ptr<SampleBuffer> render_stretched(const StretchRequest& /*request*/,
                                               const std::function<bool()>& /*cancelled*/) {
    throw std::runtime_error(
        "this looperd was built without Rubber Band (meson -Drubberband=enabled)");
}

}  // namespace looperd
