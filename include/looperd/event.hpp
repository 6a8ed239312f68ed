// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <cstdint>
#include <type_traits>

namespace looperd {

class SampleBuffer;

enum class EventKind : std::uint8_t {
    buffer_retired,  // the engine no longer reads `buffer`: free it off the audio thread
    voice_ended,     // a voice of `slot` finished (sample end or fade out)
    voice_refused,   // a play of `slot` found no free voice (pool exhausted) and was ignored
    bad_command,     // a command named a slot outside the table; it was ignored
    // Recording (docs/recording.md). `frames`: the take's length where it applies.
    take_started,       // `slot` began recording a take
    take_finished,      // the take of `slot` ended (`frames` long) and loops
    take_max_reached,   // the take of `slot` reached the maximum length: it ended and loops
    recorder_refused,   // a record press on `slot` found no free recorder; nothing changed
    overdub_started,    // an overdub pass on `slot` began
    overdub_ended,      // the overdub pass on `slot` ended
    overdub_undo_full,  // undo memory ran out: the overdub pass on `slot` ended there
    undo_done,          // the last pass on `slot` was undone
    redo_done,          // the last undone pass on `slot` was re-applied
    undo_refused,       // an undo or redo on `slot` had nothing to undo or redo
    // Keeping takes. `buffer`: the buffer the snapshot command lent, handed back.
    snapshot_done,      // `buffer` holds the take of `slot`, `frames` long; `content`: the
                        // take's content it was copied from (0: changing as it was copied)
    snapshot_refused,   // `slot` held no take (or lost it while copying): `buffer` is unchanged
    take_loaded,        // the take given to `slot` by load_take is in a recorder (`frames` long)
    take_load_refused,  // no free recorder, or too long: `slot` plays it as a sample instead
    tempo_refused,      // clock_from_slot: `slot` holds no take, nothing changed
    // MIDI clock in (/clock/sync midi)
    midi_clock_found,  // a tick came after none (or after a loss): the grid follows it
    midi_clock_lost,   // no tick for MidiClockIn::kLossSeconds: the grid runs on at the last tempo
    // Recording's memory on demand (docs/recording.md#memory)
    record_waiting,         // a record press or take load on `slot` waits for a record buffer
    record_memory_refused,  // the record press waiting on `slot` was refused: no memory
};

// Event: one audio → housekeeping message. Trivially copyable, like Command.
struct Event {
    EventKind kind = EventKind::voice_ended;
    std::uint32_t slot = 0;
    SampleBuffer* buffer = nullptr;
    std::uint32_t frames = 0;
    std::uint32_t content = 0;  // snapshot_done: RecorderPool::take_content as it was copied
};

static_assert(std::is_trivially_copyable_v<Event>);
static_assert(sizeof(Event) <= 32);

}  // namespace looperd
