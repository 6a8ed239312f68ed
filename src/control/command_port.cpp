// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "control/command_port.hpp"

namespace looperd {

CommandPort::CommandPort(Send send, Room room) : send_(std::move(send)), room_(std::move(room)) {}

bool CommandPort::send(const Command& c) {
    std::lock_guard lock(mutex_);
    return send_(c);
}

std::size_t CommandPort::send_all(std::span<const Command> commands) {
    std::lock_guard lock(mutex_);
    // Only the audio thread takes from the ring meanwhile, so the room can only grow.
    if (room_ && room_() < commands.size()) return 0;
    std::size_t sent = 0;
    for (const auto& c : commands) {
        if (!send_(c)) break;
        ++sent;
    }
    return sent;
}

}  // namespace looperd
