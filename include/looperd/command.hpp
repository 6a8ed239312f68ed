// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <cstdint>
#include <type_traits>

namespace looperd {

class SampleBuffer;

enum class CommandKind : std::uint8_t {
    assign_buffer,    // slot takes `buffer` (load or replace); the old one fades out and retires
    unload,           // slot lets its buffer go; playing voices fade out
    play,             // start the slot from its first frame; retriggers a playing slot
    stop,             // fade out every voice of the slot
    set_gain,         // slot gain, linear, smoothed
    set_loop,         // value != 0: loop; applies to playing voices too
    stop_all,         // fade out every voice
    set_master_gain,  // master gain, linear, smoothed
};

// Command: one network/loader → audio message. A value: slot index and numbers; the only
// pointer that crosses is to an immutable, prefaulted SampleBuffer whose ownership passes
// to the engine with the command.
struct Command {
    CommandKind kind = CommandKind::stop_all;
    std::uint32_t slot = 0;
    float value = 0.0F;
    SampleBuffer* buffer = nullptr;
};

static_assert(std::is_trivially_copyable_v<Command>);
static_assert(sizeof(Command) <= 32, "commands stay small: they are copied through the ring");

}  // namespace looperd
