// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

// What every integration test writes and checks the same way: test samples, addresses, exit
// statuses.

#include <gtest/gtest.h>
#include <sndfile.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "jack_server.hpp"

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

    std::string binary_;
    std::string jackd_;
    std::filesystem::path dir_;
    std::filesystem::path samples_;
    std::unique_ptr<JackServer> jack_;
};

}  // namespace looperd::test
