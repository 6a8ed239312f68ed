// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "daemon/sample_listing.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>
#include <system_error>

namespace looperd {

namespace fs = std::filesystem;

bool is_sound_file_name(const std::string& name) {
    // What libsndfile reads (Debian 12's build, MP3 and Opus included).
    static constexpr std::array<std::string_view, 16> kExtensions{
        "wav",  "wave", "flac", "ogg",  "oga", "opus", "aif", "aiff",
        "aifc", "caf",  "w64",  "rf64", "mp3", "au",   "snd", "bwf"};
    const auto dot = name.rfind('.');
    if (dot == std::string::npos || dot == 0) return false;
    std::string ext = name.substr(dot + 1);
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return std::find(kExtensions.begin(), kExtensions.end(), ext) != kExtensions.end();
}

SampleListing list_samples(const fs::path& dir, std::size_t max, int max_depth) {
    SampleListing out;
    // Throws when the directory itself cannot be opened: the caller answers /error.
    fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied);
    std::vector<std::string> found;
    std::error_code ec;
    for (const fs::recursive_directory_iterator end; it != end; it.increment(ec)) {
        if (ec) break;  // a directory vanished mid-walk: list what was found
        const fs::directory_entry& e = *it;
        const std::string name = e.path().filename().string();
        const bool hidden = !name.empty() && name[0] == '.';
        if (e.is_directory(ec) && !e.is_symlink(ec)) {
            if (hidden || it.depth() + 1 >= max_depth) it.disable_recursion_pending();
            continue;
        }
        if (hidden || !e.is_regular_file(ec) || !is_sound_file_name(name)) continue;
        found.push_back(e.path().lexically_relative(dir).generic_string());
    }
    std::sort(found.begin(), found.end());
    if (found.size() > max) {
        found.resize(max);
        out.truncated = true;
    }
    out.paths = std::move(found);
    return out;
}

}  // namespace looperd
