// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "jack_midi.hpp"

#include <jack/midiport.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <thread>

#include "jack_server.hpp"

namespace looperd::test {

using Clock = std::chrono::steady_clock;

namespace {

jack_client_t* open_client(const char* name, const char* role, const std::string& server_name) {
    jack_status_t status{};
    jack_client_t* client =
        jack_client_open(name, static_cast<jack_options_t>(JackNoStartServer | JackServerName),
                         &status, server_name.c_str());
    if (client == nullptr) {
        throw std::runtime_error(std::string(role) + ": cannot open a JACK client on '" +
                                 server_name + "' (status 0x" + std::to_string(status) + ")");
    }
    return client;
}

}  // namespace

JackMidiSender::JackMidiSender(const std::string& server_name, std::size_t capacity) {
    // vector's zero fill touches every page before the callback can see it.
    slots_.assign(capacity, Slot{});
    bytes_.assign(capacity * kMaxMidiEventBytes, 0);
    cycles_.assign(capacity, kRefused);
    client_ = open_client("looperd-test-midi-sender", "midi sender", server_name);
    port_ = jack_port_register(client_, "out", JACK_DEFAULT_MIDI_TYPE, JackPortIsOutput, 0);
    if (port_ == nullptr) {
        jack_client_close(client_);
        throw std::runtime_error("midi sender: cannot register out");
    }
    jack_set_process_callback(client_, &JackMidiSender::process_trampoline, this);
    if (jack_activate(client_) != 0) {
        jack_client_close(client_);
        throw std::runtime_error("midi sender: cannot activate");
    }
}

JackMidiSender::~JackMidiSender() {
    jack_deactivate(client_);
    jack_client_close(client_);
}

void JackMidiSender::connect(const std::string& destination_port) {
    const int r = jack_connect(client_, jack_port_name(port_), destination_port.c_str());
    if (r != 0 && r != EEXIST) {
        throw std::runtime_error("midi sender: cannot connect " +
                                 std::string(jack_port_name(port_)) + " to " + destination_port +
                                 " (" + std::to_string(r) + ")");
    }
}

void JackMidiSender::send(const std::vector<MidiEvent>& events) {
    const State s = state_.load(std::memory_order_acquire);
    if (s != State::kIdle && s != State::kDone)
        throw std::runtime_error("midi sender: the previous list is still being sent");
    if (events.size() > slots_.size())
        throw std::runtime_error("midi sender: " + std::to_string(events.size()) +
                                 " events, capacity " + std::to_string(slots_.size()));
    for (std::size_t k = 0; k < events.size(); ++k) {
        const MidiEvent& e = events[k];
        if (e.bytes.empty() || e.bytes.size() > kMaxMidiEventBytes)
            throw std::runtime_error("midi sender: event " + std::to_string(k) + " has " +
                                     std::to_string(e.bytes.size()) + " bytes, not 1 to " +
                                     std::to_string(kMaxMidiEventBytes));
        if (k > 0 && e.frame_offset < events[k - 1].frame_offset)
            throw std::runtime_error("midi sender: event " + std::to_string(k) +
                                     " comes before the one ahead of it");
        slots_[k] = Slot{e.frame_offset, e.bytes.size()};
        std::copy(e.bytes.begin(), e.bytes.end(),
                  bytes_.begin() + static_cast<std::ptrdiff_t>(k * kMaxMidiEventBytes));
    }
    count_ = events.size();
    lost_.store(0, std::memory_order_relaxed);
    late_.store(0, std::memory_order_relaxed);
    state_.store(State::kArmed, std::memory_order_release);
    const auto deadline = Clock::now() + kHangBound;
    while (state_.load(std::memory_order_acquire) == State::kArmed) {
        if (Clock::now() >= deadline)
            throw std::runtime_error("midi sender: no JACK cycle in " +
                                     std::to_string(kHangBound.count()) + " s");
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

std::vector<std::uint32_t> JackMidiSender::written_cycles() const {
    const State s = state_.load(std::memory_order_acquire);
    if (s != State::kIdle && s != State::kDone)
        throw std::runtime_error("midi sender: the list is still being sent");
    return {cycles_.begin(), cycles_.begin() + static_cast<std::ptrdiff_t>(count_)};
}

bool JackMidiSender::wait_done(std::chrono::milliseconds timeout) const {
    const auto deadline = Clock::now() + timeout;
    while (state_.load(std::memory_order_acquire) != State::kDone) {
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
}

int JackMidiSender::process_trampoline(jack_nframes_t nframes, void* self) {
    return static_cast<JackMidiSender*>(self)->process(nframes);
}

int JackMidiSender::process(jack_nframes_t nframes) noexcept {
    // An output port's buffer keeps whatever it held until cleared: clear it every cycle.
    void* buffer = jack_port_get_buffer(port_, nframes);
    jack_midi_clear_buffer(buffer);

    State state = state_.load(std::memory_order_acquire);
    const std::uint32_t now = jack_last_frame_time(client_);
    if (state == State::kArmed) {
        next_ = 0;
        cycle_frame_ = now;
        cycle_offset_ = 0;
        cycle_index_ = 0;
        start_frame_.store(now, std::memory_order_release);
        state = State::kSending;
        // The test thread only waits while armed, so nothing else moves the state now.
        state_.store(state, std::memory_order_release);
    } else if (state == State::kSending) {
        // Usually nframes; more when JACK ran cycles without this client. Unsigned difference:
        // right across the 32-bit frame time's wrap.
        cycle_offset_ += static_cast<std::uint32_t>(now - cycle_frame_);
        cycle_frame_ = now;
        ++cycle_index_;
    }
    if (state != State::kSending) return 0;

    // Every event whose frame falls before this cycle's end, in the list's order: JACK wants
    // times that never decrease, and keeps events of one time in the order written.
    const std::uint64_t end = cycle_offset_ + nframes;
    for (; next_ < count_ && slots_[next_].frame_offset < end; ++next_) {
        const Slot& slot = slots_[next_];
        jack_nframes_t time = 0;
        if (slot.frame_offset >= cycle_offset_) {
            time = static_cast<jack_nframes_t>(slot.frame_offset - cycle_offset_);
        } else {
            late_.fetch_add(1, std::memory_order_relaxed);
        }
        if (jack_midi_event_write(buffer, time, &bytes_[next_ * kMaxMidiEventBytes], slot.size) !=
            0) {
            lost_.fetch_add(1, std::memory_order_relaxed);
            cycles_[next_] = kRefused;
        } else {
            cycles_[next_] = cycle_index_;
        }
    }
    // send() never arms while sending, so only this callback leaves kSending: a store will do.
    if (next_ == count_) state_.store(State::kDone, std::memory_order_release);
    return 0;
}

JackMidiReceiver::JackMidiReceiver(const std::string& server_name, std::size_t capacity,
                                   bool from_the_start) {
    if (from_the_start) state_.store(State::kArmed, std::memory_order_relaxed);
    // vector's value-initialisation zero fills, touching every page before the callback can see
    // it.
    slots_.assign(capacity, Slot{});
    client_ = open_client("looperd-test-midi-receiver", "midi receiver", server_name);
    port_ = jack_port_register(client_, "in", JACK_DEFAULT_MIDI_TYPE, JackPortIsInput, 0);
    if (port_ == nullptr) {
        jack_client_close(client_);
        throw std::runtime_error("midi receiver: cannot register in");
    }
    jack_set_process_callback(client_, &JackMidiReceiver::process_trampoline, this);
    if (jack_activate(client_) != 0) {
        jack_client_close(client_);
        throw std::runtime_error("midi receiver: cannot activate");
    }
}

JackMidiReceiver::~JackMidiReceiver() {
    jack_deactivate(client_);
    jack_client_close(client_);
}

void JackMidiReceiver::connect(const std::string& source_port) {
    const int r = jack_connect(client_, source_port.c_str(), jack_port_name(port_));
    if (r != 0 && r != EEXIST) {
        throw std::runtime_error("midi receiver: cannot connect " + source_port + " to " +
                                 jack_port_name(port_) + " (" + std::to_string(r) + ")");
    }
}

void JackMidiReceiver::start() {
    overflowed_.store(false, std::memory_order_relaxed);
    state_.store(State::kArmed, std::memory_order_release);
    const auto deadline = Clock::now() + kHangBound;
    while (state_.load(std::memory_order_acquire) != State::kRecording) {
        if (Clock::now() >= deadline)
            throw std::runtime_error("midi receiver: no JACK cycle in " +
                                     std::to_string(kHangBound.count()) + " s");
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

void JackMidiReceiver::stop() {
    state_.store(State::kIdle, std::memory_order_release);
}

std::vector<ReceivedMidiEvent> JackMidiReceiver::snapshot() const {
    const std::size_t n = events();
    std::vector<ReceivedMidiEvent> out;
    out.reserve(n);
    for (std::size_t k = 0; k < n; ++k) {
        const Slot& s = slots_[k];
        const std::size_t kept = std::min(s.size, kMaxMidiEventBytes);
        out.push_back(ReceivedMidiEvent{
            s.frame, std::vector<std::uint8_t>(s.bytes.begin(), s.bytes.begin() + kept),
            s.size > kMaxMidiEventBytes});
    }
    return out;
}

std::size_t JackMidiReceiver::wait_for_events(std::size_t count,
                                              std::chrono::milliseconds timeout) const {
    const auto deadline = Clock::now() + timeout;
    while (events() < count && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return events();
}

int JackMidiReceiver::process_trampoline(jack_nframes_t nframes, void* self) {
    return static_cast<JackMidiReceiver*>(self)->process(nframes);
}

int JackMidiReceiver::process(jack_nframes_t nframes) noexcept {
    State state = state_.load(std::memory_order_acquire);
    const std::uint32_t now = jack_last_frame_time(client_);
    if (state == State::kArmed) {
        published_.store(0, std::memory_order_release);
        start_frame_.store(now, std::memory_order_release);
        state_.compare_exchange_strong(state, State::kRecording, std::memory_order_acq_rel);
        state = State::kRecording;
    }
    if (state != State::kRecording) return 0;

    void* buffer = jack_port_get_buffer(port_, nframes);
    const std::uint32_t count = jack_midi_get_event_count(buffer);
    std::size_t at = published_.load(std::memory_order_relaxed);
    for (std::uint32_t i = 0; i < count; ++i) {
        jack_midi_event_t event{};
        if (jack_midi_event_get(&event, buffer, i) != 0) continue;
        if (at == slots_.size()) {
            overflowed_.store(true, std::memory_order_relaxed);
            break;
        }
        Slot& slot = slots_[at++];
        // 32-bit arithmetic, so the frame wraps where JACK's frame time does.
        slot.frame = static_cast<std::uint32_t>(now + event.time);
        slot.size = event.size;
        std::copy_n(event.buffer, std::min(event.size, kMaxMidiEventBytes), slot.bytes.begin());
    }
    published_.store(at, std::memory_order_release);
    return 0;
}

}  // namespace looperd::test
