// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// Fuzz target: load_sample() on arbitrary bytes, as /slot/<n>/load would on a hostile file.
//
// load_sample() takes a path, so each input is written to one file in a per-process directory
// (on tmpfs when /dev/shm exists) and loaded from there. LoadError is the expected refusal;
// any other exception, a sanitizer report, a budget that does not balance or a buffer the
// audio thread could not play safely is a bug.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "io/memory_budget.hpp"
#include "io/sample_loader.hpp"
#include "looperd/limits.hpp"
#include "looperd/sample_buffer.hpp"

namespace {

using namespace looperd;
namespace fs = std::filesystem;

constexpr std::uint64_t kBudgetBytes = 64ULL << 20;

fs::path g_dir;
fs::path g_file;
std::uint64_t g_runs = 0;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_sample_loader: invariant broken: %s\n", what);
    std::abort();
}

void remove_dir() {
    std::error_code ec;
    fs::remove_all(g_dir, ec);
}

void write_input(const std::uint8_t* data, std::size_t size) {
    const int fd = ::open(g_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) fail("cannot write the input file");
    std::size_t done = 0;
    while (done < size) {
        const ssize_t n = ::write(fd, data + done, size - done);
        if (n <= 0) fail("cannot write the input file");
        done += static_cast<std::size_t>(n);
    }
    ::close(fd);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    std::error_code ec;
    const fs::path base = fs::is_directory("/dev/shm", ec) ? "/dev/shm" : fs::temp_directory_path();
    std::string tmpl = (base / "looperd-fuzz-loader-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) fail("cannot create the input directory");
    g_dir = tmpl;
    g_file = g_dir / "input";
    std::atexit(remove_dir);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    write_input(data, size);
    // Alternate the target rate: 48 kHz files load as they are, 44.1 kHz ones are resampled,
    // and each input meets both over the fuzzer's mutations.
    const std::uint32_t target_rate = (g_runs++ % 2 == 0) ? 48000 : 44100;
    MemoryBudget budget(kBudgetBytes);
    const std::atomic<bool> cancel{false};
    LoadedSample loaded;
    try {
        loaded = load_sample(g_file, target_rate, budget, &cancel);
    } catch (const LoadError&) {
        if (budget.used() != 0) fail("a refused load kept part of the budget");
        return 0;
    }
    const SampleBuffer* b = loaded.buffer.get();
    if (!b) fail("a load succeeded without a buffer");
    if (b->channels() == 0 || b->channels() > limits::kMaxSampleChannels) fail("channel count");
    // The engine reads frame frames() - 1 of any buffer it is given.
    if (b->frames() == 0) fail("an empty buffer");
    if (b->sample_rate() != target_rate) fail("buffer not at the target rate");
    if (loaded.source_channels != b->channels()) fail("source channels differ from the buffer's");
    if (budget.used() != b->bytes()) fail("the budget does not hold exactly the buffer's bytes");
    for (std::uint32_t c = 0; c < b->channels(); ++c) {
        const float* ch = b->channel(c);
        for (std::uint32_t i = 0; i < b->frames(); ++i) {
            if (!std::isfinite(ch[i])) fail("a non-finite sample reached the buffer");
        }
    }
    return 0;
}
