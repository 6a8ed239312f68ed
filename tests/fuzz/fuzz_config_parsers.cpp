// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// Fuzz target: the two TOML readers looperd trusts with files a person or a power cut may have
// mangled: the config file (options and its rig tables) and the state file.
//
// Each input is read as both. A refusal must be the documented exception (ConfigError,
// OptionsError, RigError); anything else escaping, a sanitizer report or a hang is a bug.
// What is accepted must also survive a round trip, since looperd writes these files itself:
//   - state: parse → rig_to_toml → parse → rig_to_toml gives the same text twice;
//   - config: apply → format_config (what --print-config prints) → apply → format_config
//     gives the same text twice, and the config's rig tables parse as a rig when they are
//     there, or are refused with RigError.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "daemon/config_file.hpp"
#include "daemon/options.hpp"
#include "daemon/rig_state.hpp"

namespace {

using namespace looperd;

[[noreturn]] void fail(const char* what, const std::string& a, const std::string& b) {
    std::fprintf(stderr,
                 "fuzz_config_parsers: invariant broken: %s\n--- first ---\n%s\n"
                 "--- second ---\n%s\n",
                 what, a.c_str(), b.c_str());
    std::abort();
}

void state_file(std::string_view text) {
    RigState rig;
    try {
        rig = parse_state(text, "state.toml");
    } catch (const RigError&) {
        return;
    }
    const std::string once = rig_to_toml(rig, true);
    RigState again;
    try {
        again = parse_state(once, "state.toml");
    } catch (const RigError& e) {
        fail("a state looperd wrote does not read back", once, e.what());
    }
    const std::string twice = rig_to_toml(again, true);
    if (once != twice) fail("a state changes on its way through a file", once, twice);
}

void config_file(std::string_view text) {
    LoadedConfig config;
    try {
        apply_config_text(text, "looperd.toml", "/", config.options, config.rig);
    } catch (const ConfigError&) {
        return;
    } catch (const OptionsError&) {
        return;
    }
    if (!config.rig.empty()) {
        try {
            (void)parse_rig(config.rig, "looperd.toml");
        } catch (const RigError&) {
        }
    }
    const std::string once = format_config(config);
    LoadedConfig again;
    try {
        apply_config_text(once, "printed.toml", "/", again.options, again.rig);
    } catch (const std::exception& e) {
        fail("what --print-config prints does not load back", once, e.what());
    }
    const std::string twice = format_config(again);
    if (once != twice)
        fail("a configuration changes on its way through --print-config", once, twice);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    state_file(text);
    config_file(text);
    return 0;
}
