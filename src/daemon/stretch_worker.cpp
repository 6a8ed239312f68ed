// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "daemon/stretch_worker.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "io/stretch_render.hpp"
#include "looperd/region.hpp"
#include "looperd/sample_buffer.hpp"

namespace looperd {

bool StretchWorker::Key::close_to(const Key& o) const {
    if (generation != o.generation || content != o.content || begin != o.begin || end != o.end ||
        pitch != o.pitch)
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
      copy_asked_(slots),
      copy_retry_(slots),
      stretching_(std::make_unique<std::atomic<bool>[]>(slots)),
      dropped_(std::make_unique<std::atomic<bool>[]>(slots)),
      copy_refused_(std::make_unique<std::atomic<std::uint32_t>[]>(slots)),
      copy_failed_(std::make_unique<std::atomic<bool>[]>(slots)) {}

StretchWorker::~StretchWorker() {
    stop();
}

void StretchWorker::start() {
    stopping_ = false;
    thread_.start({.round = [this] { round(); },
                   .next_period = [this] { return next_poll(); },
                   .name = "stretch"});
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

std::string StretchWorker::over_budget(const std::string& what, std::uint64_t bytes) const {
    return fmt::format("{} {:.1f} MiB; the memory budget has {:.1f} MiB free (--memory-budget)",
                       what, static_cast<double>(bytes) / 1048576.0,
                       static_cast<double>(budget_.limit() - budget_.used()) / 1048576.0);
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

void StretchWorker::take_copied(std::uint32_t slot, std::uint64_t generation,
                                const SampleBuffer& take, std::uint32_t frames,
                                std::uint32_t content) {
    if (slot >= sources_.size() || content == 0 || frames == 0 || take.channels() < 2 || stopping_)
        return;
    const std::uint64_t bytes = std::uint64_t{2} * frames * sizeof(float);
    if (!budget_.try_reserve(bytes)) {
        copy_refused_[slot] = content;
        wake();
        refused_count_.fetch_add(1);
        hooks_.refused(slot, over_budget("stretching the take needs a copy of it,", bytes));
        return;
    }
    auto copy = std::make_unique<SampleBuffer>(2, frames, hooks_.sample_rate());
    for (std::uint32_t c = 0; c < 2; ++c)
        std::copy_n(take.channel(c), frames, copy->mutable_channel(c));
    {
        std::lock_guard lock(mutex_);
        if (sources_[slot].buffer) let_go(sources_[slot].buffer);
        sources_[slot] = {copy.release(), generation, content};
    }
    wake();
}

void StretchWorker::take_copy_failed(std::uint32_t slot) {
    if (slot >= sources_.size()) return;
    copy_failed_[slot] = true;
    wake();
}

void StretchWorker::forget_copy(std::uint32_t slot) {
    std::lock_guard lock(mutex_);
    Source& s = sources_[slot];
    if (s.buffer == nullptr || s.content == 0) return;
    let_go(s.buffer);
    s = Source{};
    copy_asked_[slot] = Key{};
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

// Per slot, the rendering it should have now: in `stretch pitch` with `beats`, holding a sample
// whose load the held source is, or a settled take.
std::vector<StretchWorker::Want> StretchWorker::wanted() const {
    const MirrorState m = hooks_.mirror();
    const double bpm = hooks_.tempo();
    const double rate = hooks_.sample_rate();
    std::vector<Want> out(sources_.size());
    std::lock_guard lock(mutex_);
    for (std::size_t n = 0; n < out.size() && n < m.slots.size(); ++n) {
        const SlotMirror& s = m.slots[n];
        const SlotParams& p = s.params;
        const auto mode = static_cast<StretchMode>(p.whole("stretch"));
        const float beats = p.number("beats");
        if (!s.loaded || mode != StretchMode::pitch || !(beats > 0.0F) || s.frames == 0) continue;
        Want& w = out[n];
        w.on = true;
        if (!(bpm > 0.0) || !(rate > 0.0)) continue;
        Key& k = w.key;
        k.generation = s.generation;
        // The region as the engine's voices take it.
        const Region region = region_frames(p.number("start"), p.number("end"), s.frames);
        k.begin = region.begin;
        k.end = region.end;
        k.frames = static_cast<std::uint32_t>(
            std::llround(static_cast<double>(beats) * 60.0 / bpm * rate));
        k.pitch = p.number("pitch");
        const double length = static_cast<double>(k.end - k.begin);
        if (k.pitch == 0.0F &&
            std::abs(static_cast<double>(k.frames) - length) <= kLengthTolerance * length) {
            w.as_is = true;
            continue;
        }
        if (s.take) {
            k.content = hooks_.take_content(static_cast<std::uint32_t>(n));
            w.wait = k.content == 0;
            w.copy = !w.wait && !sources_[n].holds(s.generation, k.content);
            continue;
        }
        if (!sources_[n].holds(s.generation, 0)) k.frames = 0;  // the sample is not here (yet)
    }
    return out;
}

void StretchWorker::ask_copy(std::uint32_t slot, const Key& key) {
    if (copy_failed_[slot].exchange(false)) {
        copy_asked_[slot] = Key{};
        copy_retry_[slot] = std::chrono::steady_clock::now() + kCopyRetry;
    }
    const Key& asked = copy_asked_[slot];
    if (asked.generation == key.generation && asked.content == key.content) return;
    if (std::chrono::steady_clock::now() < copy_retry_[slot]) return;
    copy_asked_[slot] = key;
    hooks_.copy_take(slot, key.generation);
}

// One round: what each slot wants against what it has; then renders, one slot at a time,
// taking them in turn, until none is left to do (each render looks again first).
void StretchWorker::round() {
    while (!stopping_) {
        const std::vector<Want> want = wanted();
        resting_.store(std::none_of(want.begin(), want.end(), [](const Want& w) { return w.on; }),
                       std::memory_order_relaxed);
        std::optional<std::uint32_t> todo;
        const auto slots = static_cast<std::uint32_t>(want.size());
        for (std::uint32_t i = 0; i < slots; ++i) {
            const std::uint32_t n = (next_ + i) % slots;
            const Want& w = want[n];
            if (dropped_[n].exchange(false)) installed_[n] = Key{};
            if (w.wait) {
                // A take being overdubbed, undone or redone: the engine plays the take itself.
                stretching_[n] = false;
                continue;
            }
            if (w.as_is) {
                // Played as it is: a rendering the engine still has goes.
                if (installed_[n].frames == 0 ||
                    hooks_.install(n, w.key.generation, w.key.content, nullptr))
                    installed_[n] = Key{};
                refused_[n] = Key{};
                stretching_[n] = false;
                forget_copy(n);
                continue;
            }
            if (w.key.frames == 0) {
                // Nothing wanted now. The engine dropped any rendering with the sample or the
                // mode (dropped()); one it keeps (`beats` off for a while) is still good when
                // `beats` comes back, and a new sample or take never matches it.
                refused_[n] = Key{};
                stretching_[n] = false;
                forget_copy(n);
                continue;
            }
            const bool have = installed_[n].close_to(w.key);
            const bool refused = refused_[n].close_to(w.key) && refused_[n].frames == w.key.frames;
            stretching_[n] = !have && !refused;
            if (have || refused) continue;
            if (w.copy) {
                if (copy_refused_[n].load() == w.key.content) {
                    // No room for the copy: the take plays by its rate until it changes.
                    refused_[n] = w.key;
                    stretching_[n] = false;
                    continue;
                }
                ask_copy(n, w.key);  // rendered once the copy is here
                continue;
            }
            if (!todo) todo = n;
        }
        if (!todo) return;
        next_ = *todo + 1;
        render(*todo, want[*todo].key);
    }
}

void StretchWorker::render(std::uint32_t slot, const Key& key) {
    // Pin the sample for the render: source_gone() may let go of it meanwhile.
    SampleBuffer* source = nullptr;
    {
        std::lock_guard lock(mutex_);
        if (!sources_[slot].holds(key.generation, key.content)) return;
        source = sources_[slot].buffer;
        source->hold();
    }
    const std::uint64_t bytes = std::uint64_t{source->channels()} * key.frames * sizeof(float);
    if (!budget_.try_reserve(bytes)) {
        let_go(source);
        refused_[slot] = key;
        stretching_[slot] = false;
        refused_count_.fetch_add(1);
        hooks_.refused(
            slot, over_budget(fmt::format("stretching to {} frames needs", key.frames), bytes));
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
        const Want want = wanted()[slot];
        return want.as_is || want.wait ||
               !(want.key.close_to(key) && want.key.frames == key.frames);
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
    if (!hooks_.install(slot, key.generation, key.content, made)) {
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
