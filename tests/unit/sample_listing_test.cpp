// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// The samples directory as a surface's browser sees it.
#include "daemon/sample_listing.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace looperd {
namespace {

namespace fs = std::filesystem;

class SampleListingTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/looperd-listing-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override { fs::remove_all(dir_); }
    void touch(const fs::path& relative) {
        fs::create_directories((dir_ / relative).parent_path());
        std::ofstream(dir_ / relative) << "x";
    }
    fs::path dir_;
};

TEST_F(SampleListingTest, SoundFilesBySortedRelativePath) {
    touch("b.flac");
    touch("a/z.ogg");
    touch("a/b.AIFF");
    touch("readme.txt");
    touch(".hidden.wav");
    touch(".git/x.wav");
    touch("noext");
    const auto got = list_samples(dir_, 100);
    EXPECT_EQ(got.paths, (std::vector<std::string>{"a/b.AIFF", "a/z.ogg", "b.flac"}));
    EXPECT_FALSE(got.truncated);
}

TEST_F(SampleListingTest, TheFirstOnesInOrderWhenThereAreTooMany) {
    for (char c = 'a'; c <= 'j'; ++c) touch(std::string(1, c) + ".wav");
    const auto got = list_samples(dir_, 3);
    EXPECT_EQ(got.paths, (std::vector<std::string>{"a.wav", "b.wav", "c.wav"}));
    EXPECT_TRUE(got.truncated);
}

TEST_F(SampleListingTest, DepthIsBounded) {
    touch("1/2/3/in.wav");
    touch("1/2/3/4/out.wav");
    EXPECT_EQ(list_samples(dir_, 100, 4).paths, (std::vector<std::string>{"1/2/3/in.wav"}));
}

TEST_F(SampleListingTest, ALinkLoopDoesNotHangIt) {
    touch("d/x.wav");
    fs::create_directory_symlink(dir_ / "d", dir_ / "d" / "loop");
    fs::create_symlink(dir_ / "d" / "x.wav", dir_ / "link.wav");
    // The link to a file is listed (it loads like the file); the one to a directory is not
    // followed.
    EXPECT_EQ(list_samples(dir_, 100).paths, (std::vector<std::string>{"d/x.wav", "link.wav"}));
}

TEST_F(SampleListingTest, AMissingDirectoryThrows) {
    EXPECT_THROW(list_samples(dir_ / "none", 10), fs::filesystem_error);
}

TEST(SoundFileName, KnowsTheFormatsLooperdReads) {
    for (const char* n : {"a.wav", "a.WAV", "a.flac", "a.ogg", "a.opus", "a.aiff", "a.mp3"})
        EXPECT_TRUE(is_sound_file_name(n)) << n;
    for (const char* n : {"a.txt", "wav", ".wav", "a.wav.bak", "a."})
        EXPECT_FALSE(is_sound_file_name(n)) << n;
}

}  // namespace
}  // namespace looperd
