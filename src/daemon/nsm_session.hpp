// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <filesystem>
#include <string>

#include "daemon/nsm_client.hpp"
#include "daemon/options.hpp"
#include "daemon/rig_state.hpp"

namespace looperd::nsm {

// An NSM session's directory on disk (docs/nsm.md): the rig (state.toml), takes/, and
// samples/ holding a link to every sample the rig uses from outside the directory. Pure
// functions of the paths they are given plus the filesystem; called by the main thread.

// Makes `path` a directory (mode 0700, missing parents too) that looperd can write in, and
// returns it absolute with its symlinks resolved. Throws NsmError saying why not.
std::filesystem::path prepare_directory(const std::string& path);

// The options of one session: JACK client `open.client_id`, the rig and takes in `dir`, and
// `dir`/samples as one more sample root (a session archived with its links followed holds
// the samples themselves there). Persistence is on, whatever `base` says.
Options session_options(const Options& base, const Open& open, const std::filesystem::path& dir);

// The rig as written into `dir`: every file inside `dir` relative to it (the session may be
// copied or moved whole), every other one replaced by a link dir/samples/<name> to it (named
// after the file, "-2", "-3"... on a clash). `samples_dir` anchors relative files. Throws
// NsmError when a link cannot be made.
RigState linked_rig(RigState rig, const std::filesystem::path& dir,
                    const std::filesystem::path& samples_dir);

// The rig as read from `dir`: relative files made absolute under `dir`.
RigState opened_rig(RigState rig, const std::filesystem::path& dir);

}  // namespace looperd::nsm
