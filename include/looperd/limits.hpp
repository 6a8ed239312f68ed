// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

// Every fixed capacity and default the audio path relies on, in one place.

#include <cstddef>
#include <cstdint>

namespace looperd::limits {

inline constexpr std::uint32_t kDefaultSlots = 128;
inline constexpr std::uint32_t kMaxSlots = 4096;
inline constexpr std::uint32_t kDefaultVoices = 256;
inline constexpr std::uint32_t kMaxVoices = 4096;
inline constexpr std::uint32_t kDefaultOutputs = 2;
inline constexpr std::uint32_t kMaxOutputs = 64;
inline constexpr std::uint32_t kMaxSampleChannels = 64;

// Commands the network thread may queue before the audio thread drains them.
inline constexpr std::size_t kDefaultCommandCapacity = 1024;
inline constexpr std::size_t kMaxCommandCapacity = 1 << 20;

// Commands waiting for their frame (timetagged bundles, quantized starts).
inline constexpr std::size_t kDefaultScheduledCapacity = 1024;
inline constexpr std::size_t kMaxScheduledCapacity = 1 << 16;

// Voices one slot may sound at once.
inline constexpr std::uint32_t kMaxPoly = 64;
inline constexpr std::uint32_t kMaxChokeGroup = 64;
// MIDI input read per block at most (events, and their bytes together): beyond them the block's
// events are dropped and counted, so that a flood cannot stretch one callback.
inline constexpr std::uint32_t kMaxMidiEventsPerBlock = 256;
inline constexpr std::uint32_t kMaxMidiBytesPerBlock = 8192;
// Notes acting per block at most (beyond: dropped and counted), and frames the render is split
// at for them: a split costs every voice a little, so past the 16th distinct frame in one block
// (a flood, not playing) the later notes act on the 16th's frame.
inline constexpr std::uint32_t kMaxMidiActionsPerBlock = 256;
inline constexpr std::uint32_t kMaxMidiSplitsPerBlock = 16;
// The default MIDI map: note kFirstSlotNote plays slot 0, the next slot 1, and so on (General
// MIDI's bass drum, where drum pads start), on any channel.
inline constexpr std::uint32_t kFirstSlotNote = 36;
// Bound MIDI messages (docs/midi.md, "Bindings") waiting for the control side, which takes
// them every few milliseconds: beyond this many, later ones are dropped and counted.
inline constexpr std::size_t kMidiControlCapacity = 1024;
// MIDI output the engine writes per block at most (clock ticks, transport): beyond it the
// block's later messages are dropped and counted. A block of 8192 frames at 999 BPM holds 69
// clock ticks.
inline constexpr std::uint32_t kMaxMidiOutEventsPerBlock = 256;
// The message sent before a refresh of the lights (a controller's programmer-mode SysEx) is at
// most this long: the longest known is Launchpad's, 9 bytes.
inline constexpr std::uint32_t kMaxMidiInitBytes = 256;

// The audio thread renders in chunks of at most this many frames so that per-frame gain
// ramps fit in a stack array; JACK's nframes may be any size.
inline constexpr std::uint32_t kRenderChunkFrames = 256;

// Fade applied to stops, retriggers and cuts; and how long a gain change takes.
inline constexpr float kDefaultFadeMs = 5.0F;
// The shortest fade out a slot may have (/slot/<n>/fade_out, --fade-ms): shorter clicks.
// A double: a control's range compares its argument with it as given (0.1 is accepted).
inline constexpr double kMinFadeMs = 0.1;
inline constexpr float kDefaultGainSmoothMs = 10.0F;

inline constexpr float kMaxSlotGain = 4.0F;
inline constexpr float kMaxMasterGain = 4.0F;

// Recording: JACK inputs, the recorder pool (each recorder one stereo buffer of the maximum
// take length) and the undo arena shared by all of them (docs/recording.md has the formula).
inline constexpr std::uint32_t kDefaultInputs = 2;
inline constexpr std::uint32_t kMaxInputs = 64;
inline constexpr std::uint32_t kDefaultRecorders = 8;
inline constexpr std::uint32_t kMaxRecorders = 64;
inline constexpr float kDefaultMaxRecordSeconds = 60.0F;
inline constexpr float kMaxRecordSeconds = 3600.0F;
inline constexpr std::uint32_t kDefaultUndoLevels = 8;
inline constexpr std::uint32_t kMaxUndoLevels = 256;
inline constexpr std::uint32_t kDefaultUndoMemoryMib = 128;
inline constexpr std::uint32_t kMaxUndoMemoryMib = 4096;
// Undo saves and restores the take in chunks of this many frames (both channels).
inline constexpr std::uint32_t kUndoChunkFrames = 4096;
// Chunks an undo or redo swaps per block, so that undoing a long take costs no xrun.
inline constexpr std::uint32_t kUndoChunksPerBlock = 32;
// Chunks a snapshot (saving a take) or a load_take copies per block: 1 MiB, like a swap.
inline constexpr std::uint32_t kCopyChunksPerBlock = 32;
// Memory on demand (docs/recording.md#memory): the daemon starts with this many record buffers
// ready and keeps that many spare; the rest are made off the audio thread when wanted.
inline constexpr std::uint32_t kSpareRecordBuffers = 1;
// The undo arena grows in blocks of this many chunks (4 MiB), asked for when less than half a
// block is free.
inline constexpr std::uint32_t kUndoBlockChunks = 128;

inline constexpr std::uint64_t kDefaultMemoryBudgetBytes = 1ULL << 30;  // 1 GiB

}  // namespace looperd::limits
