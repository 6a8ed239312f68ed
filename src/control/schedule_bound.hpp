// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace looperd {

// ScheduleBound: the commands with a future frame (from timetagged bundles) that the
// controller has sent and whose frame has not come yet, held to --max-scheduled, so that a
// peer cannot fill the engine's scheduled queue; and nothing more than an hour ahead, so that
// a typo in a timetag does not hold a place for days.
//
// Threads: the network thread only (commands with a frame come from bundles, which only it
// reads); the loader's commands always have frame 0.
class ScheduleBound {
  public:
    explicit ScheduleBound(std::size_t capacity);

    // Once per datagram with timetags: the JACK frame now. Frames at or before it are in the
    // engine's hands or done with.
    void advance(std::uint64_t now_frame);
    std::uint64_t now() const noexcept { return now_; }
    // Whether a command at `frame` would wait (frame 0, or one already passed, applies at once).
    bool is_ahead(std::uint64_t frame) const noexcept { return frame > now_; }

    enum class Verdict : std::uint8_t { ok, too_far, full };
    // Whether one more command at `frame` may be sent, `reserved` further ones being counted
    // as pending already (a bundle's messages checked before any is sent). `sample_rate`
    // turns the hour into frames. Refusals for `full` are counted.
    Verdict admit(std::uint64_t frame, std::size_t reserved, std::uint32_t sample_rate);
    // A command at `frame` was sent.
    void note(std::uint64_t frame);

    std::uint64_t refused() const noexcept { return refused_; }

  private:
    std::size_t capacity_;
    std::vector<std::uint64_t> pending_;  // a min-heap of the future frames sent
    std::uint64_t now_ = 0;
    std::uint64_t refused_ = 0;
};

}  // namespace looperd
