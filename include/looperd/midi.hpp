// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace looperd {

// MidiEvent: one MIDI event of the block being processed, as the host hands it (JACK's
// jack_midi_event_t has this shape). A view: the host owns the bytes, valid for that block.
// The bytes are a stream, not necessarily one whole message: MidiParser makes messages of them.
struct MidiEvent {
    std::uint32_t time = 0;  // frame within the block
    std::uint32_t size = 0;
    const std::uint8_t* data = nullptr;
};

// The block's MIDI input, sorted by time (JACK's order).
struct MidiInput {
    const MidiEvent* events = nullptr;
    std::uint32_t count = 0;
    std::uint32_t lost = 0;  // events the host could not pass on (its buffer was full)
};

// MidiOutEvent: one message the engine writes to the block's MIDI output, at `time` (frame
// within the block). A value: the host copies it to its port after process(). A short message
// (1..3 bytes) is in `data`; a longer one (SysEx) is `size` bytes at `long_data`, memory the
// engine owns and does not change before the next process().
struct MidiOutEvent {
    std::uint32_t time = 0;
    std::uint32_t size = 0;
    std::array<std::uint8_t, 3> data{};
    const std::uint8_t* long_data = nullptr;

    const std::uint8_t* bytes() const noexcept { return long_data ? long_data : data.data(); }
};

// The size of a channel or system message whose status byte is `status` (1..3), 0 for a byte
// that starts no short message (a data byte, SysEx start or end, undefined F4/F5).
constexpr std::uint8_t midi_message_size(std::uint8_t status) noexcept {
    if (status < 0x80) return 0;
    if (status < 0xF0) {
        const std::uint8_t kind = status & 0xF0;
        return kind == 0xC0 || kind == 0xD0 ? 2 : 3;
    }
    switch (status) {
        case 0xF1:
        case 0xF3:
            return 2;
        case 0xF2:
            return 3;
        case 0xF0:
        case 0xF4:
        case 0xF5:
        case 0xF7:
            return 0;
        default:
            return 1;  // F6 tune request, real-time F8..FF
    }
}

// MidiMessage: one complete message. `status` is the status byte (with its channel); data
// bytes that a message does not have are 0.
struct MidiMessage {
    std::uint8_t status = 0;
    std::uint8_t data1 = 0;
    std::uint8_t data2 = 0;

    std::uint8_t kind() const noexcept { return status < 0xF0 ? status & 0xF0 : status; }
    std::uint8_t channel() const noexcept { return status & 0x0F; }  // 0-based
    bool note_on() const noexcept { return kind() == 0x90 && data2 > 0; }
    // A note-on with velocity 0 is a note-off (MIDI 1.0, "running status" convention).
    bool note_off() const noexcept { return kind() == 0x80 || (kind() == 0x90 && data2 == 0); }
};

// MidiParser: bytes to messages, one byte at a time, keeping its state across events and
// blocks, so that a message split across events and running status (data bytes reusing the
// last channel status) both work. Real-time bytes (clock, start, stop...) come out wherever
// they are, even inside another message. SysEx is skipped, byte by byte, never buffered; any
// status byte ends it. A data byte with no status to belong to is counted as stray and dropped.
// A status byte arriving before a message is complete drops the incomplete one. Audio thread;
// wait-free, does not allocate.
class MidiParser {
  public:
    // True when `byte` completed a message, then in `out`.
    bool feed(std::uint8_t byte, MidiMessage& out) noexcept {
        if (byte >= 0xF8) {
            out = {byte, 0, 0};
            return byte != 0xF9 && byte != 0xFD;  // undefined real-time bytes are ignored
        }
        if ((byte & 0x80) != 0) {
            have_ = 0;
            sysex_ = byte == 0xF0;
            if (byte < 0xF0) {
                running_ = byte;
                current_ = byte;
                return false;
            }
            running_ = 0;  // system common cancels running status
            current_ = 0;
            const std::uint8_t need = data_bytes(byte);
            if (byte == 0xF6) {  // tune request: no data
                out = {byte, 0, 0};
                return true;
            }
            if (need > 0) current_ = byte;
            return false;  // SysEx start or end, undefined F4/F5
        }
        if (sysex_) return false;
        if (current_ == 0) {
            ++stray_;
            return false;
        }
        data_[have_++] = byte;
        const std::uint8_t need = data_bytes(current_);
        if (have_ < need) return false;
        out = {current_, data_[0], need > 1 ? data_[1] : std::uint8_t{0}};
        have_ = 0;
        current_ = running_;  // a channel message's status carries on; system common's does not
        return true;
    }

    // Data bytes dropped for want of a status since construction.
    std::uint64_t stray() const noexcept { return stray_; }
    // Forgets a message in progress and running status (the port was reconnected).
    void reset() noexcept { *this = MidiParser{}; }

  private:
    static std::uint8_t data_bytes(std::uint8_t status) noexcept {
        switch (status < 0xF0 ? status & 0xF0 : status) {
            case 0xC0:  // program change
            case 0xD0:  // channel pressure
            case 0xF1:  // MTC quarter frame
            case 0xF3:  // song select
                return 1;
            case 0xF2:  // song position pointer
                return 2;
            default:
                return status < 0xF0 ? 2 : 0;
        }
    }

    std::uint8_t running_ = 0;  // the last channel status, for running status
    std::uint8_t current_ = 0;  // the status whose data bytes are being read (0: none)
    std::array<std::uint8_t, 2> data_{};
    std::uint8_t have_ = 0;
    bool sysex_ = false;
    std::uint64_t stray_ = 0;
};

// What a binding listens to (docs/midi.md, "Bindings"): a note, a control change, a program
// change or the pitch bend of a channel. The engine passes such messages to the control side
// when one is bound (or while learning); the key of a message is its kind and number (a note's
// or controller's; 0 for program change and pitch bend), its channel a bit of a 16-bit mask.
enum class MidiControlKind : std::uint8_t { note = 0, cc = 1, program = 2, bend = 3 };
inline constexpr std::uint32_t kMidiControlKeys = 4 * 128;
inline constexpr std::uint32_t midi_control_key(MidiControlKind kind,
                                                std::uint32_t number) noexcept {
    return static_cast<std::uint32_t>(kind) * 128 + (number & 0x7F);
}
// The kind of a channel message a binding can take; false for the others (aftertouch,
// system messages).
inline bool midi_control_kind(const MidiMessage& m, MidiControlKind& kind) noexcept {
    switch (m.kind()) {
        case 0x80:
        case 0x90:
            kind = MidiControlKind::note;
            return true;
        case 0xB0:
            kind = MidiControlKind::cc;
            return true;
        case 0xC0:
            kind = MidiControlKind::program;
            return true;
        case 0xE0:
            kind = MidiControlKind::bend;
            return true;
        default:
            return false;
    }
}
// A bindable message's key (see kMidiControlKeys).
inline std::uint32_t midi_control_key(const MidiMessage& m, MidiControlKind kind) noexcept {
    const bool numbered = kind == MidiControlKind::note || kind == MidiControlKind::cc;
    return midi_control_key(kind, numbered ? m.data1 : 0U);
}

// How a note's velocity scales the slot's gain. Velocity 127 is exactly the slot's gain in
// every curve; `fixed` ignores velocity.
enum class VelocityCurve : std::uint8_t { linear = 0, soft = 1, hard = 2, fixed = 3 };

// The curve named "linear", "soft", "hard" or "fixed"; linear for any other name.
inline VelocityCurve velocity_curve_named(std::string_view name) noexcept {
    if (name == "soft") return VelocityCurve::soft;
    if (name == "hard") return VelocityCurve::hard;
    if (name == "fixed") return VelocityCurve::fixed;
    return VelocityCurve::linear;
}

// The gain factor for `velocity` (1..127) on `curve`: linear v/127, soft √(v/127) (light
// touches louder), hard (v/127)² (light touches quieter), fixed 1.
float velocity_gain(VelocityCurve curve, std::uint8_t velocity) noexcept;

}  // namespace looperd
