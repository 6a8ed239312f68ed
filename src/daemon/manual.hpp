// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <string>
#include <string_view>

namespace looperd {

// looperd's reference texts, written from the option table (option_table.cpp) and the OSC
// schema (osc_rows.hpp), so that a flag, a key or an address is described in one place only.
// The build's `generate-docs` target writes them into the tree (docs/man/, examples/); a unit
// test fails while a committed copy differs from what these return.

// The commented configuration file: every key at its default (or an example value, for keys
// whose default is a behaviour), then the rig tables. Installed as /etc/looperd/looperd.toml.
std::string config_template();

// The manual pages looperd(1) and looperd.toml(5), in man(7) roff. `version` goes in the
// footer.
std::string man_page_looperd(std::string_view version);
std::string man_page_config(std::string_view version);

}  // namespace looperd
