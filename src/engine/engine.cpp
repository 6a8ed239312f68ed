// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "looperd/engine.hpp"

#include <algorithm>
#include <cmath>
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
    if (c.sample_rate < 8000 || c.sample_rate > 768000)
        throw std::invalid_argument("sample rate must be 8000..768000");
    if (!(c.fade_ms >= 0.1F && c.fade_ms <= 1000.0F))
        throw std::invalid_argument("fade must be 0.1..1000 ms");
    if (!(c.gain_smooth_ms >= 0.1F && c.gain_smooth_ms <= 1000.0F))
        throw std::invalid_argument("gain smoothing must be 0.1..1000 ms");
}

}  // namespace

Engine::Engine(const EngineConfig& config)
    : config_((check_config(config), config)),
      commands_(config.command_capacity),
      // Retirements are bounded: commands are drained only while the backlog is empty, so one
      // block retires at most kMaxCommandsPerBlock slot buffers plus one buffer per voice, and
      // later blocks only the buffers voices still hold. See docs/architecture.md.
      events_(std::size_t{4} * (config.slots + config.voices) + kMaxCommandsPerBlock),
      backlog_(kMaxCommandsPerBlock + std::size_t{2} * config.voices + config.slots),
      slots_(config.slots),
      voices_(config.voices) {
    fade_frames_ = ms_to_frames(config_.fade_ms, config_.sample_rate);
    smooth_frames_ = ms_to_frames(config_.gain_smooth_ms, config_.sample_rate);
}

Engine::~Engine() {
    // Not concurrent with process(): collect every buffer still held or in flight, once each.
    std::vector<SampleBuffer*> owned;
    for (auto& s : slots_)
        if (s.buffer) owned.push_back(s.buffer);
    for (auto& v : voices_)
        if (v.active && v.buffer) owned.push_back(v.buffer);
    for (std::size_t i = 0; i < backlog_size_; ++i)
        if (backlog_[i].kind == EventKind::buffer_retired) owned.push_back(backlog_[i].buffer);
    Event e;
    while (events_.try_pop(e))
        if (e.kind == EventKind::buffer_retired) owned.push_back(e.buffer);
    Command c;
    while (commands_.try_pop(c))
        if (c.kind == CommandKind::assign_buffer && c.buffer) owned.push_back(c.buffer);
    std::sort(owned.begin(), owned.end());
    owned.erase(std::unique(owned.begin(), owned.end()), owned.end());
    for (auto* b : owned) delete b;
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
    pending_sample_rate_.store(sample_rate, std::memory_order_relaxed);
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
    if (--b->rt_refs() == 0) post({EventKind::buffer_retired, 0, b});
}

Voice* Engine::free_voice() noexcept {
    for (auto& v : voices_)
        if (!v.active) return &v;
    return nullptr;
}

void Engine::release(Voice& v) noexcept {
    if (v.releasing) return;
    v.releasing = true;
    v.envelope.go(0.0F, fade_frames_);
}

void Engine::retire_voice(Voice& v) noexcept {
    post({EventKind::voice_ended, v.slot, nullptr});
    SampleBuffer* b = v.buffer;
    v = Voice{};
    unref(b);
}

void Engine::play(std::uint32_t slot) noexcept {
    Slot& s = slots_[slot];
    if (!s.buffer) return;
    Voice* v = free_voice();
    if (!v) {
        // Policy: nothing that plays is cut to make room; the new start is refused.
        refused_voices_.fetch_add(1, std::memory_order_relaxed);
        post({EventKind::voice_refused, slot, nullptr});
        return;
    }
    // Retrigger: what plays of this slot fades out under the new start.
    for (auto& other : voices_)
        if (other.active && other.slot == slot) release(other);
    acquire(s.buffer);
    v->buffer = s.buffer;
    v->slot = slot;
    v->position = 0;
    v->started = frames_;
    v->active = true;
    v->loop = s.loop;
    v->releasing = false;
    v->gain.jump(s.gain);
    v->envelope.jump(1.0F);  // the first frame plays unchanged: attacks stay sharp
}

void Engine::apply(const Command& c) noexcept {
    const bool slot_command =
        c.kind != CommandKind::stop_all && c.kind != CommandKind::set_master_gain;
    if (slot_command && c.slot >= slots_.size()) {
        post({EventKind::bad_command, c.slot, nullptr});
        // An assign to a slot that does not exist hands its buffer straight back.
        if (c.kind == CommandKind::assign_buffer && c.buffer)
            post({EventKind::buffer_retired, 0, c.buffer});
        return;
    }
    switch (c.kind) {
        case CommandKind::assign_buffer:
        case CommandKind::unload: {
            Slot& s = slots_[c.slot];
            for (auto& v : voices_)
                if (v.active && v.slot == c.slot) release(v);
            SampleBuffer* old = s.buffer;
            s.buffer = c.kind == CommandKind::assign_buffer ? c.buffer : nullptr;
            if (s.buffer) acquire(s.buffer);
            if (old) unref(old);
            break;
        }
        case CommandKind::play:
            play(c.slot);
            break;
        case CommandKind::stop:
            for (auto& v : voices_)
                if (v.active && v.slot == c.slot) release(v);
            break;
        case CommandKind::set_gain:
            slots_[c.slot].gain = c.value;
            for (auto& v : voices_)
                if (v.active && v.slot == c.slot) v.gain.go(c.value, smooth_frames_);
            break;
        case CommandKind::set_mode:
            slots_[c.slot].loop = c.value == static_cast<float>(SlotMode::loop);
            for (auto& v : voices_)
                if (v.active && v.slot == c.slot) v.loop = slots_[c.slot].loop;
            break;
        case CommandKind::stop_all:
            for (auto& v : voices_)
                if (v.active) release(v);
            break;
        case CommandKind::set_master_gain:
            master_.go(c.value, smooth_frames_);
            break;
        default:
            break;
    }
}

void Engine::render_voice(Voice& v, float* const* out, std::uint32_t offset,
                          std::uint32_t n) noexcept {
    const SampleBuffer& b = *v.buffer;
    const std::uint32_t frames = b.frames();
    const std::uint32_t in_channels = b.channels();
    const std::uint32_t out_channels = config_.outputs;
    // Channel mapping: pair p takes input channel p % K to output p % N, for p < max(K, N).
    // Mono reaches every output, stereo every output pair, K > N channels fold onto outputs.
    const std::uint32_t pairs = std::max(in_channels, out_channels);

    const bool constant = !v.gain.moving() && !v.envelope.moving();
    const float constant_gain = v.gain.value * v.envelope.value;
    float gains[limits::kRenderChunkFrames];
    if (!constant) {
        float envelope[limits::kRenderChunkFrames];
        v.gain.fill(gains, n);
        v.envelope.fill(envelope, n);
        for (std::uint32_t i = 0; i < n; ++i) gains[i] *= envelope[i];
    }

    std::uint32_t done = 0;
    bool ended = frames == 0;
    while (done < n && !ended) {
        const std::uint32_t m = std::min(n - done, frames - v.position);
        for (std::uint32_t p = 0; p < pairs; ++p) {
            const float* __restrict src = b.channel(p % in_channels) + v.position;
            float* __restrict dst = out[p % out_channels] + offset + done;
            if (constant) {
                for (std::uint32_t i = 0; i < m; ++i) dst[i] += src[i] * constant_gain;
            } else {
                const float* g = gains + done;
                for (std::uint32_t i = 0; i < m; ++i) dst[i] += src[i] * g[i];
            }
        }
        v.position += m;
        done += m;
        if (v.position == frames) {
            if (v.loop) {
                v.position = 0;  // exact wrap: the next frame is the sample's first
            } else {
                ended = true;
            }
        }
    }
    if (ended || (v.releasing && !v.envelope.moving())) retire_voice(v);
}

void Engine::process(float* const* outputs, std::uint32_t nframes) noexcept {
    BlockTiming timing;
    timing.frame = frames_;
    process(outputs, nframes, timing);
}

void Engine::process(float* const* outputs, std::uint32_t nframes,
                     const BlockTiming& timing) noexcept {
    (void)timing;
    ScopedFlushDenormals ftz;

    if (const auto rate = pending_sample_rate_.exchange(0, std::memory_order_relaxed); rate != 0) {
        config_.sample_rate = rate;
        fade_frames_ = ms_to_frames(config_.fade_ms, rate);
        smooth_frames_ = ms_to_frames(config_.gain_smooth_ms, rate);
    }

    flush_backlog();
    // While retirements are backed up, leave new commands queued: this keeps the backlog bound.
    if (backlog_size_ == 0) {
        Command c;
        for (std::size_t i = 0;
             i < kMaxCommandsPerBlock && backlog_size_ == 0 && commands_.try_pop(c); ++i)
            apply(c);
    }

    for (std::uint32_t o = 0; o < config_.outputs; ++o) std::fill_n(outputs[o], nframes, 0.0F);

    for (std::uint32_t offset = 0; offset < nframes; offset += limits::kRenderChunkFrames) {
        const std::uint32_t n = std::min(limits::kRenderChunkFrames, nframes - offset);
        for (auto& v : voices_)
            if (v.active) render_voice(v, outputs, offset, n);
        if (master_.moving()) {
            float g[limits::kRenderChunkFrames];
            master_.fill(g, n);
            for (std::uint32_t o = 0; o < config_.outputs; ++o)
                for (std::uint32_t i = 0; i < n; ++i) outputs[o][offset + i] *= g[i];
        } else if (master_.value != 1.0F) {
            for (std::uint32_t o = 0; o < config_.outputs; ++o)
                for (std::uint32_t i = 0; i < n; ++i) outputs[o][offset + i] *= master_.value;
        }
    }

    std::uint32_t active = 0;
    for (const auto& v : voices_) active += v.active ? 1U : 0U;
    frames_ += nframes;
    active_voices_.store(active, std::memory_order_relaxed);
    frame_clock_.store(frames_, std::memory_order_relaxed);
}

}  // namespace looperd
