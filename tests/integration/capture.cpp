// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// looperd-test-capture SERVER PORT FILE SECONDS: records JACK port PORT of server SERVER into
// FILE (capture_file.hpp), with each cycle's time, until SIGTERM. The tests start one per JACK
// server they record (CaptureProcess); it exits 1 with a message when it cannot record.

#include <fcntl.h>
#include <jack/jack.h>
#include <signal.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "capture_file.hpp"

namespace {

using looperd::test::CaptureCycle;
using looperd::test::CaptureHeader;

struct Capture {
    jack_client_t* client = nullptr;
    jack_port_t* in = nullptr;
    CaptureHeader* header = nullptr;
    CaptureCycle* cycles = nullptr;
    float* samples = nullptr;
};

int process(jack_nframes_t n, void* arg) {
    auto& c = *static_cast<Capture*>(arg);
    const std::uint64_t at = c.header->frames.load(std::memory_order_relaxed);
    const std::uint64_t cycle = c.header->cycles.load(std::memory_order_relaxed);
    if (at + n > c.header->capacity_frames || cycle >= c.header->capacity_cycles) return 0;
    jack_nframes_t current_frames = 0;
    jack_time_t current_usecs = 0;
    jack_time_t next_usecs = 0;
    float period_usecs = 0.0F;
    if (jack_get_cycle_times(c.client, &current_frames, &current_usecs, &next_usecs,
                             &period_usecs) != 0 ||
        current_usecs == 0)
        return 0;
    // JACK's clock onto CLOCK_MONOTONIC_RAW (the same clock with JACK2 on Linux; the difference
    // is added anyway).
    timespec raw{};
    ::clock_gettime(CLOCK_MONOTONIC_RAW, &raw);
    const double raw_micros =
        1e6 * static_cast<double>(raw.tv_sec) + 1e-3 * static_cast<double>(raw.tv_nsec);
    c.cycles[cycle] = CaptureCycle{
        at,
        static_cast<double>(current_usecs) + (raw_micros - static_cast<double>(jack_get_time())),
        static_cast<double>(period_usecs), n, 0};
    const auto* in = static_cast<const float*>(jack_port_get_buffer(c.in, n));
    std::copy_n(in, n, c.samples + at);
    c.header->cycles.store(cycle + 1, std::memory_order_release);
    c.header->frames.store(at + n, std::memory_order_release);
    return 0;
}

int xrun(void* arg) {
    static_cast<Capture*>(arg)->header->xruns.fetch_add(1, std::memory_order_relaxed);
    return 0;
}

int fail(const std::string& what) {
    std::fprintf(stderr, "looperd-test-capture: %s\n", what.c_str());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 5) return fail("usage: looperd-test-capture SERVER PORT FILE SECONDS");
    const std::string server = argv[1];
    const std::string source = argv[2];
    const std::string path = argv[3];
    const long seconds = std::strtol(argv[4], nullptr, 10);
    if (seconds <= 0) return fail("SECONDS must be above 0");

    // SIGTERM ends the capture: blocked here, taken with sigwait below.
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);

    Capture c;
    jack_status_t status{};
    c.client = jack_client_open("looperd-test-capture",
                                static_cast<jack_options_t>(JackNoStartServer | JackServerName),
                                &status, server.c_str());
    if (c.client == nullptr) return fail("cannot open a JACK client on " + server);
    c.in = jack_port_register(c.client, "in", JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0);
    if (c.in == nullptr) return fail("cannot register a port");

    const std::uint32_t rate = jack_get_sample_rate(c.client);
    const std::uint64_t frames = static_cast<std::uint64_t>(seconds) * rate;
    const std::uint64_t cycles = frames / 16 + 1;  // JACK's smallest block: 16 frames
    const std::size_t bytes = looperd::test::capture_file_bytes(frames, cycles);
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(bytes)) != 0)
        return fail("cannot make " + path + ": " + std::strerror(errno));
    void* map = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (map == MAP_FAILED) return fail("cannot map " + path + ": " + std::strerror(errno));
    std::memset(map, 0, bytes);  // every page touched before the callback writes to it
    auto* base = static_cast<unsigned char*>(map);
    c.header = new (base) CaptureHeader{};
    c.header->rate = rate;
    c.header->capacity_frames = frames;
    c.header->capacity_cycles = cycles;
    c.cycles = reinterpret_cast<CaptureCycle*>(base + looperd::test::kCaptureHeaderBytes);
    c.samples = reinterpret_cast<float*>(c.cycles + cycles);

    jack_set_process_callback(c.client, process, &c);
    jack_set_xrun_callback(c.client, xrun, &c);
    if (jack_activate(c.client) != 0) return fail("cannot activate");
    const std::string own = std::string(jack_get_client_name(c.client)) + ":in";
    const int connected = jack_connect(c.client, source.c_str(), own.c_str());
    if (connected != 0 && connected != EEXIST)
        return fail("cannot connect " + source + " (" + std::to_string(connected) + ")");
    c.header->state.store(CaptureHeader::kRecording, std::memory_order_release);

    int signal = 0;
    sigwait(&stop, &signal);
    jack_deactivate(c.client);
    jack_client_close(c.client);
    ::munmap(map, bytes);
    return 0;
}
