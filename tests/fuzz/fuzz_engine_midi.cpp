// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// Fuzz target: the Engine's MIDI input. Blocks of arbitrary MIDI event streams, as a JACK
// MIDI port (or a misbehaving host) hands them over, interleaved with the commands that
// change what a note does. A target of its own, so that fuzz_engine_commands's format and
// corpus stay as they are.
//
// Input: a sequence of operations, each an opcode byte followed by its operands. Missing bytes
// read as zero.
//   opcode % 4 == 0   send one command: kind % 14, then for the note commands slot (one past
//                     the table too), frame mode, 16-bit frame offset and the kind's value
//                     operands; for the lights' three bytes and an init message's bytes (see
//                     send() and send_light())
//   opcode % 4 in 1..3  render one block:
//     16-bit size (1..1024), flags (bit 0: a `lost` count byte follows; bit 1: an xrun before
//     the block; bit 2: events pointer null), descriptor count (0..255), then each descriptor:
//       header  bits 0-1 time: 0 same as the last event, 1 + u8, 2 + u16, 3 max(last, u32)
//               bits 2-4 size: 0..3 that many bytes from the input, 4 u8 bytes from the input,
//                        5 u16 % 20000 bytes repeating a pattern of 1..8 input bytes (beyond
//                        the 8 KiB budget), 6 the last descriptor's bytes again, 7 a null
//                        pointer with a u8 size (a host error)
//               bits 5-7 the event repeated 1, 2, 4 ... 128 times, each copy one time step on
//       operands as the header says.
// So one short input makes floods past the 256-event and 8 KiB budgets, events past the block's
// end, messages split across events and blocks, running status, SysEx, real-time bytes and
// stray data. Times are sorted, as JACK sorts them (the engine's contract).
//
// Commands are those that change what a note does: assign_buffer (1..2 channels, 1..2048 frames,
// so voices end), unload, set_mode, set_quantize, clock_tempo, set_choke, set_poly, stop_all with
// the Controller's values, and set_velocity_curve with any float at all (NaN, infinities,
// negatives, huge), since a curve is a number the engine must take from any sender; and the
// lights' (midi_send, set_led_slot, set_led_state, set_led_init with 0..300 bytes, led_refresh),
// as the Controller makes them from a profile, with fuzzed notes, channels, states and bytes.
//
// Checked after each block, against a model that reads the same events through its own
// MidiParser with the documented budget:
//   - outputs finite and within 1e6; active voices within the pool;
//   - MIDI output events inside the block, in time order, of a possible size;
//   - midi_messages, midi_dropped and midi_stray_bytes equal the model's (so never decrease);
//   - a slot sounds only if it was given a buffer and a note-on for it got through the budget,
//     and never with more voices than the most polyphony it was given;
//   - sample accuracy: after a silent block, with no quantize ever set, the block is exactly
//     silent before the first accepted note-on's frame (clamped to the block's last frame).
// Retired buffers are deleted by the harness exactly once; the engine deletes the rest in its
// destructor (ASan and LeakSanitizer report a double delete or a leak). Event bytes sit in one
// arena with poisoned gaps between them, so reading past an event's size is an ASan report.
#include <sanitizer/asan_interface.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <memory>
#include <set>
#include <vector>

#include "fuzz_reader.hpp"
#include "looperd/engine.hpp"
#include "looperd/event.hpp"
#include "looperd/limits.hpp"
#include "looperd/midi.hpp"
#include "looperd/midi_commands.hpp"
#include "looperd/rt_guard.hpp"
#include "looperd/sample_buffer.hpp"

namespace {

using namespace looperd;

constexpr std::uint32_t kSlots = 8;  // notes 36..43; 44 up play nothing
constexpr std::uint32_t kOutputs = 2;
constexpr std::uint32_t kVoices = 12;  // small, so that the pool runs out
constexpr std::uint32_t kMaxBlock = 1024;
constexpr std::size_t kMaxBuffersPerInput = 16;
constexpr std::size_t kMaxOpsPerInput = 4096;
constexpr float kMaxAbsSample = 1e6F;
// Events per block at most: four times the engine's budget, so that the drop path is reached.
constexpr std::size_t kMaxEvents = 4 * limits::kMaxMidiEventsPerBlock;
constexpr std::uint32_t kMaxLargeEvent = 20000;  // beyond the 8 KiB budget
// Event bytes per block: room for several budgets' worth, plus a poisoned gap after each event.
constexpr std::size_t kArenaBytes = 256 * 1024;
constexpr std::size_t kRedzone = 16;
constexpr std::size_t kMaxDescriptors = 255;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_engine_midi: invariant broken: %s\n", what);
    std::abort();
}

using fuzz::Reader;

// `raw` mapped linearly onto [lo, hi]: 0 gives lo and 65535 gives hi exactly.
float span(std::uint16_t raw, double lo, double hi) {
    return static_cast<float>(lo + (hi - lo) * (raw / 65535.0));
}

// The block's events and their bytes. Each event's bytes start on an 8-byte boundary and are
// followed by a poisoned gap, so that ASan catches a read past an event's size.
class EventArena {
  public:
    // Payload, and per allocation (one per descriptor at most) its alignment and gap.
    EventArena() : bytes_(kArenaBytes + (kMaxDescriptors + 1) * (kRedzone + 8)) {
        events_.reserve(kMaxEvents);
    }
    ~EventArena() { clear(); }
    EventArena(const EventArena&) = delete;
    EventArena& operator=(const EventArena&) = delete;

    // Room for `size` bytes, or for fewer when the arena is nearly full: the count actually
    // given is in `size` afterwards.
    std::uint8_t* allocate(std::uint32_t& size) {
        used_ = (used_ + 7) & ~std::size_t{7};
        size = static_cast<std::uint32_t>(std::min<std::size_t>(size, kArenaBytes - payload_));
        payload_ += size;
        std::uint8_t* p = bytes_.data() + used_;
        used_ += size;
        ASAN_POISON_MEMORY_REGION(bytes_.data() + used_, kRedzone);
        used_ += kRedzone;
        return p;
    }

    bool full() const { return events_.size() >= kMaxEvents; }
    void add(const MidiEvent& e) { events_.push_back(e); }
    const std::vector<MidiEvent>& events() const { return events_; }

    void clear() {
        ASAN_UNPOISON_MEMORY_REGION(bytes_.data(), bytes_.size());
        used_ = 0;
        payload_ = 0;
        events_.clear();
    }

  private:
    std::vector<std::uint8_t> bytes_;
    std::size_t used_ = 0;
    std::size_t payload_ = 0;  // of kArenaBytes
    std::vector<MidiEvent> events_;
};

// What the engine must have counted, read from the same events the way docs/midi.md says.
struct Model {
    MidiParser parser;
    std::uint64_t messages = 0;
    std::uint64_t dropped = 0;
    bool noted[kSlots] = {};  // a note-on for the slot got through the budget, ever

    // Reads one block's input; returns the clamped frame of the first note-on for a slot in
    // the table (nframes if there is none).
    std::uint32_t read_block(const MidiInput& midi, std::uint32_t nframes) {
        dropped += midi.lost;
        std::uint32_t count = midi.events ? midi.count : 0;
        if (count > limits::kMaxMidiEventsPerBlock) {
            dropped += count - limits::kMaxMidiEventsPerBlock;
            count = limits::kMaxMidiEventsPerBlock;
        }
        std::uint32_t bytes_left = limits::kMaxMidiBytesPerBlock;
        std::uint32_t first_note = nframes;
        std::uint32_t actions = 0;  // notes for a slot: the budget's, and the splits' (midi.md)
        std::uint32_t splits = 0;
        std::uint32_t last_split = 0;
        for (std::uint32_t i = 0; i < count; ++i) {
            const MidiEvent& e = midi.events[i];
            if (i > 0 && e.time < midi.events[i - 1].time) fail("harness made unsorted events");
            if (e.data == nullptr || e.size > bytes_left) {
                ++dropped;
                continue;
            }
            bytes_left -= e.size;
            MidiMessage m;
            for (std::uint32_t b = 0; b < e.size; ++b) {
                if (!parser.feed(e.data[b], m)) continue;
                ++messages;
                if ((!m.note_on() && !m.note_off()) || m.data1 < limits::kFirstSlotNote) continue;
                const std::uint32_t slot = m.data1 - limits::kFirstSlotNote;
                if (slot >= kSlots) continue;
                if (actions == limits::kMaxMidiActionsPerBlock) {
                    ++dropped;
                    continue;
                }
                ++actions;
                std::uint32_t time = std::min(e.time, nframes - 1);
                if (splits == 0 || time != last_split) {
                    if (splits < limits::kMaxMidiSplitsPerBlock) {
                        ++splits;
                        last_split = time;
                    } else {
                        time = last_split;  // past the last split: it acts there
                    }
                }
                if (!m.note_on()) continue;
                noted[slot] = true;
                first_note = std::min(first_note, time);
            }
        }
        return first_note;
    }
};

struct Harness {
    Engine engine;
    std::set<SampleBuffer*> engine_owned;  // handed over and not yet retired
    std::size_t buffers_made = 0;
    std::uint64_t next_frame = 48000;  // the host frame of the next block
    std::vector<float> out = std::vector<float>(std::size_t{kOutputs} * kMaxBlock);
    EventArena arena;
    Model model;
    // What the commands sent allow: a slot sounds only with a buffer, and with at most the
    // most voices it was ever allowed (poly 1 by default).
    bool assigned[kSlots] = {};
    std::uint32_t max_poly[kSlots] = {};
    bool ever_quantized = false;  // a quantized note may start on a later block's grid frame
    bool last_block_silent = true;

    static EngineConfig config() {
        EngineConfig c;
        c.outputs = kOutputs;
        c.slots = kSlots;
        c.voices = kVoices;
        c.sample_rate = 48000;
        c.command_capacity = 32;
        c.scheduled_capacity = 16;
        return c;
    }

    Harness() : engine(config()) { std::fill(std::begin(max_poly), std::end(max_poly), 1U); }

    // A short buffer as the loader makes them, so that one-shot voices end within a few
    // blocks: 1..2 channels, 1..2048 frames, samples within +-0.5 and never all zero.
    SampleBuffer* make_buffer(Reader& in) {
        const std::uint32_t channels = 1 + in.u8() % 2;
        const std::uint32_t frames = 1 + in.u16() % 2048;
        auto* b = new SampleBuffer(channels, frames, 48000);
        for (std::uint32_t c = 0; c < channels; ++c) {
            float* ch = b->mutable_channel(c);
            for (std::uint32_t i = 0; i < frames; ++i)
                ch[i] = 0.25F + 0.25F * std::sin(0.05F * static_cast<float>(i * (c + 1)));
        }
        ++buffers_made;
        return b;
    }

    void housekeep() {
        Event e;
        while (engine.try_receive(e)) {
            if (e.kind != EventKind::buffer_retired) continue;
            auto it = engine_owned.find(e.buffer);
            if (it == engine_owned.end()) fail("a buffer retired twice, or one never handed over");
            engine_owned.erase(it);
            delete e.buffer;
        }
    }

    void send(Reader& in) {
        static constexpr CommandKind kKinds[] = {
            CommandKind::assign_buffer, CommandKind::unload,       CommandKind::set_mode,
            CommandKind::set_quantize,  CommandKind::clock_tempo,  CommandKind::set_choke,
            CommandKind::set_poly,      CommandKind::stop_all,     CommandKind::set_velocity_curve,
            CommandKind::midi_send,     CommandKind::set_led_slot, CommandKind::set_led_state,
            CommandKind::set_led_init,  CommandKind::led_refresh};
        const CommandKind kind = kKinds[in.u8() % std::size(kKinds)];
        if (send_light(kind, in)) return;
        Command c;
        c.kind = kind;
        c.slot = in.u8() % (kSlots + 1);  // kSlots: outside the table
        const std::uint8_t frame_mode = in.u8();
        const std::uint16_t offset = in.u16();
        // The next block's start, or a frame inside the next blocks: there the engine splits
        // the block, and a note may fall on the same frame.
        c.frame = frame_mode % 2 == 0 ? 0 : next_frame + offset % (2 * kMaxBlock);
        switch (c.kind) {
            case CommandKind::assign_buffer:
                if (buffers_made >= kMaxBuffersPerInput) return;
                c.buffer = make_buffer(in);
                break;
            case CommandKind::set_mode:
                c.value = static_cast<float>(in.u8() % 4);
                break;
            case CommandKind::set_quantize: {
                // "none", "bar", or a number of beats in (0, 64], as the Controller sends.
                const std::uint16_t raw = in.u16();
                if (raw % 3 == 1) c.value = -1.0F;
                if (raw % 3 == 2) c.value = std::max(span(raw, 0.0, 64.0), 1.0F / 65535.0F);
                break;
            }
            case CommandKind::clock_tempo:
                c.value = span(in.u16(), 20.0, 999.0);
                break;
            case CommandKind::set_choke:
                c.value = static_cast<float>(in.u8() % (limits::kMaxChokeGroup + 1));
                break;
            case CommandKind::set_poly:
                c.value = static_cast<float>(1 + in.u8() % limits::kMaxPoly);
                break;
            case CommandKind::set_velocity_curve: {
                // A curve's number, or any float at all.
                const std::uint8_t pick = in.u8();
                c.value = pick % 2 == 0 ? static_cast<float>(pick / 2 % 8)
                                        : std::bit_cast<float>(in.u32());
                break;
            }
            default:
                break;  // unload, stop_all
        }
        if (!engine.try_send(c)) {
            delete c.buffer;  // a refused command's buffer stays the sender's
            return;
        }
        if (c.buffer) engine_owned.insert(c.buffer);
        if (c.slot >= kSlots) return;
        if (c.kind == CommandKind::assign_buffer) assigned[c.slot] = true;
        if (c.kind == CommandKind::set_quantize && c.value != 0.0F) ever_quantized = true;
        if (c.kind == CommandKind::set_poly)
            max_poly[c.slot] = std::max(max_poly[c.slot], static_cast<std::uint32_t>(c.value));
    }

    // The lights' commands, as the Controller makes them from a profile (midi_commands.hpp),
    // with fuzzed notes, channels, states and init bytes: they change only what goes out on
    // midi_out, never what a note plays, so the model needs nothing of them. False for the
    // other kinds.
    bool send_light(CommandKind kind, Reader& in) {
        const std::uint8_t a = in.u8();
        const std::uint8_t b = in.u8();
        const std::uint8_t d = in.u8();
        // A full ring refuses a command, as it would the Controller's: the light stays unset.
        auto send_one = [this](const Command& c) { return engine.try_send(c); };
        switch (kind) {
            case CommandKind::midi_send:
                send_one(midi_send_command(static_cast<std::uint8_t>(a | 0x80U), b & 0x7FU,
                                           d & 0x7FU, next_frame + d % (2 * kMaxBlock)));
                return true;
            case CommandKind::set_led_slot: {
                const auto status =
                    static_cast<std::uint8_t>((b % 2 == 0 ? 0x90U : 0xB0U) | (b >> 4U));
                send_one(led_slot_command(a % (kSlots + 1), status, d & 0x7FU));
                return true;
            }
            case CommandKind::set_led_state:
                send_one(led_state_command(static_cast<LedState>(a % kLedStates), b & 0x7FU,
                                           d % 17 == 16 ? kLedSlotChannel : d % 16));
                return true;
            case CommandKind::set_led_init: {
                // An init message of 0..300 bytes: a SysEx, or anything a profile file holds.
                const std::size_t size = std::size_t{a} + (b % 2 == 0 ? 0 : 45);
                std::vector<std::uint8_t> bytes(size);
                for (std::size_t i = 0; i < size; ++i) bytes[i] = in.u8();
                led_init_commands(bytes, send_one);
                return true;
            }
            case CommandKind::led_refresh:
                send_one(led_refresh_command());
                return true;
            default:
                return false;
        }
    }

    // One descriptor's events into the arena (see the header comment).
    void read_events(Reader& in, std::uint32_t& time, const std::uint8_t*& last_data,
                     std::uint32_t& last_size) {
        const std::uint8_t header = in.u8();
        std::uint32_t step = 0;
        switch (header & 3U) {
            case 1:
                step = in.u8();
                break;
            case 2:
                step = in.u16();
                break;
            case 3:
                time = std::max(time, in.u32());
                break;
            default:
                break;
        }
        const std::uint8_t* data = nullptr;
        std::uint32_t size = 0;
        switch ((header >> 2U) & 7U) {
            case 4:
            case 0:
            case 1:
            case 2:
            case 3: {
                const std::uint32_t kind = (header >> 2U) & 7U;
                size = kind == 4 ? in.u8() : kind;
                std::uint8_t* p = arena.allocate(size);
                for (std::uint32_t i = 0; i < size; ++i) p[i] = in.u8();
                data = p;
                break;
            }
            case 5: {
                size = in.u16() % kMaxLargeEvent;
                std::uint8_t pattern[8];
                const std::uint32_t length = 1 + in.u8() % 8;
                for (std::uint32_t i = 0; i < length; ++i) pattern[i] = in.u8();
                std::uint8_t* p = arena.allocate(size);
                for (std::uint32_t i = 0; i < size; ++i) p[i] = pattern[i % length];
                data = p;
                break;
            }
            case 6:
                data = last_data;
                size = last_size;
                break;
            default:
                size = in.u8();  // null data: the engine must drop it without reading
                break;
        }
        if (data == nullptr && ((header >> 2U) & 7U) != 7U) {
            // "The last descriptor's bytes" before there was one: an empty event.
            std::uint32_t none = 0;
            data = arena.allocate(none);
            size = 0;
        }
        last_data = data;
        last_size = size;
        const std::uint32_t copies = 1U << (header >> 5U);
        for (std::uint32_t k = 0; k < copies && !arena.full(); ++k) {
            if (k > 0 || (header & 3U) != 3U) time = time + std::min(step, ~time);
            arena.add(MidiEvent{time, size, data});
        }
    }

    void render(Reader& in) {
        const std::uint32_t n = 1 + in.u16() % kMaxBlock;
        const std::uint8_t flags = in.u8();
        const std::uint32_t lost = (flags & 1U) != 0 ? in.u8() : 0;
        if ((flags & 2U) != 0) next_frame += n;  // an xrun: the host's clock skipped a block
        const std::size_t descriptors = in.u8();
        arena.clear();
        std::uint32_t time = 0;
        const std::uint8_t* last_data = nullptr;
        std::uint32_t last_size = 0;
        for (std::size_t d = 0; d < descriptors && !arena.full(); ++d)
            read_events(in, time, last_data, last_size);

        MidiInput midi;
        midi.events = (flags & 4U) != 0 ? nullptr : arena.events().data();
        midi.count = static_cast<std::uint32_t>(arena.events().size());
        midi.lost = lost;
        const std::uint32_t first_note = model.read_block(midi, n);

        BlockTiming t;
        t.frame = next_frame;
        float* ports[kOutputs];
        for (std::uint32_t o = 0; o < kOutputs; ++o) ports[o] = out.data() + std::size_t{o} * n;
        {
            rt_guard::Scope audio_thread;
            engine.process(nullptr, 0, ports, n, t, midi);
        }
        next_frame += n;
        check(n, ports, first_note);
        housekeep();
    }

    void check(std::uint32_t n, float* const* ports, std::uint32_t first_note) {
        for (std::size_t i = 0; i < std::size_t{kOutputs} * n; ++i) {
            if (!std::isfinite(out[i])) fail("non-finite output sample");
            if (std::fabs(out[i]) > kMaxAbsSample) fail("output sample out of bounds");
        }
        // Only a note starts a voice here (no play commands, no reloads, no inputs), so a block
        // after a silent one is silent up to its first note, unless a quantized note from an
        // earlier block may land on a grid frame inside it.
        if (last_block_silent && !ever_quantized)
            for (std::uint32_t o = 0; o < kOutputs; ++o)
                for (std::uint32_t i = 0; i < first_note; ++i)
                    if (ports[o][i] != 0.0F) fail("sound before the block's first note");

        const std::uint32_t active = engine.active_voices();
        if (active > kVoices) fail("more active voices than the pool");
        std::uint32_t sounding = 0;
        for (std::uint32_t s = 0; s < kSlots; ++s) {
            const std::uint32_t v = engine.slot_sounding_voices(s);
            if (v > 0 && !(assigned[s] && model.noted[s]))
                fail("a slot sounds that no accepted note-on played, or that has no buffer");
            if (v > max_poly[s]) fail("a slot sounds more voices than its polyphony");
            sounding += v;
        }
        if (sounding > active) fail("more sounding voices than active ones");
        last_block_silent = active == 0;

        // What goes out on midi_out: inside the block, each event 1..3 bytes or the init
        // message the engine holds, in time order (JACK refuses events out of order).
        std::uint32_t last_time = 0;
        for (std::uint32_t i = 0; i < engine.midi_output_count(); ++i) {
            const MidiOutEvent& e = engine.midi_output()[i];
            if (e.time >= n) fail("a MIDI output event past the block's end");
            if (e.time < last_time) fail("MIDI output events out of time order");
            last_time = e.time;
            if (e.size == 0 || (e.long_data == nullptr && e.size > 3))
                fail("a MIDI output event of impossible size");
            if (e.long_data != nullptr && e.size > limits::kMaxMidiInitBytes)
                fail("a long MIDI output event longer than the init message's room");
        }

        if (engine.midi_messages() != model.messages) fail("midi_messages differs from the model");
        if (engine.midi_dropped() != model.dropped) fail("midi_dropped differs from the model");
        if (engine.midi_stray_bytes() != model.parser.stray())
            fail("midi_stray_bytes differs from the model");
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Reader in(data, size);
    auto h = std::make_unique<Harness>();
    for (std::size_t ops = 0; ops < kMaxOpsPerInput && !in.done(); ++ops) {
        if (in.u8() % 4 == 0) {
            h->send(in);
        } else {
            h->render(in);
        }
    }
    // Stop everything, let pending commands land and fades end, then check the books: what the
    // engine still holds it deletes itself in its destructor (ASan reports a double delete or
    // a leak).
    h->engine.try_send(Command{CommandKind::stop_all});
    for (int i = 0; i < 4; ++i) {
        const std::uint8_t block[] = {0xff, 0x03, 0, 0};  // 1024 frames, no flags, no events
        Reader tail(block, sizeof block);
        h->render(tail);
    }
    h->housekeep();
    return 0;
}
