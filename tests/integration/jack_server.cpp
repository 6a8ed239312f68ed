// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "jack_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <jack/jack.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace looperd::test {

namespace {

// `name` as execve() needs it: a path as given, or the first match on $PATH.
std::string find_in_path(const std::string& name) {
    if (name.find('/') != std::string::npos) return name;
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/bin:/bin";
    std::size_t start = 0;
    while (start <= dirs.size()) {
        const std::size_t end = std::min(dirs.find(':', start), dirs.size());
        const std::string candidate = dirs.substr(start, end - start) + "/" + name;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
        start = end + 1;
    }
    return name;
}

using Clock = std::chrono::steady_clock;

std::string errno_text(const std::string& what) {
    return what + ": " + std::strerror(errno);
}

std::string env_key(const std::string& entry) {
    return entry.substr(0, entry.find('='));
}

void quiet_jack_error(const char* /*message*/) {}
void stderr_jack_error(const char* message) {
    std::fprintf(stderr, "jack: %s\n", message);
}

const std::vector<std::string> kJackEnv = {"JACK_NO_AUDIO_RESERVATION=1"};

}  // namespace

ChildProcess::ChildProcess(const std::string& program, const std::vector<std::string>& args,
                           const std::vector<std::string>& extra_env, std::string log_path)
    : log_path_(std::move(log_path)) {
    // Everything the child needs is built before fork(): after it, in a process that may
    // have other threads (libjack's), only async-signal-safe calls are allowed.
    // Under qemu-user without binfmt_misc (the cross builds' tests), a foreign binary is run
    // through the emulator: LOOPERD_TEST_EXEC_WRAPPER names it.
    std::vector<std::string> argv_strings;
    std::string exec_path = program;
    if (const char* wrapper = std::getenv("LOOPERD_TEST_EXEC_WRAPPER"); wrapper && *wrapper) {
        exec_path = find_in_path(wrapper);
        argv_strings.push_back(wrapper);
    }
    argv_strings.push_back(program);
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_strings) argv.push_back(a.data());
    argv.push_back(nullptr);

    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string entry(*e);
        bool overridden = false;
        for (const auto& extra : extra_env) overridden |= env_key(extra) == env_key(entry);
        if (!overridden) env_strings.push_back(entry);
    }
    env_strings.insert(env_strings.end(), extra_env.begin(), extra_env.end());
    std::vector<char*> envp;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);

    const int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log_fd < 0) throw std::runtime_error(errno_text("cannot open " + log_path_));
    const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd < 0) {
        ::close(log_fd);
        throw std::runtime_error(errno_text("cannot open /dev/null"));
    }
    const pid_t parent = ::getpid();

    const pid_t pid = ::fork();
    if (pid == 0) {
        // Stop with the test rather than outlive it. SIGTERM, not SIGKILL: a killed jackd
        // keeps its entry in libjack's machine-wide server registry.
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != parent) ::_exit(127);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::dup2(null_fd, STDIN_FILENO);
        ::dup2(log_fd, STDOUT_FILENO);
        ::dup2(log_fd, STDERR_FILENO);
        // The test's own JACK and UDP sockets must not leak into the child.
        ::close_range(3, UINT_MAX, 0);
        ::execve(exec_path.c_str(), argv.data(), envp.data());
        const char message[] = "execve failed\n";
        [[maybe_unused]] const auto ignored = ::write(STDERR_FILENO, message, sizeof message - 1);
        ::_exit(127);
    }
    const int fork_errno = errno;
    ::close(log_fd);
    ::close(null_fd);
    if (pid < 0) {
        errno = fork_errno;
        throw std::runtime_error(errno_text("fork"));
    }
    pid_ = pid;
}

ChildProcess::~ChildProcess() {
    if (pid_ > 0 && !status_) terminate(std::chrono::seconds(5));
}

bool ChildProcess::running() {
    if (status_) return false;
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
        status_ = status;
        return false;
    }
    return true;
}

void ChildProcess::send_signal(int signal) {
    if (running()) ::kill(pid_, signal);
}

std::optional<int> ChildProcess::wait_exit(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (running()) {
        if (Clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return status_;
}

std::optional<int> ChildProcess::terminate(std::chrono::milliseconds grace) {
    send_signal(SIGTERM);
    if (auto status = wait_exit(grace)) return status;
    send_signal(SIGKILL);
    return wait_exit(kHangBound);
}

std::string ChildProcess::read_log() const {
    std::ifstream in(log_path_);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string describe_wait_status(int status) {
    if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        const int sig = WTERMSIG(status);
        const char* name = ::strsignal(sig);
        return "killed by signal " + std::to_string(sig) + " (" + (name ? name : "?") + ")";
    }
    return "wait status " + std::to_string(status);
}

namespace {

std::string unique_server_name() {
    static std::atomic<int> counter{0};
    return "looperd-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

std::vector<std::string> jackd_args(const std::string& name, std::uint32_t sample_rate,
                                    std::uint32_t period, bool synchronous, bool realtime) {
    std::vector<std::string> args = {realtime ? "--realtime" : "--no-realtime"};
    if (synchronous) args.emplace_back("--sync");
    args.insert(args.end(), {"-t", "2000", "-n", name, "-d", "dummy", "-r",
                             std::to_string(sample_rate), "-p", std::to_string(period)});
    return args;
}

}  // namespace

JackServer::JackServer(const std::string& jackd, const std::string& log_path,
                       std::uint32_t sample_rate, std::uint32_t period, bool synchronous,
                       std::string name, bool realtime)
    : name_(name.empty() ? unique_server_name() : std::move(name)),
      jackd_(jackd),
      sample_rate_(sample_rate),
      period_(period),
      synchronous_(synchronous),
      realtime_(realtime),
      first_log_(log_path),
      process_(start(log_path)) {}

std::string JackServer::unique_name() {
    return unique_server_name();
}

std::vector<std::string> JackServer::arguments() const {
    return jackd_args(name_, sample_rate_, period_, synchronous_, realtime_);
}

void JackServer::restart(std::uint32_t sample_rate) {
    if (process_->running()) throw std::runtime_error("jackd '" + name_ + "' still runs");
    if (sample_rate != 0) sample_rate_ = sample_rate;
    process_ = start(first_log_ + "." + std::to_string(++restarts_));
}

std::unique_ptr<ChildProcess> JackServer::start(const std::string& log_path) const {
    auto process = std::make_unique<ChildProcess>(jackd_, arguments(), kJackEnv, log_path);
    // Probe with the same call the daemon makes until the server answers. libjack reports
    // each refused probe on stderr; that is noise here.
    jack_set_error_function(quiet_jack_error);
    const auto deadline = Clock::now() + kHangBound;
    bool ready = false;
    while (!ready && Clock::now() < deadline && process->running()) {
        jack_status_t status{};
        jack_client_t* probe = jack_client_open(
            "looperd-test-probe", static_cast<jack_options_t>(JackNoStartServer | JackServerName),
            &status, name_.c_str());
        if (probe != nullptr) {
            jack_client_close(probe);
            ready = true;
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }
    jack_set_error_function(stderr_jack_error);
    if (!ready) {
        const bool died = !process->running();
        process->terminate(std::chrono::seconds(5));
        throw std::runtime_error(
            "jackd '" + name_ + "' " +
            (died ? "exited during startup"
                  : "did not accept clients in " + std::to_string(kHangBound.count()) + " s") +
            "; its log:\n" + process->read_log());
    }
    return process;
}

JackServer::~JackServer() {
    // Its exit is not checked: after 5 s a SIGKILL and the registry's reclaim do as well.
    const auto status = process_->terminate(std::chrono::seconds(5));
    if (status && WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL) reclaim();
}

void JackServer::kill_hard() {
    process_->send_signal(SIGKILL);
    process_->wait_exit(kHangBound);
    forget_jack_metadata_locks();
}

void forget_jack_metadata_locks() noexcept {
    const std::string dir = "/dev/shm/jack_db-" + std::to_string(::getuid());
    for (const char* region : {"/__db.001", "/__db.002", "/__db.003"})
        ::unlink((dir + region).c_str());
}

void JackServer::reclaim() noexcept {
    // libjack's shared registry holds a few server entries per machine, and one that was
    // killed stays taken until a server of the same name starts: so start one and stop it
    // cleanly. Its client's semaphore is left behind too, and maybe a metadata lock.
    forget_jack_metadata_locks();
    try {
        start(process_->log_path() + ".reclaim")->terminate(std::chrono::seconds(5));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "cannot reclaim jackd '%s': %s\n", name_.c_str(), e.what());
    }
    for (const char* client : {"looperd", "looperd-test-recorder"}) {
        const std::string sem =
            "/jack_sem." + std::to_string(::getuid()) + "_" + name_ + "_" + client;
        ::shm_unlink(sem.c_str());
    }
}

std::uint16_t pick_free_udp_port() {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error(errno_text("socket"));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        const std::string error = errno_text("cannot bind a UDP port");
        ::close(fd);
        throw std::runtime_error(error);
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

}  // namespace looperd::test
