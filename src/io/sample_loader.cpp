// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "io/sample_loader.hpp"

#include <fcntl.h>
#include <samplerate.h>
#include <sndfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <new>
#include <string_view>
#include <system_error>
#include <vector>

#include "looperd/limits.hpp"

namespace looperd {
namespace {

constexpr std::uint32_t kMinSampleRate = 1000;
constexpr std::uint32_t kMaxSampleRate = 768000;

// Frames per sf_readf_float call: large enough to keep the call overhead negligible, small
// enough that the decode buffer grows with what the file really holds, not what it claims.
constexpr sf_count_t kReadChunkFrames = 1 << 16;

// Extra output frames reserved beyond ceil(frames * ratio), so that libsamplerate's rounding
// never outgrows the reservation; the surplus is given back once the real count is known.
constexpr std::uint64_t kResampleMarginFrames = 16;

constexpr std::uint64_t kMaxFrames = std::numeric_limits<std::uint32_t>::max();

// Throws "<what>: <path>" or "<what>: <path> (<detail>)".
[[noreturn]] void fail(const std::filesystem::path& path, std::string_view what,
                       const std::string& detail = {}) {
    std::string reason = std::string(what) + ": " + path.string();
    if (!detail.empty()) reason += " (" + detail + ")";
    throw LoadError(reason);
}

// Owns a file descriptor; closes it once, on every path out of load_sample().
class FileDescriptor {
  public:
    explicit FileDescriptor(int fd) noexcept : fd_(fd) {}
    FileDescriptor(const FileDescriptor&) = delete;
    FileDescriptor& operator=(const FileDescriptor&) = delete;
    ~FileDescriptor() {
        if (fd_ >= 0) ::close(fd_);
    }
    int get() const noexcept { return fd_; }

  private:
    int fd_;
};

struct SndfileCloser {
    void operator()(SNDFILE* file) const noexcept { sf_close(file); }
};
using SndfilePtr = std::unique_ptr<SNDFILE, SndfileCloser>;

// Bytes held against a MemoryBudget; given back on destruction unless kept. Loader thread only.
class Reservation {
  public:
    explicit Reservation(MemoryBudget& budget) noexcept : budget_(budget) {}
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;
    ~Reservation() {
        if (bytes_ > 0) budget_.release(bytes_);
    }

    // Makes the reservation exactly `bytes`, growing or shrinking what is held. Throws
    // LoadError (holding what it held before) if the budget has no room for the growth.
    void resize(std::uint64_t bytes) {
        if (bytes < bytes_) {
            budget_.release(bytes_ - bytes);
        } else if (bytes > bytes_ && !budget_.try_reserve(bytes - bytes_)) {
            throw LoadError(over_budget_reason(bytes));
        }
        bytes_ = bytes;
    }

    // From now on the bytes belong to the buffer; housekeeping releases them when it frees it.
    void keep() noexcept { bytes_ = 0; }

  private:
    // `needed` is the whole size of the load; "free" counts what this reservation holds too.
    std::string over_budget_reason(std::uint64_t needed) const {
        constexpr double kMiB = 1024.0 * 1024.0;
        const std::uint64_t used = budget_.used();
        const std::uint64_t free = (used < budget_.limit() ? budget_.limit() - used : 0) + bytes_;
        char text[160];
        std::snprintf(text, sizeof text,
                      "over the memory budget: needs %.1f MiB, %.1f MiB free of %.1f MiB",
                      static_cast<double>(needed) / kMiB, static_cast<double>(free) / kMiB,
                      static_cast<double>(budget_.limit()) / kMiB);
        return text;
    }

    MemoryBudget& budget_;
    std::uint64_t bytes_ = 0;
};

// Non-finite samples would poison every mix they reach (and NaN spreads through the
// resampler's filter to its neighbours), so they become silence. Huge finite values are left
// alone: float files may legitimately peak above 0 dBFS, and the gain stages and the output
// clip handle level; clamping here would change content the user meant.
void check_cancel(const std::atomic<bool>* cancel) {
    if (cancel && cancel->load(std::memory_order_relaxed)) throw LoadError("load cancelled");
}

void sanitize(std::vector<float>& samples) noexcept {
    for (float& s : samples) {
        if (!std::isfinite(s)) s = 0.0F;
    }
}

SndfilePtr open_sound_file(const std::filesystem::path& path, const FileDescriptor& fd,
                           SF_INFO& info) {
    // O_NONBLOCK only protected open() from a FIFO; reads of a regular file ignore it, but
    // libsndfile should see an ordinary blocking descriptor.
    const int flags = ::fcntl(fd.get(), F_GETFL);
    if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) < 0) {
        fail(path, "cannot read file", std::system_category().message(errno));
    }

    // close_desc is false: the descriptor stays ours. With true, libsndfile closes it on most
    // failures of sf_open_fd() but not all of them (an early allocation failure returns
    // without), so the caller could not know whether to close it.
    info = SF_INFO{};
    SndfilePtr file(sf_open_fd(fd.get(), SFM_READ, &info, SF_FALSE));
    if (!file) {
        // sf_strerror(nullptr) reports the last sf_open* failure of the process.
        fail(path, "unsupported or corrupt audio file", sf_strerror(nullptr));
    }
    return file;
}

void check_format(const std::filesystem::path& path, const SF_INFO& info) {
    if (info.channels <= 0 || info.frames <= 0) fail(path, "no audio in file");
    if (static_cast<std::uint32_t>(info.channels) > limits::kMaxSampleChannels) {
        fail(path, "too many channels",
             std::to_string(info.channels) + ", at most " +
                 std::to_string(limits::kMaxSampleChannels));
    }
    if (info.samplerate < static_cast<int>(kMinSampleRate) ||
        info.samplerate > static_cast<int>(kMaxSampleRate)) {
        fail(path, "unsupported sample rate", std::to_string(info.samplerate) + " Hz");
    }
    if (static_cast<std::uint64_t>(info.frames) > kMaxFrames) {
        fail(path, "file too long", std::to_string(info.frames) + " frames");
    }
}

// Frames the buffer will have at the target rate, rounded up and with a margin, so that a
// reservation of this size covers whatever libsamplerate produces.
std::uint64_t estimate_output_frames(std::uint64_t frames, std::uint32_t source_rate,
                                     std::uint32_t target_rate) noexcept {
    if (source_rate == target_rate) return frames;
    // frames < 2^32 and rates < 2^20: the product fits in 64 bits.
    return (frames * target_rate + source_rate - 1) / source_rate + kResampleMarginFrames;
}

// Decodes up to `max_frames` interleaved frames. The header's frame count is only a cap: a
// truncated file (FLAC in particular) claims more frames than it holds, so the result has
// exactly the frames that sf_readf_float() really delivered.
std::vector<float> decode(const std::filesystem::path& path, SNDFILE* file, std::uint32_t channels,
                          std::uint64_t max_frames, const std::atomic<bool>* cancel) {
    std::vector<float> samples;
    samples.reserve(std::min<std::uint64_t>(max_frames, kReadChunkFrames) * channels);
    std::uint64_t frames = 0;
    while (frames < max_frames) {
        check_cancel(cancel);
        const auto want =
            static_cast<sf_count_t>(std::min<std::uint64_t>(max_frames - frames, kReadChunkFrames));
        samples.resize(
            static_cast<std::size_t>((frames + static_cast<std::uint64_t>(want)) * channels));
        const sf_count_t got = sf_readf_float(file, samples.data() + frames * channels, want);
        if (got > 0) frames += static_cast<std::uint64_t>(got);
        if (got < want) break;
    }
    samples.resize(static_cast<std::size_t>(frames * channels));
    if (frames == 0) {
        const int error = sf_error(file);
        if (error != SF_ERR_NO_ERROR) fail(path, "cannot decode audio", sf_error_number(error));
        fail(path, "no audio in file");
    }
    return samples;
}

// Resamples in chunks, so that a cancel (looperd shutting down) is seen within a fraction of
// a second even for a long file: the best sinc converter takes seconds per minute of audio.
std::vector<float> resample(const std::filesystem::path& path, const std::vector<float>& input,
                            std::uint32_t channels, std::uint32_t source_rate,
                            std::uint32_t target_rate, std::uint64_t max_output_frames,
                            const std::atomic<bool>* cancel) {
    constexpr long kChunkFrames = 1 << 15;
    std::vector<float> output(static_cast<std::size_t>(max_output_frames * channels));
    int error = 0;
    const std::unique_ptr<SRC_STATE, decltype(&src_delete)> state(
        src_new(SRC_SINC_BEST_QUALITY, static_cast<int>(channels), &error), &src_delete);
    if (!state) fail(path, "cannot resample", src_strerror(error));
    const auto total_in = static_cast<long>(input.size() / channels);
    const auto total_out = static_cast<long>(max_output_frames);
    long in_pos = 0;
    long out_pos = 0;
    for (;;) {
        check_cancel(cancel);
        SRC_DATA data{};
        data.data_in = input.data() + static_cast<std::size_t>(in_pos) * channels;
        data.input_frames = std::min(kChunkFrames, total_in - in_pos);
        data.data_out = output.data() + static_cast<std::size_t>(out_pos) * channels;
        data.output_frames = total_out - out_pos;
        data.src_ratio = static_cast<double>(target_rate) / source_rate;
        data.end_of_input = in_pos + data.input_frames == total_in ? 1 : 0;
        error = src_process(state.get(), &data);
        if (error != 0) fail(path, "cannot resample", src_strerror(error));
        in_pos += data.input_frames_used;
        out_pos += data.output_frames_gen;
        // Done when all input is in and the filter tail has been flushed.
        if (data.end_of_input && data.input_frames_used == data.input_frames &&
            data.output_frames_gen == 0)
            break;
        if (out_pos >= total_out) break;
    }
    if (out_pos <= 0) fail(path, "too short to resample");
    output.resize(static_cast<std::size_t>(out_pos) * channels);
    return output;
}

// Refuses a file that was deleted, replaced, truncated or rewritten since `before` was taken
// from its descriptor: what was read may be part old and part new, or cut short (a WAV's frame
// count is exact, so a short read would otherwise pass for a shorter sample).
void check_unchanged(const std::filesystem::path& path, int fd, const struct stat& before) {
    struct stat now {};
    if (::fstat(fd, &now) != 0) {
        throw LoadError("cannot stat " + path.string() + ": " +
                        std::system_category().message(errno));
    }
    if (now.st_nlink == 0) fail(path, "file deleted or replaced while loading; load it again");
    if (now.st_size != before.st_size) {
        fail(path, "file changed while loading; load it again",
             std::to_string(before.st_size) + " bytes, then " + std::to_string(now.st_size));
    }
    if (now.st_mtim.tv_sec != before.st_mtim.tv_sec ||
        now.st_mtim.tv_nsec != before.st_mtim.tv_nsec)
        fail(path, "file changed while loading; load it again", "modified");
}

LoadedSample load(const std::filesystem::path& path, std::uint32_t target_rate,
                  MemoryBudget& budget, const std::atomic<bool>* cancel,
                  const std::function<void()>& opened) {
    if (target_rate < kMinSampleRate || target_rate > kMaxSampleRate) {
        throw LoadError("unsupported target sample rate (" + std::to_string(target_rate) + " Hz)");
    }

    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, and libsndfile
    // 1.2.0 blocks forever in sf_open() on one. Only regular files are let through.
    FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (fd.get() < 0) {
        throw LoadError("cannot open " + path.string() + ": " +
                        std::system_category().message(errno));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        throw LoadError("cannot stat " + path.string() + ": " +
                        std::system_category().message(errno));
    }
    if (!S_ISREG(st.st_mode)) fail(path, "not a regular file");

    SF_INFO info{};
    // Declared after `fd`, so the SNDFILE is closed before the descriptor it reads from.
    const SndfilePtr file = open_sound_file(path, fd, info);
    if (opened) opened();
    check_format(path, info);
    const auto channels = static_cast<std::uint32_t>(info.channels);
    const auto source_rate = static_cast<std::uint32_t>(info.samplerate);
    const auto claimed_frames = static_cast<std::uint64_t>(info.frames);
    if (source_rate != target_rate &&
        src_is_valid_ratio(static_cast<double>(target_rate) / source_rate) == 0) {
        fail(path, "cannot resample",
             std::to_string(source_rate) + " Hz to " + std::to_string(target_rate) + " Hz");
    }

    // Reserve before decoding, from the header's claim: a file too big for the budget is
    // refused before it costs any reading or memory. The estimate shrinks to the exact size
    // below. (The decode and resample buffers are transient and not counted.)
    const std::uint64_t estimated_frames =
        estimate_output_frames(claimed_frames, source_rate, target_rate);
    if (estimated_frames > kMaxFrames) fail(path, "file too long after resampling");
    Reservation reservation(budget);
    reservation.resize(estimated_frames * channels * sizeof(float));

    std::vector<float> samples = decode(path, file.get(), channels, claimed_frames, cancel);
    check_unchanged(path, fd.get(), st);
    const std::uint64_t decoded_frames = samples.size() / channels;
    sanitize(samples);

    if (source_rate != target_rate) {
        const std::uint64_t max_output_frames =
            estimate_output_frames(decoded_frames, source_rate, target_rate);
        samples =
            resample(path, samples, channels, source_rate, target_rate, max_output_frames, cancel);
        // A sinc filter cannot make a non-finite value from finite input, but this is cheap
        // insurance for the one property the audio thread relies on.
        sanitize(samples);
    }

    const auto frames = static_cast<std::uint32_t>(samples.size() / channels);
    reservation.resize(std::uint64_t{frames} * channels * sizeof(float));

    auto buffer = std::make_unique<SampleBuffer>(channels, frames, target_rate);
    for (std::uint32_t c = 0; c < channels; ++c) {
        float* out = buffer->mutable_channel(c);
        const float* in = samples.data() + c;
        for (std::uint32_t i = 0; i < frames; ++i) out[i] = in[std::size_t{i} * channels];
    }
    samples = std::vector<float>();  // give the interleaved copy back before touching pages

    LoadedSample result;
    result.locked = buffer->prefault();
    result.buffer = std::move(buffer);
    result.source_rate = source_rate;
    result.source_channels = channels;
    result.source_frames = decoded_frames;
    reservation.keep();
    return result;
}

}  // namespace

LoadedSample load_sample(const std::filesystem::path& path, std::uint32_t target_rate,
                         MemoryBudget& budget, const std::atomic<bool>* cancel) {
    return detail::load_sample_observed(path, target_rate, budget, cancel, {});
}

LoadedSample detail::load_sample_observed(const std::filesystem::path& path,
                                          std::uint32_t target_rate, MemoryBudget& budget,
                                          const std::atomic<bool>* cancel,
                                          const std::function<void()>& opened) {
    try {
        return load(path, target_rate, budget, cancel, opened);
    } catch (const std::bad_alloc&) {
        // The reservation has been released on the way out; the caller sees an ordinary
        // refusal rather than an exception type it does not expect.
        throw LoadError("out of memory while loading " + path.string());
    }
}

}  // namespace looperd
