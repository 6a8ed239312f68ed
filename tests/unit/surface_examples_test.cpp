// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// The TouchOSC mapping table (examples/touchosc) is checked against the daemon's own address
// table, so a renamed or removed address breaks this test before it breaks someone's stage.
// The Open Stage Control session is checked by tests/surface/surface_test.py, against the
// schema's roles and argument types and the app's widget properties.

#include <gtest/gtest.h>

#include <cstddef>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>

#include "daemon/controller.hpp"

namespace looperd {
namespace {

std::string read_file(const std::string& relative) {
    std::ifstream in(std::string(LOOPERD_SOURCE_DIR) + "/" + relative);
    if (!in) throw std::runtime_error("cannot read " + relative);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
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
