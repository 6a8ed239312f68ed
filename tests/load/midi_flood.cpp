// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "midi_flood.hpp"

#include <iterator>
#include <stdexcept>

namespace looperd::load {

namespace {

enum class Piece : std::uint8_t {
    note_on,
    note_off,
    poly_pressure,
    control,
    program,
    channel_pressure,
    pitch_bend,
    running,
    system_common,
    undefined,
    truncated,
    stray,
    sysex,
    sysex_open,
};

struct Weighted {
    Piece piece;
    std::uint32_t weight;
    const char* name;
};

// Mostly what a controller sends, with a fair share of everything it should not.
constexpr Weighted kPieces[] = {
    {Piece::note_on, 18, "note-on"},
    {Piece::note_off, 10, "note-off"},
    {Piece::poly_pressure, 4, "poly pressure"},
    {Piece::control, 14, "control change"},
    {Piece::program, 5, "program change"},
    {Piece::channel_pressure, 4, "channel pressure"},
    {Piece::pitch_bend, 10, "pitch bend"},
    {Piece::running, 8, "running-status run"},
    {Piece::system_common, 3, "system common"},
    {Piece::undefined, 2, "undefined status"},
    {Piece::truncated, 8, "truncated"},
    {Piece::stray, 6, "stray data"},
    {Piece::sysex, 5, "SysEx"},
    {Piece::sysex_open, 2, "SysEx unterminated"},
};

constexpr std::uint32_t total_weight() {
    std::uint32_t sum = 0;
    for (const auto& p : kPieces) sum += p.weight;
    return sum;
}

// A further piece is added only to an event shorter than this, so that the longest piece (a
// SysEx of 200 bytes) and three real-time bytes still fit in kMaxMidiEventBytes.
constexpr std::size_t kRoomForAPiece = 50;

}  // namespace

MidiFlood::MidiFlood(std::uint32_t seed, std::uint8_t unmapped_from)
    : random_(seed), unmapped_from_(unmapped_from) {
    if (unmapped_from_ > 127) throw std::invalid_argument("midi flood: no unmapped note above");
}

std::uint8_t MidiFlood::unmapped_note() {
    if (random_() % 2 == 0) return static_cast<std::uint8_t>(in(0, 35));
    return static_cast<std::uint8_t>(in(unmapped_from_, 127));
}

// Clock most often, as a sequencer sends it; every real-time byte is one message except the
// undefined F9 and FD, which the parser ignores.
std::uint8_t MidiFlood::realtime_byte(std::uint32_t& messages) {
    static constexpr std::uint8_t kBytes[] = {0xF8, 0xF8, 0xF8, 0xFA, 0xFB,
                                              0xFC, 0xFE, 0xFF, 0xF9, 0xFD};
    const std::uint8_t b = kBytes[random_() % std::size(kBytes)];
    if (b != 0xF9 && b != 0xFD) ++messages;
    return b;
}

void MidiFlood::realtime_inside(FloodEvent& e) {
    const auto at = static_cast<std::ptrdiff_t>(in(0, static_cast<std::uint32_t>(e.bytes.size())));
    const std::uint8_t b = realtime_byte(e.messages);
    e.bytes.insert(e.bytes.begin() + at, b);
}

void MidiFlood::piece(FloodEvent& e) {
    std::uint32_t roll = random_() % total_weight();
    const Weighted* chosen = &kPieces[0];
    for (const auto& p : kPieces) {
        if (roll < p.weight) {
            chosen = &p;
            break;
        }
        roll -= p.weight;
    }
    ++kinds_[chosen->name];
    auto& b = e.bytes;
    const auto channel = static_cast<std::uint8_t>(random_() & 0x0F);
    auto status = [&](std::uint8_t kind) {
        b.push_back(static_cast<std::uint8_t>(kind | channel));
    };
    switch (chosen->piece) {
        case Piece::note_on:
            status(0x90);
            b.insert(b.end(), {unmapped_note(), data()});  // velocity 0 too: a note-off
            ++e.messages;
            break;
        case Piece::note_off:
            status(0x80);
            b.insert(b.end(), {unmapped_note(), data()});
            ++e.messages;
            break;
        case Piece::poly_pressure:
            // Any key, the loaded slot's too: pressure plays nothing.
            status(0xA0);
            b.insert(b.end(), {data(), data()});
            ++e.messages;
            break;
        case Piece::control:
            // Channel mode messages (120-127: all sound off, all notes off...) among them.
            status(0xB0);
            b.insert(b.end(), {data(), data()});
            ++e.messages;
            break;
        case Piece::program:
            status(0xC0);
            b.push_back(data());
            ++e.messages;
            break;
        case Piece::channel_pressure:
            status(0xD0);
            b.push_back(data());
            ++e.messages;
            break;
        case Piece::pitch_bend:
            status(0xE0);
            b.insert(b.end(), {data(), data()});
            ++e.messages;
            break;
        case Piece::running: {
            // One status, then 2 to 16 messages' data bytes; sometimes a lone data byte after
            // them, the start of one more that never completes.
            static constexpr std::uint8_t kKinds[] = {0x90, 0x80, 0xA0, 0xB0, 0xE0, 0xC0, 0xD0};
            const std::uint8_t kind = kKinds[random_() % std::size(kKinds)];
            status(kind);
            const std::uint32_t n = in(2, 16);
            for (std::uint32_t k = 0; k < n; ++k) {
                if (kind == 0x90 || kind == 0x80) {
                    b.insert(b.end(), {unmapped_note(), data()});
                } else if (kind == 0xC0 || kind == 0xD0) {
                    b.push_back(data());
                } else {
                    b.insert(b.end(), {data(), data()});
                }
            }
            e.messages += n;
            if (kind != 0xC0 && kind != 0xD0 && random_() % 4 == 0) b.push_back(unmapped_note());
            break;
        }
        case Piece::system_common:
            switch (random_() % 4) {
                case 0:
                    b.insert(b.end(), {0xF1, data()});  // MTC quarter frame
                    break;
                case 1:
                    b.insert(b.end(), {0xF2, data(), data()});  // song position
                    break;
                case 2:
                    b.insert(b.end(), {0xF3, data()});  // song select
                    break;
                default:
                    b.push_back(0xF6);  // tune request
                    break;
            }
            ++e.messages;
            break;
        case Piece::undefined:
            b.push_back(random_() % 2 == 0 ? 0xF4 : 0xF5);
            break;
        case Piece::truncated:
            // A message missing data bytes; the next status byte (in this event or the next
            // one read) drops it. A note-on naming the loaded slot 0 (note 36) is among them.
            switch (random_() % 8) {
                case 0:
                    status(0x90);
                    b.push_back(36);
                    break;
                case 1:
                    status(0x90);
                    break;
                case 2:
                    status(0xB0);
                    b.push_back(data());
                    break;
                case 3:
                    status(0xE0);
                    b.push_back(data());
                    break;
                case 4:
                    status(random_() % 2 == 0 ? 0xC0 : 0xD0);
                    break;
                case 5:
                    b.insert(b.end(), {0xF2, data()});
                    break;
                case 6:
                    b.push_back(random_() % 2 == 0 ? 0xF1 : 0xF3);
                    break;
                default:
                    status(0xA0);
                    b.push_back(36);
                    break;
            }
            break;
        case Piece::stray: {
            // Data bytes with no status to belong to: after a SysEx end with no SysEx, an
            // undefined status, or a system common message (which ends running status). Note
            // 36 and a velocity among them: a parser that took them for a note would play
            // the loaded slot.
            switch (random_() % 7) {
                case 0:
                    b.push_back(0xF7);
                    break;
                case 1:
                    b.push_back(0xF4);
                    break;
                case 2:
                    b.push_back(0xF5);
                    break;
                case 3:
                    b.push_back(0xF6);
                    ++e.messages;
                    break;
                case 4:
                    b.insert(b.end(), {0xF1, data()});
                    ++e.messages;
                    break;
                case 5:
                    b.insert(b.end(), {0xF3, data()});
                    ++e.messages;
                    break;
                default:
                    b.insert(b.end(), {0xF2, data(), data()});
                    ++e.messages;
                    break;
            }
            const std::uint32_t n = in(1, 8);
            for (std::uint32_t k = 0; k < n; ++k)
                b.push_back(random_() % 4 == 0 ? std::uint8_t{36} : data());
            break;
        }
        case Piece::sysex: {
            b.push_back(0xF0);
            const std::uint32_t n = in(0, 198);
            for (std::uint32_t k = 0; k < n; ++k) b.push_back(data());
            b.push_back(0xF7);
            break;
        }
        case Piece::sysex_open: {
            // Ended by the next status byte, in this event or the next one read.
            b.push_back(0xF0);
            const std::uint32_t n = in(1, 198);
            for (std::uint32_t k = 0; k < n; ++k) b.push_back(data());
            break;
        }
    }
}

FloodEvent MidiFlood::next() {
    FloodEvent e;
    if (random_() % 100 < 4) {
        ++kinds_["real-time only"];
        const std::uint32_t n = in(1, 4);
        for (std::uint32_t k = 0; k < n; ++k) e.bytes.push_back(realtime_byte(e.messages));
        return e;
    }
    const std::uint32_t roll = random_() % 100;
    const std::uint32_t pieces = roll < 80 ? 1 : roll < 95 ? 2 : in(3, 4);
    piece(e);
    for (std::uint32_t k = 1; k < pieces && e.bytes.size() < kRoomForAPiece; ++k) piece(e);
    if (random_() % 100 < 15) {
        ++kinds_["real-time inside"];
        const std::uint32_t n = in(1, 3);
        for (std::uint32_t k = 0; k < n; ++k) realtime_inside(e);
    }
    if (e.bytes.size() > test::kMaxMidiEventBytes)
        throw std::logic_error("midi flood: an event of " + std::to_string(e.bytes.size()) +
                               " bytes");
    return e;
}

FloodEvent MidiFlood::sysex(std::size_t data_bytes) {
    ++kinds_["SysEx (byte burst)"];
    FloodEvent e;
    e.bytes.push_back(0xF0);
    for (std::size_t k = 0; k < data_bytes; ++k) e.bytes.push_back(data());
    e.bytes.push_back(0xF7);
    return e;
}

}  // namespace looperd::load
