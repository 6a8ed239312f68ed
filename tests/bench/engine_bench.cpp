// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
//
// Cost of Engine::process at 48 kHz, 128-frame blocks, 2 outputs, with N looping stereo
// voices. Each voice has its own slot and its own buffer of noise, so the mix streams N
// distinct buffers from memory as a real set of loops would (one shared buffer would stay in
// cache and flatter the figures). One benchmark iteration is one block.
//
// Counters, from the CPU time of the benchmark thread (see ThreadCpuTimer for why):
//   ns_per_voice_frame  block time / (voices * frames); one voice-frame is two channels
//   block_pct           block time / block period (frames / 48000 s; 2.667 ms for 128) * 100
//   frames              frames per block: 128, or 32 in the *32 rows
//
// The Midi* rows time the same looping voices with 64 MIDI events in every block (see
// run_midi); their counters are per block and per looping voice, as above.
//
// Run through scripts/bench.sh for the published figures (release build, medians of 5).

#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <memory>
#include <numbers>
#include <vector>

#include <time.h>

#include "looperd/engine.hpp"
#include "looperd/interpolate.hpp"
#include "looperd/midi.hpp"
#include "looperd/midi_commands.hpp"
#include "looperd/sample_buffer.hpp"

namespace {

using looperd::Command;
using looperd::CommandKind;
using looperd::Engine;
using looperd::EngineConfig;
using looperd::Event;
using looperd::EventKind;
using looperd::MidiEvent;
using looperd::MidiInput;
using looperd::SampleBuffer;

constexpr std::uint32_t kRate = 48000;
constexpr std::uint32_t kBlock = 128;
constexpr std::uint32_t kOutputs = 2;
constexpr double kBlockPeriodNs = 1e9 * kBlock / kRate;
// Commands queued per slot before the first timed block: assign_buffer, set_mode, set_rate,
// set_pan and play.
constexpr std::uint32_t kSetupCommandsPerSlot = 5;
// About one second, and not a multiple of the block size, so that loop wraps land inside
// blocks at varying offsets and the wrap path is part of what is timed.
constexpr std::uint32_t kLoopFrames = 48011;
// The MIDI rows' one-shots: half a block, so that a voice started in the first half of a
// block ends in it and one started in the second half ends in the next.
constexpr std::uint32_t kShortFrames = kBlock / 2;

// Noise in [-0.5, 0.5): a fixed xorshift sequence, so every run renders the same data.
class Noise {
  public:
    float next() noexcept {
        state_ ^= state_ << 13;
        state_ ^= state_ >> 7;
        state_ ^= state_ << 17;
        return static_cast<float>(state_ >> 40) / static_cast<float>(1U << 24) - 0.5F;
    }

  private:
    std::uint64_t state_ = 0x9E3779B97F4A7C15ULL;
};

// ThreadCpuTimer: CPU time of the calling thread, accumulated between start() and stop().
// CPU time rather than wall time because the benchmark runs on shared machines: wall time
// there includes stretches when the thread was descheduled, which an audio thread on its own
// core does not see. Reading this clock is a syscall (hundreds of ns), so it is read around
// many blocks, never per block.
class ThreadCpuTimer {
  public:
    void start() noexcept { started_ = now_ns(); }
    void stop() noexcept { total_ns_ += now_ns() - started_; }
    double total_ns() const noexcept { return total_ns_; }

  private:
    static double now_ns() noexcept {
        timespec t{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
        return static_cast<double>(t.tv_sec) * 1e9 + static_cast<double>(t.tv_nsec);
    }
    double started_ = 0;
    double total_ns_ = 0;
};

// How every slot of a rig plays. The defaults are the unity-rate, centred fast path.
struct Playback {
    float rate = 1.0F;
    float pan = 0.0F;
};

// Rig: one engine with `voices` slots, each holding its own stereo noise loop, plus the
// output buffers. Plays the role of the control and housekeeping threads between blocks.
// With `short_slots`, that many one-shot slots of kShortFrames come first (slots 0.. are
// what MIDI notes 36.. play), each with a voice of its own in the pool.
class Rig {
  public:
    Rig(std::uint32_t voices, float fade_ms, Playback playback = {}, std::uint32_t short_slots = 0)
        : voices_(voices), first_loop_(short_slots), left_(kBlock), right_(kBlock) {
        EngineConfig config;
        config.outputs = kOutputs;
        config.slots = short_slots + voices;
        config.voices = short_slots + voices;
        config.sample_rate = kRate;
        // Room for every setup command at once.
        config.command_capacity =
            std::max<std::size_t>(1024, std::size_t{kSetupCommandsPerSlot} * voices + short_slots);
        config.fade_ms = fade_ms;
        engine_ = std::make_unique<Engine>(config);
        outputs_[0] = left_.data();
        outputs_[1] = right_.data();

        Noise noise;
        for (std::uint32_t s = 0; s < short_slots; ++s)
            if (!assign(s, kShortFrames, noise)) return;  // one-shot: the default mode
        for (std::uint32_t s = first_loop_; s < first_loop_ + voices; ++s) {
            if (!assign(s, kLoopFrames, noise)) return;
            if (!send({CommandKind::set_mode, s, 1.0F, 0, nullptr})) return;
            // Before the play, so that voices start at this rate and pan instead of gliding
            // to them over the smoothing time.
            if (!send({CommandKind::set_rate, s, playback.rate, 0, nullptr})) return;
            if (!send({CommandKind::set_pan, s, playback.pan, 0, nullptr})) return;
        }
    }

    // Control thread's side. False (and the rig is marked broken) if the ring was full.
    bool send(const Command& c) noexcept {
        if (engine_->try_send(c)) return true;
        ok_ = false;
        return false;
    }

    void play_all() noexcept {
        for (std::uint32_t s = first_loop_; s < first_loop_ + voices_; ++s)
            send({CommandKind::play, s, 1.0F, 0, nullptr});
    }

    // Blocks of `frames` (at most kBlock) from now on: the small-period rows.
    void set_block(std::uint32_t frames) noexcept { block_ = std::min(frames, kBlock); }

    void process() noexcept {
        engine_->process(outputs_, block_);
        benchmark::DoNotOptimize(left_.data());
        benchmark::DoNotOptimize(right_.data());
        benchmark::ClobberMemory();
    }

    // The same block with the host's MIDI input, on the engine's own frame count, as the JACK
    // client passes it (the overload process() above uses with no events).
    void process(const MidiInput& midi) noexcept {
        looperd::BlockTiming timing;
        timing.frame = engine_->frames_processed();
        engine_->process(nullptr, 0, outputs_, kBlock, timing, midi);
        benchmark::DoNotOptimize(left_.data());
        benchmark::DoNotOptimize(right_.data());
        benchmark::ClobberMemory();
    }

    // Runs enough blocks to apply everything queued (the engine takes at most 256 commands
    // a block), doing the housekeeping thread's part in between.
    void settle() noexcept {
        const std::uint32_t blocks = (kSetupCommandsPerSlot * voices_ + first_loop_) / 256 + 2;
        for (std::uint32_t i = 0; i < blocks; ++i) {
            process();
            drain_events();
        }
    }

    // Housekeeping thread's side: retired buffers are ours to free.
    void drain_events() noexcept {
        Event e;
        while (engine_->try_receive(e)) {
            if (e.kind == EventKind::buffer_retired) delete e.buffer;
            if (e.kind == EventKind::voice_ended) ++voices_ended_;
        }
    }
    std::uint64_t voices_ended() const noexcept { return voices_ended_; }

    bool ok() const noexcept { return ok_; }
    std::uint32_t voices() const noexcept { return voices_; }
    const Engine& engine() const noexcept { return *engine_; }
    const std::vector<float>& left() const noexcept { return left_; }
    const std::vector<float>& right() const noexcept { return right_; }

  private:
    // Gives slot `s` a stereo buffer of `frames` of noise. False if the ring was full.
    bool assign(std::uint32_t s, std::uint32_t frames, Noise& noise) {
        auto buffer = std::make_unique<SampleBuffer>(2, frames, kRate);
        for (std::uint32_t c = 0; c < 2; ++c) {
            float* data = buffer->mutable_channel(c);
            for (std::uint32_t i = 0; i < frames; ++i) data[i] = noise.next();
        }
        buffer->prefault();
        // Ownership passes to the engine only when the command is queued.
        if (!send({CommandKind::assign_buffer, s, 0.0F, 0, buffer.get()})) return false;
        buffer.release();
        return true;
    }

    std::uint32_t voices_;
    std::uint32_t first_loop_;  // slots before it are the short one-shots
    bool ok_ = true;            // false once any command was dropped
    std::uint64_t voices_ended_ = 0;
    std::unique_ptr<Engine> engine_;
    std::vector<float> left_;
    std::vector<float> right_;
    float* outputs_[kOutputs] = {};
    std::uint32_t block_ = kBlock;
};

// Starts every voice looping; reports an error on `state` if they are not all playing.
bool start_looping(Rig& rig, benchmark::State& state) {
    if (!rig.ok()) {
        state.SkipWithError("command ring full during setup");
        return false;
    }
    rig.play_all();
    rig.settle();
    if (!rig.ok() || rig.engine().active_voices() != rig.voices()) {
        state.SkipWithError("not every voice is playing after setup");
        return false;
    }
    return true;
}

void set_counters(benchmark::State& state, std::uint32_t voices, double total_ns,
                  std::uint32_t block = kBlock) {
    const double iterations = static_cast<double>(state.iterations());
    if (iterations == 0) return;
    const double block_ns = total_ns / iterations;
    state.counters["voices"] = voices;
    state.counters["frames"] = block;
    state.counters["ns_per_voice_frame"] = block_ns / (static_cast<double>(voices) * block);
    state.counters["block_pct"] = block_ns / (kBlockPeriodNs * block / kBlock) * 100.0;
}

// Every voice looping with `playback`, in blocks of `block` frames, timed.
void run_looping(benchmark::State& state, Playback playback, std::uint32_t block) {
    const auto voices = static_cast<std::uint32_t>(state.range(0));
    Rig rig(voices, looperd::limits::kDefaultFadeMs, playback);
    if (!start_looping(rig, state)) return;
    rig.set_block(block);

    ThreadCpuTimer timer;
    timer.start();
    for (auto _ : state) rig.process();
    timer.stop();

    if (rig.engine().active_voices() != voices) state.SkipWithError("voices stopped looping");
    set_counters(state, voices, timer.total_ns(), block);
}

// Steady state: every voice loops at unity gain, no ramps, no commands. The fast path.
void BM_Looping(benchmark::State& state) {
    run_looping(state, {}, kBlock);
}

// The same in 32-frame blocks (0.667 ms), as players who want low latency run JACK: the
// per-block work (commands, telemetry, meters) is spread over a quarter of the frames.
void BM_Looping32(benchmark::State& state) {
    run_looping(state, {}, 32);
}

// Rate 1.01 and pan 0.3 on every voice: the interpolating path (cubic Hermite per frame and
// channel), to be read beside Looping at the same voice count. 1.01 because it reads about as
// many source frames per block as unity rate (129.3 instead of 128), so the memory traffic is
// the same as in Looping and the difference between the two is the cost of interpolating.
// A rate below 1 (0.7) would read fewer new frames per block and flatter the memory-bound
// voice counts; a rate well above 1 would add memory traffic. The pan is constant, so it adds
// one scalar per side, no per-frame gains.
constexpr Playback kInterpolating{1.01F, 0.3F};

// True if a voice set up with `playback` renders what that rate and pan must give: one voice
// of each kind renders its first block from the same buffer (both rigs draw the same noise).
// On the first frame the cubic returns the source frame exactly, so the sides must be the
// unity ones scaled by the balance law; after it the positions are fractional, so the
// frames must differ from the unity ones. Guards against figures from the unity fast path.
bool renders_playback(Playback playback) {
    Rig unity(1, looperd::limits::kDefaultFadeMs);
    Rig moved(1, looperd::limits::kDefaultFadeMs, playback);
    for (Rig* r : {&unity, &moved}) {
        r->play_all();
        r->process();  // applies the setup commands and starts the voice on frame 0
        if (!r->ok() || r->engine().active_voices() != 1) return false;
    }
    const float quarter_turn = std::numbers::pi_v<float> * 0.5F;
    const float left_gain = playback.pan > 0.0F ? std::cos(playback.pan * quarter_turn) : 1.0F;
    const float right_gain = playback.pan < 0.0F ? std::cos(-playback.pan * quarter_turn) : 1.0F;
    constexpr float kTolerance = 1e-6F;
    if (std::abs(moved.left()[0] - unity.left()[0] * left_gain) > kTolerance) return false;
    if (std::abs(moved.right()[0] - unity.right()[0] * right_gain) > kTolerance) return false;
    std::uint32_t differing = 0;
    for (std::uint32_t i = 1; i < kBlock; ++i)
        if (std::abs(moved.right()[i] - unity.right()[i] * right_gain) > kTolerance) ++differing;
    return playback.rate == 1.0F || differing > kBlock / 2;
}

void BM_Interpolating(benchmark::State& state) {
    if (!renders_playback(kInterpolating)) {
        state.SkipWithError("rate or pan did not reach the rendered frames");
        return;
    }
    run_looping(state, kInterpolating, kBlock);
}

void BM_Interpolating32(benchmark::State& state) {
    if (!renders_playback(kInterpolating)) {
        state.SkipWithError("rate or pan did not reach the rendered frames");
        return;
    }
    run_looping(state, kInterpolating, 32);
}

// Gain ramps running on every voice: set_gain for every slot before every block. The
// smoothing time (10 ms) is longer than a block, so each block renders with per-frame gains
// and also applies `voices` commands. The sends are timed too (the timer is too costly to
// stop per block); they are a small share: a ring push each.
void BM_GainRamps(benchmark::State& state) {
    const auto voices = static_cast<std::uint32_t>(state.range(0));
    Rig rig(voices, looperd::limits::kDefaultFadeMs);
    if (!start_looping(rig, state)) return;

    bool high = false;
    ThreadCpuTimer timer;
    timer.start();
    for (auto _ : state) {
        high = !high;
        for (std::uint32_t s = 0; s < voices; ++s)
            rig.send({CommandKind::set_gain, s, high ? 1.0F : 0.5F, 0, nullptr});
        rig.process();
    }
    timer.stop();

    if (!rig.ok()) state.SkipWithError("command ring full");
    if (rig.engine().active_voices() != voices) state.SkipWithError("voices stopped looping");
    set_counters(state, voices, timer.total_ns());
}

// Every voice fading out: the envelope path. A 100 ms fade spans about 37 blocks; when the
// voices have faded out and retired (that block is timed too), they are restarted and
// released again outside the timed region.
void BM_Releasing(benchmark::State& state) {
    const auto voices = static_cast<std::uint32_t>(state.range(0));
    constexpr float kFadeMs = 100.0F;
    Rig rig(voices, kFadeMs);
    if (!start_looping(rig, state)) return;

    rig.send({CommandKind::stop_all, 0, 0.0F, 0, nullptr});
    rig.process();

    std::int64_t fades_completed = 0;
    ThreadCpuTimer timer;
    timer.start();
    for (auto _ : state) {
        if (rig.engine().active_voices() == 0) {
            state.PauseTiming();
            timer.stop();
            ++fades_completed;
            rig.drain_events();
            rig.play_all();
            rig.send({CommandKind::stop_all, 0, 0.0F, 0, nullptr});
            rig.process();  // applies the plays and the stop: every voice is fading again
            timer.start();
            state.ResumeTiming();
        }
        rig.process();
    }
    timer.stop();

    if (!rig.ok()) state.SkipWithError("command ring full");
    // A fade lasts under 40 blocks; if none ended over many more, the voices were not fading.
    const auto fade_blocks = static_cast<std::int64_t>(kFadeMs * kRate / 1000.0F / kBlock) + 2;
    if (state.iterations() > 2 * fade_blocks && fades_completed == 0)
        state.SkipWithError("voices never finished their fade");
    set_counters(state, voices, timer.total_ns());
}

// ---- MIDI ----------------------------------------------------------------------------------
// The Looping rig at 64 and 256 voices (the rows without MIDI to read them beside) plus 32
// one-shot slots of 64 frames and 32 more voices for them, with 64 events in every 128-frame
// block, each 3 bytes, on distinct frames 0, 2, ..., 126:
//   MidiNotes         a note-on (velocity 100) and its note-off 2 frames later for each of
//                     the 32 one-shots (notes 36..67): 32 voices start and 32 end per block
//                     (the note-offs are read and applied; a one-shot ignores them)
//   MidiCCs           64 control changes (CC 1), which the engine reads and ignores: the parse
//                     and the block split at each event's frame, with no voice work
//   MidiCCsOneFrame   the same 64 CCs all on frame 0: the parse without the splits
//   MidiIdle          no events: the same rig, for the cost of its 32 idle slots and voices
//   MidiNotesLit      MidiNotes with every slot's light mapped (docs/midi.md#lights): the
//                     lights are compared every block; the one-shots end each block in the
//                     state they began it, so none is sent: the steady cost
//   MidiNotesRefresh  the same with a led_refresh before every block: every light is sent
//                     every block (up to the output's 256 a block), the worst case; `lights`
//                     counts the messages per block
// The voice_ended events are popped every 16 blocks with the timers stopped (the
// housekeeping thread's work, on another core in the daemon).
constexpr std::uint32_t kMidiEvents = 64;
constexpr std::uint32_t kMidiShortSlots = kMidiEvents / 2;
constexpr std::uint32_t kMidiDrainBlocks = 16;

enum class MidiLoad : std::uint8_t { idle, notes, ccs, ccs_one_frame };

// One block's MIDI input, the same every block; the bytes live as long as the object.
class MidiBlock {
  public:
    explicit MidiBlock(MidiLoad load) {
        for (std::uint32_t k = 0; k < kMidiShortSlots; ++k) {
            const auto note = static_cast<std::uint8_t>(looperd::limits::kFirstSlotNote + k);
            const bool notes = load == MidiLoad::notes;
            bytes_[2 * k] = notes ? Message{0x90, note, 100} : Message{0xB0, 1, 64};
            bytes_[2 * k + 1] = notes ? Message{0x80, note, 0} : Message{0xB0, 1, 64};
        }
        for (std::uint32_t i = 0; i < kMidiEvents; ++i) {
            const std::uint32_t frame = load == MidiLoad::ccs_one_frame ? 0 : 2 * i;
            events_[i] = {frame, 3, bytes_[i].data()};
        }
        input_.events = events_.data();
        input_.count = load == MidiLoad::idle ? 0 : kMidiEvents;
    }
    MidiBlock(const MidiBlock&) = delete;
    MidiBlock& operator=(const MidiBlock&) = delete;

    const MidiInput& input() const noexcept { return input_; }

  private:
    using Message = std::array<std::uint8_t, 3>;
    std::array<Message, kMidiEvents> bytes_{};
    std::array<MidiEvent, kMidiEvents> events_{};
    MidiInput input_;
};

// True if `midi` does on `rig` what the row says: every event read, none dropped, and for
// notes every one-shot started and ended by the next block's end (the 64 events fall on more
// than the 16 frames a block splits at, so the later ones share the 16th: docs/midi.md); for
// the others no voice started.
bool midi_does_what_it_says(Rig& rig, const MidiBlock& midi, MidiLoad load) {
    rig.drain_events();
    const std::uint64_t messages = rig.engine().midi_messages();
    const std::uint64_t ended = rig.voices_ended();
    rig.process(midi.input());
    const std::uint32_t at_block_end = rig.engine().active_voices();
    rig.process(MidiInput{});
    rig.drain_events();
    if (rig.engine().midi_messages() - messages != midi.input().count) return false;
    if (rig.engine().midi_dropped() != 0 || rig.engine().refused_voices() != 0) return false;
    if (rig.engine().active_voices() != rig.voices()) return false;
    const bool notes = load == MidiLoad::notes;
    if (rig.voices_ended() - ended != (notes ? kMidiShortSlots : 0U)) return false;
    return notes || at_block_end == rig.voices();
}

enum class Lights : std::uint8_t { off, steady, refresh };

void run_midi(benchmark::State& state, MidiLoad load, Lights lights = Lights::off) {
    const bool lit = lights != Lights::off;
    const auto voices = static_cast<std::uint32_t>(state.range(0));
    Rig rig(voices, looperd::limits::kDefaultFadeMs, {}, kMidiShortSlots);
    if (!start_looping(rig, state)) return;
    if (lit) {
        // After the setup: the ring holds the setup's commands and no more.
        const std::uint32_t slots = kMidiShortSlots + voices;
        for (std::uint32_t s = 0; s < slots; ++s)
            rig.send(looperd::led_slot_command(s, 0x90, static_cast<std::uint8_t>(s % 128)));
        for (std::uint32_t st = 0; st < looperd::kLedStates; ++st)
            rig.send(looperd::led_state_command(static_cast<looperd::LedState>(st),
                                                static_cast<std::uint8_t>(st * 20)));
        for (int i = 0; i < 4; ++i) rig.process();
        if (!rig.ok()) {
            state.SkipWithError("command ring full mapping the lights");
            return;
        }
    }
    const MidiBlock midi(load);
    if (!midi_does_what_it_says(rig, midi, load)) {
        state.SkipWithError("the MIDI events did not do what the row says");
        return;
    }

    const std::uint64_t messages_before = rig.engine().midi_messages();
    std::uint32_t until_drain = kMidiDrainBlocks;
    std::uint64_t sent = 0;
    ThreadCpuTimer timer;
    timer.start();
    for (auto _ : state) {
        if (lights == Lights::refresh) rig.send(looperd::led_refresh_command());
        rig.process(midi.input());
        sent += rig.engine().midi_output_count();
        if (--until_drain == 0) {
            state.PauseTiming();
            timer.stop();
            rig.drain_events();
            until_drain = kMidiDrainBlocks;
            timer.start();
            state.ResumeTiming();
        }
    }
    timer.stop();

    const std::uint64_t read = rig.engine().midi_messages() - messages_before;
    if (read != static_cast<std::uint64_t>(state.iterations()) * midi.input().count ||
        rig.engine().midi_dropped() != 0 || rig.engine().refused_voices() != 0)
        state.SkipWithError("MIDI events dropped, or voices refused");
    set_counters(state, voices, timer.total_ns());
    state.counters["midi_events"] = midi.input().count;
    if (lit) {
        state.counters["lights"] =
            static_cast<double>(sent) / static_cast<double>(state.iterations());
        if ((sent == 0) != (lights == Lights::steady)) state.SkipWithError("lights not as said");
    }
}

void BM_MidiIdle(benchmark::State& state) {
    run_midi(state, MidiLoad::idle);
}
void BM_MidiNotes(benchmark::State& state) {
    run_midi(state, MidiLoad::notes);
}
void BM_MidiNotesLit(benchmark::State& state) {
    run_midi(state, MidiLoad::notes, Lights::steady);
}
void BM_MidiNotesRefresh(benchmark::State& state) {
    run_midi(state, MidiLoad::notes, Lights::refresh);
}
void BM_MidiCCs(benchmark::State& state) {
    run_midi(state, MidiLoad::ccs);
}
void BM_MidiCCsOneFrame(benchmark::State& state) {
    run_midi(state, MidiLoad::ccs_one_frame);
}

BENCHMARK(BM_Looping)
    ->ArgName("voices")
    ->Arg(1)
    ->Arg(16)
    ->Arg(64)
    ->Arg(256)
    ->Arg(1024)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Interpolating)
    ->ArgName("voices")
    ->Arg(64)
    ->Arg(256)
    ->Arg(1024)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Looping32)
    ->ArgName("voices")
    ->Arg(16)
    ->Arg(64)
    ->Arg(256)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Interpolating32)->ArgName("voices")->Arg(256)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_GainRamps)->ArgName("voices")->Arg(64)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Releasing)->ArgName("voices")->Arg(64)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_MidiIdle)->ArgName("voices")->Arg(64)->Arg(256)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_MidiNotes)->ArgName("voices")->Arg(64)->Arg(256)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_MidiNotesLit)->ArgName("voices")->Arg(64)->Arg(256)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_MidiNotesRefresh)->ArgName("voices")->Arg(64)->Arg(256)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_MidiCCs)->ArgName("voices")->Arg(64)->Arg(256)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_MidiCCsOneFrame)->ArgName("voices")->Arg(64)->Arg(256)->Unit(benchmark::kMicrosecond);

}  // namespace

// Which instruction set the voices' kernel runs on here (runtime dispatch: the build has no
// -march), printed in the context above the table.
int main(int argc, char** argv) {
    looperd::interpolate::prepare();
    benchmark::AddCustomContext("interpolate_target", looperd::interpolate::target());
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
