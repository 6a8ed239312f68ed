// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "looperd/engine.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "looperd/denormals.hpp"
#include "looperd/interpolate.hpp"
#include "looperd/sample_buffer.hpp"

namespace looperd {

namespace {

// Commands applied per block at most, so that a flood cannot stretch one callback.
constexpr std::size_t kMaxCommandsPerBlock = 256;

std::uint32_t ms_to_frames(float ms, std::uint32_t rate) {
    const double frames = static_cast<double>(ms) * rate / 1000.0;
    return std::max<std::uint32_t>(1, static_cast<std::uint32_t>(std::lround(frames)));
}

void check_playback(const EngineConfig& c) {
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
    if (!(c.fade_ms >= static_cast<float>(limits::kMinFadeMs) && c.fade_ms <= 1000.0F))
        throw std::invalid_argument("fade must be 0.1..1000 ms");
    if (!(c.gain_smooth_ms >= 0.1F && c.gain_smooth_ms <= 1000.0F))
        throw std::invalid_argument("gain smoothing must be 0.1..1000 ms");
}

RecorderPoolConfig pool_config(const EngineConfig& c) {
    RecorderPoolConfig p;
    p.slots = c.slots;
    p.inputs = c.inputs;
    p.recorders = c.recorders;
    p.sample_rate = c.sample_rate;
    p.max_record_seconds = c.max_record_seconds;
    p.undo_levels = c.undo_levels;
    p.undo_memory_mib = c.undo_memory_mib;
    p.on_demand = c.record_memory_on_demand;
    return p;
}

void check_config(const EngineConfig& c) {
    check_playback(c);
    RecorderPool::check(pool_config(c));
}

}  // namespace

Engine::Engine(const EngineConfig& config)
    : config_((check_config(config), config)),
      commands_(config.command_capacity),
      // Retirements are bounded: commands are drained only while the backlog is empty, so one
      // block retires at most kMaxCommandsPerBlock slot buffers plus one buffer per voice, and
      // later blocks only the buffers voices still hold, and the recorder pool at most one
      // record buffer per recorder. See docs/architecture.md.
      events_(std::size_t{4} * (config.slots + config.voices) + kMaxCommandsPerBlock),
      backlog_(kMaxCommandsPerBlock + config.scheduled_capacity + std::size_t{2} * config.voices +
               config.slots + config.recorders),
      slots_(config.slots),
      voices_(config.voices),
      scheduled_(config.scheduled_capacity),

      scratch_(std::size_t{limits::kMaxSampleChannels} * limits::kRenderChunkFrames),
      midi_control_(limits::kMidiControlCapacity),
      held_(config.slots, 0U),
      recorders_(pool_config(config_)),
      slot_telemetry_(config.slots),
      output_peak_(config.outputs),
      peak_hold_(config.outputs, 0.0F),
      telemetry_count_(config.slots, 0U),
      telemetry_newest_(config.slots, nullptr),
      telemetry_pending_(config.slots, 0U) {
    // The interpolating kernel's instruction set is chosen here, not on the audio thread.
    interpolate::prepare();
    midi_out_.resize(limits::kMaxMidiOutEventsPerBlock);
    midi_actions_.resize(limits::kMaxMidiActionsPerBlock);
    led_slots_.resize(config_.slots);
    led_sent_.assign(config_.slots, kLedUnsent);
    midi_init_.resize(limits::kMaxMidiInitBytes);
    for (std::uint32_t note = 0; note < pad_slot_.size(); ++note)
        pad_slot_[note] =
            note >= limits::kFirstSlotNote && note - limits::kFirstSlotNote < config_.slots
                ? static_cast<std::int32_t>(note - limits::kFirstSlotNote)
                : -1;
    fade_frames_ = ms_to_frames(config_.fade_ms, config_.sample_rate);
    smooth_frames_ = ms_to_frames(config_.gain_smooth_ms, config_.sample_rate);
    for (auto& s : slots_) s.fade_out_ms = config_.fade_ms;
    current_rate_.store(config_.sample_rate, std::memory_order_relaxed);
}

Engine::~Engine() {
    // Not concurrent with process(): collect every buffer still held or in flight, once each.
    std::vector<SampleBuffer*> owned;
    // Record buffers are the pool's, deleted with it.
    for (auto& s : slots_) {
        if (s.buffer && !s.buffer->pooled()) owned.push_back(s.buffer);
        if (s.stretched) owned.push_back(s.stretched);
    }
    for (auto& v : voices_)
        if (v.active && v.buffer && !v.buffer->pooled()) owned.push_back(v.buffer);
    for (std::size_t i = 0; i < backlog_size_; ++i)
        if (backlog_[i].kind == EventKind::buffer_retired) owned.push_back(backlog_[i].buffer);
    for (std::size_t i = 0; i < scheduled_size_; ++i)
        if (gives_buffer(scheduled_[i].kind) && scheduled_[i].buffer)
            owned.push_back(scheduled_[i].buffer);
    Event e;
    while (events_.try_pop(e))
        if (e.kind == EventKind::buffer_retired) owned.push_back(e.buffer);
    Command c;
    while (commands_.try_pop(c))
        if (gives_buffer(c.kind) && c.buffer) owned.push_back(c.buffer);
    std::sort(owned.begin(), owned.end());
    owned.erase(std::unique(owned.begin(), owned.end()), owned.end());
    // Another thread may still hold one (SampleBuffer::hold): the last to let go deletes.
    for (auto* b : owned)
        if (b->let_go()) delete b;
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

Engine::SlotPending Engine::slot_pending(std::uint32_t slot) const noexcept {
    if (slot >= slot_telemetry_.size()) return {};
    const std::uint8_t bits = slot_telemetry_[slot].pending.load(std::memory_order_relaxed);
    return {.start = (bits & kPendingStart) != 0,
            .stop = (bits & kPendingStop) != 0,
            .fading = (bits & kPendingFading) != 0};
}

float Engine::take_output_peak(std::uint32_t o) noexcept {
    if (o >= output_peak_.size()) return 0.0F;
    const float peak = output_peak_[o].load(std::memory_order_relaxed);
    peak_epoch_.fetch_add(1, std::memory_order_relaxed);  // the audio thread restarts its hold
    return peak;
}

// Audio thread, end of block: bounded by slots + voices + scheduled commands + outputs × nframes.
void Engine::publish_telemetry(float* const* outputs, std::uint32_t nframes) noexcept {
    // Per slot: the count of sounding voices, and the newest one's place in its region. Counted
    // in scratch first and stored once per slot, so a reader never sees a half-made count.
    std::fill(telemetry_count_.begin(), telemetry_count_.end(), 0U);
    std::fill(telemetry_newest_.begin(), telemetry_newest_.end(), nullptr);
    std::fill(telemetry_pending_.begin(), telemetry_pending_.end(), std::uint8_t{0});
    for (std::size_t i = 0; i < scheduled_size_; ++i) {
        const Command& c = scheduled_[i];
        if (c.slot >= telemetry_pending_.size()) continue;
        if (c.kind == CommandKind::play_on_grid || c.kind == CommandKind::record_on_grid)
            telemetry_pending_[c.slot] |= kPendingStart;
        else if (c.kind == CommandKind::stop_on_grid)
            telemetry_pending_[c.slot] |= kPendingStop;
    }
    for (const auto& v : voices_) {
        if (!v.active) continue;
        if (v.releasing) {
            telemetry_pending_[v.slot] |= kPendingFading;
            continue;
        }
        ++telemetry_count_[v.slot];
        const Voice*& newest = telemetry_newest_[v.slot];
        if (!newest || v.started >= newest->started) newest = &v;
    }
    for (std::uint32_t slot = 0; slot < slots_.size(); ++slot) {
        auto& t = slot_telemetry_[slot];
        t.sounding.store(telemetry_count_[slot], std::memory_order_relaxed);
        t.pending.store(telemetry_pending_[slot], std::memory_order_relaxed);
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
    clock_bpm_.store(clock_.bpm(), std::memory_order_relaxed);
    recorders_.publish(host_);
    update_leds();
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
    process(inputs, n_inputs, outputs, nframes, timing, MidiInput{});
}

void Engine::process(const float* const* inputs, std::uint32_t n_inputs, float* const* outputs,
                     std::uint32_t nframes, const BlockTiming& timing,
                     const MidiInput& midi) noexcept {
    ScopedFlushDenormals ftz;
    inputs_.channels = inputs;
    inputs_.count = inputs ? std::min(n_inputs, config_.inputs) : 0;

    if (const auto rate = pending_sample_rate_.exchange(0, std::memory_order_relaxed); rate != 0) {
        config_.sample_rate = rate;
        fade_frames_ = ms_to_frames(config_.fade_ms, rate);
        smooth_frames_ = ms_to_frames(config_.gain_smooth_ms, rate);
    }
    if (resume_pending_.exchange(false, std::memory_order_relaxed)) resume_voices();
    const std::uint64_t t0 = timing.frame;
    now_frame_ = t0;
    midi_out_count_ = 0;
    block_frames_ = nframes;
    recorders_.begin_block(t0, nframes);
    const bool recording = recorders_.enabled();
    const Clock before = clock_;
    clock_.begin_block(timing, config_.sample_rate);
    if (clock_.source() == ClockSource::link) follow_grid(before, t0);
    follow_link_playing(timing.link, t0);
    midi_transport(timing, nframes);
    if (clock_.bpm() != last_bpm_) {
        last_bpm_ = clock_.bpm();
        update_voice_rates();  // tempo-following slots keep in time with a tempo that moved
    }
    lock_loops(t0);

    take_commands(t0);
    if (recording) recorders_.advance(host_);

    for (std::uint32_t o = 0; o < config_.outputs; ++o) std::fill_n(outputs[o], nframes, 0.0F);

    // The block's MIDI, read ahead into the notes that act, each on its frame.
    read_midi(midi, nframes);
    std::uint32_t midi_next = 0;

    // Render up to each scheduled frame and MIDI event inside the block, then apply what is due
    // there: scheduled commands first, then MIDI, each in its order.
    std::uint32_t offset = 0;
    const std::uint64_t block_end = t0 + nframes;
    while (offset < nframes) {
        std::uint32_t until = nframes;
        if (scheduled_size_ > 0 && scheduled_[0].frame < block_end)
            until = static_cast<std::uint32_t>(std::max(scheduled_[0].frame, t0 + offset) - t0);
        if (midi_next < midi_action_count_)
            until = std::min(until, std::max(midi_actions_[midi_next].time, offset));
        // A take reaching the maximum length ends on its exact frame.
        if (recording)
            until = static_cast<std::uint32_t>(
                std::min<std::uint64_t>(recorders_.deadline(t0 + offset, block_end), t0 + until) -
                t0);
        if (until > offset) {
            midi_clock_ticks(t0 + offset, t0 + until);
            monitor_segment(outputs, offset, until - offset);
            render(outputs, offset, until - offset);
            if (recording) recorders_.process_segment(inputs_, offset, until - offset, host_);
            offset = until;
        }
        // Apply everything due at this frame (a quantized command may schedule itself later).
        const std::uint64_t now = t0 + offset;
        if (recording) recorders_.due(now, host_);
        std::size_t due = 0;
        while (due < scheduled_size_ && scheduled_[due].frame <= now) ++due;
        if (due > 0) {
            Command batch[16];
            const std::size_t take = std::min<std::size_t>(due, 16);
            std::copy_n(scheduled_.begin(), take, batch);
            std::copy(scheduled_.begin() + static_cast<std::ptrdiff_t>(take),
                      scheduled_.begin() + static_cast<std::ptrdiff_t>(scheduled_size_),
                      scheduled_.begin());
            scheduled_size_ -= take;
            for (std::size_t k = 0; k < take; ++k) apply(batch[k], now);
        }
        // Notes at this frame. Every action's frame is inside the block: the loop reaches it.
        while (midi_next < midi_action_count_ && midi_actions_[midi_next].time <= offset)
            midi_act(midi_actions_[midi_next++], now);
    }
    // A block of no frames (JACK never passes one) still plays its notes.
    while (midi_next < midi_action_count_) midi_act(midi_actions_[midi_next++], t0);

    publish_telemetry(outputs, nframes);
    std::uint32_t active = 0;
    for (const auto& v : voices_) active += v.active ? 1U : 0U;
    frames_ += nframes;
    inputs_ = InputBlock{};  // valid for this block only
    active_voices_.store(active, std::memory_order_relaxed);
    frame_clock_.store(frames_, std::memory_order_relaxed);
}

}  // namespace looperd
