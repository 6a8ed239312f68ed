// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// The control schema (control/osc_schema): the table is whole and consistent, docs/osc.md's
// address table is its output, and the controller holds every row to its range: each accepted
// type at both ends, just outside each end, NaN and infinities, a string, wrong arity.
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "control/model.hpp"
#include "control/osc_schema.hpp"
#include "daemon/controller.hpp"
#include "daemon/rig_state.hpp"
#include "io/memory_budget.hpp"
#include "io/stretch_render.hpp"

namespace {

using namespace looperd;
using osc::Role;
using osc::Value;

std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

TEST(OscSchema, EveryControlRowHasAHandlerAndEveryHandlerARow) {
    std::set<osc::Handler> handled;
    std::set<std::string_view> addresses;
    for (const auto& row : osc::rows()) {
        SCOPED_TRACE(std::string(row.address));
        EXPECT_TRUE(addresses.insert(row.address).second) << "listed twice";
        EXPECT_FALSE(row.doc.empty());
        if (row.role != Role::control) {
            EXPECT_EQ(row.handler, osc::Handler::none);
            EXPECT_FALSE(row.command.has_value());
            continue;
        }
        ASSERT_NE(row.handler, osc::Handler::none);
        handled.insert(row.handler);
        if (row.value == Value::number || row.value == Value::whole) {
            EXPECT_FALSE(row.what.empty());
            EXPECT_LE(row.min, row.max);
        }
        if (row.handler == osc::Handler::param) {
            // The generic handler needs a slot, a value it checks, and a place in the mirror:
            // a saved row's (its command, if any, carries a number).
            EXPECT_FALSE(osc::slot_verb(row.address).empty());
            EXPECT_TRUE(row.value == Value::number || row.value == Value::whole ||
                        row.value == Value::choice || row.value == Value::text);
            EXPECT_TRUE(row.saved);
            if (row.value == Value::text) {
                EXPECT_FALSE(row.command.has_value());
            }
        }
        if (row.saved) {
            EXPECT_FALSE(row.echo.empty()) << "a saved value is echoed";
        }
        if (!row.echo.empty()) {
            const osc::Row* echoed = osc::find(row.echo);
            ASSERT_NE(echoed, nullptr) << row.echo;
            EXPECT_EQ(echoed->role, Role::control) << "echoes go on an address controls send";
        }
    }
    for (auto h = static_cast<int>(osc::Handler::param);
         h <= static_cast<int>(osc::Handler::midi_leds_refresh); ++h)
        EXPECT_TRUE(handled.count(static_cast<osc::Handler>(h)))
            << "handler " << h << " has no row";
}

TEST(OscSchema, TheModelsDefaultsAreTheRowsDefaults) {
    const SlotParams defaults;
    for (const osc::Row* row : saved_slot_rows()) {
        SCOPED_TRACE(std::string(row->address));
        const OscArg v = defaults.value(*row);
        if (row->value == Value::number) {
            EXPECT_EQ(v.f, static_cast<float>(row->def));
        } else if (row->value == Value::whole) {
            EXPECT_EQ(v.i, static_cast<std::int32_t>(row->def));
        } else {
            EXPECT_EQ(v.s, row->def_text);
        }
    }
    const RigState rig;
    EXPECT_EQ(rig.master_gain, static_cast<float>(osc::row(osc::Handler::master_gain).def));
    EXPECT_EQ(rig.tempo, static_cast<float>(osc::row(osc::Handler::clock_tempo).def));
    EXPECT_EQ(rig.meter, static_cast<std::int32_t>(osc::row(osc::Handler::clock_meter).def));
    EXPECT_EQ(rig.monitor, static_cast<std::int32_t>(osc::row(osc::Handler::monitor).def));
    EXPECT_EQ(sync_name(rig.sync), osc::row(osc::Handler::clock_sync).def_text);
}

TEST(OscSchema, AddressesMatchTheirRowsWhateverTheSlot) {
    std::uint64_t slot = 0;
    EXPECT_EQ(osc::match("/slot/12/gain", &slot), osc::find("/slot/<n>/gain"));
    EXPECT_EQ(slot, 12U);
    EXPECT_EQ(osc::match("/ping"), osc::find("/ping"));
    EXPECT_EQ(osc::match("/slot/<n>/gain"), nullptr);
    EXPECT_EQ(osc::match("/slot/+1/gain"), nullptr);
    EXPECT_EQ(osc::match("/slot/1234567890/gain"), nullptr);
    EXPECT_EQ(osc::match("/slot/1/"), nullptr);
    EXPECT_EQ(osc::match("/slot/1/nope"), nullptr);
    EXPECT_EQ(osc::match("/slot/3/state")->role, Role::feedback);
    EXPECT_EQ(osc::match("/slot/3/info.reply")->role, Role::reply);
    EXPECT_EQ(osc::slot_address("/slot/<n>/gain", 7), "/slot/7/gain");
    EXPECT_EQ(osc::slot_address("/master/gain", 7), "/master/gain");
}

// docs/osc.md's address table is `looperd --print-osc`, between two marker lines.
TEST(OscSchema, TheDocsTableIsTheSchemasMarkdown) {
    const std::string text = read_file(LOOPERD_SOURCE_DIR "/docs/osc.md");
    const std::string begin = "<!-- begin: looperd --print-osc -->\n";
    const std::string end = "<!-- end: looperd --print-osc -->";
    const auto a = text.find(begin);
    const auto b = text.find(end);
    ASSERT_NE(a, std::string::npos) << "docs/osc.md has no generated table";
    ASSERT_NE(b, std::string::npos);
    EXPECT_EQ(text.substr(a + begin.size(), b - a - begin.size()), osc::markdown_table())
        << "regenerate it: looperd --print-osc";
}

TEST(OscSchema, TheJsonSchemaListsEveryRowOnce) {
    const std::string json = osc::json_schema();
    for (const auto& row : osc::rows()) {
        const std::string key = "{\"address\": \"" + std::string(row.address) + "\"";
        const auto at = json.find(key);
        EXPECT_NE(at, std::string::npos) << row.address;
        EXPECT_EQ(json.find(key, at + 1), std::string::npos) << row.address;
    }
    EXPECT_EQ(std::count(json.begin(), json.end(), '{'), std::count(json.begin(), json.end(), '}'));
    EXPECT_EQ(std::count(json.begin(), json.end(), '['), std::count(json.begin(), json.end(), ']'));
}

// Every row, against a controller with recording on: what it accepts and what it refuses.
class SchemaRows : public ::testing::Test {
  protected:
    static constexpr std::uint32_t kSlot = 5;

    void SetUp() override {
        ControllerConfig config;
        config.slots = 8;
        config.outputs = 4;  // output pairs 1 and 2
        config.inputs = 6;   // input pairs 1 to 3
        config.max_record_frames = 48000;
        // Every refusal is answered: this test sends far more than a peer's 50 a second.
        config.error_replies_per_second = 1000000;
        controller_ = std::make_unique<Controller>(
            config, budget_,
            [this](const Command& c) {
                commands_.push_back(c);
                return true;
            },
            [this](const OscEndpoint&, const OscMessage& m) {
                std::lock_guard lock(mutex_);
                replies_.push_back(m);
            },
            [] { return RuntimeStatus{}; }, [] { return 48000U; });
        OscEndpoint from;
        from.len = sizeof(sockaddr_in);
        from.addr.ss_family = AF_INET;
        from_ = from;
    }

    std::string address(const osc::Row& row) const { return osc::slot_address(row.address, kSlot); }

    // The rig as saved: what a refused message must leave untouched.
    std::string rig() const {
        return rig_to_toml(rig_from_mirror(controller_->snapshot(), SlotParams{}), false);
    }

    void send(const std::string& a, std::vector<OscArg> args) {
        commands_.clear();
        {
            std::lock_guard lock(mutex_);
            replies_.clear();
        }
        controller_->handle(OscMessage{a, std::move(args)}, from_);
    }

    // Expects the message accepted: one command of the row's kind carrying `value`.
    void expect_accepted(const osc::Row& row, OscArg arg, float value) {
        const std::string a = address(row);
        SCOPED_TRACE(a + " " + std::string(1, arg.type));
        send(a, {arg});
        EXPECT_TRUE(replies_.empty()) << (replies_.empty() ? "" : replies_[0].args.at(1).s);
        ASSERT_EQ(commands_.size(), 1U);
        EXPECT_EQ(commands_[0].kind, *row.command);
        EXPECT_EQ(commands_[0].value, value);
    }

    // Expects /error for the address, no command, and the rig unchanged.
    void expect_refused(const osc::Row& row, std::vector<OscArg> args, const std::string& why) {
        const std::string a = address(row);
        SCOPED_TRACE(a + ": " + why);
        const std::string before = rig();
        send(a, std::move(args));
        EXPECT_TRUE(commands_.empty());
        ASSERT_EQ(replies_.size(), 1U);
        EXPECT_EQ(replies_[0].address, osc::kError);
        EXPECT_EQ(replies_[0].args.at(0).s, a);
        EXPECT_EQ(rig(), before);
    }

    // The upper bound this controller's configuration gives the row.
    static double max_of(const osc::Row& row) {
        if (row.bound == osc::Bound::output_pairs) return 2.0;
        if (row.bound == osc::Bound::input_pairs) return 3.0;
        return row.max;
    }

    MemoryBudget budget_{1ULL << 30};
    std::unique_ptr<Controller> controller_;
    std::vector<Command> commands_;
    std::mutex mutex_;
    std::vector<OscMessage> replies_;
    OscEndpoint from_;
};

OscArg float64(double v) {
    OscArg a;
    a.type = 'd';
    a.d = v;
    return a;
}

OscArg int64(std::int64_t v) {
    OscArg a;
    a.type = 'h';
    a.h = v;
    return a;
}

TEST_F(SchemaRows, NumberRowsAcceptEachTypeAtBothEndsAndRefuseJustOutside) {
    int walked = 0;
    for (const auto& row : osc::rows()) {
        if (row.role != Role::control) continue;
        if (row.value != Value::number && row.value != Value::whole) continue;
        if (!row.command) continue;
        ++walked;
        const bool whole = row.value == Value::whole;
        const double max = max_of(row);
        // A region's start must stay before its end (1), and its end after its start (0).
        const bool start = row.command == CommandKind::set_start;
        const bool end = row.command == CommandKind::set_end;
        // /loop's values are modes: 1 is SlotMode::loop, 0 SlotMode::oneshot.
        for (const double v : {row.min, max}) {
            if ((start && v == max) || (end && v == row.min)) continue;
            const auto f = static_cast<float>(v);
            expect_accepted(row, OscArg::float32(f), f);
            expect_accepted(row, float64(v), f);
            if (std::trunc(v) == v) {
                expect_accepted(row, OscArg::int32(static_cast<std::int32_t>(v)), f);
                expect_accepted(row, int64(static_cast<std::int64_t>(v)), f);
            }
        }
        const double step = whole ? 1.0 : 1e-3;
        expect_refused(row, {float64(row.min - step)}, "below its minimum");
        expect_refused(row, {float64(max + step)}, "above its maximum");
        if (whole) expect_refused(row, {float64(row.min + 0.5)}, "not whole");
        expect_refused(row, {OscArg::float32(std::nanf(""))}, "NaN");
        expect_refused(row, {float64(std::nan(""))}, "NaN");
        expect_refused(row, {OscArg::float32(INFINITY)}, "infinite");
        expect_refused(row, {float64(-std::numeric_limits<double>::infinity())}, "infinite");
        expect_refused(row, {OscArg::string("1")}, "a string");
        expect_refused(row, {}, "no argument");
        expect_refused(row,
                       {OscArg::int32(static_cast<std::int32_t>(row.min)),
                        OscArg::int32(static_cast<std::int32_t>(row.min))},
                       "two arguments");
    }
    EXPECT_GE(walked, 20);
}

TEST_F(SchemaRows, ChoiceRowsAcceptEachNameInOrderAndRefuseOthers) {
    for (const auto& row : osc::rows()) {
        if (row.role != Role::control || row.value != Value::choice) continue;
        std::string_view c = row.choices;
        float index = 0.0F;
        while (!c.empty()) {
            const auto bar = c.find('|');
            const std::string name(c.substr(0, bar));
            // These rows' controller has no Link session to join (ControllerLink tests it).
            if (row.handler == osc::Handler::clock_sync && name == "link") {
                expect_refused(row, {OscArg::string(name)}, "link, with no Link session");
            } else if (row.handler == osc::Handler::stretch && name == "pitch" &&
                       !stretch_available()) {
                expect_refused(row, {OscArg::string(name)}, "pitch, built without Rubber Band");
            } else {
                expect_accepted(row, OscArg::string(name), index);
            }
            index += 1.0F;
            c = bar == std::string_view::npos ? std::string_view{} : c.substr(bar + 1);
        }
        expect_refused(row, {OscArg::string("nope")}, "an unknown name");
        expect_refused(row, {OscArg::string("")}, "an empty name");
        expect_refused(row, {OscArg::int32(0)}, "a number");
        expect_refused(row, {}, "no argument");
    }
}

TEST_F(SchemaRows, QuantizeAcceptsItsNamesAndBeatsAboveItsMinimum) {
    const osc::Row& row = osc::row(osc::Handler::quantize);
    expect_accepted(row, OscArg::string("none"), 0.0F);
    expect_accepted(row, OscArg::string("bar"), -1.0F);
    expect_accepted(row, OscArg::string("beat"), 1.0F);
    expect_accepted(row, float64(row.max), static_cast<float>(row.max));
    expect_accepted(row, OscArg::int32(1), 1.0F);
    expect_refused(row, {float64(row.min)}, "not above its minimum");
    expect_refused(row, {float64(row.max + 1e-3)}, "above its maximum");
    expect_refused(row, {OscArg::float32(std::nanf(""))}, "NaN");
    expect_refused(row, {OscArg::string("half")}, "an unknown name");
    expect_refused(row, {}, "no argument");
}

// Text rows (a slot's label) send no command: the mirror keeps the text, the rig saves it.
TEST_F(SchemaRows, TextRowsAcceptUpToTheirMaximumOfUtf8AndRefuseTheRest) {
    int walked = 0;
    for (const auto& row : osc::rows()) {
        if (row.role != Role::control || row.value != Value::text) continue;
        ++walked;
        const auto max = static_cast<std::size_t>(row.max);
        const auto stored = [&] {
            return controller_->snapshot().slots[kSlot].params.value(row).s;
        };
        const auto accept = [&](OscArg arg) {
            const std::string text = arg.s;
            SCOPED_TRACE(address(row) + " '" + text + "'");
            send(address(row), {std::move(arg)});
            EXPECT_TRUE(replies_.empty()) << (replies_.empty() ? "" : replies_[0].args.at(1).s);
            EXPECT_TRUE(commands_.empty());
            EXPECT_EQ(stored(), text);
        };
        accept(OscArg::string(""));
        accept(OscArg::string(std::string(max, 'x')));
        // Two, three and four bytes, the last one ending on the maximum.
        accept(OscArg::string("Caisse claire \xC3\xA9 \xE2\x82\xAC \xF0\x9F\xA5\x81"));
        accept(OscArg::string(std::string(max - 2, 'x') + "\xC3\xA9"));
        OscArg symbol = OscArg::string("Pad");
        symbol.type = 'S';
        accept(symbol);
        accept(OscArg::string("Kick"));

        const std::string rule = std::string(row.what) + " must be text of at most " +
                                 std::to_string(max) + " bytes of UTF-8";
        expect_refused(row, {OscArg::string(std::string(max + 1, 'x'))}, "one byte too long");
        EXPECT_EQ(replies_.at(0).args.at(1).s, rule);
        expect_refused(row, {OscArg::string(std::string(max - 1, 'x') + "\xC3\xA9")},
                       "a character past the maximum");
        for (const char* bad : {"\xC3", "a\x80", "\xFF", "\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80",
                                "\xF4\x90\x80\x80", "\xE2\x82"}) {
            expect_refused(row, {OscArg::string(bad)}, "not UTF-8");
            EXPECT_EQ(replies_.at(0).args.at(1).s, rule);
        }
        expect_refused(row, {OscArg::string(std::string("a\0b", 3))}, "a NUL");
        expect_refused(row, {OscArg::int32(1)}, "a number");
        expect_refused(row, {OscArg::float32(1.0F)}, "a number");
        expect_refused(row, {}, "no argument");
        expect_refused(row, {OscArg::string("a"), OscArg::string("b")}, "two arguments");
        EXPECT_EQ(stored(), "Kick") << "a refused message changed nothing";
    }
    EXPECT_GE(walked, 1);
}

TEST_F(SchemaRows, ButtonsTakeNothingOrANumberAndRefuseTheRest) {
    for (const auto& row : osc::rows()) {
        if (row.role != Role::control || row.value != Value::button) continue;
        SCOPED_TRACE(std::string(row.address));
        send(address(row), {});
        EXPECT_EQ(commands_.size(), 1U) << "no argument is a press";
        send(address(row), {OscArg::float32(1.0F)});
        EXPECT_EQ(commands_.size(), 1U) << "non-zero is a press";
        expect_refused(row, {OscArg::string("1")}, "a string");
        expect_refused(row, {OscArg::int32(1), OscArg::int32(1)}, "two arguments");
    }
}

TEST_F(SchemaRows, RowsWithoutAValueRefuseAnArgument) {
    for (const auto& row : osc::rows()) {
        if (row.role != Role::control || row.value != Value::none) continue;
        // An optional reply URL is the one argument some take: two are too many for all.
        expect_refused(row, {OscArg::string("osc.udp://127.0.0.1:1/"), OscArg::int32(1)},
                       "two arguments");
        if (row.args.empty()) expect_refused(row, {OscArg::int32(1)}, "an argument");
    }
}

TEST_F(SchemaRows, RepliesAndFeedbackAreNeverAnswered) {
    for (const auto& row : osc::rows()) {
        if (row.role == Role::control) continue;
        send(address(row), {OscArg::int32(1)});
        EXPECT_TRUE(commands_.empty()) << row.address;
        EXPECT_TRUE(replies_.empty()) << row.address;
    }
}

}  // namespace

namespace {

// A source file without its comments (// to the end of the line), so that prose may name
// addresses and numbers.
std::string without_comments(const std::string& text) {
    std::string out;
    bool in_string = false;
    for (std::size_t k = 0; k < text.size(); ++k) {
        const char c = text[k];
        if (in_string) {
            out += c;
            if (c == '\\' && k + 1 < text.size()) {
                out += text[++k];
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        if (c == '"') in_string = true;
        if (c == '/' && k + 1 < text.size() && text[k + 1] == '/') {
            while (k < text.size() && text[k] != '\n') ++k;
            out += '\n';
            continue;
        }
        out += c;
    }
    return out;
}

// The same without the contents of string literals, so that format strings ("{:.1f}") are not
// read as numbers.
std::string without_strings(const std::string& code) {
    std::string out;
    bool in_string = false;
    for (std::size_t k = 0; k < code.size(); ++k) {
        const char c = code[k];
        if (in_string && c == '\\') {
            ++k;
            continue;
        }
        if (c == '"') in_string = !in_string;
        if (!in_string || c == '"') out += c;
    }
    return out;
}

struct Finding {
    std::string file;
    std::string literal;
};

// Every file under src/ but the schema's own and the NSM protocol's.
std::vector<std::filesystem::path> source_files() {
    std::vector<std::filesystem::path> out;
    const std::filesystem::path src = LOOPERD_SOURCE_DIR "/src";
    for (const auto& e : std::filesystem::recursive_directory_iterator(src)) {
        const auto ext = e.path().extension();
        if (ext != ".cpp" && ext != ".hpp") continue;
        // The schema: its table (osc_rows*.hpp) and what reads it (osc_schema.*).
        const auto stem = e.path().stem().string();
        if (e.path().parent_path().filename() == "control" &&
            (stem == "osc_schema" || stem.starts_with("osc_rows")))
            continue;
        // The NSM protocol (docs/nsm.md): its /reply, /error and /nsm/... are the session
        // manager's addresses, not looperd's, and must not follow looperd's schema.
        if (e.path().parent_path().filename() == "daemon" && stem == "nsm_client") continue;
        out.push_back(e.path());
    }
    return out;
}

std::string in_repo(const std::filesystem::path& p) {
    return std::filesystem::relative(p, LOOPERD_SOURCE_DIR).string();
}

}  // namespace

// Addresses are spelled in the schema only: no string literal elsewhere in src/ starts with
// an address's first segment ("/slot/", "/clock/", "/error"...), and no verb is passed as a
// literal to the slot address builders.
TEST(OscSchema, NoAddressIsSpelledOutsideTheSchema) {
    std::set<std::string> segments;
    for (const auto& row : osc::rows()) {
        const std::string a(row.address);
        segments.insert(a.substr(0, a.find('/', 1)));
    }
    const std::regex literal(R"re("(/[A-Za-z_.]+)[^"]*")re");
    const std::regex verb_call(R"re(slot_(verb_)?address\([^;]*"([^"]*)")re");
    std::vector<Finding> found;
    for (const auto& file : source_files()) {
        const std::string text = without_comments(read_file(file));
        for (std::sregex_iterator it(text.begin(), text.end(), literal), end; it != end; ++it)
            if (segments.count((*it)[1].str())) found.push_back({in_repo(file), (*it)[0].str()});
        for (std::sregex_iterator it(text.begin(), text.end(), verb_call), end; it != end; ++it)
            found.push_back({in_repo(file), (*it)[0].str()});
    }
    for (const auto& f : found) ADD_FAILURE() << f.file << ": " << f.literal;
}

// Ranges too: no floating-point literal elsewhere in src/ equals a row's bound, except where
// the allowlist says why the number is something else.
TEST(OscSchema, NoRangeIsSpelledOutsideTheSchema) {
    std::set<double> bounds;
    for (const auto& row : osc::rows()) {
        if (row.value != Value::number && row.value != Value::whole &&
            row.value != Value::quantize && row.value != Value::special)
            continue;
        for (const double b : {row.min, row.max})
            if (b != 0.0 && b != 1.0) bounds.insert(b);  // 0 and 1 are everybody's numbers
    }
    // file → literal: why it is not a control range.
    const std::map<std::string, std::map<std::string, std::string>> allowed = {
        {"src/daemon/option_table.cpp",
         {{"0.1", "--max-record-seconds: a command-line range (the option table)"},
          {"1000.0", "--fade-ms's upper bound (the option table)"}}},
        {"src/io/sample_loader.cpp", {{"1024.0", "bytes in a KiB, for MiB in a log line"}}},
        {"src/io/memory_lock.cpp", {{"1024.0", "bytes in a KiB, for MiB in a log line"}}},
        {"src/io/jack_client.hpp", {{"1000.0", "nanoseconds in a microsecond"}}},
        {"src/io/host_time_filter.hpp",
         {{"1000.0",
           "a millisecond in microseconds: how far off the line a clock reading is "
           "left out"}}},
        {"src/engine/engine.cpp",
         {{"1000.0", "milliseconds in a second; EngineConfig's fade bounds (--fade-ms)"},
          {"0.1", "EngineConfig's gain smoothing bounds, checked when the engine is made"}}},
        {"src/engine/voices.cpp",
         {{"64.0", "the engine's clamp on rate × pitch × beats together (1/64 … 64)"}}},
    };
    const std::regex number(R"re((^|[^\w.])(\d+\.\d*|\.\d+)([eE][-+]?\d+)?[fF]?(?![\w.]))re");
    for (const auto& file : source_files()) {
        const std::string text = without_strings(without_comments(read_file(file)));
        const std::string name = in_repo(file);
        for (std::sregex_iterator it(text.begin(), text.end(), number), end; it != end; ++it) {
            const std::string digits = (*it)[2].str() + (*it)[3].str();
            if (!bounds.count(std::stod(digits))) continue;
            const auto f = allowed.find(name);
            if (f != allowed.end() && f->second.count((*it)[2].str())) continue;
            ADD_FAILURE() << name << ": " << digits << " is a control range's bound";
        }
    }
}
