// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// The control-surface examples (examples/open-stage-control, examples/touchosc) are checked
// against the daemon's own address table, so a renamed or removed address breaks this test
// before it breaks someone's stage. The Open Stage Control session is read by a strict JSON
// reader written here (the project has no JSON library).

#include <gtest/gtest.h>

#include <cctype>
#include <cstddef>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/controller.hpp"

namespace looperd {
namespace {

struct Json;
using JsonObject = std::vector<std::pair<std::string, Json>>;  // in file order
using JsonArray = std::vector<Json>;

// One JSON value. Numbers keep their text; the test only compares them.
struct Json {
    enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject } kind = Kind::kNull;
    bool boolean = false;
    std::string text;  // number or string
    std::shared_ptr<JsonArray> array;
    std::shared_ptr<JsonObject> object;

    const Json* find(std::string_view key) const {
        if (kind != Kind::kObject) return nullptr;
        for (const auto& [k, v] : *object) {
            if (k == key) return &v;
        }
        return nullptr;
    }
    std::optional<std::string> string_at(std::string_view key) const {
        const Json* v = find(key);
        if (v == nullptr || v->kind != Kind::kString) return std::nullopt;
        return v->text;
    }
};

class JsonError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// A strict RFC 8259 reader: no comments, no trailing commas, no single quotes, no control
// characters in strings, valid escapes only, duplicate keys refused, nothing after the value.
class JsonReader {
  public:
    explicit JsonReader(std::string_view text) : text_(text) {}

    Json parse() {
        Json v = value(0);
        skip_space();
        if (at_ != text_.size()) fail("text after the value");
        return v;
    }

  private:
    [[noreturn]] void fail(const std::string& what) const {
        std::size_t line = 1;
        for (std::size_t k = 0; k < at_ && k < text_.size(); ++k) line += text_[k] == '\n';
        throw JsonError("line " + std::to_string(line) + ": " + what);
    }

    void skip_space() {
        while (at_ < text_.size() && (text_[at_] == ' ' || text_[at_] == '\t' ||
                                      text_[at_] == '\n' || text_[at_] == '\r')) {
            ++at_;
        }
    }

    char peek() {
        skip_space();
        if (at_ >= text_.size()) fail("unexpected end of text");
        return text_[at_];
    }

    void expect(char c) {
        if (peek() != c) fail(std::string("expected '") + c + "'");
        ++at_;
    }

    Json value(int depth) {
        if (depth > 64) fail("nested too deeply");
        Json v;
        const char c = peek();
        if (c == '{') {
            v.kind = Json::Kind::kObject;
            v.object = std::make_shared<JsonObject>();
            ++at_;
            if (peek() == '}') {
                ++at_;
                return v;
            }
            std::set<std::string> keys;
            for (;;) {
                if (peek() != '"') fail("expected a key");
                std::string key = string();
                if (!keys.insert(key).second) fail("duplicate key \"" + key + "\"");
                expect(':');
                v.object->emplace_back(std::move(key), value(depth + 1));
                if (peek() == ',') {
                    ++at_;
                    continue;
                }
                expect('}');
                return v;
            }
        }
        if (c == '[') {
            v.kind = Json::Kind::kArray;
            v.array = std::make_shared<JsonArray>();
            ++at_;
            if (peek() == ']') {
                ++at_;
                return v;
            }
            for (;;) {
                v.array->push_back(value(depth + 1));
                if (peek() == ',') {
                    ++at_;
                    continue;
                }
                expect(']');
                return v;
            }
        }
        if (c == '"') {
            v.kind = Json::Kind::kString;
            v.text = string();
            return v;
        }
        if (literal("true")) {
            v.kind = Json::Kind::kBool;
            v.boolean = true;
            return v;
        }
        if (literal("false")) {
            v.kind = Json::Kind::kBool;
            return v;
        }
        if (literal("null")) return v;
        v.kind = Json::Kind::kNumber;
        v.text = number();
        return v;
    }

    bool literal(std::string_view word) {
        if (text_.substr(at_, word.size()) != word) return false;
        at_ += word.size();
        return true;
    }

    std::string number() {
        const std::size_t begin = at_;
        auto digits = [&] {
            const std::size_t from = at_;
            while (at_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[at_])))
                ++at_;
            return at_ - from;
        };
        if (at_ < text_.size() && text_[at_] == '-') ++at_;
        if (at_ < text_.size() && text_[at_] == '0') {
            ++at_;
        } else if (digits() == 0) {
            fail("expected a value");
        }
        if (at_ < text_.size() && text_[at_] == '.') {
            ++at_;
            if (digits() == 0) fail("expected digits after '.'");
        }
        if (at_ < text_.size() && (text_[at_] == 'e' || text_[at_] == 'E')) {
            ++at_;
            if (at_ < text_.size() && (text_[at_] == '+' || text_[at_] == '-')) ++at_;
            if (digits() == 0) fail("expected digits in the exponent");
        }
        return std::string(text_.substr(begin, at_ - begin));
    }

    // A string; \u escapes are kept as written (the examples need no decoding of them).
    std::string string() {
        expect('"');
        std::string out;
        for (;;) {
            if (at_ >= text_.size()) fail("unterminated string");
            const char c = text_[at_++];
            if (c == '"') return out;
            if (static_cast<unsigned char>(c) < 0x20) fail("control character in a string");
            if (c != '\\') {
                out += c;
                continue;
            }
            if (at_ >= text_.size()) fail("unterminated escape");
            const char e = text_[at_++];
            switch (e) {
                case '"':
                case '\\':
                case '/':
                    out += e;
                    break;
                case 'b':
                    out += '\b';
                    break;
                case 'f':
                    out += '\f';
                    break;
                case 'n':
                    out += '\n';
                    break;
                case 'r':
                    out += '\r';
                    break;
                case 't':
                    out += '\t';
                    break;
                case 'u':
                    for (int k = 0; k < 4; ++k) {
                        if (at_ >= text_.size() ||
                            !std::isxdigit(static_cast<unsigned char>(text_[at_]))) {
                            fail("bad \\u escape");
                        }
                        ++at_;
                    }
                    out += "\\u";
                    break;
                default:
                    fail(std::string("bad escape \\") + e);
            }
        }
    }

    std::string_view text_;
    std::size_t at_ = 0;
};

Json parse_json(std::string_view text) {
    return JsonReader(text).parse();
}

std::string read_file(const std::string& relative) {
    std::ifstream in(std::string(LOOPERD_SOURCE_DIR) + "/" + relative);
    if (!in) throw std::runtime_error("cannot read " + relative);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

TEST(JsonReader, AcceptsValidJson) {
    EXPECT_NO_THROW(parse_json(R"({"a": [1, -2.5e3, true, false, null, "x\"\\\u00e9"], "b": {}})"));
    EXPECT_NO_THROW(parse_json("[]"));
    EXPECT_NO_THROW(parse_json(" \"just a string\" "));
}

TEST(JsonReader, RefusesInvalidJson) {
    for (const char* bad : {
             R"({"a": 1)",                // unbalanced brace
             R"({"a": [1, 2})",           // bracket closed by a brace
             R"([1, 2]])",                // one bracket too many
             R"({"a": 1,})",              // trailing comma
             R"([1 2])",                  // missing comma
             R"({"a" 1})",                // missing colon
             R"({'a': 1})",               // single quotes
             R"({"a": "x)",               // unterminated string
             R"({"a": "\q"})",            // bad escape
             R"({"a": "\u12"})",          // short \u escape
             "{\"a\": \"line\nbreak\"}",  // raw control character
             R"({"a": 01})",              // leading zero
             R"({"a": .5})",              // no integer part
             R"({"a": 1, "a": 2})",       // duplicate key
             R"({"a": tru})",             // bad literal
             R"({} {})",                  // two values
             R"(// comment
                {})",
             "",
         }) {
        SCOPED_TRACE(bad);
        EXPECT_THROW(parse_json(bad), JsonError);
    }
}

// A widget of the session with its OSC address, variables resolved.
struct Widget {
    std::string id;
    std::string type;
    std::string address;
    bool sends = false;  // false: display only (bypass, or a type that cannot be touched)
};

// Replaces @{parent.variables.KEY} with the parent's variable (the session's only
// inheritance form). Throws if a variable is unknown.
std::string substitute(std::string text, const std::map<std::string, std::string>& variables,
                       const std::string& where) {
    static const std::regex kVariable(R"(@\{parent\.variables\.([A-Za-z_][A-Za-z0-9_]*)\})");
    std::smatch m;
    while (std::regex_search(text, m, kVariable)) {
        const auto it = variables.find(m[1].str());
        if (it == variables.end()) {
            throw std::runtime_error(where + ": no parent variable " + m[1].str());
        }
        text = m.prefix().str() + it->second + m.suffix().str();
    }
    if (text.find("@{") != std::string::npos) {
        throw std::runtime_error(where + ": unresolved inheritance in " + text);
    }
    return text;
}

const std::set<std::string>& containers() {
    static const std::set<std::string> kContainers = {"root", "tab", "panel", "modal"};
    return kContainers;
}

// Collects the widgets under `w` (a root, tab or panel). `variables` are the parent's.
void collect(const Json& w, const std::map<std::string, std::string>& variables,
             std::vector<Widget>& out, std::vector<std::string>& scripts) {
    const auto id = w.string_at("id").value_or("(no id)");
    const auto type = w.string_at("type");
    if (!type) throw std::runtime_error("a widget without a type: " + id);
    for (const char* script : {"onCreate", "onValue", "onTouch"}) {
        if (auto s = w.string_at(script); s && !s->empty()) {
            scripts.push_back(substitute(*s, variables, id + "." + script));
        }
    }
    if (containers().contains(*type)) {
        // A container's own variables are its children's parent variables.
        std::map<std::string, std::string> inner = variables;
        if (const Json* v = w.find("variables"); v != nullptr && v->kind == Json::Kind::kObject) {
            for (const auto& [key, value] : *v->object) {
                if (value.kind != Json::Kind::kNumber && value.kind != Json::Kind::kString) {
                    throw std::runtime_error(id + ": variable " + key + " is not a scalar");
                }
                inner[key] = value.text;
            }
        }
        for (const char* list : {"widgets", "tabs"}) {
            const Json* children = w.find(list);
            if (children == nullptr) continue;
            if (children->kind != Json::Kind::kArray) {
                throw std::runtime_error(id + ": " + list + " is not an array");
            }
            for (const auto& child : *children->array) collect(child, inner, out, scripts);
        }
        return;
    }
    const auto address = w.string_at("address");
    if (!address || *address == "auto" || address->empty()) {
        throw std::runtime_error(id + ": a control needs an explicit address, not \"auto\"");
    }
    const Json* bypass = w.find("bypass");
    const Json* interaction = w.find("interaction");
    const bool bypassed = bypass != nullptr && bypass->kind == Json::Kind::kBool && bypass->boolean;
    const bool touchable = !(interaction != nullptr && interaction->kind == Json::Kind::kBool &&
                             !interaction->boolean);
    Widget widget;
    widget.id = id;
    widget.type = *type;
    widget.address = substitute(*address, variables, id + ".address");
    widget.sends = !bypassed && touchable && *type != "led" && *type != "text";
    out.push_back(std::move(widget));
}

// The addresses feedback sends that no control sends (docs/osc.md, "Feedback"). Parameters
// are echoed on their own addresses, which the route table knows.
struct Session {
    std::vector<Widget> widgets;
    std::vector<std::string> scripts;
};

Session read_session() {
    const Json doc = parse_json(read_file("examples/open-stage-control/looperd.json"));
    if (doc.string_at("type") != "session") throw std::runtime_error("type is not \"session\"");
    if (doc.string_at("createdWith") != "Open Stage Control") {
        throw std::runtime_error("createdWith is not \"Open Stage Control\"");
    }
    const auto version = doc.string_at("version");
    if (!version || !version->starts_with("1.")) throw std::runtime_error("not a 1.x session");
    const Json* root = doc.find("content");
    if (root == nullptr || root->string_at("type") != "root") {
        throw std::runtime_error("content is not a root widget");
    }
    Session s;
    collect(*root, {}, s.widgets, s.scripts);
    return s;
}

TEST(OpenStageControlSession, IsValidJsonWithTheDocumentedLayout) {
    Session s;
    ASSERT_NO_THROW(s = read_session());
    std::set<std::string> addresses;
    std::set<std::string> ids;
    for (const auto& w : s.widgets) {
        addresses.insert(w.address);
        EXPECT_TRUE(ids.insert(w.id).second) << "duplicate id " << w.id;
    }
    for (int n = 0; n < 8; ++n) {
        const std::string p = "/slot/" + std::to_string(n) + "/";
        for (const char* what : {"play", "playing", "position", "gain", "pan"}) {
            EXPECT_TRUE(addresses.contains(p + what)) << "no widget for " << p << what;
        }
    }
    EXPECT_TRUE(addresses.contains("/master/gain"));
    EXPECT_TRUE(addresses.contains("/clock/tempo"));
    // Lights and position bars show what looperd sends; they must never send it back.
    for (const auto& w : s.widgets) {
        if (w.address.ends_with("/playing") || w.address.ends_with("/position")) {
            EXPECT_FALSE(w.sends) << w.id << " would send " << w.address << " to looperd";
        }
    }
}

TEST(OpenStageControlSession, EveryAddressIsOneLooperdKnows) {
    Session s;
    ASSERT_NO_THROW(s = read_session());
    ASSERT_FALSE(s.widgets.empty());
    for (const auto& w : s.widgets) {
        if (w.sends) {
            EXPECT_TRUE(Controller::is_known_address(w.address))
                << w.id << " (" << w.type << ") sends " << w.address;
        } else {
            // A display shows what looperd sends: a parameter echoed on its own address, or
            // one of the addresses only feedback uses.
            EXPECT_TRUE(Controller::is_known_address(w.address) ||
                        Controller::is_feedback_address(w.address))
                << w.id << " (" << w.type << ") shows " << w.address
                << ", which looperd never sends";
        }
    }
    // Addresses the session's scripts send: send('/address', ...).
    static const std::regex kSend(R"(send\(\s*'(/[^']*)')");
    std::size_t sends = 0;
    for (const auto& script : s.scripts) {
        for (std::sregex_iterator it(script.begin(), script.end(), kSend), end; it != end; ++it) {
            ++sends;
            EXPECT_TRUE(Controller::is_known_address((*it)[1].str()))
                << "a script sends " << (*it)[1].str();
        }
    }
    EXPECT_GE(sends, 1U) << "the session does not subscribe with /notify";
}

// The rows of examples/touchosc/README.md's mapping table:
// | `/slot/<n>/gain` | control | range | send | receive |
TEST(TouchOscMapping, EveryAddressIsOneLooperdKnows) {
    const std::string text = read_file("examples/touchosc/README.md");
    static const std::regex kRow(
        R"((^|\n)\|\s*`(/[^`]*)`\s*\|[^|\n]*\|[^|\n]*\|\s*(yes|no)\s*\|\s*(yes|no)\s*\|)");
    std::size_t rows = 0;
    for (std::sregex_iterator it(text.begin(), text.end(), kRow), end; it != end; ++it) {
        std::string address = (*it)[2].str();
        const bool sends = (*it)[3].str() == "yes";
        const bool receives = (*it)[4].str() == "yes";
        const auto n = address.find("<n>");
        if (n != std::string::npos) address.replace(n, 3, "3");
        ++rows;
        SCOPED_TRACE((*it)[2].str());
        EXPECT_TRUE(sends || receives) << "a row that neither sends nor receives";
        if (sends) {
            EXPECT_TRUE(Controller::is_known_address(address)) << "sent, but looperd refuses it";
        } else {
            EXPECT_TRUE(Controller::is_known_address(address) ||
                        Controller::is_feedback_address(address))
                << "shown, but looperd never sends it";
        }
        if (Controller::is_feedback_address(address)) {
            EXPECT_TRUE(receives && !sends);
        }
    }
    EXPECT_GE(rows, 15U) << "the mapping table was not found";
}

TEST(SurfaceAddressCheck, RefusesAddressesLooperdDoesNotKnow) {
    // The checks above mean something only if the table refuses what it should.
    EXPECT_FALSE(Controller::is_known_address("/slot/3/volume"));
    EXPECT_FALSE(Controller::is_known_address("/slot/@{parent.variables.slot}/play"));
    EXPECT_FALSE(Controller::is_known_address("/nope"));
    EXPECT_TRUE(Controller::is_known_address("/slot/3/play"));
    // Feedback-only addresses are shown, never sent: the route table must not take them.
    EXPECT_FALSE(Controller::is_known_address("/slot/3/playing"));
    EXPECT_FALSE(Controller::is_known_address("/slot/3/position"));
    EXPECT_TRUE(Controller::is_feedback_address("/slot/3/playing"));
    EXPECT_FALSE(Controller::is_feedback_address("/slot/3/play"));
}

}  // namespace
}  // namespace looperd
