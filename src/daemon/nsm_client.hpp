// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>

#include "io/osc_codec.hpp"
#include "io/osc_server.hpp"

namespace looperd::nsm {

// NSM API 1.1.2 (new-session-manager.jackaudio.org/api): the version looperd announces, what
// it can do, and the error codes of the API's table (docs/nsm.md).
inline constexpr std::int32_t kApiMajor = 1;
inline constexpr std::int32_t kApiMinor = 1;
inline constexpr const char* kApplicationName = "looperd";
inline constexpr const char* kCapabilities = ":switch:dirty:";

enum class Error : std::int32_t {
    general = -1,
    incompatible_api = -2,
    blacklisted = -3,
    launch_failed = -4,
    no_such_file = -5,
    no_session_open = -6,
    unsaved_changes = -7,
    not_now = -8,
    bad_project = -9,
    create_failed = -10,
};

inline constexpr const char* kAnnounce = "/nsm/server/announce";
inline constexpr const char* kOpen = "/nsm/client/open";
inline constexpr const char* kSave = "/nsm/client/save";

// What the server asked, or told, as one value per message.
struct Open {
    std::string path;  // the session's directory for this client
    std::string display_name;
    std::string client_id;  // the JACK client name
};
struct Save {};
struct SessionIsLoaded {};
struct Welcome {  // the server's /reply to the announce
    std::string message;
    std::string manager;
    std::string capabilities;
};
struct Refused {  // the server's /error to the announce: no session management then
    std::int32_t code = 0;
    std::string message;
};
// A message the server must be answered /error for: its address, the code and why.
struct Malformed {
    std::string address;
    Error code = Error::general;
    std::string why;
};
struct Ignored {  // needs no answer (optional GUI, another reply, an unknown address)
    std::string address;
};
using Request = std::variant<Open, Save, SessionIsLoaded, Welcome, Refused, Malformed, Ignored>;

// What one message from the server asks. Pure: any thread.
Request parse(const OscMessage& message);

// The messages looperd sends. Pure: any thread.
OscMessage announce_message(std::string_view executable, pid_t pid);
OscMessage reply_message(std::string_view address, std::string_view text);
OscMessage error_message(std::string_view address, Error code, std::string_view text);
OscMessage dirty_message(bool dirty);

class NsmError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Client: looperd's side of an NSM session, one UDP socket connected to the server named by
// NSM_URL, so that the announce, every reply and every dirty/clean notice leave from the
// socket the server knows the client by, and the kernel passes on datagrams from the server
// only. Owned by the main thread, which outlives each run of the daemon (a switch is a new run
// with the same client).
class Client {
  public:
    // Resolves `url` (osc.udp://host:port/) and opens the socket. Throws NsmError.
    explicit Client(const std::string& url);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    void announce(std::string_view executable, pid_t pid);

    // Waits up to timeout_ms (0: not at all) for one datagram from the server and parses its
    // messages' first request (the server sends one message per datagram); a datagram that is
    // not OSC is logged and Ignored. nullopt: nothing came.
    std::optional<Request> receive(int timeout_ms);

    void reply(std::string_view address, std::string_view text);
    void error(std::string_view address, Error code, std::string_view text);
    // Tells the server when the session's dirtiness changes; repeated states send nothing.
    void set_dirty(bool dirty);
    // The server's view is unknown again (a new session starts clean).
    void reset_dirty(bool dirty) { dirty_ = dirty; }

    // Whether the server has been heard to be gone (its port refused a datagram).
    bool gone() const noexcept { return gone_; }
    const std::string& url() const noexcept { return url_; }

  private:
    void send(const OscMessage& message);
    void note_gone();

    std::string url_;
    int fd_ = -1;
    bool dirty_ = false;
    bool gone_ = false;
};

}  // namespace looperd::nsm
