// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "../integration/jack_midi.hpp"

namespace looperd::load {

// One event of the MIDI flood, and the messages looperd's parser must count in it
// (docs/midi.md, "The MIDI stream"): what it completes, real-time bytes included; SysEx, stray
// data bytes and a truncated message count nothing.
struct FloodEvent {
    std::vector<std::uint8_t> bytes;
    std::uint32_t messages = 0;
};

// MidiFlood: a deterministic (from `seed`) source of MIDI events of every kind a broken or
// hostile source could send: note-ons and -offs for no slot (below note 36, or from
// `unmapped_from` up), controllers, pitch bend, program changes, pressure, running-status runs,
// system common, undefined status bytes, truncated messages, stray data bytes, SysEx of 0 to
// 198 data bytes (terminated or not), real-time bytes alone or inside any of these, and a few
// of these pieces back to back in one event.
//
// Each event starts with a status byte (after any real-time bytes) or holds real-time bytes
// only. A status byte ends whatever the parser had begun, so each event's count holds
// whatever came before it: dropping or losing any event changes no other's. A note for a
// loaded slot is never completed (a truncated note-on may name one, and stray data bytes may
// hold any value: a parser completing either would play it). Test thread only.
class MidiFlood {
  public:
    MidiFlood(std::uint32_t seed, std::uint8_t unmapped_from);

    // An event of any kind, at most test::kMaxMidiEventBytes long.
    FloodEvent next();
    // A terminated SysEx of `data_bytes` data bytes.
    FloodEvent sysex(std::size_t data_bytes);
    // Pieces made so far, by kind (for the figures).
    const std::map<std::string, std::uint64_t>& kinds() const noexcept { return kinds_; }

  private:
    // Appends one piece (starting with a status byte) to `e`.
    void piece(FloodEvent& e);
    // Inserts one real-time byte at a random place of `e`.
    void realtime_inside(FloodEvent& e);
    std::uint8_t realtime_byte(std::uint32_t& messages);
    std::uint8_t unmapped_note();
    std::uint8_t data() { return static_cast<std::uint8_t>(random_() & 0x7F); }
    std::uint32_t in(std::uint32_t lo, std::uint32_t hi) { return lo + random_() % (hi - lo + 1); }

    std::mt19937 random_;
    std::uint8_t unmapped_from_;
    std::map<std::string, std::uint64_t> kinds_;
};

}  // namespace looperd::load
