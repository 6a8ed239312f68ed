// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// looperd-load: runs looperd under load against a private jackd (dummy backend) and checks what
// docs/load-testing.md says it checks. Each scenario starts its own server and daemon, prints a
// block of figures (speed: rates reached, latency, render time, xruns) and checks (correctness,
// written to hold for the load actually sent, however busy the machine), and ends with a
// verdict. Exit status: 0 every scenario passed, 1 a check failed (or the rig failed), 2 bad
// usage.
//
// Sources: the daemon limits datagrams per source IP, so every role sends from a loopback
// address of its own: setup 127.0.0.1, the /ping monitor 127.0.0.2, the /status poller
// 127.0.0.3, the fairness scenario's slow source 127.0.0.4, load senders 127.0.1.x (one
// source), 127.0.2.x (garbage, 32 sources), 127.0.3.x (timetags, 16 sources) and 127.0.4.x
// (surfaces, 12 clients). The midi scenario's load goes through JACK instead: the tool's own
// MIDI client writes into looperd:midi_in.

#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../integration/fixtures.hpp"
#include "../integration/jack_midi.hpp"
#include "garbage.hpp"
#include "load_kit.hpp"
#include "looperd/limits.hpp"
#include "midi_flood.hpp"

namespace looperd::load {
namespace {

using namespace std::chrono_literals;
using test::osc_float;
using test::osc_int;
using test::osc_string;

constexpr std::uint32_t kRate = 48000;
constexpr std::uint32_t kBlock = 128;
// The normal answer time of a /ping, for the latency figures (never a check: speed is measured
// by benchmarks, and a busy machine may hold any answer).
constexpr double kPingBoundMs = 100.0;

struct Settings {
    Paths paths;
    double scale = 1.0;
    bool keep = false;
    bool realtime = true;
    std::vector<std::string> daemon_args;  // --daemon-arg: appended to every scenario's own
};

// A scenario's daemon arguments, then the user's --daemon-arg ones (later flags win).
std::vector<std::string> with_extra(std::vector<std::string> args, const Settings& s) {
    args.insert(args.end(), s.daemon_args.begin(), s.daemon_args.end());
    return args;
}

std::chrono::milliseconds scaled(double seconds, double scale) {
    return std::chrono::milliseconds(std::llround(seconds * scale * 1000.0));
}

double seconds_of(std::chrono::milliseconds d) {
    return static_cast<double>(d.count()) / 1000.0;
}

std::string count(double v) {
    return std::to_string(std::llround(v));
}

std::string kib(long v) {
    return std::to_string(v) + " KiB";
}

double delta(const std::map<std::string, double>& after,
             const std::map<std::string, double>& before, const std::string& key) {
    const auto a = after.find(key);
    const auto b = before.find(key);
    if (a == after.end() || b == before.end()) throw std::runtime_error("/status has no " + key);
    return a->second - b->second;
}

std::vector<std::unique_ptr<UdpSocket>> sources(const std::string& prefix, int n) {
    std::vector<std::unique_ptr<UdpSocket>> out;
    for (int k = 1; k <= n; ++k)
        out.push_back(std::make_unique<UdpSocket>(prefix + std::to_string(k)));
    return out;
}

std::vector<UdpSocket*> raw(const std::vector<std::unique_ptr<UdpSocket>>& sockets) {
    std::vector<UdpSocket*> out;
    for (const auto& s : sockets) out.push_back(s.get());
    return out;
}

// A generator cycling through precomputed datagrams.
Generator cycle(std::shared_ptr<const std::vector<Bytes>> set) {
    return [set](std::uint64_t seq, Bytes& out) {
        const Bytes& b = (*set)[seq % set->size()];
        out.assign(b.begin(), b.end());
    };
}

void write_be32(Bytes& b, std::size_t at, std::uint32_t v) {
    for (int k = 0; k < 4; ++k)
        b[at + static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(v >> (24 - 8 * k));
}

std::string jack_xruns_text(const Rig::JackXruns& x) {
    return "jackd's log: its driver woke late " + std::to_string(x.driver_late) + "x (by up to " +
           std::to_string(x.max_late_us) + " us), a client had not finished " +
           std::to_string(x.client_late) + "x";
}

// Figures every scenario prints about the daemon's side of the run.
void daemon_figures(Report& report, const Rig& rig, std::uintmax_t jack_mark,
                    const std::map<std::string, double>& before,
                    const std::map<std::string, double>& after, std::uint64_t socket_drops) {
    report.figure("dropped (queue full)", count(delta(after, before, "dropped")));
    report.figure("dropped_rate_limited", count(delta(after, before, "dropped_rate_limited")));
    report.figure("dropped_not_allowed", count(delta(after, before, "dropped_not_allowed")));
    report.figure("error_replies_dropped", count(delta(after, before, "error_replies_dropped")));
    report.figure("scheduled_refused", count(delta(after, before, "scheduled_refused")));
    report.figure("late", count(delta(after, before, "late")));
    report.figure("kernel socket drops", std::to_string(socket_drops));
    const auto jack = rig.jackd_xruns(jack_mark);
    report.figure("xruns",
                  count(delta(after, before, "xruns")) + " (" + jack_xruns_text(jack) + ")");
}

void rig_figures(Report& report, const Rig& rig) {
    report.figure("scheduling", std::string("jackd ") +
                                    (rig.jackd_realtime() ? "SCHED_FIFO" : "not realtime") +
                                    ", looperd's process thread " +
                                    (rig.daemon_realtime() ? "SCHED_FIFO" : "not realtime"));
}

double render_max_so_far(const StatusPoller& poller, Clock::time_point from) {
    double m = 0.0;
    for (const auto& sample : poller.samples(from, Clock::now()))
        if (sample.values.count("render_max_us"))
            m = std::max(m, sample.values.at("render_max_us"));
    return m;
}

// The longest block render and the DSP load seen by the poller in [from, to), and the longest
// gap between its answers (the render figure is per second of audio, so gaps up to 1 s miss
// nothing).
struct RenderFigures {
    double max_render_us = 0.0;
    double max_dsp_load = 0.0;
    double max_gap_s = 0.0;
    std::size_t samples = 0;
};

RenderFigures render_figures(const StatusPoller& poller, Clock::time_point from,
                             Clock::time_point to) {
    RenderFigures f;
    const auto samples = poller.samples(from, to);
    f.samples = samples.size();
    auto previous = from;
    for (const auto& s : samples) {
        f.max_render_us = std::max(
            f.max_render_us, s.values.count("render_max_us") ? s.values.at("render_max_us") : 0.0);
        f.max_dsp_load =
            std::max(f.max_dsp_load, s.values.count("dsp_load") ? s.values.at("dsp_load") : 0.0);
        f.max_gap_s = std::max(f.max_gap_s, std::chrono::duration<double>(s.at - previous).count());
        previous = s.at;
    }
    f.max_gap_s = std::max(f.max_gap_s, std::chrono::duration<double>(to - previous).count());
    return f;
}

void check_clean_exit(Report& report, Rig& rig) {
    const bool alive = rig.alive();
    const auto status = rig.stop();
    const bool clean = alive && status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0;
    report.check("the daemon ran to the end and stopped cleanly on SIGTERM", clean,
                 !alive   ? "it had died"
                 : status ? test::describe_wait_status(*status)
                          : std::string("still running"),
                 "alive, exit 0");
}

// The recorded loop, sample by sample, from its first sounding frame on: bit-exact against
// `loop` (interleaved stereo, `loop_frames` long), sounding before `frames_before` and recorded
// up to `needed`.
void check_loop_bit_exact(Report& report, const std::string& what,
                          const std::vector<std::vector<float>>& rec,
                          const std::vector<float>& loop, std::size_t loop_frames,
                          std::size_t frames_before, std::size_t needed) {
    std::size_t first = 0;
    while (first < rec[0].size() && rec[0][first] == 0.0F) ++first;
    std::size_t checked = 0;
    std::string mismatch;
    for (std::size_t k = first; k < rec[0].size() && mismatch.empty(); ++k, ++checked) {
        const std::size_t at = (k - first) % loop_frames;
        for (std::size_t c = 0; c < 2; ++c) {
            if (rec[c][k] != loop[at * 2 + c]) {
                mismatch = "out_" + std::to_string(c + 1) + " frame " + std::to_string(k - first) +
                           ": " + fixed(rec[c][k], 6) + " instead of " + fixed(loop[at * 2 + c], 6);
                break;
            }
        }
    }
    report.check(what, mismatch.empty() && first < frames_before && rec[0].size() >= needed,
                 mismatch.empty() ? fixed(static_cast<double>(checked) / kRate, 2) +
                                        " s identical, from recorded frame " + std::to_string(first)
                                  : mismatch,
                 "bit-exact from before frame " + std::to_string(frames_before) + " to frame " +
                     std::to_string(needed));
}

// ---- faders ----------------------------------------------------------------------------------

int faders(const Settings& s) {
    const auto duration = scaled(60, s.scale);
    std::printf(
        "== faders: ten faders (/slot/1..10/gain) at 100 Hz, 1,000 messages/s for %.1f s ==\n",
        seconds_of(duration));
    Report report("faders");
    constexpr int kFaders = 10;
    constexpr float kLevel = 0.25F;
    // Each slot plays a constant on an output pair of its own, so the recording shows the gain
    // the engine finally applied, fader by fader.
    Rig rig(s.paths, with_extra({"--outputs", std::to_string(2 * kFaders)}, s), s.keep, s.realtime);
    rig_figures(report, rig);
    test::write_wav(rig.samples() / "dc.wav", 1, std::vector<float>(4800, kLevel));
    test::JackRecorder recorder(rig.jack().name(), kFaders, 2s);
    std::vector<float> top(kFaders);
    std::vector<std::string> address(kFaders);
    for (int f = 0; f < kFaders; ++f) {
        const int slot = f + 1;
        top[static_cast<std::size_t>(f)] = 0.4F + 0.3F * static_cast<float>(f);
        address[static_cast<std::size_t>(f)] = test::slot(slot, "gain");
        rig.load(slot, "dc.wav");
        rig.send(test::slot(slot, "output"), {osc_int(slot)});
        rig.send(test::slot(slot, "mode"), {osc_string("loop")});
        rig.send(test::slot(slot, "gain"), {osc_float(0.0F)});
        rig.send(test::slot(slot, "play"));
        recorder.connect("looperd:out_" + std::to_string(2 * f + 1), static_cast<std::size_t>(f));
    }

    // Feedback echoes every accepted gain; a listener keeps them per fader, in arrival order.
    UdpSocket listener("127.0.0.1");
    // It subscribes itself and pings every 5 s, as a surface does: a subscriber silent for
    // --subscriber-timeout (60 s) is dropped.
    listener.send(rig.port(), osc_message_i("/notify", 1));
    std::vector<std::vector<double>> echoes(kFaders);
    std::mutex echoes_mutex;
    std::atomic<bool> listening{true};
    auto listen_loop = [&] {
        std::vector<Received> got;
        auto keepalive = Clock::now() + 5s;
        while (listening) {
            if (Clock::now() >= keepalive) {
                listener.send(rig.port(), osc_message("/ping"));
                keepalive += 5s;
            }
            got.clear();
            if (!listener.receive(got, 50ms)) continue;
            std::lock_guard lock(echoes_mutex);
            for (const auto& r : got) {
                for (int f = 0; f < kFaders; ++f) {
                    if (r.address == address[static_cast<std::size_t>(f)] && !r.numbers.empty())
                        echoes[static_cast<std::size_t>(f)].push_back(r.numbers[0]);
                }
            }
        }
    };
    std::thread listen(listen_loop);
    PingMonitor ping("127.0.0.2", rig.port());
    StatusPoller poller("127.0.0.3", rig.port());
    std::this_thread::sleep_for(1500ms);  // the subscription's first state, and a render window
    listening = false;
    listen.join();
    for (auto& e : echoes) e.clear();  // the state dump before the run is not part of it
    listening = true;
    listen = std::thread(listen_loop);

    const auto before = rig.status();
    const long rss_before = rig.rss_kib();
    const auto drops_before = rig.socket_drops();
    const auto jack_mark = rig.jackd_log_mark();

    // Fader f's j-th value is top_f·(j+1)/N: strictly increasing, its last exactly top_f.
    const auto per_fader = static_cast<std::uint64_t>(std::llround(100.0 * seconds_of(duration)));
    std::vector<Bytes> templates;
    for (int f = 0; f < kFaders; ++f)
        templates.push_back(osc_message_f(address[static_cast<std::size_t>(f)], 0.0F));
    auto value = [&](std::uint64_t seq) {
        const auto f = static_cast<std::size_t>(seq % kFaders);
        return static_cast<float>(static_cast<double>(top[f]) *
                                  static_cast<double>(seq / kFaders + 1) /
                                  static_cast<double>(per_fader));
    };
    UdpSocket source("127.0.1.1");
    PacedSender sender({&source}, rig.port(), 1000.0, [&](std::uint64_t seq, Bytes& out) {
        const auto f = static_cast<std::size_t>(seq % kFaders);
        out.assign(templates[f].begin(), templates[f].end());
        write_be32(out, float_offset(address[f]), std::bit_cast<std::uint32_t>(value(seq)));
    });
    sender.start(std::chrono::milliseconds(per_fader * kFaders));  // exactly 10·N datagrams
    const auto sent = sender.join();
    const auto t0 = sender.started();
    const auto t1 = sender.ended();
    rig.sync();  // every fader datagram that reached the daemon has been handled
    const auto after = rig.status();
    const long rss_after = rig.rss_kib();
    const auto drops = rig.socket_drops() - drops_before;
    // What looperd holds for each fader now; its feedback (30 bursts a second) must come to
    // say the same: waited for, not given a fixed time.
    std::vector<double> held(kFaders, -1.0);
    for (int f = 0; f < kFaders; ++f) {
        const auto info = rig.info(f + 1);
        if (info.count("gain")) held[static_cast<std::size_t>(f)] = info.at("gain").number();
    }
    auto echoes_settled = [&] {
        std::lock_guard lock(echoes_mutex);
        for (std::size_t f = 0; f < kFaders; ++f)
            if (echoes[f].empty() || echoes[f].back() != held[f]) return false;
        return true;
    };
    const auto echo_deadline = Clock::now() + test::kHangBound;
    while (!echoes_settled() && Clock::now() < echo_deadline) std::this_thread::sleep_for(20ms);
    listening = false;
    listen.join();
    const auto replies = source.drain(200ms);
    const auto errors = replies.count("/error") ? replies.at("/error") : 0;
    const double rate_limited = delta(after, before, "dropped_rate_limited");

    report.load("sender (127.0.1.1)", sent, 1000.0);
    report.figure("messages sent",
                  std::to_string(sent.sent) + " (" + std::to_string(per_fader) + " per fader)");
    daemon_figures(report, rig, jack_mark, before, after, drops);
    report.figure("/error replies", std::to_string(errors));
    report.figure("ping (127.0.0.2)", summarise(ping.pings(t0, t1)).to_string());
    const auto rf = render_figures(poller, t0, t1);
    report.figure("render max / DSP load",
                  fixed(rf.max_render_us) + " us / " + fixed(rf.max_dsp_load, 2) + " %");
    report.figure("RSS before / after", kib(rss_before) + " / " + kib(rss_after));

    report.check("every message was sent", sent.sent == per_fader * kFaders,
                 std::to_string(sent.sent) + " accepted by the kernel",
                 std::to_string(per_fader * kFaders));
    // Datagrams can be lost before looperd decides anything only when it could not read them
    // in time: the kernel drops them at its full socket, or a backlog read all at once exceeds
    // the limiter's burst. Both need a machine too busy to let looperd keep up with 1,000/s,
    // so they are figures; the checks below then hold for what did reach it.
    const double lost = static_cast<double>(drops) + rate_limited;
    report.figure("lost before looperd read them", count(lost) + " (" + std::to_string(drops) +
                                                       " kernel drops, " + count(rate_limited) +
                                                       " rate-limited)");
    // The limiter (2000/s, bursts of 500) drops none of a steady 1,000/s. A backlog of more than
    // its burst needs half a second's delay, in the sender (its largest catch-up) or in
    // looperd's reading (the /ping monitor's slowest answer); short of that, a drop is the
    // limiter's own doing (e.g. --daemon-arg --osc-rate --daemon-arg 500) and fails the run.
    const auto run_pings = summarise(ping.pings(t0, t1));
    const bool kept_up = sent.most_at_once <= 250 && run_pings.lost == 0 && run_pings.count > 0 &&
                         run_pings.max_ms < 250.0;
    if (kept_up) {
        report.check("nothing rate-limited (1,000/s is under the 2,000/s per-source limit)",
                     rate_limited == 0.0, count(rate_limited),
                     "0 (the sender caught up at most " + std::to_string(sent.most_at_once) +
                         " at once, looperd answered within " + fixed(run_pings.max_ms, 1) +
                         " ms)");
    } else {
        report.note("rate-limited datagrams not checked: the sender caught up " +
                    std::to_string(sent.most_at_once) + " at once, or looperd read late (" +
                    run_pings.to_string() + ")");
    }
    report.check("no /error and nothing refused for its source",
                 errors == 0 && delta(after, before, "dropped_not_allowed") == 0,
                 std::to_string(errors) + " /error, " +
                     count(delta(after, before, "dropped_not_allowed")) + " not allowed",
                 "0");
    report.check("nothing dropped on the way to the audio thread",
                 delta(after, before, "dropped") == 0, count(delta(after, before, "dropped")), "0");
    // Xruns say how fast the machine was, not whether looperd was right: printed, with jackd's
    // view of each (its dummy driver's own late wake-ups, or a client that had not finished)
    // and the longest block render beside them.
    const auto jack_xruns = rig.jackd_xruns(jack_mark);
    const auto xruns = delta(after, before, "xruns");
    const auto driver_only = std::min<double>(xruns, static_cast<double>(jack_xruns.driver_late));
    report.figure("xruns", count(xruns) + ", " + count(driver_only) + " of the host's timer; " +
                               jack_xruns_text(jack_xruns) + "; looperd's longest block render " +
                               fixed(render_max_so_far(poller, t0)) + " us");

    // Order: each fader's echoes only ever rise, and the last says what looperd holds, which
    // is the fader's last value sent (or, if datagrams were lost before looperd read them,
    // one of the values it sent: the last one may be among the lost).
    int disordered = 0;
    int wrong_last = 0;
    int wrong_held = 0;
    std::string last_detail;
    std::string held_detail;
    std::size_t echo_total = 0;
    for (int f = 0; f < kFaders; ++f) {
        const auto& e = echoes[static_cast<std::size_t>(f)];
        const double last_sent = static_cast<double>(top[static_cast<std::size_t>(f)]);
        const double h = held[static_cast<std::size_t>(f)];
        echo_total += e.size();
        for (std::size_t k = 1; k < e.size(); ++k)
            if (e[k] < e[k - 1]) ++disordered;
        if (e.empty() || e.back() != h) {
            if (wrong_last++ == 0)
                last_detail = "; fader " + std::to_string(f + 1) + " last echoed " +
                              (e.empty() ? std::string("nothing") : fixed(e.back(), 6)) +
                              ", looperd holds " + fixed(h, 6);
        }
        if (lost == 0.0 ? h != last_sent : !(h > 0.0 && h <= last_sent)) {
            if (wrong_held++ == 0)
                held_detail = "; fader " + std::to_string(f + 1) + " holds " + fixed(h, 6) +
                              ", last sent " + fixed(last_sent, 6);
        }
    }
    report.figure("gain echoes received",
                  std::to_string(echo_total) + " (coalesced at 30 bursts/s)");
    report.check("feedback echoes rise monotonically per fader (no reordering)", disordered == 0,
                 std::to_string(disordered) + " steps back", "0");
    report.check("each fader's last echo is the gain /slot/<n>/info reports", wrong_last == 0,
                 std::to_string(wrong_last) + " faders wrong" + last_detail, "0");
    report.check(lost == 0.0 ? "/slot/<n>/info gain is the last value sent"
                             : "/slot/<n>/info gain is a value the fader sent (some were lost)",
                 wrong_held == 0, std::to_string(wrong_held) + " faders wrong" + held_detail, "0");

    // The engine itself: every output now carries level × the gain looperd holds, to the
    // sample.
    recorder.start();
    recorder.wait_for_frames(kRate / 10, test::kHangBound);
    const auto rec = recorder.snapshot();
    int audio_wrong = 0;
    std::string first_wrong;
    for (int f = 0; f < kFaders; ++f) {
        const float expected = kLevel * static_cast<float>(held[static_cast<std::size_t>(f)]);
        const auto& channel = rec[static_cast<std::size_t>(f)];
        bool ok = channel.size() >= kRate / 10;
        for (const float v : channel) ok = ok && std::fabs(v - expected) <= 1e-6F;
        if (!ok) {
            ++audio_wrong;
            if (first_wrong.empty())
                first_wrong =
                    "; out_" + std::to_string(2 * f + 1) + " carries " +
                    (channel.empty() ? std::string("nothing") : fixed(channel.back(), 6)) +
                    ", expected " + fixed(expected, 6);
        }
    }
    report.check("the engine plays each fader's last gain (recorded output)", audio_wrong == 0,
                 std::to_string(audio_wrong) + " outputs wrong" + first_wrong, "0");
    check_clean_exit(report, rig);
    return report.finish();
}

// ---- flood -----------------------------------------------------------------------------------

int flood(const Settings& s) {
    const auto duration = scaled(60, s.scale);
    std::printf("== flood: 10,000 valid messages/s from one source for %.1f s ==\n",
                seconds_of(duration));
    Report report("flood");
    Rig rig(s.paths, with_extra({}, s), s.keep, s.realtime);
    rig_figures(report, rig);
    test::write_wav(rig.samples() / "loop.wav", 2, test::noise(4800, 2, 11));
    rig.load(0, "loop.wav");
    rig.send(test::slot(0, "mode"), {osc_string("loop")});
    rig.send(test::slot(0, "play"));
    PingMonitor ping("127.0.0.2", rig.port());
    StatusPoller poller("127.0.0.3", rig.port());
    std::this_thread::sleep_for(1500ms);
    const auto before = rig.status();
    const long rss_before = rig.rss_kib();
    const auto drops_before = rig.socket_drops();
    const auto jack_mark = rig.jackd_log_mark();

    auto set = std::make_shared<std::vector<Bytes>>();
    for (int k = 0; k < 999; ++k) {
        const int slot = 1 + k % 10;
        switch (k % 3) {
            case 0:
                set->push_back(
                    osc_message_f(test::slot(slot, "gain"), static_cast<float>(k % 400) / 100.0F));
                break;
            case 1:
                set->push_back(osc_message_f(test::slot(slot, "pan"),
                                             static_cast<float>(k % 200 - 100) / 100.0F));
                break;
            default:
                set->push_back(osc_message_f(test::slot(slot, "rate"),
                                             0.5F + static_cast<float>(k % 100) / 100.0F));
                break;
        }
    }
    UdpSocket source("127.0.1.1");
    PacedSender sender({&source}, rig.port(), 10000.0, cycle(set));
    sender.start(duration);
    const auto sent = sender.join();
    const auto t0 = sender.started();
    const auto t1 = sender.ended();
    rig.sync();  // every datagram that reached the daemon has been read, and counted
    const double read_s = std::chrono::duration<double>(Clock::now() - t0).count();
    const auto after = rig.status();
    const long rss_after = rig.rss_kib();
    const auto drops = rig.socket_drops() - drops_before;

    report.load("sender (127.0.1.1)", sent, 10000.0);
    daemon_figures(report, rig, jack_mark, before, after, drops);
    const auto pings = summarise(ping.pings(t0, t1));
    report.figure("ping (127.0.0.2)", pings.to_string());
    const auto rf = render_figures(poller, t0, t1);
    const double period_us = 1e6 * kBlock / kRate;
    report.figure("render max / DSP load", fixed(rf.max_render_us) + " us / " +
                                               fixed(rf.max_dsp_load, 2) + " % (" +
                                               std::to_string(rf.samples) + " /status answers)");
    report.figure("RSS before / after", kib(rss_before) + " / " + kib(rss_after));

    // Latency and render time are figures (how fast this machine let looperd be); that the
    // other source was served at all through the flood is a check.
    report.figure("pings under 100 ms", pings.max_ms < kPingBoundMs && pings.lost == 0
                                            ? std::string("all")
                                            : std::string("not all (a busy machine)"));
    report.figure("render max vs half the period",
                  fixed(rf.max_render_us) + " us of " + fixed(period_us / 2) +
                      " us; /status gaps <= " + fixed(rf.max_gap_s, 2) + " s");
    report.check("/ping from another source answered during the flood", pings.count > pings.lost,
                 pings.to_string(), "some answered");
    // The limiter lets through at most the burst plus the rate per second of the time the
    // datagrams took to be read (from the first sent to the sync above, which a slow machine
    // only lengthens); everything else that reached the socket must be counted as rate-limited.
    const double admitted_max = 500.0 + 2000.0 * read_s;
    const double limited = delta(after, before, "dropped_rate_limited");
    const double must_limit =
        static_cast<double>(sent.sent) - static_cast<double>(drops) - admitted_max;
    report.check("the daemon counts the datagrams over the source's rate",
                 limited >= must_limit && (must_limit <= 0.0 || limited > 0.0),
                 count(limited) + " counted",
                 ">= " + count(must_limit) + " (sent - kernel drops - 500 - 2000/s over " +
                     fixed(read_s, 2) + " s)");
    report.check("resident memory growth", rss_after - rss_before <= 5 * 1024,
                 kib(rss_after - rss_before), "<= 5120 KiB");
    check_clean_exit(report, rig);
    return report.finish();
}

// ---- garbage ---------------------------------------------------------------------------------

int garbage(const Settings& s) {
    const auto duration = scaled(10, s.scale);
    std::printf(
        "== garbage: 50,000 datagrams/s of garbage and valid OSC from 32 sources for %.1f s "
        "while a loop plays ==\n",
        seconds_of(duration));
    Report report("garbage");
    Rig rig(s.paths, with_extra({}, s), s.keep, s.realtime);
    rig_figures(report, rig);
    constexpr std::size_t kLoop = 4800;
    const auto loop = test::noise(kLoop, 2, 21);
    test::write_wav(rig.samples() / "loop.wav", 2, loop);
    rig.load(0, "loop.wav");
    rig.send(test::slot(0, "mode"), {osc_string("loop")});
    test::JackRecorder recorder(
        rig.jack().name(), 2,
        std::chrono::ceil<std::chrono::seconds>(duration) + std::chrono::seconds(20));
    recorder.connect("looperd:out_1", 0);
    recorder.connect("looperd:out_2", 1);
    recorder.start();
    const auto record_start = Clock::now();
    rig.send(test::slot(0, "play"));
    PingMonitor ping("127.0.0.2", rig.port());
    StatusPoller poller("127.0.0.3", rig.port());
    std::this_thread::sleep_for(1000ms);
    // The loop sounds before the flood begins: the play was read, and blocks rendered since.
    rig.sync();
    recorder.wait_for_frames(recorder.frames() + 4 * kBlock, test::kHangBound);
    const auto before = rig.status();
    const long rss_before = rig.rss_kib();
    const auto drops_before = rig.socket_drops();
    const auto jack_mark = rig.jackd_log_mark();

    const auto items = make_garbage(4096, 1);
    auto set = std::make_shared<std::vector<Bytes>>();
    std::map<std::string, int> kinds;
    std::size_t valid = 0;
    for (const auto& item : items) {
        set->push_back(item.bytes);
        ++kinds[item.kind];
        if (item.kind.rfind("valid", 0) == 0) ++valid;
    }
    auto sockets = sources("127.0.2.", 32);
    PacedSender sender(raw(sockets), rig.port(), 50000.0, cycle(set));
    const std::size_t frames_before = recorder.frames();
    sender.start(duration);
    const auto sent = sender.join();
    const auto t0 = sender.started();
    const auto t1 = sender.ended();
    // 2.5 s of audio after the flood, waited for as audio (a busy jackd runs late), and the
    // daemon's backlog read (it answers /ping on the control socket).
    const std::size_t frames_at_end = recorder.frames();
    recorder.wait_for_frames(frames_at_end + kRate * 5 / 2, test::kHangBound);
    rig.sync();
    const auto after = rig.status();
    const long rss_after = rig.rss_kib();
    const auto drops = rig.socket_drops() - drops_before;
    std::uint64_t pongs = 0;
    for (auto& socket : sockets) {
        const auto replies = socket->drain(0ms);
        if (replies.count("/pong")) pongs += replies.at("/pong");
    }
    recorder.stop();
    const auto record_seconds = std::chrono::duration<double>(Clock::now() - record_start).count();

    report.load("32 senders (127.0.2.1-32)", sent, 50000.0);
    report.figure("mix", std::to_string(items.size()) + " datagrams cycled, " +
                             std::to_string(valid) + " well-formed, " +
                             std::to_string(kinds.size()) + " kinds");
    daemon_figures(report, rig, jack_mark, before, after, drops);
    report.figure("ping during the flood", summarise(ping.pings(t0, t1)).to_string());
    const auto rf = render_figures(poller, t0, t1);
    report.figure("render max / DSP load",
                  fixed(rf.max_render_us) + " us / " + fixed(rf.max_dsp_load, 2) + " %");
    report.figure("RSS before / after", kib(rss_before) + " / " + kib(rss_after));
    report.figure("/pong to the flood's sockets",
                  std::to_string(pongs) + " (what their buffers kept)");

    // Recovery: the first ping from which every ping is answered within the normal bound.
    const auto tail = ping.pings(t1, t1 + 2500ms);
    std::optional<double> recovered_s;
    for (std::size_t k = 0; k < tail.size(); ++k) {
        bool rest_ok = true;
        for (std::size_t j = k; j < tail.size(); ++j)
            rest_ok =
                rest_ok && tail[j].latency &&
                std::chrono::duration<double, std::milli>(*tail[j].latency).count() < kPingBoundMs;
        if (rest_ok) {
            recovered_s =
                std::chrono::duration<double>(tail[k].sent + *tail[k].latency - t1).count();
            break;
        }
    }
    report.figure("ping after the flood", summarise(tail).to_string());
    report.figure("latency back under 100 ms",
                  recovered_s ? "after " + fixed(*recovered_s, 3) + " s, and from then on"
                              : std::string("not within 2.5 s (a busy machine)"));
    report.check("well-formed messages in the flood were served", pongs > 0,
                 std::to_string(pongs) + " /pong", "> 0");

    const auto rec = recorder.snapshot();
    // Through the flood: from before its first datagram to 2.5 s of audio after its last.
    const std::size_t needed = frames_at_end + kRate * 5 / 2;
    report.figure("recorded", fixed(static_cast<double>(rec[0].size()) / kRate, 2) +
                                  " s of audio in " + fixed(record_seconds, 2) + " s");
    check_loop_bit_exact(report,
                         "the loop played unchanged through the flood (every recorded sample)", rec,
                         loop, kLoop, frames_before, needed);
    check_clean_exit(report, rig);
    return report.finish();
}

// ---- timetags --------------------------------------------------------------------------------

int timetags(const Settings& s) {
    const auto duration = scaled(10, s.scale);
    std::printf(
        "== timetags: 20,000 bundles/s timetagged 2-3 s ahead, from 16 sources, for %.1f s ==\n",
        seconds_of(duration));
    Report report("timetags");
    Rig rig(s.paths, with_extra({}, s), s.keep, s.realtime);
    rig_figures(report, rig);
    PingMonitor ping("127.0.0.2", rig.port());
    StatusPoller poller("127.0.0.3", rig.port());
    std::this_thread::sleep_for(1500ms);
    const auto before = rig.status();
    const long rss_before = rig.rss_kib();
    const auto drops_before = rig.socket_drops();
    const auto jack_mark = rig.jackd_log_mark();

    const std::string address = "/slot/1/gain";
    const Bytes bundle = osc_bundle(1, {osc_message_f(address, 0.5F)});
    const std::size_t value_at = 16 + 4 + float_offset(address);
    auto sockets = sources("127.0.3.", 16);
    PacedSender sender(raw(sockets), rig.port(), 20000.0, [&](std::uint64_t seq, Bytes& out) {
        out.assign(bundle.begin(), bundle.end());
        const std::uint64_t tt = ntp_now(2s + std::chrono::microseconds((seq % 1000) * 1000));
        write_be32(out, 8, static_cast<std::uint32_t>(tt >> 32));
        write_be32(out, 12, static_cast<std::uint32_t>(tt));
        write_be32(out, value_at,
                   std::bit_cast<std::uint32_t>(static_cast<float>(seq % 400) / 100.0F));
    });
    sender.start(duration);
    const auto sent = sender.join();
    const auto t0 = sender.started();
    const auto t1 = sender.ended();
    rig.sync();  // every bundle that reached the daemon has been read
    const double read_s = std::chrono::duration<double>(Clock::now() - t0).count();
    const long rss_peak = rig.rss_kib();
    const auto after = rig.status();
    const auto drops = rig.socket_drops() - drops_before;
    std::this_thread::sleep_for(3500ms);  // everything accepted has come due
    const long rss_drained = rig.rss_kib();
    const auto drained = rig.status();

    report.load("16 senders (127.0.3.1-16)", sent, 20000.0);
    daemon_figures(report, rig, jack_mark, before, after, drops);
    report.figure("late after the drain", count(delta(drained, before, "late")));
    report.figure("ping (127.0.0.2)", summarise(ping.pings(t0, t1)).to_string());
    const auto rf = render_figures(poller, t0, t1);
    report.figure("render max / DSP load",
                  fixed(rf.max_render_us) + " us / " + fixed(rf.max_dsp_load, 2) + " %");
    report.figure("RSS before / end / drained",
                  kib(rss_before) + " / " + kib(rss_peak) + " / " + kib(rss_drained));

    report.check("resident memory growth at the end of the flood", rss_peak - rss_before <= 1024,
                 kib(rss_peak - rss_before), "<= 1024 KiB");
    report.check("resident memory growth once the schedule drained",
                 rss_drained - rss_before <= 1024, kib(rss_drained - rss_before), "<= 1024 KiB");
    // At most --max-scheduled (1024) wait at once, and each is timetagged 2 s or more after it
    // was sent. Read at most `lag` after sending, each stays at least 2 s − lag, so over the T
    // seconds the bundles took to be read at most 1024·(⌈T/(2 − lag)⌉+1) can have been
    // accepted: the rest must be refused. The lag is the /ping monitor's slowest answer during
    // the flood (its pings wait in the same socket), plus its 100 ms between pings; a machine
    // too busy for any to be answered within 1.5 s leaves nothing to check.
    const double reached = static_cast<double>(sent.sent) - static_cast<double>(drops) -
                           delta(after, before, "dropped_rate_limited") -
                           delta(after, before, "dropped_not_allowed");
    const auto flood_pings = summarise(ping.pings(t0, t1));
    const double lag = flood_pings.max_ms / 1000.0 + 0.1;
    const double refused = delta(after, before, "scheduled_refused");
    if (flood_pings.lost == 0 && flood_pings.count > 0 && lag < 1.5) {
        const double accept_max = 1024.0 * (std::ceil(read_s / (2.0 - lag)) + 1.0);
        const double must_refuse = reached - accept_max;
        report.check("the schedule stays bounded: the excess is refused and counted",
                     refused >= must_refuse && (must_refuse <= 0.0 || refused > 0.0),
                     count(refused) + " refused of " + count(reached) + " that reached the daemon",
                     ">= " + count(must_refuse) + " (all but 1024 per " + fixed(2.0 - lag, 2) +
                         " s over " + fixed(read_s, 2) + " s)");
    } else {
        report.note("schedule bound not checked: the daemon read its socket too late (" +
                    flood_pings.to_string() + "); " + count(refused) + " refused");
    }
    check_clean_exit(report, rig);
    return report.finish();
}

// ---- fairness --------------------------------------------------------------------------------

int fairness(const Settings& s) {
    const auto duration = scaled(30, s.scale);
    std::printf("== fairness: source A at 5,000 messages/s, source B at 10/s, for %.1f s ==\n",
                seconds_of(duration));
    Report report("fairness");
    Rig rig(s.paths, with_extra({}, s), s.keep, s.realtime);
    rig_figures(report, rig);
    std::this_thread::sleep_for(500ms);
    const auto before = rig.status();
    const auto drops_before = rig.socket_drops();
    const auto jack_mark = rig.jackd_log_mark();

    auto set = std::make_shared<std::vector<Bytes>>();
    for (int k = 0; k < 400; ++k)
        set->push_back(osc_message_f("/slot/1/gain", static_cast<float>(k) / 100.0F));
    // B: each command is a bundle of a gain with a counter value and a /ping, so each /pong
    // proves that one datagram of B's was read and carried out.
    auto b_value = [](std::uint64_t seq) { return static_cast<float>(seq % 4000 + 1) / 1000.0F; };
    UdpSocket a("127.0.1.1");
    UdpSocket b("127.0.0.4");
    PacedSender sender_a({&a}, rig.port(), 5000.0, cycle(set));
    PacedSender sender_b({&b}, rig.port(), 10.0, [&](std::uint64_t seq, Bytes& out) {
        out = osc_bundle(1, {osc_message_f("/slot/2/gain", b_value(seq)), osc_message("/ping")});
    });
    // B's replies are read as they come: a socket's buffer holds only about 256 of them.
    std::map<std::string, std::uint64_t> replies;
    std::atomic<bool> reading{true};
    std::thread reader([&] {
        std::vector<Received> got;
        while (reading) {
            got.clear();
            if (!b.receive(got, 50ms)) continue;
            for (const auto& r : got) ++replies[r.address];
        }
    });
    const auto t0 = Clock::now();
    sender_a.start(duration);
    sender_b.start(duration);
    const auto sent_a = sender_a.join();
    const auto sent_b = sender_b.join();
    // Every datagram that reached the daemon has been read, so B's last answers are in its
    // socket (loopback delivers at once): read them, then stop.
    rig.sync();
    const double read_s = std::chrono::duration<double>(Clock::now() - t0).count();
    reading = false;
    reader.join();
    for (const auto& [address, n] : b.drain(0ms)) replies[address] += n;
    const auto after = rig.status();
    const auto drops = rig.socket_drops() - drops_before;
    const std::uint64_t pongs = replies.count("/pong") ? replies.at("/pong") : 0;
    const std::uint64_t errors = replies.count("/error") ? replies.at("/error") : 0;
    const auto expected_b = static_cast<std::uint64_t>(std::llround(10.0 * seconds_of(duration)));

    report.load("source A (127.0.1.1)", sent_a, 5000.0);
    report.load("source B (127.0.0.4)", sent_b, 10.0);
    daemon_figures(report, rig, jack_mark, before, after, drops);
    report.figure("source B", std::to_string(sent_b.sent) + " sent, " + std::to_string(pongs) +
                                  " /pong, " + std::to_string(errors) + " /error");
    // "A is limited" needs A over the limit: what reached the daemon beyond the burst plus
    // 2000/s of the time it took to be read must have been dropped. A machine that could not
    // send A over the limit leaves nothing to limit, and says so.
    const double limited = delta(after, before, "dropped_rate_limited");
    const double must_limit =
        static_cast<double>(sent_a.sent) - static_cast<double>(drops) - (500.0 + 2000.0 * read_s);
    if (must_limit > 0.0) {
        report.check("source A is rate-limited", limited >= must_limit, count(limited) + " dropped",
                     ">= " + count(must_limit) + " (A's sent - kernel drops - 500 - 2000/s over " +
                         fixed(read_s, 2) + " s)");
    } else {
        report.note("source A was not sent over the 2000/s limit (" + fixed(sent_a.rate(), 0) +
                    "/s over " + fixed(read_s, 2) + " s): its limiting is not checked; " +
                    count(limited) + " dropped");
    }
    // B is never limited. Its datagrams can only be lost to the kernel, at a socket A filled
    // faster than a busy machine let looperd read it: each kernel drop may have been B's.
    report.check("source B keeps all its commands (one /pong each)",
                 sent_b.sent == expected_b && errors == 0 &&
                     (drops == 0 ? pongs == sent_b.sent : pongs + drops >= sent_b.sent),
                 std::to_string(pongs) + " of " + std::to_string(sent_b.sent) + ", " +
                     std::to_string(errors) + " /error, " + std::to_string(drops) + " kernel drops",
                 drops == 0 ? "all " + std::to_string(expected_b)
                            : "all but kernel drops, of " + std::to_string(expected_b));
    const auto info = rig.info(2);
    const double gain = info.count("gain") ? info.at("gain").number() : -1.0;
    const double last = static_cast<double>(b_value(sent_b.sent - 1));
    if (pongs == sent_b.sent) {
        report.check("slot 2's gain is source B's last value", gain == last, fixed(gain, 3),
                     fixed(last, 3));
    } else {
        report.note("slot 2's gain " + fixed(gain, 3) + " not checked against B's last value " +
                    fixed(last, 3) + ": some of B's datagrams were lost to the kernel");
    }
    check_clean_exit(report, rig);
    return report.finish();
}

// ---- surfaces --------------------------------------------------------------------------------

int surfaces(const Settings& s) {
    const auto duration = scaled(20, s.scale);
    std::printf(
        "== surfaces: ten surfaces dragging a fader each at 200 Hz, one vanishing, one sending "
        "wrong types, for %.1f s while a loop plays ==\n",
        seconds_of(duration));
    Report report("surfaces");
    constexpr int kFaders = 10;         // surface f (0-based) drags slot f + 1's gain
    constexpr int kVanishingSlot = 11;  // the vanishing surface's own fader, set once
    constexpr double kFaderHz = 200.0;  // per surface
    constexpr double kWrongHz = 20.0;   // the wrong-typed surface
    constexpr std::size_t kLoop = 4800;
    Rig rig(s.paths, with_extra({}, s), s.keep, s.realtime);
    rig_figures(report, rig);
    const auto loop = test::noise(kLoop, 2, 31);
    test::write_wav(rig.samples() / "loop.wav", 2, loop);
    rig.load(0, "loop.wav");
    rig.send(test::slot(0, "mode"), {osc_string("loop")});
    test::JackRecorder recorder(
        rig.jack().name(), 2,
        std::chrono::ceil<std::chrono::seconds>(duration) + std::chrono::seconds(20));
    recorder.connect("looperd:out_1", 0);
    recorder.connect("looperd:out_2", 1);
    recorder.start();
    rig.send(test::slot(0, "play"));
    const int slots = static_cast<int>(rig.status().at("slots"));

    // Sockets 0..9: the fader surfaces (127.0.4.1-10, /notify 2); 10: the one that vanishes
    // (127.0.4.11, /notify 1); 11: the one sending wrong types (127.0.4.12, not subscribed).
    constexpr std::size_t kVanishing = kFaders;
    constexpr std::size_t kWrong = kFaders + 1;
    auto faders = sources("127.0.4.", kFaders);
    auto vanishing = std::make_unique<UdpSocket>("127.0.4.11");
    const std::uint16_t vanishing_port = vanishing->port();
    UdpSocket wrong("127.0.4.12");
    std::map<std::string, int> gain_slot;  // "/slot/<n>/gain" → n, for the faders watched
    for (int n = 1; n <= kVanishingSlot; ++n) gain_slot[test::slot(n, "gain")] = n;
    const std::string last_gain = test::slot(slots - 1, "gain");  // ends a whole state

    // What each socket received: gain values per slot in arrival order, datagrams, /error
    // addresses, and whether a whole state came (its last slot's gain).
    struct Heard {
        std::vector<std::vector<double>> gains =
            std::vector<std::vector<double>>(kVanishingSlot + 1);
        std::uint64_t datagrams = 0;
        std::map<std::string, std::uint64_t> errors;  // by the refused address
        bool whole_state = false;
    };
    std::vector<Heard> heard(kFaders + 2);
    std::mutex heard_mutex;
    std::atomic<bool> reading{true};
    // The vanishing surface is closed by the reader (which polls it) at this time.
    std::atomic<Clock::rep> vanish_at{Clock::time_point::max().time_since_epoch().count()};
    std::atomic<bool> vanished{false};
    Clock::time_point vanished_time{};
    std::thread reader([&] {
        std::vector<pollfd> fds;
        for (const auto& f : faders) fds.push_back({f->fd(), POLLIN, 0});
        fds.push_back({vanishing->fd(), POLLIN, 0});
        fds.push_back({wrong.fd(), POLLIN, 0});
        std::vector<std::uint8_t> buffer(65536);
        std::vector<Received> got;
        while (reading) {
            if (!vanished && Clock::now().time_since_epoch().count() >= vanish_at) {
                vanishing.reset();  // as a tablet's app killed: its port closes
                fds[kVanishing].fd = -1;
                vanished_time = Clock::now();
                vanished = true;
            }
            if (::poll(fds.data(), fds.size(), 10) <= 0) continue;
            for (std::size_t k = 0; k < fds.size(); ++k) {
                if (fds[k].fd < 0 || !(fds[k].revents & POLLIN)) continue;
                const ssize_t n = ::recv(fds[k].fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
                if (n <= 0) continue;
                got.clear();
                unpack(buffer.data(), static_cast<std::size_t>(n), got);
                std::lock_guard lock(heard_mutex);
                Heard& h = heard[k];
                ++h.datagrams;
                for (const auto& r : got) {
                    if (r.address == "/error") {
                        ++h.errors[r.strings.empty() ? std::string() : r.strings[0]];
                    } else if (r.address == last_gain) {
                        h.whole_state = true;
                    }
                    const auto g = gain_slot.find(r.address);
                    if (g != gain_slot.end() && !r.numbers.empty())
                        h.gains[static_cast<std::size_t>(g->second)].push_back(r.numbers[0]);
                }
            }
        }
    });
    // Stops and joins the reader on every way out, a thrown error included.
    struct ReaderStop {
        std::atomic<bool>& reading;
        std::thread& thread;
        ~ReaderStop() {
            reading = false;
            if (thread.joinable()) thread.join();
        }
    } reader_stop{reading, reader};
    for (auto& f : faders) f->send(rig.port(), osc_message_i("/notify", 2));
    vanishing->send(rig.port(), osc_message_i("/notify", 1));
    PingMonitor ping("127.0.0.2", rig.port());
    StatusPoller poller("127.0.0.3", rig.port());
    // Each subscriber's whole state first (waited for), then the loop must sound, before the
    // run: what comes after is the run's alone.
    const auto state_deadline = Clock::now() + test::kHangBound;
    auto states_in = [&] {
        std::lock_guard lock(heard_mutex);
        for (std::size_t k = 0; k <= kVanishing; ++k)
            if (!heard[k].whole_state) return false;
        return true;
    };
    while (!states_in() && Clock::now() < state_deadline) std::this_thread::sleep_for(20ms);
    report.check("every surface is subscribed and got the whole state", states_in(),
                 states_in() ? "yes" : "not all",
                 "all 11, within " + std::to_string(test::kHangBound.count()) + " s");
    rig.sync();
    recorder.wait_for_frames(recorder.frames() + 4 * kBlock, test::kHangBound);
    {
        std::lock_guard lock(heard_mutex);
        for (auto& h : heard) h = Heard{};
    }
    // The vanishing surface (mode 1) moves its own fader once: its echo comes back to it.
    vanishing->send(rig.port(), osc_message_f(test::slot(kVanishingSlot, "gain"), 0.5F));
    std::this_thread::sleep_for(500ms);  // a render window for the poller's figures
    const auto before = rig.status();
    const long rss_before = rig.rss_kib();
    const auto drops_before = rig.socket_drops();
    const auto jack_mark = rig.jackd_log_mark();
    const auto log_before = rig.daemon_log().size();

    // Surface f's j-th value is top_f·(j+1)/N: changing every message, strictly rising to its
    // last value top_f, so that every echo can be checked for order and the last for value.
    const auto per_fader =
        static_cast<std::uint64_t>(std::llround(kFaderHz * seconds_of(duration)));
    std::vector<float> top(kFaders);
    std::vector<Bytes> templates;
    for (int f = 0; f < kFaders; ++f) {
        top[static_cast<std::size_t>(f)] = 0.4F + 0.3F * static_cast<float>(f);
        templates.push_back(osc_message_f(test::slot(f + 1, "gain"), 0.0F));
    }
    auto value = [&](std::uint64_t seq) {
        const auto f = static_cast<std::size_t>(seq % kFaders);
        return static_cast<float>(static_cast<double>(top[f]) *
                                  static_cast<double>(seq / kFaders + 1) /
                                  static_cast<double>(per_fader));
    };
    // Runs of one: datagram seq goes from surface seq % 10, which sends its own slot's gain.
    PacedSender sender(
        raw(faders), rig.port(), kFaderHz * kFaders,
        [&](std::uint64_t seq, Bytes& out) {
            const auto f = static_cast<std::size_t>(seq % kFaders);
            out.assign(templates[f].begin(), templates[f].end());
            write_be32(out, float_offset(test::slot(static_cast<int>(f) + 1, "gain")),
                       std::bit_cast<std::uint32_t>(value(seq)));
        },
        1);
    // Each refused whole by docs/osc.md: a number wanted, a mode name wanted, a button's
    // argument must be a number.
    const std::vector<std::pair<std::string, Bytes>> bad = {
        {test::slot(0, "gain"), osc_message_s(test::slot(0, "gain"), "loud")},
        {test::slot(0, "mode"), osc_message_i(test::slot(0, "mode"), 7)},
        {test::slot(0, "play"), osc_message_s(test::slot(0, "play"), "x")}};
    PacedSender wrong_sender({&wrong}, rig.port(), kWrongHz, [&](std::uint64_t seq, Bytes& out) {
        const Bytes& b = bad[seq % bad.size()].second;
        out.assign(b.begin(), b.end());
    });
    const std::size_t frames_before = recorder.frames();
    const auto run_start = Clock::now();
    vanish_at = (run_start + duration / 4).time_since_epoch().count();
    sender.start(std::chrono::milliseconds(per_fader * kFaders * 1000 /
                                           static_cast<std::uint64_t>(kFaderHz * kFaders)));
    wrong_sender.start(duration);

    // The vanished surface must be dropped for its port unreachable (the daemon's log says
    // so); then its address is listened on again, silently (a datagram from it would
    // subscribe it again): nothing may reach it.
    const std::string dropped_line =
        "127.0.4.11:" + std::to_string(vanishing_port) + " (port unreachable)";
    const auto drop_deadline = Clock::now() + test::kHangBound;
    while (!vanished && Clock::now() < drop_deadline) std::this_thread::sleep_for(5ms);
    bool drop_logged = false;
    while (!drop_logged && Clock::now() < drop_deadline) {
        drop_logged = rig.daemon_log().find(dropped_line, log_before) != std::string::npos;
        if (!drop_logged) std::this_thread::sleep_for(10ms);
    }
    const auto drop_seen = Clock::now();
    std::vector<std::uint64_t> datagrams_at_drop(kFaders);
    {
        std::lock_guard lock(heard_mutex);
        for (std::size_t f = 0; f < kFaders; ++f) datagrams_at_drop[f] = heard[f].datagrams;
    }
    std::optional<UdpSocket> ghost;
    if (drop_logged) ghost.emplace("127.0.4.11", vanishing_port);

    const auto sent = sender.join();
    const auto sent_wrong = wrong_sender.join();
    const auto t1 = std::max(sender.ended(), wrong_sender.ended());
    rig.sync();  // every datagram that reached the daemon has been handled
    const auto after = rig.status();
    const long rss_after = rig.rss_kib();
    const auto drops = rig.socket_drops() - drops_before;
    const double rate_limited = delta(after, before, "dropped_rate_limited");
    const double replies_dropped = delta(after, before, "error_replies_dropped");
    std::vector<double> held(kFaders + 1, -1.0);
    for (int n = 1; n <= kFaders; ++n) {
        const auto info = rig.info(n);
        if (info.count("gain")) held[static_cast<std::size_t>(n)] = info.at("gain").number();
    }
    const auto info0 = rig.info(0);
    // The feedback (30 bursts a second) comes to say what looperd holds, and every /error to
    // the wrong-typed surface: waited for, not given a fixed time.
    const double lost = static_cast<double>(drops) + rate_limited;
    const double errors_due = static_cast<double>(sent_wrong.sent) - replies_dropped - lost;
    auto settled = [&] {
        std::lock_guard lock(heard_mutex);
        for (std::size_t k = 0; k < kFaders; ++k)
            for (std::size_t n = 1; n <= kFaders; ++n)
                if (n != k + 1 &&
                    (heard[k].gains[n].empty() || heard[k].gains[n].back() != held[n]))
                    return false;
        std::uint64_t errors = 0;
        for (const auto& [address, c] : heard[kWrong].errors) errors += c;
        return static_cast<double>(errors) >= errors_due;
    };
    const auto settle_deadline = Clock::now() + test::kHangBound;
    while (!settled() && Clock::now() < settle_deadline) std::this_thread::sleep_for(20ms);
    // 1 s of audio after the run, waited for as audio (a busy jackd runs late).
    const std::size_t frames_at_end = recorder.frames();
    recorder.wait_for_frames(frames_at_end + kRate, test::kHangBound);
    reading = false;
    reader.join();
    recorder.stop();
    const auto ghost_got = ghost ? ghost->drain(100ms) : std::map<std::string, std::uint64_t>{};
    const double listened_s = std::chrono::duration<double>(Clock::now() - drop_seen).count();
    std::uint64_t ghost_datagrams = 0;
    for (const auto& [address, c] : ghost_got) ghost_datagrams += c;
    // That silence means something only if the address can be reached: it answers a /ping.
    bool ghost_reachable = false;
    if (ghost) {
        ghost->send(rig.port(), osc_message("/ping"));
        const auto pong_deadline = Clock::now() + test::kHangBound;
        std::vector<Received> got;
        while (!ghost_reachable && Clock::now() < pong_deadline) {
            got.clear();
            if (!ghost->receive(got, 100ms)) continue;
            for (const auto& r : got) ghost_reachable = ghost_reachable || r.address == "/pong";
        }
    }
    const std::string log = rig.daemon_log().substr(log_before);

    report.load("10 surfaces (127.0.4.1-10)", sent, kFaderHz * kFaders);
    report.load("wrong types (127.0.4.12)", sent_wrong, kWrongHz);
    daemon_figures(report, rig, jack_mark, before, after, drops);
    const auto run_pings = summarise(ping.pings(run_start, t1));
    report.figure("ping (127.0.0.2)", run_pings.to_string());
    const auto rf = render_figures(poller, run_start, t1);
    report.figure("render max / DSP load",
                  fixed(rf.max_render_us) + " us / " + fixed(rf.max_dsp_load, 2) + " %");
    report.figure("RSS before / after", kib(rss_before) + " / " + kib(rss_after));
    report.figure("lost before looperd read them", count(lost) + " (" + std::to_string(drops) +
                                                       " kernel drops, " + count(rate_limited) +
                                                       " rate-limited)");

    report.check(
        "every fader message was sent", sent.sent == per_fader * kFaders,
        std::to_string(sent.sent) + " accepted by the kernel",
        std::to_string(per_fader * kFaders) + " (" + std::to_string(per_fader) + " per surface)");
    // Speed is a figure; an unanswered /ping (1 s without a /pong) is looperd not serving.
    report.check("every /ping answered during the run", run_pings.count > 0 && run_pings.lost == 0,
                 run_pings.to_string(), "none lost (1 s each)");
    // Each source sends 200/s (the wrong-typed one 20/s), a tenth of the 2,000/s per-source
    // default: only a backlog of more than the burst (500) read at once is limited, which needs
    // a catch-up or a delay of seconds (as in the faders scenario).
    const bool kept_up = sent.most_at_once <= 250 && run_pings.lost == 0 && run_pings.count > 0 &&
                         run_pings.max_ms < 250.0;
    if (kept_up) {
        report.check("nothing rate-limited (200/s per source, under the 2,000/s default)",
                     rate_limited == 0.0, count(rate_limited),
                     "0 (the sender caught up at most " + std::to_string(sent.most_at_once) +
                         " at once, looperd answered within " + fixed(run_pings.max_ms, 1) +
                         " ms)");
    } else {
        report.note("rate-limited datagrams not checked: the sender caught up " +
                    std::to_string(sent.most_at_once) + " at once, or looperd read late (" +
                    run_pings.to_string() + ")");
    }
    report.check(
        "nothing dropped on the way to the audio thread, nothing refused for a source",
        delta(after, before, "dropped") == 0 && delta(after, before, "dropped_not_allowed") == 0,
        count(delta(after, before, "dropped")) + " queue drops, " +
            count(delta(after, before, "dropped_not_allowed")) + " not allowed",
        "0");

    // Feedback: every surface sees every other surface's fader come to its last value, never
    // stepping back (bursts coalesce: the latest value per address wins), and never its own
    // (mode 2).
    int stepped_back = 0;
    int wrong_last = 0;
    int own_echoes = 0;
    std::uint64_t fader_errors = 0;
    std::size_t echo_total = 0;
    std::string last_detail;
    {
        std::lock_guard lock(heard_mutex);
        for (std::size_t k = 0; k < kFaders; ++k) {
            for (const auto& [address, c] : heard[k].errors) fader_errors += c;
            for (std::size_t n = 1; n <= kFaders; ++n) {
                const auto& e = heard[k].gains[n];
                echo_total += e.size();
                if (n == k + 1) {
                    own_echoes += static_cast<int>(e.size());
                    continue;
                }
                for (std::size_t j = 1; j < e.size(); ++j)
                    if (e[j] < e[j - 1]) ++stepped_back;
                if (e.empty() || e.back() != held[n]) {
                    if (wrong_last++ == 0)
                        last_detail = "; surface " + std::to_string(k + 1) + " last saw slot " +
                                      std::to_string(n) + " at " +
                                      (e.empty() ? std::string("nothing") : fixed(e.back(), 6)) +
                                      ", looperd holds " + fixed(held[n], 6);
                }
            }
        }
    }
    int wrong_held = 0;
    std::string held_detail;
    for (std::size_t n = 1; n <= kFaders; ++n) {
        const double last_sent = static_cast<double>(top[n - 1]);
        if (lost == 0.0 ? held[n] != last_sent : !(held[n] > 0.0 && held[n] <= last_sent)) {
            if (wrong_held++ == 0)
                held_detail = "; slot " + std::to_string(n) + " holds " + fixed(held[n], 6) +
                              ", last sent " + fixed(last_sent, 6);
        }
    }
    report.figure("gain echoes received", std::to_string(echo_total) + " by the ten surfaces");
    report.check("no /error to the fader surfaces", fader_errors == 0, std::to_string(fader_errors),
                 "0");
    report.check("each surface's echoes of the others' faders never step back", stepped_back == 0,
                 std::to_string(stepped_back) + " steps back", "0");
    report.check("each surface ends with every other fader at the gain /slot/<n>/info reports",
                 wrong_last == 0, std::to_string(wrong_last) + " of 90 wrong" + last_detail, "0");
    report.check("no surface is sent its own fader (mode 2)", own_echoes == 0,
                 std::to_string(own_echoes) + " own echoes", "0");
    report.check(lost == 0.0 ? "/slot/<n>/info gain is each fader's last value"
                             : "/slot/<n>/info gain is a value its fader sent (some were lost)",
                 wrong_held == 0, std::to_string(wrong_held) + " of 10 wrong" + held_detail, "0");

    // The vanished surface.
    const Heard& gone = heard[kVanishing];
    std::size_t gone_others = 0;
    for (std::size_t n = 1; n <= kFaders; ++n) gone_others += gone.gains[n].size();
    const bool own_echo =
        !gone.gains[kVanishingSlot].empty() && gone.gains[kVanishingSlot].back() == 0.5;
    report.check("the vanishing surface was fed until it closed (mode 1: its own change too)",
                 gone_others > 0 && own_echo,
                 std::to_string(gone.datagrams) + " bursts, " + std::to_string(gone_others) +
                     " gain echoes of the faders, own echo " + (own_echo ? "yes" : "no"),
                 "> 0, yes");
    report.figure(
        "vanished -> dropped",
        drop_logged
            ? fixed(std::chrono::duration<double>(drop_seen - vanished_time).count() * 1000.0, 1) +
                  " ms from closing its socket to the log line"
            : std::string("never"));
    report.check("the vanished surface is dropped for its port unreachable", drop_logged,
                 drop_logged ? "logged" : "not logged",
                 "\"dropped " + dropped_line + "\" within " +
                     std::to_string(test::kHangBound.count()) + " s");
    std::size_t drop_lines = 0;
    for (std::size_t at = log.find("feedback: dropped"); at != std::string::npos;
         at = log.find("feedback: dropped", at + 1))
        ++drop_lines;
    report.check("no other subscriber is dropped", drop_lines == 1,
                 std::to_string(drop_lines) + " \"feedback: dropped\" lines", "1");
    report.check("nothing is sent to the vanished surface's address after its drop",
                 ghost.has_value() && ghost_datagrams == 0 && ghost_reachable,
                 ghost ? std::to_string(ghost_datagrams) + " messages in " + fixed(listened_s, 1) +
                             " s; then a /ping from there " +
                             (ghost_reachable ? "answered" : "NOT answered")
                       : std::string("not listened for (no drop)"),
                 "0, and a /ping from there answered");
    int starved = 0;
    {
        std::lock_guard lock(heard_mutex);
        for (std::size_t f = 0; f < kFaders; ++f)
            if (heard[f].datagrams <= datagrams_at_drop[f]) ++starved;
    }
    report.check("the other surfaces keep receiving after the drop", starved == 0,
                 std::to_string(starved) + " of 10 got nothing since", "0");

    // The wrong-typed surface: each message refused with /error to its sender (20/s, under
    // the cap of 50 a second per destination: a held-back reply is counted), nothing changed.
    std::uint64_t errors = 0;
    int mismatched = 0;
    std::string error_text;
    for (std::size_t a = 0; a < bad.size(); ++a) {
        const auto& address = bad[a].first;
        const std::uint64_t due = sent_wrong.sent / bad.size() + (a < sent_wrong.sent % bad.size());
        const auto it = heard[kWrong].errors.find(address);
        const std::uint64_t got = it == heard[kWrong].errors.end() ? 0 : it->second;
        errors += got;
        error_text +=
            (a ? ", " : "") + address + " " + std::to_string(got) + "/" + std::to_string(due);
        if (lost == 0.0 && replies_dropped == 0.0 && got != due) ++mismatched;
    }
    const bool errors_ok = static_cast<double>(errors) + replies_dropped + lost >=
                               static_cast<double>(sent_wrong.sent) &&
                           errors <= sent_wrong.sent && mismatched == 0 &&
                           heard[kWrong].errors.size() == bad.size();
    report.check("each wrong-typed message is answered /error naming its address", errors_ok,
                 error_text + "; " + count(replies_dropped) + " held back by the cap",
                 "one each (less those held back, or lost before looperd read them)");
    const std::string mode0 = info0.count("mode") ? info0.at("mode").s : "?";
    const double gain0 = info0.count("gain") ? info0.at("gain").number() : -1.0;
    report.check("slot 0 keeps its mode and gain through the wrong types",
                 mode0 == "loop" && gain0 == 1.0, "mode " + mode0 + ", gain " + fixed(gain0, 6),
                 "loop, 1.000000");

    const auto rec = recorder.snapshot();
    const std::size_t needed = frames_at_end + kRate;
    check_loop_bit_exact(report,
                         "the loop played unchanged through the run (every recorded sample)", rec,
                         loop, kLoop, frames_before, needed);
    report.check("resident memory growth", rss_after - rss_before <= 5 * 1024,
                 kib(rss_after - rss_before), "<= 5120 KiB");
    check_clean_exit(report, rig);
    return report.finish();
}

// ---- midi ------------------------------------------------------------------------------------

// What looperd makes of the events of the lists the MIDI sender wrote, worked out from where
// each one went: JACK hands looperd each cycle's events in the order written; it reads the
// first kMaxMidiEventsPerBlock, each as long as the cycle's kMaxMidiBytesPerBlock last (an event
// too long for what is left is dropped, and a shorter one after it may still fit), and drops
// and counts the rest (JackClient::process, Engine::process). Every event starts afresh
// (MidiFlood), so what the events read count does not depend on the ones dropped.
struct MidiAccount {
    std::uint64_t written = 0;      // events JACK took
    std::uint64_t refused = 0;      // events JACK refused: the sender's port buffer was full
    std::uint64_t bytes = 0;        // of the events written
    std::uint64_t messages = 0;     // in the events read: midi_events grows by this
    std::uint64_t over_events = 0;  // events past a cycle's event budget
    std::uint64_t over_bytes = 0;   // events within it that did not fit its byte budget
    std::uint64_t cycles = 0;       // cycles with events written
    std::uint64_t cycles_over_events = 0;
    std::uint64_t cycles_over_bytes = 0;
    std::uint32_t most_in_a_cycle = 0;
    std::uint64_t dropped() const { return over_events + over_bytes; }
};

void account(MidiAccount& a, const std::vector<test::MidiEvent>& events,
             const std::vector<std::uint32_t>& messages, const std::vector<std::uint32_t>& cycles) {
    constexpr std::uint32_t kNone = test::JackMidiSender::kRefused;
    std::uint32_t cycle = kNone;
    std::uint32_t in_cycle = 0;
    std::uint32_t bytes_left = 0;
    bool short_of_bytes = false;
    auto close_cycle = [&] {
        if (cycle == kNone) return;
        ++a.cycles;
        a.most_in_a_cycle = std::max(a.most_in_a_cycle, in_cycle);
        if (in_cycle > limits::kMaxMidiEventsPerBlock) ++a.cycles_over_events;
        if (short_of_bytes) ++a.cycles_over_bytes;
    };
    for (std::size_t k = 0; k < events.size(); ++k) {
        if (cycles[k] == kNone) {
            ++a.refused;
            continue;
        }
        const auto size = static_cast<std::uint32_t>(events[k].bytes.size());
        ++a.written;
        a.bytes += size;
        if (cycles[k] != cycle) {
            close_cycle();
            cycle = cycles[k];
            in_cycle = 0;
            bytes_left = limits::kMaxMidiBytesPerBlock;
            short_of_bytes = false;
        }
        if (++in_cycle > limits::kMaxMidiEventsPerBlock) {
            ++a.over_events;
        } else if (size > bytes_left) {
            ++a.over_bytes;
            short_of_bytes = true;
        } else {
            bytes_left -= size;
            a.messages += messages[k];
        }
    }
    close_cycle();
}

// One round of the flood: a second of JACK frames' events, sorted by frame, and the messages
// each holds.
struct MidiRound {
    std::vector<test::MidiEvent> events;
    std::vector<std::uint32_t> messages;
};

int midi(const Settings& s) {
    // The flood goes in rounds of one second of audio (below), so its length is whole seconds.
    const auto rounds = std::max<long long>(1, std::llround(seconds_of(scaled(60, s.scale))));
    std::printf(
        "== midi: 10,000 MIDI events/s of every kind into midi_in, bursts over the cycle's "
        "budget, for %lld s while a loop plays ==\n",
        rounds);
    Report report("midi");
    constexpr std::uint32_t kSlots = 16;        // notes 36 to 51
    constexpr std::uint8_t kUnmappedFrom = 64;  // notes from here up play no slot, nor below 36
    constexpr std::size_t kPerSecond = 10000;
    constexpr std::size_t kBurst = 400;     // events in one cycle, every third second
    constexpr std::size_t kByteBurst = 60;  // 200-byte SysEx in one cycle (12,000 bytes), too
    constexpr std::size_t kLoop = 4800;
    Rig rig(s.paths, with_extra({"--slots", std::to_string(kSlots)}, s), s.keep, s.realtime);
    rig_figures(report, rig);
    const auto loop = test::noise(kLoop, 2, 41);
    test::write_wav(rig.samples() / "loop.wav", 2, loop);
    rig.load(0, "loop.wav");
    rig.send(test::slot(0, "mode"), {osc_string("loop")});
    test::JackRecorder recorder(rig.jack().name(), 2,
                                std::chrono::seconds(rounds) + std::chrono::seconds(20));
    recorder.connect("looperd:out_1", 0);
    recorder.connect("looperd:out_2", 1);
    recorder.start();
    rig.send(test::slot(0, "play"));
    const auto slots = rig.status().at("slots");
    report.check("the daemon has 16 slots, so notes from 64 up play none", slots == kSlots,
                 count(slots), std::to_string(kSlots) + " (--slots)");
    // Sent in rounds: the sender holds a list of events up front, 256 bytes each, and 600,000
    // would take 150 MB; a round of one second takes 2.7 MB. Rounds follow each other with a
    // gap of a cycle or two (printed), each made while the one before is written.
    test::JackMidiSender sender(rig.jack().name(), kPerSecond + std::max(kBurst, kByteBurst));
    sender.connect("looperd:midi_in");
    PingMonitor ping("127.0.0.2", rig.port());
    StatusPoller poller("127.0.0.3", rig.port());
    std::this_thread::sleep_for(1000ms);  // a render window for the poller's figures
    // The loop sounds before the flood begins: the play was read, and blocks rendered since.
    rig.sync();
    recorder.wait_for_frames(recorder.frames() + 4 * kBlock, test::kHangBound);
    const auto before = rig.status();
    const long rss_before = rig.rss_kib();
    const auto jack_mark = rig.jackd_log_mark();

    MidiFlood flood(0x4D494449, kUnmappedFrom);  // "MIDI"
    std::mt19937 random(0x464C4F4F);             // "FLOO"
    constexpr std::uint32_t kCycles = kRate / kBlock;
    auto make_round = [&](long long r) {
        std::vector<std::pair<std::uint64_t, FloodEvent>> timed;
        timed.reserve(kPerSecond + std::max(kBurst, kByteBurst));
        // Random frames: some cycles get more than others, some frames several events.
        for (std::size_t k = 0; k < kPerSecond; ++k)
            timed.emplace_back(random() % kRate, flood.next());
        // A burst into one cycle of the round: kBurst events, or kByteBurst long SysEx, or
        // none, in turn.
        const std::uint64_t burst_at = random() % kCycles * kBlock;
        if (r % 3 == 0) {
            for (std::size_t k = 0; k < kBurst; ++k)
                timed.emplace_back(burst_at + random() % kBlock, flood.next());
        } else if (r % 3 == 1) {
            for (std::size_t k = 0; k < kByteBurst; ++k)
                timed.emplace_back(burst_at + random() % kBlock, flood.sysex(198));
        }
        std::stable_sort(timed.begin(), timed.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
        MidiRound round;
        round.events.reserve(timed.size());
        round.messages.reserve(timed.size());
        for (auto& [frame, e] : timed) {
            round.events.push_back(test::MidiEvent{frame, std::move(e.bytes)});
            round.messages.push_back(e.messages);
        }
        return round;
    };

    const std::size_t frames_before = recorder.frames();
    MidiAccount sent;
    std::uint64_t planned = 0;
    std::uint64_t late = 0;
    long long widest_gap = 0;  // frames from the end of a round's second to the next round
    std::uint32_t last_start = 0;
    MidiRound round = make_round(0);
    const auto t0 = Clock::now();
    for (long long r = 0; r < rounds; ++r) {
        sender.send(round.events);
        if (r > 0) {
            // 32-bit frame time arithmetic, right across its wrap.
            const auto gap = static_cast<std::int32_t>(sender.start_frame() - last_start - kRate);
            widest_gap = std::max<long long>(widest_gap, gap);
        }
        last_start = sender.start_frame();
        planned += round.events.size();
        MidiRound following;
        if (r + 1 < rounds) following = make_round(r + 1);
        if (!sender.wait_done(test::kHangBound + 1s))
            throw std::runtime_error("midi sender: round " + std::to_string(r) +
                                     " not written within " +
                                     std::to_string(test::kHangBound.count() + 1) + " s");
        account(sent, round.events, round.messages, sender.written_cycles());
        late += sender.late();
        round = std::move(following);
    }
    const auto t1 = Clock::now();
    // 1 s of audio after the flood, waited for as audio (a busy jackd runs late). The recorder
    // runs after looperd in every cycle, so looperd has then read the flood's last cycle, and
    // its counters hold all of it.
    const std::size_t frames_at_end = recorder.frames();
    recorder.wait_for_frames(frames_at_end + kRate, test::kHangBound);
    rig.sync();
    const auto after = rig.status();
    const long rss_after = rig.rss_kib();
    recorder.stop();
    const auto jack = rig.jackd_xruns(jack_mark);

    SendStats stats;
    stats.sent = sent.written;
    stats.seconds = std::chrono::duration<double>(t1 - t0).count();
    report.load("MIDI sender (JACK)", stats, static_cast<double>(planned) / rounds, "events");
    std::string mix;
    for (const auto& [kind, n] : flood.kinds())
        mix += (mix.empty() ? "" : ", ") + kind + " " + std::to_string(n);
    report.figure("pieces", mix);
    report.figure("written", std::to_string(sent.written) + " events, " + kib(sent.bytes / 1024) +
                                 ", in " + std::to_string(rounds) + " rounds of 1 s");
    report.figure("gaps between rounds", "at most " + std::to_string(widest_gap) +
                                             " frames (from a round's 375 cycles to the next "
                                             "round's first)");
    report.figure("JACK refused (lost)", std::to_string(sent.refused));
    report.figure("written after their frame", std::to_string(late) + " (cycles JACK skipped)");
    report.figure("cycles over the budget",
                  std::to_string(sent.cycles_over_events) + " over 256 events (at most " +
                      std::to_string(sent.most_in_a_cycle) + " in one), " +
                      std::to_string(sent.cycles_over_bytes) + " over 8 KiB, of " +
                      std::to_string(sent.cycles));
    const double events_read = delta(after, before, "midi_events");
    const double dropped = delta(after, before, "midi_dropped");
    report.figure("midi_events / midi_dropped", count(events_read) + " / " + count(dropped));
    const auto pings = summarise(ping.pings(t0, t1));
    report.figure("ping (127.0.0.2)", pings.to_string());
    const auto rf = render_figures(poller, t0, t1);
    report.figure("render max / DSP load", fixed(rf.max_render_us) + " us / " +
                                               fixed(rf.max_dsp_load, 2) + " % (" +
                                               std::to_string(rf.samples) + " /status answers, " +
                                               "gaps <= " + fixed(rf.max_gap_s, 2) + " s)");
    report.figure("RSS before / after", kib(rss_before) + " / " + kib(rss_after));
    report.figure("xruns",
                  count(delta(after, before, "xruns")) + " (" + jack_xruns_text(jack) + ")");

    // The counters, exactly: each event JACK took was read (and counts its messages) or
    // dropped (and counts 1). JACK2 hands a port fed by one client that client's buffer, and
    // with it the count of events it refused, which looperd adds to midi_dropped: a refused
    // event may count there (other JACKs may not pass it on). A client jackd reports unfinished
    // may have run its cycle after another one began: which cycle's events looperd read is then
    // unknown, and the counters are not compared.
    if (jack.client_late == 0) {
        report.check("midi_events: the messages of every event read, as the parser counts them",
                     events_read == static_cast<double>(sent.messages), count(events_read),
                     std::to_string(sent.messages));
        const auto drops = static_cast<double>(sent.dropped());
        const auto refused = static_cast<double>(sent.refused);
        report.check("midi_dropped: exactly the events past each cycle's budget",
                     dropped >= drops && dropped <= drops + refused, count(dropped),
                     sent.refused == 0
                         ? std::to_string(sent.dropped()) + " (" +
                               std::to_string(sent.over_events) + " past 256, " +
                               std::to_string(sent.over_bytes) + " past 8 KiB)"
                         : std::to_string(sent.dropped()) + " to " +
                               std::to_string(sent.dropped() + sent.refused) + " (JACK refused " +
                               std::to_string(sent.refused) + ")");
    } else {
        report.note("midi_events and midi_dropped not compared: jackd reports " +
                    std::to_string(jack.client_late) + " client(s) unfinished in their cycle");
    }
    report.check("the bursts went over the budget and midi_dropped grew",
                 sent.cycles_over_events > 0 && dropped > 0,
                 std::to_string(sent.cycles_over_events) + " cycles over 256 events, " +
                     count(dropped) + " dropped",
                 "> 0");
    // Speed is a figure; an unanswered /ping (1 s without a /pong) is looperd not serving.
    report.check("every /ping answered during the flood", pings.count > 0 && pings.lost == 0,
                 pings.to_string(), "none lost (1 s each)");
    report.check("/status answered during the flood", rf.samples > 0,
                 std::to_string(rf.samples) + " answers", "> 0");

    const auto rec = recorder.snapshot();
    check_loop_bit_exact(report,
                         "the loop played unchanged through the flood (every recorded sample)", rec,
                         loop, kLoop, frames_before, frames_at_end + kRate);
    report.check("resident memory growth", rss_after - rss_before <= 5 * 1024,
                 kib(rss_after - rss_before), "<= 5120 KiB");
    check_clean_exit(report, rig);
    return report.finish();
}

const std::map<std::string, std::function<int(const Settings&)>>& scenarios() {
    static const std::map<std::string, std::function<int(const Settings&)>> table = {
        {"faders", faders},     {"flood", flood},       {"garbage", garbage},
        {"timetags", timetags}, {"fairness", fairness}, {"surfaces", surfaces},
        {"midi", midi}};
    return table;
}

const char* const kOrder[] = {"faders",   "flood",    "garbage", "timetags",
                              "fairness", "surfaces", "midi"};

void usage(std::FILE* to) {
    std::fprintf(
        to,
        "usage: looperd-load [--scenario faders|flood|garbage|timetags|fairness|surfaces|\n"
        "                                midi|all]\n"
        "                    [--duration-scale X] [--daemon PATH] [--jackd PATH] [--keep]\n"
        "                    [--no-realtime] [--daemon-arg ARG]...\n"
        "Runs looperd under load against a private jackd (dummy backend) and checks what\n"
        "docs/load-testing.md says. --duration-scale multiplies each scenario's\n"
        "length (rates stay). --keep leaves the logs in the temporary directory.\n"
        "jackd is asked for realtime scheduling unless --no-realtime is given.\n"
        "--daemon-arg passes one more argument to the daemon (repeat it for more), to\n"
        "see a check fail against other settings, e.g. --daemon-arg --osc-rate\n"
        "--daemon-arg 500.\n"
        "Exit status: 0 pass, 1 a check failed, 2 usage.\n");
}

}  // namespace
}  // namespace looperd::load

int main(int argc, char** argv) {
    using namespace looperd::load;
    Settings settings;
#ifdef LOOPERD_LOAD_DAEMON
    settings.paths.daemon = LOOPERD_LOAD_DAEMON;
#endif
#ifdef LOOPERD_LOAD_JACKD
    settings.paths.jackd = LOOPERD_LOAD_JACKD;
#endif
    std::string scenario = "all";
    for (int k = 1; k < argc; ++k) {
        const std::string arg = argv[k];
        auto value = [&]() -> std::string {
            if (k + 1 >= argc) {
                std::fprintf(stderr, "looperd-load: %s needs a value\n", arg.c_str());
                std::exit(2);
            }
            return argv[++k];
        };
        if (arg == "--scenario") {
            scenario = value();
        } else if (arg == "--duration-scale") {
            const std::string v = value();
            char* end = nullptr;
            settings.scale = std::strtod(v.c_str(), &end);
            if (end == v.c_str() || *end != '\0' || !(settings.scale > 0.0) ||
                settings.scale > 100.0) {
                std::fprintf(stderr, "looperd-load: --duration-scale wants a number in (0, 100]\n");
                return 2;
            }
        } else if (arg == "--daemon") {
            settings.paths.daemon = value();
        } else if (arg == "--jackd") {
            settings.paths.jackd = value();
        } else if (arg == "--keep") {
            settings.keep = true;
        } else if (arg == "--daemon-arg") {
            settings.daemon_args.push_back(value());
        } else if (arg == "--no-realtime") {
            settings.realtime = false;
        } else if (arg == "--help" || arg == "-h") {
            usage(stdout);
            return 0;
        } else {
            std::fprintf(stderr, "looperd-load: unknown argument %s\n", arg.c_str());
            usage(stderr);
            return 2;
        }
    }
    if (settings.paths.daemon.empty() || settings.paths.jackd.empty()) {
        std::fprintf(stderr,
                     "looperd-load: --daemon and --jackd are needed (meson builds them in)\n");
        return 2;
    }
    std::vector<std::string> chosen;
    if (scenario == "all") {
        chosen.assign(std::begin(kOrder), std::end(kOrder));
    } else if (scenarios().count(scenario)) {
        chosen.push_back(scenario);
    } else {
        std::fprintf(stderr, "looperd-load: unknown scenario %s\n", scenario.c_str());
        usage(stderr);
        return 2;
    }
    int worst = 0;
    std::map<std::string, int> results;
    for (const auto& name : chosen) {
        int r = 1;
        try {
            r = scenarios().at(name)(settings);
        } catch (const std::exception& e) {
            std::printf("  FAIL %s could not run: %s\n  verdict %s: FAIL\n\n", name.c_str(),
                        e.what(), name.c_str());
        }
        results[name] = r;
        worst = std::max(worst, r);
    }
    if (chosen.size() > 1) {
        std::printf("== summary ==\n");
        for (const auto& name : chosen)
            std::printf("  %-9s %s\n", name.c_str(), results[name] == 0 ? "PASS" : "FAIL");
    }
    return worst;
}
