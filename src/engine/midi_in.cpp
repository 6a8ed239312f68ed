// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// The Engine's MIDI input: each event's bytes through the parser, each note acting on the
// event's own frame. A note is a press or release of its slot, applied as a play command on
// that frame would be, so quantize, modes and choke groups work as they do from OSC. Audio
// thread only. Wait-free and bounded by the per-block budget; does not allocate.

#include <algorithm>
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

// Bounded by the budget: at most kMaxMidiEventsPerBlock events and kMaxMidiBytesPerBlock bytes
// are parsed, the rest dropped and counted (with what the host itself lost).
void Engine::read_midi(const MidiInput& midi, std::uint32_t nframes) noexcept {
    midi_action_count_ = 0;
    if (midi.lost != 0) midi_dropped_.fetch_add(midi.lost, std::memory_order_relaxed);
    std::uint32_t count = midi.events ? midi.count : 0;
    if (count > limits::kMaxMidiEventsPerBlock) {
        midi_dropped_.fetch_add(count - limits::kMaxMidiEventsPerBlock, std::memory_order_relaxed);
        count = limits::kMaxMidiEventsPerBlock;
    }
    std::uint32_t bytes_left = limits::kMaxMidiBytesPerBlock;
    std::uint32_t splits = 0;
    std::uint32_t last_split = 0;
    std::uint64_t messages = 0;
    std::uint64_t dropped = 0;
    const std::uint64_t stray_before = midi_parser_.stray();
    for (std::uint32_t i = 0; i < count; ++i) {
        const MidiEvent& e = midi.events[i];
        if (e.data == nullptr || e.size > bytes_left) {
            ++dropped;
            continue;
        }
        bytes_left -= e.size;
        // An event past the block's end (a host's error) counts as on its last frame.
        std::uint32_t time = nframes > 0 ? std::min(e.time, nframes - 1) : 0;
        MidiMessage m;
        for (std::uint32_t b = 0; b < e.size; ++b) {
            if (!midi_parser_.feed(e.data[b], m)) continue;
            ++messages;
            if (!m.note_on() && !m.note_off()) continue;
            // The pad map (default: note 36 + n plays slot n); a note with no slot plays nothing.
            const std::int32_t mapped = pad_slot_[m.data1 & 0x7F];
            if (mapped < 0) continue;
            const auto slot = static_cast<std::uint32_t>(mapped);
            if (midi_action_count_ == midi_actions_.size()) {
                ++dropped;
                continue;
            }
            if (splits == 0 || time != last_split) {
                if (splits < limits::kMaxMidiSplitsPerBlock) {
                    ++splits;
                    last_split = time;
                } else {
                    time = last_split;  // a flood: it shares the last split
                }
            }
            midi_actions_[midi_action_count_++] = {time, slot,
                                                   m.note_on() ? m.data2 : std::uint8_t{0}};
        }
    }
    midi_messages_.fetch_add(messages, std::memory_order_relaxed);
    if (dropped != 0) midi_dropped_.fetch_add(dropped, std::memory_order_relaxed);
    if (const std::uint64_t stray = midi_parser_.stray() - stray_before; stray != 0)
        midi_stray_.fetch_add(stray, std::memory_order_relaxed);
}

// A note: a press or release of its slot, applied as a play command on its frame would be. The
// velocity's gain is taken now, with the curve in effect at this frame.
void Engine::midi_act(const MidiAction& a, std::uint64_t now) noexcept {
    Command c;
    c.kind = CommandKind::play;
    c.slot = a.slot;
    c.value = a.velocity > 0 ? velocity_gain(velocity_curve_, a.velocity) : 0.0F;
    apply(c, now);
}

}  // namespace looperd
