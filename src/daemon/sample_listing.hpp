// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// The sound files under the samples directory, for a surface's sample browser
// (/samples/list).
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace looperd {

struct SampleListing {
    std::vector<std::string> paths;  // relative to the directory, '/'-separated, sorted
    bool truncated = false;          // more files than `max` were found
};

// Sound files (by extension, the formats looperd reads) under `dir` and its subdirectories,
// at most `max_depth` levels down, skipping hidden files and directories and not following
// symbolic links to directories (a link loop must not hang the listing). The first `max` in
// sorted order. Throws std::filesystem::filesystem_error when `dir` cannot be read.
SampleListing list_samples(const std::filesystem::path& dir, std::size_t max, int max_depth = 4);

// Whether `name` ends in an extension of a sound file looperd reads (case-insensitive).
bool is_sound_file_name(const std::string& name);

}  // namespace looperd
