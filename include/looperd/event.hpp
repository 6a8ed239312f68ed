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
};

// Event: one audio → housekeeping message. Trivially copyable, like Command.
struct Event {
    EventKind kind = EventKind::voice_ended;
    std::uint32_t slot = 0;
    SampleBuffer* buffer = nullptr;
};

static_assert(std::is_trivially_copyable_v<Event>);
static_assert(sizeof(Event) <= 32);

}  // namespace looperd
