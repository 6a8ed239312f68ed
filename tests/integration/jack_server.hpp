// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../unit/wait_until.hpp"

namespace looperd::test {

// kHangBound (../unit/wait_until.hpp) bounds every wait for something that must happen (a
// server or daemon up, a reply, a file, a recorded frame count, an exit): only a hang reaches
// it, never a slow or busy machine. What is awaited is checked as such; how long it took is at
// most printed.

// ChildProcess: one program the test started, known by its PID only; nothing else is ever
// signalled. Owned by the test thread (the one that forked it: the child gets SIGTERM if that
// thread dies, so a crashed test leaves no jackd behind). stdout and stderr go to a log file.
class ChildProcess {
  public:
    // Starts `program` with `args` (argv[1..]) and the test's environment plus `extra_env`
    // ("KEY=value", overriding). Throws std::runtime_error if it cannot be started.
    ChildProcess(const std::string& program, const std::vector<std::string>& args,
                 const std::vector<std::string>& extra_env, std::string log_path);
    ~ChildProcess();  // terminate() with 5 s of grace if still running
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    pid_t pid() const noexcept { return pid_; }

    // Reaps the child if it has exited. Returns true while it runs.
    bool running();

    void send_signal(int signal);

    // Waits up to `timeout` for the child to exit. Returns its wait status, or nullopt if it
    // still runs.
    std::optional<int> wait_exit(std::chrono::milliseconds timeout);

    // SIGTERM, up to `grace` for it to exit, then SIGKILL (and a reap bounded by kHangBound).
    // Returns the wait status.
    std::optional<int> terminate(std::chrono::milliseconds grace);

    // The wait status once reaped.
    std::optional<int> status() const noexcept { return status_; }

    const std::string& log_path() const noexcept { return log_path_; }
    std::string read_log() const;

  private:
    pid_t pid_ = -1;
    std::optional<int> status_;
    std::string log_path_;
};

// "exited with code 0", "killed by signal 9 (Killed)".
std::string describe_wait_status(int status);

// JackServer: a private jackd (dummy backend, no realtime, no audio device reservation)
// under a name unique to this process, so tests never touch a user's server. It runs in
// synchronous mode with a 2 s client timeout: on a loaded machine a non-realtime client often
// misses a 2.7 ms period, and in jackd's default asynchronous mode the cycle then goes on
// without it, so a recording would show repeated or skipped blocks that the daemon never
// produced. Synchronous mode waits for every client, so what is recorded is what was played.
class JackServer {
  public:
    // Starts jackd and waits (up to kHangBound) until it accepts clients. Throws std::runtime_error
    // with jackd's log when it does not come up. `name` empty: a name unique to this process.
    // `synchronous` false: jackd's default asynchronous mode, for tests that kill clients with
    // SIGKILL (in synchronous mode the server waits out its timeout for a client killed in
    // the middle of a cycle). `realtime` asks jackd for SCHED_FIFO (its clients' process
    // threads then get it too); without the privilege, jackd says so in its log and runs
    // without it.
    JackServer(const std::string& jackd, const std::string& log_path,
               std::uint32_t sample_rate = 48000, std::uint32_t period = 128,
               bool synchronous = true, std::string name = {}, bool realtime = false);
    ~JackServer();  // SIGTERM, up to 5 s, then SIGKILL
    JackServer(const JackServer&) = delete;
    JackServer& operator=(const JackServer&) = delete;

    const std::string& name() const noexcept { return name_; }
    ChildProcess& process() noexcept { return *process_; }

    // SIGKILL, as if the server crashed, and reap it. The destructor then reclaims the
    // server's registry entry.
    void kill_hard();

    // Starts the server again under the same name (after it was stopped or killed), at
    // `sample_rate` (0: as before), and waits until it accepts clients; its log goes to the
    // next numbered file beside the first. Throws std::runtime_error like the constructor.
    void restart(std::uint32_t sample_rate = 0);

    // A server name unique to this process, for a server a test starts later.
    static std::string unique_name();

    std::string read_log() const { return process_->read_log(); }

  private:
    std::unique_ptr<ChildProcess> start(const std::string& log_path) const;
    void reclaim() noexcept;
    std::vector<std::string> arguments() const;

    std::string name_;
    std::string jackd_;
    std::uint32_t sample_rate_;
    std::uint32_t period_;
    bool synchronous_;
    bool realtime_;
    std::string first_log_;
    int restarts_ = 0;
    std::unique_ptr<ChildProcess> process_;
};

// After a JACK client or server was killed with SIGKILL: libjack keeps its metadata database
// (Berkeley DB) under /dev/shm/jack_db-<uid>, shared by every JACK process of the user, and a
// process killed while it held one of the database's locks (opening it, as every client does
// at jack_client_open) leaves that lock taken for good: every later client and server then
// hangs at its start. The lock regions (__db.00N) are removed, so that the next process makes
// new ones; processes already attached keep theirs. looperd's tests never read metadata.
void forget_jack_metadata_locks() noexcept;

// A UDP port on 127.0.0.1 that was free a moment ago (bound to port 0, read, closed).
std::uint16_t pick_free_udp_port();

}  // namespace looperd::test
