// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// looperd under a session manager (docs/nsm.md): a scripted NSM server of the test's own,
// written with liblo (Debian has no nsmd), a private jackd, and the real guarded daemon started
// with NSM_URL. The server plays nsmd's part: it answers the announce, opens, saves, switches,
// sends bad messages and goes away; the test checks the daemon's replies, its JACK client, its
// files and its OSC.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <jack/jack.h>
#include <lo/lo.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fixtures.hpp"
#include "jack_server.hpp"
#include "osc_client.hpp"

namespace looperd::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// One message the scripted server received, and the port it came from.
struct NsmMessage {
    std::string address;
    std::string types;
    std::vector<OscValue> args;
    int from_port = 0;
};

// ScriptedNsm: the session manager's side, on a liblo UDP server on 127.0.0.1. Everything it
// sends to looperd leaves from that server's socket (lo_send_from), as nsmd's does. Owned by
// the test thread.
class ScriptedNsm {
  public:
    ScriptedNsm() {
        server_ = lo_server_new_with_proto(nullptr, LO_UDP, nullptr);
        if (server_ == nullptr) throw std::runtime_error("lo_server_new_with_proto failed");
        lo_server_add_method(server_, nullptr, nullptr, &ScriptedNsm::take, this);
    }
    ~ScriptedNsm() { close(); }
    ScriptedNsm(const ScriptedNsm&) = delete;
    ScriptedNsm& operator=(const ScriptedNsm&) = delete;

    std::string url() const {
        return "osc.udp://127.0.0.1:" + std::to_string(lo_server_get_port(server_)) + "/";
    }

    // The server disappears: its socket is closed.
    void close() {
        if (server_ != nullptr) lo_server_free(server_);
        server_ = nullptr;
    }

    // Waits up to `timeout` for a message at `address` (and, for /reply and /error, about
    // `about`); earlier others are kept in seen().
    std::optional<NsmMessage> wait_for(const std::string& address, const std::string& about = "",
                                       std::chrono::milliseconds timeout = kHangBound) {
        const auto deadline = Clock::now() + timeout;
        for (;;) {
            for (std::size_t k = next_; k < received_.size(); ++k) {
                const auto& m = received_[k];
                if (m.address == address &&
                    (about.empty() || (!m.args.empty() && m.args[0].s == about))) {
                    next_ = k + 1;
                    return m;
                }
            }
            if (Clock::now() >= deadline) return std::nullopt;
            lo_server_recv_noblock(server_, 20);
        }
    }

    // Whether a message at `address` arrives within `window` after those already waited for.
    bool arrives(const std::string& address, std::chrono::milliseconds window) {
        const std::size_t mark = next_;
        const bool seen = wait_for(address, "", window).has_value();
        if (!seen) next_ = mark;
        return seen;
    }

    // Sends to looperd's NSM socket (the announce's source port), from the server's socket.
    void send(const std::string& path, lo_message m) {
        lo_address to = lo_address_new("127.0.0.1", std::to_string(client_port_).c_str());
        lo_send_message_from(to, server_, path.c_str(), m);
        lo_address_free(to);
        lo_message_free(m);
    }
    void open(const fs::path& dir, const std::string& display, const std::string& client_id) {
        lo_message m = lo_message_new();
        lo_message_add_string(m, dir.c_str());
        lo_message_add_string(m, display.c_str());
        lo_message_add_string(m, client_id.c_str());
        send("/nsm/client/open", m);
    }
    void save() { send("/nsm/client/save", lo_message_new()); }
    void welcome() {
        lo_message m = lo_message_new();
        lo_message_add_string(m, "/nsm/server/announce");
        lo_message_add_string(m, "Howdy, scripted client");
        lo_message_add_string(m, "Scripted Session Manager");
        lo_message_add_string(m, ":server-control:broadcast:optional-gui:");
        send("/reply", m);
    }

    void set_client_port(int port) { client_port_ = port; }
    const std::vector<NsmMessage>& received() const { return received_; }

  private:
    static int take(const char* path, const char* types, lo_arg** argv, int argc, lo_message msg,
                    void* self) {
        auto* nsm = static_cast<ScriptedNsm*>(self);
        NsmMessage m;
        m.address = path;
        m.types = types;
        for (int k = 0; k < argc; ++k) {
            OscValue v;
            v.type = types[k];
            if (types[k] == 'i') v.i = argv[k]->i;
            if (types[k] == 's') v.s = &argv[k]->s;
            m.args.push_back(v);
        }
        m.from_port = std::stoi(lo_address_get_port(lo_message_get_source(msg)));
        nsm->received_.push_back(std::move(m));
        return 0;
    }

    lo_server server_ = nullptr;
    int client_port_ = 0;
    std::vector<NsmMessage> received_;
    std::size_t next_ = 0;
};

// A JACK client of the test's own that only looks at the graph.
class JackGraph {
  public:
    explicit JackGraph(const std::string& server) {
        jack_status_t status{};
        client_ = jack_client_open("nsm-test-graph",
                                   static_cast<jack_options_t>(JackNoStartServer | JackServerName),
                                   &status, server.c_str());
        if (client_ == nullptr) throw std::runtime_error("cannot open a JACK client");
    }
    ~JackGraph() { jack_client_close(client_); }
    JackGraph(const JackGraph&) = delete;
    JackGraph& operator=(const JackGraph&) = delete;

    // Whether JACK client `name` has output ports now.
    bool has_client(const std::string& name) const {
        const char** ports =
            jack_get_ports(client_, ("^" + name + ":").c_str(), nullptr, JackPortIsOutput);
        const bool any = ports != nullptr && ports[0] != nullptr;
        jack_free(ports);
        return any;
    }
    // Waits (bounded) until client `name` is there (or gone, with `present` false).
    bool wait_client(const std::string& name, bool present) const {
        const auto deadline = Clock::now() + kHangBound;
        while (has_client(name) != present) {
            if (Clock::now() >= deadline) return false;
            std::this_thread::sleep_for(20ms);
        }
        return true;
    }

  private:
    jack_client_t* client_ = nullptr;
};

class NsmSession : public IntegrationTest {
  protected:
    void SetUp() override {
        start_jack("looperd-nsm-it-");
        if (IsSkipped() || HasFatalFailure()) return;
        port_ = pick_free_udp_port();
        sessions_ = dir_ / "sessions" / "song";
        write_wav(samples_ / "a.wav", 1, noise(4800, 1, 1));
        write_wav(samples_ / "b.wav", 1, noise(4800, 1, 2));
        nsm_ = std::make_unique<ScriptedNsm>();
        graph_ = std::make_unique<JackGraph>(jack_->name());
    }

    void TearDown() override {
        finish(daemon_, expect_clean_, [this](std::ostream& out) {
            out << "---- NSM messages the scripted server received ----\n";
            if (nsm_)
                for (const auto& m : nsm_->received()) {
                    out << m.address << " " << m.types;
                    for (const auto& a : m.args)
                        out << " " << (a.type == 's' ? a.s : std::to_string(a.i));
                    out << " (from port " << m.from_port << ")\n";
                }
            report_skipped(out, osc_.get());
        });
    }

    // Starts looperd under the scripted server and waits for its announce.
    void start_daemon() {
        daemon_ = std::make_unique<ChildProcess>(
            binary_, daemon_args(port_),
            std::vector<std::string>{"JACK_DEFAULT_SERVER=" + jack_->name(),
                                     "NSM_URL=" + nsm_->url()},
            (dir_ / "looperd.log").string());
        osc_ = std::make_unique<OscClient>();
        const auto announce = nsm_->wait_for("/nsm/server/announce");
        ASSERT_TRUE(announce) << "no announce within the bound";
        announce_ = *announce;
        nsm_->set_client_port(announce->from_port);
        nsm_->welcome();
    }

    // Opens `dir` as `client_id` and waits for the open's /reply, then for OSC.
    void open(const fs::path& dir, const std::string& client_id) {
        nsm_->open(dir, "song", client_id);
        const auto reply = nsm_->wait_for("/reply", "/nsm/client/open");
        ASSERT_TRUE(reply) << "no /reply to /nsm/client/open";
        EXPECT_EQ(reply->from_port, announce_.from_port)
            << "the reply left from another socket than the announce";
        ASSERT_NO_FATAL_FAILURE(wait_for_pong(*daemon_, *osc_, port_));
    }

    std::map<std::string, OscValue> info(int n) {
        osc_->send(port_, slot(n, "info"));
        const auto reply = osc_->wait_for(slot(n, "info.reply"), kHangBound);
        if (!reply) throw std::runtime_error("no " + slot(n, "info.reply"));
        return status_pairs(*reply);
    }

    // Waits (bounded) until slot `n` is no longer loading; returns its info.
    std::map<std::string, OscValue> settled(int n) {
        const auto deadline = Clock::now() + kHangBound;
        for (;;) {
            auto i = info(n);
            if (i.at("state").s != "loading" || Clock::now() >= deadline) return i;
            std::this_thread::sleep_for(20ms);
        }
    }

    void load(int n, const std::string& file) {
        osc_->send(port_, slot(n, "load"), {osc_string(file)});
        ASSERT_TRUE(osc_->wait_for(slot(n, "loaded"), kHangBound)) << "no " << slot(n, "loaded");
    }

    void save() {
        nsm_->save();
        const auto reply = nsm_->wait_for("/reply", "/nsm/client/save");
        ASSERT_TRUE(reply) << "no /reply to /nsm/client/save";
        EXPECT_EQ(reply->from_port, announce_.from_port);
    }

    std::uint16_t port_ = 0;
    fs::path sessions_;
    std::unique_ptr<ScriptedNsm> nsm_;
    std::unique_ptr<JackGraph> graph_;
    std::unique_ptr<ChildProcess> daemon_;
    std::unique_ptr<OscClient> osc_;
    NsmMessage announce_;
    bool expect_clean_ = true;
};

TEST_F(NsmSession, AnnounceOpenDirtySaveSwitchAndReopen) {
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_NO_FATAL_FAILURE(start_daemon());
    ASSERT_EQ(announce_.types, "sssiii");
    EXPECT_EQ(announce_.args[0].s, "looperd");
    EXPECT_EQ(announce_.args[1].s, ":switch:dirty:");
    EXPECT_EQ(announce_.args[2].s, fs::path(binary_).filename().string());
    EXPECT_EQ(announce_.args[3].i, 1);
    EXPECT_EQ(announce_.args[4].i, 1);
    EXPECT_EQ(announce_.args[5].i, daemon_->pid());
    // Nothing joins JACK before the open.
    std::this_thread::sleep_for(300ms);
    EXPECT_FALSE(graph_->has_client("looperd"));

    const fs::path a = sessions_ / "looperd.nAAAA";
    ASSERT_NO_FATAL_FAILURE(open(a, "looperd.nAAAA"));
    EXPECT_TRUE(graph_->wait_client("looperd.nAAAA", true)) << "JACK client not named by the id";
    EXPECT_TRUE(fs::is_directory(a));
    EXPECT_EQ(fs::status(a).permissions() & fs::perms::all, fs::perms::owner_all);

    // A change makes the session dirty; the save writes it, links the sample, makes it clean.
    ASSERT_NO_FATAL_FAILURE(load(0, "a.wav"));
    osc_->send(port_, slot(0, "gain"), {osc_float(0.5F)});
    ASSERT_TRUE(nsm_->wait_for("/nsm/client/is_dirty")) << "no is_dirty after a change";
    ASSERT_NO_FATAL_FAILURE(save());
    ASSERT_TRUE(nsm_->wait_for("/nsm/client/is_clean")) << "no is_clean after the save";
    const std::string saved_a = read_text(a / "state.toml");
    EXPECT_NE(saved_a.find("file = \"samples/a.wav\""), std::string::npos) << saved_a;
    EXPECT_NE(saved_a.find("gain = 0.5"), std::string::npos) << saved_a;
    ASSERT_TRUE(fs::is_symlink(a / "samples" / "a.wav"));
    EXPECT_EQ(fs::read_symlink(a / "samples" / "a.wav"), fs::canonical(samples_ / "a.wav"));
    EXPECT_TRUE(fs::is_directory(a / "takes"));

    // A change after the save is not written anywhere until the next save.
    osc_->send(port_, slot(0, "gain"), {osc_float(0.25F)});
    ASSERT_TRUE(nsm_->wait_for("/nsm/client/is_dirty"));
    std::this_thread::sleep_for(600ms);  // longer than autosave would take
    EXPECT_EQ(read_text(a / "state.toml"), saved_a);

    // Switch to a session saved before (by hand here): renamed JACK client, that rig restored.
    const fs::path b = sessions_ / "looperd.nBBBB";
    fs::create_directories(b);
    std::ofstream(b / "state.toml")
        << "format = \"looperd-state\"\nversion = 1\n\n"
        << "[[slot]]\nindex = 1\nfile = \"" << (samples_ / "b.wav").string() << "\"\ngain = 0.75\n";
    ASSERT_NO_FATAL_FAILURE(open(b, "looperd.nBBBB"));
    EXPECT_TRUE(graph_->wait_client("looperd.nBBBB", true));
    EXPECT_TRUE(graph_->wait_client("looperd.nAAAA", false)) << "the first JACK client stayed";
    EXPECT_EQ(settled(0).at("state").s, "empty");
    const auto b1 = settled(1);
    EXPECT_EQ(b1.at("state").s, "stopped");
    EXPECT_DOUBLE_EQ(b1.at("gain").number(), 0.75);
    EXPECT_EQ(read_text(a / "state.toml"), saved_a) << "the first session's file changed";
    EXPECT_TRUE(fs::is_symlink(a / "samples" / "a.wav"));

    // Back to the first session: what was saved, not the unsaved 0.25.
    ASSERT_NO_FATAL_FAILURE(open(a, "looperd.nAAAA"));
    EXPECT_TRUE(graph_->wait_client("looperd.nAAAA", true));
    EXPECT_TRUE(graph_->wait_client("looperd.nBBBB", false));
    const auto a0 = settled(0);
    EXPECT_EQ(a0.at("state").s, "stopped");
    EXPECT_DOUBLE_EQ(a0.at("gain").number(), 0.5);
    EXPECT_EQ(a0.at("path").s, (a / "samples" / "a.wav").string());
    EXPECT_EQ(settled(1).at("state").s, "empty");
    // Reopened clean; saving again reuses the link.
    ASSERT_NO_FATAL_FAILURE(save());
    EXPECT_FALSE(fs::exists(a / "samples" / "a-2.wav"));
    EXPECT_EQ(read_text(a / "state.toml"), saved_a);
}

TEST_F(NsmSession, BadMessagesAreAnsweredWithErrorsAndLoseNothing) {
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_NO_FATAL_FAILURE(start_daemon());
    // Before any open: wrong types, and a save with nothing open.
    lo_message wrong = lo_message_new();
    lo_message_add_int32(wrong, 7);
    lo_message_add_string(wrong, "song");
    lo_message_add_string(wrong, "looperd.nCCCC");
    nsm_->send("/nsm/client/open", wrong);
    auto error = nsm_->wait_for("/error", "/nsm/client/open");
    ASSERT_TRUE(error);
    ASSERT_EQ(error->types, "sis");
    EXPECT_EQ(error->args[1].i, -1);  // ERR_GENERAL
    nsm_->save();
    error = nsm_->wait_for("/error", "/nsm/client/save");
    ASSERT_TRUE(error);
    EXPECT_EQ(error->args[1].i, -8);  // ERR_NOT_NOW

    const fs::path c = sessions_ / "looperd.nCCCC";
    ASSERT_NO_FATAL_FAILURE(open(c, "looperd.nCCCC"));
    ASSERT_NO_FATAL_FAILURE(load(0, "a.wav"));
    ASSERT_NO_FATAL_FAILURE(save());
    const std::string saved = read_text(c / "state.toml");
    osc_->send(port_, slot(0, "gain"), {osc_float(0.5F)});
    ASSERT_TRUE(nsm_->wait_for("/nsm/client/is_dirty"));

    // A path that cannot be created (under a file): ERR_CREATE_FAILED, the session stays.
    std::ofstream(dir_ / "a-file") << "x";
    nsm_->open(dir_ / "a-file" / "looperd.nDDDD", "song", "looperd.nDDDD");
    error = nsm_->wait_for("/error", "/nsm/client/open");
    ASSERT_TRUE(error);
    EXPECT_EQ(error->args[1].i, -10);
    // Wrong types while running, and a save with arguments: ERR_GENERAL.
    wrong = lo_message_new();
    lo_message_add_string(wrong, "/x");
    lo_message_add_float(wrong, 1.0F);
    lo_message_add_string(wrong, "looperd.nDDDD");
    nsm_->send("/nsm/client/open", wrong);
    error = nsm_->wait_for("/error", "/nsm/client/open");
    ASSERT_TRUE(error);
    EXPECT_EQ(error->args[1].i, -1);
    lo_message save_with_args = lo_message_new();
    lo_message_add_int32(save_with_args, 1);
    nsm_->send("/nsm/client/save", save_with_args);
    error = nsm_->wait_for("/error", "/nsm/client/save");
    ASSERT_TRUE(error);
    EXPECT_EQ(error->args[1].i, -1);

    // Nothing lost: same JACK client, the slot and its unsaved change, the saved file.
    osc_->send(port_, "/ping");
    EXPECT_TRUE(osc_->wait_for("/pong", kHangBound));
    EXPECT_TRUE(graph_->has_client("looperd.nCCCC"));
    const auto s0 = info(0);
    EXPECT_EQ(s0.at("state").s, "stopped");
    EXPECT_DOUBLE_EQ(s0.at("gain").number(), 0.5);
    EXPECT_EQ(read_text(c / "state.toml"), saved);
    EXPECT_FALSE(fs::exists(dir_ / "a-file" / "looperd.nDDDD"));
}

TEST_F(NsmSession, ServerGoneLooperdPlaysAndAnswersOn) {
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_NO_FATAL_FAILURE(start_daemon());
    const fs::path e = sessions_ / "looperd.nEEEE";
    ASSERT_NO_FATAL_FAILURE(open(e, "looperd.nEEEE"));
    ASSERT_NO_FATAL_FAILURE(load(0, "a.wav"));
    osc_->send(port_, slot(0, "mode"), {osc_string("loop")});
    osc_->send(port_, slot(0, "play"));
    nsm_->close();
    // A change now makes looperd tell a server that is not there.
    osc_->send(port_, slot(0, "gain"), {osc_float(0.5F)});
    std::this_thread::sleep_for(500ms);
    for (int k = 0; k < 3; ++k) {
        osc_->send(port_, "/ping");
        EXPECT_TRUE(osc_->wait_for("/pong", kHangBound));
    }
    EXPECT_TRUE(daemon_->running());
    EXPECT_TRUE(graph_->has_client("looperd.nEEEE"));
    const auto s0 = info(0);
    EXPECT_EQ(s0.at("state").s, "playing");
    EXPECT_DOUBLE_EQ(s0.at("gain").number(), 0.5);
}

// A damaged rig is ERR_BAD_PROJECT (set aside, the session opens empty); a session that cannot
// start after a switch (its directory locked by another looperd) is refused and the previous
// one comes back as saved.
TEST_F(NsmSession, DamagedRigAndLockedSessionAreRefused) {
    if (IsSkipped() || HasFatalFailure()) return;
    const fs::path bad = sessions_ / "looperd.nIIII";
    fs::create_directories(bad);
    std::ofstream(bad / "state.toml") << "format = \"looperd-state\"\nversion = [\n";
    ASSERT_NO_FATAL_FAILURE(start_daemon());
    nsm_->open(bad, "song", "looperd.nIIII");
    const auto error = nsm_->wait_for("/error", "/nsm/client/open");
    ASSERT_TRUE(error);
    EXPECT_EQ(error->args[1].i, -9);  // ERR_BAD_PROJECT
    ASSERT_NO_FATAL_FAILURE(wait_for_pong(*daemon_, *osc_, port_));
    EXPECT_TRUE(graph_->wait_client("looperd.nIIII", true));
    EXPECT_FALSE(fs::exists(bad / "state.toml"));
    bool set_aside = false;
    for (const auto& e : fs::directory_iterator(bad))
        set_aside = set_aside || e.path().filename().string().starts_with("state.toml.bad-");
    EXPECT_TRUE(set_aside);

    const fs::path a = sessions_ / "looperd.nJJJJ";
    ASSERT_NO_FATAL_FAILURE(open(a, "looperd.nJJJJ"));
    ASSERT_NO_FATAL_FAILURE(load(0, "a.wav"));
    ASSERT_NO_FATAL_FAILURE(save());

    // Another looperd's lock on the next session's directory, played by the test.
    const fs::path locked = sessions_ / "looperd.nKKKK";
    fs::create_directories(locked);
    const int fd = ::open((locked / ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
    nsm_->open(locked, "song", "looperd.nKKKK");
    const auto refused = nsm_->wait_for("/error", "/nsm/client/open");
    ::close(fd);
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->args[1].i, -1);
    ASSERT_NO_FATAL_FAILURE(wait_for_pong(*daemon_, *osc_, port_));
    EXPECT_TRUE(graph_->wait_client("looperd.nJJJJ", true));
    EXPECT_EQ(settled(0).at("state").s, "stopped");
    // The way back answers nothing: NSM's open was answered with the /error.
    EXPECT_FALSE(nsm_->arrives("/reply", 500ms));
    EXPECT_TRUE(daemon_->running());
}

// Two looperds in one session start with one configuration, so with one OSC port: the second
// takes a free port and its open's reply names it.
TEST_F(NsmSession, SecondLooperdInASessionTakesAFreeOscPort) {
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_NO_FATAL_FAILURE(start_daemon());
    ASSERT_NO_FATAL_FAILURE(open(sessions_ / "looperd.nGGGG", "looperd.nGGGG"));
    std::unique_ptr<ChildProcess> second = std::make_unique<ChildProcess>(
        binary_, daemon_args(port_),
        std::vector<std::string>{"JACK_DEFAULT_SERVER=" + jack_->name(), "NSM_URL=" + nsm_->url()},
        (dir_ / "looperd-2.log").string());
    const auto announce = nsm_->wait_for("/nsm/server/announce");
    ASSERT_TRUE(announce);
    EXPECT_NE(announce->from_port, announce_.from_port);
    nsm_->set_client_port(announce->from_port);
    nsm_->open(sessions_ / "looperd.nHHHH", "song", "looperd.nHHHH");
    const auto reply = nsm_->wait_for("/reply", "/nsm/client/open");
    ASSERT_TRUE(reply);
    const std::string text = reply->args.at(1).s;
    const auto at = text.find("udp port ");
    ASSERT_NE(at, std::string::npos) << text;
    const int second_port = std::stoi(text.substr(at + 9));
    EXPECT_NE(second_port, port_);
    EXPECT_TRUE(graph_->wait_client("looperd.nHHHH", true));
    ASSERT_NO_FATAL_FAILURE(wait_for_pong(*second, *osc_, static_cast<std::uint16_t>(second_port)));
    ASSERT_NO_FATAL_FAILURE(wait_for_pong(*daemon_, *osc_, port_));
    const auto status = second->terminate(kHangBound);
    EXPECT_TRUE(exited_with(status, 0)) << describe(status);
    if (HasFailure()) std::cerr << "---- second looperd log ----\n" << second->read_log();
}

TEST_F(NsmSession, SigtermWhileWaitingForOpenExitsCleanly) {
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_NO_FATAL_FAILURE(start_daemon());
    std::this_thread::sleep_for(200ms);
    daemon_->send_signal(SIGTERM);
    const auto status = daemon_->wait_exit(kHangBound);
    EXPECT_TRUE(exited_with(status, 0)) << describe(status);
    EXPECT_FALSE(graph_->has_client("looperd"));
}

TEST_F(NsmSession, SigtermInASessionExitsCleanly) {
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_NO_FATAL_FAILURE(start_daemon());
    ASSERT_NO_FATAL_FAILURE(open(sessions_ / "looperd.nFFFF", "looperd.nFFFF"));
    ASSERT_NO_FATAL_FAILURE(load(0, "a.wav"));
    daemon_->send_signal(SIGTERM);
    const auto status = daemon_->wait_exit(kHangBound);
    EXPECT_TRUE(exited_with(status, 0)) << describe(status);
    // Unsaved: SIGTERM does not save (the session manager saves first when it means to).
    EXPECT_FALSE(fs::exists(sessions_ / "looperd.nFFFF" / "state.toml"));
}

}  // namespace
}  // namespace looperd::test
