// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <cstdint>
#include <type_traits>

namespace looperd {

class SampleBuffer;

enum class CommandKind : std::uint8_t {
    // Slots and voices
    assign_buffer,  // slot takes `buffer` (load or replace); the old one fades out and retires.
                    // value != 0 (a reload at a new sample rate): a loop, gate or toggle slot
                    // that was sounding starts again from its region's start on the new buffer
    unload,         // slot lets its buffer go; playing voices fade out
    play,           // value > 0: a press (start, or per mode) whose voice plays at `value` times
                    // the slot's gain (1: the slot's gain; a MIDI note's velocity below that);
                    // value == 0: a release (gate)
    stop,           // fade out every voice of the slot
    stop_all,       // fade out every voice
    // Slot parameters: kept by the slot, smoothed, applied to playing voices where it makes sense
    set_gain,      // linear 0..4
    set_mode,      // value: a SlotMode
    set_pan,       // -1 (left) .. 1 (right)
    set_rate,      // speed and pitch together, 0.125..8
    set_pitch,     // semitones, -24..24 (multiplies the rate)
    set_reverse,   // value != 0: play backwards
    set_start,     // fraction of the sample's length, 0..1
    set_end,       // fraction of the sample's length, 0..1
    set_xfade,     // loop seam crossfade, milliseconds
    set_poly,      // voices the slot may sound at once, 1..limits::kMaxPoly
    set_choke,     // choke group, 0 = none
    set_output,    // 0 = every output pair, k = output pair k (out_2k-1, out_2k)
    set_fade_in,   // milliseconds, 0 = sharp attack
    set_fade_out,  // milliseconds, applied on stop, retrigger and cuts
    set_quantize,  // 0 = none, -1 = bar, > 0 = that many beats
    set_beats,     // the slot's length in beats, 0 = off (rate follows the tempo when set)
    // Engine-wide
    set_master_gain,  // linear 0..4
    clock_tempo,      // beats per minute
    clock_meter,      // beats per bar
    clock_reset,      // the beat grid restarts at the command's frame
    clock_sync,       // value: a ClockSource
    // Recording (docs/recording.md); record and overdub are quantized like play
    record,       // a press: start a take; on a recording slot, end it and loop it
    overdub,      // toggle layering the slot's input onto its take
    undo,         // restore the take as it was before the last overdub pass
    redo,         // re-apply the last undone pass
    clear,        // empty the slot (take, undo layers) and return its recorder
    set_input,    // the input pair the slot records, 1.. (pair k: in_2k-1, in_2k)
    set_monitor,  // value != 0: the slot's input pair passes to its outputs
    // Engine-wide
    set_monitor_all,    // value != 0: every input passes to the output of the same number
    set_record_offset,  // frames from an output frame to the input frame played along with it
    // Keeping takes (docs/recording.md)
    snapshot,   // copy the slot's take into `buffer` (lent, 2 channels, capacity >= the longest
                // take); answered by snapshot_done or snapshot_refused with the buffer
    load_take,  // slot takes `buffer` as its take (owned by the engine from then): copied into
                // a free recorder, then it can be overdubbed like a recorded one. value != 0
                // (a reload at a new sample rate): a sounding slot starts it again
    clock_from_slot,  // tempo `value` (bpm), the beat grid's zero where the slot's take began
    // Engine-internal: a play or stop already moved onto its quantize grid frame.
    play_on_grid,
    stop_on_grid,
    record_on_grid,
    overdub_on_grid,
    // Engine-wide (after the rest, so that the numbers above stay as the golden tests wrote them)
    set_velocity_curve,  // value: a VelocityCurve, how MIDI note velocity scales a slot's gain
    set_midi_clock_out,  // value != 0: MIDI clock (24 ticks a beat) and Start go to the MIDI output
    // MIDI lights and the pad map (docs/midi.md#lights). Integers ride in `slot`, which is
    // exact (a float's 24 bits would do too, but a cast of a bad float is undefined).
    midi_send,       // one short message on the MIDI output at the command's frame:
                     // slot = status | d1 << 8 | d2 << 16 (size from the status byte)
    set_led_slot,    // the light of slot `slot`: value = status | number << 8, status 0x90 | ch
                     // (note) or 0xB0 | ch (CC); value 0: the slot has no light
    set_led_state,   // every light's message for a LedState: slot = state | data2 << 8 |
                     // channel << 16; channel 0..15 replaces the slot's, kLedSlotChannel keeps it
    set_pad_note,    // note `slot` (0..127) plays slot `value` (an integer; -1: no slot)
    set_led_init,    // up to 3 bytes of the message sent before a refresh (a controller's
                     // programmer mode SysEx): slot = b0 | b1 << 8 | b2 << 16 | count << 24,
                     // value = the bytes' offset (an integer; offset 0 starts the message anew)
    led_refresh,     // send the init message, then every light's current state
    set_midi_watch,  // slot: a midi_control_key; value: the channels (a 16-bit mask) on which
                     // such messages go to the control side (bindings), not to the default map
    set_midi_learn,  // value != 0: every bindable message goes to the control side, and
                     // notes play nothing (the next message is being learned)
    // The transport (docs/link.md#start-and-stop): engine-wide
    transport_stop,       // every sounding loop or toggle slot not recording stops and is held
    transport_start,      // the held slots start again on the next bar line
    set_start_stop_sync,  // value != 0: a Link session's start and stop (isPlaying) do the same
    // Time-stretching (docs/stretch.md)
    set_stretch,       // value: a StretchMode, how `beats` makes the slot follow the tempo
    assign_stretched,  // `buffer` (owned by the engine from then, like assign_buffer): the
                       // slot's region rendered to its `beats` at some tempo and its pitch;
                       // nullptr drops the rendering. Playing voices move to it at their next
                       // loop seam. Only for a slot whose sample has not changed since the
                       // render began (the sender checks; a later assign_buffer or unload
                       // drops the rendering). `content`: for a take, the take's content it
                       // was rendered from (snapshot_done's); the engine drops a rendering
                       // whose take has changed since. 0: rendered from a sample
    // Recording's memory on demand (docs/recording.md#memory): engine-wide, made off the audio
    // thread when RecorderPool publishes that it wants them; `buffer` is owned by the engine
    // from then (an unusable one is retired at once)
    assign_record_buffer,   // `buffer`: 2 channels, capacity max_record_frames, prefaulted; a
                            // recorder without memory takes it, and presses waiting start
    assign_undo_block,      // `buffer`: 1 channel of RecorderPool::undo_block_floats(n) floats
                            // for the next block n, prefaulted; its chunks join the undo arena
    record_memory_refused,  // no memory can be had (--memory-budget): every press or take load
                            // waiting for a record buffer is answered (record_memory_refused,
                            // take_load_refused)
};

// What a slot's light shows, one state at a time (docs/midi.md#lights has the precedence).
enum class LedState : std::uint8_t {
    empty = 0,
    loaded = 1,
    queued = 2,
    playing = 3,
    recording = 4,
    overdubbing = 5,
};
inline constexpr std::uint32_t kLedStates = 6;
// set_led_state's channel that keeps each slot's own channel.
inline constexpr std::uint32_t kLedSlotChannel = 0xFF;

enum class SlotMode : std::uint8_t { oneshot = 0, loop = 1, gate = 2, toggle = 3 };
enum class ClockSource : std::uint8_t { internal = 0, jack = 1, midi = 2, link = 3 };
// How a slot with `beats` follows the tempo: by its playback rate (pitch follows tempo), by a
// rendering stretched off the audio thread (pitch stays), or not at all.
enum class StretchMode : std::uint8_t { rate = 0, pitch = 1, off = 2 };

// Command: one network/loader → audio message. A value: slot index and numbers; the only
// pointer that crosses is to an immutable, prefaulted SampleBuffer whose ownership passes
// to the engine with the command.
//
// `frame` schedules it: 0 applies it at the start of the next block; otherwise it takes
// effect on exactly that JACK frame (the engine splits the block there), or at once if that
// frame has passed (counted as late).
struct Command {
    CommandKind kind = CommandKind::stop_all;
    std::uint32_t slot = 0;
    float value = 0.0F;
    // assign_stretched: the take content the rendering was made from (0: a sample).
    std::uint32_t content = 0;
    SampleBuffer* buffer = nullptr;
    std::uint64_t frame = 0;
};

static_assert(std::is_trivially_copyable_v<Command>);

// Commands whose buffer the engine owns once sent: a refused one hands it straight back
// (buffer_retired), and whatever is still queued when the engine goes is freed with it.
constexpr bool gives_buffer(CommandKind k) noexcept {
    return k == CommandKind::assign_buffer || k == CommandKind::load_take ||
           k == CommandKind::assign_stretched || k == CommandKind::assign_record_buffer ||
           k == CommandKind::assign_undo_block;
}
static_assert(sizeof(Command) <= 32, "commands stay small: they are copied through the ring");

}  // namespace looperd
