// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// The Engine's side of time-stretching (docs/stretch.md): a slot in `stretch pitch` holds a
// rendering of its region, made to its `beats` off the audio thread; voices play it, and move
// onto a newer one at their loop seam with a short crossfade. Audio thread only. Wait-free and
// bounded by the voice count; does not allocate.

#include <algorithm>

#include "looperd/engine.hpp"
#include "looperd/region.hpp"
#include "looperd/sample_buffer.hpp"

namespace looperd {

// A take's rendering only while the take holds the frames it was made from: not while it is
// overdubbed, undone or redone, nor after (the take plays, by its rate, until a new one comes).
bool Engine::plays_rendering(std::uint32_t slot) const noexcept {
    const Slot& s = slots_[slot];
    return s.stretch == StretchMode::pitch && s.beats > 0.0F && s.stretched != nullptr &&
           s.buffer != nullptr && rendering_fits(slot, s.stretched_content);
}

// A rendering made from `content` (0: the sample) is of what the slot holds now.
bool Engine::rendering_fits(std::uint32_t slot, std::uint32_t content) const noexcept {
    if (!recorders_.holds_take(slot)) return content == 0;
    return content != 0 && content == recorders_.take_content(slot);
}

void Engine::set_slot_stretched(std::uint32_t slot, SampleBuffer* b,
                                std::uint32_t content) noexcept {
    replace_held(slots_[slot].stretched, b);
    slots_[slot].stretched_content = b != nullptr ? content : 0;
}

// A looping voice plays what its slot would start now, or is due to move at its next seam: a
// newer rendering, the first one (after the slot followed the tempo by its rate), or the
// sample again (the rendering dropped: another stretch mode, or `beats` off).
bool Engine::wants_swap(const Voice& v) const noexcept {
    if (!v.loop || v.releasing) return false;
    const Slot& s = slots_[v.slot];
    if (s.buffer == nullptr) return false;
    if (plays_rendering(v.slot)) return v.buffer != s.stretched;
    return v.stretched;
}

// At the seam: a new voice on what the slot plays now, at the same place in the pass, fades in
// over the engine's fade as this one fades out (both read the same moment of the loop, so the
// sum does not dip). Without a spare voice the voice moves over in place.
void Engine::swap_at_seam(Voice& v, std::uint64_t now) noexcept {
    v.swap_due = false;
    if (!wants_swap(v)) return;
    const double span = static_cast<double>(v.end - v.begin);
    const double into = v.reverse ? static_cast<double>(v.end - 1) - v.position
                                  : v.position - static_cast<double>(v.begin);
    const double fraction = std::clamp(into / span, 0.0, 1.0);
    const bool locked = v.grid_locked;
    const double grid_beat = v.grid_beat;
    const double grid_length = v.grid_length;
    auto place = [fraction](Voice& n) {
        const double frames = static_cast<double>(n.end - n.begin);
        const double at = std::min(fraction * frames, frames - 1.0);
        n.position =
            n.reverse ? static_cast<double>(n.end - 1) - at : static_cast<double>(n.begin) + at;
    };
    if (free_voice() == nullptr) {
        // Every voice sounds: move this one over (a step the crossfade would have hidden).
        const Slot& s = slots_[v.slot];
        SampleBuffer* old = v.buffer;
        const bool rendering = plays_rendering(v.slot);
        v.buffer = rendering ? s.stretched : s.buffer;
        acquire(v.buffer);
        unref(old);
        v.stretched = rendering;
        const std::uint32_t frames = v.buffer->frames();
        const Region region = rendering ? Region{0, frames} : region_frames(s.start, s.end, frames);
        v.begin = region.begin;
        v.end = region.end;
        v.next_end = 0;
        v.xfade = 0;
        place(v);
        v.rate.jump(target_rate(s, v));
        return;
    }
    const float velocity = v.velocity;
    v.releasing = true;
    v.envelope.go(0.0F, fade_frames_);
    Voice* const n = start_voice(v.slot, now, velocity);
    if (n == nullptr) return;
    place(*n);
    n->grid_locked = locked;
    n->grid_beat = grid_beat;
    n->grid_length = grid_length;
    n->envelope.jump(0.0F);
    n->envelope.go(1.0F, fade_frames_);
}

}  // namespace looperd
