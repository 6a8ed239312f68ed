// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// The Engine's voices: starting one on a slot (choke, polyphony, region, rate), fading and
// ending them, and the buffer references they hold. Audio thread only (Engine::process and
// the commands it applies). Wait-free and bounded by the voice count; does not allocate.

#include <algorithm>
#include <cmath>
#include <numbers>

#include "looperd/engine.hpp"
#include "looperd/region.hpp"
#include "looperd/sample_buffer.hpp"

namespace looperd {

namespace {

// Balance law per output pair: centre leaves both sides at exactly 1, and a hard pan silences
// the other side exactly (float cos(π/2) is not quite 0).
float balance(float away) {
    if (away <= 0.0F) return 1.0F;
    if (away >= 1.0F) return 0.0F;
    return std::cos(away * std::numbers::pi_v<float> * 0.5F);
}
float pan_left_gain(float pan) {
    return balance(pan);
}
float pan_right_gain(float pan) {
    return balance(-pan);
}

}  // namespace

void Engine::acquire(SampleBuffer* b) noexcept {
    ++b->rt_refs();
}

void Engine::unref(SampleBuffer* b) noexcept {
    if (--b->rt_refs() != 0) return;
    if (b->pooled()) {
        recorders_.buffer_unused(b);  // a record buffer never leaves the pool
    } else {
        post({EventKind::buffer_retired, 0, b});
    }
}

void Engine::replace_held(SampleBuffer*& held, SampleBuffer* b) noexcept {
    SampleBuffer* old = held;
    held = b;
    if (b) acquire(b);
    if (old) unref(old);
}

void Engine::set_slot_buffer(std::uint32_t slot, SampleBuffer* b) noexcept {
    replace_held(slots_[slot].buffer, b);
}

Voice* Engine::free_voice() noexcept {
    for (auto& v : voices_)
        if (!v.active) return &v;
    return nullptr;
}

void Engine::release(Voice& v) noexcept {
    if (v.releasing) return;
    v.releasing = true;
    v.envelope.go(0.0F, ms_frames(slots_[v.slot].fade_out_ms));
}

void Engine::retire_voice(Voice& v) noexcept {
    post({EventKind::voice_ended, v.slot, nullptr});
    SampleBuffer* b = v.buffer;
    v = Voice{};
    unref(b);
}

bool Engine::slot_sounding(std::uint32_t slot) const noexcept {
    for (const auto& v : voices_)
        if (v.active && !v.releasing && v.slot == slot) return true;
    return false;
}

void Engine::stop_slot(std::uint32_t slot) noexcept {
    for (auto& v : voices_)
        if (v.active && v.slot == slot) release(v);
}

double Engine::stretched_rate(const Slot& s, const Voice& v) const noexcept {
    // A rendering holds the pitch, and lasts `beats` at the tempo it was made for: played at
    // frames / wanted it lasts `beats` at this tempo too (a rendering still to come keeps the
    // loop in time meanwhile; a current one differs by under a frame, the rounding of its
    // length). In double: read_voice keeps a pass's length exact with it (docs/stretch.md).
    const double wanted_frames = static_cast<double>(s.beats) * clock_.frames_per_beat();
    double rate = static_cast<double>(s.rate);
    if (s.beats > 0.0F && wanted_frames > 0.0)
        rate *= static_cast<double>(v.buffer->frames()) / wanted_frames;
    return std::clamp(rate, 1.0 / 64.0, 64.0);
}

float Engine::target_rate(const Slot& s, const Voice& v) const noexcept {
    if (v.stretched) return static_cast<float>(stretched_rate(s, v));
    const double wanted_frames = static_cast<double>(s.beats) * clock_.frames_per_beat();
    float rate = s.rate * std::exp2(s.pitch / 12.0F);
    if (s.beats > 0.0F && s.buffer && s.stretch != StretchMode::off) {
        // The region lasts `beats` beats at the clock's tempo: stretch (speed and pitch) to fit.
        const double region_frames =
            static_cast<double>(s.end - s.start) * static_cast<double>(s.buffer->frames());
        if (wanted_frames > 0.0) rate *= static_cast<float>(region_frames / wanted_frames);
    }
    return std::clamp(rate, 1.0F / 64.0F, 64.0F);
}

void Engine::update_voice_rates() noexcept {
    for (auto& v : voices_)
        if (v.active) {
            const float r = target_rate(slots_[v.slot], v);
            if (r != v.rate.target) v.rate.go(r, smooth_frames_);
        }
}

void Engine::set_pan(Voice& v, float pan, std::uint32_t frames) noexcept {
    v.pan_left.go(pan_left_gain(pan), frames);
    v.pan_right.go(pan_right_gain(pan), frames);
}

Voice* Engine::start_voice(std::uint32_t slot, std::uint64_t now, float velocity) noexcept {
    Slot& s = slots_[slot];
    if (!s.buffer || s.buffer->frames() == 0) return nullptr;

    // Choke group: starting this slot fades out the others of its group.
    if (s.choke != 0)
        for (auto& other : voices_)
            if (other.active && other.slot != slot && slots_[other.slot].choke == s.choke)
                release(other);
    // Polyphony: beyond the slot's limit its oldest voices fade out (poly 1: a retrigger).
    for (;;) {
        std::uint32_t sounding = 0;
        Voice* oldest = nullptr;
        for (auto& v : voices_) {
            if (!v.active || v.releasing || v.slot != slot) continue;
            ++sounding;
            if (!oldest || v.started < oldest->started) oldest = &v;
        }
        if (sounding < s.poly || !oldest) break;
        release(*oldest);
    }

    Voice* v = free_voice();
    if (!v) {
        // Policy: nothing that plays is cut to make room; the new start is refused.
        refused_voices_.fetch_add(1, std::memory_order_relaxed);
        post({EventKind::voice_refused, slot, nullptr});
        return nullptr;
    }
    // Stretch pitch: the slot's rendering, whole, when it has one.
    const bool rendering = plays_rendering(slot);
    SampleBuffer* const buffer = rendering ? s.stretched : s.buffer;
    const std::uint32_t frames = buffer->frames();
    const Region region = rendering ? Region{0, frames} : region_frames(s.start, s.end, frames);
    const std::uint32_t begin = region.begin;
    const std::uint32_t end = region.end;

    acquire(buffer);
    v->buffer = buffer;
    v->stretched = rendering;
    v->swap_due = false;
    v->slot = slot;
    v->started = now;
    v->active = true;
    v->releasing = false;
    // Loop, gate and toggle sound until stopped; a take always loops.
    v->loop = s.mode != SlotMode::oneshot || recorders_.holds_take(slot);
    // Overdub follows the take's frames as they play from here (docs/recording.md).
    recorders_.voice_started(slot, now - begin);
    v->reverse = s.reverse;
    v->begin = begin;
    v->end = end;
    // A rendering is seamless as made (rendered with the loop around it), and a crossfade
    // would shorten its pass.
    v->xfade = rendering
                   ? 0U
                   : std::min(s.xfade_ms > 0.0F ? ms_frames(s.xfade_ms) : 0U, (end - begin) / 2);
    v->position = s.reverse ? static_cast<double>(end - 1) : static_cast<double>(begin);
    if (s.output == 0 || config_.outputs <= 2) {
        v->out_first = 0;
        v->out_count = config_.outputs;
    } else {
        v->out_first = std::min(2 * (s.output - 1), config_.outputs - 1);
        v->out_count = std::min(2U, config_.outputs - v->out_first);
    }
    v->velocity = velocity;
    v->gain.jump(s.gain * velocity);
    v->pan_left.jump(pan_left_gain(s.pan));
    v->pan_right.jump(pan_right_gain(s.pan));
    v->rate.jump(target_rate(s, *v));
    if (s.fade_in_ms > 0.0F) {
        v->envelope.jump(0.0F);
        v->envelope.go(1.0F, ms_frames(s.fade_in_ms));
    } else {
        v->envelope.jump(1.0F);  // the first frame plays unchanged: attacks stay sharp
    }
    // Following Link, a loop that lasts `beats` keeps the phase it starts with on the grid
    // (a take's loop follows its recording instead: docs/recording.md).
    v->grid_locked = clock_.source() == ClockSource::link && v->loop && s.beats > 0.0F &&
                     !recorders_.holds_take(slot);
    v->grid_beat = clock_.beat_at(now);
    v->grid_length = static_cast<double>(s.beats);
    if (s.quantize != 0.0F) {
        // A quantized launch's phase is its grid line, even where the launch's frame, fixed
        // when it was pressed, is a little off it now (a sound card's clock off the session's).
        const double step = s.quantize < 0.0F ? clock_.meter() : static_cast<double>(s.quantize);
        const double line = step * std::round(v->grid_beat / step);
        if (std::abs(v->grid_beat - line) * clock_.frames_per_beat() <
            static_cast<double>(ms_frames(10.0F)))
            v->grid_beat = line;
    }
    return v;
}

// Audio thread, first block after a gap. Bounded by the voice count.
void Engine::resume_voices() noexcept {
    for (auto& v : voices_) {
        if (!v.active) continue;
        if (v.releasing) {
            // Its fade out was cut by the gap: what is left of it would start with a step.
            v.envelope.jump(0.0F);
            continue;
        }
        const float target = v.envelope.target;
        v.envelope.jump(0.0F);
        v.envelope.go(target, fade_frames_);
    }
}

}  // namespace looperd
