// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// Writes the seed corpora of the fuzz targets, so that no binary seed is kept in the tree:
//   <out>/fuzz_osc_datagram/     one datagram per Controller route, and a few bundles
//   <out>/fuzz_sample_loader/    tiny WAV, AIFF, FLAC, Ogg/Vorbis and odd-but-valid files
//   <out>/fuzz_engine_commands/  command and block streams in that target's format
//   <out>/fuzz_engine_midi/      MIDI event blocks and commands in that target's format
//   <out>/fuzz_path_confinement/ paths into, out of and around that target's tree
//   <out>/fuzz_config_parsers/   config files and state files, whole and broken
// Usage: fuzz_seeds <out>
#include <sndfile.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "daemon/controller.hpp"
#include "io/osc_codec.hpp"

namespace {

using namespace looperd;
namespace fs = std::filesystem;

void write_file(const fs::path& path, const std::vector<std::uint8_t>& bytes) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
    if (!f) throw std::runtime_error("cannot write " + path.string());
}

// A plausible argument list for each route, so that the seeds reach the handlers' bodies.
std::vector<OscArg> arguments_for(const std::string& address) {
    auto ends = [&address](const char* tail) { return address.ends_with(tail); };
    if (ends("/load")) return {OscArg::string("a.wav")};
    if (ends("/mode")) return {OscArg::string("loop")};
    if (ends("/quantize")) return {OscArg::string("bar")};
    if (ends("/sync")) return {OscArg::string("internal")};
    if (ends("/tempo")) return {OscArg::float32(96.0F)};
    if (ends("/meter") || ends("/poly") || ends("/choke") || ends("/output"))
        return {OscArg::int32(2)};
    if (ends("/play") || ends("/stop") || ends("/loop") || ends("/reverse"))
        return {OscArg::int32(1)};
    if (ends("/notify")) return {OscArg::string("osc.udp://127.0.0.1:9001/")};
    if (ends("/ping") || ends("/status") || ends("/stop_all") || ends("/reset") ||
        ends("/refresh") || ends("/info") || ends("/slots") || ends("/unload"))
        return {};
    return {OscArg::float32(0.5F)};
}

OscMessage message(std::string address, std::vector<OscArg> args) {
    OscMessage m;
    m.address = std::move(address);
    m.args = std::move(args);
    return m;
}

// The first byte modulo 3 picks the prefix (0: none, 1: the tree's base, 2: its first root): see
// fuzz_path_confinement.cpp for the tree.
void path_seeds(const fs::path& dir) {
    const std::vector<std::pair<char, std::string>> seeds = {
        {3, "a.wav"},
        {2, "sub/b.wav"},
        {2, "link_in/b.wav"},
        {2, "link_out/secret.wav"},
        {2, "abs_out/secret.wav"},
        {2, "secret_link.wav"},
        {2, "sub/deeper/up/s.wav"},
        {2, "loop"},
        {2, "dangling"},
        {2, "c_link.wav"},
        {2, "../outside/secret.wav"},
        {2, "sub/../../root-sibling/s.wav"},
        {1, "root2/back/a.wav"},
        {1, "root2/c.wav"},
        {1, "root-sibling/s.wav"},
        {1, "outside/secret.wav"},
        {1, "root/./sub//b.wav"},
        {3, "/etc/passwd"},
        {3, "../../../../etc/passwd"},
        {2, "new/dir/not/there.wav"},
    };
    int n = 0;
    for (const auto& [prefix, path] : seeds) {
        std::vector<std::uint8_t> bytes{static_cast<std::uint8_t>(prefix)};
        bytes.insert(bytes.end(), path.begin(), path.end());
        write_file(dir / ("path-" + std::to_string(n++)), bytes);
    }
}

void config_seeds(const fs::path& dir) {
    const std::vector<std::string> seeds = {
        // A config file with flags and a rig.
        "osc-port = 9000\nosc-bind = \"0.0.0.0\"\nosc-allow = [\"192.168.1.0/24\"]\n"
        "memory-budget = \"512M\"\nfade-ms = 2.5\nno-autoconnect = true\n"
        "samples-root = [\"/srv/a\", \"b\"]\nlog-level = \"debug\"\n"
        "[master]\ngain = 0.8\n[clock]\ntempo = 96.0\nmeter = 3\nsync = \"jack\"\n"
        "[[slot]]\nindex = 0\nfile = \"loops/a.wav\"\ngain = 0.5\nmode = \"loop\"\n"
        "quantize = \"bar\"\nbeats = 8\n[[slot]]\nindex = 7\nfile = \"b.wav\"\n"
        "quantize = 2\npan = -0.5\nrate = 1.5\npitch = -3\nreverse = 1\nstart = 0.25\n"
        "end = 0.75\nxfade = 10\npoly = 4\nchoke = 2\noutput = 1\nfade_in = 5\n"
        "fade_out = 20\n",
        // A state file as looperd writes one.
        "format = \"looperd-state\"\nversion = 1\n[master]\ngain = 1.0\n[clock]\n"
        "tempo = 120.0\nmeter = 4\nsync = \"internal\"\n[[slot]]\nindex = 3\n"
        "file = \"noise.wav\"\ngain = 0.5\nstart = 0.5\n",
        // Wrong types, unknown keys, another version, a cut-off file.
        "osc-port = \"9000\"\noutputs = 99\nosc_prot = 1\n",
        "format = \"looperd-state\"\nversion = 2\n",
        "format = \"looperd-state\"\nversion = 1\n[[slot]]\nindex = -1\nmode = \"looop\"\n",
        "[[slot]]\nindex = 1\nfile = \"a.wav\"\ngain = 1e400\n[[slot]]\nindex = 1\n",
        "slot = 3\nclock = [1, 2]\n",
        "format = \"looperd-state\"\nversion = 1\n[master]\ngain = 0.",
    };
    int n = 0;
    for (const auto& text : seeds)
        write_file(dir / ("toml-" + std::to_string(n++)),
                   std::vector<std::uint8_t>(text.begin(), text.end()));
}

void osc_seeds(const fs::path& dir) {
    int n = 0;
    auto put = [&](const std::vector<std::uint8_t>& bytes) {
        write_file(dir / ("seed-" + std::to_string(n++)), bytes);
    };
    for (std::string a : Controller::addresses()) {
        if (const auto at = a.find("<n>"); at != std::string::npos) a.replace(at, 3, "1");
        put(encode_osc_message(message(a, arguments_for(a))));
    }
    // A sequence in one bundle: load, shape and play two slots, on a future frame.
    const std::vector<OscMessage> session = {
        message("/slot/0/load", {OscArg::string("a.wav")}),
        message("/slot/1/load", {OscArg::string("b.wav")}),
        message("/slot/0/mode", {OscArg::string("loop")}),
        message("/slot/0/xfade", {OscArg::float32(2.0F)}),
        message("/slot/0/start", {OscArg::float32(0.25F)}),
        message("/slot/1/rate", {OscArg::float32(1.5F)}),
        message("/slot/1/reverse", {OscArg::int32(1)}),
        message("/slot/0/play", {}),
        message("/slot/1/play", {}),
    };
    put(encode_osc_bundle(session));
    put(encode_osc_bundle(session, 12345));
    // Quantized play on a fast grid, and a tempo change while it waits.
    put(encode_osc_bundle({message("/slot/2/load", {OscArg::string("a.wav")}),
                           message("/slot/2/quantize", {OscArg::float32(0.25F)}),
                           message("/clock/tempo", {OscArg::float32(300.0F)}),
                           message("/slot/2/play", {}), message("/slot/2/stop", {})}));
    // Messages too big for one bundle of 128 bytes: several datagrams.
    for (const auto& d : encode_osc_bundles(session, 128)) put(d);
    // Bad ones the decoder or the handlers must refuse.
    put(encode_osc_message(message("/slot/99/play", {})));
    put(encode_osc_message(message("/slot/0/gain", {OscArg::string("loud")})));
    put({'#', 'b', 'u', 'n', 'd', 'l', 'e', 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 64});
}

void write_sound(const fs::path& path, int format, int rate, int channels, int frames,
                 float special = 0.0F) {
    SF_INFO info{};
    info.samplerate = rate;
    info.channels = channels;
    info.format = format;
    SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
    if (!f) throw std::runtime_error("cannot write " + path.string() + ": " + sf_strerror(nullptr));
    std::vector<float> data(static_cast<std::size_t>(frames * channels));
    for (std::size_t i = 0; i < data.size(); ++i)
        data[i] = 0.5F * std::sin(static_cast<float>(i) * 0.2F);
    if (special != 0.0F && !data.empty()) data[data.size() / 2] = special;
    sf_writef_float(f, data.data(), frames);
    sf_close(f);
}

void loader_seeds(const fs::path& dir) {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    write_sound(dir / "pcm16.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 48000, 1, 32);
    write_sound(dir / "float-nan.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 44100, 2, 16, nan);
    write_sound(dir / "double-inf.wav", SF_FORMAT_WAV | SF_FORMAT_DOUBLE, 48000, 1, 8, inf);
    write_sound(dir / "eight-channels.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_U8, 8000, 8, 4);
    write_sound(dir / "one-frame.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_24, 96000, 1, 1);
    write_sound(dir / "pcm16.aiff", SF_FORMAT_AIFF | SF_FORMAT_PCM_16, 44100, 2, 24);
    write_sound(dir / "pcm16.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 48000, 1, 64);
    write_sound(dir / "vorbis.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, 22050, 1, 256);
    write_sound(dir / "ulaw.au", SF_FORMAT_AU | SF_FORMAT_ULAW, 11025, 1, 16);
}

// Streams in fuzz_engine_commands's format (see its header comment).
void engine_seeds(const fs::path& dir) {
    using Bytes = std::vector<std::uint8_t>;
    // Operands: kind, slot, value (lo, hi), frame mode, offset (lo, hi).
    auto cmd = [](std::uint8_t kind, std::uint8_t slot, std::uint16_t value, std::uint8_t mode = 0,
                  std::uint16_t offset = 0) {
        return Bytes{0,
                     kind,
                     slot,
                     static_cast<std::uint8_t>(value),
                     static_cast<std::uint8_t>(value >> 8U),
                     mode,
                     static_cast<std::uint8_t>(offset),
                     static_cast<std::uint8_t>(offset >> 8U)};
    };
    // assign_buffer takes two more operands: channels, frames (lo, hi).
    auto assign = [&cmd](std::uint8_t slot, std::uint8_t channels, std::uint16_t frames) {
        Bytes b = cmd(static_cast<std::uint8_t>(CommandKind::assign_buffer), slot, 0);
        b.insert(b.end(), {channels, static_cast<std::uint8_t>(frames),
                           static_cast<std::uint8_t>(frames >> 8U)});
        return b;
    };
    auto block = [](std::uint16_t frames, std::uint8_t skip = 0, std::uint8_t transport = 0) {
        const auto n = static_cast<std::uint16_t>(frames - 1);
        return Bytes{5, static_cast<std::uint8_t>(n), static_cast<std::uint8_t>(n >> 8U), skip,
                     transport};
    };
    auto kind = [](CommandKind k) { return static_cast<std::uint8_t>(k); };
    auto cat = [](std::initializer_list<Bytes> parts) {
        Bytes out;
        for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
        return out;
    };
    write_file(dir / "play-oneshot", cat({assign(0, 1, 500), cmd(kind(CommandKind::play), 0, 1),
                                          block(256), block(256), block(256)}));
    write_file(
        dir / "loop-xfade-reverse",
        cat({assign(1, 1, 300), cmd(kind(CommandKind::set_mode), 1, 1),
             cmd(kind(CommandKind::set_xfade), 1, 200), cmd(kind(CommandKind::set_reverse), 1, 1),
             cmd(kind(CommandKind::set_start), 1, 20000), cmd(kind(CommandKind::play), 1, 1),
             block(1024), block(7), block(1024)}));
    write_file(dir / "quantized-scheduled",
               cat({assign(2, 3, 2000), cmd(kind(CommandKind::set_quantize), 2, 2),
                    cmd(kind(CommandKind::clock_tempo), 0, 65535),
                    cmd(kind(CommandKind::play), 2, 1, 1, 300), block(512),
                    cmd(kind(CommandKind::stop), 2, 0, 1, 100), block(512, 250, 3), block(512)}));
    write_file(
        dir / "poly-choke-rate",
        cat({assign(3, 2, 4000), cmd(kind(CommandKind::set_poly), 3, 63),
             cmd(kind(CommandKind::set_choke), 3, 1), cmd(kind(CommandKind::set_rate), 3, 65535),
             cmd(kind(CommandKind::set_beats), 3, 100), cmd(kind(CommandKind::play), 3, 1),
             cmd(kind(CommandKind::play), 3, 1), block(1000), assign(3, 1, 1), block(100),
             cmd(kind(CommandKind::unload), 3, 0), block(1000)}));
    write_file(dir / "bad-slot-and-rate-change",
               cat({assign(6, 1, 10), Bytes{7, 2}, block(64),
                    cmd(kind(CommandKind::set_master_gain), 0, 65535),
                    cmd(kind(CommandKind::stop_all), 0, 0), block(64)}));
}

// Streams in fuzz_engine_midi's format (see its header comment).
void midi_seeds(const fs::path& dir) {
    using Bytes = std::vector<std::uint8_t>;
    auto cat = [](std::initializer_list<Bytes> parts) {
        Bytes out;
        for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
        return out;
    };
    // A command: its index in the target's kind table, slot, frame mode, frame offset, operands.
    enum : std::uint8_t { assign, unload, mode, quantize, tempo, choke, poly, stop_all, curve };
    auto cmd = [](std::uint8_t kind, std::uint8_t slot, Bytes operands = {},
                  std::uint8_t frame_mode = 0, std::uint16_t offset = 0) {
        Bytes b{0,
                kind,
                slot,
                frame_mode,
                static_cast<std::uint8_t>(offset),
                static_cast<std::uint8_t>(offset >> 8U)};
        b.insert(b.end(), operands.begin(), operands.end());
        return b;
    };
    auto buffer = [&cmd](std::uint8_t slot, std::uint8_t channels, std::uint16_t frames) {
        return cmd(assign, slot,
                   {static_cast<std::uint8_t>(channels - 1), static_cast<std::uint8_t>(frames - 1),
                    static_cast<std::uint8_t>((frames - 1) >> 8U)});
    };
    // An event descriptor: time mode and operand, then up to 3 bytes (or 4: a u8-sized event).
    auto at = [](std::uint8_t delta, Bytes bytes, std::uint8_t repeat_log2 = 0) {
        const auto size_kind = static_cast<std::uint8_t>(bytes.size() <= 3 ? bytes.size() : 4);
        Bytes d{static_cast<std::uint8_t>(1U | (size_kind << 2U) | (repeat_log2 << 5U)), delta};
        if (size_kind == 4) d.push_back(static_cast<std::uint8_t>(bytes.size()));
        d.insert(d.end(), bytes.begin(), bytes.end());
        return d;
    };
    // A block: size, flags (and lost count), then its descriptors.
    auto block = [](std::uint16_t frames, std::initializer_list<Bytes> descriptors,
                    std::uint8_t flags = 0, std::uint8_t lost = 0) {
        const auto n = static_cast<std::uint16_t>(frames - 1);
        Bytes b{1, static_cast<std::uint8_t>(n), static_cast<std::uint8_t>(n >> 8U), flags};
        if ((flags & 1U) != 0) b.push_back(lost);
        b.push_back(static_cast<std::uint8_t>(descriptors.size()));
        for (const auto& d : descriptors) b.insert(b.end(), d.begin(), d.end());
        return b;
    };
    write_file(dir / "notes-on-frames",
               cat({buffer(0, 1, 300), buffer(1, 2, 40), buffer(2, 1, 2000),
                    block(256, {at(10, {0x90, 36, 100}), at(90, {0x99, 37, 64}),
                                at(100, {0x80, 36, 0}), at(20, {0x90, 38, 1})}),
                    block(256, {}), block(256, {at(0, {0x90, 43, 127})})}));
    write_file(dir / "running-status-split",
               cat({buffer(0, 1, 500), buffer(1, 1, 500), cmd(mode, 0, {2}),
                    block(128, {at(5, {0x90, 36}), at(7, {100, 37}), at(9, {0xF8, 90})}),
                    block(127, {at(3, {36, 0, 37}), at(0, {0})})}));
    write_file(dir / "gate-toggle-choke-poly",
               cat({buffer(0, 2, 1500), buffer(1, 1, 1500), cmd(mode, 0, {2}), cmd(mode, 1, {3}),
                    cmd(choke, 0, {1}), cmd(choke, 1, {1}), cmd(poly, 1, {3}),
                    block(512, {at(1, {0x90, 36, 80}), at(50, {0x91, 37, 80}),
                                at(50, {0x91, 37, 80}), at(200, {0x80, 36, 64})}),
                    block(512, {at(7, {0x91, 37, 100})})}));
    // 3 x 128 events in one block, and the host's own lost count.
    write_file(dir / "flood-past-budget",
               cat({buffer(0, 1, 64), block(1024,
                                            {at(1, {0x90, 36, 100}, 7), at(1, {0x80, 36, 0}, 7),
                                             at(0, {0xB0, 1, 2}, 7)},
                                            1, 200)}));
    // SysEx over several events, one past the byte budget, real-time bytes inside messages.
    Bytes large{1 | (5U << 2U), 3, 0x10, 0x27, 3, 0xF0, 0x7F, 0x01, 0x02};  // 10000 bytes
    write_file(
        dir / "sysex-large-realtime",
        cat({buffer(0, 1, 100), block(333, {at(2, {0xF0, 0x7E, 0x7F}), at(2, {0x09, 0x01, 0xF7}),
                                            at(4, {0x90, 0xF8, 36}), at(0, {0xFE, 100, 0xF9}),
                                            large, at(1, {0x90, 36, 50})})}));
    // Times past the block's end, up to the largest, on odd block sizes.
    const Bytes far{3 | (3U << 2U), 0xFF, 0xFF, 0xFF, 0xFF, 0x90, 36, 99};
    write_file(dir / "times-past-block-end",
               cat({buffer(0, 1, 3), block(7, {at(250, {0x90, 36, 100}), far}), block(1, {far}),
                    block(1023, {at(255, {0x90, 36, 1}, 3)})}));
    write_file(
        dir / "quantized-and-scheduled",
        cat({buffer(0, 1, 800), cmd(quantize, 0, {1, 0}), cmd(tempo, 0, {0xFF, 0xFF}),
             cmd(stop_all, 0, {}, 1, 40), block(256, {at(40, {0x90, 36, 100})}),
             cmd(quantize, 0, {0, 0}), block(256, {at(0, {0x90, 36, 100})}), block(256, {})}));
    write_file(dir / "velocity-curves",
               cat({buffer(0, 1, 400), cmd(curve, 0, {2}), block(64, {at(1, {0x90, 36, 30})}),
                    cmd(curve, 0, {4}), block(64, {at(1, {0x90, 36, 30})}), cmd(curve, 0, {6}),
                    block(64, {at(1, {0x90, 36, 30})}), cmd(unload, 0),
                    block(64, {at(1, {0x90, 36, 30})})}));
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s <out>\n", argv[0]);
        return 2;
    }
    try {
        const fs::path out = argv[1];
        for (const char* t : {"fuzz_osc_datagram", "fuzz_sample_loader", "fuzz_engine_commands",
                              "fuzz_engine_midi", "fuzz_path_confinement", "fuzz_config_parsers"})
            fs::create_directories(out / t);
        osc_seeds(out / "fuzz_osc_datagram");
        loader_seeds(out / "fuzz_sample_loader");
        engine_seeds(out / "fuzz_engine_commands");
        midi_seeds(out / "fuzz_engine_midi");
        path_seeds(out / "fuzz_path_confinement");
        config_seeds(out / "fuzz_config_parsers");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fuzz_seeds: %s\n", e.what());
        return 1;
    }
    return 0;
}
