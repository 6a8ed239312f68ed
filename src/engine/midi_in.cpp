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
    if (clock_in_.check_loss(now_frame_, static_cast<double>(config_.sample_rate)) &&
        clock_.source() == ClockSource::midi)
        post({EventKind::midi_clock_lost, 0, nullptr});
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
            if (m.status >= 0xF0) {
                midi_clock_message(m, now_frame_ + time);
                continue;
            }
            if (pass_on(m)) continue;
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
    dropped += midi_control_full_;
    midi_control_full_ = 0;
    if (dropped != 0) midi_dropped_.fetch_add(dropped, std::memory_order_relaxed);
    if (const std::uint64_t stray = midi_parser_.stray() - stray_before; stray != 0)
        midi_stray_.fetch_add(stray, std::memory_order_relaxed);
}

// Clock and transport go to the loop (MidiClockIn), which runs whatever the clock source, so
// that switching to /clock/sync midi finds it locked. Only with the source midi does a tick
// move the grid: to the tick's filtered time, on song position after Start, Continue or a
// Song Position Pointer; else one tick (1/24 beat) after the last, counted, never measured:
// a tempo far from the grid's would round to the wrong tick. With nothing to count from (the
// first tick, after a loss, /clock/reset), the grid's own nearest tick, so /clock/reset moves
// beat 0 to the tick nearest it.
void Engine::midi_clock_message(const MidiMessage& m, std::uint64_t frame) noexcept {
    const auto rate = static_cast<double>(config_.sample_rate);
    constexpr double kTick = 1.0 / MidiClockIn::kTicksPerBeat;  // in beats
    switch (m.status) {
        case 0xF8: {
            const bool was_locked = clock_in_.locked();
            const MidiClockIn::Tick t =
                clock_in_.tick(frame, clock_.frames_per_beat() / MidiClockIn::kTicksPerBeat, rate);
            if (clock_.source() != ClockSource::midi) return;
            if (!was_locked) post({EventKind::midi_clock_found, 0, nullptr});
            double beat = 0.0;
            if (t.relabel) {
                beat = static_cast<double>(t.song_tick) * kTick;
            } else if (was_locked && clock_in_counting_) {
                beat = clock_in_beat_ + kTick;
            } else {
                beat = std::nearbyint(clock_.beat_at_exact(t.frame) * MidiClockIn::kTicksPerBeat) *
                       kTick;
            }
            clock_in_beat_ = beat;
            clock_in_counting_ = true;
            clock_.follow(t.frame, beat,
                          rate * 60.0 / (t.frames_per_tick * MidiClockIn::kTicksPerBeat));
            return;
        }
        case 0xFA:
            clock_in_.start();
            return;
        case 0xFB:
            clock_in_.resume();
            return;
        case 0xFC:
            clock_in_.stop();
            return;
        case 0xF2:  // 14 bits, least significant 7 first
            clock_in_.song_position(static_cast<std::uint16_t>(m.data1 | (m.data2 << 7)));
            return;
        default:
            return;
    }
}

// A bound message (or, while learning, any bindable one) goes to the control side instead of
// the default map: true when it is taken (or dropped, the control side being behind).
bool Engine::pass_on(const MidiMessage& m) noexcept {
    MidiControlKind kind{};
    if (!midi_control_kind(m, kind)) return false;
    if (midi_learn_) {
        // Learning binds the next press: a release (of a key held when learning began) is not one.
        if (!m.note_off() && !midi_control_.try_push(m)) ++midi_control_full_;
        return true;
    }
    const std::uint32_t channels = midi_watch_[midi_control_key(m, kind)];
    if ((channels & (1U << m.channel())) == 0) return false;
    if (!midi_control_.try_push(m)) ++midi_control_full_;
    return true;
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
