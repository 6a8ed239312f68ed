// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// looperd-launch-in-time: starts four loops on the same audio frame with one timetagged OSC
// bundle, then sends a fill that looperd holds back until the next bar line.
//
//   looperd-launch-in-time [--host HOST] [--port PORT] [--delay-ms MS] [--fill-after-ms MS]
//
// The bundle holds /clock/reset and /slot/0..3/play: every message of a bundle takes effect on
// the frame its timetag maps to, so the loops start together and the beat grid starts with
// them. The fill (slot 4) is quantized to the bar, so however late it is sent, it lands on the
// loops' next bar line. Slots 0..4 must hold samples already (see launch-in-time.sh).

#include <lo/lo.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace {

struct Options {
    std::string host = "127.0.0.1";
    std::string port = "9950";
    int delay_ms = 100;  // how far ahead the bundle is timetagged; 0 = "immediately"
    int fill_after_ms = 700;
};

void usage(const char* program) {
    std::fprintf(stderr,
                 "usage: %s [--host HOST] [--port PORT] [--delay-ms MS] [--fill-after-ms MS]\n",
                 program);
}

bool parse(int argc, char** argv, Options& o) {
    for (int k = 1; k < argc; ++k) {
        const std::string flag = argv[k];
        if (flag == "--help" || flag == "-h" || k + 1 == argc) return false;
        const char* value = argv[++k];
        if (flag == "--host") {
            o.host = value;
        } else if (flag == "--port") {
            o.port = value;
        } else if (flag == "--delay-ms") {
            o.delay_ms = std::atoi(value);
        } else if (flag == "--fill-after-ms") {
            o.fill_after_ms = std::atoi(value);
        } else {
            return false;
        }
    }
    return o.delay_ms >= 0 && o.fill_after_ms >= 0;
}

// The wall clock plus `ms`, as an OSC timetag. A timetag names a moment on the sender's wall
// clock: looperd maps it to a JACK frame, so the sender's and the daemon's clocks must agree
// (the same machine, or NTP-synchronised ones).
lo_timetag timetag_in(int ms) {
    lo_timetag now;
    lo_timetag_now(&now);
    const std::uint64_t ntp = ((static_cast<std::uint64_t>(now.sec) << 32) | now.frac) +
                              (static_cast<std::uint64_t>(ms) << 32) / 1000U;
    return lo_timetag{static_cast<std::uint32_t>(ntp >> 32),
                      static_cast<std::uint32_t>(ntp & 0xFFFFFFFFU)};
}

int count_error(const char* /*path*/, const char* types, lo_arg** argv, int argc,
                lo_message /*msg*/, void* errors) {
    ++*static_cast<int*>(errors);
    const bool text = argc >= 2 && types[0] == 's' && types[1] == 's';
    std::fprintf(stderr, "looperd: /error %s %s\n", text ? &argv[0]->s : "?",
                 text ? &argv[1]->s : "");
    return 0;
}

int got_pong(const char* /*path*/, const char* /*types*/, lo_arg** /*argv*/, int /*argc*/,
             lo_message /*msg*/, void* pong) {
    *static_cast<bool*>(pong) = true;
    return 0;
}

// liblo's LO_TT_IMMEDIATE and lo_send_from are C99 compound literals and varargs macros;
// these keep the example plain C++.
const lo_timetag kImmediate{0U, 1U};

// Sends one message from `from` (so replies come back to it) and frees it.
void send_message(lo_address to, lo_server from, const char* path, lo_message m) {
    lo_send_message_from(to, from, path, m);
    lo_message_free(m);
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    if (!parse(argc, argv, o)) {
        usage(argv[0]);
        return 2;
    }
    lo_address daemon = lo_address_new(o.host.c_str(), o.port.c_str());
    // Our own socket, so looperd's replies (/pong, /error) come back to it.
    lo_server replies = lo_server_new(nullptr, nullptr);
    if (daemon == nullptr || replies == nullptr) {
        std::fprintf(stderr, "cannot open an OSC socket\n");
        return 1;
    }
    int errors = 0;
    bool pong = false;
    lo_server_add_method(replies, "/error", nullptr, count_error, &errors);
    lo_server_add_method(replies, "/pong", nullptr, got_pong, &pong);

    send_message(daemon, replies, "/ping", lo_message_new());
    while (!pong && lo_server_recv_noblock(replies, 1000) > 0) {
    }
    if (!pong) {
        std::fprintf(stderr, "no /pong from looperd at %s:%s within 1 s\n", o.host.c_str(),
                     o.port.c_str());
        return 1;
    }

    // One bundle, one datagram: the grid restarts and the four loops start on one frame.
    lo_bundle start = lo_bundle_new(o.delay_ms == 0 ? kImmediate : timetag_in(o.delay_ms));
    lo_bundle_add_message(start, "/clock/reset", lo_message_new());
    for (int n = 0; n < 4; ++n) {
        const std::string play = "/slot/" + std::to_string(n) + "/play";
        lo_bundle_add_message(start, play.c_str(), lo_message_new());
    }
    const int sent = lo_send_bundle_from(daemon, replies, start);
    lo_bundle_free_recursive(start);
    if (sent < 0) {
        std::fprintf(stderr, "cannot send the bundle: %s\n", lo_address_errstr(daemon));
        return 1;
    }
    std::printf("four loops start %s\n", o.delay_ms == 0 ? "now" : "in a moment, together");

    // The fill, sent at an arbitrary moment: quantized to the bar, it waits for the next one.
    std::this_thread::sleep_for(std::chrono::milliseconds(o.delay_ms + o.fill_after_ms));
    lo_message quantize = lo_message_new();
    lo_message_add_string(quantize, "bar");
    send_message(daemon, replies, "/slot/4/quantize", quantize);
    send_message(daemon, replies, "/slot/4/play", lo_message_new());
    std::printf("fill sent: it plays on the next bar line\n");

    // Any refusal comes back within moments.
    while (lo_server_recv_noblock(replies, 300) > 0) {
    }
    lo_server_free(replies);
    lo_address_free(daemon);
    return errors == 0 ? 0 : 1;
}
