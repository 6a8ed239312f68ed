// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// The Engine's TakeHost: its slot table and voices as the recorder pool sees them. Each
// function forwards to the engine's own; the pool reaches nothing else of the engine. Audio
// thread only. Wait-free; does not allocate.

#include "looperd/engine.hpp"
#include "looperd/sample_buffer.hpp"

namespace looperd {

void Engine::PoolHost::post(const Event& e) noexcept {
    engine_.post(e);
}

void Engine::PoolHost::schedule(const Command& c) noexcept {
    engine_.schedule(c);
}

const Clock& Engine::PoolHost::clock() const noexcept {
    return engine_.clock_;
}

float Engine::PoolHost::quantize(std::uint32_t slot) const noexcept {
    return engine_.slots_[slot].quantize;
}

bool Engine::PoolHost::sounding(std::uint32_t slot) const noexcept {
    return engine_.slot_sounding(slot);
}

void Engine::PoolHost::start_voice(std::uint32_t slot, std::uint64_t now) noexcept {
    engine_.start_voice(slot, now);
}

void Engine::PoolHost::stop_slot(std::uint32_t slot) noexcept {
    engine_.stop_slot(slot);
}

void Engine::PoolHost::cut_voices(std::uint32_t slot, const SampleBuffer* b) noexcept {
    for (auto& v : engine_.voices_)
        if (v.active && v.slot == slot && v.buffer == b) engine_.retire_voice(v);
}

void Engine::PoolHost::set_buffer(std::uint32_t slot, SampleBuffer* b) noexcept {
    // A take (or nothing) in place of the sample: a rendering of the sample has no use now.
    engine_.set_slot_stretched(slot, nullptr);
    engine_.set_slot_buffer(slot, b);
}

void Engine::PoolHost::move_buffer(std::uint32_t slot, SampleBuffer* from,
                                   SampleBuffer* to) noexcept {
    for (auto& v : engine_.voices_)
        if (v.active && v.buffer == from) {
            engine_.acquire(to);
            v.buffer = to;
            engine_.unref(from);
        }
    engine_.acquire(to);
    engine_.slots_[slot].buffer = to;
    engine_.unref(from);  // the slot's reference: retired once nothing reads it
}

}  // namespace looperd
