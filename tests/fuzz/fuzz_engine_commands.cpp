// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// Fuzz target: the Engine driven directly by a stream of Commands and blocks, the way the
// network, loader and audio threads drive it, without OSC in front.
//
// Values are limited to what the Controller can send: a finite number inside each kind's
// documented range (see value_for), the *_on_grid kinds never (the engine makes those itself), and
// a region start that stays below the slot's end. Slot indices go one past the table, which the
// engine must refuse on its own (bad_command). So a crash here is reachable over OSC; a NaN gain is
// not, and is not tried.
//
// Input: a sequence of operations, each an opcode byte followed by its operands.
//   opcode % 8 in 0..4  send one command: kind, slot, a 16-bit value, a frame mode, 16-bit offset
//   opcode % 8 in 5..6  render one block: 16-bit size (1..1024), xrun skip, transport (JACK
//                       and a Link session that starts and stops with it)
//   opcode % 8 == 7     change the sample rate (as a JACK sample rate callback would)
// Missing bytes read as zero. Recording is on (two inputs of noise, two short recorders, a small
// undo arena) with its memory on demand: after each block the harness makes what the recorder
// pool wants, as the record memory thread does, until its budget of buffers is spent and it
// refuses; commands also bring record buffers and undo blocks of the right size or not, and
// refusals, at any time. Snapshots borrow the harness's one export buffer, as the take thread
// lends its own. After each block: every output sample finite and within 1e6, active voices within
// the pool, telemetry within range. Retired buffers are deleted by the harness exactly once, and
// only buffers it handed over may come back; the export buffer comes back only while lent.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>
#include <vector>

#include "fuzz_reader.hpp"
#include "looperd/engine.hpp"
#include "looperd/event.hpp"
#include "looperd/limits.hpp"
#include "looperd/rt_guard.hpp"
#include "looperd/sample_buffer.hpp"

namespace {

using namespace looperd;

constexpr std::uint32_t kSlots = 6;
constexpr std::uint32_t kOutputs = 4;
constexpr std::uint32_t kVoices = 12;  // small, so that the pool runs out
constexpr std::uint32_t kMaxBlock = 1024;
constexpr std::size_t kMaxBuffersPerInput = 16;
constexpr std::size_t kMaxOpsPerInput = 4096;
constexpr float kMaxAbsSample = 1e6F;
// The kinds the Controller (or the take or stretch thread) sends: everything before the
// *_on_grid kinds, and after the MIDI ones the transport's three and time-stretching's two.
constexpr std::uint8_t kSendableKinds = static_cast<std::uint8_t>(CommandKind::clock_from_slot) + 1;
// transport_stop, transport_start, set_start_stop_sync, set_stretch, assign_stretched, and
// recording's memory: assign_record_buffer, assign_undo_block, record_memory_refused
constexpr std::uint8_t kTransportKinds = 8;

CommandKind sendable_kind(std::uint8_t pick) {
    const auto i = static_cast<std::uint8_t>(pick % (kSendableKinds + kTransportKinds));
    if (i < kSendableKinds) return static_cast<CommandKind>(i);
    return static_cast<CommandKind>(static_cast<std::uint8_t>(CommandKind::transport_stop) + i -
                                    kSendableKinds);
}
constexpr float kMaxRecordSeconds = 0.1F;  // 4800 frames at 48 kHz: two undo chunks

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_engine_commands: invariant broken: %s\n", what);
    std::abort();
}

using fuzz::Reader;

// `raw` mapped linearly onto [lo, hi]: 0 gives lo and 65535 gives hi exactly.
float span(std::uint16_t raw, double lo, double hi) {
    return static_cast<float>(lo + (hi - lo) * (raw / 65535.0));
}

// The value the Controller would send for `kind` (see the osc_* handlers and docs/osc.md).
float value_for(CommandKind kind, std::uint16_t raw) {
    switch (kind) {
        case CommandKind::clock_sync:
            return static_cast<float>(raw % 4);  // internal, jack, midi, link
        case CommandKind::set_stretch:
            return static_cast<float>(raw % 3);  // rate, pitch, off
        case CommandKind::play:
        case CommandKind::set_reverse:
        case CommandKind::set_start_stop_sync:
        case CommandKind::set_monitor:
        case CommandKind::set_monitor_all:
            return static_cast<float>(raw & 1U);
        case CommandKind::record:
        case CommandKind::overdub:
            return 1.0F;
        case CommandKind::set_input:
            return static_cast<float>(1 + raw % 2);  // two inputs: pair 1 (and pair 2: silence)
        case CommandKind::set_record_offset:
            return static_cast<float>(raw % 9600);
        case CommandKind::clock_from_slot:
            return span(raw, 20.0, 999.0);
        case CommandKind::set_gain:
            return span(raw, 0.0, static_cast<double>(limits::kMaxSlotGain));
        case CommandKind::set_master_gain:
            return span(raw, 0.0, static_cast<double>(limits::kMaxMasterGain));
        case CommandKind::set_mode:
            return static_cast<float>(raw % 4);
        case CommandKind::set_pan:
            return span(raw, -1.0, 1.0);
        case CommandKind::set_rate:
            return static_cast<float>(0.125 * std::pow(64.0, raw / 65535.0));  // 0.125..8
        case CommandKind::set_pitch:
            return span(raw, -24.0, 24.0);
        case CommandKind::set_start:
        case CommandKind::set_end:
            return span(raw, 0.0, 1.0);
        case CommandKind::set_xfade:
            return span(raw, 0.0, 1000.0);
        case CommandKind::set_poly:
            return static_cast<float>(1 + raw % limits::kMaxPoly);
        case CommandKind::set_choke:
            return static_cast<float>(raw % (limits::kMaxChokeGroup + 1));
        case CommandKind::set_output:
            return static_cast<float>(raw % ((kOutputs + 1) / 2 + 1));
        case CommandKind::set_fade_in:
            return span(raw, 0.0, 10000.0);
        case CommandKind::set_fade_out:
            return span(raw, 0.1, 10000.0);
        case CommandKind::set_quantize:
            // "none", "bar", or a number of beats in (0, 64].
            if (raw % 3 == 0) return 0.0F;
            if (raw % 3 == 1) return -1.0F;
            return std::max(span(raw, 0.0, 64.0), 1.0F / 65535.0F);
        case CommandKind::set_beats:
            return span(raw, 0.0, 1024.0);
        case CommandKind::clock_tempo:
            return span(raw, 20.0, 999.0);
        case CommandKind::clock_meter:
            return static_cast<float>(1 + raw % 32);
        default:
            return 0.0F;  // assign_buffer, unload, stop, stop_all, clock_reset, transport_*
    }
}

struct Harness {
    Engine engine;
    std::set<SampleBuffer*> engine_owned;  // handed over and not yet retired
    std::size_t buffers_made = 0;
    // The Controller's mirror of each slot's region, which keeps start below end.
    float region_start[kSlots] = {};
    float region_end[kSlots] = {};
    std::uint64_t next_frame = 48000;  // the host frame of the next block
    double beat = 0.0;
    std::vector<float> out = std::vector<float>(std::size_t{kOutputs} * kMaxBlock);

    static EngineConfig config() {
        EngineConfig c;
        c.outputs = kOutputs;
        c.slots = kSlots;
        c.voices = kVoices;
        c.sample_rate = 48000;
        c.command_capacity = 32;
        c.scheduled_capacity = 16;
        c.inputs = 2;
        c.recorders = 2;
        c.max_record_seconds = kMaxRecordSeconds;
        c.undo_levels = 2;
        c.undo_memory_mib = 5;  // two undo blocks, the second short
        c.record_memory_on_demand = true;
        return c;
    }

    // What the inputs play: noise within +-0.5, a different block each time.
    std::vector<float> input = std::vector<float>(std::size_t{2} * kMaxBlock);
    std::uint32_t noise = 1;
    // The take thread's export buffer, and whether the engine holds it.
    std::unique_ptr<SampleBuffer> export_buffer;
    bool lent = false;

    // The record memory thread: counted as RecorderPool counts what it received.
    std::uint32_t record_sent = 0;
    std::uint32_t undo_sent = 0;
    std::uint32_t refusals_sent = 0;

    Harness() : engine(config()) {
        std::fill(std::begin(region_end), std::end(region_end), 1.0F);
        export_buffer = std::make_unique<SampleBuffer>(2, engine.max_record_frames(), 48000);
        record_sent = engine.recorder_pool().record_buffers_taken();
        undo_sent = engine.recorder_pool().undo_blocks_taken();
    }

    // What RecordMemory does after each round: the buffers and blocks the pool wants, within
    // the run's budget of buffers; past it, a refusal for the presses waiting.
    void make_record_memory() {
        const RecorderPool& pool = engine.recorder_pool();
        const std::uint32_t coming = record_sent - pool.record_buffers_taken();
        if (pool.record_buffers_wanted() > coming) {
            if (buffers_made < kMaxBuffersPerInput) {
                if (hand_over(Command{CommandKind::assign_record_buffer, 0, 0.0F, 0,
                                      new SampleBuffer(2, engine.max_record_frames(), 48000)}))
                    ++record_sent;
                ++buffers_made;
            } else if (pool.waiting() > coming && refusals_sent == pool.record_refusals_taken() &&
                       engine.try_send(Command{CommandKind::record_memory_refused})) {
                ++refusals_sent;
            }
        }
        if (pool.undo_blocks_wanted() > undo_sent - pool.undo_blocks_taken() &&
            pool.undo_block_floats(undo_sent) > 0) {
            if (hand_over(Command{
                    CommandKind::assign_undo_block, 0, 0.0F, 0,
                    new SampleBuffer(
                        1, static_cast<std::uint32_t>(pool.undo_block_floats(undo_sent)), 48000)}))
                ++undo_sent;
        }
    }

    bool hand_over(const Command& c) {
        if (engine.try_send(c)) {
            engine_owned.insert(c.buffer);
            return true;
        }
        delete c.buffer;
        return false;
    }

    // A buffer as the loader makes them: 1..8 channels, 1..`max_frames` frames, samples
    // within +-1.
    SampleBuffer* make_buffer(Reader& in, std::uint32_t max_frames = 4096) {
        const std::uint32_t channels = 1 + in.u8() % 8;
        const std::uint32_t frames = 1 + in.u16() % max_frames;
        auto* b = new SampleBuffer(channels, frames, 48000);
        for (std::uint32_t c = 0; c < channels; ++c) {
            float* ch = b->mutable_channel(c);
            for (std::uint32_t i = 0; i < frames; ++i)
                ch[i] = std::sin(0.05F * static_cast<float>(i * (c + 1)));
        }
        ++buffers_made;
        return b;
    }

    void housekeep() {
        Event e;
        while (engine.try_receive(e)) {
            if (e.kind == EventKind::snapshot_done || e.kind == EventKind::snapshot_refused) {
                if (!lent || e.buffer != export_buffer.get()) fail("a snapshot buffer not lent");
                if (e.kind == EventKind::snapshot_done &&
                    (e.frames != e.buffer->frames() || e.frames > engine.max_record_frames()))
                    fail("a snapshot longer than the longest take");
                lent = false;
                continue;
            }
            if (e.kind != EventKind::buffer_retired) continue;
            auto it = engine_owned.find(e.buffer);
            if (it == engine_owned.end()) fail("a buffer retired twice, or one never handed over");
            engine_owned.erase(it);
            delete e.buffer;
        }
        make_record_memory();
    }

    void send(Reader& in) {
        const auto kind = sendable_kind(in.u8());
        const std::uint32_t slot = in.u8() % (kSlots + 1);  // kSlots: outside the table
        const std::uint16_t raw = in.u16();
        const std::uint8_t frame_mode = in.u8();
        const std::uint16_t offset = in.u16();
        Command c;
        c.kind = kind;
        c.slot = slot;
        c.value = value_for(kind, raw);
        // The Controller's frames: the next block, a bundle's future frame, one already past
        // (late), or one far ahead (a timetag minutes away).
        switch (frame_mode % 4) {
            case 0:
                c.frame = 0;
                break;
            case 1:
                c.frame = next_frame + offset % 8192;
                break;
            case 2:
                c.frame = next_frame - std::min<std::uint64_t>(next_frame - 1, offset);
                break;
            default:
                c.frame = next_frame + std::uint64_t{offset} * 1000;
                break;
        }
        if ((kind == CommandKind::set_start || kind == CommandKind::set_end) && slot < kSlots) {
            const bool is_start = kind == CommandKind::set_start;
            if (is_start ? c.value >= region_end[slot] : c.value <= region_start[slot]) return;
            (is_start ? region_start[slot] : region_end[slot]) = c.value;
        }
        if (kind == CommandKind::assign_stretched && (raw & 1U) != 0) {
            // A rendering (the stretch thread's), or none: nullptr drops the slot's.
            if (buffers_made >= kMaxBuffersPerInput) return;
            c.buffer = make_buffer(in, 8192);
            // Made from the sample, from the take as it is now, or from a take that changed.
            const std::uint32_t now = engine.take_content(slot);
            c.content = (raw & 6U) == 0 ? 0 : (raw & 6U) == 2 ? now : now + (raw >> 3U) % 3;
        }
        if (kind == CommandKind::assign_record_buffer || kind == CommandKind::assign_undo_block) {
            // Memory of the right size, out of turn (the pool hands back what it cannot use),
            // or of any size.
            if (buffers_made >= kMaxBuffersPerInput) return;
            const RecorderPool& pool = engine.recorder_pool();
            const bool record = kind == CommandKind::assign_record_buffer;
            if ((raw & 1U) != 0) {
                c.buffer = make_buffer(in, 8192);
            } else {
                const auto floats = static_cast<std::uint32_t>(pool.undo_block_floats(undo_sent));
                c.buffer = record ? new SampleBuffer(2, engine.max_record_frames(), 48000)
                                  : new SampleBuffer(1, std::max(1U, floats), 48000);
                ++buffers_made;
            }
        }
        if (kind == CommandKind::assign_buffer || kind == CommandKind::load_take) {
            if (buffers_made >= kMaxBuffersPerInput) return;
            // A take may be longer than a recorder holds: it then plays as a sample.
            c.buffer = make_buffer(in, kind == CommandKind::load_take ? 8192 : 4096);
        }
        if (kind == CommandKind::snapshot) {
            if (lent) return;  // the take thread has one buffer, and waits for it
            if (engine.try_send(Command{kind, slot, 0.0F, 0, export_buffer.get(), c.frame}))
                lent = true;
            return;
        }
        if (engine.try_send(c)) {
            if (c.buffer) engine_owned.insert(c.buffer);
            // Counted as the pool counts what it receives, so that the making above stays in
            // step (a block of the wrong size still takes its place).
            if (kind == CommandKind::assign_record_buffer && c.buffer) ++record_sent;
            if (kind == CommandKind::assign_undo_block && c.buffer) ++undo_sent;
        } else {
            delete c.buffer;  // a refused command's buffer stays the sender's
        }
    }

    void render(Reader& in) {
        const std::uint32_t n = 1 + in.u16() % kMaxBlock;
        const std::uint8_t skip = in.u8();
        const std::uint8_t transport = in.u8();
        // An xrun makes the host's frame clock jump ahead by whole blocks.
        if (skip >= 240) next_frame += std::uint64_t{skip - 239U} * n;
        BlockTiming t;
        t.frame = next_frame;
        t.transport.valid = (transport & 1U) != 0;
        t.transport.rolling = (transport & 2U) != 0;
        t.transport.bpm = 20.0 + (transport >> 2U) * 4.0;
        t.transport.beats_per_bar = 1.0 + (transport >> 5U);
        t.transport.beat = beat;
        // A Link session, from the same byte: it starts and stops as the transport rolls.
        t.link.valid = t.transport.valid;
        t.link.playing = t.transport.rolling;
        t.link.bpm = t.transport.bpm;
        t.link.beat = beat;
        t.link.start_stop_known = t.transport.rolling;
        t.link.start_stop_beat = static_cast<double>(transport >> 2U);
        float* ports[kOutputs];
        for (std::uint32_t o = 0; o < kOutputs; ++o) ports[o] = out.data() + std::size_t{o} * n;
        for (std::size_t i = 0; i < std::size_t{2} * n; ++i) {
            noise = noise * 1664525U + 1013904223U;
            input[i] = static_cast<float>(noise >> 8) / 16777216.0F - 0.5F;
        }
        const float* inputs[2] = {input.data(), input.data() + n};
        {
            rt_guard::Scope audio_thread;
            engine.process(inputs, 2, ports, n, t);
        }
        next_frame += n;
        beat += n * t.transport.bpm / (60.0 * 48000.0);
        check(n);
        housekeep();
    }

    void check(std::uint32_t n) {
        for (std::size_t i = 0; i < std::size_t{kOutputs} * n; ++i) {
            if (!std::isfinite(out[i])) fail("non-finite output sample");
            if (std::fabs(out[i]) > kMaxAbsSample) fail("output sample out of bounds");
        }
        if (engine.active_voices() > kVoices) fail("more active voices than the pool");
        for (std::uint32_t s = 0; s < kSlots; ++s) {
            if (engine.slot_sounding_voices(s) > kVoices) fail("slot sounds more than the pool");
            const float p = engine.slot_position(s);
            if (!(p >= 0.0F && p <= 1.0F)) fail("slot position outside 0..1");
        }
        for (std::uint32_t o = 0; o < kOutputs; ++o) {
            const float peak = engine.take_output_peak(o);
            if (!std::isfinite(peak) || peak < 0.0F) fail("output peak not a finite magnitude");
        }
        if (!std::isfinite(engine.clock_beat())) fail("clock beat not finite");
        if (engine.free_recorders() > 2) fail("more free recorders than the pool");
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Reader in(data, size);
    auto h = std::make_unique<Harness>();
    for (std::size_t ops = 0; ops < kMaxOpsPerInput && !in.done(); ++ops) {
        const std::uint8_t op = in.u8() % 8;
        if (op <= 4) {
            h->send(in);
        } else if (op <= 6) {
            h->render(in);
        } else {
            static constexpr std::uint32_t kRates[] = {48000, 44100, 96000, 22050};
            h->engine.set_sample_rate(kRates[in.u8() % 4]);
        }
    }
    // Let pending commands land and fades finish, then check the books: what the engine still
    // holds it deletes itself in its destructor (ASan reports a double delete or a leak).
    for (int i = 0; i < 4; ++i) {
        const std::uint8_t block[] = {0xff, 0x03, 0, 0};  // 1024 frames, no xrun, no transport
        Reader tail(block, sizeof block);
        h->render(tail);
    }
    h->housekeep();
    return 0;
}
