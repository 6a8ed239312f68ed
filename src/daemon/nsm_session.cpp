// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "daemon/nsm_session.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "daemon/path_confinement.hpp"

namespace looperd::nsm {

namespace fs = std::filesystem;

fs::path prepare_directory(const std::string& path) {
    if (path.empty()) throw NsmError("empty path");
    if (path.size() > kMaxPathBytes) throw NsmError("path longer than 4096 bytes");
    const fs::path wanted = fs::absolute(fs::path(path)).lexically_normal();
    // Each missing component in turn: the session is private, and so is what leads to it
    // when looperd had to make it.
    fs::path at;
    for (const auto& part : wanted) {
        at /= part;
        if (part.empty() || at == at.root_path()) continue;
        if (::mkdir(at.c_str(), 0700) != 0 && errno != EEXIST)
            throw NsmError("cannot create " + at.string() + ": " + std::strerror(errno));
    }
    std::error_code ec;
    if (!fs::is_directory(wanted, ec)) throw NsmError(wanted.string() + " is not a directory");
    if (::access(wanted.c_str(), W_OK | X_OK) != 0)
        throw NsmError("cannot write in " + wanted.string() + ": " + std::strerror(errno));
    auto canonical = fs::canonical(wanted, ec);
    if (ec) throw NsmError("cannot resolve " + wanted.string() + ": " + ec.message());
    return canonical;
}

Options session_options(const Options& base, const Open& open, const fs::path& dir) {
    Options o = base;
    o.client_name = open.client_id;
    o.state_dir = dir;
    // The session's directory is the state: --no-state would leave NSM nothing to save.
    o.no_state = false;
    o.samples_roots.push_back(dir / "samples");
    return o;
}

namespace {

// A link in `links` to `target`: the one already there, else a new one named after the file.
fs::path link_to(const fs::path& target, const fs::path& links) {
    std::error_code ec;
    fs::create_directory(links, ec);
    if (ec) throw NsmError("cannot create " + links.string() + ": " + ec.message());
    const std::string stem = target.stem().string();
    const std::string extension = target.extension().string();
    for (int k = 1; k < 1000; ++k) {
        const fs::path name =
            k == 1 ? target.filename() : fs::path(stem + "-" + std::to_string(k) + extension);
        const fs::path link = links / name;
        if (fs::is_symlink(fs::symlink_status(link, ec))) {
            if (fs::read_symlink(link, ec) == target) return link;
            continue;
        }
        if (fs::exists(fs::symlink_status(link, ec))) continue;  // a file of the archive's
        fs::create_symlink(target, link, ec);
        if (ec) throw NsmError("cannot link " + link.string() + ": " + ec.message());
        return link;
    }
    throw NsmError("no free name for a link to " + target.string() + " in " + links.string());
}

}  // namespace

RigState linked_rig(RigState rig, const fs::path& dir, const fs::path& samples_dir) {
    for (auto& slot : rig.slots) {
        if (slot.file.empty()) continue;
        fs::path file = slot.file;
        if (file.is_relative()) file = samples_dir / file;
        file = fs::absolute(file).lexically_normal();
        if (!PathConfinement::is_within(file, dir)) {
            // The link points at the file itself, not at a link to it: the archive then holds
            // the sample whatever else changes around it.
            std::error_code ec;
            const fs::path target = fs::weakly_canonical(file, ec);
            file = link_to(ec ? file : target, dir / "samples");
        }
        slot.file = file.lexically_relative(dir).string();
    }
    return rig;
}

RigState opened_rig(RigState rig, const fs::path& dir) {
    for (auto& slot : rig.slots) {
        if (!slot.file.empty() && fs::path(slot.file).is_relative())
            slot.file = (dir / slot.file).lexically_normal().string();
    }
    return rig;
}

}  // namespace looperd::nsm
