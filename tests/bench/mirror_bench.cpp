// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
//
// Cost of copying the controller's mirror (MirrorState), as the feedback thread does on every
// tick (up to 30 times a second) and the persister on every change: the largest rig, 4096
// slots, empty (every parameter at its default) and full (every slot holding a sample).
// One iteration is one copy.

#include <benchmark/benchmark.h>

#include <string>

#include "control/model.hpp"
#include "looperd/limits.hpp"

namespace {

using looperd::MirrorState;

MirrorState empty_mirror() {
    MirrorState m;
    m.slots.resize(looperd::limits::kMaxSlots);
    return m;
}

MirrorState full_mirror() {
    MirrorState m = empty_mirror();
    for (std::size_t n = 0; n < m.slots.size(); ++n) {
        auto& s = m.slots[n];
        s.loaded = true;
        s.path = "loops/set-a/slot-" + std::to_string(n) + ".wav";  // past the short-string size
        s.frames = 48000;
        s.channels = 2;
        s.sample_rate = 48000;
    }
    return m;
}

void copy_of(benchmark::State& state, const MirrorState& m) {
    for (auto _ : state) {
        MirrorState copy = m;
        benchmark::DoNotOptimize(copy.slots.data());
        benchmark::ClobberMemory();
    }
}

void BM_CopyEmptyMirror(benchmark::State& state) {
    copy_of(state, empty_mirror());
}

void BM_CopyFullMirror(benchmark::State& state) {
    copy_of(state, full_mirror());
}

}  // namespace

BENCHMARK(BM_CopyEmptyMirror)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_CopyFullMirror)->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
