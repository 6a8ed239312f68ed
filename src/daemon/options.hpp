// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/net_allowlist.hpp"
#include "looperd/limits.hpp"

namespace looperd {

inline constexpr std::uint16_t kDefaultOscPort = 9950;
inline constexpr std::uint32_t kDefaultOscRate = 2000;  // datagrams a second per source
inline constexpr std::uint32_t kDefaultOscBurst = 500;  // datagrams at once per source

// Options: what the command line sets. Defaults are the documented ones.
struct Options {
    std::string jack_server;  // empty: JACK_DEFAULT_SERVER, else JACK's default server
    std::string client_name = "looperd";
    std::uint32_t outputs = limits::kDefaultOutputs;
    std::uint32_t slots = limits::kDefaultSlots;
    std::uint32_t voices = limits::kDefaultVoices;
    std::uint16_t osc_port = kDefaultOscPort;
    std::string osc_bind = "127.0.0.1";
    // --osc-allow: empty accepts every source that reaches osc_bind; otherwise only these.
    std::vector<IpNetwork> osc_allow;
    std::uint32_t osc_rate = kDefaultOscRate;  // 0: no per-source limit
    std::uint32_t osc_burst = kDefaultOscBurst;
    std::filesystem::path samples_dir;  // empty: the current directory
    // --samples-root: further directories that load paths may lie in, besides samples_dir.
    std::vector<std::filesystem::path> samples_roots;
    bool autoconnect = true;
    // The rate samples are converted to until a JACK server says its own (--sample-rate).
    std::uint32_t sample_rate = 48000;
    std::uint64_t memory_budget = limits::kDefaultMemoryBudgetBytes;
    std::size_t command_capacity = limits::kDefaultCommandCapacity;
    std::size_t max_scheduled = limits::kDefaultScheduledCapacity;  // future commands pending
    float fade_ms = limits::kDefaultFadeMs;
    // Feedback to control surfaces.
    std::vector<std::string> notify;  // --notify URLs: static subscribers
    std::uint16_t feedback_port = 0;  // zero-configuration mode; 0: off
    std::uint32_t max_subscribers = 16;
    std::uint32_t subscriber_timeout_s = 60;
    std::uint32_t feedback_rate = 30;
    std::uint32_t position_rate = 20;
    // Persistence (docs/persistence.md).
    std::filesystem::path state_dir;  // empty: $STATE_DIRECTORY, $XDG_STATE_HOME/looperd, ...
    bool no_state = false;            // --no-state: nothing saved or restored
    std::string log_level = "info";
    bool help = false;
    bool version = false;
};

class OptionsError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Parses argv. Throws OptionsError naming the flag and what is wrong with it.
Options parse_options(int argc, const char* const* argv);

// The --help text.
std::string usage();

// "512M", "1G", "1048576" → bytes. Throws OptionsError.
std::uint64_t parse_byte_size(const std::string& text);

}  // namespace looperd
