// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "daemon/nsm_client.hpp"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace looperd::nsm {

namespace {

bool all_strings(const OscMessage& m, std::size_t count) {
    if (m.args.size() != count) return false;
    for (const auto& a : m.args)
        if (a.type != 's' && a.type != 'S') return false;
    return true;
}

}  // namespace

Request parse(const OscMessage& m) {
    if (m.address == kOpen) {
        if (!all_strings(m, 3))
            return Malformed{
                m.address, Error::general,
                "expected s:path s:display_name s:client_id, got '" + m.type_tags() + "'"};
        if (m.args[0].s.empty() || m.args[2].s.empty())
            return Malformed{m.address, Error::general, "empty path or client id"};
        return Open{m.args[0].s, m.args[1].s, m.args[2].s};
    }
    if (m.address == kSave) {
        if (!m.args.empty())
            return Malformed{m.address, Error::general,
                             "expected no arguments, got '" + m.type_tags() + "'"};
        return Save{};
    }
    if (m.address == "/nsm/client/session_is_loaded") return SessionIsLoaded{};
    // The announce's answer: /reply s:"/nsm/server/announce" s:message s:manager s:capabilities,
    // or /error s:"/nsm/server/announce" i:code s:message.
    const bool to_announce = !m.args.empty() && (m.args[0].type == 's' || m.args[0].type == 'S') &&
                             m.args[0].s == kAnnounce;
    if (m.address == "/reply" && to_announce) {
        Welcome w;
        if (m.args.size() > 1) w.message = m.args[1].s;
        if (m.args.size() > 2) w.manager = m.args[2].s;
        if (m.args.size() > 3) w.capabilities = m.args[3].s;
        return w;
    }
    if (m.address == "/error" && to_announce) {
        Refused r;
        if (m.args.size() > 1 && m.args[1].type == 'i') r.code = m.args[1].i;
        if (m.args.size() > 2) r.message = m.args[2].s;
        return r;
    }
    return Ignored{m.address};
}

OscMessage announce_message(std::string_view executable, pid_t pid) {
    return {kAnnounce,
            {OscArg::string(kApplicationName), OscArg::string(kCapabilities),
             OscArg::string(std::string(executable)), OscArg::int32(kApiMajor),
             OscArg::int32(kApiMinor), OscArg::int32(static_cast<std::int32_t>(pid))}};
}

OscMessage reply_message(std::string_view address, std::string_view text) {
    return {"/reply", {OscArg::string(std::string(address)), OscArg::string(std::string(text))}};
}

OscMessage error_message(std::string_view address, Error code, std::string_view text) {
    return {"/error",
            {OscArg::string(std::string(address)), OscArg::int32(static_cast<std::int32_t>(code)),
             OscArg::string(std::string(text))}};
}

OscMessage dirty_message(bool dirty) {
    return {dirty ? "/nsm/client/is_dirty" : "/nsm/client/is_clean", {}};
}

Client::Client(const std::string& url) : url_(url) {
    std::string why;
    const auto server = OscServer::resolve_url(url, why);
    if (!server) throw NsmError("NSM_URL: " + why);
    fd_ = ::socket(server->addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw NsmError(std::string("NSM: socket: ") + std::strerror(errno));
    // Connected: the kernel picks the source address once, passes on only the server's
    // datagrams, and reports a server that went away as ECONNREFUSED.
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&server->addr), server->len) != 0) {
        const int err = errno;
        ::close(fd_);
        throw NsmError("NSM: cannot reach " + url + ": " + std::strerror(err));
    }
}

Client::~Client() {
    if (fd_ >= 0) ::close(fd_);
}

void Client::note_gone() {
    if (!gone_) spdlog::warn("NSM server {} is gone: looperd plays on, unmanaged", url_);
    gone_ = true;
}

void Client::send(const OscMessage& message) {
    std::vector<std::uint8_t> datagram;
    try {
        datagram = encode_osc_message(message);
    } catch (const OscDecodeError& e) {
        spdlog::error("NSM: cannot encode {}: {}", message.address, e.what());
        return;
    }
    if (::send(fd_, datagram.data(), datagram.size(), MSG_DONTWAIT) < 0) {
        if (errno == ECONNREFUSED)
            note_gone();
        else
            spdlog::warn("NSM: cannot send {} to {}: {}", message.address, url_,
                         std::strerror(errno));
    }
}

void Client::announce(std::string_view executable, pid_t pid) {
    spdlog::info("NSM: announcing to {}", url_);
    send(announce_message(executable, pid));
}

void Client::reply(std::string_view address, std::string_view text) {
    send(reply_message(address, text));
}

void Client::error(std::string_view address, Error code, std::string_view text) {
    spdlog::error("NSM: {} refused ({}): {}", address, static_cast<int>(code), text);
    send(error_message(address, code, text));
}

void Client::set_dirty(bool dirty) {
    if (dirty == dirty_) return;
    dirty_ = dirty;
    send(dirty_message(dirty));
}

std::optional<Request> Client::receive(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return std::nullopt;
    std::vector<std::uint8_t> packet(kMaxOscPacketBytes);
    const ssize_t n = ::recv(fd_, packet.data(), packet.size(), MSG_DONTWAIT);
    if (n < 0) {
        if (errno == ECONNREFUSED) note_gone();
        return std::nullopt;
    }
    std::vector<OscMessage> messages;
    try {
        messages = decode_osc_packet(packet.data(), static_cast<std::size_t>(n));
    } catch (const OscDecodeError& e) {
        spdlog::warn("NSM: a datagram from the server is not OSC: {}", e.what());
        return Ignored{};
    }
    if (messages.empty()) return Ignored{};
    if (messages.size() > 1)
        spdlog::warn("NSM: a bundle of {} messages: only {} is read", messages.size(),
                     messages.front().address);
    gone_ = false;
    return parse(messages.front());
}

}  // namespace looperd::nsm
