// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <cstdint>

namespace looperd {

// What the host (JACK) tells the engine about time, once per block. Plain numbers: the engine
// knows nothing of JACK.
struct TransportInfo {
    bool valid = false;    // a timebase master provides bar/beat/tempo
    bool rolling = false;  // the transport is rolling
    double bpm = 120.0;    // beats per minute
    double beats_per_bar = 4.0;
    double beat = 0.0;  // beats since the transport's zero, at the block's first frame
};

// An Ableton Link session as the block's first frame will sound (docs/link.md).
struct LinkInfo {
    bool valid = false;    // looperd is in a Link session
    double bpm = 120.0;    // the session's tempo
    double beat = 0.0;     // the session's beat at the block's first frame, phase-aligned
    bool playing = false;  // the session's start/stop state (Link's isPlaying)
    // The last start or stop this session has told looperd of: known once a peer (or looperd)
    // started or stopped it since looperd joined (Link tells a newcomer only of changes), and
    // the session's beat (over a quantum of 1) where it took effect, which names it: a start
    // or stop that repeats the state (a stop heard by a rig that joined late) is still new.
    bool start_stop_known = false;
    double start_stop_beat = 0.0;
};

struct BlockTiming {
    std::uint64_t frame = 0;  // the host's frame time of the block's first frame
    TransportInfo transport;
    LinkInfo link;
};

}  // namespace looperd
