// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>

#include "looperd/sample_buffer.hpp"

namespace looperd {

// One loop to time-stretch: the region [begin, end) of `source`, rendered `frames` long (its
// beats at the tempo wanted, rounded to a frame) and transposed by `pitch_scale` (2^(semitones
// / 12)), without changing its pitch by the stretch.
struct StretchRequest {
    const SampleBuffer* source = nullptr;
    std::uint32_t begin = 0;
    std::uint32_t end = 0;
    std::uint32_t frames = 0;
    double pitch_scale = 1.0;
};

// A render stopped by its cancel flag (a newer tempo, or the slot changed): not an error.
struct StretchCancelled : std::runtime_error {
    StretchCancelled() : std::runtime_error("stretch cancelled") {}
};

// Whether this looperd was built with Rubber Band (the `rubberband` Meson feature).
bool stretch_available() noexcept;

// Renders the request with Rubber Band's offline R3 ("finer") engine, as a seamless loop: the
// region is stretched with its own end before it and its start after it, and the middle kept,
// so that the rendering's last frame runs into its first as the region's did. Its onsets are
// put back where the stretch places them in time (Rubber Band's offline output can sit a few
// dozen frames off; see docs/stretch.md).
//
// Stretch thread. Allocates; takes a second or so for a few bars. Asks `cancelled` (when
// given) between blocks, and throws StretchCancelled once it answers true. Returns a prefaulted
// buffer at the source's rate. Throws std::runtime_error on a bad request or without Rubber Band.
std::unique_ptr<SampleBuffer> render_stretched(const StretchRequest& request,
                                               const std::function<bool()>& cancelled = {});

}  // namespace looperd
