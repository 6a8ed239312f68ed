// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// Fuzz target: one UDP datagram through the network thread's path (decode_osc_packet, then
// Controller::handle_packet) into a real Engine, which renders the commands it produced.
//
// Each input gets a fresh Engine and Controller, so that every finding replays from its input
// alone. A bundle carries up to 1024 messages, which is how one input expresses a sequence.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sndfile.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/controller.hpp"
#include "io/memory_budget.hpp"
#include "io/osc_codec.hpp"
#include "io/osc_server.hpp"
#include "looperd/engine.hpp"
#include "looperd/event.hpp"
#include "looperd/sample_buffer.hpp"

namespace {

using namespace looperd;
namespace fs = std::filesystem;

constexpr std::uint32_t kSlots = 8;
constexpr std::uint32_t kOutputs = 3;  // an odd count: output pair 2 is a single port
constexpr std::uint32_t kBlock = 256;
constexpr std::uint64_t kMaxScheduleAhead = 4096;  // frames; see frame_for_timetag below
constexpr std::uint32_t kBlocksPerInput = (kMaxScheduleAhead + 4 * kBlock) / kBlock;
constexpr float kMaxAbsSample = 1e6F;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_osc_datagram: invariant broken: %s\n", what);
    std::abort();
}

// The samples directory: two tiny WAV files, so that /slot/<n>/load can succeed without the
// fuzzer ever reading anything else on disk.
fs::path g_samples_dir;

void write_wav(const fs::path& path, int rate, int channels, int frames) {
    SF_INFO info{};
    info.samplerate = rate;
    info.channels = channels;
    info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
    if (!f) fail("cannot write a sample into the samples directory");
    std::vector<float> data(static_cast<std::size_t>(frames * channels));
    for (std::size_t i = 0; i < data.size(); ++i)
        data[i] = 0.5F * std::sin(static_cast<float>(i) * 0.3F);
    sf_writef_float(f, data.data(), frames);
    sf_close(f);
}

void remove_samples_dir() {
    std::error_code ec;
    fs::remove_all(g_samples_dir, ec);
}

// Whether a reply URL ("osc.udp://host:port/") names its host numerically. Any other host would
// make resolve_url ask DNS: slow and not reproducible, so such messages are left out.
bool numeric_reply_host(std::string_view url) {
    const auto scheme = url.find("://");
    if (scheme == std::string_view::npos) return true;  // rejected before any lookup
    std::string_view rest = url.substr(scheme + 3);
    rest = rest.substr(0, rest.find('/'));
    std::string host;
    if (rest.starts_with('[')) {
        host = std::string(rest.substr(1, rest.find(']') - 1));
    } else {
        host = std::string(rest.substr(0, rest.rfind(':')));
    }
    in6_addr a6{};
    in_addr a4{};
    return host.empty() || inet_pton(AF_INET, host.c_str(), &a4) == 1 ||
           inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

// Messages the harness keeps from the Controller: loads of anything but a plain file name in
// the samples directory, and reply URLs that would need DNS.
bool admissible(const OscMessage& m) {
    for (const auto& a : m.args) {
        if ((a.type == 's' || a.type == 'S') && a.s.starts_with("osc.") && !numeric_reply_host(a.s))
            return false;
    }
    if (m.address.ends_with("/load") && !m.args.empty() &&
        (m.args[0].type == 's' || m.args[0].type == 'S')) {
        const std::string& name = m.args[0].s;
        if (name.find('/') != std::string::npos || name.starts_with('.')) return false;
    }
    return true;
}

OscEndpoint sender() {
    OscEndpoint e;
    auto* in = reinterpret_cast<sockaddr_in*>(&e.addr);
    in->sin_family = AF_INET;
    in->sin_port = htons(9000);
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    e.len = sizeof(sockaddr_in);
    return e;
}

// The housekeeping thread's job, done inline: free retired buffers and give their bytes back.
void housekeep(Engine& engine, MemoryBudget& budget) {
    Event e;
    while (engine.try_receive(e)) {
        if (e.kind != EventKind::buffer_retired) continue;
        if (!e.buffer) fail("buffer_retired without a buffer");
        budget.release(e.buffer->bytes());
        delete e.buffer;
    }
}

void render(Engine& engine, std::uint64_t& now, std::vector<float>& out, MemoryBudget& budget) {
    float* ports[kOutputs];
    for (std::uint32_t o = 0; o < kOutputs; ++o) ports[o] = out.data() + o * kBlock;
    BlockTiming timing;
    timing.frame = now;
    engine.process(ports, kBlock, timing);
    now += kBlock;
    for (float s : out) {
        if (!std::isfinite(s)) fail("non-finite output sample");
        if (std::fabs(s) > kMaxAbsSample) fail("output sample out of bounds");
    }
    if (engine.active_voices() > engine.config().voices) fail("more active voices than the pool");
    housekeep(engine, budget);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    spdlog::set_level(spdlog::level::off);
    char tmpl[] = "/tmp/looperd-fuzz-osc-XXXXXX";
    if (!mkdtemp(tmpl)) fail("cannot create the samples directory");
    g_samples_dir = tmpl;
    std::atexit(remove_samples_dir);
    write_wav(g_samples_dir / "a.wav", 48000, 1, 300);  // no resampling
    write_wav(g_samples_dir / "b.wav", 44100, 2, 200);  // resampled to 48 kHz
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::vector<OscMessage> messages;
    try {
        messages = decode_osc_packet(data, size);
    } catch (const OscDecodeError&) {
        return 0;  // the daemon answers reject_packet(); nothing reaches the engine
    }
    std::erase_if(messages, [](const OscMessage& m) { return !admissible(m); });

    EngineConfig ec;
    ec.outputs = kOutputs;
    ec.slots = kSlots;
    ec.voices = 16;
    ec.sample_rate = 48000;
    ec.command_capacity = 64;  // small, so that "queue full" paths are reached
    ec.scheduled_capacity = 32;
    Engine engine(ec);
    MemoryBudget budget(64ULL << 20);

    std::uint64_t now = 1000;  // JACK's frame clock rarely starts at 0
    ControllerConfig cc;
    cc.slots = kSlots;
    cc.outputs = kOutputs;
    cc.max_scheduled = 16;
    cc.samples_dir = g_samples_dir;
    // A fake clock: "immediately" is two blocks ahead, like JackClient::frame_for_ntp; other
    // timetags land up to kMaxScheduleAhead frames ahead, or behind now (late) when the top bit
    // is set.
    FrameClock clock{[&now](std::uint64_t timetag) -> std::uint64_t {
                         if (timetag == kOscTimetagImmediately) return now + 2 * kBlock;
                         if (timetag >> 63U)
                             return now - std::min(now, timetag % kMaxScheduleAhead);
                         return now + timetag % kMaxScheduleAhead;
                     },
                     [&now] { return now; }};
    Controller controller(
        cc, budget, [&engine](const Command& c) { return engine.try_send(c); },
        [](const OscEndpoint&, const OscMessage&) {},
        [&engine] {
            RuntimeStatus s;
            s.voices = engine.active_voices();
            s.voices_max = engine.config().voices;
            s.sample_rate = 48000;
            s.block_size = kBlock;
            s.dropped = engine.dropped_commands();
            s.refused_voices = engine.refused_voices();
            s.late = engine.late_commands();
            s.scheduled_refused = engine.refused_scheduled();
            return s;
        },
        [] { return 48000U; }, clock);

    std::vector<float> out(std::size_t{kOutputs} * kBlock);
    const OscEndpoint from = sender();
    // As serve_osc does: nothing a peer sends may escape the datagram's handling.
    try {
        controller.handle_packet(messages, from);
    } catch (const std::exception&) {
    }
    // Loads finish on the loader thread; wait for them so that the input alone decides what
    // the engine sees, then render past every frame a bundle could have been scheduled on.
    controller.wait_for_loads();
    for (std::uint32_t b = 0; b < kBlocksPerInput; ++b) render(engine, now, out, budget);
    // The shutdown path of every voice: each one starts its fade out.
    try {
        controller.handle(OscMessage{"/stop_all", {}}, from);
    } catch (const std::exception&) {
    }
    for (std::uint32_t b = 0; b < 8; ++b) render(engine, now, out, budget);
    controller.stop();
    return 0;
}
