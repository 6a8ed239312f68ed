// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

// What every integration test writes and checks the same way: test samples, addresses, exit
// statuses.

#include <gtest/gtest.h>
#include <sndfile.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "jack_server.hpp"
#include "osc_client.hpp"

namespace looperd::test {

// The integration tests run JACK's dummy backend at this rate.
inline constexpr std::uint32_t kTestRate = 48000;

// Deterministic noise in ±[0.001, 0.5): never zero, so the first non-zero recorded frame is
// the first frame of the sample. Interleaved.
inline std::vector<float> noise(std::size_t frames, std::size_t channels, std::uint32_t seed) {
    std::vector<float> out(frames * channels);
    std::uint32_t x = seed * 2654435761U + 1U;
    for (auto& v : out) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        const float u = static_cast<float>(x >> 8) / 16777216.0F;
        const float magnitude = 0.001F + 0.499F * u;
        v = (x & 1U) != 0 ? magnitude : -magnitude;
    }
    return out;
}

// Writes a float WAV at kTestRate.
inline void write_wav(const std::filesystem::path& path, int channels,
                      const std::vector<float>& interleaved) {
    SF_INFO info{};
    info.samplerate = static_cast<int>(kTestRate);
    info.channels = channels;
    info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
    SNDFILE* file = sf_open(path.c_str(), SFM_WRITE, &info);
    if (file == nullptr) throw std::runtime_error("cannot write " + path.string());
    const auto frames = static_cast<sf_count_t>(interleaved.size()) / channels;
    const sf_count_t written = sf_writef_float(file, interleaved.data(), frames);
    sf_close(file);
    if (written != frames) throw std::runtime_error("short write to " + path.string());
}

// The first frame of `v` at or after `from` that is not zero.
inline std::optional<std::size_t> first_nonzero(const std::vector<float>& v, std::size_t from = 0) {
    for (std::size_t k = from; k < v.size(); ++k) {
        if (v[k] != 0.0F) return k;
    }
    return std::nullopt;
}

// The wall clock plus `offset` as an OSC timetag (NTP 32.32, seconds since 1900).
inline std::uint64_t ntp_from_now(std::chrono::nanoseconds offset) {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    constexpr std::int64_t kNs = 1'000'000'000;
    constexpr std::int64_t kUnixToNtp = 2'208'988'800;
    const std::int64_t ns = static_cast<std::int64_t>(ts.tv_sec) * kNs + ts.tv_nsec +
                            static_cast<std::int64_t>(offset.count());
    const auto seconds = static_cast<std::uint64_t>(ns / kNs + kUnixToNtp);
    // Below 2^30 × 2^32: no overflow.
    const auto fraction = (static_cast<std::uint64_t>(ns % kNs) << 32) / kNs;
    return (seconds << 32) | fraction;
}

// "/slot/3/play"
inline std::string slot(int n, const std::string& what) {
    return "/slot/" + std::to_string(n) + "/" + what;
}

inline bool exited_with(const std::optional<int>& status, int code) {
    return status && WIFEXITED(*status) && WEXITSTATUS(*status) == code;
}

inline std::string describe(const std::optional<int>& status) {
    return status ? describe_wait_status(*status) : std::string("still running");
}

// The common ground of every integration test: the daemon's binary, a temporary directory with
// a samples/ folder, and a JACK server of the test's own (dummy backend).
class IntegrationTest : public ::testing::Test {
  protected:
    // Fills binary_, dir_ and samples_ and starts jack_ (unless `with_server` is false: the test
    // starts one later). Skips the test when meson did not name the daemon and jackd; fails it
    // when they are missing. Callers return when IsSkipped() || HasFatalFailure().
    // `synchronous` false starts jackd in its asynchronous mode (see JackServer).
    void start_jack(const std::string& dir_prefix, bool with_server = true,
                    bool synchronous = true) {
        const char* binary = std::getenv("LOOPERD_BINARY");
        const char* jackd = std::getenv("JACKD");
        if (binary == nullptr || *binary == '\0' || jackd == nullptr || *jackd == '\0') {
            GTEST_SKIP() << "LOOPERD_BINARY and JACKD must name the daemon and jackd "
                            "(meson test sets both)";
        }
        binary_ = binary;
        ASSERT_TRUE(std::filesystem::exists(binary_))
            << "LOOPERD_BINARY=" << binary_ << " does not exist";
        ASSERT_TRUE(std::filesystem::exists(jackd)) << "JACKD=" << jackd << " does not exist";

        const char* tmp = std::getenv("TMPDIR");
        std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/" + dir_prefix + "XXXXXX";
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << "mkdtemp " << pattern;
        dir_ = pattern;
        samples_ = dir_ / "samples";
        std::filesystem::create_directory(samples_);
        // Every daemon of the test saves its rig here, never in the user's state directory.
        ::setenv("STATE_DIRECTORY", (dir_ / "state").c_str(), 1);
        // ...and reads no config file of the user's (an empty config home; the system file
        // is read only where a technician put one, and the integration tests write none).
        ::setenv("XDG_CONFIG_HOME", (dir_ / "config").c_str(), 1);
        jackd_ = jackd;
        if (!with_server) return;
        try {
            jack_ = std::make_unique<JackServer>(jackd, (dir_ / "jackd.log").string(), kTestRate,
                                                 128, synchronous);
        } catch (const std::exception& e) {
            FAIL() << e.what();
        }
    }

    // The flags a test's daemon starts with: its own OSC port, the test's samples folder, debug
    // logging, and no autoconnection unless asked. Tests add their own after them.
    std::vector<std::string> daemon_args(std::uint16_t osc_port, bool autoconnect = false) const {
        std::vector<std::string> args = {"--osc-port",    std::to_string(osc_port),
                                         "--samples-dir", samples_.string(),
                                         "--log-level",   "debug"};
        if (!autoconnect) args.push_back("--no-autoconnect");
        return args;
    }

    // Starts looperd with `args` and `env` (by default: on the test's own JACK server), its log
    // in dir_/looperd.log, gives it a fresh OSC client and waits for its first /pong on `port`.
    // Callers wrap it in ASSERT_NO_FATAL_FAILURE.
    void launch_daemon(std::unique_ptr<ChildProcess>& daemon, std::unique_ptr<OscClient>& osc,
                       std::uint16_t port, const std::vector<std::string>& args,
                       std::optional<std::vector<std::string>> env = std::nullopt) {
        if (!env) env = std::vector<std::string>{"JACK_DEFAULT_SERVER=" + jack_->name()};
        daemon =
            std::make_unique<ChildProcess>(binary_, args, *env, (dir_ / "looperd.log").string());
        osc = std::make_unique<OscClient>();
        ASSERT_NO_FATAL_FAILURE(wait_for_pong(*daemon, *osc, port));
    }

    // Waits until `daemon` answers /ping on `port` (polling every `poll`, for `timeout` at
    // most); fails the test when it exits first or never answers. Later replies are drained.
    static void wait_for_pong(ChildProcess& daemon, OscClient& osc, std::uint16_t port,
                              std::chrono::milliseconds timeout = kHangBound,
                              std::chrono::milliseconds poll = std::chrono::milliseconds(100)) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            ASSERT_TRUE(daemon.running())
                << "looperd exited during startup: " << describe(daemon.status());
            osc.send(port, "/ping");
            if (osc.wait_for("/pong", poll)) break;
            ASSERT_LT(std::chrono::steady_clock::now(), deadline)
                << "looperd did not answer /ping within " << timeout.count()
                << " ms: hung at startup";
        }
        osc.drain();
    }

    // The end of a test: `daemon` stopped with SIGTERM (expected to exit 0 when
    // `expect_clean`), then jackd, so that both logs are complete. On a failure both logs are
    // printed after what `report` writes (what a test's own clients saw) and the files kept;
    // otherwise the temporary directory goes.
    void finish(std::unique_ptr<ChildProcess>& daemon, bool expect_clean,
                const std::function<void(std::ostream&)>& report = {}) {
        if (daemon) {
            const auto status = daemon->terminate(kHangBound);
            if (expect_clean) {
                EXPECT_TRUE(exited_with(status, 0))
                    << "daemon on SIGTERM at the end of the test: " << describe(status);
            }
        }
        // jackd's exit is not checked: after 5 s a SIGKILL (and JackServer's reclaim) will do.
        if (jack_) jack_->process().terminate(std::chrono::seconds(5));
        if (HasFailure()) {
            if (report) report(std::cerr);
            std::cerr << "---- looperd log ----\n"
                      << (daemon ? daemon->read_log() : std::string("(not started)\n"))
                      << "---- jackd log ----\n"
                      << (jack_ ? jack_->read_log() : std::string("(not started)\n"));
            if (!dir_.empty()) std::cerr << "(files kept in " << dir_ << ")\n";
        }
        daemon.reset();
        jack_.reset();
        if (!dir_.empty() && !HasFailure()) {
            std::error_code ignored;
            std::filesystem::remove_all(dir_, ignored);
        }
    }

    // For finish(): the OSC messages `osc` received but the test did not wait for.
    static void report_skipped(std::ostream& out, const OscClient* osc) {
        if (osc == nullptr || osc->skipped().empty()) return;
        out << "---- OSC messages the test did not wait for ----\n";
        for (const auto& m : osc->skipped()) out << m.to_string() << '\n';
    }

    std::string binary_;
    std::string jackd_;
    std::filesystem::path dir_;
    std::filesystem::path samples_;
    std::unique_ptr<JackServer> jack_;
};

}  // namespace looperd::test
