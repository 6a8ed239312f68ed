// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "looperd/engine.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

#include "looperd/denormals.hpp"
#include "looperd/sample_buffer.hpp"

namespace looperd {

namespace {

// Commands applied per block at most, so that a flood cannot stretch one callback.
constexpr std::size_t kMaxCommandsPerBlock = 256;

std::uint32_t ms_to_frames(float ms, std::uint32_t rate) {
    const double frames = static_cast<double>(ms) * rate / 1000.0;
    return std::max<std::uint32_t>(1, static_cast<std::uint32_t>(std::lround(frames)));
}

void check_config(const EngineConfig& c) {
    if (c.outputs == 0 || c.outputs > limits::kMaxOutputs)
        throw std::invalid_argument("outputs must be 1.." + std::to_string(limits::kMaxOutputs));
    if (c.slots == 0 || c.slots > limits::kMaxSlots)
        throw std::invalid_argument("slots must be 1.." + std::to_string(limits::kMaxSlots));
    if (c.voices == 0 || c.voices > limits::kMaxVoices)
        throw std::invalid_argument("voices must be 1.." + std::to_string(limits::kMaxVoices));
    if (c.command_capacity < 16 || c.command_capacity > limits::kMaxCommandCapacity)
        throw std::invalid_argument("command ring capacity must be 16.." +
                                    std::to_string(limits::kMaxCommandCapacity));
    if (c.scheduled_capacity < 1 || c.scheduled_capacity > limits::kMaxScheduledCapacity)
        throw std::invalid_argument("scheduled capacity must be 1.." +
                                    std::to_string(limits::kMaxScheduledCapacity));
    if (c.sample_rate < 8000 || c.sample_rate > 768000)
        throw std::invalid_argument("sample rate must be 8000..768000");
    if (!(c.fade_ms >= 0.1F && c.fade_ms <= 1000.0F))
        throw std::invalid_argument("fade must be 0.1..1000 ms");
    if (!(c.gain_smooth_ms >= 0.1F && c.gain_smooth_ms <= 1000.0F))
        throw std::invalid_argument("gain smoothing must be 0.1..1000 ms");
    if (c.inputs > limits::kMaxInputs)
        throw std::invalid_argument("inputs must be 0.." + std::to_string(limits::kMaxInputs));
    if (c.recorders > limits::kMaxRecorders)
        throw std::invalid_argument("recorders must be 0.." +
                                    std::to_string(limits::kMaxRecorders));
    if (!(c.max_record_seconds >= 0.01F && c.max_record_seconds <= limits::kMaxRecordSeconds))
        throw std::invalid_argument("the maximum take length must be 0.01.." +
                                    std::to_string(limits::kMaxRecordSeconds) + " s");
    if (c.undo_levels > limits::kMaxUndoLevels)
        throw std::invalid_argument("undo levels must be 0.." +
                                    std::to_string(limits::kMaxUndoLevels));
    if (c.undo_memory_mib > limits::kMaxUndoMemoryMib)
        throw std::invalid_argument("undo memory must be 0.." +
                                    std::to_string(limits::kMaxUndoMemoryMib) + " MiB");
}

bool is_slot_command(CommandKind k) {
    switch (k) {
        case CommandKind::stop_all:
        case CommandKind::set_master_gain:
        case CommandKind::clock_tempo:
        case CommandKind::clock_meter:
        case CommandKind::clock_reset:
        case CommandKind::clock_sync:
        case CommandKind::set_monitor_all:
        case CommandKind::set_record_offset:
            return false;
        default:
            return true;
    }
}

// Balance law per output pair: centre leaves both sides at exactly 1, and a hard pan silences
// the other side exactly (float cos(π/2) is not quite 0).
float balance(float away) {
    if (away <= 0.0F) return 1.0F;
    if (away >= 1.0F) return 0.0F;
    return std::cos(away * std::numbers::pi_v<float> * 0.5F);
}
float pan_left_gain(float pan) {
    return balance(pan);
}
float pan_right_gain(float pan) {
    return balance(-pan);
}

// 4-point, 3rd-order Hermite (Catmull-Rom) between y1 and y2; t = 0 returns y1 exactly.
inline float hermite(float y0, float y1, float y2, float y3, float t) noexcept {
    const float c1 = 0.5F * (y2 - y0);
    const float c2 = y0 - 2.5F * y1 + 2.0F * y2 - 0.5F * y3;
    const float c3 = 0.5F * (y3 - y0) + 1.5F * (y1 - y2);
    return ((c3 * t + c2) * t + c1) * t + y1;
}

}  // namespace

Engine::Engine(const EngineConfig& config)
    : config_((check_config(config), config)),
      commands_(config.command_capacity),
      // Retirements are bounded: commands are drained only while the backlog is empty, so one
      // block retires at most kMaxCommandsPerBlock slot buffers plus one buffer per voice, and
      // later blocks only the buffers voices still hold. See docs/architecture.md.
      events_(std::size_t{4} * (config.slots + config.voices) + kMaxCommandsPerBlock),
      backlog_(kMaxCommandsPerBlock + config.scheduled_capacity + std::size_t{2} * config.voices +
               config.slots),
      slots_(config.slots),
      voices_(config.voices),
      scheduled_(config.scheduled_capacity),

      scratch_(std::size_t{limits::kMaxSampleChannels} * limits::kRenderChunkFrames),
      slot_telemetry_(config.slots),
      output_peak_(config.outputs),
      peak_hold_(config.outputs, 0.0F),
      telemetry_count_(config.slots, 0U),
      telemetry_newest_(config.slots, nullptr) {
    fade_frames_ = ms_to_frames(config_.fade_ms, config_.sample_rate);
    smooth_frames_ = ms_to_frames(config_.gain_smooth_ms, config_.sample_rate);
    for (auto& s : slots_) s.fade_out_ms = config_.fade_ms;
    current_rate_.store(config_.sample_rate, std::memory_order_relaxed);
    record_state_ = std::vector<std::atomic<std::uint8_t>>(config_.slots);
    if (config_.inputs > 0 && config_.recorders > 0) allocate_recording();
}

// The recorder pool and the undo arena, touched and locked now so that the audio thread never
// faults on them. Sizes: docs/recording.md.
void Engine::allocate_recording() {
    constexpr std::uint32_t chunk = limits::kUndoChunkFrames;
    max_record_frames_ = static_cast<std::uint32_t>(std::max(
        1L, std::lround(static_cast<double>(config_.max_record_seconds) * config_.sample_rate)));
    max_take_chunks_ = (max_record_frames_ + chunk - 1) / chunk;
    const std::uint32_t levels = config_.undo_levels;
    recorders_.resize(config_.recorders);
    layer_pool_.resize(std::size_t{config_.recorders} * levels);
    index_pool_.assign(
        std::size_t{config_.recorders} * levels * (2 * std::size_t{max_take_chunks_} + 1), 0U);
    std::uint32_t* index = index_pool_.data();
    for (std::uint32_t i = 0; i < config_.recorders; ++i) {
        Recorder& r = recorders_[i];
        r.buffer = new SampleBuffer(2, max_record_frames_, config_.sample_rate);
        r.buffer->set_pooled();
        r.buffer->prefault();
        r.buffer->set_frames(0);
        record_memory_bytes_ += r.buffer->bytes();
        r.layers = layer_pool_.data() + std::size_t{i} * levels;
        r.order = index;
        index += levels;
        for (std::uint32_t l = 0; l < levels; ++l) {
            r.order[l] = l;
            r.layers[l].map = index;
            index += max_take_chunks_;
            r.layers[l].list = index;
            index += max_take_chunks_;
        }
    }
    const std::size_t chunk_bytes = std::size_t{2} * chunk * sizeof(float);
    const std::size_t chunks = std::size_t{config_.undo_memory_mib} * 1024 * 1024 / chunk_bytes;
    if (levels > 0 && chunks > 0) {
        undo_arena_ = new SampleBuffer(1, static_cast<std::uint32_t>(chunks * 2 * chunk),
                                       config_.sample_rate);
        undo_arena_->set_pooled();
        undo_arena_->prefault();
        record_memory_bytes_ += undo_arena_->bytes();
        free_chunks_.resize(chunks);
        for (std::size_t k = 0; k < chunks; ++k)
            free_chunks_[k] = static_cast<std::uint32_t>(chunks - 1 - k);
        free_chunk_count_ = chunks;
    }
    snapshot_copied_.assign(max_take_chunks_, 0);
    free_recorders_.store(config_.recorders, std::memory_order_relaxed);
}

Engine::~Engine() {
    // Not concurrent with process(): collect every buffer still held or in flight, once each.
    std::vector<SampleBuffer*> owned;
    // Record buffers are the engine's own, deleted below.
    for (auto& s : slots_)
        if (s.buffer && !s.buffer->pooled()) owned.push_back(s.buffer);
    for (auto& v : voices_)
        if (v.active && v.buffer && !v.buffer->pooled()) owned.push_back(v.buffer);
    for (std::size_t i = 0; i < backlog_size_; ++i)
        if (backlog_[i].kind == EventKind::buffer_retired) owned.push_back(backlog_[i].buffer);
    for (std::size_t i = 0; i < scheduled_size_; ++i)
        if ((scheduled_[i].kind == CommandKind::assign_buffer ||
             scheduled_[i].kind == CommandKind::load_take) &&
            scheduled_[i].buffer)
            owned.push_back(scheduled_[i].buffer);
    Event e;
    while (events_.try_pop(e))
        if (e.kind == EventKind::buffer_retired) owned.push_back(e.buffer);
    Command c;
    while (commands_.try_pop(c))
        if ((c.kind == CommandKind::assign_buffer || c.kind == CommandKind::load_take) &&
            c.buffer)
            owned.push_back(c.buffer);
    std::sort(owned.begin(), owned.end());
    owned.erase(std::unique(owned.begin(), owned.end()), owned.end());
    for (auto* b : owned) delete b;
    for (auto& r : recorders_) delete r.buffer;
    delete undo_arena_;
}

bool Engine::try_send(const Command& command) noexcept {
    if (commands_.try_push(command)) return true;
    dropped_commands_.fetch_add(1, std::memory_order_relaxed);
    return false;
}

bool Engine::try_receive(Event& event) noexcept {
    return events_.try_pop(event);
}

void Engine::set_sample_rate(std::uint32_t sample_rate) noexcept {
    current_rate_.store(sample_rate, std::memory_order_relaxed);
    pending_sample_rate_.store(sample_rate, std::memory_order_relaxed);
}

void Engine::resume_after_gap() noexcept {
    // Taken by the first block after the gap: the voices themselves are the audio thread's.
    resume_pending_.store(true, std::memory_order_relaxed);
}

// Audio thread, first block after a gap. Bounded by the voice count.
void Engine::resume_voices() noexcept {
    for (auto& v : voices_) {
        if (!v.active) continue;
        if (v.releasing) {
            // Its fade out was cut by the gap: what is left of it would start with a step.
            v.envelope.jump(0.0F);
            continue;
        }
        const float target = v.envelope.target;
        v.envelope.jump(0.0F);
        v.envelope.go(target, fade_frames_);
    }
}

std::uint32_t Engine::ms_frames(float ms) const noexcept {
    return ms_to_frames(ms, config_.sample_rate);
}

void Engine::post(const Event& e) noexcept {
    // Only buffer_retired must never be lost (it carries ownership): it alone may wait in the
    // backlog, which is sized for retirements only. Informational events are dropped and
    // counted when the ring is full.
    if (e.kind != EventKind::buffer_retired) {
        if (!events_.try_push(e)) lost_events_.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    if (backlog_size_ == 0 && events_.try_push(e)) return;
    if (backlog_size_ < backlog_.size()) {
        backlog_[backlog_size_++] = e;
        return;
    }
    // Unreachable by the constructor's bound; a leak here is still better than a crash.
    lost_events_.fetch_add(1, std::memory_order_relaxed);
}

void Engine::flush_backlog() noexcept {
    std::size_t sent = 0;
    while (sent < backlog_size_ && events_.try_push(backlog_[sent])) ++sent;
    if (sent == 0) return;
    std::copy(backlog_.begin() + static_cast<std::ptrdiff_t>(sent),
              backlog_.begin() + static_cast<std::ptrdiff_t>(backlog_size_), backlog_.begin());
    backlog_size_ -= sent;
}

void Engine::acquire(SampleBuffer* b) noexcept {
    ++b->rt_refs();
}

void Engine::unref(SampleBuffer* b) noexcept {
    if (--b->rt_refs() != 0) return;
    if (b->pooled()) {
        recorder_unused(b);  // a record buffer never leaves the engine
    } else {
        post({EventKind::buffer_retired, 0, b});
    }
}

Voice* Engine::free_voice() noexcept {
    for (auto& v : voices_)
        if (!v.active) return &v;
    return nullptr;
}

void Engine::release(Voice& v) noexcept {
    if (v.releasing) return;
    v.releasing = true;
    v.envelope.go(0.0F, ms_frames(slots_[v.slot].fade_out_ms));
}

void Engine::retire_voice(Voice& v) noexcept {
    post({EventKind::voice_ended, v.slot, nullptr});
    SampleBuffer* b = v.buffer;
    v = Voice{};
    unref(b);
}

bool Engine::slot_sounding(std::uint32_t slot) const noexcept {
    for (const auto& v : voices_)
        if (v.active && !v.releasing && v.slot == slot) return true;
    return false;
}

void Engine::stop_slot(std::uint32_t slot) noexcept {
    for (auto& v : voices_)
        if (v.active && v.slot == slot) release(v);
}

float Engine::target_rate(const Slot& s) const noexcept {
    float rate = s.rate * std::exp2(s.pitch / 12.0F);
    if (s.beats > 0.0F && s.buffer) {
        // The region lasts `beats` beats at the clock's tempo: stretch (speed and pitch) to fit.
        const double region_frames = static_cast<double>(s.region_end - s.region_start) *
                                     static_cast<double>(s.buffer->frames());
        const double wanted_frames = static_cast<double>(s.beats) * clock_.frames_per_beat();
        if (wanted_frames > 0.0) rate *= static_cast<float>(region_frames / wanted_frames);
    }
    return std::clamp(rate, 1.0F / 64.0F, 64.0F);
}

void Engine::update_voice_rates() noexcept {
    for (auto& v : voices_)
        if (v.active) {
            const float r = target_rate(slots_[v.slot]);
            if (r != v.rate.target) v.rate.go(r, smooth_frames_);
        }
}

void Engine::set_pan(Voice& v, float pan, std::uint32_t frames) noexcept {
    v.pan_left.go(pan_left_gain(pan), frames);
    v.pan_right.go(pan_right_gain(pan), frames);
}

void Engine::start_voice(std::uint32_t slot, std::uint64_t now) noexcept {
    Slot& s = slots_[slot];
    if (!s.buffer || s.buffer->frames() == 0) return;

    // Choke group: starting this slot fades out the others of its group.
    if (s.choke != 0)
        for (auto& other : voices_)
            if (other.active && other.slot != slot && slots_[other.slot].choke == s.choke)
                release(other);
    // Polyphony: beyond the slot's limit its oldest voices fade out (poly 1: a retrigger).
    for (;;) {
        std::uint32_t sounding = 0;
        Voice* oldest = nullptr;
        for (auto& v : voices_) {
            if (!v.active || v.releasing || v.slot != slot) continue;
            ++sounding;
            if (!oldest || v.started < oldest->started) oldest = &v;
        }
        if (sounding < s.poly || !oldest) break;
        release(*oldest);
    }

    Voice* v = free_voice();
    if (!v) {
        // Policy: nothing that plays is cut to make room; the new start is refused.
        refused_voices_.fetch_add(1, std::memory_order_relaxed);
        post({EventKind::voice_refused, slot, nullptr});
        return;
    }
    const std::uint32_t frames = s.buffer->frames();
    auto at = [frames](float fraction) {
        return static_cast<std::uint32_t>(
            std::lround(static_cast<double>(fraction) * static_cast<double>(frames)));
    };
    std::uint32_t begin = std::min(at(s.region_start), frames - 1);
    std::uint32_t end = std::clamp(at(s.region_end), begin + 1, frames);

    acquire(s.buffer);
    v->buffer = s.buffer;
    v->slot = slot;
    v->started = now;
    v->active = true;
    v->releasing = false;
    // Loop, gate and toggle sound until stopped; a take always loops.
    v->loop = s.mode != SlotMode::oneshot || s.recorder >= 0;
    // Overdub follows the take's frames as they play from here (docs/recording.md).
    if (s.recorder >= 0) recorders_[static_cast<std::size_t>(s.recorder)].origin = now - begin;
    v->reverse = s.reverse;
    v->begin = begin;
    v->end = end;
    v->xfade = std::min(s.xfade_ms > 0.0F ? ms_frames(s.xfade_ms) : 0U, (end - begin) / 2);
    v->position = s.reverse ? static_cast<double>(end - 1) : static_cast<double>(begin);
    if (s.output == 0 || config_.outputs <= 2) {
        v->out_first = 0;
        v->out_count = config_.outputs;
    } else {
        v->out_first = std::min(2 * (s.output - 1), config_.outputs - 1);
        v->out_count = std::min(2U, config_.outputs - v->out_first);
    }
    v->gain.jump(s.gain);
    v->pan_left.jump(pan_left_gain(s.pan));
    v->pan_right.jump(pan_right_gain(s.pan));
    v->rate.jump(target_rate(s));
    if (s.fade_in_ms > 0.0F) {
        v->envelope.jump(0.0F);
        v->envelope.go(1.0F, ms_frames(s.fade_in_ms));
    } else {
        v->envelope.jump(1.0F);  // the first frame plays unchanged: attacks stay sharp
    }
}

// A play message: value != 0 is a press, 0 a release. What they do depends on the slot's mode.
void Engine::press(std::uint32_t slot, float value, std::uint64_t now) noexcept {
    const Slot& s = slots_[slot];
    const bool pressed = value != 0.0F;
    switch (s.mode) {
        case SlotMode::oneshot:
        case SlotMode::loop:
            if (pressed) start_voice(slot, now);
            break;
        case SlotMode::gate:
            if (pressed) {
                start_voice(slot, now);
            } else {
                stop_slot(slot);
            }
            break;
        case SlotMode::toggle:
            if (!pressed) break;
            if (slot_sounding(slot)) {
                stop_slot(slot);
            } else {
                start_voice(slot, now);
            }
            break;
    }
}

// Inserts a command into the scheduled list, keeping it sorted by frame and stable.
void Engine::schedule(const Command& c) noexcept {
    if (scheduled_size_ == scheduled_.size()) {
        refused_scheduled_.fetch_add(1, std::memory_order_relaxed);
        // A buffer's ownership must still be honoured: hand it straight back.
        if (c.kind == CommandKind::assign_buffer && c.buffer)
            post({EventKind::buffer_retired, 0, c.buffer});
        return;
    }
    std::size_t i = scheduled_size_;
    while (i > 0 && scheduled_[i - 1].frame > c.frame) {
        scheduled_[i] = scheduled_[i - 1];
        --i;
    }
    scheduled_[i] = c;
    ++scheduled_size_;
}

void Engine::apply(const Command& c, std::uint64_t now) noexcept {
    if (is_slot_command(c.kind) && c.slot >= slots_.size()) {
        post({EventKind::bad_command, c.slot, nullptr});
        // An assign to a slot that does not exist hands its buffer straight back.
        if ((c.kind == CommandKind::assign_buffer || c.kind == CommandKind::load_take) &&
            c.buffer)
            post({EventKind::buffer_retired, 0, c.buffer});
        if (c.kind == CommandKind::snapshot && c.buffer)
            post({EventKind::snapshot_refused, c.slot, c.buffer});
        return;
    }
    Slot* s = is_slot_command(c.kind) ? &slots_[c.slot] : nullptr;
    auto each_voice = [this, &c](auto&& f) {
        for (auto& v : voices_)
            if (v.active && v.slot == c.slot) f(v);
    };
    // Quantized play and stop move to the next grid frame (unless they are on it already).
    auto quantized = [&](CommandKind on_grid) {
        if (s->quantize == 0.0F) return false;
        const std::uint64_t grid = clock_.next_grid_frame(now, static_cast<double>(s->quantize));
        if (grid <= now) return false;
        Command moved = c;
        moved.kind = on_grid;
        moved.frame = grid;
        schedule(moved);
        return true;
    };

    switch (c.kind) {
        case CommandKind::assign_buffer:
        case CommandKind::unload: {
            // A reload (value != 0) keeps a sounding loop going, on the new buffer.
            const bool restart = c.kind == CommandKind::assign_buffer && c.value != 0.0F &&
                                 s->mode != SlotMode::oneshot && slot_sounding(c.slot);
            stop_slot(c.slot);
            SampleBuffer* old = s->buffer;
            if (s->recorder >= 0) {
                release_recorder(recorders_[static_cast<std::size_t>(s->recorder)]);
                s->recorder = -1;
            }
            s->buffer = c.kind == CommandKind::assign_buffer ? c.buffer : nullptr;
            if (s->buffer) acquire(s->buffer);
            if (old) unref(old);
            if (restart) start_voice(c.slot, now);
            break;
        }
        case CommandKind::play:
            if (!quantized(CommandKind::play_on_grid)) press(c.slot, c.value, now);
            break;
        case CommandKind::play_on_grid:
            press(c.slot, c.value, now);
            break;
        case CommandKind::stop:
            if (!quantized(CommandKind::stop_on_grid)) stop_slot(c.slot);
            break;
        case CommandKind::stop_on_grid:
            stop_slot(c.slot);
            break;
        case CommandKind::stop_all:
            for (auto& v : voices_)
                if (v.active) release(v);
            break;
        case CommandKind::set_gain:
            s->gain = c.value;
            each_voice([&](Voice& v) { v.gain.go(c.value, smooth_frames_); });
            break;
        case CommandKind::set_mode: {
            s->mode = static_cast<SlotMode>(static_cast<std::uint8_t>(c.value));
            const bool loop = s->mode != SlotMode::oneshot;
            each_voice([&](Voice& v) { v.loop = loop; });
            break;
        }
        case CommandKind::set_pan:
            s->pan = c.value;
            each_voice([&](Voice& v) { set_pan(v, c.value, smooth_frames_); });
            break;
        case CommandKind::set_rate:
        case CommandKind::set_pitch:
        case CommandKind::set_beats:
            (c.kind == CommandKind::set_rate    ? s->rate
             : c.kind == CommandKind::set_pitch ? s->pitch
                                                : s->beats) = c.value;
            each_voice([&](Voice& v) { v.rate.go(target_rate(*s), smooth_frames_); });
            break;
        case CommandKind::set_reverse:
            s->reverse = c.value != 0.0F;
            break;
        case CommandKind::set_region_start:
        case CommandKind::set_region_end: {
            (c.kind == CommandKind::set_region_start ? s->region_start : s->region_end) =
                std::clamp(c.value, 0.0F, 1.0F);
            // Playing voices finish their pass and loop within the new bounds from the next
            // seam: moving the position now would jump.
            if (!s->buffer) break;
            const std::uint32_t frames = s->buffer->frames();
            const auto begin = std::min(static_cast<std::uint32_t>(std::lround(
                                            static_cast<double>(s->region_start) * frames)),
                                        frames - 1);
            const auto end = std::clamp(static_cast<std::uint32_t>(std::lround(
                                            static_cast<double>(s->region_end) * frames)),
                                        begin + 1, frames);
            each_voice([&](Voice& v) {
                if (v.buffer != s->buffer) return;
                v.next_begin = begin;
                v.next_end = end;
            });
            // The region's length changes a tempo-following rate.
            each_voice([&](Voice& v) { v.rate.go(target_rate(*s), smooth_frames_); });
            break;
        }
        case CommandKind::set_loop_xfade:
            s->xfade_ms = c.value;
            break;
        case CommandKind::set_poly:
            s->poly = std::clamp(static_cast<std::uint32_t>(c.value), 1U, limits::kMaxPoly);
            break;
        case CommandKind::set_choke:
            s->choke = static_cast<std::uint32_t>(c.value);
            break;
        case CommandKind::set_output:
            s->output = static_cast<std::uint32_t>(c.value);
            break;
        case CommandKind::set_fade_in:
            s->fade_in_ms = c.value;
            break;
        case CommandKind::set_fade_out:
            s->fade_out_ms = std::max(c.value, 0.1F);
            break;
        case CommandKind::set_quantize:
            s->quantize = c.value;
            break;
        case CommandKind::set_master_gain:
            master_.go(c.value, smooth_frames_);
            break;
        case CommandKind::clock_tempo:
            clock_.set_tempo(static_cast<double>(c.value), now);
            update_voice_rates();
            break;
        case CommandKind::clock_meter:
            clock_.set_meter(static_cast<double>(c.value));
            break;
        case CommandKind::clock_reset:
            clock_.reset(now);
            break;
        case CommandKind::clock_sync:
            clock_.set_source(static_cast<ClockSource>(static_cast<std::uint8_t>(c.value)));
            break;
        case CommandKind::record:
        case CommandKind::overdub:
        case CommandKind::undo:
        case CommandKind::redo:
        case CommandKind::clear:
        case CommandKind::set_record_input:
        case CommandKind::set_monitor:
        case CommandKind::set_monitor_all:
        case CommandKind::set_record_offset:
        case CommandKind::record_on_grid:
        case CommandKind::overdub_on_grid:
            apply_record(c, now);
            break;
        case CommandKind::snapshot:
        case CommandKind::load_take:
        case CommandKind::clock_from_slot:
            apply_keep(c, now);
            break;
    }
}

// Reads the next n source frames of a voice into scratch_ (channel c at c * chunk), handling
// rate, direction, region, loop wrap and seam crossfade. Returns false once the voice ran out
// (a one-shot past its region); the frames after that are silence.
bool Engine::read_voice(Voice& v, std::uint32_t n) noexcept {
    const SampleBuffer& b = *v.buffer;
    const std::uint32_t channels = b.channels();
    const std::uint32_t last = b.frames() - 1;
    float* scratch = scratch_.data();
    constexpr std::uint32_t chunk = limits::kRenderChunkFrames;
    const double dir = v.reverse ? -1.0 : 1.0;

    // Past the region's edge: a loop wraps (continuing after the seam crossfade), a one-shot ends.
    // A region change waiting for the seam takes effect as the voice wraps.
    auto adopt_region = [&v]() noexcept {
        if (v.next_end == 0) return;
        v.begin = v.next_begin;
        v.end = v.next_end;
        v.xfade = std::min(v.xfade, (v.end - v.begin) / 2);
        v.next_end = 0;
    };
    auto wrapped = [&v, &adopt_region]() noexcept {
        if (!v.reverse && v.position >= static_cast<double>(v.end)) {
            if (!v.loop) return false;
            const double over = v.position - static_cast<double>(v.end);
            adopt_region();
            const double period = static_cast<double>(v.end - v.begin - v.xfade);
            v.position = v.begin + static_cast<double>(v.xfade) + std::fmod(over, period);
        } else if (v.reverse && v.position < static_cast<double>(v.begin)) {
            if (!v.loop) return false;
            const double below = static_cast<double>(v.begin) - v.position;
            adopt_region();
            const double period = static_cast<double>(v.end - v.begin - v.xfade);
            double under = std::fmod(below, period);
            if (under == 0.0) under = period;
            v.position = static_cast<double>(v.end - v.xfade) - under;
        }
        return true;
    };

    std::uint32_t done = 0;
    while (done < n && wrapped()) {
        const bool steady = !v.rate.moving() && v.rate.value == 1.0F;
        const double whole = std::floor(v.position);
        // Fast path: rate exactly 1 on an integer frame, outside any seam crossfade: frames
        // are copied unchanged, up to the region's edge (or the crossfade's start).
        if (steady && whole == v.position) {
            const auto pos = static_cast<std::uint32_t>(whole);
            const std::uint32_t xf = v.loop ? v.xfade : 0;
            std::uint32_t m = 0;
            if (!v.reverse && pos < v.end - xf) {
                m = std::min(n - done, v.end - xf - pos);
                for (std::uint32_t c = 0; c < channels; ++c)
                    std::copy_n(b.channel(c) + pos, m, scratch + c * chunk + done);
            } else if (v.reverse && pos >= v.begin + xf) {
                m = std::min(n - done, pos - (v.begin + xf) + 1);
                for (std::uint32_t c = 0; c < channels; ++c) {
                    const float* src = b.channel(c);
                    float* dst = scratch + c * chunk + done;
                    for (std::uint32_t i = 0; i < m; ++i) dst[i] = src[pos - i];
                }
            }
            if (m > 0) {
                v.position += dir * m;
                done += m;
                continue;
            }
        }
        // Interpolating span: constant rate, away from the seam crossfade, the region's edge
        // and the buffer's ends, so no index needs clamping and no per-frame edge test is
        // needed. Positions accumulate exactly as in the general path below (bit-identical).
        if (!v.rate.moving()) {
            const double r = static_cast<double>(v.rate.value);
            const double xf = v.loop ? static_cast<double>(v.xfade) : 0.0;
            // Every tap (i − 1 … i + 2) must be a frame the per-frame path would read unwrapped:
            // inside the buffer, and for a loop inside its region. One frame of margin on each
            // side keeps rounding away from the limits.
            const double last_d = static_cast<double>(last);
            const double edge_lo = v.loop ? static_cast<double>(v.begin) + 1.0 : 1.0;
            const double edge_hi =
                v.loop ? std::min(static_cast<double>(v.end) - 3.0, last_d - 2.0) : last_d - 2.0;
            double room = 0.0;
            if (!v.reverse) {
                const double hi = std::min(static_cast<double>(v.end) - xf, edge_hi) - 1.0;
                if (v.position >= edge_lo) room = (hi - v.position) / r;
            } else {
                const double lo = std::max(static_cast<double>(v.begin) + xf, edge_lo) + 1.0;
                if (v.position <= edge_hi) room = (v.position - lo) / r;
            }
            if (room >= 1.0) {
                const std::uint32_t m = std::min(n - done, static_cast<std::uint32_t>(room));
                // Pass 1 (serial: positions accumulate): the four taps of each frame, for up
                // to two channels at a time. Pass 2 (vectorised): the cubic over the taps.
                float frac[limits::kRenderChunkFrames];
                float taps[2][4][limits::kRenderChunkFrames];
                const double step = dir * r;
                double p = v.position;
                for (std::uint32_t c0 = 0; c0 < channels; c0 += 2) {
                    const bool pair = c0 + 1 < channels;
                    const float* a = b.channel(c0);
                    const float* z = b.channel(pair ? c0 + 1 : c0);
                    p = v.position;
                    for (std::uint32_t k = 0; k < m; ++k) {
                        const auto i = static_cast<std::int64_t>(p);  // p > 0: truncation is floor
                        frac[k] = static_cast<float>(p - static_cast<double>(i));
                        const float* ya = a + (i - 1);
                        const float* yz = z + (i - 1);
                        taps[0][0][k] = ya[0];
                        taps[0][1][k] = ya[1];
                        taps[0][2][k] = ya[2];
                        taps[0][3][k] = ya[3];
                        taps[1][0][k] = yz[0];
                        taps[1][1][k] = yz[1];
                        taps[1][2][k] = yz[2];
                        taps[1][3][k] = yz[3];
                        p += step;
                    }
                    for (std::uint32_t h = 0; h < (pair ? 2U : 1U); ++h) {
                        float* __restrict dst = scratch + (c0 + h) * chunk + done;
                        const float* t0 = taps[h][0];
                        const float* t1 = taps[h][1];
                        const float* t2 = taps[h][2];
                        const float* t3 = taps[h][3];
                        for (std::uint32_t k = 0; k < m; ++k)
                            dst[k] = hermite(t0[k], t1[k], t2[k], t3[k], frac[k]);
                    }
                }
                v.position = p;
                done += m;
                continue;
            }
        }
        // General path, one frame at a time: cubic interpolation, and the seam crossfade.
        const float rate = v.rate.next();
        const double p = v.position;
        const auto i1 = static_cast<std::int64_t>(std::floor(p));
        const auto t = static_cast<float>(p - static_cast<double>(i1));
        // Taps past the region's edge of a looping voice come from where the next pass
        // continues, so interpolation is seamless across the wrap; others clamp to the buffer.
        const std::int64_t period = static_cast<std::int64_t>(v.end - v.begin - v.xfade);
        auto idx = [&v, last, period](std::int64_t i) {
            if (v.loop) {
                if (i >= static_cast<std::int64_t>(v.end)) i -= period;
                if (i < static_cast<std::int64_t>(v.begin)) i += period;
            }
            return static_cast<std::uint32_t>(std::clamp<std::int64_t>(i, 0, last));
        };
        // Seam crossfade: within the last `xfade` frames of a looping pass, blend towards the
        // frames the next pass starts from.
        float mix = 0.0F;
        double other = 0.0;
        if (v.loop && v.xfade > 0) {
            const double into = v.reverse ? (static_cast<double>(v.begin + v.xfade) - 1.0 - p)
                                          : (p - static_cast<double>(v.end - v.xfade));
            if (into >= 0.0) {
                mix = static_cast<float>((into + 1.0) / (v.xfade + 1.0));
                other = v.reverse ? static_cast<double>(v.end) - 1.0 - into
                                  : static_cast<double>(v.begin) + into;
            }
        }
        const auto o1 = static_cast<std::int64_t>(std::floor(other));
        const auto ot = static_cast<float>(other - static_cast<double>(o1));
        for (std::uint32_t c = 0; c < channels; ++c) {
            const float* s = b.channel(c);
            float x = hermite(s[idx(i1 - 1)], s[idx(i1)], s[idx(i1 + 1)], s[idx(i1 + 2)], t);
            if (mix > 0.0F) {
                const float y =
                    hermite(s[idx(o1 - 1)], s[idx(o1)], s[idx(o1 + 1)], s[idx(o1 + 2)], ot);
                x = x * (1.0F - mix) + y * mix;
            }
            scratch[c * chunk + done] = x;
        }
        ++done;
        v.position = p + dir * static_cast<double>(rate);
    }
    // A one-shot that reached its edge exactly at the chunk's end ends now, not a chunk later.
    const bool ended = done < n || !wrapped();
    if (done < n) {
        for (std::uint32_t c = 0; c < channels; ++c)
            std::fill(scratch + c * chunk + done, scratch + c * chunk + n, 0.0F);
    }
    return !ended;
}

void Engine::render_voice(Voice& v, float* const* out, std::uint32_t offset,
                          std::uint32_t n) noexcept {
    const std::uint32_t in_channels = v.buffer->channels();
    const bool running = read_voice(v, n);

    // Gains: slot gain × envelope, and the balance per side. Constant ones stay scalars.
    const bool constant = !v.gain.moving() && !v.envelope.moving();
    const bool pan_constant = !v.pan_left.moving() && !v.pan_right.moving();
    const float constant_gain = v.gain.value * v.envelope.value;
    float gains[limits::kRenderChunkFrames];
    float left[limits::kRenderChunkFrames];
    float right[limits::kRenderChunkFrames];
    if (!constant) {
        float envelope[limits::kRenderChunkFrames];
        v.gain.fill(gains, n);
        v.envelope.fill(envelope, n);
        for (std::uint32_t i = 0; i < n; ++i) gains[i] *= envelope[i];
    }
    if (!pan_constant) {
        v.pan_left.fill(left, n);
        v.pan_right.fill(right, n);
        if (!constant) {
            for (std::uint32_t i = 0; i < n; ++i) left[i] *= gains[i];
            for (std::uint32_t i = 0; i < n; ++i) right[i] *= gains[i];
        } else {
            for (std::uint32_t i = 0; i < n; ++i) left[i] *= constant_gain;
            for (std::uint32_t i = 0; i < n; ++i) right[i] *= constant_gain;
        }
    }

    // Channel mapping: pair p takes input channel p % K to output first + p % M, for
    // p < max(K, M), M the outputs the slot plays to. Mono reaches every output, stereo
    // every output pair, K > M channels fold onto them.
    const std::uint32_t pairs = std::max(in_channels, v.out_count);
    for (std::uint32_t p = 0; p < pairs; ++p) {
        const float* __restrict src =
            scratch_.data() + (p % in_channels) * limits::kRenderChunkFrames;
        const std::uint32_t o = v.out_first + p % v.out_count;
        float* __restrict dst = out[o] + offset;
        const bool is_left = o % 2 == 0;
        if (pan_constant) {
            const float side = is_left ? v.pan_left.value : v.pan_right.value;
            if (constant) {
                const float g = constant_gain * side;
                for (std::uint32_t i = 0; i < n; ++i) dst[i] += src[i] * g;
            } else if (side == 1.0F) {
                for (std::uint32_t i = 0; i < n; ++i) dst[i] += src[i] * gains[i];
            } else {
                for (std::uint32_t i = 0; i < n; ++i) dst[i] += src[i] * gains[i] * side;
            }
        } else {
            const float* g = is_left ? left : right;
            for (std::uint32_t i = 0; i < n; ++i) dst[i] += src[i] * g[i];
        }
    }
    if (!running || (v.releasing && !v.envelope.moving())) retire_voice(v);
}

void Engine::render(float* const* out, std::uint32_t offset, std::uint32_t n) noexcept {
    for (std::uint32_t done = 0; done < n; done += limits::kRenderChunkFrames) {
        const std::uint32_t m = std::min(limits::kRenderChunkFrames, n - done);
        for (auto& v : voices_)
            if (v.active) render_voice(v, out, offset + done, m);
        if (master_.moving()) {
            float g[limits::kRenderChunkFrames];
            master_.fill(g, m);
            for (std::uint32_t o = 0; o < config_.outputs; ++o)
                for (std::uint32_t i = 0; i < m; ++i) out[o][offset + done + i] *= g[i];
        } else if (master_.value != 1.0F) {
            for (std::uint32_t o = 0; o < config_.outputs; ++o)
                for (std::uint32_t i = 0; i < m; ++i) out[o][offset + done + i] *= master_.value;
        }
    }
}

std::uint32_t Engine::slot_sounding_voices(std::uint32_t slot) const noexcept {
    return slot < slot_telemetry_.size()
               ? slot_telemetry_[slot].sounding.load(std::memory_order_relaxed)
               : 0;
}

float Engine::slot_position(std::uint32_t slot) const noexcept {
    return slot < slot_telemetry_.size()
               ? slot_telemetry_[slot].position.load(std::memory_order_relaxed)
               : 0.0F;
}

float Engine::take_output_peak(std::uint32_t o) noexcept {
    if (o >= output_peak_.size()) return 0.0F;
    const float peak = output_peak_[o].load(std::memory_order_relaxed);
    peak_epoch_.fetch_add(1, std::memory_order_relaxed);  // the audio thread restarts its hold
    return peak;
}

// Audio thread, end of block: bounded by slots + voices + outputs × nframes.
void Engine::publish_telemetry(float* const* outputs, std::uint32_t nframes) noexcept {
    // Per slot: the count of sounding voices, and the newest one's place in its region. Counted
    // in scratch first and stored once per slot, so a reader never sees a half-made count.
    std::fill(telemetry_count_.begin(), telemetry_count_.end(), 0U);
    std::fill(telemetry_newest_.begin(), telemetry_newest_.end(), nullptr);
    for (const auto& v : voices_) {
        if (!v.active || v.releasing) continue;
        ++telemetry_count_[v.slot];
        const Voice*& newest = telemetry_newest_[v.slot];
        if (!newest || v.started >= newest->started) newest = &v;
    }
    for (std::uint32_t slot = 0; slot < slots_.size(); ++slot) {
        auto& t = slot_telemetry_[slot];
        t.sounding.store(telemetry_count_[slot], std::memory_order_relaxed);
        const Voice* newest = telemetry_newest_[slot];
        float at = 0.0F;
        if (newest) {
            const double len = static_cast<double>(newest->end - newest->begin);
            const double pos = (newest->position - static_cast<double>(newest->begin)) / len;
            at = static_cast<float>(std::clamp(pos, 0.0, 1.0));
        }
        t.position.store(at, std::memory_order_relaxed);
    }
    const std::uint32_t epoch = peak_epoch_.load(std::memory_order_relaxed);
    if (epoch != peak_epoch_seen_) {
        peak_epoch_seen_ = epoch;
        std::fill(peak_hold_.begin(), peak_hold_.end(), 0.0F);
    }
    for (std::uint32_t o = 0; o < config_.outputs; ++o) {
        float peak = peak_hold_[o];
        for (std::uint32_t i = 0; i < nframes; ++i) peak = std::max(peak, std::fabs(outputs[o][i]));
        peak_hold_[o] = peak;
        output_peak_[o].store(peak, std::memory_order_relaxed);
    }
    clock_beat_.store(clock_.beat_at(now_frame_), std::memory_order_relaxed);
    clock_meter_.store(clock_.meter(), std::memory_order_relaxed);
    if (recorders_.empty()) return;
    std::uint32_t free = 0;
    for (const auto& r : recorders_) {
        if (r.state == Recorder::State::free) ++free;
        if (r.state != Recorder::State::recording && r.state != Recorder::State::looping) continue;
        const auto state = r.state == Recorder::State::recording ? RecordState::recording
                           : r.overdub                           ? RecordState::overdubbing
                                                                 : RecordState::none;
        record_state_[r.slot].store(static_cast<std::uint8_t>(state), std::memory_order_relaxed);
    }
    // Slots whose take is gone read none again.
    for (std::uint32_t slot = 0; slot < slots_.size(); ++slot)
        if (slots_[slot].recorder < 0 && record_state_[slot].load(std::memory_order_relaxed) != 0)
            record_state_[slot].store(0, std::memory_order_relaxed);
    free_recorders_.store(free, std::memory_order_relaxed);
}

void Engine::process(float* const* outputs, std::uint32_t nframes) noexcept {
    BlockTiming timing;
    timing.frame = frames_;
    process(nullptr, 0, outputs, nframes, timing);
}

void Engine::process(float* const* outputs, std::uint32_t nframes,
                     const BlockTiming& timing) noexcept {
    process(nullptr, 0, outputs, nframes, timing);
}

void Engine::process(const float* const* inputs, std::uint32_t n_inputs, float* const* outputs,
                     std::uint32_t nframes) noexcept {
    BlockTiming timing;
    timing.frame = frames_;
    process(inputs, n_inputs, outputs, nframes, timing);
}

std::size_t Engine::take_commands(std::uint64_t t0) noexcept {
    flush_backlog();
    // While retirements are backed up, leave new commands queued: this keeps the backlog bound.
    Command c;
    std::size_t taken = 0;
    for (; taken < kMaxCommandsPerBlock && backlog_size_ == 0 && commands_.try_pop(c); ++taken) {
        if (c.frame > t0) {
            schedule(c);
            continue;
        }
        if (c.frame != 0 && c.frame < t0) late_commands_.fetch_add(1, std::memory_order_relaxed);
        apply(c, t0);
    }
    return taken;
}

std::size_t Engine::apply_commands_while_stopped() noexcept {
    ScopedFlushDenormals ftz;
    return take_commands(now_frame_);
}

void Engine::process(const float* const* inputs, std::uint32_t n_inputs, float* const* outputs,
                     std::uint32_t nframes, const BlockTiming& timing) noexcept {
    ScopedFlushDenormals ftz;
    inputs_ = inputs;
    n_inputs_ = inputs ? n_inputs : 0;

    if (const auto rate = pending_sample_rate_.exchange(0, std::memory_order_relaxed); rate != 0) {
        config_.sample_rate = rate;
        fade_frames_ = ms_to_frames(config_.fade_ms, rate);
        smooth_frames_ = ms_to_frames(config_.gain_smooth_ms, rate);
    }
    if (resume_pending_.exchange(false, std::memory_order_relaxed)) resume_voices();
    const std::uint64_t t0 = timing.frame;
    now_frame_ = t0;
    block_end_ = t0 + nframes;
    const bool recording = !recorders_.empty();
    clock_.begin_block(timing, config_.sample_rate);
    if (clock_.bpm() != last_bpm_) {
        last_bpm_ = clock_.bpm();
        update_voice_rates();  // tempo-following slots keep in time with a tempo that moved
    }

    take_commands(t0);
    if (recording) {
        advance_swaps();
        advance_copies();
    }

    for (std::uint32_t o = 0; o < config_.outputs; ++o) std::fill_n(outputs[o], nframes, 0.0F);

    // Render up to each scheduled frame inside the block, then apply what is due there.
    std::uint32_t offset = 0;
    const std::uint64_t block_end = t0 + nframes;
    while (offset < nframes) {
        std::uint32_t until = nframes;
        if (scheduled_size_ > 0 && scheduled_[0].frame < block_end)
            until = static_cast<std::uint32_t>(std::max(scheduled_[0].frame, t0 + offset) - t0);
        // A take reaching the maximum length ends on its exact frame.
        if (recording)
            until = static_cast<std::uint32_t>(
                std::min<std::uint64_t>(record_deadline(t0 + offset, block_end), t0 + until) - t0);
        if (until > offset) {
            monitor_segment(outputs, offset, until - offset);
            render(outputs, offset, until - offset);
            if (recording) record_segment(offset, until - offset);
            offset = until;
        }
        // Apply everything due at this frame (a quantized command may schedule itself later).
        const std::uint64_t now = t0 + offset;
        if (recording) record_due(now);
        std::size_t due = 0;
        while (due < scheduled_size_ && scheduled_[due].frame <= now) ++due;
        if (due == 0) continue;
        Command batch[16];
        const std::size_t take = std::min<std::size_t>(due, 16);
        std::copy_n(scheduled_.begin(), take, batch);
        std::copy(scheduled_.begin() + static_cast<std::ptrdiff_t>(take),
                  scheduled_.begin() + static_cast<std::ptrdiff_t>(scheduled_size_),
                  scheduled_.begin());
        scheduled_size_ -= take;
        for (std::size_t k = 0; k < take; ++k) apply(batch[k], now);
    }

    publish_telemetry(outputs, nframes);
    std::uint32_t active = 0;
    for (const auto& v : voices_) active += v.active ? 1U : 0U;
    frames_ += nframes;
    inputs_ = nullptr;  // valid for this block only
    n_inputs_ = 0;
    active_voices_.store(active, std::memory_order_relaxed);
    frame_clock_.store(frames_, std::memory_order_relaxed);
}

}  // namespace looperd
