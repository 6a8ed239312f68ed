// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
//
// Cost of Engine::process for one 128-frame block at 48 kHz while a 10 s stereo take loops:
// plain, overdubbing, being copied out for saving (snapshot), or having an undo and a redo
// swap its chunks back and forth. The copies are the worst blocks recording has: up to 32
// chunks of 4096 stereo frames (1 MiB) each. One benchmark iteration is one block; compare
// each figure with TakeLoops and with the 2.667 ms block period.
//
// Run through scripts/bench.sh (--benchmark_filter=Take) for the published figures.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "looperd/engine.hpp"
#include "looperd/sample_buffer.hpp"

namespace {

using looperd::Command;
using looperd::CommandKind;
using looperd::Engine;
using looperd::EngineConfig;
using looperd::Event;
using looperd::EventKind;
using looperd::SampleBuffer;

constexpr std::uint32_t kRate = 48000;
constexpr std::uint32_t kBlock = 128;
constexpr std::uint32_t kTakeSeconds = 10;

class TakeRig {
  public:
    TakeRig() : engine_(config()) {
        std::uint32_t x = 12345;
        for (auto& v : in_) {
            x = x * 1664525U + 1013904223U;
            v = static_cast<float>(x >> 8) / 16777216.0F - 0.5F;
        }
        export_ = std::make_unique<SampleBuffer>(2, engine_.max_record_frames(), kRate);
        export_->prefault();
    }

    // The daemon's defaults, but two recorders: the memory a 60 s take needs.
    static EngineConfig config() {
        EngineConfig c;
        c.outputs = 2;
        c.slots = 8;
        c.voices = 16;
        c.inputs = 2;
        c.recorders = 2;
        return c;
    }

    void block() {
        const float* ins[2] = {in_.data(), in_.data() + kBlock};
        float* outs[2] = {out_.data(), out_.data() + kBlock};
        engine_.process(ins, 2, outs, kBlock);
        Event e;
        while (engine_.try_receive(e)) {
            if (e.kind == EventKind::snapshot_done || e.kind == EventKind::snapshot_refused)
                lent_ = false;
            if (e.kind == EventKind::undo_done || e.kind == EventKind::redo_done) swapping_ = false;
            if (e.kind == EventKind::snapshot_done) ++snapshots_;
        }
    }
    bool send(CommandKind kind, SampleBuffer* b = nullptr) {
        return engine_.try_send(Command{kind, 0, 1.0F, 0, b});
    }
    // Records a take of kTakeSeconds from the inputs; it loops from the next block.
    bool record() {
        if (!send(CommandKind::record)) return false;
        for (std::uint32_t i = 0; i < kTakeSeconds * kRate / kBlock; ++i) block();
        if (!send(CommandKind::record)) return false;
        block();
        return engine_.slot_sounding_voices(0) == 1;
    }
    // Lends the export buffer again once it came back: the take is copied out all the time.
    void keep_snapshotting() {
        if (!lent_ && send(CommandKind::snapshot, export_.get())) lent_ = true;
    }
    // Undo, then redo, then undo...: one swap always in progress.
    void keep_swapping() {
        if (!swapping_ && send(undo_next_ ? CommandKind::undo : CommandKind::redo)) {
            swapping_ = true;
            undo_next_ = !undo_next_;
        }
    }

    Engine& engine() { return engine_; }
    std::uint64_t snapshots() const { return snapshots_; }

  private:
    Engine engine_;
    std::vector<float> in_ = std::vector<float>(2 * kBlock);
    std::vector<float> out_ = std::vector<float>(2 * kBlock);
    std::unique_ptr<SampleBuffer> export_;
    bool lent_ = false;
    bool swapping_ = false;
    bool undo_next_ = true;
    std::uint64_t snapshots_ = 0;
};

void BM_TakeLoops(benchmark::State& state) {
    TakeRig rig;
    if (!rig.record()) return state.SkipWithError("no take");
    for (auto _ : state) rig.block();
}

void BM_TakeOverdubbing(benchmark::State& state) {
    TakeRig rig;
    if (!rig.record() || !rig.send(CommandKind::overdub)) return state.SkipWithError("no take");
    for (auto _ : state) rig.block();
}

void BM_TakeSnapshotting(benchmark::State& state) {
    TakeRig rig;
    if (!rig.record()) return state.SkipWithError("no take");
    for (auto _ : state) {
        rig.keep_snapshotting();
        rig.block();
    }
    // 10 s = 118 chunks: 4 blocks a snapshot, then one to lend the buffer again.
    state.counters["snapshots"] = static_cast<double>(rig.snapshots());
    if (state.iterations() > 16 && rig.snapshots() == 0) state.SkipWithError("never copied");
}

void BM_TakeUndoSwapping(benchmark::State& state) {
    TakeRig rig;
    if (!rig.record() || !rig.send(CommandKind::overdub)) return state.SkipWithError("no take");
    for (std::uint32_t i = 0; i < kTakeSeconds * kRate / kBlock + 2; ++i) rig.block();
    if (!rig.send(CommandKind::overdub)) return state.SkipWithError("overdub stuck");
    rig.block();
    for (auto _ : state) {
        rig.keep_swapping();
        rig.block();
    }
}

BENCHMARK(BM_TakeLoops)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TakeOverdubbing)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TakeSnapshotting)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TakeUndoSwapping)->Unit(benchmark::kMicrosecond);

}  // namespace
