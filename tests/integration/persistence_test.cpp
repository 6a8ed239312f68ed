// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// Persistence against the real daemon and a real jackd: kill -9 at random moments while the
// rig changes over OSC, then restart and compare what the daemon holds with the state file;
// a damaged state file; a restart that plays the same slot with its parameters; sessions.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bit>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "daemon/rig_state.hpp"
#include "fixtures.hpp"
#include "io/osc_codec.hpp"
#include "jack_recorder.hpp"
#include "jack_server.hpp"
#include "osc_client.hpp"

namespace looperd::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kSlots = 8;

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// A socket of the test's own that the daemon sends bundles to (/refresh, feedback), decoded
// with looperd's codec.
class Listener {
  public:
    Listener() {
        fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) throw std::runtime_error("socket");
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
            ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
            ::close(fd_);
            throw std::runtime_error("bind");
        }
        port_ = ntohs(addr.sin_port);
    }
    ~Listener() { ::close(fd_); }
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;

    std::string url() const { return "osc.udp://127.0.0.1:" + std::to_string(port_) + "/"; }

    // Reads what arrives until `done` says so or `until` passes; `take` sees every message.
    template <typename Take, typename Done>
    void read(Clock::time_point until, Take take, Done done) {
        std::vector<std::uint8_t> buffer(65536);
        while (!done() && Clock::now() < until) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 100) <= 0) continue;
            const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
            if (n <= 0) continue;
            for (const auto& m : decode_osc_packet(buffer.data(), static_cast<std::size_t>(n)))
                take(m);
        }
    }

  private:
    int fd_ = -1;
    std::uint16_t port_ = 0;
};

class PersistentDaemon : public IntegrationTest {
  protected:
    void SetUp() override {
        start_jack("looperd-persist-it-", true, synchronous());
        if (IsSkipped() || HasFatalFailure()) return;
        state_dir_ = dir_ / "state";
        port_ = pick_free_udp_port();
        osc_ = std::make_unique<OscClient>();
    }

    // jackd's synchronous mode records exactly what was played, but waits out its timeout for
    // a client killed in the middle of a cycle: tests that kill use the asynchronous mode.
    virtual bool synchronous() const { return true; }

    // A killed daemon's successor may exit otherwise: its status is the tests' business.
    void TearDown() override {
        recorder_.reset();
        finish(daemon_, false);
    }

    // Starts the daemon as JACK client `name` (a killed client's name may linger in JACK for
    // a moment, and looperd asks for its name exactly).
    void spawn(const std::string& name) {
        const std::vector<std::string> args = {"--osc-port",      std::to_string(port_),
                                               "--samples-dir",   samples_.string(),
                                               "--state-dir",     state_dir_.string(),
                                               "--slots",         std::to_string(kSlots),
                                               "--client-name",   name,
                                               "--no-autoconnect"};
        std::vector<std::string> all = args;
        all.insert(all.end(), extra_args_.begin(), extra_args_.end());
        daemon_ = std::make_unique<ChildProcess>(
            binary_, all, std::vector<std::string>{"JACK_DEFAULT_SERVER=" + jack_->name()},
            (dir_ / (name + ".log")).string());
    }

    void wait_ready() {
        ASSERT_NO_FATAL_FAILURE(wait_for_pong(*daemon_, *osc_, port_, kHangBound, 50ms));
    }

    std::vector<std::string> extra_args_;  // appended to every spawn()'s arguments

    void kill9() {
        daemon_->send_signal(SIGKILL);
        const auto status = daemon_->wait_exit(kHangBound);
        forget_jack_metadata_locks();  // killed while opening its JACK client, maybe
        ASSERT_TRUE(status && WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL)
            << describe(status);
    }

    std::map<std::string, OscValue> info(int n) {
        osc_->send(port_, slot(n, "info"));
        const auto reply = osc_->wait_for(slot(n, "info.reply"), kHangBound);
        if (!reply)
            throw std::runtime_error("no " + slot(n, "info.reply") + " within " +
                                     std::to_string(kHangBound.count()) + " s");
        return status_pairs(*reply);
    }

    // Waits until no slot is loading (restored loads finished). Returns every slot's info.
    std::vector<std::map<std::string, OscValue>> settled_infos() {
        const auto deadline = Clock::now() + kHangBound;
        for (;;) {
            std::vector<std::map<std::string, OscValue>> all;
            bool loading = false;
            for (int n = 0; n < kSlots; ++n) {
                all.push_back(info(n));
                loading = loading || all.back().at("state").s == "loading";
            }
            if (!loading) return all;
            if (Clock::now() >= deadline) throw std::runtime_error("a slot is still loading");
            std::this_thread::sleep_for(10ms);
        }
    }

    // /master/gain and the clock, from /refresh (whose bundles go to a socket of the test's
    // own, decoded with looperd's codec).
    std::map<std::string, OscValue> globals() {
        Listener to;
        osc_->send(port_, "/refresh", {osc_string(to.url())});
        std::map<std::string, OscValue> out;
        to.read(
            Clock::now() + kHangBound,
            [&out](const OscMessage& m) {
                if (m.address != "/master/gain" && m.address != "/clock/tempo" &&
                    m.address != "/clock/meter" && m.address != "/clock/sync")
                    return;
                if (m.args.empty()) return;
                OscValue v;
                v.type = m.args[0].type;
                v.i = m.args[0].i;
                v.f = static_cast<double>(m.args[0].f);
                v.s = m.args[0].s;
                out[m.address] = v;
            },
            [&out] { return out.size() >= 4; });
        return out;
    }

    // "" when the daemon holds exactly `rig`, else the first difference.
    std::string difference(const RigState& rig) {
        const auto g = globals();
        auto num = [](const std::map<std::string, OscValue>& m, const std::string& k) {
            return m.count(k) ? m.at(k).number() : -12345.0;
        };
        std::ostringstream d;
        if (num(g, "/master/gain") != static_cast<double>(rig.master_gain))
            d << "master gain " << num(g, "/master/gain") << " != " << rig.master_gain << "; ";
        if (num(g, "/clock/tempo") != static_cast<double>(rig.tempo))
            d << "tempo " << num(g, "/clock/tempo") << " != " << rig.tempo << "; ";
        if (num(g, "/clock/meter") != rig.meter)
            d << "meter " << num(g, "/clock/meter") << " != " << rig.meter << "; ";
        if (!g.count("/clock/sync") || g.at("/clock/sync").s != sync_name(rig.sync))
            d << "sync differs; ";
        const auto infos = settled_infos();
        for (int n = 0; n < kSlots; ++n) {
            RigSlot want;
            want.index = static_cast<std::uint32_t>(n);
            for (const auto& s : rig.slots)
                if (s.index == static_cast<std::uint32_t>(n)) want = s;
            const auto& got = infos[static_cast<std::size_t>(n)];
            const auto& p = want.params;
            const std::string where = "slot " + std::to_string(n) + ": ";
            const std::string state = got.at("state").s;
            if (want.file.empty() != (state == "empty"))
                d << where << "state " << state << " for file '" << want.file << "'; ";
            if (got.at("path").s != want.file)
                d << where << "path '" << got.at("path").s << "' != '" << want.file << "'; ";
            // Every saved parameter, of the type and value the rig gives it (a name stays a
            // name, a number of beats a number).
            for (const osc::Row* row : saved_slot_rows()) {
                const std::string key(osc::slot_verb(row->address));
                const OscArg w = p.value(*row);
                const OscValue& v = got.at(key);
                const bool same = w.type == 's' ? v.type == 's' && v.s == w.s
                                  : w.type == 'i'
                                      ? v.type == 'i' && v.i == w.i
                                      : v.type == 'f' && v.f == static_cast<double>(w.f);
                if (!same) d << where << key << " differs; ";
            }
        }
        return d.str();
    }

    // One random change (or a refused one) over OSC.
    void random_change(std::mt19937& r) {
        auto pick = [&r](int n) { return std::uniform_int_distribution<int>(0, n - 1)(r); };
        auto real = [&r](double lo, double hi) {
            return static_cast<float>(std::uniform_real_distribution<double>(lo, hi)(r));
        };
        const int n = pick(kSlots);
        static const char* const kFiles[] = {"a.wav", "b.wav", "c.wav"};
        static const char* const kModes[] = {"oneshot", "loop", "gate", "toggle"};
        static const char* const kGrids[] = {"none", "beat", "bar"};
        switch (pick(14)) {
            case 0:
            case 1:
                osc_->send(port_, slot(n, "load"), {osc_string(kFiles[pick(3)])});
                break;
            case 2:
                osc_->send(port_, slot(n, "unload"));
                break;
            case 3:
                osc_->send(port_, slot(n, "gain"), {osc_float(real(0, 4))});
                break;
            case 4:
                osc_->send(port_, slot(n, "pan"), {osc_float(real(-1, 1))});
                break;
            case 5:
                osc_->send(port_, slot(n, pick(2) ? "start" : "end"), {osc_float(real(0, 1))});
                break;
            case 6:
                osc_->send(port_, slot(n, "mode"), {osc_string(kModes[pick(4)])});
                break;
            case 7:
                if (pick(2))
                    osc_->send(port_, slot(n, "quantize"), {osc_string(kGrids[pick(3)])});
                else
                    osc_->send(port_, slot(n, "quantize"), {osc_float(real(0.25, 8))});
                break;
            case 8:
                osc_->send(port_, slot(n, "poly"), {osc_int(1 + pick(8))});
                break;
            case 9:
                osc_->send(port_, slot(n, "fade_out"), {osc_float(real(0.1, 100))});
                break;
            case 10:
                osc_->send(port_, "/clock/tempo", {osc_float(real(20, 999))});
                break;
            case 11:
                osc_->send(port_, "/clock/meter", {osc_int(1 + pick(32))});
                break;
            case 12:
                osc_->send(port_, "/master/gain", {osc_float(real(0, 4))});
                break;
            default:
                osc_->send(port_, slot(n, "rate"), {osc_float(real(0.125, 8))});
                break;
        }
    }

    fs::path state_dir_;
    std::uint16_t port_ = 0;
    std::unique_ptr<OscClient> osc_;
    std::unique_ptr<ChildProcess> daemon_;
    std::unique_ptr<JackRecorder> recorder_;
};

class KilledDaemon : public PersistentDaemon {
  protected:
    bool synchronous() const override { return false; }
};

TEST_F(KilledDaemon, KillNineAtRandomMomentsAlwaysRestoresTheLastSavedState) {
    for (const char* f : {"a.wav", "b.wav", "c.wav"})
        write_wav(samples_ / f, 1, noise(4800, 1, static_cast<std::uint32_t>(f[0])));
    const fs::path state = state_dir_ / "state.toml";
    std::mt19937 random(4242);
    constexpr int kKills = 50;
    int verified = 0;
    int during_start = 0;
    std::size_t most_slots = 0;
    RigState expected;  // no file yet: the defaults
    const auto t0 = Clock::now();
    for (int round = 0; round <= kKills; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        ASSERT_NO_FATAL_FAILURE(spawn("looperd-k" + std::to_string(round)));
        if (round == kKills) {
            ASSERT_NO_FATAL_FAILURE(wait_ready());
            EXPECT_EQ(difference(expected), "") << read_file(state);
            ++verified;
            break;
        }
        if (round % 4 == 3) {
            // Killed while starting, perhaps in the middle of restoring.
            std::this_thread::sleep_for(
                std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 400)(random)));
            ++during_start;
        } else {
            ASSERT_NO_FATAL_FAILURE(wait_ready());
            const std::string diff = difference(expected);
            ASSERT_EQ(diff, "") << "restored state differs from the file:\n" << read_file(state);
            ++verified;
            const auto kill_at =
                Clock::now() +
                std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 700)(random));
            while (Clock::now() < kill_at) {
                random_change(random);
                std::this_thread::sleep_for(
                    std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 15)(random)));
            }
        }
        ASSERT_NO_FATAL_FAILURE(kill9());
        osc_->drain();
        if (!fs::exists(state)) {
            ASSERT_EQ(round, 0) << "state.toml vanished";
            continue;
        }
        // The state always loads, and is what the next start must hold.
        try {
            expected = parse_state(read_file(state), state.string());
        } catch (const std::exception& e) {
            FAIL() << "the state file does not load after kill -9: " << e.what();
        }
        most_slots = std::max(most_slots, expected.slots.size());
        for (const auto& e : fs::directory_iterator(state_dir_))
            ASSERT_FALSE(e.path().filename().string().starts_with("state.toml.bad-"))
                << "a state file was set aside: " << e.path();
    }
    std::cout << "[   INFO   ] " << kKills << " kills (" << during_start << " while starting), "
              << verified << " restarts compared, up to " << most_slots << " slots saved, in "
              << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count()
              << " ms\n";
    EXPECT_GE(most_slots, 3U) << "the random changes never built a rig worth restoring";
}

TEST_F(PersistentDaemon, DamagedStateFileIsSetAsideWithAClearLogLineAndTheDaemonStarts) {
    fs::create_directories(state_dir_);
    const std::string garbage = "format = \"looperd-state\"\nversion = 1\n[[slot]]\nindex = \"x";
    { std::ofstream(state_dir_ / "state.toml", std::ios::binary) << garbage; }
    ASSERT_NO_FATAL_FAILURE(spawn("looperd-d"));
    ASSERT_NO_FATAL_FAILURE(wait_ready());
    std::vector<fs::path> aside;
    for (const auto& e : fs::directory_iterator(state_dir_))
        if (e.path().filename().string().starts_with("state.toml.bad-")) aside.push_back(e.path());
    ASSERT_EQ(aside.size(), 1U);
    EXPECT_EQ(read_file(aside[0]), garbage);
    const std::string log = daemon_->read_log();
    EXPECT_NE(log.find("saved state not restored: " + (state_dir_ / "state.toml").string() + ":4:"),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("not valid TOML"), std::string::npos) << log;
    EXPECT_NE(log.find("set aside as " + aside[0].string()), std::string::npos) << log;
    // The daemon runs, empty, and saves a good state again.
    EXPECT_EQ(info(0).at("state").s, "empty");
    const auto deadline = Clock::now() + kHangBound;
    while (!fs::exists(state_dir_ / "state.toml") && Clock::now() < deadline)
        std::this_thread::sleep_for(10ms);
    EXPECT_NO_THROW(parse_state(read_file(state_dir_ / "state.toml"), "state.toml"));
    osc_->send(port_, "/status");
    const auto status = osc_->wait_for("/status.reply", kHangBound);
    ASSERT_TRUE(status);
    EXPECT_EQ(status_pairs(*status).at("state").s, "ok");
}

TEST_F(PersistentDaemon, RestartPlaysTheSameSlotWithItsParameters) {
    constexpr int kFrames = 9600;
    const auto data = noise(kFrames, 2, 7);
    write_wav(samples_ / "noise.wav", 2, data);
    ASSERT_NO_FATAL_FAILURE(spawn("looperd-a"));
    ASSERT_NO_FATAL_FAILURE(wait_ready());
    osc_->send(port_, slot(3, "load"), {osc_string("noise.wav")});
    ASSERT_TRUE(osc_->wait_for(slot(3, "loaded"), kHangBound));
    osc_->send(port_, slot(3, "gain"), {osc_float(0.5F)});
    osc_->send(port_, slot(3, "start"), {osc_float(0.5F)});
    // Saved within a second by the persister (the daemon is then stopped with SIGTERM: its
    // final save has nothing left to add; kill -9 is the other test's business).
    const auto deadline = Clock::now() + kHangBound;
    bool saved = false;
    while (!saved && Clock::now() < deadline) {
        std::this_thread::sleep_for(20ms);
        try {
            const auto rig = parse_state(read_file(state_dir_ / "state.toml"), "state.toml");
            saved = rig.slots.size() == 1 && rig.slots[0].params.number("start") == 0.5F &&
                    rig.slots[0].params.number("gain") == 0.5F;
        } catch (const std::exception&) {
        }
    }
    ASSERT_TRUE(saved) << "the change was not saved within " << kHangBound.count() << " s";
    const auto stopped = daemon_->terminate(kHangBound);
    ASSERT_TRUE(exited_with(stopped, 0)) << describe(stopped);

    ASSERT_NO_FATAL_FAILURE(spawn("looperd-b"));
    ASSERT_NO_FATAL_FAILURE(wait_ready());
    const auto infos = settled_infos();
    ASSERT_EQ(infos[3].at("state").s, "stopped");
    recorder_ = std::make_unique<JackRecorder>(jack_->name(), 2, 10s);
    recorder_->connect("looperd-b:out_1", 0);
    recorder_->connect("looperd-b:out_2", 1);
    recorder_->start();
    osc_->send(port_, slot(3, "play"));
    const std::size_t half = kFrames / 2;
    const auto end = Clock::now() + kHangBound;
    std::vector<std::vector<float>> rec;
    std::optional<std::size_t> start;
    while (Clock::now() < end) {
        rec = recorder_->snapshot();
        for (std::size_t k = 0; !start && k < rec[0].size(); ++k)
            if (rec[0][k] != 0.0F) start = k;
        if (start && rec[0].size() >= *start + half + kTestRate / 10) break;
        std::this_thread::sleep_for(10ms);
    }
    ASSERT_TRUE(start) << "no sound after the restart";
    ASSERT_GE(rec[0].size(), *start + half + kTestRate / 10);
    // The second half of the sample (region start 0.5) at half gain, bit for bit, then silence.
    for (std::size_t c = 0; c < 2; ++c) {
        for (std::size_t k = 0; k < half; ++k) {
            const float want = data[(half + k) * 2 + c] * 0.5F;
            ASSERT_EQ(std::bit_cast<std::uint32_t>(rec[c][*start + k]),
                      std::bit_cast<std::uint32_t>(want))
                << "out_" << c + 1 << " frame " << k << ": " << rec[c][*start + k]
                << " != " << want;
        }
        for (std::size_t k = *start + half; k < rec[c].size(); ++k)
            ASSERT_EQ(rec[c][k], 0.0F) << "sound after the region's end at frame " << k;
    }
}

// A slot's label: echoed to subscribers, reported by /slot/<n>/info, saved, and back after a
// restart; a label that is too long changes nothing.
TEST_F(PersistentDaemon, ALabelIsEchoedReportedSavedAndBackAfterARestart) {
    const std::string label = "Drums \"A\" \\ caf\xC3\xA9 \xF0\x9F\xA5\x81";
    ASSERT_NO_FATAL_FAILURE(spawn("looperd-l1"));
    ASSERT_NO_FATAL_FAILURE(wait_ready());
    Listener surface;
    osc_->send(port_, "/notify", {osc_int(1), osc_string(surface.url())});
    osc_->send(port_, slot(2, "label"), {osc_string(label)});
    bool echoed = false;
    surface.read(
        Clock::now() + kHangBound,
        [&](const OscMessage& m) {
            echoed = echoed || (m.address == slot(2, "label") && m.args.size() == 1 &&
                                m.args[0].type == 's' && m.args[0].s == label);
        },
        [&echoed] { return echoed; });
    EXPECT_TRUE(echoed) << "the label was not echoed to the subscriber";
    EXPECT_EQ(info(2).at("label").s, label);

    osc_->send(port_, slot(2, "label"), {osc_string(std::string(65, 'x'))});
    const auto error = osc_->wait_for("/error", kHangBound);
    ASSERT_TRUE(error);
    EXPECT_EQ(error->args.at(1).s, "label must be text of at most 64 bytes of UTF-8");
    EXPECT_EQ(info(2).at("label").s, label);

    const auto deadline = Clock::now() + kHangBound;
    bool saved = false;
    while (!saved && Clock::now() < deadline) {
        std::this_thread::sleep_for(20ms);
        try {
            const auto rig = parse_state(read_file(state_dir_ / "state.toml"), "state.toml");
            saved = rig.slots.size() == 1 && rig.slots[0].params.text("label") == label;
        } catch (const std::exception&) {
        }
    }
    ASSERT_TRUE(saved) << "the label was not saved within " << kHangBound.count() << " s";
    const auto stopped = daemon_->terminate(kHangBound);
    ASSERT_TRUE(exited_with(stopped, 0)) << describe(stopped);

    ASSERT_NO_FATAL_FAILURE(spawn("looperd-l2"));
    ASSERT_NO_FATAL_FAILURE(wait_ready());
    const auto infos = settled_infos();
    EXPECT_EQ(infos[2].at("label").s, label);
    EXPECT_EQ(infos[1].at("label").s, "");
}

TEST_F(PersistentDaemon, SessionsAreSavedListedAndLoadedOverOsc) {
    write_wav(samples_ / "a.wav", 1, noise(2400, 1, 1));
    write_wav(samples_ / "b.wav", 1, noise(2400, 1, 2));
    ASSERT_NO_FATAL_FAILURE(spawn("looperd-s"));
    ASSERT_NO_FATAL_FAILURE(wait_ready());
    osc_->send(port_, slot(1, "load"), {osc_string("a.wav")});
    ASSERT_TRUE(osc_->wait_for(slot(1, "loaded"), kHangBound));
    osc_->send(port_, slot(1, "gain"), {osc_float(0.25F)});
    osc_->send(port_, "/session/save", {osc_string("intro")});
    const auto saved = osc_->wait_for_any({"/session/save.reply", "/error"}, kHangBound);
    ASSERT_TRUE(saved);
    ASSERT_EQ(saved->to_string(), "/session/save.reply s:\"intro\"");

    osc_->send(port_, slot(1, "unload"));
    osc_->send(port_, slot(2, "load"), {osc_string("b.wav")});
    ASSERT_TRUE(osc_->wait_for(slot(2, "loaded"), kHangBound));
    osc_->send(port_, "/session/save", {osc_string("../escape")});
    const auto refused = osc_->wait_for("/error", kHangBound);
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->args.at(0).s, "/session/save");
    osc_->send(port_, "/session/list");
    const auto list = osc_->wait_for("/session/list.reply", kHangBound);
    ASSERT_TRUE(list);
    EXPECT_EQ(list->to_string(), "/session/list.reply s:\"intro\"");

    osc_->send(port_, "/session/load", {osc_string("intro")});
    const auto loaded = osc_->wait_for_any({"/session/load.reply", "/error"}, kHangBound);
    ASSERT_TRUE(loaded);
    ASSERT_EQ(loaded->to_string(), "/session/load.reply s:\"intro\"");
    const auto infos = settled_infos();
    EXPECT_EQ(infos[1].at("path").s, "a.wav");
    EXPECT_EQ(infos[1].at("gain").number(), 0.25);
    EXPECT_EQ(infos[2].at("state").s, "empty");
    for (const auto& e : fs::recursive_directory_iterator(dir_))
        EXPECT_EQ(e.path().string().find("escape"), std::string::npos) << e.path();
}

// tests/golden/state-v1 is a state directory written by looperd before its control schema
// existed (with its own path replaced by @STATE_DIR@): every slot parameter off its default
// somewhere, a take, a rig file gone missing, a session. It must restore exactly: the daemon,
// made to rewrite state.toml from what it holds, writes the same bytes; the session loads to
// the same bytes; the take file is untouched.
TEST_F(PersistentDaemon, AGoldenStateDirectoryRestoresBitForBit) {
    const fs::path source = LOOPERD_SOURCE_DIR;
    const fs::path golden = source / "tests/golden/state-v1";
    for (const auto& e : fs::directory_iterator(source / "examples/samples"))
        fs::copy_file(e.path(), samples_ / e.path().filename());
    auto placed = [this](std::string text) {
        const std::string mark = "@STATE_DIR@";
        for (auto at = text.find(mark); at != std::string::npos; at = text.find(mark, at))
            text.replace(at, mark.size(), state_dir_.string());
        return text;
    };
    const std::string state = placed(read_file(golden / "state.toml"));
    const std::string session = placed(read_file(golden / "sessions/second-set.toml"));
    const std::string take = read_file(golden / "takes/slot-5.wav");
    fs::create_directories(state_dir_ / "sessions");
    fs::create_directories(state_dir_ / "takes");
    std::ofstream(state_dir_ / "state.toml", std::ios::binary) << state;
    std::ofstream(state_dir_ / "sessions/second-set.toml", std::ios::binary) << session;
    std::ofstream(state_dir_ / "takes/slot-5.wav", std::ios::binary) << take;

    // As the directory was written: 4 outputs (slot 1 plays on pair 2), 4 inputs (slot 4
    // records pair 2).
    extra_args_ = {"--outputs", "4", "--inputs", "4", "--max-record-seconds", "5"};
    ASSERT_NO_FATAL_FAILURE(spawn("looperd-golden"));
    ASSERT_NO_FATAL_FAILURE(wait_ready());
    const auto infos = settled_infos();
    EXPECT_EQ(infos[0].at("path").s, "drone-loop.wav");
    EXPECT_EQ(infos[0].at("gain").number(), 0.25);
    EXPECT_EQ(infos[5].at("path").s, (state_dir_ / "takes/slot-5.wav").string());
    EXPECT_EQ(infos[5].at("frames").number(), 19456);
    EXPECT_EQ(infos[6].at("state").s, "empty");  // gone.wav is missing, and stays named

    // A change and its undoing: each is saved from the daemon's own mirror.
    const fs::path file = state_dir_ / "state.toml";
    osc_->send(port_, slot(7, "gain"), {osc_float(1.5F)});
    ASSERT_TRUE(wait_until([&] { return read_file(file).find("gain = 1.5") != std::string::npos; }))
        << hung("saving the change");
    osc_->send(port_, slot(7, "gain"), {osc_float(2.0F)});
    ASSERT_TRUE(wait_until([&] { return read_file(file) == state; }))
        << hung("saving the golden state again") << "; state.toml is now:\n"
        << read_file(file);

    // Slot 6's file is still missing: its /error may come before or after the reply.
    osc_->send(port_, "/session/load", {osc_string("second-set")});
    const auto loaded = osc_->wait_for("/session/load.reply", kHangBound);
    ASSERT_TRUE(loaded);
    ASSERT_EQ(loaded->to_string(), "/session/load.reply s:\"second-set\"");
    ASSERT_TRUE(wait_until([&] { return read_file(file) == session; }))
        << hung("saving the loaded session") << "; state.toml is now:\n"
        << read_file(file);
    // A clean shutdown writes the same bytes once more.
    const auto status = daemon_->terminate(kHangBound);
    EXPECT_TRUE(exited_with(status, 0)) << describe(status);
    EXPECT_EQ(read_file(file), session);
    EXPECT_EQ(read_file(state_dir_ / "sessions/second-set.toml"), session);
    EXPECT_EQ(read_file(state_dir_ / "takes/slot-5.wav"), take);
}

}  // namespace
}  // namespace looperd::test

namespace looperd::test {
namespace {

// A config file's rig is what a fresh rig starts with; once the rig has been saved, looperd
// comes back as it was left, whatever the file says.
TEST_F(PersistentDaemon, TheConfigFilesRigIsPreloadedUntilARigHasBeenSaved) {
    write_wav(samples_ / "tone.wav", 2, noise(4800, 2, 5));
    const fs::path config = dir_ / "looperd.toml";
    std::ofstream(config) << "[clock]\ntempo = 90.0\n[[slot]]\nindex = 2\nfile = \"tone.wav\"\n"
                             "gain = 0.5\nmode = \"loop\"\n";
    extra_args_ = {"--config", config.string()};
    ASSERT_NO_FATAL_FAILURE(spawn("looperd-a"));
    ASSERT_NO_FATAL_FAILURE(wait_ready());
    auto infos = settled_infos();
    EXPECT_EQ(infos[2].at("state").s, "stopped");
    EXPECT_EQ(infos[2].at("path").s, "tone.wav");
    EXPECT_EQ(infos[2].at("gain").f, 0.5F);
    EXPECT_EQ(infos[2].at("mode").s, "loop");
    EXPECT_EQ(infos[1].at("state").s, "empty");
    EXPECT_NE(daemon_->read_log().find("preloading the config file"), std::string::npos);
    // A change over OSC is saved; the next start restores it rather than the file's value.
    osc_->send(port_, slot(2, "gain"), {osc_float(0.25F)});
    const auto deadline = Clock::now() + kHangBound;
    bool saved = false;
    while (!saved && Clock::now() < deadline) {
        std::this_thread::sleep_for(20ms);
        try {
            const auto rig = parse_state(read_file(state_dir_ / "state.toml"), "state.toml");
            saved = rig.slots.size() == 1 && rig.slots[0].params.number("gain") == 0.25F;
        } catch (const std::exception&) {
        }
    }
    ASSERT_TRUE(saved) << "the change was not saved within " << kHangBound.count() << " s";
    const auto stopped = daemon_->terminate(kHangBound);
    ASSERT_TRUE(exited_with(stopped, 0)) << describe(stopped);
    ASSERT_NO_FATAL_FAILURE(spawn("looperd-b"));
    ASSERT_NO_FATAL_FAILURE(wait_ready());
    infos = settled_infos();
    EXPECT_EQ(infos[2].at("state").s, "stopped");
    EXPECT_EQ(infos[2].at("gain").f, 0.25F);
    EXPECT_NE(daemon_->read_log().find("state directory"), std::string::npos);
    EXPECT_EQ(daemon_->read_log().find("preloading the config file"), std::string::npos);
}

}  // namespace
}  // namespace looperd::test
