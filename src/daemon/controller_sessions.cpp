// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// Rigs and sessions, the Controller's part (docs/persistence.md): applying a rig's messages
// (a restore, a config file's rig, a session load) and /session/save, load, list.
// Threads: the network thread, or main before it starts (apply_rig); saves complete on the
// persister thread.
#include "daemon/controller.hpp"

#include <spdlog/spdlog.h>

#include "daemon/persistence.hpp"
#include "daemon/rig_state.hpp"

namespace looperd {

void Controller::set_persistence(Persistence* persistence) {
    persistence_ = persistence;
}

void Controller::apply_rig(const std::vector<OscMessage>& messages, const OscEndpoint& from) {
    std::lock_guard one_at_a_time(dispatch_);
    // Pacing: a rig may hold thousands of messages, more than the command ring takes at once.
    constexpr std::size_t kPaceEvery = 32;
    applying_rig_ = true;
    std::size_t n = 0;
    for (const auto& m : messages) {
        if (skipped_without_recording(m)) continue;
        if (++n % kPaceEvery == 0 && pace_) pace_();
        run(m, from, 0);
    }
    applying_rig_ = false;
}

bool Controller::skipped_without_recording(const OscMessage& m) const {
    if ((config_.inputs > 0 && config_.recorders > 0) || m.args.size() != 1) return false;
    const OscArg& a = m.args[0];
    if (a.type != 'i') return false;
    const osc::Row* row = osc::match(m.address);
    return row != nullptr && row->recording && row->saved && static_cast<double>(a.i) == row->def;
}

bool Controller::require_persistence(const Request& r) {
    if (persistence_ != nullptr) return true;
    refuse(r, "persistence is off (--no-state)");
    return false;
}

// /session/save and /session/load: a session name the store accepts, then an optional reply
// URL. nullopt after /error.
std::optional<Controller::SessionRequest> Controller::session_request(const Request& r) {
    if (!check_arity(r, 1, 2)) return std::nullopt;
    const OscArg& a = r.message.args[0];
    std::string why;
    if (!osc::is_string(a)) {
        refuse(r, "expected a session name string");
        return std::nullopt;
    }
    if (!SessionStore::valid_session_name(a.s, why)) {
        refuse(r, why);
        return std::nullopt;
    }
    auto to = reply_endpoint(r, 1);
    if (!to || !require_persistence(r)) return std::nullopt;
    return SessionRequest{a.s, *to};
}

void Controller::osc_session_save(const Request& r) {
    const auto request = session_request(r);
    if (!request) return;
    later(r, [this, to = request->to, name = request->name, from = r.from,
              address = r.message.address] {
        // Written on the persister thread (fsync may take long); answered from there.
        const std::string refused = persistence_->save_session(name, [this, to, name, address](
                                                                         const std::string& e) {
            if (!e.empty())
                report_error(to, address, e);
            else
                reply_(to, OscMessage{std::string(osc::kSessionSaveReply), {OscArg::string(name)}});
        });
        if (!refused.empty()) report_error(from, address, refused);
    });
}

void Controller::osc_session_load(const Request& r) {
    const auto request = session_request(r);
    if (!request) return;
    // One rig's loads at a time: the loads of a rig are not bound by the load queue.
    if (loading_.rig_loads() != 0) {
        refuse(r, "the loads of a previous rig are still in progress");
        return;
    }
    // Read and applied once the transaction holding the request commits: the rig's messages
    // are transactions of their own.
    later(r, [this, to = request->to, name = request->name, from = r.from,
              address = r.message.address] {
        RigState rig;
        try {
            rig = persistence_->load_session(name);
        } catch (const std::exception& e) {
            report_error(from, address, e.what());
            return;
        }
        spdlog::info("loading session {} ({} slot{})", name, rig.slots.size(),
                     rig.slots.size() == 1 ? "" : "s");
        // Its replies (/slot/<n>/loaded, /error) go where the session's reply goes.
        apply_rig(rig_replace_messages(rig, snapshot(), persistence_->defaults()), to);
        reply_(to, OscMessage{std::string(osc::kSessionLoadReply), {OscArg::string(name)}});
    });
}

void Controller::osc_session_list(const Request& r) {
    if (!check_arity(r, 0, 1)) return;
    auto to = reply_endpoint(r, 0);
    if (!to || !require_persistence(r)) return;
    later(r, [this, to = *to, from = r.from, address = r.message.address] {
        std::vector<std::string> names;
        try {
            names = persistence_->list_sessions();
        } catch (const std::exception& e) {
            report_error(from, address, e.what());
            return;
        }
        OscMessage m{std::string(osc::kSessionListReply), {}};
        for (auto& n : names) m.args.push_back(OscArg::string(std::move(n)));
        reply_(to, m);
    });
}

}  // namespace looperd
