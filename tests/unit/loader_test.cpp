// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sndfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iterator>
#include <latch>
#include <limits>
#include <numbers>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <vector>

#include "io/memory_budget.hpp"
#include "io/sample_loader.hpp"
#include "looperd/limits.hpp"
#include "wait_until.hpp"

namespace looperd {
namespace {

static_assert(std::is_base_of_v<std::runtime_error, LoadError>);
static_assert(!std::is_copy_constructible_v<MemoryBudget>);
static_assert(std::is_nothrow_move_constructible_v<LoadedSample>);

namespace fs = std::filesystem;

constexpr std::uint64_t kMiB = 1024 * 1024;

// libsndfile writes float as x * 32767 and reads integers back as n / 32768, so a round trip
// through 16 or 24 bits is off by up to half a step plus |x| steps.
constexpr float kPcm16Tolerance = 2.0F / 32768.0F;
constexpr float kPcm24Tolerance = 2.0F / 8388608.0F;

// ---------------------------------------------------------------------------------------------
// MemoryBudget

TEST(MemoryBudget, ReservesUpToTheLimitExactly) {
    MemoryBudget budget(1000);
    EXPECT_TRUE(budget.try_reserve(600));
    EXPECT_TRUE(budget.try_reserve(400));
    EXPECT_EQ(budget.used(), 1000U);
    EXPECT_FALSE(budget.try_reserve(1));
    EXPECT_EQ(budget.used(), 1000U);
    budget.release(1000);
    EXPECT_EQ(budget.used(), 0U);
}

TEST(MemoryBudget, RefusesOneByteOverTheLimitAndReservesNothing) {
    MemoryBudget budget(1000);
    EXPECT_FALSE(budget.try_reserve(1001));
    EXPECT_EQ(budget.used(), 0U);
    EXPECT_TRUE(budget.try_reserve(1000));
}

TEST(MemoryBudget, HugeRequestDoesNotWrapAround) {
    MemoryBudget budget(1000);
    ASSERT_TRUE(budget.try_reserve(10));
    EXPECT_FALSE(budget.try_reserve(std::numeric_limits<std::uint64_t>::max()));
    EXPECT_FALSE(budget.try_reserve(std::numeric_limits<std::uint64_t>::max() - 5));
    EXPECT_EQ(budget.used(), 10U);
}

TEST(MemoryBudget, PartialReleaseReturnsOnlyThoseBytes) {
    MemoryBudget budget(100);
    ASSERT_TRUE(budget.try_reserve(70));
    budget.release(30);
    EXPECT_EQ(budget.used(), 40U);
    EXPECT_TRUE(budget.try_reserve(60));
    EXPECT_FALSE(budget.try_reserve(1));
}

#ifdef NDEBUG
TEST(MemoryBudget, ReleasingMoreThanReservedClampsAtZero) {
    MemoryBudget budget(100);
    ASSERT_TRUE(budget.try_reserve(10));
    budget.release(20);
    EXPECT_EQ(budget.used(), 0U);
    EXPECT_TRUE(budget.try_reserve(100));
}
#else
TEST(MemoryBudgetDeathTest, ReleasingMoreThanReservedIsCaughtAsABug) {
    // Under qemu-user, GTEST_DEATH_TEST_STYLE=fast: see Guard::SetUp in tests/guard.
    if (std::getenv("GTEST_DEATH_TEST_STYLE") == nullptr)
        GTEST_FLAG_SET(death_test_style, "threadsafe");
    MemoryBudget budget(100);
    ASSERT_TRUE(budget.try_reserve(10));
    EXPECT_DEATH(budget.release(20), "released more than was reserved");
}
#endif

TEST(MemoryBudget, ConcurrentReservesNeverExceedTheLimit) {
    // 4 threads race to fill a budget that holds 333'334 chunks of 3 bytes (one byte is left
    // over); together they ask for far more than that.
    constexpr std::uint64_t kChunk = 3;
    constexpr std::uint64_t kLimit = 1'000'003;
    constexpr int kThreads = 4;
    constexpr int kAttempts = 200'000;
    MemoryBudget budget(kLimit);
    std::latch start(kThreads);
    std::atomic<std::uint64_t> granted{0};
    std::atomic<bool> over_limit_seen{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&] {
            start.arrive_and_wait();
            for (int i = 0; i < kAttempts; ++i) {
                if (budget.try_reserve(kChunk)) granted.fetch_add(1, std::memory_order_relaxed);
                if (budget.used() > kLimit) over_limit_seen = true;
            }
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_FALSE(over_limit_seen);
    EXPECT_EQ(granted.load() * kChunk, budget.used());
    EXPECT_EQ(budget.used(), kLimit / kChunk * kChunk);  // full, but not one chunk more
}

TEST(MemoryBudget, ConcurrentReserveAndReleaseNeverHoldMoreThanTheLimit) {
    // Each thread repeatedly takes 1..4 KiB, holds it and gives it back; the limit fits only
    // two or three threads' worth at once, so refusals and races happen all the time. `held`
    // counts what the threads own between a granted reserve and its release: it can only
    // pass the limit if the budget granted more than it has.
    constexpr int kThreads = 4;
    constexpr int kRounds = 1'000'000;
    constexpr std::uint64_t kLimit = 8 * 1024;
    MemoryBudget budget(kLimit);
    std::latch start(kThreads);
    std::atomic<std::uint64_t> held{0};
    std::atomic<bool> over_limit_seen{false};
    std::atomic<int> refusals{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            std::minstd_rand rng(static_cast<unsigned>(t) + 1);
            start.arrive_and_wait();
            for (int i = 0; i < kRounds; ++i) {
                const std::uint64_t bytes = 1024 * (1 + rng() % 4);
                if (!budget.try_reserve(bytes)) {
                    refusals.fetch_add(1, std::memory_order_relaxed);
                    continue;
                }
                if (held.fetch_add(bytes) + bytes > kLimit || budget.used() > kLimit) {
                    over_limit_seen = true;
                }
                held.fetch_sub(bytes);
                budget.release(bytes);
            }
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_FALSE(over_limit_seen);
    EXPECT_GT(refusals.load(), 0);  // the threads did contend for the limit
    EXPECT_EQ(budget.used(), 0U);
}

// ---------------------------------------------------------------------------------------------
// Fixture files

// Interleaved frames plus their layout, as written to and expected back from a file.
struct Signal {
    int channels = 1;
    int rate = 48000;
    std::vector<float> samples;  // interleaved

    std::size_t frames() const { return samples.size() / static_cast<std::size_t>(channels); }
    float at(std::size_t frame, int channel) const {
        return samples[frame * static_cast<std::size_t>(channels) +
                       static_cast<std::size_t>(channel)];
    }
};

// Every channel a sine of its own frequency and level, so that swapped channels show.
Signal make_tones(int channels, int rate, std::size_t frames, double base_hz = 440.0) {
    Signal s{channels, rate, std::vector<float>(frames * static_cast<std::size_t>(channels))};
    for (std::size_t i = 0; i < frames; ++i) {
        for (int c = 0; c < channels; ++c) {
            const double hz = base_hz * (1.0 + 0.5 * c);
            const double level = 0.5 - 0.05 * c;
            s.samples[i * static_cast<std::size_t>(channels) + static_cast<std::size_t>(c)] =
                static_cast<float>(
                    level * std::sin(2.0 * std::numbers::pi * hz * static_cast<double>(i) / rate));
        }
    }
    return s;
}

Signal make_sine(int rate, double seconds, double hz, double amplitude) {
    const auto frames = static_cast<std::size_t>(std::lround(seconds * rate));
    Signal s{1, rate, std::vector<float>(frames)};
    for (std::size_t i = 0; i < frames; ++i) {
        s.samples[i] = static_cast<float>(
            amplitude * std::sin(2.0 * std::numbers::pi * hz * static_cast<double>(i) / rate));
    }
    return s;
}

// Channel c holds a DC level of (c + 1) / 10 plus a small ramp: every channel distinct,
// every sample distinct from its neighbours, nothing zero.
Signal make_channel_ramps(int channels, int rate, std::size_t frames) {
    Signal s{channels, rate, std::vector<float>(frames * static_cast<std::size_t>(channels))};
    for (std::size_t i = 0; i < frames; ++i) {
        for (int c = 0; c < channels; ++c) {
            s.samples[i * static_cast<std::size_t>(channels) + static_cast<std::size_t>(c)] =
                0.1F * static_cast<float>(c + 1) +
                0.01F * static_cast<float>(i) / static_cast<float>(frames);
        }
    }
    return s;
}

void write_sound(const fs::path& path, int format, const Signal& signal) {
    SF_INFO info{};
    info.channels = signal.channels;
    info.samplerate = signal.rate;
    info.format = format;
    SNDFILE* file = sf_open(path.c_str(), SFM_WRITE, &info);
    ASSERT_NE(file, nullptr) << "cannot write fixture " << path << ": " << sf_strerror(nullptr);
    const auto frames = static_cast<sf_count_t>(signal.frames());
    EXPECT_EQ(sf_writef_float(file, signal.samples.data(), frames), frames);
    EXPECT_EQ(sf_close(file), 0);
}

void write_bytes(const fs::path& path, const std::vector<char>& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(out.good());
}

class Loader : public ::testing::Test {
  protected:
    void SetUp() override {
        const char* tmp = std::getenv("TMPDIR");
        std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
                              "/looperd-loader-test-XXXXXX";
        ASSERT_NE(mkdtemp(pattern.data()), nullptr) << "mkdtemp failed";
        dir_ = pattern;
    }
    void TearDown() override {
        std::error_code ignored;
        if (!dir_.empty()) fs::remove_all(dir_, ignored);
    }

    fs::path file(const std::string& name) const { return dir_ / name; }

    fs::path dir_;
    MemoryBudget budget_{256 * kMiB};
};

// Expects every frame of `got` (planar) to equal `want` (interleaved) within `tolerance`.
void expect_same_content(const SampleBuffer& got, const Signal& want, float tolerance) {
    ASSERT_EQ(got.channels(), static_cast<std::uint32_t>(want.channels));
    ASSERT_EQ(got.frames(), want.frames());
    for (int c = 0; c < want.channels; ++c) {
        const float* channel = got.channel(static_cast<std::uint32_t>(c));
        std::size_t mismatches = 0;
        for (std::size_t i = 0; i < want.frames(); ++i) {
            if (!(std::fabs(channel[i] - want.at(i, c)) <= tolerance)) {
                if (++mismatches <= 3) {
                    ADD_FAILURE() << "channel " << c << " frame " << i << ": got " << channel[i]
                                  << ", want " << want.at(i, c);
                }
            }
        }
        EXPECT_EQ(mismatches, 0U) << "channel " << c;
    }
}

// ---------------------------------------------------------------------------------------------
// Formats

// A file changed under the loader: each change happens once the file is open and before any
// audio is read, the worst moment. What was read could be cut short or half old, half new.
class LoaderFileChanged : public Loader {
  protected:
    void expect_refused(const std::function<void(const fs::path&)>& change,
                        const std::string& reason) {
        const fs::path path = file("changing.wav");
        write_sound(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, make_tones(2, 48000, 48000));
        try {
            (void)detail::load_sample_observed(path, 48000, budget_, nullptr,
                                               [&] { change(path); });
            FAIL() << "loaded a file that changed while loading";
        } catch (const LoadError& e) {
            const std::string what = e.what();
            EXPECT_NE(what.find(reason), std::string::npos) << what;
            EXPECT_NE(what.find(path.string()), std::string::npos) << what;
        }
        EXPECT_EQ(budget_.used(), 0U);
    }
};

TEST_F(LoaderFileChanged, TruncatedWhileLoadingIsRefused) {
    // A WAV's frame count is exact: without the check this would pass for a shorter sample.
    expect_refused([](const fs::path& p) { fs::resize_file(p, fs::file_size(p) / 2); },
                   "file changed while loading");
}

TEST_F(LoaderFileChanged, GrownWhileLoadingIsRefused) {
    expect_refused(
        [](const fs::path& p) {
            std::ofstream(p, std::ios::binary | std::ios::app) << std::string(4096, '\0');
        },
        "file changed while loading");
}

TEST_F(LoaderFileChanged, RewrittenInPlaceWhileLoadingIsRefused) {
    expect_refused(
        [](const fs::path& p) {
            std::fstream f(p, std::ios::binary | std::ios::in | std::ios::out);
            f.seekp(100);
            f << "rewritten";
            f.close();
            // The write changes the time anyway, but maybe within the clock's last tick.
            fs::last_write_time(p, fs::last_write_time(p) + std::chrono::seconds(5));
        },
        "file changed while loading");
}

TEST_F(LoaderFileChanged, DeletedWhileLoadingIsRefused) {
    expect_refused([](const fs::path& p) { fs::remove(p); }, "file deleted or replaced");
}

TEST_F(LoaderFileChanged, ReplacedByRenameWhileLoadingIsRefused) {
    // How rsync and most editors update a file: the one being read is no longer the file.
    expect_refused(
        [this](const fs::path& p) {
            write_sound(file("new.wav"), SF_FORMAT_WAV | SF_FORMAT_FLOAT,
                        make_tones(2, 48000, 1000));
            fs::rename(file("new.wav"), p);
        },
        "file deleted or replaced");
}

TEST_F(LoaderFileChanged, AnUntouchedFileLoadsThroughTheSamePath) {
    const fs::path path = file("still.wav");
    const Signal want = make_tones(2, 48000, 4800);
    write_sound(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, want);
    int calls = 0;
    const LoadedSample got =
        detail::load_sample_observed(path, 48000, budget_, nullptr, [&] { ++calls; });
    EXPECT_EQ(calls, 1);
    ASSERT_NE(got.buffer, nullptr);
    expect_same_content(*got.buffer, want, 0.0F);
}

TEST_F(Loader, FloatWavAtTheTargetRateLoadsBitExact) {
    const Signal want = make_tones(2, 48000, 48000);
    write_sound(file("float.wav"), SF_FORMAT_WAV | SF_FORMAT_FLOAT, want);

    const LoadedSample got = load_sample(file("float.wav"), 48000, budget_);
    ASSERT_NE(got.buffer, nullptr);
    EXPECT_EQ(got.buffer->sample_rate(), 48000U);
    EXPECT_EQ(got.source_rate, 48000U);
    EXPECT_EQ(got.source_channels, 2U);
    EXPECT_EQ(got.source_frames, 48000U);
    expect_same_content(*got.buffer, want, 0.0F);
    // mlock may be refused (RLIMIT_MEMLOCK); the load succeeds either way.
    RecordProperty("locked", got.locked ? "true" : "false");
}

TEST_F(Loader, Pcm16WavLoadsWithinQuantisation) {
    const Signal want = make_tones(2, 48000, 12345);
    write_sound(file("pcm16.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, want);
    const LoadedSample got = load_sample(file("pcm16.wav"), 48000, budget_);
    EXPECT_EQ(got.source_frames, 12345U);
    expect_same_content(*got.buffer, want, kPcm16Tolerance);
}

TEST_F(Loader, AiffLoadsWithinQuantisation) {
    const Signal want = make_tones(2, 48000, 10000);
    write_sound(file("tone.aiff"), SF_FORMAT_AIFF | SF_FORMAT_PCM_24, want);
    const LoadedSample got = load_sample(file("tone.aiff"), 48000, budget_);
    EXPECT_EQ(got.source_frames, 10000U);
    expect_same_content(*got.buffer, want, kPcm24Tolerance);
}

TEST_F(Loader, FlacLoadsWithinQuantisation) {
    const Signal want = make_tones(2, 48000, 30000);
    write_sound(file("tone.flac"), SF_FORMAT_FLAC | SF_FORMAT_PCM_16, want);
    const LoadedSample got = load_sample(file("tone.flac"), 48000, budget_);
    EXPECT_EQ(got.source_frames, 30000U);
    expect_same_content(*got.buffer, want, kPcm16Tolerance);
}

TEST_F(Loader, OggVorbisLoadsCloseToTheSource) {
    const Signal want = make_tones(2, 48000, 48000);
    write_sound(file("tone.ogg"), SF_FORMAT_OGG | SF_FORMAT_VORBIS, want);
    const LoadedSample got = load_sample(file("tone.ogg"), 48000, budget_);
    ASSERT_EQ(got.buffer->channels(), 2U);
    // Lossy: the frame count may differ by a few frames, the content by the codec's noise.
    EXPECT_NEAR(static_cast<double>(got.buffer->frames()), 48000.0, 4.0);
    const std::size_t n = std::min<std::size_t>(got.buffer->frames(), want.frames());
    for (int c = 0; c < 2; ++c) {
        const float* channel = got.buffer->channel(static_cast<std::uint32_t>(c));
        double error = 0.0, signal = 0.0, cross = 0.0, got_energy = 0.0;
        for (std::size_t i = 0; i < n; ++i) {
            const double w = static_cast<double>(want.at(i, c));
            const double g = static_cast<double>(channel[i]);
            error += (g - w) * (g - w);
            signal += w * w;
            cross += g * w;
            got_energy += g * g;
        }
        const double correlation = cross / std::sqrt(signal * got_energy);
        const double snr_db = 10.0 * std::log10(signal / error);
        EXPECT_GT(correlation, 0.999) << "channel " << c;
        EXPECT_GT(snr_db, 30.0) << "channel " << c;
    }
}

// ---------------------------------------------------------------------------------------------
// Resampling

// Frequency of a sine from its upward zero crossings, interpolated between samples.
double measure_frequency(const float* x, std::size_t begin, std::size_t end, double rate) {
    double first = -1.0, last = -1.0;
    int crossings = 0;
    for (std::size_t i = begin + 1; i < end; ++i) {
        if (x[i - 1] < 0.0F && x[i] >= 0.0F) {
            const double before = static_cast<double>(x[i - 1]);
            const double after = static_cast<double>(x[i]);
            const double at = static_cast<double>(i - 1) + before / (before - after);
            if (first < 0.0) first = at;
            last = at;
            ++crossings;
        }
    }
    if (crossings < 2) return 0.0;
    return (crossings - 1) * rate / (last - first);
}

double rms(const float* x, std::size_t begin, std::size_t end) {
    double sum = 0.0;
    for (std::size_t i = begin; i < end; ++i) {
        const double v = static_cast<double>(x[i]);
        sum += v * v;
    }
    return std::sqrt(sum / static_cast<double>(end - begin));
}

void expect_resampled_sine(const fs::path& path, int source_rate, MemoryBudget& budget) {
    constexpr double kAmplitude = 0.5;
    write_sound(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT,
                make_sine(source_rate, 1.0, 1000.0, kAmplitude));

    const LoadedSample got = load_sample(path, 48000, budget);
    EXPECT_EQ(got.source_rate, static_cast<std::uint32_t>(source_rate));
    EXPECT_EQ(got.source_frames, static_cast<std::uint64_t>(source_rate));
    ASSERT_EQ(got.buffer->channels(), 1U);
    EXPECT_EQ(got.buffer->sample_rate(), 48000U);
    EXPECT_NEAR(static_cast<double>(got.buffer->frames()), 48000.0, 2.0);

    // The middle half second, away from the filter's edges.
    const float* x = got.buffer->channel(0);
    ASSERT_GE(got.buffer->frames(), 36000U);
    EXPECT_NEAR(measure_frequency(x, 12000, 36000, 48000.0), 1000.0, 1.0);
    const double level_db = 20.0 * std::log10(rms(x, 12000, 36000) * std::sqrt(2.0) / kAmplitude);
    EXPECT_NEAR(level_db, 0.0, 0.5);
}

TEST_F(Loader, Resamples44100To48000KeepingPitchAndLevel) {
    expect_resampled_sine(file("sine44.wav"), 44100, budget_);
}

TEST_F(Loader, Resamples96000To48000KeepingPitchAndLevel) {
    expect_resampled_sine(file("sine96.wav"), 96000, budget_);
}

TEST_F(Loader, ResamplingKeepsEveryChannelApart) {
    // Six distinct DC levels: after resampling each channel must still hold its own.
    const Signal source = make_channel_ramps(6, 44100, 22050);
    write_sound(file("six44.wav"), SF_FORMAT_WAV | SF_FORMAT_FLOAT, source);
    const LoadedSample got = load_sample(file("six44.wav"), 48000, budget_);
    ASSERT_EQ(got.buffer->channels(), 6U);
    EXPECT_NEAR(static_cast<double>(got.buffer->frames()), 24000.0, 2.0);
    for (std::uint32_t c = 0; c < 6; ++c) {
        const float* x = got.buffer->channel(c);
        for (std::size_t i = 2000; i < 22000; i += 500) {
            const double expected =
                0.1 * (c + 1) + 0.01 * (static_cast<double>(i) * 44100.0 / 48000.0) / 22050.0;
            EXPECT_NEAR(x[i], expected, 1e-3) << "channel " << c << " frame " << i;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Channels and sample values

TEST_F(Loader, MonoStaysMono) {
    const Signal want = make_channel_ramps(1, 48000, 4800);
    write_sound(file("mono.wav"), SF_FORMAT_WAV | SF_FORMAT_FLOAT, want);
    const LoadedSample got = load_sample(file("mono.wav"), 48000, budget_);
    EXPECT_EQ(got.source_channels, 1U);
    expect_same_content(*got.buffer, want, 0.0F);
}

TEST_F(Loader, SixChannelsKeepTheirOwnContent) {
    const Signal want = make_channel_ramps(6, 48000, 4800);
    write_sound(file("six.wav"), SF_FORMAT_WAV | SF_FORMAT_FLOAT, want);
    const LoadedSample got = load_sample(file("six.wav"), 48000, budget_);
    EXPECT_EQ(got.source_channels, 6U);
    expect_same_content(*got.buffer, want, 0.0F);
}

TEST_F(Loader, MoreChannelsThanTheLimitAreRefused) {
    const auto channels = static_cast<int>(limits::kMaxSampleChannels) + 1;
    write_sound(file("wide.wav"), SF_FORMAT_WAV | SF_FORMAT_FLOAT,
                make_channel_ramps(channels, 48000, 16));
    try {
        (void)load_sample(file("wide.wav"), 48000, budget_);
        FAIL() << "loaded a file with " << channels << " channels";
    } catch (const LoadError& e) {
        EXPECT_NE(std::string(e.what()).find("too many channels"), std::string::npos) << e.what();
    }
    EXPECT_EQ(budget_.used(), 0U);
}

TEST_F(Loader, SampleRateBelowOneKilohertzIsRefused) {
    write_sound(file("slow.wav"), SF_FORMAT_WAV | SF_FORMAT_FLOAT, make_channel_ramps(1, 500, 500));
    EXPECT_THROW((void)load_sample(file("slow.wav"), 48000, budget_), LoadError);
    EXPECT_EQ(budget_.used(), 0U);
}

TEST_F(Loader, NonFiniteSamplesBecomeSilence) {
    Signal want = make_channel_ramps(2, 48000, 1000);
    Signal written = want;
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    for (auto [frame, channel, value] : {std::tuple{10, 0, nan}, std::tuple{20, 1, inf},
                                         std::tuple{30, 0, -inf}, std::tuple{999, 1, nan}}) {
        const auto index = static_cast<std::size_t>(frame * 2 + channel);
        written.samples[index] = value;
        want.samples[index] = 0.0F;
    }
    write_sound(file("nonfinite.wav"), SF_FORMAT_WAV | SF_FORMAT_FLOAT, written);
    const LoadedSample got = load_sample(file("nonfinite.wav"), 48000, budget_);
    expect_same_content(*got.buffer, want, 0.0F);
}

TEST_F(Loader, NonFiniteSamplesDoNotSmearThroughTheResampler) {
    // A NaN reaching the sinc filter would turn every output sample it touches into NaN.
    Signal written = make_sine(44100, 0.5, 1000.0, 0.5);
    written.samples[10000] = std::numeric_limits<float>::quiet_NaN();
    written.samples[10001] = std::numeric_limits<float>::infinity();
    write_sound(file("nan44.wav"), SF_FORMAT_WAV | SF_FORMAT_FLOAT, written);
    const LoadedSample got = load_sample(file("nan44.wav"), 48000, budget_);
    const float* x = got.buffer->channel(0);
    std::size_t non_finite = 0;
    for (std::uint32_t i = 0; i < got.buffer->frames(); ++i)
        non_finite += std::isfinite(x[i]) ? 0 : 1;
    EXPECT_EQ(non_finite, 0U);
    // Far from the damaged spot the sine is intact.
    EXPECT_NEAR(measure_frequency(x, 14000, 23000, 48000.0), 1000.0, 1.0);
}

// ---------------------------------------------------------------------------------------------
// Files that are not sound files

TEST_F(Loader, MissingFileIsRefusedWithTheReason) {
    const fs::path path = file("missing.wav");
    try {
        (void)load_sample(path, 48000, budget_);
        FAIL() << "loaded a file that does not exist";
    } catch (const LoadError& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("No such file or directory"), std::string::npos) << what;
        EXPECT_NE(what.find(path.string()), std::string::npos) << what;
    }
}

TEST_F(Loader, DirectoryIsRefused) {
    fs::create_directory(file("folder.wav"));
    try {
        (void)load_sample(file("folder.wav"), 48000, budget_);
        FAIL() << "loaded a directory";
    } catch (const LoadError& e) {
        EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
    }
}

// Regression: libsndfile 1.2.0 blocks forever in sf_open() on a FIFO, which would have hung
// the loader thread for good.
TEST_F(Loader, FifoIsRefusedInsteadOfHangingInSfOpen) {
    const fs::path path = file("fifo.wav");
    ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
    auto result = std::async(std::launch::async, [&] {
        try {
            (void)load_sample(path, 48000, budget_);
            return std::string("loaded");
        } catch (const LoadError& e) {
            return std::string(e.what());
        }
    });
    // A refusal is immediate; only a load blocked in sf_open() reaches the hang bound.
    if (result.wait_for(test::kHangBound) != std::future_status::ready) {
        // Unblock the loader (a writer that closes at once gives it end of file) so that the
        // future's destructor does not hang the test too.
        for (int attempt = 0; attempt < 50; ++attempt) {
            const int fd = open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
            if (fd >= 0) close(fd);
            if (result.wait_for(std::chrono::milliseconds(100)) == std::future_status::ready) break;
        }
        FAIL() << test::hung("load_sample()'s return on a FIFO");
    }
    EXPECT_NE(result.get().find("not a regular file"), std::string::npos);
}

TEST_F(Loader, RandomBytesAreRefused) {
    std::mt19937 rng(1234);
    std::vector<char> bytes(4096);
    for (char& b : bytes) b = static_cast<char>(rng());
    write_bytes(file("noise.wav"), bytes);
    try {
        (void)load_sample(file("noise.wav"), 48000, budget_);
        FAIL() << "loaded random bytes";
    } catch (const LoadError& e) {
        EXPECT_NE(std::string(e.what()).find("unsupported or corrupt"), std::string::npos)
            << e.what();
    }
    EXPECT_EQ(budget_.used(), 0U);
}

TEST_F(Loader, WavCutOffInsideItsHeaderIsRefused) {
    write_sound(file("cut.wav"), SF_FORMAT_WAV | SF_FORMAT_FLOAT, make_tones(2, 48000, 1000));
    fs::resize_file(file("cut.wav"), 30);  // inside the fmt chunk
    EXPECT_THROW((void)load_sample(file("cut.wav"), 48000, budget_), LoadError);
    EXPECT_EQ(budget_.used(), 0U);
}

TEST_F(Loader, EmptyWavIsRefused) {
    write_sound(file("empty.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, Signal{2, 48000, {}});
    ASSERT_TRUE(fs::exists(file("empty.wav")));
    try {
        (void)load_sample(file("empty.wav"), 48000, budget_);
        FAIL() << "loaded an empty file";
    } catch (const LoadError& e) {
        EXPECT_NE(std::string(e.what()).find("no audio"), std::string::npos) << e.what();
    }
    EXPECT_EQ(budget_.used(), 0U);
}

TEST_F(Loader, EmptyFileIsRefused) {
    write_bytes(file("zero.wav"), {});
    EXPECT_THROW((void)load_sample(file("zero.wav"), 48000, budget_), LoadError);
}

// A signal that is never zero: frames a decoder makes up (zero-filled) cannot pass as real.
Signal make_never_zero(int channels, int rate, std::size_t frames) {
    Signal s = make_tones(channels, rate, frames, 1000.0);
    for (float& x : s.samples) x = 0.5F + 0.4F * x;
    return s;
}

// libsndfile's header count says the whole file; only the frames that really decode may come
// back, each equal to what was written.
TEST_F(Loader, TruncatedFlacLoadsOnlyTheFramesThatDecode) {
    const Signal want = make_never_zero(2, 48000, 96000);
    write_sound(file("cut.flac"), SF_FORMAT_FLAC | SF_FORMAT_PCM_16, want);
    fs::resize_file(file("cut.flac"), fs::file_size(file("cut.flac")) * 6 / 10);

    // How many frames does the header still claim?
    SF_INFO info{};
    SNDFILE* probe = sf_open(file("cut.flac").c_str(), SFM_READ, &info);
    ASSERT_NE(probe, nullptr);
    sf_close(probe);
    EXPECT_EQ(info.frames, 96000);

    const LoadedSample got = load_sample(file("cut.flac"), 48000, budget_);
    const std::uint32_t frames = got.buffer->frames();
    EXPECT_EQ(got.source_frames, frames);
    EXPECT_GT(frames, 96000U * 4 / 10);  // most of the surviving 60% decodes
    EXPECT_LT(frames, 96000U * 7 / 10);  // and nothing beyond it is invented
    ASSERT_EQ(got.buffer->channels(), 2U);
    for (std::uint32_t c = 0; c < 2; ++c) {
        const float* x = got.buffer->channel(c);
        std::size_t wrong = 0;
        for (std::uint32_t i = 0; i < frames; ++i) {
            wrong += std::fabs(x[i] - want.at(i, static_cast<int>(c))) <= kPcm16Tolerance ? 0 : 1;
        }
        EXPECT_EQ(wrong, 0U) << "channel " << c;
    }
    EXPECT_EQ(budget_.used(), got.buffer->bytes());
}

// Offset of the first audio frame: past "fLaC" and every metadata block.
std::uintmax_t flac_audio_offset(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)),
                                     std::istreambuf_iterator<char>());
    std::size_t at = 4;
    for (;;) {
        if (at + 4 > bytes.size()) return 0;
        const bool last = (bytes[at] & 0x80) != 0;
        const std::size_t length =
            (std::size_t{bytes[at + 1]} << 16) | (std::size_t{bytes[at + 2]} << 8) | bytes[at + 3];
        at += 4 + length;
        if (last) return at;
    }
}

TEST_F(Loader, FlacWithNoAudioFramesIsRefusedAndReleasesItsReservation) {
    // The header claims 96000 frames, so the loader reserves for them before it finds none.
    write_sound(file("bare.flac"), SF_FORMAT_FLAC | SF_FORMAT_PCM_16,
                make_never_zero(2, 48000, 96000));
    const std::uintmax_t audio_offset = flac_audio_offset(file("bare.flac"));
    ASSERT_GT(audio_offset, 42U);
    fs::resize_file(file("bare.flac"), audio_offset);

    SF_INFO info{};
    SNDFILE* probe = sf_open(file("bare.flac").c_str(), SFM_READ, &info);
    ASSERT_NE(probe, nullptr) << "the fixture should still open: " << sf_strerror(nullptr);
    sf_close(probe);
    ASSERT_EQ(info.frames, 96000);

    try {
        (void)load_sample(file("bare.flac"), 48000, budget_);
        FAIL() << "loaded a FLAC file without audio frames";
    } catch (const LoadError& e) {
        EXPECT_NE(std::string(e.what()).find("bare.flac"), std::string::npos) << e.what();
    }
    EXPECT_EQ(budget_.used(), 0U);
}

// ---------------------------------------------------------------------------------------------
// Memory budget

TEST_F(Loader, LoadOverTheBudgetIsRefusedAndReservesNothing) {
    // 1 s of 48 kHz stereo float: 375 KiB; 700 KiB of the 1 MiB budget are already taken.
    write_sound(file("big.wav"), SF_FORMAT_WAV | SF_FORMAT_FLOAT, make_tones(2, 48000, 48000));
    MemoryBudget budget(1 * kMiB);
    ASSERT_TRUE(budget.try_reserve(700 * 1024));
    try {
        (void)load_sample(file("big.wav"), 48000, budget);
        FAIL() << "loaded over the budget";
    } catch (const LoadError& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("memory budget"), std::string::npos) << what;
        EXPECT_NE(what.find("MiB"), std::string::npos) << what;
    }
    EXPECT_EQ(budget.used(), 700U * 1024);

    budget.release(700 * 1024);
    const LoadedSample got = load_sample(file("big.wav"), 48000, budget);
    EXPECT_EQ(budget.used(), got.buffer->bytes());
}

TEST_F(Loader, SuccessfulLoadReservesExactlyItsBytes) {
    write_sound(file("a.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, make_tones(2, 48000, 10000));
    write_sound(file("b.wav"), SF_FORMAT_WAV | SF_FORMAT_FLOAT, make_sine(44100, 1.0, 1000.0, 0.5));
    MemoryBudget budget(8 * kMiB);

    LoadedSample a = load_sample(file("a.wav"), 48000, budget);
    EXPECT_EQ(a.buffer->bytes(), 10000U * 2 * sizeof(float));
    EXPECT_EQ(budget.used(), a.buffer->bytes());

    // Resampled: the reservation was an estimate and must have been trimmed to the result.
    LoadedSample b = load_sample(file("b.wav"), 48000, budget);
    EXPECT_EQ(budget.used(), a.buffer->bytes() + b.buffer->bytes());

    // What housekeeping does once it has freed them.
    const std::size_t a_bytes = a.buffer->bytes();
    const std::size_t b_bytes = b.buffer->bytes();
    a.buffer.reset();
    budget.release(a_bytes);
    b.buffer.reset();
    budget.release(b_bytes);
    EXPECT_EQ(budget.used(), 0U);
}

TEST_F(Loader, BudgetIsCheckedAgainstTheHeaderBeforeDecoding) {
    // The header claims 96000 stereo frames (750 KiB); only about 60% of them are really there.
    // A 600 KiB budget would hold what decodes, but the loader refuses on the claim, before it
    // spends time and memory decoding.
    write_sound(file("cut.flac"), SF_FORMAT_FLAC | SF_FORMAT_PCM_16,
                make_never_zero(2, 48000, 96000));
    fs::resize_file(file("cut.flac"), fs::file_size(file("cut.flac")) * 6 / 10);
    MemoryBudget budget(600 * 1024);
    try {
        (void)load_sample(file("cut.flac"), 48000, budget);
        FAIL() << "decoded a file whose header claims more than the budget";
    } catch (const LoadError& e) {
        EXPECT_NE(std::string(e.what()).find("memory budget"), std::string::npos) << e.what();
    }
    EXPECT_EQ(budget.used(), 0U);
}

// ---------------------------------------------------------------------------------------------
// Cancel: shutdown must not wait for a long file.

TEST_F(Loader, CancelledLoadStopsWithAnErrorAndReservesNothing) {
    write_sound(file("long.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16,
                make_sine(44100, 5.0, 440.0, 0.5));
    MemoryBudget budget(64 * kMiB);
    const std::atomic<bool> cancel{true};
    try {
        (void)load_sample(file("long.wav"), 48000, budget, &cancel);
        FAIL() << "a cancelled load must throw";
    } catch (const LoadError& e) {
        EXPECT_NE(std::string(e.what()).find("cancelled"), std::string::npos) << e.what();
    }
    EXPECT_EQ(budget.used(), 0U);
}

TEST_F(Loader, CancelDuringResamplingIsSeenBetweenChunks) {
    // 60 s at 44.1 kHz: the best sinc converter needs seconds for it on this class of machine,
    // so a cancel raised 100 ms in lands while it resamples (or while it reads).
    write_sound(file("minute.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16,
                make_sine(44100, 60.0, 440.0, 0.5));
    MemoryBudget budget(256 * kMiB);
    std::atomic<bool> cancel{false};
    auto load = std::async(std::launch::async,
                           [&] { return load_sample(file("minute.wav"), 48000, budget, &cancel); });
    // Not a wait for anything: the cancel is meant to land mid-load. A slower machine only
    // makes that likelier; a faster one may finish first (accepted below).
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    cancel = true;
    // Bounded: a load that ignored the flag would still finish, so this cannot hang.
    ASSERT_EQ(load.wait_for(std::chrono::seconds(120)), std::future_status::ready)
        << "a cancelled load still ran after 120 s: the flag was ignored, or it hangs";
    try {
        (void)load.get();
        // A very fast machine may finish before the flag is raised: then the result is whole.
        SUCCEED() << "load finished before the cancel";
    } catch (const LoadError& e) {
        EXPECT_NE(std::string(e.what()).find("cancelled"), std::string::npos) << e.what();
        EXPECT_EQ(budget.used(), 0U);
    }
}

}  // namespace
}  // namespace looperd
