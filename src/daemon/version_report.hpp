// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <string>

namespace looperd {

// What `looperd --version` prints: the version, the git revision the binary was built from, and
// which optional parts are built in (MIDI, DNS-SD, Ableton Link, the audio-thread guard), so that
// a bug report or a technician's check says exactly which looperd runs.
std::string version_report();

}  // namespace looperd
