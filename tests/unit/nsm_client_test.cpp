// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// NSM's messages as looperd reads and writes them (no server), checked through looperd's own
// OSC codec, and a session directory's rig: links for outside samples, paths relative to it.

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "daemon/nsm_client.hpp"
#include "daemon/nsm_session.hpp"

namespace looperd {
namespace {

namespace fs = std::filesystem;

OscMessage round_trip(const OscMessage& m) {
    const auto bytes = encode_osc_message(m);
    const auto decoded = decode_osc_packet(bytes.data(), bytes.size());
    EXPECT_EQ(decoded.size(), 1U);
    return decoded.front();
}

TEST(NsmMessages, AnnounceNamesLooperdItsCapabilitiesAndApi112) {
    const OscMessage m = round_trip(nsm::announce_message("looperd-guarded", 4242));
    EXPECT_EQ(m.address, "/nsm/server/announce");
    ASSERT_EQ(m.type_tags(), "sssiii");
    EXPECT_EQ(m.args[0].s, "looperd");
    EXPECT_EQ(m.args[1].s, ":switch:dirty:");
    EXPECT_EQ(m.args[2].s, "looperd-guarded");
    EXPECT_EQ(m.args[3].i, 1);
    EXPECT_EQ(m.args[4].i, 1);
    EXPECT_EQ(m.args[5].i, 4242);
}

TEST(NsmMessages, ReplyErrorAndDirtinessHaveTheApisShapes) {
    const OscMessage reply = round_trip(nsm::reply_message("/nsm/client/save", "saved"));
    EXPECT_EQ(reply.address, "/reply");
    ASSERT_EQ(reply.type_tags(), "ss");
    EXPECT_EQ(reply.args[0].s, "/nsm/client/save");

    const OscMessage error = round_trip(
        nsm::error_message("/nsm/client/open", nsm::Error::create_failed, "cannot create"));
    EXPECT_EQ(error.address, "/error");
    ASSERT_EQ(error.type_tags(), "sis");
    EXPECT_EQ(error.args[0].s, "/nsm/client/open");
    EXPECT_EQ(error.args[1].i, -10);
    EXPECT_EQ(error.args[2].s, "cannot create");

    EXPECT_EQ(nsm::dirty_message(true).address, "/nsm/client/is_dirty");
    EXPECT_EQ(nsm::dirty_message(false).address, "/nsm/client/is_clean");
    EXPECT_TRUE(nsm::dirty_message(true).args.empty());
}

TEST(NsmMessages, ErrorCodesAreTheApisTable) {
    EXPECT_EQ(static_cast<int>(nsm::Error::general), -1);
    EXPECT_EQ(static_cast<int>(nsm::Error::incompatible_api), -2);
    EXPECT_EQ(static_cast<int>(nsm::Error::no_session_open), -6);
    EXPECT_EQ(static_cast<int>(nsm::Error::not_now), -8);
    EXPECT_EQ(static_cast<int>(nsm::Error::bad_project), -9);
    EXPECT_EQ(static_cast<int>(nsm::Error::create_failed), -10);
}

TEST(NsmMessages, OpenIsThreeStrings) {
    const auto r = nsm::parse({"/nsm/client/open",
                               {OscArg::string("/s/looperd.nABC"), OscArg::string("song"),
                                OscArg::string("looperd.nABC")}});
    const auto* open = std::get_if<nsm::Open>(&r);
    ASSERT_NE(open, nullptr);
    EXPECT_EQ(open->path, "/s/looperd.nABC");
    EXPECT_EQ(open->display_name, "song");
    EXPECT_EQ(open->client_id, "looperd.nABC");
}

TEST(NsmMessages, OpenWithWrongTypesIsMalformedWithTheGeneralError) {
    for (const auto& args :
         {std::vector<OscArg>{OscArg::int32(1), OscArg::string("a"), OscArg::string("b")},
          std::vector<OscArg>{OscArg::string("/p"), OscArg::string("a")}, std::vector<OscArg>{}}) {
        const auto r = nsm::parse({"/nsm/client/open", args});
        const auto* bad = std::get_if<nsm::Malformed>(&r);
        ASSERT_NE(bad, nullptr);
        EXPECT_EQ(bad->address, "/nsm/client/open");
        EXPECT_EQ(bad->code, nsm::Error::general);
    }
    const auto empty = nsm::parse(
        {"/nsm/client/open", {OscArg::string(""), OscArg::string("a"), OscArg::string("b")}});
    EXPECT_NE(std::get_if<nsm::Malformed>(&empty), nullptr);
}

TEST(NsmMessages, SaveTakesNoArguments) {
    const auto save = nsm::parse({"/nsm/client/save", {}});
    EXPECT_NE(std::get_if<nsm::Save>(&save), nullptr);
    const auto r = nsm::parse({"/nsm/client/save", {OscArg::int32(1)}});
    EXPECT_NE(std::get_if<nsm::Malformed>(&r), nullptr);
}

TEST(NsmMessages, TheAnnouncesAnswerIsWelcomeOrRefused) {
    const auto welcome =
        nsm::parse({"/reply",
                    {OscArg::string("/nsm/server/announce"), OscArg::string("hi"),
                     OscArg::string("New Session Manager"), OscArg::string(":server-control:")}});
    const auto* w = std::get_if<nsm::Welcome>(&welcome);
    ASSERT_NE(w, nullptr);
    EXPECT_EQ(w->manager, "New Session Manager");

    const auto refused = nsm::parse(
        {"/error",
         {OscArg::string("/nsm/server/announce"), OscArg::int32(-2), OscArg::string("old")}});
    const auto* r = std::get_if<nsm::Refused>(&refused);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->code, -2);

    const auto other = nsm::parse({"/nsm/client/show_optional_gui", {}});
    EXPECT_NE(std::get_if<nsm::Ignored>(&other), nullptr);
}

TEST(NsmSessionOptions, ClientIdNamesTheJackClientAndTheSessionHoldsTheState) {
    Options base;
    base.no_state = true;
    base.osc_port = 9951;
    base.samples_roots = {"/srv/more"};
    const Options o =
        nsm::session_options(base, {"/s/looperd.nX", "song", "looperd.nX"}, "/s/looperd.nX");
    EXPECT_EQ(o.client_name, "looperd.nX");
    EXPECT_EQ(o.state_dir, fs::path("/s/looperd.nX"));
    EXPECT_FALSE(o.no_state);
    EXPECT_EQ(o.osc_port, 9951);
    EXPECT_EQ(o.samples_roots,
              (std::vector<fs::path>{"/srv/more", fs::path("/s/looperd.nX") / "samples"}));
}

class NsmSessionDir : public ::testing::Test {
  protected:
    void SetUp() override {
        const char* tmp = std::getenv("TMPDIR");
        std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/looperd-nsm-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        root_ = fs::canonical(pattern);
    }
    void TearDown() override { fs::remove_all(root_); }
    fs::path root_;
};

TEST_F(NsmSessionDir, PrepareMakesPrivateDirectoriesWithTheirParents) {
    const auto dir = nsm::prepare_directory((root_ / "a" / "b" / "looperd.nX").string());
    EXPECT_TRUE(fs::is_directory(dir));
    struct stat st {};
    ASSERT_EQ(::stat(dir.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700U);
    ASSERT_EQ(::stat((root_ / "a").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700U);
}

TEST_F(NsmSessionDir, PrepareRefusesAPathUnderAFile) {
    std::ofstream(root_ / "file") << "x";
    EXPECT_THROW(nsm::prepare_directory((root_ / "file" / "looperd.nX").string()), nsm::NsmError);
    EXPECT_THROW(nsm::prepare_directory(""), nsm::NsmError);
}

TEST_F(NsmSessionDir, OutsideSamplesAreLinkedAndInsideFilesMadeRelative) {
    const fs::path samples = root_ / "samples";
    fs::create_directories(samples / "other");
    std::ofstream(samples / "kick.wav") << "k";
    std::ofstream(samples / "other" / "kick.wav") << "k2";
    const fs::path dir = nsm::prepare_directory((root_ / "session").string());
    fs::create_directories(dir / "takes");

    RigState rig;
    rig.slots.push_back({0, "kick.wav", {}, false});
    rig.slots.push_back({1, (samples / "other" / "kick.wav").string(), {}, false});
    rig.slots.push_back({2, (dir / "takes" / "slot-2.wav").string(), {}, true});
    rig.slots.push_back({3, "", {}, false});
    const RigState linked = nsm::linked_rig(rig, dir, samples);
    EXPECT_EQ(linked.slots[0].file, "samples/kick.wav");
    EXPECT_EQ(linked.slots[1].file, "samples/kick-2.wav");  // same name, another file
    EXPECT_EQ(linked.slots[2].file, "takes/slot-2.wav");
    EXPECT_EQ(linked.slots[3].file, "");
    EXPECT_EQ(fs::read_symlink(dir / "samples" / "kick.wav"), samples / "kick.wav");
    EXPECT_EQ(fs::read_symlink(dir / "samples" / "kick-2.wav"), samples / "other" / "kick.wav");

    // Saved again, as reopened (absolute paths to the links): the links are reused.
    const RigState reopened = nsm::opened_rig(linked, dir);
    EXPECT_EQ(reopened.slots[0].file, (dir / "samples" / "kick.wav").string());
    const RigState again = nsm::linked_rig(reopened, dir, samples);
    EXPECT_EQ(again.slots[0].file, "samples/kick.wav");
    EXPECT_EQ(again.slots[1].file, "samples/kick-2.wav");
    EXPECT_FALSE(fs::exists(dir / "samples" / "kick-3.wav"));
}

}  // namespace
}  // namespace looperd
