// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// The Engine's MIDI input: each event's bytes through the parser, each message acting on the
// event's own frame. A note is a press or release of its slot, applied as a play command on
// that frame would be, so quantize, modes and choke groups work as they do from OSC. Audio
// thread only. Wait-free and bounded by the per-block budget; does not allocate.

#include <cmath>

#include "looperd/engine.hpp"

namespace looperd {

float velocity_gain(VelocityCurve curve, std::uint8_t velocity) noexcept {
    if (velocity >= 127 || curve == VelocityCurve::fixed) return 1.0F;
    const float v = static_cast<float>(velocity) / 127.0F;
    switch (curve) {
        case VelocityCurve::soft:
            return std::sqrt(v);
        case VelocityCurve::hard:
            return v * v;
        default:
            return v;
    }
}

void Engine::midi_event(const MidiEvent& e, std::uint64_t now) noexcept {
    if (e.data == nullptr || e.size > midi_bytes_left_) {
        midi_dropped_.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    midi_bytes_left_ -= e.size;
    const std::uint64_t stray_before = midi_parser_.stray();
    MidiMessage m;
    for (std::uint32_t i = 0; i < e.size; ++i)
        if (midi_parser_.feed(e.data[i], m)) midi_message(m, now);
    if (const std::uint64_t stray = midi_parser_.stray() - stray_before; stray != 0)
        midi_stray_.fetch_add(stray, std::memory_order_relaxed);
}

void Engine::midi_message(const MidiMessage& m, std::uint64_t now) noexcept {
    midi_messages_.fetch_add(1, std::memory_order_relaxed);
    if (!m.note_on() && !m.note_off()) return;
    if (m.data1 < limits::kFirstSlotNote) return;
    const std::uint32_t slot = m.data1 - limits::kFirstSlotNote;
    if (slot >= slots_.size()) return;  // a note beyond the slots: nothing to play
    Command c;
    c.kind = CommandKind::play;
    c.slot = slot;
    c.value = m.note_on() ? velocity_gain(velocity_curve_, m.data2) : 0.0F;
    apply(c, now);
}

}  // namespace looperd
