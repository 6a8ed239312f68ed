// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "control/mirror.hpp"

namespace looperd {

Mirror::Mirror(std::uint32_t slots, float fade_ms) : slots_(slots) {
    for (auto& s : slots_) s.params.set_number("fade_out", fade_ms);
}

std::pair<float, ClockSource> Mirror::tempo_and_sync() const {
    std::lock_guard lock(mutex_);
    return {globals_.tempo, globals_.sync};
}

MirrorState Mirror::snapshot(std::uint64_t* changes) const {
    MirrorState m;
    std::lock_guard lock(mutex_);
    if (changes != nullptr) *changes = changes_;
    m.slots.reserve(slots_.size());
    for (const auto& s : slots_) {
        SlotMirror out;
        out.loaded = s.loaded;
        out.loading = s.loading;
        out.path = s.path;
        out.frames = s.frames;
        out.channels = s.channels;
        out.sample_rate = s.sample_rate;
        out.params = s.params;
        out.rig_path = s.loading ? s.loading_path : s.restore_path;
        out.take = s.take;
        out.rig_take = s.rig_take;
        out.generation = s.generation;
        m.slots.push_back(std::move(out));
    }
    m.master_gain = globals_.master_gain;
    m.tempo = globals_.tempo;
    m.meter = globals_.meter;
    m.sync = globals_.sync;
    m.playing = globals_.playing;
    m.monitor = globals_.monitor;
    m.midi_bindings = globals_.midi_bindings;
    return m;
}

std::uint64_t Mirror::changes() const {
    std::lock_guard lock(mutex_);
    return changes_;
}

std::uint32_t Mirror::slots_loaded() const {
    std::lock_guard lock(mutex_);
    std::uint32_t n = 0;
    for (const auto& s : slots_) n += s.loaded ? 1U : 0U;
    return n;
}

Mirror::Transaction::Transaction(Mirror& mirror) : mirror_(mirror), lock_(mirror.mutex_) {}

const Mirror::Slot& Mirror::Transaction::slot(std::uint32_t n) const {
    const auto it = slots_.find(n);
    return it != slots_.end() ? it->second : mirror_.slots_.at(n);
}

Mirror::Slot& Mirror::Transaction::edit(std::uint32_t n) {
    const auto it = slots_.find(n);
    if (it != slots_.end()) return it->second;
    return slots_.emplace(n, mirror_.slots_.at(n)).first->second;
}

const Mirror::Globals& Mirror::Transaction::globals() const {
    return globals_ ? *globals_ : mirror_.globals_;
}

Mirror::Globals& Mirror::Transaction::edit_globals() {
    if (!globals_) globals_ = mirror_.globals_;
    return *globals_;
}

bool Mirror::Transaction::commit() {
    const bool changed = !slots_.empty() || globals_.has_value();
    for (auto& [n, s] : slots_) mirror_.slots_[n] = std::move(s);
    if (globals_) mirror_.globals_ = *globals_;
    if (changed) ++mirror_.changes_;
    slots_.clear();
    globals_.reset();
    lock_.unlock();
    if (changed && mirror_.on_change_) mirror_.on_change_();
    return changed;
}

}  // namespace looperd
