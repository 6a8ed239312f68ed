// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// DnsSdPublisher with Avahi's client library: avahi-daemon does the mDNS, looperd asks it over
// D-Bus. Built when meson finds libavahi-client (the avahi feature).
//
// Everything below runs on the threaded poll's thread, which owns State from start() to stop():
//
//   connect (a timeout, at once)  →  avahi_client_new(NO_FAIL)
//       fails (no D-Bus)          →  warn once; connect again in kRetry
//   client CONNECTING             →  avahi-daemon not on the bus: warn once, wait for it
//   client S_RUNNING              →  add the service to an entry group, commit
//   group ESTABLISHED             →  "announced" (info)
//   group COLLISION, or add says  →  the alternative name, logged; add again
//     AVAHI_ERR_COLLISION
//   client S_COLLISION/REGISTERING→  the daemon renames the host: reset the group, wait for
//                                    S_RUNNING
//   client FAILURE                →  the daemon or D-Bus went away: warn, free the client
//                                    (on the next turn of the loop, not inside its own
//                                    callback), connect again
#include <avahi-client/client.h>
#include <avahi-client/publish.h>
#include <avahi-common/alternative.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/strlst.h>
#include <avahi-common/thread-watch.h>
#include <avahi-common/timeval.h>
#include <spdlog/spdlog.h>

#include <stdexcept>
#include <string>
#include <utility>

#include "daemon/dns_sd_publisher.hpp"

namespace looperd {

namespace {

// How often D-Bus is tried again while it cannot be reached. avahi-daemon itself needs no
// polling: once connected to D-Bus, the client library hears it appear.
constexpr unsigned kRetryMs = 5000;
// Names tried in a row when avahi-daemon refuses each one as taken locally.
constexpr int kMaxLocalRenames = 32;

AvahiProtocol protocol_of(DnsSdFamily family) {
    switch (family) {
        case DnsSdFamily::ipv4:
            return AVAHI_PROTO_INET;
        case DnsSdFamily::ipv6:
            return AVAHI_PROTO_INET6;
        case DnsSdFamily::any:
            break;
    }
    return AVAHI_PROTO_UNSPEC;
}

}  // namespace

struct DnsSdPublisher::State {
    DnsSdService service;
    std::string name;  // service.name, or the alternative a collision led to
    AvahiThreadedPoll* poll = nullptr;
    AvahiClient* client = nullptr;
    AvahiEntryGroup* group = nullptr;
    AvahiTimeout* connect_timer = nullptr;
    bool warned = false;     // the one warning about D-Bus or avahi-daemon has been logged
    bool announced = false;  // the group is established

    const AvahiPoll* api() const { return avahi_threaded_poll_get(poll); }

    void schedule_connect(unsigned ms) {
        timeval when{};
        avahi_elapse_time(&when, ms, 0);
        api()->timeout_update(connect_timer, &when);
    }

    // Warnings about a missing D-Bus or avahi-daemon: the first at warn, the rest at debug, so
    // that a rig without avahi-daemon says so once, not every few seconds.
    template <typename... Args>
    void warn_once(spdlog::format_string_t<Args...> format, Args&&... args) {
        spdlog::level::level_enum level = warned ? spdlog::level::debug : spdlog::level::warn;
        warned = true;
        spdlog::log(level, format, std::forward<Args>(args)...);
    }

    static void on_connect_timer(AvahiTimeout*, void* self) {
        static_cast<State*>(self)->connect();
    }
    static void on_client(AvahiClient* c, AvahiClientState s, void* self) {
        static_cast<State*>(self)->client_changed(c, s);
    }
    static void on_group(AvahiEntryGroup* g, AvahiEntryGroupState s, void* self) {
        static_cast<State*>(self)->group_changed(g, s);
    }

    void connect() {
        drop_client();
        int error = 0;
        // NO_FAIL: an absent avahi-daemon is a state to wait in (CONNECTING), not an error.
        // Only an unreachable D-Bus makes this fail.
        AvahiClient* c = avahi_client_new(api(), AVAHI_CLIENT_NO_FAIL, on_client, this, &error);
        if (c == nullptr) {
            warn_once(
                "DNS-SD: cannot reach D-Bus's system bus ({}): '{}' is not announced on "
                "the network; trying again every {} s",
                avahi_strerror(error), name, kRetryMs / 1000);
            schedule_connect(kRetryMs);
            return;
        }
        client = c;
    }

    void drop_client() {
        if (client == nullptr) return;
        avahi_client_free(client);  // frees the group too
        client = nullptr;
        group = nullptr;
        announced = false;
    }

    void client_changed(AvahiClient* c, AvahiClientState s) {
        // Called from inside avahi_client_new too, before it has returned the client.
        client = c;
        switch (s) {
            case AVAHI_CLIENT_S_RUNNING:
                add_service();
                break;
            case AVAHI_CLIENT_CONNECTING:
                warn_once(
                    "DNS-SD: avahi-daemon is not running: '{}' is announced on the network "
                    "when it starts",
                    name);
                break;
            case AVAHI_CLIENT_S_COLLISION:
            case AVAHI_CLIENT_S_REGISTERING:
                // The daemon is (re)naming the host; records are added again once it runs.
                if (group != nullptr) avahi_entry_group_reset(group);
                announced = false;
                break;
            case AVAHI_CLIENT_FAILURE: {
                const int error = avahi_client_errno(c);
                if (announced) {
                    spdlog::warn(
                        "DNS-SD: lost avahi-daemon ({}): '{}' is announced again when it is back",
                        avahi_strerror(error), name);
                    warned = true;  // waiting for it to come back is said at debug level only
                } else {
                    warn_once("DNS-SD: avahi-daemon: {}: '{}' is not announced; trying again",
                              avahi_strerror(error), name);
                }
                announced = false;
                // Freed on the loop's next turn: the library still uses the client after
                // this callback returns.
                schedule_connect(error == AVAHI_ERR_DISCONNECTED ? 0 : kRetryMs);
                break;
            }
        }
    }

    void group_changed(AvahiEntryGroup* g, AvahiEntryGroupState s) {
        group = g;
        switch (s) {
            case AVAHI_ENTRY_GROUP_ESTABLISHED:
                announced = true;
                warned = false;  // a later loss of avahi-daemon is worth a warning again
                spdlog::info("DNS-SD: announced '{}' as {} {}", name, kDnsSdServiceType,
                             service.where());
                break;
            case AVAHI_ENTRY_GROUP_COLLISION:
                // Another host on the network has the name.
                rename();
                avahi_entry_group_reset(g);
                add_service();
                break;
            case AVAHI_ENTRY_GROUP_FAILURE:
                spdlog::warn("DNS-SD: avahi-daemon could not announce '{}': {}", name,
                             avahi_strerror(avahi_client_errno(avahi_entry_group_get_client(g))));
                break;
            case AVAHI_ENTRY_GROUP_UNCOMMITED:
            case AVAHI_ENTRY_GROUP_REGISTERING:
                break;
        }
    }

    // The next name for a taken one: "looperd on stage" → "looperd on stage #2" → "... #3".
    void rename() {
        char* next = avahi_alternative_service_name(name.c_str());
        if (next == nullptr) return;
        spdlog::warn("DNS-SD: the name '{}' is taken on the network: announcing as '{}'", name,
                     next);
        name = next;
        avahi_free(next);
    }

    void add_service() {
        if (client == nullptr) return;
        if (group == nullptr) {
            group = avahi_entry_group_new(client, on_group, this);
            if (group == nullptr) {
                spdlog::warn("DNS-SD: cannot create an entry group: {}",
                             avahi_strerror(avahi_client_errno(client)));
                return;
            }
        }
        if (!avahi_entry_group_is_empty(group)) return;  // already added, maybe committed

        AvahiStringList* txt = nullptr;
        // avahi_string_list_add prepends: add from the last so that the order is kept.
        for (auto it = service.txt.rbegin(); it != service.txt.rend(); ++it)
            txt = avahi_string_list_add(txt, it->c_str());
        const AvahiIfIndex interface = service.interface_index == 0
                                           ? AVAHI_IF_UNSPEC
                                           : static_cast<AvahiIfIndex>(service.interface_index);
        const std::string type(kDnsSdServiceType);
        int result = AVAHI_OK;
        // A name another service of this machine already has is refused at once (the
        // network's collisions come later, through the group's state).
        for (int tries = 0; tries < kMaxLocalRenames; ++tries) {
            result = avahi_entry_group_add_service_strlst(
                group, interface, protocol_of(service.family), AvahiPublishFlags{}, name.c_str(),
                type.c_str(), nullptr, nullptr, service.port, txt);
            if (result != AVAHI_ERR_COLLISION) break;
            rename();
        }
        avahi_string_list_free(txt);
        if (result < 0) {
            spdlog::warn("DNS-SD: cannot announce '{}': {}", name, avahi_strerror(result));
            return;
        }
        result = avahi_entry_group_commit(group);
        if (result < 0)
            spdlog::warn("DNS-SD: cannot announce '{}': {}", name, avahi_strerror(result));
    }
};

DnsSdPublisher::DnsSdPublisher(DnsSdService service) : state_(std::make_unique<State>()) {
    state_->service = std::move(service);
    state_->name = state_->service.name;
    state_->poll = avahi_threaded_poll_new();
    if (state_->poll == nullptr) throw std::runtime_error("DNS-SD: cannot create Avahi's poll");
    // Connecting is the thread's first job (a zero timeout), so that main never waits on D-Bus.
    timeval now{};
    avahi_elapse_time(&now, 0, 0);
    state_->connect_timer =
        state_->api()->timeout_new(state_->api(), &now, State::on_connect_timer, state_.get());
    if (state_->connect_timer == nullptr || avahi_threaded_poll_start(state_->poll) < 0) {
        avahi_threaded_poll_free(state_->poll);
        throw std::runtime_error("DNS-SD: cannot start Avahi's thread");
    }
}

DnsSdPublisher::~DnsSdPublisher() {
    // The thread has stopped after this: State is the main thread's again.
    avahi_threaded_poll_stop(state_->poll);
    const bool announced = state_->announced;
    // Freeing the client frees the entry group: avahi-daemon withdraws the service.
    state_->drop_client();
    if (announced) spdlog::info("DNS-SD: withdrew '{}'", state_->name);
    avahi_threaded_poll_free(state_->poll);  // frees the timeout too
}

bool DnsSdPublisher::built_in() noexcept {
    return true;
}

}  // namespace looperd
