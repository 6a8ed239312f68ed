// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "daemon/feedback.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <string_view>

#include "looperd/engine.hpp"

namespace looperd {

namespace {

// Whether a slot in `state` sounds: playing, overdubbing onto a take that keeps looping, or
// playing on until its quantized stop (or fading out).
bool is_playing(std::string_view state) {
    return state == "playing" || state == "overdubbing" || state == "stopping";
}

const std::vector<const osc::Row*>& slot_rows() {
    static const std::vector<const osc::Row*> rows = saved_slot_rows();
    return rows;
}

// A slot's parameters, each on the verb a control sends, in the order /refresh and
// /slot/<n>/info list them: all of them, or only those of the first state format (`v1` true)
// or only those added since (false).
template <typename Add>
void each_param(const SlotParams& p, Add&& add, std::optional<bool> v1 = std::nullopt) {
    for (const osc::Row* row : slot_rows())
        if (!v1 || row->state_v1 == *v1) add(osc::slot_verb(row->address), p.value(*row));
}

constexpr int kMaxFailedSends = 10;

// The IP of an endpoint as 16 bytes (IPv4 as v4-mapped IPv6), so that a v4 peer seen on a
// dual-stack socket matches the same peer named by a v4 URL.
std::optional<std::array<std::uint8_t, 16>> ip_of(const OscEndpoint& e) {
    std::array<std::uint8_t, 16> ip{};
    if (e.addr.ss_family == AF_INET) {
        sockaddr_in in{};
        std::memcpy(&in, &e.addr, sizeof(in));
        ip[10] = 0xFF;
        ip[11] = 0xFF;
        std::memcpy(&ip[12], &in.sin_addr, 4);
        return ip;
    }
    if (e.addr.ss_family == AF_INET6) {
        sockaddr_in6 in6{};
        std::memcpy(&in6, &e.addr, sizeof(in6));
        std::memcpy(ip.data(), &in6.sin6_addr, 16);
        return ip;
    }
    return std::nullopt;
}

std::uint16_t port_of(const OscEndpoint& e) {
    if (e.addr.ss_family == AF_INET) {
        sockaddr_in in{};
        std::memcpy(&in, &e.addr, sizeof(in));
        return ntohs(in.sin_port);
    }
    if (e.addr.ss_family == AF_INET6) {
        sockaddr_in6 in6{};
        std::memcpy(&in6, &e.addr, sizeof(in6));
        return ntohs(in6.sin6_port);
    }
    return 0;
}

bool same_ip(const OscEndpoint& a, const OscEndpoint& b) {
    const auto ia = ip_of(a);
    return ia && ia == ip_of(b);
}

bool same_endpoint(const OscEndpoint& a, const OscEndpoint& b) {
    return same_ip(a, b) && port_of(a) == port_of(b);
}

// Whether a message from `from` comes from the owner of the subscription `to`: its sender, or
// the subscribed endpoint itself; for zero-configuration, any port of the owner's IP.
bool owned_by(const OscEndpoint& owner, const OscEndpoint& to, bool zero_config,
              const OscEndpoint& from) {
    return zero_config ? same_ip(owner, from)
                       : same_endpoint(owner, from) || same_endpoint(to, from);
}

OscEndpoint with_port(OscEndpoint e, std::uint16_t port) {
    if (e.addr.ss_family == AF_INET) {
        reinterpret_cast<sockaddr_in*>(&e.addr)->sin_port = htons(port);
    } else if (e.addr.ss_family == AF_INET6) {
        reinterpret_cast<sockaddr_in6*>(&e.addr)->sin6_port = htons(port);
    }
    return e;
}

// An interval of 1/hz rounded up, so that hz intervals never fit in less than a second.
std::chrono::nanoseconds interval_of(std::uint32_t hz) {
    const std::int64_t ns = (1'000'000'000LL + hz - 1) / std::max<std::uint32_t>(hz, 1);
    return std::chrono::nanoseconds(ns);
}

// Floor division: beat -1 of a 4/4 bar is beat 4 of bar 0.
std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

}  // namespace

Feedback::Feedback(const FeedbackConfig& config, Engine& engine, MirrorSource mirror,
                   SendDatagram send, Now now)
    : config_(config),
      engine_(engine),
      mirror_(std::move(mirror)),
      send_(std::move(send)),
      now_(std::move(now)),
      burst_interval_(interval_of(config.feedback_rate)),
      position_interval_(interval_of(config.position_rate)) {
    const TimePoint t = now_();
    for (const auto& to : config_.static_subscribers) add_subscriber(to, to, true, false, 1, t);
}

Feedback::~Feedback() {
    stop();
}

// The feedback thread: a fixed-rate timer. Work per tick is bounded by slots + subscribers ×
// pending messages; a slow tick only delays the next one.
void Feedback::start() {
    worker_.start({.round =
                       [this] {
                           try {
                               tick(now_());
                           } catch (const std::exception& e) {
                               spdlog::error("feedback thread: {}", e.what());
                           }
                       },
                   .next_period = [this] { return next_tick(); },
                   .fixed_rate = true,
                   .name = "feedback"});
}

void Feedback::stop() {
    worker_.stop();
}

WorkerThread::Clock::duration Feedback::next_tick() const {
    // Nobody to tell: no tick copies the mirror or takes the meters (a subscriber gets the
    // whole state at its first burst anyway). add_subscriber() wakes the thread.
    return WorkerThread::rest_unless(
        subscriber_count() > 0,
        interval_of(std::max(config_.feedback_rate, config_.position_rate)));
}

void Feedback::publish(OscMessage message, const std::optional<OscEndpoint>& origin) {
    std::lock_guard lock(mutex_);
    if (subscribers_.empty()) return;
    published_.push_back({std::move(message), origin});
}

void Feedback::touch(const OscEndpoint& from) {
    const TimePoint t = now_();
    std::lock_guard lock(mutex_);
    bool zero_config_found = false;
    for (auto& s : subscribers_) {
        if (owned_by(s.owner, s.to, s.zero_config, from)) s.last_heard = t;
        if (s.zero_config && same_ip(s.owner, from)) zero_config_found = true;
    }
    resubscribe(from, t);
    if (config_.feedback_port == 0 || zero_config_found) return;
    const OscEndpoint to = with_port(from, config_.feedback_port);
    if (Subscriber* existing = find(to)) {
        existing->last_heard = t;  // already subscribed by /notify or --notify
        return;
    }
    if (!make_room()) {
        const std::string who = to.to_string();
        if (std::find(refused_.begin(), refused_.end(), who) == refused_.end()) {
            if (refused_.size() < 256) refused_.push_back(who);
            spdlog::warn("feedback: not subscribing {}: {} subscribers already, all --notify", who,
                         config_.max_subscribers);
        }
        return;
    }
    add_subscriber(to, from, false, true, 1, t);
    spdlog::info("feedback: subscribed {} (zero-configuration)", to.to_string());
}

// Under mutex_: a subscriber dropped earlier (failed sends, evicted, silent) whose owner is
// heard again comes back with its mode, and gets the whole state at its next burst.
void Feedback::resubscribe(const OscEndpoint& from, TimePoint now) {
    for (auto it = dropped_.begin(); it != dropped_.end(); ++it) {
        if (!owned_by(it->owner, it->to, it->zero_config, from)) continue;
        const Dropped d = *it;
        dropped_.erase(it);
        if (find(d.to) != nullptr || !make_room()) return;
        add_subscriber(d.to, d.owner, false, d.zero_config, d.mode, now);
        spdlog::info("feedback: resubscribed {} (mode {}): its owner {} is back", d.to.to_string(),
                     d.mode, from.to_string());
        return;
    }
}

// Under mutex_: whether there is room for one more subscriber, evicting the least recently
// heard one (never a --notify one) when the table is full.
bool Feedback::make_room() {
    if (subscribers_.size() < config_.max_subscribers) return true;
    auto oldest = subscribers_.end();
    for (auto it = subscribers_.begin(); it != subscribers_.end(); ++it) {
        if (it->is_static) continue;
        if (oldest == subscribers_.end() || it->last_heard < oldest->last_heard) oldest = it;
    }
    if (oldest == subscribers_.end()) return false;
    spdlog::info("feedback: dropped {} (least recently heard of {} subscribers)",
                 oldest->to.to_string(), subscribers_.size());
    drop(oldest);
    return true;
}

// Under mutex_: removes a subscriber, remembering it for resubscribe().
std::vector<Feedback::Subscriber>::iterator Feedback::drop(std::vector<Subscriber>::iterator it) {
    // Bounded: the oldest memory goes first.
    if (dropped_.size() >= config_.max_subscribers) dropped_.erase(dropped_.begin());
    dropped_.push_back({it->to, it->owner, it->mode, it->zero_config});
    if (forget_) forget_(it->to);
    return subscribers_.erase(it);
}

std::string Feedback::subscribe(const OscEndpoint& to, const OscEndpoint& owner, int mode) {
    if (mode != 1 && mode != 2) return "mode must be 0 (unsubscribe), 1 or 2";
    const TimePoint t = now_();
    std::lock_guard lock(mutex_);
    forget_dropped(to);
    if (Subscriber* s = find(to)) {
        // Subscribing again refreshes: a surface that restarted wants the whole state.
        s->owner = owner;
        s->mode = mode;
        s->zero_config = false;
        s->last_heard = t;
        s->wants_state = true;
        return {};
    }
    if (!make_room()) {
        spdlog::warn("feedback: refused {}: {} subscribers already, all --notify", to.to_string(),
                     config_.max_subscribers);
        return "too many subscribers (at most " + std::to_string(config_.max_subscribers) +
               ", all --notify)";
    }
    add_subscriber(to, owner, false, false, mode, t);
    spdlog::info("feedback: subscribed {} (mode {})", to.to_string(), mode);
    return {};
}

void Feedback::forget_dropped(const OscEndpoint& to) {
    dropped_.erase(std::remove_if(dropped_.begin(), dropped_.end(),
                                  [&to](const Dropped& d) { return same_endpoint(d.to, to); }),
                   dropped_.end());
}

bool Feedback::unsubscribe(const OscEndpoint& to) {
    std::lock_guard lock(mutex_);
    forget_dropped(to);  // asked to stop: not brought back
    const auto it = std::find_if(subscribers_.begin(), subscribers_.end(),
                                 [&to](const Subscriber& s) { return same_endpoint(s.to, to); });
    if (it == subscribers_.end()) return false;
    if (forget_) forget_(it->to);
    subscribers_.erase(it);
    spdlog::info("feedback: unsubscribed {}", to.to_string());
    return true;
}

std::size_t Feedback::subscriber_count() const {
    std::lock_guard lock(mutex_);
    return subscribers_.size();
}

bool Feedback::is_subscribed(const OscEndpoint& to) const {
    std::lock_guard lock(mutex_);
    return find(to) != nullptr;
}

void Feedback::add_subscriber(const OscEndpoint& to, const OscEndpoint& owner, bool is_static,
                              bool zero_config, int mode, TimePoint now) {
    Subscriber s;
    s.to = to;
    s.owner = owner;
    s.is_static = is_static;
    s.zero_config = zero_config;
    s.mode = mode;
    s.last_heard = now;
    s.next_burst = TimePoint{};
    subscribers_.push_back(std::move(s));
    worker_.notify();  // it may rest (next_tick)
}

Feedback::Subscriber* Feedback::find(const OscEndpoint& to) {
    for (auto& s : subscribers_)
        if (same_endpoint(s.to, to)) return &s;
    return nullptr;
}

const Feedback::Subscriber* Feedback::find(const OscEndpoint& to) const {
    for (const auto& s : subscribers_)
        if (same_endpoint(s.to, to)) return &s;
    return nullptr;
}

// The latest value per address wins; the address keeps the place of its first change.
void Feedback::coalesce(std::vector<OscMessage>& pending, const OscMessage& m) {
    for (auto& p : pending) {
        if (p.address == m.address) {
            p.args = m.args;
            return;
        }
    }
    pending.push_back(m);
}

const char* Feedback::state_name(const SlotMirror& slot, bool sounding, Engine::RecordState record,
                                 Engine::SlotPending pending, bool stretching) {
    // What the slot does now comes first: a take being recorded or layered.
    if (record == Engine::RecordState::recording) return "recording";
    if (record == Engine::RecordState::overdubbing) return "overdubbing";
    if (slot.loading) return "loading";
    // A rendering on its way: the slot plays its previous one (or follows by its rate).
    if (stretching && slot.loaded) return "stretching";
    // A take loops in a slot that holds no file: it plays all the same.
    if (sounding) return pending.stop ? "stopping" : "playing";
    if (pending.fading) return "stopping";
    // A press taken, waiting for its grid frame (a play, or a record on an empty slot).
    if (pending.start) return "queued";
    return slot.loaded ? "stopped" : "empty";
}

Feedback::Shown Feedback::slot_state(const SlotMirror& slot, std::uint32_t n) const {
    const bool sounding = engine_.slot_sounding_voices(n) > 0;
    const char* state = state_name(slot, sounding, engine_.slot_record_state(n),
                                   engine_.slot_pending(n), stretching_ && stretching_(n));
    return {state, is_playing(state) || (sounding && std::string_view(state) == "stretching")};
}

std::vector<OscMessage> Feedback::state_messages() const {
    return state_messages(mirror_());
}

std::vector<OscMessage> Feedback::state_messages(const MirrorState& mirror) const {
    std::vector<OscMessage> out;
    out.reserve(6 + mirror.slots.size() * (2 + slot_rows().size()));
    using osc::Handler;
    auto at = [](Handler h) { return std::string(osc::row(h).echo); };
    out.push_back({at(Handler::master_gain), {OscArg::float32(mirror.master_gain)}});
    out.push_back({at(Handler::clock_tempo), {OscArg::float32(mirror.tempo)}});
    out.push_back({at(Handler::clock_meter), {OscArg::int32(mirror.meter)}});
    out.push_back({at(Handler::clock_sync), {OscArg::string(std::string(sync_name(mirror.sync)))}});
    out.push_back({at(Handler::clock_playing), {OscArg::int32(mirror.playing)}});
    out.push_back({at(Handler::monitor), {OscArg::int32(mirror.monitor)}});
    out.push_back({std::string(osc::kMidiLearning), {OscArg::string(mirror.midi_learning)}});
    out.push_back({std::string(osc::kClockLinkPeers), {OscArg::int32(link_peers())}});
    for (std::uint32_t n = 0; n < mirror.slots.size(); ++n) {
        const SlotMirror& s = mirror.slots[n];
        const SlotParams& p = s.params;
        const Shown shown = slot_state(s, n);
        auto add = [&out, n](std::string_view verb, OscArg v) {
            out.push_back({osc::slot_verb_address(n, verb), {std::move(v)}});
        };
        add(osc::slot_verb(osc::kSlotState), OscArg::string(shown.state));
        add(osc::slot_verb(osc::kSlotPlaying), OscArg::float32(shown.playing ? 1.0F : 0.0F));
        each_param(p, add);
    }
    return out;
}

Feedback::SendResult Feedback::send_bundles(const OscEndpoint& to,
                                            const std::vector<OscMessage>& messages) const {
    SendResult result = SendResult::sent;
    for (const auto& datagram : encode_osc_bundles(messages, config_.max_datagram)) {
        const SendResult r = send_(to, datagram);
        // Refused is the strongest evidence: nothing listens there.
        if (r == SendResult::refused) return r;
        if (r == SendResult::failed) result = r;
    }
    return result;
}

bool Feedback::send_state(const OscEndpoint& to) const {
    return send_bundles(to, state_messages()) == SendResult::sent;
}

OscMessage Feedback::info_message(std::uint32_t slot) const {
    const MirrorState mirror = mirror_();
    OscMessage m{osc::slot_address(osc::kSlotInfoReply, slot), {}};
    if (slot >= mirror.slots.size()) return m;
    const SlotMirror& s = mirror.slots[slot];
    const SlotParams& p = s.params;
    const Shown shown = slot_state(s, slot);
    auto add = [&m](std::string_view key, OscArg v) {
        m.args.push_back(OscArg::string(std::string(key)));
        m.args.push_back(std::move(v));
    };
    const float seconds =
        s.sample_rate > 0 ? static_cast<float>(s.frames) / static_cast<float>(s.sample_rate) : 0.0F;
    add("state", OscArg::string(shown.state));
    add("path", OscArg::string(s.path));
    add("frames", OscArg::int32(static_cast<std::int32_t>(s.frames)));
    add("channels", OscArg::int32(static_cast<std::int32_t>(s.channels)));
    add("seconds", OscArg::float32(seconds));
    // The first format's parameters, then `playing`, then those added since: each keeps its
    // place for a reader that goes by position.
    each_param(p, add, true);
    add("playing",
        OscArg::int32(std::string_view(shown.state) == "playing" ||
                              (shown.playing && std::string_view(shown.state) == "stretching")
                          ? 1
                          : 0));
    each_param(p, add, false);
    return m;
}

OscMessage Feedback::slots_message() const {
    const MirrorState mirror = mirror_();
    OscMessage m{std::string(osc::kSlotsReply), {}};
    for (std::uint32_t n = 0; n < mirror.slots.size(); ++n) {
        if (!mirror.slots[n].loaded) continue;
        m.args.push_back(OscArg::int32(static_cast<std::int32_t>(n)));
        m.args.push_back(OscArg::string(mirror.slots[n].path));
    }
    return m;
}

// One round:
//   1. read the mirror and the engine's telemetry; turn what changed into messages;
//   2. under the lock: drop dead subscribers, hand every subscriber its share of the published
//      and changed messages (coalesced), and send a burst to each whose rate limit allows.
void Feedback::tick(TimePoint now) {
    const MirrorState mirror = mirror_();
    std::vector<OscMessage> changed;

    // Slot state, from the mirror (empty, loading) and the engine (playing or not, recording
    // or overdubbing).
    if (last_state_.size() != mirror.slots.size()) {
        last_state_.assign(mirror.slots.size(), "");
        last_playing_.assign(mirror.slots.size(), 0);
    }
    for (std::uint32_t n = 0; n < mirror.slots.size(); ++n) {
        const Shown shown = slot_state(mirror.slots[n], n);
        const bool playing = shown.playing;
        const bool was_playing = last_playing_[n] != 0;
        if (last_state_[n] == shown.state && was_playing == playing) continue;
        if (last_state_[n] != shown.state) {
            last_state_[n] = shown.state;
            changed.push_back(
                {osc::slot_address(osc::kSlotState, n), {OscArg::string(shown.state)}});
        }
        last_playing_[n] = playing ? 1 : 0;
        changed.push_back(
            {osc::slot_address(osc::kSlotPlaying, n), {OscArg::float32(playing ? 1.0F : 0.0F)}});
        // A slot that stops shows its position back at the start, not where it was.
        if (was_playing && !playing)
            changed.push_back({osc::slot_address(osc::kSlotPosition, n), {OscArg::float32(0.0F)}});
    }

    // The clock: one message per beat reached (several beats in one tick: the latest).
    const double beat_position = engine_.clock_beat();
    if (std::isfinite(beat_position)) {
        const auto beat = static_cast<std::int64_t>(std::floor(beat_position));
        if (!last_beat_ || *last_beat_ != beat) {
            last_beat_ = beat;
            const auto meter =
                std::max<std::int64_t>(1, static_cast<std::int64_t>(engine_.clock_meter()));
            const std::int64_t bar = floor_div(beat, meter);
            const std::int64_t in_bar = beat - bar * meter;
            changed.push_back({std::string(osc::kClockBeat),
                               {OscArg::int32(static_cast<std::int32_t>(bar + 1)),
                                OscArg::int32(static_cast<std::int32_t>(in_bar + 1))}});
        }
    }

    // Link's peers: each change (Link's thread counts them).
    if (const std::uint32_t peers = link_peers(); peers != last_link_peers_) {
        last_link_peers_ = peers;
        changed.push_back({std::string(osc::kClockLinkPeers), {OscArg::int32(peers)}});
    }

    // Position and meter, at the position rate.
    if (now >= next_position_) {
        next_position_ += position_interval_;
        if (next_position_ <= now) next_position_ = now + position_interval_;  // fell behind
        for (std::uint32_t n = 0; n < mirror.slots.size(); ++n) {
            if (last_playing_[n] == 0) continue;
            changed.push_back({osc::slot_address(osc::kSlotPosition, n),
                               {OscArg::float32(engine_.slot_position(n))}});
        }
        OscMessage meter{std::string(osc::kMeterOut), {}};
        bool silent = true;
        for (std::uint32_t o = 0; o < config_.outputs; ++o) {
            const float peak = engine_.take_output_peak(o);
            silent = silent && peak == 0.0F;
            meter.args.push_back(OscArg::float32(peak));
        }
        // Silence is told once, not position_rate times a second.
        if (!silent || !meter_was_silent_) changed.push_back(std::move(meter));
        meter_was_silent_ = silent;
    }

    std::lock_guard lock(mutex_);
    std::vector<Published> published;
    published.swap(published_);

    const auto timeout = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(config_.subscriber_timeout_s));
    for (auto it = subscribers_.begin(); it != subscribers_.end();) {
        // Silence is no evidence unless asked for (--subscriber-timeout): a surface may sit
        // idle for a whole set.
        const bool silent_too_long =
            !it->is_static && config_.subscriber_timeout_s > 0.0 && now - it->last_heard > timeout;
        const bool failing = !it->is_static && it->failed_sends >= kMaxFailedSends;
        const bool unreachable = !it->is_static && it->refused;
        if (silent_too_long || failing || unreachable) {
            spdlog::info("feedback: dropped {} ({})", it->to.to_string(),
                         unreachable       ? "port unreachable"
                         : silent_too_long ? "silent too long"
                                           : "sends failed");
            it = drop(it);
            continue;
        }
        ++it;
    }

    std::vector<OscMessage> whole_state;
    for (auto& s : subscribers_) {
        if (s.wants_state) {
            if (whole_state.empty()) whole_state = state_messages(mirror);
            for (const auto& m : whole_state) coalesce(s.pending, m);
            s.wants_state = false;
        }
        for (const auto& p : published) {
            const bool own =
                p.origin && (same_endpoint(*p.origin, s.owner) || same_endpoint(*p.origin, s.to));
            if (s.mode == 2 && own) continue;
            coalesce(s.pending, p.message);
        }
        for (const auto& m : changed) coalesce(s.pending, m);

        if (s.pending.empty() || now < s.next_burst) continue;
        const SendResult sent = send_bundles(s.to, s.pending);
        s.failed_sends = sent == SendResult::sent ? 0 : s.failed_sends + 1;
        s.refused = sent == SendResult::refused;  // dropped at the next tick
        s.pending.clear();
        // Bursts are spaced by at least 1/rate: never more than feedback_rate in any second.
        s.next_burst = now + burst_interval_;
    }
}

}  // namespace looperd
