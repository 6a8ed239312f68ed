// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// A sound file for tests that load one: 48 kHz float WAV, every sample the same value.
#pragma once

#include <gtest/gtest.h>
#include <sndfile.h>

#include <cstddef>
#include <filesystem>
#include <vector>

namespace looperd::test {

inline void write_wav(const std::filesystem::path& p, int frames, int channels = 1,
                      float value = 0.25F) {
    SF_INFO info{};
    info.samplerate = 48000;
    info.channels = channels;
    info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
    SNDFILE* f = sf_open(p.c_str(), SFM_WRITE, &info);
    ASSERT_NE(f, nullptr) << p;
    std::vector<float> data(static_cast<std::size_t>(frames) * static_cast<std::size_t>(channels),
                            value);
    sf_writef_float(f, data.data(), frames);
    sf_close(f);
}

}  // namespace looperd::test
