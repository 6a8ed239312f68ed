// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "daemon/stretch_worker.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "io/stretch_render.hpp"
#include "looperd/sample_buffer.hpp"

namespace looperd {

bool StretchWorker::Key::close_to(const Key& o) const {
    if (generation != o.generation || begin != o.begin || end != o.end || pitch != o.pitch)
        return false;
    if (frames == 0 || o.frames == 0) return frames == o.frames;
    const double off = std::abs(static_cast<double>(frames) - static_cast<double>(o.frames));
    return off <= kLengthTolerance * static_cast<double>(o.frames);
}

StretchWorker::StretchWorker(std::uint32_t slots, MemoryBudget& budget, Hooks hooks)
    : budget_(budget),
      hooks_(std::move(hooks)),
      sources_(slots),
      installed_(slots),
      refused_(slots),
      stretching_(std::make_unique<std::atomic<bool>[]>(slots)),
      dropped_(std::make_unique<std::atomic<bool>[]>(slots)) {}

StretchWorker::~StretchWorker() {
    stop();
}

void StretchWorker::start() {
    stopping_ = false;
    thread_.start({.round = [this] { round(); }, .period = kPoll});
}

void StretchWorker::stop() {
    stopping_ = true;
    thread_.stop();
    std::lock_guard lock(mutex_);
    for (auto& s : sources_) {
        if (s.buffer) let_go(s.buffer);
        s = Source{};
    }
}

void StretchWorker::let_go(SampleBuffer* b) {
    if (!b->let_go()) return;
    const auto bytes = b->bytes();
    delete b;
    budget_.release(bytes);
}

void StretchWorker::source_loaded(std::uint32_t slot, SampleBuffer* buffer,
                                  std::uint64_t generation) {
    {
        std::lock_guard lock(mutex_);
        if (slot >= sources_.size()) {
            if (buffer) let_go(buffer);
            return;
        }
        if (sources_[slot].buffer) let_go(sources_[slot].buffer);
        sources_[slot] = {buffer, generation};
    }
    wake();
}

void StretchWorker::source_gone(std::uint32_t slot) {
    {
        std::lock_guard lock(mutex_);
        if (slot >= sources_.size() || !sources_[slot].buffer) return;
        let_go(sources_[slot].buffer);
        sources_[slot] = Source{};
    }
    wake();
}

void StretchWorker::wake() {
    thread_.notify();
}

void StretchWorker::dropped(std::uint32_t slot) {
    if (slot < sources_.size()) dropped_[slot] = true;
    wake();
}

bool StretchWorker::stretching(std::uint32_t slot) const {
    return slot < sources_.size() && stretching_[slot].load(std::memory_order_relaxed);
}

// Per slot, the rendering it should have now (frames 0: none): in `stretch pitch` with `beats`,
// holding a sample (not a take) whose load the held source is.
std::vector<StretchWorker::Key> StretchWorker::wanted() const {
    const MirrorState m = hooks_.mirror();
    const double bpm = hooks_.tempo();
    const double rate = hooks_.sample_rate();
    std::vector<Key> out(sources_.size());
    std::lock_guard lock(mutex_);
    for (std::size_t n = 0; n < out.size() && n < m.slots.size(); ++n) {
        const SlotMirror& s = m.slots[n];
        const SlotParams& p = s.params;
        const auto mode = static_cast<StretchMode>(p.whole("stretch"));
        const float beats = p.number("beats");
        if (!s.loaded || s.take || mode != StretchMode::pitch || !(beats > 0.0F) || s.frames == 0)
            continue;
        if (sources_[n].buffer == nullptr || sources_[n].generation != s.generation) continue;
        if (!(bpm > 0.0) || !(rate > 0.0)) continue;
        // The region as the engine takes it (Engine::start_voice).
        const std::uint32_t frames = s.frames;
        auto at = [frames](float fraction) {
            return static_cast<std::uint32_t>(
                std::lround(static_cast<double>(fraction) * static_cast<double>(frames)));
        };
        Key k;
        k.generation = s.generation;
        k.begin = std::min(at(p.number("start")), frames - 1);
        k.end = std::clamp(at(p.number("end")), k.begin + 1, frames);
        k.frames = static_cast<std::uint32_t>(
            std::llround(static_cast<double>(beats) * 60.0 / bpm * rate));
        k.pitch = p.number("pitch");
        if (k.frames > 0) out[n] = k;
    }
    return out;
}

// One round: what each slot wants against what it has; then renders, one slot at a time,
// taking them in turn, until none is left to do (each render looks again first).
void StretchWorker::round() {
    while (!stopping_) {
        const std::vector<Key> want = wanted();
        std::optional<std::uint32_t> todo;
        const auto slots = static_cast<std::uint32_t>(want.size());
        for (std::uint32_t i = 0; i < slots; ++i) {
            const std::uint32_t n = (next_ + i) % slots;
            const Key& w = want[n];
            if (dropped_[n].exchange(false)) installed_[n] = Key{};
            if (w.frames == 0) {
                // Nothing wanted: the engine dropped any rendering with the sample or the mode.
                installed_[n] = Key{};
                refused_[n] = Key{};
                stretching_[n] = false;
                continue;
            }
            const bool have = installed_[n].close_to(w);
            const bool refused = refused_[n].close_to(w) && refused_[n].frames == w.frames;
            stretching_[n] = !have && !refused;
            if (!have && !refused && !todo) todo = n;
        }
        if (!todo) return;
        next_ = *todo + 1;
        render(*todo, want[*todo]);
    }
}

void StretchWorker::render(std::uint32_t slot, const Key& key) {
    // Pin the sample for the render: source_gone() may let go of it meanwhile.
    SampleBuffer* source = nullptr;
    {
        std::lock_guard lock(mutex_);
        source = sources_[slot].buffer;
        if (!source || sources_[slot].generation != key.generation) return;
        source->hold();
    }
    const std::uint64_t bytes = std::uint64_t{source->channels()} * key.frames * sizeof(float);
    if (!budget_.try_reserve(bytes)) {
        let_go(source);
        refused_[slot] = key;
        stretching_[slot] = false;
        refused_count_.fetch_add(1);
        hooks_.refused(
            slot, fmt::format("stretching to {} frames needs {:.1f} MiB; the memory "
                              "budget has {:.1f} MiB free (--memory-budget)",
                              key.frames, static_cast<double>(bytes) / 1048576.0,
                              static_cast<double>(budget_.limit() - budget_.used()) / 1048576.0));
        return;
    }
    // Stale as soon as what it is for changes: checked between blocks of the render, cheaply
    // (the mirror's change count and the tempo) before a full look.
    std::uint64_t seen = hooks_.changes();
    double tempo = hooks_.tempo();
    auto cancelled = [&]() {
        if (stopping_) return true;
        const std::uint64_t now_changes = hooks_.changes();
        const double now_tempo = hooks_.tempo();
        if (now_changes == seen && now_tempo == tempo) return false;
        seen = now_changes;
        tempo = now_tempo;
        const auto want = wanted();
        return !(want[slot].close_to(key) && want[slot].frames == key.frames);
    };
    std::unique_ptr<SampleBuffer> rendering;
    const auto began = std::chrono::steady_clock::now();
    try {
        rendering = render_stretched({source, key.begin, key.end, key.frames,
                                      std::exp2(static_cast<double>(key.pitch) / 12.0)},
                                     cancelled);
    } catch (const StretchCancelled&) {
        let_go(source);
        budget_.release(bytes);
        return;
    } catch (const std::exception& e) {
        let_go(source);
        budget_.release(bytes);
        refused_[slot] = key;
        stretching_[slot] = false;
        refused_count_.fetch_add(1);
        hooks_.refused(slot, e.what());
        return;
    }
    let_go(source);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    SampleBuffer* const made = rendering.release();
    if (!hooks_.install(slot, key.generation, made)) {
        delete made;
        budget_.release(bytes);
        return;
    }
    installed_[slot] = key;
    done_.fetch_add(1);
    spdlog::info("slot {}: stretched to {} frames{} in {:.2f} s", slot, key.frames,
                 key.pitch != 0.0F ? fmt::format(", {:+g} semitones", key.pitch) : std::string(),
                 seconds);
}

}  // namespace looperd
