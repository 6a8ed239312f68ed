// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

// Engine test harness: plays the control, audio and housekeeping threads in turn on one
// thread, block by block, with no audio server (in the spirit of sfizz's SynthT).
//
// - render() is the audio thread: it brackets Engine::process with an rt_guard::Scope, so any
//   allocation, free, lock or syscall inside process() aborts the test binary. Everything it
//   writes to is allocated up front.
// - After every block the harness is the housekeeping thread: it pops every event, keeps a log,
//   and takes back each retired buffer. A retired buffer is checked against the set of buffers
//   the test made and not yet got back (so a double or unknown retirement is caught), then
//   poisoned with a huge value and kept until the harness dies: if the engine went on reading a
//   buffer it had retired, the poison would show in the output.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <numbers>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "looperd/command.hpp"
#include "looperd/engine.hpp"
#include "looperd/event.hpp"
#include "looperd/rt_guard.hpp"
#include "looperd/sample_buffer.hpp"
#include "looperd/timing.hpp"

namespace looperd::test {

// Written into every retired buffer. Far above anything a test plays, so one frame of it in
// the mix is unmistakable.
inline constexpr float kPoison = 1.0e6F;

// A retirement as the housekeeping side saw it.
struct Retirement {
    const SampleBuffer* buffer = nullptr;
    std::uint64_t frame_clock = 0;    // engine frames processed when the event was popped
    std::uint32_t active_voices = 0;  // voices still active at that moment
};

// Noise in ±0.9, uniform, a fixed sequence per seed, for tests that read source frames
// directly rather than through a buffer.
inline std::vector<float> noise_vector(std::size_t frames, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> d(-0.9F, 0.9F);
    std::vector<float> x(frames);
    for (auto& v : x) v = d(rng);
    return x;
}

// Planar copy of rendered output: out[channel][frame].
using Planar = std::vector<std::vector<float>>;

class EngineHarness {
  public:
    explicit EngineHarness(const EngineConfig& config, std::uint32_t max_block = 4096)
        : engine_(std::make_unique<Engine>(config)),
          block_(config.outputs, std::vector<float>(max_block, 0.0F)),
          pointers_(config.outputs, nullptr),
          max_block_(max_block) {
        for (std::uint32_t o = 0; o < config.outputs; ++o) pointers_[o] = block_[o].data();
        events_.reserve(4096);
        retirements_.reserve(256);
    }

    ~EngineHarness() {
        // The engine deletes what it still holds; what it gave back is ours to free.
        engine_.reset();
        for (auto* b : quarantine_) delete b;
    }

    EngineHarness(const EngineHarness&) = delete;
    EngineHarness& operator=(const EngineHarness&) = delete;

    Engine& engine() { return *engine_; }
    std::uint32_t outputs() const { return static_cast<std::uint32_t>(block_.size()); }

    // Makes a buffer of `channels` x `frames` with frame values fill(channel, frame).
    template <typename Fill>
    SampleBuffer* make_buffer(std::uint32_t channels, std::uint32_t frames, Fill fill) {
        auto* b = new SampleBuffer(channels, frames, 48000);
        for (std::uint32_t c = 0; c < channels; ++c)
            for (std::uint32_t i = 0; i < frames; ++i) b->mutable_channel(c)[i] = fill(c, i);
        live_.insert(b);
        return b;
    }

    // Non-zero noise in +-0.9, a fixed sequence per seed.
    SampleBuffer* make_noise(std::uint32_t channels, std::uint32_t frames, std::uint32_t seed) {
        std::mt19937 rng(seed);
        std::uniform_real_distribution<float> mag(0.01F, 0.9F);
        std::bernoulli_distribution neg(0.5);
        return make_buffer(channels, frames, [&](std::uint32_t, std::uint32_t) {
            const float m = mag(rng);
            return neg(rng) ? -m : m;
        });
    }

    SampleBuffer* make_dc(std::uint32_t channels, std::uint32_t frames, float value) {
        return make_buffer(channels, frames, [=](std::uint32_t, std::uint32_t) { return value; });
    }

    // Full-scale sine starting at phase 0.
    SampleBuffer* make_sine(std::uint32_t frames, double hz, std::uint32_t rate = 48000) {
        return make_buffer(1, frames, [=](std::uint32_t, std::uint32_t i) {
            return static_cast<float>(std::sin(2.0 * std::numbers::pi * hz * i / rate));
        });
    }

    // Control thread.
    bool send(CommandKind kind, std::uint32_t slot = 0, float value = 0.0F,
              SampleBuffer* buffer = nullptr) {
        return engine_->try_send(Command{kind, slot, value, 0, buffer});
    }
    // A rendering for a slot in `stretch pitch`, made from take content `content` (0: the
    // sample).
    bool stretched(std::uint32_t slot, SampleBuffer* b, std::uint32_t content) {
        return engine_->try_send(Command{CommandKind::assign_stretched, slot, 0.0F, content, b});
    }
    bool assign(std::uint32_t slot, SampleBuffer* b) {
        return send(CommandKind::assign_buffer, slot, 0.0F, b);
    }
    bool play(std::uint32_t slot) { return send(CommandKind::play, slot, 1.0F); }
    bool stop(std::uint32_t slot) { return send(CommandKind::stop, slot); }
    bool unload(std::uint32_t slot) { return send(CommandKind::unload, slot); }
    bool set_gain(std::uint32_t slot, float g) { return send(CommandKind::set_gain, slot, g); }
    bool set_loop(std::uint32_t slot, bool on) {
        return send(CommandKind::set_mode, slot, on ? 1.0F : 0.0F);
    }
    bool stop_all() { return send(CommandKind::stop_all); }
    // A command that takes effect on host frame `frame` (0: at the next block's start).
    bool send_at(std::uint64_t frame, CommandKind kind, std::uint32_t slot = 0, float value = 0.0F,
                 SampleBuffer* buffer = nullptr) {
        return engine_->try_send(Command{kind, slot, value, 0, buffer, frame});
    }
    bool set_master_gain(float g) { return send(CommandKind::set_master_gain, 0, g); }

    // Audio thread: one process() call of n frames under the guard, then housekeeping.
    void render(std::uint32_t n) {
        render_only(n);
        drain_events();
    }

    // One process() call without popping events afterwards.
    void render_only(std::uint32_t n) {
        ASSERT_LE(n, max_block_);
        {
            rt_guard::Scope audio_thread;
            engine_->process(pointers_.data(), n);
        }
        last_block_ = n;
    }

    // One process() call fed with host inputs: input c reads in[c][from .. from + n).
    void render_inputs(const Planar& in, std::size_t from, std::uint32_t n) {
        ASSERT_LE(n, max_block_);
        std::vector<const float*> inputs(in.size());
        for (std::size_t c = 0; c < in.size(); ++c) {
            ASSERT_LE(from + n, in[c].size());
            inputs[c] = in[c].data() + from;
        }
        {
            rt_guard::Scope audio_thread;
            engine_->process(inputs.data(), static_cast<std::uint32_t>(inputs.size()),
                             pointers_.data(), n);
        }
        last_block_ = n;
        drain_events();
    }

    // The same with the host's timing (its frame time and transport) instead of the engine's
    // own frame count.
    void render_timed(std::uint32_t n, const BlockTiming& timing) {
        ASSERT_LE(n, max_block_);
        {
            rt_guard::Scope audio_thread;
            engine_->process(pointers_.data(), n, timing);
        }
        last_block_ = n;
        drain_events();
    }

    // The same with the block's MIDI input, on the engine's own frame count.
    void render_midi(std::uint32_t n, const std::vector<MidiEvent>& midi) {
        ASSERT_LE(n, max_block_);
        BlockTiming timing;
        timing.frame = engine_->frames_processed();
        {
            rt_guard::Scope audio_thread;
            engine_->process(nullptr, 0, pointers_.data(), n, timing,
                             MidiInput{midi.data(), static_cast<std::uint32_t>(midi.size())});
        }
        last_block_ = n;
        drain_events();
    }

    // The MIDI output of the last block, each event with its engine frame.
    std::vector<std::pair<std::uint64_t, MidiOutEvent>> midi_output() const {
        std::vector<std::pair<std::uint64_t, MidiOutEvent>> out;
        const std::uint64_t start = engine_->frames_processed() - last_block_;
        for (std::uint32_t i = 0; i < engine_->midi_output_count(); ++i)
            out.emplace_back(start + engine_->midi_output()[i].time, engine_->midi_output()[i]);
        return out;
    }

    // Output channel o of the last block.
    const float* out(std::uint32_t o) const { return block_[o].data(); }
    std::uint32_t last_block() const { return last_block_; }

    // Renders `total` frames in blocks of `block` frames and returns all of it.
    Planar capture(std::uint32_t total, std::uint32_t block = 128) {
        Planar all(outputs(), std::vector<float>(total, 0.0F));
        for (std::uint32_t done = 0; done < total;) {
            const std::uint32_t n = std::min(block, total - done);
            render(n);
            for (std::uint32_t o = 0; o < outputs(); ++o)
                std::copy_n(block_[o].data(), n, all[o].begin() + done);
            done += n;
        }
        return all;
    }

    // Housekeeping thread: pops every event, frees (quarantines) retired buffers.
    void drain_events() {
        Event e;
        while (engine_->try_receive(e)) {
            events_.push_back(e);
            if (e.kind != EventKind::buffer_retired) continue;
            retirements_.push_back(
                {e.buffer, engine_->frames_processed(), engine_->active_voices()});
            const auto it = live_.find(e.buffer);
            if (it == live_.end()) {
                ADD_FAILURE() << "buffer " << e.buffer
                              << " retired twice, or never made by the test";
                continue;
            }
            live_.erase(it);
            for (std::uint32_t c = 0; c < e.buffer->channels(); ++c)
                std::fill_n(e.buffer->mutable_channel(c), e.buffer->frames(), kPoison);
            quarantine_.push_back(e.buffer);
        }
    }

    const std::vector<Event>& events() const { return events_; }
    void clear_events() { events_.clear(); }
    std::size_t count(EventKind kind) const {
        return static_cast<std::size_t>(std::count_if(
            events_.begin(), events_.end(), [=](const Event& e) { return e.kind == kind; }));
    }
    std::size_t count(EventKind kind, std::uint32_t slot) const {
        return static_cast<std::size_t>(
            std::count_if(events_.begin(), events_.end(),
                          [=](const Event& e) { return e.kind == kind && e.slot == slot; }));
    }

    const std::vector<Retirement>& retirements() const { return retirements_; }
    std::size_t times_retired(const SampleBuffer* b) const {
        return static_cast<std::size_t>(
            std::count_if(retirements_.begin(), retirements_.end(),
                          [=](const Retirement& r) { return r.buffer == b; }));
    }
    // The first retirement of b; if none, one that fails every check on it.
    Retirement retirement_of(const SampleBuffer* b) const {
        for (const auto& r : retirements_)
            if (r.buffer == b) return r;
        return {nullptr, 0, std::numeric_limits<std::uint32_t>::max()};
    }
    // Made by the test and not yet given back by the engine.
    bool live(const SampleBuffer* b) const { return live_.count(b) != 0; }
    std::size_t live_count() const { return live_.size(); }

    // Renders blocks until no voice is active; false if that takes more than max_frames.
    bool render_until_silent(std::uint32_t block, std::uint32_t max_frames) {
        for (std::uint32_t done = 0; done < max_frames; done += block) {
            if (engine_->active_voices() == 0) return true;
            render(block);
        }
        return engine_->active_voices() == 0;
    }

  private:
    std::unique_ptr<Engine> engine_;
    Planar block_;
    std::vector<float*> pointers_;
    std::uint32_t max_block_;
    std::uint32_t last_block_ = 0;
    std::vector<Event> events_;
    std::vector<Retirement> retirements_;
    std::set<const SampleBuffer*> live_;
    std::vector<SampleBuffer*> quarantine_;
};

// Largest |x[k+1] - x[k]| for k in [begin, end - 1).
inline float max_step(const std::vector<float>& x, std::size_t begin, std::size_t end) {
    float m = 0.0F;
    for (std::size_t k = begin + 1; k < end && k < x.size(); ++k)
        m = std::max(m, std::abs(x[k] - x[k - 1]));
    return m;
}

// First index >= begin from which x stays exactly 0 to the end; x.size() if none.
inline std::size_t silent_from(const std::vector<float>& x, std::size_t begin) {
    std::size_t k = x.size();
    while (k > begin && x[k - 1] == 0.0F) --k;
    return k;
}

}  // namespace looperd::test
