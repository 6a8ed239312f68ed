// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// Persistence: the rig as TOML and back through the controller's own handlers, the state
// directory's atomic writes and their failures, damaged files, sessions over OSC, autosave.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sndfile.h>
#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include "daemon/controller.hpp"
#include "daemon/persistence.hpp"
#include "daemon/rig_state.hpp"
#include "daemon/session_store.hpp"
#include "looperd/sample_buffer.hpp"
#include "test_endpoint.hpp"
#include "test_wav.hpp"
#include "wait_until.hpp"

namespace {

using namespace looperd;
using looperd::test::hung;
using looperd::test::wait_until;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

using test::endpoint;

toml::table toml_of(const std::string& text, const char* source = "t") {
    return toml::parse(std::string_view(text), std::string_view(source));
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

void write_file(const fs::path& p, const std::string& text) {
    std::ofstream out(p, std::ios::binary);
    out << text;
}

fs::path make_temp_dir(const char* prefix) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/" + prefix + "XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp");
    return pattern;
}

using test::write_wav;

// A controller with a fake engine (commands kept, buffers freed at the end) and its replies.
class Harness {
  public:
    // `inputs` 4: two input pairs to record from; 0: recording off.
    explicit Harness(const fs::path& samples, std::uint32_t slots = 8, std::uint32_t inputs = 4)
        : budget_(1ULL << 30) {
        ControllerConfig config;
        config.slots = slots;
        config.inputs = inputs;
        config.outputs = 4;
        config.samples_dir = samples;
        // A second per message by the error limits' clock: no test here meets them.
        config.now = [this] { return std::chrono::steady_clock::time_point(++ticks_ * 1s); };
        controller_ = std::make_unique<Controller>(
            config, budget_,
            [this](const Command& c) {
                std::lock_guard lock(mutex_);
                if (c.kind == CommandKind::assign_buffer) buffers_.push_back(c.buffer);
                return true;
            },
            [this](const OscEndpoint& to, const OscMessage& m) {
                std::lock_guard lock(mutex_);
                replies_.push_back({to.to_string(), m});
            },
            [this] {
                RuntimeStatus s;
                s.state = state_;
                return s;
            },
            [] { return 48000U; });
    }
    ~Harness() {
        controller_.reset();
        for (auto* b : buffers_) delete b;
    }

    Controller& operator*() { return *controller_; }
    Controller* operator->() { return controller_.get(); }
    // What a persister of this rig reads: the mirror with its change count, and the count.
    Persistence::MirrorSource mirror() {
        return [this](std::uint64_t& c) { return controller_->snapshot(&c); };
    }
    Persistence::ChangeCount changes() {
        return [this] { return controller_->changes(); };
    }

    void send(const std::string& address, std::vector<OscArg> args = {}) {
        controller_->handle(OscMessage{address, std::move(args)}, from_);
    }

    std::vector<std::pair<std::string, OscMessage>> replies() {
        std::lock_guard lock(mutex_);
        return replies_;
    }
    std::vector<OscMessage> replies_at(const std::string& address) {
        std::vector<OscMessage> out;
        for (auto& [to, m] : replies())
            if (m.address == address) out.push_back(m);
        return out;
    }
    std::string errors_text() {
        std::string out;
        for (const auto& m : replies_at("/error"))
            out += m.args.at(0).s + ": " + m.args.at(1).s + "\n";
        return out;
    }
    void clear_replies() {
        std::lock_guard lock(mutex_);
        replies_.clear();
    }

    std::string state_ = "ok";
    OscEndpoint from_ = endpoint("127.0.0.1", 5555);

  private:
    MemoryBudget budget_;
    std::atomic<std::int64_t> ticks_{0};
    std::mutex mutex_;
    std::vector<SampleBuffer*> buffers_;
    std::vector<std::pair<std::string, OscMessage>> replies_;
    std::unique_ptr<Controller> controller_;
};

std::string arg_text(const OscArg& a) {
    switch (a.type) {
        case 's':
            return "s:" + a.s;
        case 'i':
            return "i:" + std::to_string(a.i);
        case 'f':
            return "f:" + std::to_string(a.f);
        default:
            return std::string(1, a.type);
    }
}

// Everything the mirror holds, as text, so that a difference shows where it is.
std::string mirror_text(const MirrorState& m) {
    std::ostringstream out;
    out << "master " << m.master_gain << " monitor " << m.monitor << " tempo " << m.tempo
        << " meter " << m.meter << " sync " << sync_name(m.sync) << "\n";
    for (std::size_t n = 0; n < m.slots.size(); ++n) {
        const auto& s = m.slots[n];
        out << n << ": loaded " << s.loaded << " loading " << s.loading << " path '" << s.path
            << "' rig_path '" << s.rig_path << "' frames " << s.frames << " ch " << s.channels
            << " |";
        for (const osc::Row* row : saved_slot_rows())
            out << ' ' << osc::slot_verb(row->address) << ' ' << arg_text(s.params.value(*row));
        out << "\n";
    }
    return out.str();
}

class Persist : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = make_temp_dir("looperd-persist-");
        samples_ = dir_ / "samples";
        fs::create_directory(samples_);
    }
    void TearDown() override {
        std::error_code ignored;
        fs::remove_all(dir_, ignored);
    }

    // Changes every kind of state over OSC, on slots 1, 2 and 5.
    void change_everything(Harness& h) {
        ASSERT_NO_FATAL_FAILURE(write_wav(samples_ / "drums.wav", 4800, 2));
        ASSERT_NO_FATAL_FAILURE(write_wav(samples_ / "pad \"long\".wav", 9600, 1));
        h.send("/master/gain", {OscArg::float32(0.7F)});
        h.send("/clock/tempo", {OscArg::float32(97.5F)});
        h.send("/clock/meter", {OscArg::int32(7)});
        h.send("/clock/sync", {OscArg::string("jack")});
        h.send("/slot/1/load", {OscArg::string("drums.wav")});
        h.send("/slot/1/gain", {OscArg::float32(0.8F)});
        h.send("/slot/1/pan", {OscArg::float32(-0.3F)});
        h.send("/slot/1/rate", {OscArg::float32(1.5F)});
        h.send("/slot/1/pitch", {OscArg::float32(-7.0F)});
        h.send("/slot/1/reverse", {OscArg::int32(1)});
        h.send("/slot/1/start", {OscArg::float32(0.6F)});
        h.send("/slot/1/end", {OscArg::float32(0.9F)});
        h.send("/slot/1/xfade", {OscArg::float32(12.5F)});
        h.send("/slot/1/mode", {OscArg::string("loop")});
        h.send("/slot/1/poly", {OscArg::int32(3)});
        h.send("/slot/1/choke", {OscArg::int32(2)});
        h.send("/slot/1/output", {OscArg::int32(2)});
        h.send("/slot/1/fade_in", {OscArg::float32(3.0F)});
        h.send("/slot/1/fade_out", {OscArg::float32(40.0F)});
        h.send("/slot/1/quantize", {OscArg::string("bar")});
        h.send("/slot/1/beats", {OscArg::float32(8.0F)});
        h.send("/slot/1/input", {OscArg::int32(2)});
        h.send("/slot/1/monitor", {OscArg::int32(1)});
        h.send("/slot/1/label", {OscArg::string("Drums \"A\" \\ caf\xC3\xA9 \xF0\x9F\xA5\x81")});
        h.send("/monitor", {OscArg::int32(1)});
        h.send("/slot/2/load", {OscArg::string("pad \"long\".wav")});
        h.send("/slot/2/quantize", {OscArg::float32(0.5F)});
        h.send("/slot/2/end", {OscArg::float32(0.1F)});
        h.send("/slot/2/mode", {OscArg::string("gate")});
        // Parameters without a sample are part of the rig too.
        h.send("/slot/5/gain", {OscArg::float32(2.0F)});
        h.send("/slot/5/monitor", {OscArg::int32(1)});
        h.send("/slot/5/start", {OscArg::float32(0.25F)});
        h.send("/slot/5/label", {OscArg::string("Empty for now")});
        h->wait_for_loads();
        ASSERT_EQ(h.errors_text(), "");
    }

    fs::path dir_;
    fs::path samples_;
};

// mirror → TOML → RigState → messages → a fresh controller → the same mirror.
TEST_F(Persist, RigRoundTripsThroughTomlAndTheHandlersToTheSameMirror) {
    Harness a(samples_);
    ASSERT_NO_FATAL_FAILURE(change_everything(a));
    SlotParams defaults;
    const RigState rig = rig_from_mirror(a->snapshot(), defaults);
    ASSERT_EQ(rig.slots.size(), 3U);
    const std::string text = rig_to_toml(rig, true);
    const RigState parsed = parse_state(text, "state.toml");
    EXPECT_EQ(rig_to_toml(parsed, true), text);

    Harness b(samples_);
    b->apply_rig(rig_messages(parsed), Controller::internal_endpoint());
    b->wait_for_loads();
    EXPECT_EQ(b.errors_text(), "");
    EXPECT_TRUE(b.replies().empty()) << "a restore answered someone";
    EXPECT_EQ(mirror_text(b->snapshot()), mirror_text(a->snapshot())) << text;
    // Quantize keeps its kind: a name stays a name, beats stay a number.
    const osc::Row& quantize = osc::row(osc::Handler::quantize);
    EXPECT_EQ(b->snapshot().slots[1].params.value(quantize).type, 's');
    EXPECT_EQ(b->snapshot().slots[2].params.value(quantize).type, 'f');
}

// Each slot's input and monitor and the global /monitor are saved and restored; with recording
// off (--inputs 0), a rig's recording keys at their defaults restore without an error, and
// any other value is refused as its OSC address would be.
TEST_F(Persist, InputAndMonitorAreSavedAndRestoredAndSkippedAtTheirDefaultsWithoutRecording) {
    Harness a(samples_);
    a.send("/slot/3/input", {OscArg::int32(2)});
    a.send("/slot/3/monitor", {OscArg::int32(1)});
    a.send("/monitor", {OscArg::int32(1)});
    ASSERT_EQ(a.errors_text(), "");
    const std::string text = rig_to_toml(rig_from_mirror(a->snapshot(), SlotParams{}), true);
    EXPECT_NE(text.find("[master]\ngain = 1.0\nmonitor = 1\n"), std::string::npos) << text;
    EXPECT_NE(text.find("index = 3\n"), std::string::npos) << text;
    EXPECT_NE(text.find("input = 2\nmonitor = 1\n"), std::string::npos) << text;

    Harness b(samples_);
    b->apply_rig(rig_messages(parse_state(text, "state.toml")), Controller::internal_endpoint());
    const MirrorState m = b->snapshot();
    EXPECT_EQ(m.monitor, 1);
    EXPECT_EQ(m.slots[3].params.whole("input"), 2);
    EXPECT_EQ(m.slots[3].params.whole("monitor"), 1);
    EXPECT_EQ(mirror_text(m), mirror_text(a->snapshot()));

    // Recording off: a rig with every recording key at its default (a slot kept for its gain).
    RigState rig;
    RigSlot gained;
    gained.index = 0;
    gained.params.set_number("gain", 0.5F);
    rig.slots.push_back(gained);
    Harness off(samples_, 8, 0);
    off->apply_rig(rig_messages(rig), endpoint("127.0.0.1", 5555));
    EXPECT_EQ(off.errors_text(), "");
    EXPECT_EQ(off->snapshot().slots[0].params.number("gain"), 0.5F);
    rig.slots[0].params.set_whole("monitor", 1);
    rig.monitor = 1;
    off->apply_rig(rig_messages(rig), endpoint("127.0.0.1", 5555));
    const std::string errors = off.errors_text();
    EXPECT_NE(errors.find("/slot/0/monitor: recording is off"), std::string::npos) << errors;
    EXPECT_NE(errors.find("/monitor: recording is off"), std::string::npos) << errors;
}

// Floats are written as the shortest text that reads back as the same bits.
TEST_F(Persist, EveryFloatReadsBackBitExact) {
    RigState rig;
    std::uint32_t x = 12345;
    for (std::uint32_t n = 0; n < 200; ++n) {
        x = x * 1664525U + 1013904223U;
        RigSlot s;
        s.index = n;
        s.params.set_number("gain", static_cast<float>(x >> 8) / 16777216.0F * 4.0F);
        s.params.set_number("pan", static_cast<float>(x % 2000001U) / 1000000.0F - 1.0F);
        s.params.set_number("pitch", static_cast<float>(x % 4801U) / 100.0F - 24.0F);
        s.params.set_number("end", 1e-3F + static_cast<float>(x % 9990U) * 1e-4F);
        s.params.set_number("start", s.params.number("end") / 3.0F);
        s.params.set(osc::row(osc::Handler::quantize), OscArg::float32(1.0F / 3.0F));
        rig.slots.push_back(s);
    }
    const RigState back = parse_state(rig_to_toml(rig, true), "t");
    ASSERT_EQ(back.slots.size(), rig.slots.size());
    for (std::size_t k = 0; k < rig.slots.size(); ++k)
        EXPECT_TRUE(same_params(back.slots[k].params, rig.slots[k].params)) << "slot " << k;
}

// A label is saved when set, escaped as TOML needs (quotes, backslashes, control characters;
// UTF-8 as it is), and read back the same; a slot with only a label is kept in the rig.
TEST_F(Persist, LabelsAreSavedWhenSetEscapedAndReadBack) {
    const std::string label = "Say \"hi\" \\ caf\xC3\xA9\t\xF0\x9F\xA5\x81";
    Harness a(samples_);
    a.send("/slot/2/label", {OscArg::string(label)});
    a.send("/slot/3/gain", {OscArg::float32(0.5F)});
    ASSERT_EQ(a.errors_text(), "");
    const std::string text = rig_to_toml(rig_from_mirror(a->snapshot(), SlotParams{}), true);
    EXPECT_NE(text.find("[[slot]]\nindex = 2\nlabel = \"Say \\\"hi\\\" \\\\ caf\xC3\xA9\\u0009"
                        "\xF0\x9F\xA5\x81\"\ngain = 1.0\n"),
              std::string::npos)
        << text;
    // A label at its default (empty) is not written: older rigs save as they did.
    const auto slot3 = text.find("index = 3\n");
    ASSERT_NE(slot3, std::string::npos) << text;
    EXPECT_EQ(text.find("label", slot3), std::string::npos) << text;

    const RigState back = parse_state(text, "state.toml");
    EXPECT_EQ(rig_to_toml(back, true), text);
    Harness b(samples_);
    b->apply_rig(rig_messages(back), Controller::internal_endpoint());
    EXPECT_EQ(b.errors_text(), "");
    EXPECT_EQ(b->snapshot().slots[2].params.text("label"), label);
    EXPECT_EQ(mirror_text(b->snapshot()), mirror_text(a->snapshot()));

    // An empty label is no label: the slot, with nothing else set, leaves the rig.
    a.send("/slot/2/label", {OscArg::string("")});
    EXPECT_EQ(rig_from_mirror(a->snapshot(), SlotParams{}).slots.size(), 1U);
}

// A parse error names the source, line, column and key.
TEST_F(Persist, ParseErrorsNameTheLineColumnAndKey) {
    struct Case {
        std::string toml;
        std::string want;  // a piece of the message
    };
    const std::vector<Case> cases = {
        {"[master]\ngain = 5.0\n", "rig.toml:2:8: master.gain: must be a number from 0 to 4"},
        {"[clock]\ntempo = 120\nmeter = 2.5\n", "rig.toml:3:9: clock.meter: must be a whole"},
        {"[clock]\nsync = \"mtc\"\n", "rig.toml:2:8: clock.sync"},
        {"[[slot]]\nindex = 1\n\ngain = \"loud\"\n", "rig.toml:4:8: slot.gain"},
        {"[[slot]]\nindex = 1\npann = 0.5\n", "rig.toml:3:8: slot.pann: unknown key"},
        {"[[slot]]\nindex = 1\nmode = \"loops\"\n", "rig.toml:3:8: slot.mode"},
        {"[[slot]]\nindex = 1\nquantize = 0\n", "rig.toml:3:12: slot.quantize"},
        {"[[slot]]\nindex = 1\nstart = 0.5\nend = 0.5\n", "rig.toml:3:9: slot.start: the region"},
        {"[[slot]]\nfile = \"a.wav\"\n", "slot.index: missing"},
        {"[[slot]]\nindex = 1\n[[slot]]\nindex = 1\n",
         "rig.toml:4:9: slot.index: slot 1 is listed twice"},
        {"[[slot]]\nindex = -1\n", "rig.toml:2:9: slot.index"},
        {"[[slot]]\nindex = 1\nfile = \"\"\n", "rig.toml:3:8: slot.file: must not be empty"},
        {"[[slot]]\nindex = 1\npoly = 65\n",
         "rig.toml:3:8: slot.poly: must be a whole number from 1 to 64"},
        {"master = 1\n", "rig.toml:1:10: master: must be a table"},
        {"[master]\nmonitor = 2\n", "rig.toml:2:11: master.monitor: must be a whole number"},
        {"[[slot]]\nindex = 1\nlabel = 5\n",
         "rig.toml:3:9: slot.label: must be text of at most 64 bytes of UTF-8"},
        {"[[slot]]\nindex = 1\nlabel = \"" + std::string(65, 'x') + "\"\n",
         "rig.toml:3:9: slot.label: must be text of at most 64 bytes of UTF-8"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.toml);
        const toml::table t = toml_of(c.toml, "rig.toml");
        try {
            parse_rig(t, "rig.toml");
            ADD_FAILURE() << "accepted";
        } catch (const RigError& e) {
            EXPECT_NE(std::string(e.what()).find(c.want), std::string::npos) << e.what();
        }
    }
    // A config file's own keys beside the rig are not the rig's business.
    const toml::table config = toml_of("osc-port = 9950\n[clock]\ntempo = 90\n", "cfg");
    EXPECT_EQ(parse_rig(config, "cfg").tempo, 90.0F);
}

// parse_rig refuses and accepts exactly what the OSC handlers refuse and accept.
TEST_F(Persist, RigRangesAreTheHandlersRanges) {
    struct Probe {
        std::string key;
        std::string toml_value;
        OscArg osc_value;
    };
    const std::vector<Probe> probes = {
        {"gain", "4.0", OscArg::float32(4.0F)},
        {"gain", "4.001", OscArg::float32(4.001F)},
        {"gain", "-0.001", OscArg::float32(-0.001F)},
        {"pan", "-1", OscArg::int32(-1)},
        {"pan", "1.01", OscArg::float32(1.01F)},
        {"rate", "0.125", OscArg::float32(0.125F)},
        {"rate", "0.12", OscArg::float32(0.12F)},
        {"rate", "8.5", OscArg::float32(8.5F)},
        {"pitch", "24", OscArg::int32(24)},
        {"pitch", "-24.5", OscArg::float32(-24.5F)},
        {"reverse", "1", OscArg::int32(1)},
        {"reverse", "2", OscArg::int32(2)},
        {"reverse", "0.5", OscArg::float32(0.5F)},
        {"xfade", "1000", OscArg::int32(1000)},
        {"xfade", "1000.5", OscArg::float32(1000.5F)},
        {"mode", "\"toggle\"", OscArg::string("toggle")},
        {"mode", "\"Loop\"", OscArg::string("Loop")},
        {"poly", "64", OscArg::int32(64)},
        {"poly", "0", OscArg::int32(0)},
        {"choke", "64", OscArg::int32(64)},
        {"choke", "65", OscArg::int32(65)},
        {"output", "2", OscArg::int32(2)},
        {"output", "1.5", OscArg::float32(1.5F)},
        {"fade_in", "10000", OscArg::int32(10000)},
        {"fade_in", "-1", OscArg::int32(-1)},
        {"fade_out", "0.1", OscArg::float32(0.1F)},
        {"fade_out", "0.05", OscArg::float32(0.05F)},
        {"quantize", "\"beat\"", OscArg::string("beat")},
        {"quantize", "64", OscArg::int32(64)},
        {"quantize", "64.5", OscArg::float32(64.5F)},
        {"quantize", "\"bars\"", OscArg::string("bars")},
        {"beats", "1024", OscArg::int32(1024)},
        {"beats", "1025", OscArg::int32(1025)},
        {"input", "1", OscArg::int32(1)},
        {"input", "2", OscArg::int32(2)},
        {"input", "0", OscArg::int32(0)},
        {"input", "1.5", OscArg::float32(1.5F)},
        {"monitor", "1", OscArg::int32(1)},
        {"monitor", "0", OscArg::int32(0)},
        {"monitor", "2", OscArg::int32(2)},
        {"monitor", "-1", OscArg::int32(-1)},
        {"label", "\"" + std::string(64, 'x') + "\"", OscArg::string(std::string(64, 'x'))},
        {"label", "\"" + std::string(65, 'x') + "\"", OscArg::string(std::string(65, 'x'))},
        {"label", "\"\\u00e9\"", OscArg::string("\xC3\xA9")},
        {"label", "\"\"", OscArg::string("")},
        {"label", "1", OscArg::int32(1)},
    };
    for (const auto& p : probes) {
        SCOPED_TRACE(p.key + " = " + p.toml_value);
        bool toml_ok = true;
        try {
            parse_rig(toml_of("[[slot]]\nindex = 0\n" + p.key + " = " + p.toml_value + "\n"), "t");
        } catch (const RigError&) {
            toml_ok = false;
        }
        Harness h(samples_);
        h.send("/slot/0/" + p.key, {p.osc_value});
        const bool osc_ok = h.replies_at("/error").empty();
        EXPECT_EQ(toml_ok, osc_ok);
    }
    const std::vector<std::tuple<std::string, std::string, OscArg>> clock = {
        {"tempo", "20", OscArg::int32(20)},
        {"tempo", "19.9", OscArg::float32(19.9F)},
        {"tempo", "300", OscArg::int32(300)},
        {"tempo", "301", OscArg::int32(301)},
        {"meter", "32", OscArg::int32(32)},
        {"meter", "33", OscArg::int32(33)},
        {"meter", "0", OscArg::int32(0)},
        {"sync", "\"jack\"", OscArg::string("jack")},
        {"sync", "\"midi\"", OscArg::string("midi")},
        {"sync", "\"mtc\"", OscArg::string("mtc")},
    };
    for (const auto& [key, value, arg] : clock) {
        SCOPED_TRACE(key + " = " + value);
        bool toml_ok = true;
        try {
            parse_rig(toml_of("[clock]\n" + key + " = " + value + "\n"), "t");
        } catch (const RigError&) {
            toml_ok = false;
        }
        Harness h(samples_);
        h.send("/clock/" + key, {arg});
        EXPECT_EQ(toml_ok, h.replies_at("/error").empty());
    }
}

TEST_F(Persist, SessionNamesAreConfined) {
    std::string why;
    for (const std::string& good :
         std::vector<std::string>{"a", "Set-1_v2.final", std::string(64, 'x'), "a..b"})
        EXPECT_TRUE(SessionStore::valid_session_name(good, why)) << good << ": " << why;
    for (const std::string& bad : std::vector<std::string>{
             std::string(), std::string(65, 'x'), std::string(".."), std::string("."),
             std::string(".hidden"), std::string("a/b"), std::string("../state"),
             std::string("a b"), std::string("a\\b"), std::string("caf\xC3\xA9"),
             std::string("a\0b", 3), std::string("/etc/passwd")}) {
        EXPECT_FALSE(SessionStore::valid_session_name(bad, why)) << bad;
        EXPECT_FALSE(why.empty());
    }
    SessionStore store(dir_ / "state");
    EXPECT_THROW(store.session_file("../x"), StoreError);
    EXPECT_EQ(store.session_file("live").parent_path(), dir_ / "state" / "sessions");

    // Over OSC: refused with /error, and nothing is written anywhere.
    Harness h(samples_);
    Persistence p(store, h.mirror(), h.changes(), SlotParams{});
    h->set_persistence(&p);
    for (const std::string& bad :
         std::vector<std::string>{"..", "../../etc/x", ".state", std::string(65, 'a'), ""}) {
        h.clear_replies();
        h.send("/session/save", {OscArg::string(bad)});
        EXPECT_EQ(h.replies_at("/error").size(), 1U) << bad;
    }
    h.clear_replies();
    h.send("/session/save", {OscArg::int32(3)});
    EXPECT_EQ(h.replies_at("/error").size(), 1U);
    p.start();
    p.stop();
    EXPECT_FALSE(fs::exists(dir_ / "state" / "sessions"));
    EXPECT_FALSE(fs::exists(dir_ / "x.toml"));
}

TEST_F(Persist, StateDirectoryIsResolvedInTheDocumentedOrder) {
    struct Env {
        std::string name;
        std::optional<std::string> old;
        explicit Env(std::string n) : name(std::move(n)) {
            if (const char* v = std::getenv(name.c_str())) old = v;
        }
        ~Env() {
            if (old)
                ::setenv(name.c_str(), old->c_str(), 1);
            else
                ::unsetenv(name.c_str());
        }
    };
    Env a("STATE_DIRECTORY"), b("XDG_STATE_HOME"), c("HOME");
    ::setenv("STATE_DIRECTORY", "/srv/a:/srv/b", 1);
    ::setenv("XDG_STATE_HOME", "/xdg", 1);
    ::setenv("HOME", "/home/u", 1);
    EXPECT_EQ(SessionStore::resolve_dir("/flag"), fs::path("/flag"));
    EXPECT_EQ(SessionStore::resolve_dir({}), fs::path("/srv/a"));
    ::unsetenv("STATE_DIRECTORY");
    EXPECT_EQ(SessionStore::resolve_dir({}), fs::path("/xdg/looperd"));
    ::unsetenv("XDG_STATE_HOME");
    EXPECT_EQ(SessionStore::resolve_dir({}), fs::path("/home/u/.local/state/looperd"));
    ::unsetenv("HOME");
    EXPECT_THROW(SessionStore::resolve_dir({}), StoreError);
}

TEST_F(Persist, StateDirectoryIsCreatedPrivateAndLockedAndStaleTempsGo) {
    const fs::path d = dir_ / "deep" / "state";
    write_file(dir_ / "placeholder", "");
    {
        SessionStore store(d);
        EXPECT_TRUE(fs::is_directory(d));
        EXPECT_EQ(fs::status(d).permissions() & fs::perms::all, fs::perms::owner_all);
        try {
            SessionStore second(d);
            ADD_FAILURE() << "two stores share one directory";
        } catch (const StoreError& e) {
            EXPECT_NE(std::string(e.what()).find("in use by another looperd"), std::string::npos)
                << e.what();
        }
        write_file(d / ".state.toml.4242.tmp", "half a state");
    }
    SessionStore again(d);  // the lock went with the first store
    EXPECT_FALSE(fs::exists(d / ".state.toml.4242.tmp"));
}

TEST_F(Persist, WriteReplacesWholeAndReadRefusesOversizedFilesBeforeParsing) {
    SessionStore store(dir_ / "state", 1024);
    store.write(store.state_file(), "one");
    store.write(store.state_file(), "two");
    EXPECT_EQ(store.read(store.state_file()).value(), "two");
    EXPECT_EQ(fs::status(store.state_file()).permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write);
    EXPECT_THROW(store.write(store.state_file(), std::string(1025, 'x')), StoreError);
    EXPECT_EQ(store.read(store.state_file()).value(), "two");

    // A file grown past the bound (not by looperd) is set aside unread.
    write_file(store.state_file(), std::string(2000, '#'));
    try {
        store.load_rig(store.state_file());
        ADD_FAILURE() << "an oversized file was read";
    } catch (const StoreError& e) {
        EXPECT_NE(std::string(e.what()).find("over the bound of 1024 bytes"), std::string::npos)
            << e.what();
        EXPECT_NE(std::string(e.what()).find("set aside as"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(store.state_file()));
    EXPECT_FALSE(store.load_rig(store.state_file()).has_value());
}

// A damaged state file, or one from another version, is renamed aside, with the reason and
// the new name in the message; its bytes are kept.
TEST_F(Persist, DamagedAndFutureVersionFilesAreSetAsideWithTheReason) {
    SessionStore store(dir_ / "state");
    struct Case {
        std::string text;
        std::string reason;
    };
    const std::vector<Case> cases = {
        {"format = \"looperd-state\"\nversion = 1\n[master\ngain = 1\n", "not valid TOML"},
        {"format = \"looperd-state\"\nversion = 1\n[master]\ngain = \x01", "not valid TOML"},
        {"format = \"looperd-state\"\nversion = 2\n", "version 2 is not 1"},
        {"[master]\ngain = 1.0\n", "not a looperd state file"},
        {"format = \"looperd-state\"\nversion = 1\n[[slot]]\nindex = 1\ngain = 9\n", "slot.gain"},
        {"", "not a looperd state file"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.text);
        for (const auto& e : fs::directory_iterator(store.dir()))
            if (e.path().filename().string().starts_with("state.toml.bad-")) fs::remove(e.path());
        write_file(store.state_file(), c.text);
        std::string message;
        try {
            store.load_rig(store.state_file());
        } catch (const StoreError& e) {
            message = e.what();
        }
        EXPECT_NE(message.find(c.reason), std::string::npos) << message;
        EXPECT_NE(message.find(store.state_file().string()), std::string::npos) << message;
        EXPECT_FALSE(fs::exists(store.state_file()));
        std::vector<fs::path> aside;
        for (const auto& e : fs::directory_iterator(store.dir()))
            if (e.path().filename().string().starts_with("state.toml.bad-"))
                aside.push_back(e.path());
        ASSERT_EQ(aside.size(), 1U);
        EXPECT_NE(message.find("set aside as " + aside[0].string()), std::string::npos) << message;
        EXPECT_EQ(read_file(aside[0]), c.text);
    }
    // Persistence::restore logs it and starts empty.
    write_file(store.state_file(), "garbage = [");
    Harness h(samples_);
    Persistence p(store, h.mirror(), h.changes(), SlotParams{});
    EXPECT_FALSE(p.restore().has_value());
    EXPECT_FALSE(fs::exists(store.state_file()));
}

// Mounts a tmpfs on `dir` for the test; unmounts it at the end.
class Mount {
  public:
    Mount(const fs::path& dir, const std::string& options) : dir_(dir) {
        if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) == 0)
            mounted_ = true;
        else
            why_ = std::strerror(errno);
    }
    ~Mount() {
        if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
    }
    bool read_only() {
        if (::mount(nullptr, dir_.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr) == 0)
            return true;
        why_ = std::strerror(errno);
        return false;
    }
    bool mounted() const { return mounted_; }
    const std::string& why() const { return why_; }

  private:
    fs::path dir_;
    bool mounted_ = false;
    std::string why_;
};

std::vector<std::string> names_in(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

TEST_F(Persist, FullDiskLeavesThePreviousStateBitIdenticalWithAClearError) {
    const fs::path d = dir_ / "small";
    fs::create_directory(d);
    Mount m(d, "size=64k,mode=0700");
    if (!m.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (" << m.why() << ")";
    const std::string old_state = rig_to_toml(RigState{}, true);
    {
        SessionStore store(d);
        store.write(store.state_file(), old_state);
        const auto before = names_in(d);
        try {
            store.write(store.state_file(), std::string(256 * 1024, '#'));
            ADD_FAILURE() << "a 256 KiB write fit into a 64 KiB tmpfs";
        } catch (const StoreError& e) {
            EXPECT_NE(
                std::string(e.what()).find("no space left on the device holding " + d.string()),
                std::string::npos)
                << e.what();
        }
        EXPECT_EQ(read_file(store.state_file()), old_state);
        EXPECT_EQ(names_in(d), before) << "the temporary file was left behind";

        // The persister says so in its state and keeps the old file.
        Harness h(samples_);
        Persistence p(store, h.mirror(), h.changes(), SlotParams{});
        h.send("/clock/tempo", {OscArg::int32(99)});
        // Fill the disk with something else, so that even a small state cannot be written.
        {
            std::ofstream filler(d / "filler", std::ios::binary);
            std::string block(4096, 'f');
            for (int k = 0; k < 64 && filler.write(block.data(), 4096); ++k) {
            }
        }
        EXPECT_FALSE(p.save_now());
        EXPECT_STREQ(p.state_name(), "error");
        EXPECT_EQ(read_file(store.state_file()), old_state);
        fs::remove(d / "filler");
        EXPECT_TRUE(p.save_now());
        EXPECT_STREQ(p.state_name(), "ok");
        EXPECT_NE(read_file(store.state_file()).find("tempo = 99.0"), std::string::npos);
    }
}

TEST_F(Persist, ReadOnlyDirectoryLeavesThePreviousStateBitIdenticalWithAClearError) {
    const fs::path d = dir_ / "ro";
    fs::create_directory(d);
    Mount m(d, "size=1m,mode=0700");
    if (!m.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (" << m.why() << ")";
    const std::string old_state = "format = \"looperd-state\"\nversion = 1\n";
    {
        SessionStore store(d);
        store.write(store.state_file(), old_state);
    }
    // As root, chmod does not stop a write: a read-only mount does.
    if (!m.read_only()) GTEST_SKIP() << "cannot remount read-only (" << m.why() << ")";
    SessionStore store(d);
    const auto before = names_in(d);
    try {
        store.write(store.state_file(), "format = \"looperd-state\"\nversion = 1\n# new\n");
        ADD_FAILURE() << "wrote to a read-only file system";
    } catch (const StoreError& e) {
        EXPECT_NE(std::string(e.what()).find(d.string() + " is on a read-only file system"),
                  std::string::npos)
            << e.what();
    }
    EXPECT_EQ(read_file(store.state_file()), old_state);
    EXPECT_EQ(names_in(d), before);
    // Reading still works, and a session save answers /error with the reason.
    EXPECT_TRUE(store.load_rig(store.state_file()).has_value());
    Harness h(samples_);
    Persistence p(store, h.mirror(), h.changes(), SlotParams{});
    h->set_persistence(&p);
    p.start();
    h.send("/session/save", {OscArg::string("gig")});
    // The persister thread answers: wait for its reply, however slow the machine.
    EXPECT_TRUE(wait_until([&h] { return !h.replies_at("/error").empty(); }))
        << hung("the /error reply to /session/save");
    p.stop();
    ASSERT_EQ(h.replies_at("/error").size(), 1U);
    EXPECT_NE(h.replies_at("/error")[0].args[1].s.find("read-only file system"), std::string::npos)
        << h.replies_at("/error")[0].args[1].s;
    EXPECT_STREQ(p.state_name(), "error");
    EXPECT_EQ(read_file(store.state_file()), old_state);
}

// The counter moves on accepted changes only, and autosave writes what the mirror holds.
TEST_F(Persist, AcceptedChangesAreCountedAndSaved) {
    Harness h(samples_);
    const auto c0 = h->changes();
    h.send("/slot/0/play");
    h.send("/slot/0/gain", {OscArg::float32(9.0F)});  // refused
    h.send("/ping");
    EXPECT_EQ(h->changes(), c0);
    h.send("/slot/0/gain", {OscArg::float32(0.5F)});
    h.send("/clock/meter", {OscArg::int32(3)});
    h.send("/slot/0/unload");
    EXPECT_EQ(h->changes(), c0 + 3);

    SessionStore store(dir_ / "state");
    std::atomic<int> copies{0};  // of the mirror, by the persister
    Persistence p(
        store,
        [&h, &copies](std::uint64_t& c) {
            ++copies;
            return h->snapshot(&c);
        },
        h.changes(), SlotParams{}, std::chrono::milliseconds(20));
    h->set_persistence(&p);  // every change wakes the persister, which otherwise rests
    p.start();
    auto saved = [&] {
        const auto text = store.read(store.state_file());
        return text ? *text : std::string();
    };
    // The persister thread saves on its own, while it runs (not only at stop()): wait for it.
    // How soon is a matter of the machine's speed, so no time is asserted.
    EXPECT_TRUE(wait_until([&] { return saved().find("meter = 3") != std::string::npos; }))
        << hung("autosave of the changes made before start()") << "\n"
        << saved();
    // Nothing changes: the persister rests (it used to copy the mirror 20 times a second).
    const int after_save = copies.load();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(copies.load(), after_save) << "the persister looked while nothing changed";
    h.send("/clock/tempo", {OscArg::float32(133.0F)});
    EXPECT_TRUE(wait_until([&] { return saved().find("tempo = 133.0") != std::string::npos; }))
        << hung("autosave of a change made while running") << "\n"
        << saved();
    // A clean stop saves what changed since.
    h.send("/master/gain", {OscArg::float32(0.25F)});
    p.stop();
    EXPECT_NE(saved().find("gain = 0.25"), std::string::npos) << saved();
    const RigState rig = parse_state(saved(), "state.toml");
    EXPECT_EQ(rig.slots.size(), 1U);  // slot 0: gain 0.5, no sample
}

// Under NSM (docs/nsm.md) the session manager says when the rig is written: the persister
// writes named sessions only, while running and at stop; a damaged rig says why.
TEST_F(Persist, WithoutAutosaveOnlyNamedSessionsAreWritten) {
    Harness h(samples_);
    SessionStore store(dir_ / "state");
    Persistence p(store, h.mirror(), h.changes(), SlotParams{}, std::chrono::milliseconds(20),
                  false);
    p.start();
    h.send("/clock/tempo", {OscArg::float32(133.0F)});
    std::atomic<bool> done{false};
    EXPECT_EQ(p.save_session("take-one", [&done](const std::string&) { done = true; }), "");
    EXPECT_TRUE(wait_until([&] { return done.load(); })) << hung("the session save");
    EXPECT_TRUE(fs::exists(store.session_file("take-one")));
    h.send("/master/gain", {OscArg::float32(0.25F)});
    p.stop();
    EXPECT_FALSE(fs::exists(store.state_file()));

    write_file(store.state_file(), "garbage = [");
    std::string why;
    EXPECT_FALSE(p.restore(&why).has_value());
    EXPECT_NE(why.find("set aside as"), std::string::npos) << why;
}

// A restore whose file is missing keeps the slot (path and parameters) in the saved rig until
// the slot is loaded or unloaded again.
TEST_F(Persist, MissingSampleAtRestoreStaysInTheRigUntilTheSlotChanges) {
    RigState rig;
    RigSlot s;
    s.index = 3;
    s.file = "gone.wav";
    s.params.set_number("gain", 0.5F);
    rig.slots.push_back(s);
    Harness h(samples_);
    h->apply_rig(rig_messages(rig), Controller::internal_endpoint());
    h->wait_for_loads();
    EXPECT_TRUE(h.replies().empty());
    auto saved = rig_from_mirror(h->snapshot(), SlotParams{});
    ASSERT_EQ(saved.slots.size(), 1U);
    EXPECT_EQ(saved.slots[0].file, "gone.wav");
    EXPECT_EQ(saved.slots[0].params.number("gain"), 0.5F);
    // Another parameter change keeps it.
    h.send("/slot/3/pan", {OscArg::float32(0.5F)});
    EXPECT_EQ(rig_from_mirror(h->snapshot(), SlotParams{}).slots.at(0).file, "gone.wav");
    // An explicit load that works replaces it.
    ASSERT_NO_FATAL_FAILURE(write_wav(samples_ / "here.wav", 480, 1));
    h.send("/slot/3/load", {OscArg::string("here.wav")});
    h->wait_for_loads();
    EXPECT_EQ(rig_from_mirror(h->snapshot(), SlotParams{}).slots.at(0).file, "here.wav");
    // An unload forgets the file, not the parameters.
    h->apply_rig(rig_messages(rig), Controller::internal_endpoint());
    h->wait_for_loads();
    h.send("/slot/3/unload");
    saved = rig_from_mirror(h->snapshot(), SlotParams{});
    ASSERT_EQ(saved.slots.size(), 1U);
    EXPECT_EQ(saved.slots[0].file, "");
    // A load still in flight is saved with the path it asked for.
    Harness slow(samples_);
    slow.send("/slot/1/load", {OscArg::string("here.wav")});
    const auto during = rig_from_mirror(slow->snapshot(), SlotParams{});
    slow->wait_for_loads();
    ASSERT_EQ(during.slots.size(), 1U);
    EXPECT_EQ(during.slots[0].file, "here.wav");
}

// /session/save, /session/list and /session/load over OSC.
TEST_F(Persist, SessionsAreSavedListedAndLoadedOverOsc) {
    ASSERT_NO_FATAL_FAILURE(write_wav(samples_ / "a.wav", 480, 1));
    ASSERT_NO_FATAL_FAILURE(write_wav(samples_ / "b.wav", 960, 2));
    SessionStore store(dir_ / "state");
    Harness h(samples_);
    Persistence p(store, h.mirror(), h.changes(), SlotParams{});
    h->set_persistence(&p);
    p.start();
    // The persister thread writes the session, then answers.
    auto wait_reply = [&h](const std::string& address) {
        ASSERT_TRUE(wait_until([&] {
            return !h.replies_at(address).empty() || !h.replies_at("/error").empty();
        })) << hung("a " + address + " or /error reply");
    };

    h.send("/slot/0/load", {OscArg::string("a.wav")});
    h.send("/slot/0/gain", {OscArg::float32(0.5F)});
    h.send("/slot/0/label", {OscArg::string("Verse \xE2\x80\x94 \"A\"")});
    h.send("/clock/tempo", {OscArg::int32(100)});
    h->wait_for_loads();
    h.clear_replies();
    h.send("/session/save", {OscArg::string("verse")});
    ASSERT_NO_FATAL_FAILURE(wait_reply("/session/save.reply"));
    ASSERT_EQ(h.errors_text(), "");
    ASSERT_EQ(h.replies_at("/session/save.reply").size(), 1U);
    EXPECT_EQ(h.replies_at("/session/save.reply")[0].args.at(0).s, "verse");
    EXPECT_TRUE(fs::exists(dir_ / "state" / "sessions" / "verse.toml"));
    const std::string verse = mirror_text(h->snapshot());

    // Change the rig: another slot, other parameters.
    h.send("/slot/0/gain", {OscArg::float32(1.5F)});
    h.send("/slot/4/load", {OscArg::string("b.wav")});
    h.send("/slot/4/mode", {OscArg::string("loop")});
    h.send("/slot/4/label", {OscArg::string("Chorus pad")});
    h.send("/slot/0/label", {OscArg::string("Chorus")});
    h.send("/clock/tempo", {OscArg::int32(140)});
    h->wait_for_loads();
    h.clear_replies();
    h.send("/session/save", {OscArg::string("chorus")});
    ASSERT_NO_FATAL_FAILURE(wait_reply("/session/save.reply"));
    ASSERT_EQ(h.errors_text(), "");

    h.clear_replies();
    h.send("/session/list");
    const auto list = h.replies_at("/session/list.reply");
    ASSERT_EQ(list.size(), 1U) << h.errors_text();
    ASSERT_EQ(list[0].args.size(), 2U);
    EXPECT_EQ(list[0].args[0].s, "chorus");
    EXPECT_EQ(list[0].args[1].s, "verse");

    // Loading "verse" replaces the rig: slot 4 is unloaded and back to its defaults; slot 0,
    // already holding a.wav, is not reloaded.
    h.clear_replies();
    const auto loads_before = h->changes();
    h.send("/session/load", {OscArg::string("verse")});
    h->wait_for_loads();
    EXPECT_EQ(h.errors_text(), "");
    ASSERT_EQ(h.replies_at("/session/load.reply").size(), 1U);
    EXPECT_TRUE(h.replies_at("/slot/0/loaded").empty()) << "slot 0 was reloaded";
    EXPECT_GT(h->changes(), loads_before);
    EXPECT_EQ(mirror_text(h->snapshot()), verse);

    // Loading a missing or damaged session answers /error; the rig stays.
    h.clear_replies();
    h.send("/session/load", {OscArg::string("bridge")});
    ASSERT_EQ(h.replies_at("/error").size(), 1U);
    EXPECT_NE(h.replies_at("/error")[0].args[1].s.find("no session named 'bridge'"),
              std::string::npos);
    write_file(dir_ / "state" / "sessions" / "broken.toml",
               "format = \"looperd-state\"\nversion = 9\n");
    h.clear_replies();
    h.send("/session/load", {OscArg::string("broken")});
    ASSERT_EQ(h.replies_at("/error").size(), 1U);
    EXPECT_NE(h.replies_at("/error")[0].args[1].s.find("set aside as"), std::string::npos);
    EXPECT_EQ(mirror_text(h->snapshot()), verse);
    p.stop();

    // Without persistence, every /session address answers /error.
    Harness off(samples_);
    for (const char* a : {"/session/save", "/session/load"}) {
        off.clear_replies();
        off.send(a, {OscArg::string("x")});
        EXPECT_EQ(off.replies_at("/error").size(), 1U) << a;
    }
    off.clear_replies();
    off.send("/session/list");
    EXPECT_EQ(off.replies_at("/error").size(), 1U);
}

TEST_F(Persist, StatusReportsTheStateOfSaving) {
    Harness h(samples_);
    h.state_ = "error";
    h.send("/status");
    const auto replies = h.replies_at("/status.reply");
    ASSERT_EQ(replies.size(), 1U);
    const auto& args = replies[0].args;
    bool found = false;
    for (std::size_t k = 0; k + 1 < args.size(); k += 2)
        if (args[k].s == "state") found = args[k + 1].s == "error";
    EXPECT_TRUE(found);
}

}  // namespace
