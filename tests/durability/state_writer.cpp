// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// state_writer DIR: saves durability states N+1, N+2, ... to DIR/state.toml through
// SessionStore, as fast as it can, until killed. N is the state it finds there (0 if none).
// The durability test kills it with SIGKILL at random moments.
#include <cstdio>
#include <exception>

#include "daemon/session_store.hpp"
#include "state_text.hpp"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: state_writer DIR\n");
        return 2;
    }
    try {
        looperd::SessionStore store(argv[1]);
        std::uint64_t n = 0;
        if (const auto rig = store.load_rig(store.state_file()))
            n = looperd::test::durability_number(*rig).value_or(0);
        for (;;) store.write(store.state_file(), looperd::test::durability_state(++n));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "state_writer: %s\n", e.what());
        return 1;
    }
}
