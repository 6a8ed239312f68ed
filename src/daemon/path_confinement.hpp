// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <variant>
#include <vector>

namespace looperd {

// What a refused path is answered, whether it exists or not.
inline constexpr const char* kOutsideRoots = "path outside the allowed sample roots";
// Longer paths are refused before the filesystem is asked anything (Linux's PATH_MAX).
inline constexpr std::size_t kMaxPathBytes = 4096;

// PathConfinement: the rule every file path from the network must pass. A path is resolved
// (relative to the first root, ".." folded, every symlink of the part that exists followed) and
// accepted only when the result lies inside one of the roots, compared component by component
// ("/samples2" is not inside "/samples").
//
// Threads: built once, then const; resolve() may run on any thread. It reads the filesystem
// (symlinks) and may block on it.
class PathConfinement {
  public:
    // `first` also anchors relative paths. Roots are kept absolute with their symlinks
    // resolved, so a root given through a symlink still matches what its files resolve to.
    PathConfinement(const std::filesystem::path& first,
                    const std::vector<std::filesystem::path>& more);

    // The resolved path (what to open: exactly what was checked), or why it is refused. A path
    // outside every root is always refused with kOutsideRoots, whether it exists or not, so
    // nothing can be learnt about what lies outside.
    std::variant<std::filesystem::path, std::string> resolve(const std::string& requested) const;

    const std::vector<std::filesystem::path>& roots() const noexcept { return roots_; }

    // Whether `path` is `root` or lies under it; both absolute and normal.
    static bool is_within(const std::filesystem::path& path, const std::filesystem::path& root);

  private:
    bool inside(const std::filesystem::path& path) const;

    std::vector<std::filesystem::path> roots_;  // roots_[0] anchors relative paths
};

}  // namespace looperd
