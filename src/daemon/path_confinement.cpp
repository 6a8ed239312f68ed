// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "daemon/path_confinement.hpp"

#include <algorithm>
#include <system_error>

namespace looperd {

namespace {

// A path without trailing separators ("/samples/" → "/samples"), so that components compare.
std::filesystem::path without_trailing_separator(std::filesystem::path p) {
    while (!p.has_filename() && p.has_relative_path()) p = p.parent_path();
    return p;
}

}  // namespace

PathConfinement::PathConfinement(const std::filesystem::path& first,
                                 const std::vector<std::filesystem::path>& more) {
    auto add_root = [this](const std::filesystem::path& dir) {
        std::error_code ec;
        auto root = std::filesystem::weakly_canonical(std::filesystem::absolute(dir), ec);
        if (ec) root = std::filesystem::absolute(dir).lexically_normal();
        roots_.push_back(without_trailing_separator(root));
    };
    add_root(first);
    for (const auto& dir : more) add_root(dir);
}

bool PathConfinement::is_within(const std::filesystem::path& path,
                                const std::filesystem::path& root) {
    auto p = path.begin();
    for (const auto& component : root) {
        if (p == path.end() || *p != component) return false;
        ++p;
    }
    return true;
}

bool PathConfinement::inside(const std::filesystem::path& path) const {
    return std::any_of(roots_.begin(), roots_.end(),
                       [&path](const auto& root) { return is_within(path, root); });
}

std::variant<std::filesystem::path, std::string> PathConfinement::resolve(
    const std::string& requested) const {
    if (requested.empty()) return std::string("empty path");
    if (requested.size() > kMaxPathBytes)
        return "path longer than " + std::to_string(kMaxPathBytes) + " bytes";
    // A NUL would cut the path short where the system reads it, after the check.
    if (requested.find('\0') != std::string::npos) return std::string(kOutsideRoots);
    std::filesystem::path resolved = requested;
    if (resolved.is_relative()) resolved = roots_.front() / resolved;
    // weakly_canonical follows every symlink of the part that exists and folds "..", so what is
    // compared is what the loader will open: it is given exactly this path.
    std::error_code ec;
    auto canonical = std::filesystem::weakly_canonical(resolved, ec);
    if (ec) {
        // Say why only for a path that names something inside the roots: outside them, every
        // path gets the same answer.
        if (inside(without_trailing_separator(resolved.lexically_normal())))
            return "cannot resolve the path: " + ec.message();
        return std::string(kOutsideRoots);
    }
    canonical = without_trailing_separator(canonical);
    if (!inside(canonical)) return std::string(kOutsideRoots);
    return canonical;
}

}  // namespace looperd
