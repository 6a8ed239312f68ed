// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// Time-stretching, end to end on the control side (docs/stretch.md): from a tempo change to
// every `stretch pitch` slot's new rendering sent to the engine, for 1, 4 and 16 slots that each
// hold a 4-bar stereo loop recorded at 120 BPM. The engine is a ring that keeps what it is sent
// (its swap at the seam costs the audio thread nothing measurable: tests/bench/engine_bench).
// The tempo alternates between 90 and 100 BPM, so that every iteration renders every slot.
// Reported: the seconds per change (manual time; mean, median and spread of 3 repetitions of a
// change to 90 and one to 100) and, as counters, a bar at the new tempo and the time over that
// bar (under 1: ready within a bar of the change; the swap then waits for the loop's seam).
#include <benchmark/benchmark.h>
#include <sndfile.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "daemon/controller.hpp"
#include "io/stretch_render.hpp"
#include "looperd/sample_buffer.hpp"
#include "unit/test_endpoint.hpp"

namespace {

using namespace looperd;
namespace fs = std::filesystem;

// A 4-bar loop at 120 BPM (8 s, 384,000 frames), stereo: a chord and a click on every beat.
void write_loop(const fs::path& path) {
    constexpr int kFrames = 384000;
    std::vector<float> x(2 * kFrames);
    for (int i = 0; i < kFrames; ++i) {
        const double t = i / 48000.0;
        double v = 0.15 * (std::sin(2 * M_PI * 220 * t) + std::sin(2 * M_PI * 277.2 * t) +
                           std::sin(2 * M_PI * 329.6 * t));
        const int into_beat = i % 24000;
        if (into_beat < 960)
            v += 0.5 * std::exp(-into_beat / 120.0) * std::sin(2 * M_PI * 2000 * t);
        x[2 * i] = static_cast<float>(v);
        x[2 * i + 1] = static_cast<float>(0.9 * v);
    }
    SF_INFO info{};
    info.samplerate = 48000;
    info.channels = 2;
    info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
    SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
    if (f == nullptr) throw std::runtime_error("cannot write " + path.string());
    sf_writef_float(f, x.data(), kFrames);
    sf_close(f);
}

OscEndpoint surface() {
    return test::endpoint("127.0.0.1", 9000);
}

void BM_TempoChangeToRenderingsSent(benchmark::State& state) {
    if (!stretch_available()) {
        state.SkipWithError("built without Rubber Band");
        return;
    }
    const auto slots = static_cast<std::uint32_t>(state.range(0));
    char tmpl[] = "/tmp/looperd-stretch-bench-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp");
    const fs::path dir = tmpl;
    write_loop(dir / "loop.wav");

    MemoryBudget budget(4ULL << 30);
    std::mutex mutex;
    std::vector<SampleBuffer*> sent;
    ControllerConfig config;
    config.slots = slots;
    config.inputs = 0;
    config.samples_dir = dir;
    auto controller = std::make_unique<Controller>(
        config, budget,
        [&](const Command& c) {
            std::lock_guard lock(mutex);
            if (c.buffer) sent.push_back(c.buffer);
            return true;
        },
        [](const OscEndpoint&, const OscMessage&) {}, [] { return RuntimeStatus{}; },
        [] { return 48000U; });
    controller->start_stretching([] { return 120.0; }, [](std::uint32_t) { return 0U; });
    const OscEndpoint from = surface();
    auto send = [&](const std::string& address, std::vector<OscArg> args) {
        controller->handle(OscMessage{address, std::move(args)}, from);
    };
    for (std::uint32_t n = 0; n < slots; ++n) {
        const std::string slot = "/slot/" + std::to_string(n) + "/";
        send(slot + "load", {OscArg::string("loop.wav")});
    }
    controller->wait_for_loads();
    auto wait_renders = [&](std::uint64_t count) {
        while (controller->stretch_renders() < count)
            std::this_thread::sleep_for(std::chrono::microseconds(200));
    };
    for (std::uint32_t n = 0; n < slots; ++n) {
        const std::string slot = "/slot/" + std::to_string(n) + "/";
        send(slot + "mode", {OscArg::string("loop")});
        send(slot + "beats", {OscArg::float32(16.0F)});
        send(slot + "stretch", {OscArg::string("pitch")});
    }
    // At 120 BPM, their own tempo, the loops play as they are: nothing is rendered until the
    // tempo changes.

    bool slow = true;
    double bar_seconds = 0.0;
    for (auto _ : state) {
        const float bpm = slow ? 90.0F : 100.0F;
        slow = !slow;
        const std::uint64_t target = controller->stretch_renders() + slots;
        const auto began = std::chrono::steady_clock::now();
        send("/clock/tempo", {OscArg::float32(bpm)});
        wait_renders(target);
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
        state.SetIterationTime(seconds);
        bar_seconds = 4.0 * 60.0 / static_cast<double>(bpm);
        state.counters["bar_s"] = bar_seconds;
        state.counters["of_a_bar"] = seconds / bar_seconds;
    }
    controller.reset();
    for (auto* b : sent)
        if (b->let_go()) delete b;
    fs::remove_all(dir);
}
BENCHMARK(BM_TempoChangeToRenderingsSent)
    ->Arg(1)
    ->Arg(4)
    ->Arg(16)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(2)
    ->Repetitions(3)
    ->ReportAggregatesOnly(true);

}  // namespace

BENCHMARK_MAIN();
