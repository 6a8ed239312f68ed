// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/rig_state.hpp"

namespace looperd {

// A state directory operation that failed: the text says what and why, errno's text included.
class StoreError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// errno as a stage technician should read it ("no space left on the device holding <dir>",
// "read-only file system", ...), with the system's own words after it.
std::string errno_text(int err, const std::filesystem::path& dir);

// fsync of a directory, so that a rename inside it survives a power cut. Throws StoreError.
void fsync_dir(const std::filesystem::path& dir);

// Makes `dir` and every missing parent, each with mode 0700 (as the XDG base directory spec
// asks of ~/.local/state and what lies under it) and its parent synced, so that a first run on
// a fresh account finds its directories whole. Existing directories are left as they are.
// Throws StoreError naming the directory that could not be made, and why.
void make_private_directories(const std::filesystem::path& dir);

// SessionStore: looperd's state directory. state.toml is the rig as last saved; named sessions
// are sessions/<name>.toml. Every file is written whole and atomically (a temporary file in
// the same directory, written, fsynced, renamed over the old one, the directory fsynced), so
// a reader (or a restart after kill -9 or a power cut) sees the old file or the new one,
// never a mix. Files are read only up to max_bytes; a damaged file, or one from another
// version, is renamed aside (<name>.bad-<UTC time>), never deleted.
//
// Threads: no shared mutable state besides the files and the lock: the persister thread
// writes, the network thread reads sessions and lists them; rename(2) keeps each reader's
// view whole. The directory is locked (flock on .lock) for the object's lifetime, so two
// looperd processes never share one.
class SessionStore {
  public:
    // Files larger than this are refused before they are read or parsed: 4096 slots, each with
    // a long path, fit.
    static constexpr std::size_t kDefaultMaxBytes = 4U << 20;
    // Session names: 1 to 64 of [A-Za-z0-9._-], not starting with '.'.
    static constexpr std::size_t kMaxSessionName = 64;
    // /session/list names at most this many.
    static constexpr std::size_t kMaxListed = 256;

    // Creates `dir` (mode 0700) if missing, takes its lock, and removes temporary files a
    // killed process left. Throws StoreError.
    explicit SessionStore(std::filesystem::path dir, std::size_t max_bytes = kDefaultMaxBytes);
    ~SessionStore();
    SessionStore(const SessionStore&) = delete;
    SessionStore& operator=(const SessionStore&) = delete;

    // The state directory: `flag` (--state-dir) if given, else $STATE_DIRECTORY (its first
    // entry when colon-separated, as systemd sets it), else $XDG_STATE_HOME/looperd, else
    // $HOME/.local/state/looperd. Throws StoreError when none is set.
    static std::filesystem::path resolve_dir(const std::filesystem::path& flag);

    // Whether `name` may name a session; `why` says why not.
    static bool valid_session_name(std::string_view name, std::string& why);

    const std::filesystem::path& dir() const noexcept { return dir_; }
    std::size_t max_bytes() const noexcept { return max_bytes_; }
    std::filesystem::path state_file() const { return dir_ / "state.toml"; }
    // sessions/<name>.toml. Throws StoreError for a name valid_session_name refuses.
    std::filesystem::path session_file(std::string_view name) const;

    // Replaces `file` (inside dir()) by `text`, atomically. On failure the old file is
    // untouched and the temporary file removed. Throws StoreError: "cannot save <file>: no
    // space left on the device (...)", "... read-only file system", "... permission denied".
    void write(const std::filesystem::path& file, std::string_view text) const;

    // The text of `file`, or nullopt when it does not exist. Throws StoreError when it cannot
    // be read, or is larger than max_bytes (then it is set aside first, as damaged).
    std::optional<std::string> read(const std::filesystem::path& file) const;

    // The rig in `file` (a state file: format and version checked), or nullopt when there is
    // none. A file that is too large, not TOML, not a state file, of another version, or whose
    // rig is invalid is set aside and StoreError thrown saying why and where it now is.
    std::optional<RigState> load_rig(const std::filesystem::path& file) const;

    // Renames `file` to <file>.bad-<UTC time> and returns the new path. Throws StoreError.
    std::filesystem::path set_aside(const std::filesystem::path& file) const;

    // Session names, sorted, at most kMaxListed. Throws StoreError.
    std::vector<std::string> list_sessions() const;

  private:
    std::filesystem::path dir_;
    std::size_t max_bytes_;
    int lock_fd_ = -1;
};

}  // namespace looperd
