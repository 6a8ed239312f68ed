// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "daemon/version_report.hpp"

#include "build_revision.hpp"
#include "daemon/dns_sd_publisher.hpp"
#include "io/link_session.hpp"
#include "io/stretch_render.hpp"
#include "looperd/rt_guard.hpp"

namespace looperd {

std::string version_report() {
    std::string guard = "off";
    if (rt_guard::enabled())
        guard = rt_guard::rtsan_linked() ? "on (allocations, locks and system calls)"
                                         : "on (allocations)";
    std::string out = "looperd " LOOPERD_VERSION "\n";
    out += "revision:           " LOOPERD_REVISION "\n";
    // MIDI is JACK MIDI, always built in: the ports can be turned off with --no-midi.
    out += "MIDI:               yes (JACK MIDI: notes, CCs, clock sync, pad lights)\n";
    out += std::string("DNS-SD:             ") +
           (DnsSdPublisher::built_in() ? "yes (Avahi)" : "no (built without libavahi-client)") +
           "\n";
    out += std::string("Ableton Link:       ") +
           (LinkSession::available() ? "yes (this binary is distributed under the GPL)"
                                     : "no (built without ableton-link-dev)") +
           "\n";
    out += std::string("Rubber Band:        ") +
           (stretch_available() ? "yes (stretch pitch; this binary is distributed under the GPL)"
                                : "no (built without librubberband-dev)") +
           "\n";
    out += "audio-thread guard: " + guard + "\n";
    return out;
}

}  // namespace looperd
