// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// The Controller's router: dispatch of each message to its schema row's handler, the
// transaction of a message or a bundle and its commit, the scheduled-command bound, replies and
// /error, and the helpers every handler shares (argument checks, recording a command, echoing a
// change). The handlers live beside it by subject: controller_params.cpp,
// controller_loading.cpp, controller_takes.cpp, controller_sessions.cpp.
// Threads: the network thread (and main, applying a rig before it starts), except where a
// function says otherwise.
#include "daemon/controller.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "daemon/persistence.hpp"

namespace looperd {

namespace {

std::vector<std::filesystem::path> with_takes_dir(std::vector<std::filesystem::path> roots,
                                                  const std::filesystem::path& takes_dir) {
    if (!takes_dir.empty()) roots.push_back(takes_dir);
    return roots;
}

// Ports in pairs, an odd last one a pair of its own: ⌈ports / 2⌉.
constexpr std::uint32_t pairs(std::uint32_t ports) {
    return (ports + 1) / 2;
}

}  // namespace

Controller::Controller(const ControllerConfig& config, MemoryBudget& budget, SendCommand send,
                       SendReply reply, StatusSource status, SampleRateSource sample_rate,
                       FrameClock clock)
    : config_(config),
      budget_(budget),
      reply_(std::move(reply)),
      status_(std::move(status)),
      sample_rate_(std::move(sample_rate)),
      clock_(std::move(clock)),
      confinement_(
          config.samples_dir.empty() ? std::filesystem::current_path() : config.samples_dir,
          with_takes_dir(config.sample_roots, config.takes_dir)),
      errors_(config.error_logs_per_second, config.error_replies_per_second, config.now),
      schedule_(config.max_scheduled),
      mirror_(config.slots, config.fade_ms),
      port_(std::move(send), config.command_room),
      takes_(
          {config.inputs > 0 && config.recorders > 0, config.max_record_frames, config.takes_dir},
          mirror_, port_, sample_rate_),
      loading_(
          mirror_, port_, budget_, sample_rate_, takes_,
          [this](const OscEndpoint& to, const OscMessage& m) { reply_(to, m); },
          [this](const OscEndpoint& to, const std::string& address, const std::string& reason) {
              report_error(to, address, reason);
          },
          [this](std::uint32_t slot, SampleBuffer* b, std::uint64_t generation) {
              stretch_.source_loaded(slot, b, generation);
          }),
      stretch_(
          config.slots, budget_,
          {.mirror = [this] { return mirror_.snapshot(); },
           .changes = [this] { return mirror_.changes(); },
           .tempo = [this] { return stretch_tempo(); },
           .sample_rate = [this] { return sample_rate_(); },
           .install =
               [this](std::uint32_t slot, std::uint64_t generation, std::uint32_t content,
                      SampleBuffer* b) { return install_stretched(slot, generation, content, b); },
           .take_content =
               [this](std::uint32_t slot) { return take_content_ ? take_content_(slot) : 0U; },
           .copy_take =
               [this](std::uint32_t slot, std::uint64_t generation) {
                   if (!takes_.can_save()) return;
                   takes_.copy(
                       slot, generation,
                       [this, slot, generation](const SampleBuffer& take, std::uint32_t frames,
                                                std::uint32_t content) {
                           stretch_.take_copied(slot, generation, take, frames, content);
                       },
                       [this, slot] { stretch_.take_copy_failed(slot); });
               },
           .refused = [this](std::uint32_t slot,
                             const std::string& why) { stretch_refused(slot, why); }}) {
    stretch_askers_.resize(config.slots);
    record_askers_.resize(config.slots);
    if (config_.samples_dir.empty()) config_.samples_dir = std::filesystem::current_path();
    // Every accepted change wakes the persister, which otherwise rests.
    mirror_.set_on_change([this] {
        if (persistence_ != nullptr) persistence_->changed();
    });
    // spdlog makes its default logger on first use, inside its library. Made here, before the
    // first job reaches the loader thread (through its mutex), the order is one that
    // ThreadSanitizer can see, whoever logs first. (looperd's main() sets its logger up even
    // earlier; tests need not.)
    (void)spdlog::default_logger_raw();
}

Controller::~Controller() {
    stop();
}

void Controller::stop() {
    loading_.cancel();  // a long file in progress stops at its next chunk
    stretch_.stop();    // a render in progress stops at its next block
    takes_.stop();
    loading_.stop();
}

void Controller::wait_for_loads() {
    loading_.drain();
}

std::uint32_t Controller::slots_loaded() const {
    return mirror_.slots_loaded();
}

std::uint64_t Controller::changes() const {
    return mirror_.changes();
}

MirrorState Controller::snapshot(std::uint64_t* changes) const {
    MirrorState m = mirror_.snapshot(changes);
    m.midi_learning = midi_learning();
    return m;
}

bool Controller::is_feedback_address(std::string_view a) {
    const osc::Row* row = osc::match(a);
    return row != nullptr && row->role == osc::Role::feedback;
}

bool Controller::is_known_address(std::string_view address) {
    const osc::Row* row = osc::match(address);
    return row != nullptr && row->role == osc::Role::control;
}

Controller::Handler Controller::handler_for(osc::Handler h) {
    using H = osc::Handler;
    switch (h) {
        case H::none:
            return nullptr;
        case H::param:
            return &Controller::osc_param;
        case H::ping:
            return &Controller::osc_ping;
        case H::status:
            return &Controller::osc_status;
        case H::stop_all:
            return &Controller::osc_stop_all;
        case H::master_gain:
            return &Controller::osc_master_gain;
        case H::monitor:
            return &Controller::osc_monitor;
        case H::load:
            return &Controller::osc_slot_load;
        case H::unload:
            return &Controller::osc_slot_unload;
        case H::play:
            return &Controller::osc_slot_play;
        case H::stop:
            return &Controller::osc_slot_stop;
        case H::mode:
            return &Controller::osc_slot_mode;
        case H::loop:
            return &Controller::osc_slot_loop;
        case H::region:
            return &Controller::osc_slot_region;
        case H::region_seconds:
            return &Controller::osc_slot_region_seconds;
        case H::quantize:
            return &Controller::osc_slot_quantize;
        case H::record:
            return &Controller::osc_slot_record;
        case H::overdub:
            return &Controller::osc_slot_overdub;
        case H::undo:
            return &Controller::osc_slot_undo;
        case H::redo:
            return &Controller::osc_slot_redo;
        case H::clear:
            return &Controller::osc_slot_clear;
        case H::save:
            return &Controller::osc_slot_save;
        case H::load_take:
            return &Controller::osc_slot_load_take;
        case H::clock_tempo:
            return &Controller::osc_clock_tempo;
        case H::clock_meter:
            return &Controller::osc_clock_meter;
        case H::clock_reset:
            return &Controller::osc_clock_reset;
        case H::midi_leds_refresh:
            return &Controller::osc_midi_leds_refresh;
        case H::clock_sync:
            return &Controller::osc_clock_sync;
        case H::stretch:
            return &Controller::osc_slot_stretch;
        case H::clock_playing:
            return &Controller::osc_clock_playing;
        case H::midi_bind:
            return &Controller::osc_midi_bind;
        case H::midi_forget:
            return &Controller::osc_midi_forget;
        case H::midi_learn:
            return &Controller::osc_midi_learn;
        case H::midi_learn_cancel:
            return &Controller::osc_midi_learn_cancel;
        case H::midi_bindings:
            return &Controller::osc_midi_bindings;
        case H::clock_from_slot:
            return &Controller::osc_clock_from_slot;
        case H::notify:
            return &Controller::osc_notify;
        case H::refresh:
            return &Controller::osc_refresh;
        case H::info:
            return &Controller::osc_slot_info;
        case H::slots:
            return &Controller::osc_slots;
        case H::session_save:
            return &Controller::osc_session_save;
        case H::session_load:
            return &Controller::osc_session_load;
        case H::session_list:
            return &Controller::osc_session_list;
        case H::samples_list:
            return &Controller::osc_samples_list;
    }
    return nullptr;
}

std::vector<std::string> Controller::addresses() {
    std::vector<std::string> out;
    for (const auto& r : osc::rows())
        if (r.role == osc::Role::control) out.emplace_back(r.address);
    return out;
}

void Controller::handle(const OscMessage& message, const OscEndpoint& from) {
    std::lock_guard one_at_a_time(dispatch_);
    if (feedback_) feedback_->touch(from);
    run(message, from, 0);
}

void Controller::run(const OscMessage& message, const OscEndpoint& from, std::uint64_t frame) {
    Transaction tx(mirror_);
    dispatch(tx, message, from, frame);
    commit(tx, from);
}

void Controller::handle_packet(const std::vector<OscMessage>& messages, const OscEndpoint& from) {
    std::lock_guard one_at_a_time(dispatch_);
    if (feedback_) feedback_->touch(from);
    // Each distinct timetag is read against the clocks once per datagram, so the messages of
    // one bundle share one frame exactly, whatever the time spent between them.
    std::vector<std::pair<std::uint64_t, std::uint64_t>> frames;  // timetag → frame
    std::vector<std::uint64_t> message_frames;
    message_frames.reserve(messages.size());
    bool pruned = false;
    for (const auto& m : messages) {
        std::uint64_t frame = 0;
        if (m.timetag != 0 && clock_.frame_for_timetag) {
            if (!pruned) {
                pruned = true;
                schedule_.advance(clock_.current_frame ? clock_.current_frame() : 0);
            }
            auto it = std::find_if(frames.begin(), frames.end(),
                                   [&m](const auto& f) { return f.first == m.timetag; });
            if (it == frames.end()) {
                frames.emplace_back(m.timetag, clock_.frame_for_timetag(m.timetag));
                it = frames.end() - 1;
            }
            // Frame 0 means "next block" to the engine; a real frame 0 is just as soon.
            frame = std::max<std::uint64_t>(it->second, 1);
        }
        message_frames.push_back(frame);
    }
    if (messages.size() == 1) {
        run(messages[0], from, message_frames[0]);
        return;
    }
    // A bundle takes effect whole or not at all: its messages share one transaction, which is
    // committed only when none of them was refused.
    Transaction tx(mirror_);
    std::size_t refused = 0;
    for (std::size_t i = 0; i < messages.size(); ++i) {
        tx.refused = false;
        dispatch(tx, messages[i], from, message_frames[i]);
        refused += tx.refused ? 1 : 0;
    }
    if (refused > 0) {
        report_error(from, std::string(osc::kBundle),
                     "bundle not applied: " + std::to_string(refused) + " of " +
                         std::to_string(messages.size()) + " messages refused");
        return;  // tx, never committed, changes nothing
    }
    commit(tx, from);
}

void Controller::dispatch(Transaction& tx, const OscMessage& message, const OscEndpoint& from,
                          std::uint64_t frame) {
    const std::string& address = message.address;
    std::uint64_t n = 0;
    const osc::Row* row = osc::match(address, &n);
    // Messages that are themselves replies (or feedback) are never answered: two peers that
    // answer each other's errors would otherwise bounce datagrams forever. Echoed parameters
    // are control rows: they are the very addresses controls send.
    if (row != nullptr && row->role != osc::Role::control) {
        spdlog::debug("ignoring reply message {} from {}", address, from.to_string());
        return;
    }
    std::string why;
    if (auto slot = osc::parse_slot_address(address); slot && slot->slot >= config_.slots) {
        why = "slot " + std::to_string(slot->slot) + " out of range 0.." +
              std::to_string(config_.slots - 1);
    } else if (row == nullptr) {
        why = "unknown address";
    }
    if (!why.empty()) {
        tx.refused = true;
        report_error(from, address, why);
        return;
    }
    const Request r{message, from, *row, static_cast<std::uint32_t>(n), frame, tx};
    try {
        (this->*handler_for(row->handler))(r);
    } catch (const std::exception& e) {
        refuse(r, e.what());
    }
}

bool Controller::commit(Transaction& tx, const OscEndpoint& from) {
    for (auto& effect : tx.before) effect();
    if (!tx.commands.empty()) {
        const std::size_t sent = port_.send_all(tx.commands);
        if (sent < tx.commands.size()) {
            report_error(from, tx.command_addresses[sent], "command queue full: command dropped");
            if (sent > 0)
                spdlog::error("{} of {} commands of one bundle were sent before the ring was full",
                              sent, tx.commands.size());
            return false;  // tx, never committed, changes nothing
        }
        for (const auto& c : tx.commands) schedule_.note(c.frame);
    }
    tx.mirror.commit();
    // After the mirror: a load's job, once queued, finds its generation current.
    for (auto& effect : tx.effects) effect();
    return true;
}

void Controller::later(const Request& r, std::function<void()> effect) {
    r.tx.effects.push_back(std::move(effect));
}

void Controller::first(const Request& r, std::function<void()> effect) {
    r.tx.before.push_back(std::move(effect));
}

void Controller::reject_packet(const std::string& reason, const OscEndpoint& from) {
    if (feedback_) feedback_->touch(from);
    report_error(from, "", "malformed OSC packet: " + reason);
}

void Controller::refuse(const Request& r, const std::string& reason) {
    r.tx.refused = true;
    report_error(r.from, r.message.address, reason);
}

void Controller::report_error(const OscEndpoint& to, const std::string& address,
                              const std::string& reason) {
    if (to.len == 0) {
        // A rig being restored: nobody to answer, and a state file is bounded, so every
        // line is logged.
        spdlog::warn("restoring the rig: {}: {}", address, reason);
        return;
    }
    const auto verdict = errors_.admit(reason, to);
    if (verdict.log)
        spdlog::warn("{} from {}: {}", address.empty() ? "packet" : address, to.to_string(),
                     reason);
    if (verdict.reply)
        reply_(to, OscMessage{std::string(osc::kError),
                              {OscArg::string(address), OscArg::string(reason)}});
}

void Controller::expire_error_limits() {
    errors_.expire();
}

std::uint64_t Controller::error_replies_dropped() const {
    return errors_.replies_dropped();
}

// Answers /error and returns false when r's frame is in the future and the scheduled bound is
// reached, or is too far ahead.
bool Controller::admit_scheduled(const Request& r) {
    switch (schedule_.admit(r.frame, r.tx.scheduled, sample_rate_())) {
        case ScheduleBound::Verdict::ok:
            return true;
        case ScheduleBound::Verdict::too_far:
            refuse(r, "timetag more than an hour ahead");
            return false;
        case ScheduleBound::Verdict::full:
            refuse(r, "too many scheduled commands");
            return false;
    }
    return false;
}

bool Controller::send(Command c, const Request& r) {
    c.frame = r.frame;
    if (!admit_scheduled(r)) return false;
    if (schedule_.is_ahead(c.frame)) ++r.tx.scheduled;
    r.tx.commands.push_back(c);
    r.tx.command_addresses.push_back(r.message.address);
    return true;
}

std::optional<OscEndpoint> Controller::reply_endpoint(const Request& r, std::size_t index) {
    const auto& args = r.message.args;
    if (args.size() <= index) return r.from;
    if (!osc::is_string(args[index])) {
        refuse(r, "reply URL must be a string");
        return std::nullopt;
    }
    std::string why;
    auto to = OscServer::resolve_url(args[index].s, why);
    if (!to) refuse(r, why);
    return to;
}

// Answers /error and returns false when the argument count is outside [min, max].
bool Controller::check_arity(const Request& r, std::size_t min, std::size_t max) {
    const auto n = r.message.args.size();
    if (n >= min && n <= max) return true;
    const std::string expected =
        min == max ? std::to_string(min) : std::to_string(min) + " to " + std::to_string(max);
    refuse(r, "expected " + expected + " argument(s), got " + std::to_string(n) + " ('" +
                  r.message.type_tags() + "')");
    return false;
}

// Buttons send 1 on press and 0 on release; no argument is a press. Returns whether it was
// pressed, or nullopt after answering /error for a bad argument.
std::optional<bool> Controller::button(const Request& r) {
    if (!check_arity(r, 0, 1)) return std::nullopt;
    if (r.message.args.empty()) return true;
    const auto v = osc::number(r.message.args[0]);
    if (!v) {
        refuse(r, "argument must be a number");
        return std::nullopt;
    }
    return *v != 0.0;
}

double Controller::row_max(const osc::Row& row) const {
    switch (row.bound) {
        case osc::Bound::output_pairs:
            // 0 is every output pair; k is out_(2k-1) and out_(2k). An odd last output is a
            // pair of its own.
            return static_cast<double>(pairs(config_.outputs));
        case osc::Bound::input_pairs:
            return static_cast<double>(std::max(1U, pairs(config_.inputs)));
        case osc::Bound::fixed:
            break;
    }
    return row.max;
}

std::optional<double> Controller::value_argument(const Request& r) {
    if (!check_arity(r, 1, 1)) return std::nullopt;
    const osc::Row& row = r.row;
    const double max = row_max(row);
    const bool whole = row.value == osc::Value::whole;
    const auto v = osc::number(r.message.args[0]);
    if (!v || *v < row.min || *v > max || (whole && std::trunc(*v) != *v)) {
        refuse(r, fmt::format("{} must be a {} from {} to {}", row.what,
                              whole ? "whole number" : "number", row.min, max));
        return std::nullopt;
    }
    return v;
}

void Controller::echo(const Request& r, std::string_view pattern, OscArg value) {
    echo_to_midi(r, osc::slot_address(pattern, r.slot), value);
    if (feedback_ == nullptr) return;
    later(r, [this, from = r.from,
              m = OscMessage{osc::slot_address(pattern, r.slot), {std::move(value)}}] {
        feedback_->publish(m, from);
    });
}

void Controller::reply(const Request& r, const OscEndpoint& to, std::function<OscMessage()> make) {
    later(r, [this, to, make = std::move(make)] { reply_(to, make()); });
}

}  // namespace looperd
