// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

// The engine with recording on and a host feeding its inputs, for the recording and take-copy
// tests. Every block renders under the audio-thread guard (engine_harness.hpp).

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "engine_harness.hpp"

namespace looperd::test {

inline constexpr std::uint32_t kRate = 48000;

inline EngineConfig record_config(float max_seconds = 1.0F, std::uint32_t recorders = 2) {
    EngineConfig c;
    c.outputs = 2;
    c.slots = 8;
    c.voices = 16;
    c.inputs = 2;
    c.recorders = recorders;
    c.max_record_seconds = max_seconds;
    c.undo_levels = 3;
    c.undo_memory_mib = 8;
    return c;
}

// The engine with a host feeding its inputs: in[c][t] is input c at host frame t, noise that
// is never 0, different per channel.
class RecordRig {
  public:
    explicit RecordRig(const EngineConfig& config, std::uint32_t frames = 8 * kRate)
        : h(config), in(2, std::vector<float>(frames)) {
        std::mt19937 rng(7);
        std::uniform_real_distribution<float> mag(0.01F, 0.5F);
        for (auto& ch : in)
            for (auto& x : ch) x = (rng() & 1U) != 0 ? mag(rng) : -mag(rng);
    }

    // Renders `total` frames in blocks of `block`, returning what the outputs played.
    Planar run(std::uint32_t total, std::uint32_t block = 128) {
        Planar out(2, std::vector<float>(total));
        for (std::uint32_t done = 0; done < total;) {
            const std::uint32_t n = std::min(block, total - done);
            h.render_inputs(in, t, n);
            for (std::uint32_t o = 0; o < 2; ++o) std::copy_n(h.out(o), n, out[o].begin() + done);
            done += n;
            t += n;
        }
        return out;
    }
    // Sends a command applied at the next block's start, which is frame t.
    void send(CommandKind kind, std::uint32_t slot = 0, float value = 0.0F) {
        ASSERT_TRUE(h.send(kind, slot, value));
    }
    // One pass of the loop as heard from frame t on, by take frame: pass[c][k].
    Planar pass(std::uint64_t origin, std::uint32_t length) {
        const std::uint64_t from = t;
        const Planar out = run(length);
        Planar take(2, std::vector<float>(length));
        for (std::uint32_t i = 0; i < length; ++i) {
            const std::uint64_t k = (from + i - origin) % length;
            for (std::uint32_t c = 0; c < 2; ++c) take[c][k] = out[c][i];
        }
        return take;
    }

    EngineHarness h;
    Planar in;
    std::uint64_t t = 0;  // host frame of the next block
};

}  // namespace looperd::test
