// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "io/memory_budget.hpp"
#include "looperd/sample_buffer.hpp"

namespace looperd {

// A load that cannot be done; what() is a reason fit for an OSC /error reply and a log line
// ("not a regular file", "unsupported or corrupt audio file: ...", "over the memory budget:
// needs 12.0 MiB, 3.2 MiB free of 1024.0 MiB", ...).
class LoadError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

struct LoadedSample {
    std::unique_ptr<SampleBuffer> buffer;  // at the target rate, prefaulted
    std::uint32_t source_rate = 0;
    std::uint32_t source_channels = 0;
    std::uint64_t source_frames = 0;  // frames actually decoded
    bool locked = false;              // mlock succeeded
};

// Reads any file libsndfile can decode (WAV, AIFF, FLAC, Ogg/Vorbis, ...), converts it to
// `target_rate` with libsamplerate's best sinc converter when the rates differ, replaces
// non-finite samples by 0, reserves its bytes from `budget` (released again if anything
// after that fails), and prefaults it.
//
// `cancel`, when given and set by another thread, makes the load stop between chunks of
// reading or resampling with LoadError("load cancelled"): shutdown never waits for a long file.
//
// Loader thread only: it blocks on disk and allocates. Throws LoadError.
//
// A file deleted, replaced (renamed over), truncated or rewritten while it is being read is
// refused ("file changed while loading; load it again"): what was read may be cut short or
// half old, half new.
LoadedSample load_sample(const std::filesystem::path& path, std::uint32_t target_rate,
                         MemoryBudget& budget, const std::atomic<bool>* cancel = nullptr);

namespace detail {
// load_sample(), calling `opened` once the file is open and before any audio is read, so that
// tests can change the file at exactly that moment.
LoadedSample load_sample_observed(const std::filesystem::path& path, std::uint32_t target_rate,
                                  MemoryBudget& budget, const std::atomic<bool>* cancel,
                                  const std::function<void()>& opened);
}  // namespace detail

}  // namespace looperd
