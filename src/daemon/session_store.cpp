// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "daemon/session_store.hpp"

#include <fcntl.h>
#include <spdlog/fmt/fmt.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <system_error>

namespace looperd {

namespace fs = std::filesystem;

std::string errno_text(int err, const fs::path& dir) {
    std::string clear;
    switch (err) {
        case ENOSPC:
            clear = "no space left on the device holding " + dir.string();
            break;
        case EDQUOT:
            clear = "disk quota exceeded on " + dir.string();
            break;
        case EROFS:
            clear = dir.string() + " is on a read-only file system";
            break;
        case EACCES:
        case EPERM:
            clear = "permission denied in " + dir.string();
            break;
        default:
            return std::strerror(err);
    }
    return clear + " (" + std::strerror(err) + ")";
}

void fsync_dir(const fs::path& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    const int err = fd < 0 ? errno : ::fsync(fd) != 0 ? errno : 0;
    if (fd >= 0) ::close(fd);
    if (err != 0)
        throw StoreError("cannot sync directory " + dir.string() + ": " + errno_text(err, dir));
}

namespace {

constexpr std::string_view kTempSuffix = ".tmp";
constexpr std::string_view kSessionExtension = ".toml";

// Closes a descriptor on every path out.
class Fd {
  public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const noexcept { return fd_; }
    // Closes now; returns close's errno (0: fine): NFS and some FUSE systems report write
    // errors only here.
    int close() noexcept {
        const int rc = ::close(fd_);
        fd_ = -1;
        return rc == 0 ? 0 : errno;
    }

  private:
    int fd_;
};

// mkdir with mode 0700, then sync the parent so the new entry survives a power cut.
void make_dir(const fs::path& dir) {
    if (::mkdir(dir.c_str(), 0700) == 0) {
        fsync_dir(dir.parent_path().empty() ? fs::path(".") : dir.parent_path());
        return;
    }
    if (errno == EEXIST && fs::is_directory(dir)) return;
    throw StoreError("cannot create the directory " + dir.string() + ": " +
                     errno_text(errno, dir.parent_path()));
}

}  // namespace

void make_private_directories(const fs::path& dir) {
    const fs::path full = fs::absolute(dir).lexically_normal();
    fs::path at;
    for (const auto& part : full) {
        at /= part;
        if (part.empty() || at == at.root_path()) continue;
        std::error_code ec;
        if (fs::is_directory(at, ec)) continue;
        make_dir(at);
    }
}

namespace {

void remove_stale_temps(const fs::path& dir) {
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.starts_with('.') && name.ends_with(kTempSuffix)) {
            std::error_code ignored;
            fs::remove(it->path(), ignored);
        }
    }
}

}  // namespace

SessionStore::SessionStore(fs::path dir, std::size_t max_bytes)
    : dir_(std::move(dir)), max_bytes_(max_bytes) {
    if (dir_.empty()) throw StoreError("the state directory must not be empty");
    dir_ = fs::absolute(dir_).lexically_normal();
    if (!dir_.has_filename()) dir_ = dir_.parent_path();
    std::error_code ec;
    if (!fs::exists(dir_, ec)) {
        make_private_directories(dir_);
    } else if (!fs::is_directory(dir_)) {
        throw StoreError("the state directory " + dir_.string() + " is not a directory");
    }
    const fs::path lock = dir_ / ".lock";
    lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    // A read-only directory cannot hold the lock file: it is then opened read-only if it
    // exists; saving will fail and say so, but the state can still be read.
    if (lock_fd_ < 0) lock_fd_ = ::open(lock.c_str(), O_RDONLY | O_CLOEXEC);
    if (lock_fd_ >= 0 && ::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        ::close(lock_fd_);
        lock_fd_ = -1;
        if (err == EWOULDBLOCK)
            throw StoreError("the state directory " + dir_.string() +
                             " is in use by another looperd (use another --state-dir)");
    }
    remove_stale_temps(dir_);
    remove_stale_temps(dir_ / "sessions");
}

SessionStore::~SessionStore() {
    if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

fs::path SessionStore::resolve_dir(const fs::path& flag) {
    if (!flag.empty()) return flag;
    if (const char* s = std::getenv("STATE_DIRECTORY"); s != nullptr && *s != '\0') {
        const std::string_view all(s);
        return fs::path(std::string(all.substr(0, all.find(':'))));
    }
    if (const char* x = std::getenv("XDG_STATE_HOME"); x != nullptr && *x == '/')
        return fs::path(x) / "looperd";
    if (const char* h = std::getenv("HOME"); h != nullptr && *h == '/')
        return fs::path(h) / ".local" / "state" / "looperd";
    throw StoreError(
        "no state directory: give --state-dir, or set STATE_DIRECTORY, XDG_STATE_HOME or HOME "
        "(or --no-state)");
}

bool SessionStore::valid_session_name(std::string_view name, std::string& why) {
    if (name.empty() || name.size() > kMaxSessionName) {
        why = fmt::format("a session name has 1 to {} characters", kMaxSessionName);
        return false;
    }
    if (name.front() == '.') {
        why = "a session name must not start with '.'";
        return false;
    }
    for (const char c : name) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok) {
            why = "a session name may hold only letters, digits, '.', '_' and '-'";
            return false;
        }
    }
    return true;
}

fs::path SessionStore::session_file(std::string_view name) const {
    std::string why;
    if (!valid_session_name(name, why)) throw StoreError(why);
    return dir_ / "sessions" / (std::string(name) + std::string(kSessionExtension));
}

void SessionStore::write(const fs::path& file, std::string_view text) const {
    const fs::path dir = file.parent_path();
    if (text.size() > max_bytes_)
        throw StoreError(fmt::format("cannot save {}: {} bytes, over the bound of {} bytes",
                                     file.string(), text.size(), max_bytes_));
    if (dir != dir_) {
        std::error_code ec;
        if (!fs::is_directory(dir, ec)) {
            try {
                make_dir(dir);
            } catch (const StoreError& e) {
                throw StoreError("cannot save " + file.string() + ": " + e.what());
            }
        }
    }
    // The temporary file starts with '.', which no session name does, and ends in .tmp: a
    // killed process's leftovers are recognised and removed at the next start.
    const fs::path temp =
        dir / fmt::format(".{}.{}{}", file.filename().string(), ::getpid(), kTempSuffix);
    auto failed = [&](const char* step, int err) {
        std::error_code ignored;
        fs::remove(temp, ignored);
        return StoreError(
            fmt::format("cannot save {} ({}): {}", file.string(), step, errno_text(err, dir)));
    };
    Fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (fd.get() < 0) throw failed("create", errno);
    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw failed("write", n < 0 ? errno : ENOSPC);
        done += static_cast<std::size_t>(n);
    }
    // The data must be on the disk before the name points at it: a power cut between the
    // rename and a later writeback would otherwise leave an empty file under the old name.
    if (::fsync(fd.get()) != 0) throw failed("fsync", errno);
    if (const int err = fd.close(); err != 0) throw failed("close", err);
    if (::rename(temp.c_str(), file.c_str()) != 0) throw failed("rename", errno);
    // The rename itself is made durable by syncing the directory that holds both names.
    fsync_dir(dir);
}

std::optional<std::string> SessionStore::read(const fs::path& file) const {
    Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
        if (errno == ENOENT) return std::nullopt;
        throw StoreError("cannot read " + file.string() + ": " + errno_text(errno, dir_));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0)
        throw StoreError("cannot read " + file.string() + ": " + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) throw StoreError(file.string() + " is not a regular file");
    // Checked before anything is allocated or parsed: the file may have grown by mistake.
    if (static_cast<std::uintmax_t>(st.st_size) > max_bytes_) {
        fd.close();
        const auto aside = set_aside(file);
        throw StoreError(fmt::format("{} is {} bytes, over the bound of {} bytes: set aside as {}",
                                     file.string(), st.st_size, max_bytes_, aside.string()));
    }
    std::string text(static_cast<std::size_t>(st.st_size), '\0');
    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::read(fd.get(), text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw StoreError("cannot read " + file.string() + ": " + std::strerror(errno));
        if (n == 0) break;  // shrank meanwhile: what is there is parsed (and judged)
        done += static_cast<std::size_t>(n);
    }
    text.resize(done);
    return text;
}

std::optional<RigState> SessionStore::load_rig(const fs::path& file) const {
    auto text = read(file);
    if (!text) return std::nullopt;
    try {
        return parse_state(*text, file.string());
    } catch (const RigError& e) {
        fs::path aside;
        try {
            aside = set_aside(file);
        } catch (const StoreError& moved) {
            throw StoreError(std::string(e.what()) +
                             "; and it could not be set aside: " + moved.what());
        }
        throw StoreError(std::string(e.what()) + "; set aside as " + aside.string());
    }
}

fs::path SessionStore::set_aside(const fs::path& file) const {
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    ::gmtime_r(&now, &utc);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &utc);
    fs::path aside = file.string() + ".bad-" + stamp;
    // Two in one second: number them rather than overwrite the first.
    for (int k = 1; fs::exists(aside) && k < 1000; ++k)
        aside = file.string() + ".bad-" + stamp + "-" + std::to_string(k);
    if (::rename(file.c_str(), aside.c_str()) != 0)
        throw StoreError("cannot set " + file.string() +
                         " aside: " + errno_text(errno, file.parent_path()));
    try {
        fsync_dir(file.parent_path());
    } catch (const StoreError&) {
        // The rename happened; making it durable is best effort on a failing disk.
    }
    return aside;
}

std::vector<std::string> SessionStore::list_sessions() const {
    std::vector<std::string> names;
    const fs::path dir = dir_ / "sessions";
    std::error_code ec;
    if (!fs::exists(dir, ec)) return names;
    fs::directory_iterator it(dir, ec);
    if (ec) throw StoreError("cannot list " + dir.string() + ": " + ec.message());
    std::string why;
    // Bounded: a directory stuffed with files is read only so far.
    std::size_t seen = 0;
    for (fs::directory_iterator end; it != end && seen < 16 * kMaxListed;
         it.increment(ec), ++seen) {
        if (ec) throw StoreError("cannot list " + dir.string() + ": " + ec.message());
        const std::string file = it->path().filename().string();
        if (!file.ends_with(kSessionExtension)) continue;
        const std::string name = file.substr(0, file.size() - kSessionExtension.size());
        if (valid_session_name(name, why)) names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    if (names.size() > kMaxListed) names.resize(kMaxListed);
    return names;
}

}  // namespace looperd
