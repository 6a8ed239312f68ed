// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// looperd-generate-docs SOURCE_ROOT: writes the texts made from the option table and the OSC
// schema into the tree (`meson compile -C <build> generate-docs`): the man pages under
// docs/man/ and the commented config file examples/looperd.toml. A unit test fails while a
// committed copy differs from what the table says.

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "daemon/manual.hpp"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: looperd-generate-docs SOURCE_ROOT\n");
        return 2;
    }
    const std::filesystem::path root = argv[1];
    const std::pair<std::filesystem::path, std::string> files[] = {
        {root / "docs/man/looperd.1", looperd::man_page_looperd(LOOPERD_VERSION)},
        {root / "docs/man/looperd.toml.5", looperd::man_page_config(LOOPERD_VERSION)},
        {root / "examples/looperd.toml", looperd::config_template()},
    };
    for (const auto& [path, text] : files) {
        std::filesystem::create_directories(path.parent_path());
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << text;
        if (!out) {
            std::fprintf(stderr, "looperd-generate-docs: cannot write %s\n", path.c_str());
            return 1;
        }
        std::printf("wrote %s\n", path.c_str());
    }
    return 0;
}
