// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// state_writer DIR: saves durability states N+1, N+2, ... to DIR/state.toml through
// SessionStore until killed. N is the state it finds there (0 if none). Before each save it
// writes "N\n" to standard output, so that the durability test knows which save is under way
// when its SIGKILL lands, whatever the machine's speed.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <exception>
#include <string>

#include "daemon/session_store.hpp"
#include "state_text.hpp"

namespace {

// One write(2) per line: a pipe keeps writes of up to PIPE_BUF bytes whole.
void announce(std::uint64_t n) {
    const std::string line = std::to_string(n) + "\n";
    while (::write(STDOUT_FILENO, line.data(), line.size()) < 0 && errno == EINTR) {
    }
}

}  // namespace

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
        for (;;) {
            const std::string text = looperd::test::durability_state(++n);
            announce(n);
            store.write(store.state_file(), text);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "state_writer: %s\n", e.what());
        return 1;
    }
}
