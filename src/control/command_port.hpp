// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <cstddef>
#include <functional>
#include <mutex>
#include <span>

#include "looperd/command.hpp"

namespace looperd {

// CommandPort: the one way into the engine's command ring, whose single producer may be any of
// the network, loader, take and main threads. Its lock makes them one producer at a time, off
// the audio thread. Lock order: a mirror Transaction may be held while sending, never the
// other way round.
class CommandPort {
  public:
    using Send = std::function<bool(const Command&)>;  // false: the ring is full
    // Places free in the ring, as seen by the producer: never more than there are. Empty:
    // unknown.
    using Room = std::function<std::size_t()>;

    explicit CommandPort(Send send, Room room = {});

    // Any thread. False: the ring is full and the command was dropped.
    bool send(const Command& c);
    // Any thread: the commands in order, all or none when the room is known. Returns how many
    // were sent (with the room unknown, those before the first the ring refused).
    std::size_t send_all(std::span<const Command> commands);

  private:
    std::mutex mutex_;
    Send send_;
    Room room_;
};

}  // namespace looperd
