// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <jack/jack.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace looperd::test {

// The longest MIDI event the test clients keep whole (a SysEx fits; a MIDI 1.0 message is 1 to
// 3 bytes).
inline constexpr std::size_t kMaxMidiEventBytes = 256;

// One event for JackMidiSender: `bytes` go out `frame_offset` frames after the sender's
// start_frame().
struct MidiEvent {
    std::uint64_t frame_offset = 0;
    std::vector<std::uint8_t> bytes;
};

// One event JackMidiReceiver saw: at JACK frame `frame` (the cycle's jack_last_frame_time plus
// the event's time in the cycle, 32-bit frame time arithmetic, so it wraps as JACK's does).
struct ReceivedMidiEvent {
    std::uint64_t frame = 0;
    std::vector<std::uint8_t> bytes;  // the first kMaxMidiEventBytes of the event
    bool truncated = false;           // the event was longer than kMaxMidiEventBytes
};

// JackMidiSender: the test's own MIDI source. Registers one MIDI output port `out` and sends a
// list of events the test hands it, once, each on its exact frame. The events are copied into
// storage allocated and touched up front, so the process callback never allocates. The test
// thread owns the object and calls every method; the process callback reads the events, and
// records what became of each, only between send() and the last event, while the test thread
// leaves them alone.
class JackMidiSender {
  public:
    // Throws std::runtime_error if the server cannot be reached. Lists of up to `capacity`
    // events of up to kMaxMidiEventBytes each.
    JackMidiSender(const std::string& server_name, std::size_t capacity);
    ~JackMidiSender();
    JackMidiSender(const JackMidiSender&) = delete;
    JackMidiSender& operator=(const JackMidiSender&) = delete;

    // Connects `out` to `destination_port` (e.g. "looperd:midi_in").
    void connect(const std::string& destination_port);

    // Sends `events` (sorted by frame_offset; 1 to kMaxMidiEventBytes bytes each) from the next
    // cycle on: that cycle's first frame is offset 0, and events at one frame go out in the
    // list's order. Returns once that cycle has begun (waits up to kHangBound, then throws);
    // start_frame() is then valid. Throws std::runtime_error if the list does not fit or is
    // not sorted, or while a previous list is still being sent.
    void send(const std::vector<MidiEvent>& events);
    // Waits until every event was written (or refused) or `timeout` passes. Returns whether
    // every one was.
    bool wait_done(std::chrono::milliseconds timeout) const;

    // The JACK frame time of offset 0.
    std::uint32_t start_frame() const noexcept {
        return start_frame_.load(std::memory_order_acquire);
    }
    // Events of the last list JACK refused (the port's buffer was full).
    std::uint64_t lost() const noexcept { return lost_.load(std::memory_order_relaxed); }
    // What became of each event of the last list, in the list's order: the cycle it was written
    // in, counted from the list's first (the one holding offset 0), or kRefused. The events of
    // one cycle reach the port's destinations together, in that cycle, which is what a
    // receiver's per-cycle budget is counted on. Throws std::runtime_error while the list is
    // still being sent (call it once wait_done() returned true).
    static constexpr std::uint32_t kRefused = 0xFFFFFFFF;
    std::vector<std::uint32_t> written_cycles() const;
    // Events of the last list written after their frame, at the start of a later cycle,
    // because the cycle that held their frame never ran for this client (JACK skipped it).
    std::uint64_t late() const noexcept { return late_.load(std::memory_order_relaxed); }
    std::string client_name() const { return jack_get_client_name(client_); }

  private:
    enum class State : int { kIdle, kArmed, kSending, kDone };

    // Where one event of the list sits in bytes_.
    struct Slot {
        std::uint64_t frame_offset = 0;
        std::size_t size = 0;
    };

    static int process_trampoline(jack_nframes_t nframes, void* self);
    int process(jack_nframes_t nframes) noexcept;

    jack_client_t* client_ = nullptr;
    jack_port_t* port_ = nullptr;

    // Written by the test thread while the callback leaves them alone (idle or done), then
    // published by the release store of kArmed. Event k's bytes start at k * kMaxMidiEventBytes.
    std::vector<Slot> slots_;
    std::vector<std::uint8_t> bytes_;
    std::size_t count_ = 0;

    // Written by the callback for each event it handles, read by the test thread once the list
    // is done (published by the release store of kDone): its cycle, or kRefused.
    std::vector<std::uint32_t> cycles_;

    // Callback only: the next event to write, the frame time of the last cycle and how many
    // frames after offset 0 it began (64 bits: offsets may pass the 32-bit frame time's wrap),
    // and how many cycles came before it since the list's first.
    std::size_t next_ = 0;
    std::uint32_t cycle_frame_ = 0;
    std::uint64_t cycle_offset_ = 0;
    std::uint32_t cycle_index_ = 0;

    std::atomic<State> state_{State::kIdle};
    std::atomic<std::uint32_t> start_frame_{0};
    std::atomic<std::uint64_t> lost_{0};
    std::atomic<std::uint64_t> late_{0};
};

// JackMidiReceiver: the test's own MIDI capture client. Registers one MIDI input port `in` and
// records every event with its JACK frame into slots allocated and touched up front, so the
// process callback never allocates. The test thread owns the object and calls every method;
// the process callback only writes slots past the published count.
class JackMidiReceiver {
  public:
    // Throws std::runtime_error if the server cannot be reached. Records up to `capacity`
    // events; later ones are dropped and overflowed() says so. `from_the_start`: records from
    // its first cycle on, without start(), for a port looperd may connect and send to as soon
    // as it is registered.
    JackMidiReceiver(const std::string& server_name, std::size_t capacity,
                     bool from_the_start = false);
    ~JackMidiReceiver();
    JackMidiReceiver(const JackMidiReceiver&) = delete;
    JackMidiReceiver& operator=(const JackMidiReceiver&) = delete;

    // Connects `source_port` (e.g. "looperd:midi_out") to `in`.
    void connect(const std::string& source_port);

    // Discards what was recorded and records from the next cycle on. Returns once the first
    // recording cycle has begun (waits up to kHangBound, then throws).
    void start();
    // Stops recording; the recording stays readable.
    void stop();

    // The JACK frame time of the first recorded cycle (valid once start() has returned).
    std::uint32_t start_frame() const noexcept {
        return start_frame_.load(std::memory_order_acquire);
    }
    // Events recorded so far.
    std::size_t events() const noexcept { return published_.load(std::memory_order_acquire); }
    // A copy of the recorded events, in the order they arrived.
    std::vector<ReceivedMidiEvent> snapshot() const;
    // Waits until at least `count` events are recorded or `timeout` passes. Returns events().
    std::size_t wait_for_events(std::size_t count, std::chrono::milliseconds timeout) const;

    // Events arrived after `capacity` were recorded, and were dropped.
    bool overflowed() const noexcept { return overflowed_.load(std::memory_order_relaxed); }
    std::string client_name() const { return jack_get_client_name(client_); }

  private:
    enum class State : int { kIdle, kArmed, kRecording };

    struct Slot {
        std::uint64_t frame = 0;
        std::size_t size = 0;  // as received; more than bytes.size() when truncated
        std::array<std::uint8_t, kMaxMidiEventBytes> bytes{};
    };

    static int process_trampoline(jack_nframes_t nframes, void* self);
    int process(jack_nframes_t nframes) noexcept;

    jack_client_t* client_ = nullptr;
    jack_port_t* port_ = nullptr;
    std::vector<Slot> slots_;

    // The test thread arms; the callback moves kArmed to kRecording when it resets the count,
    // so a reset never races with a copy.
    std::atomic<State> state_{State::kIdle};
    // Release-published by the callback after a cycle's events are copied: slots below it are
    // final.
    std::atomic<std::size_t> published_{0};
    std::atomic<std::uint32_t> start_frame_{0};
    std::atomic<bool> overflowed_{false};
};

}  // namespace looperd::test
