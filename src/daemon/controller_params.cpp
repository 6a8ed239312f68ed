// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
// The Controller's parameter and query handlers: a slot's parameters (the generic one for plain
// numbers, choices and text, and mode, loop, the region, quantize), play and stop, the master and
// clock rows, /ping, /status, /notify, /refresh, /slot/<n>/info, /slots. Each checks its message
// against its schema row, sends its command and updates the mirror.
// Threads: the network thread (and main, applying a rig before it starts).
#include "daemon/controller.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

namespace looperd {

void Controller::osc_ping(const Request& r) {
    if (!check_arity(r, 0, 1)) return;
    if (auto to = reply_endpoint(r, 0))
        reply(r, *to, [] { return OscMessage{std::string(osc::kPong), {}}; });
}

void Controller::osc_status(const Request& r) {
    if (!check_arity(r, 0, 1)) return;
    if (auto to = reply_endpoint(r, 0)) reply(r, *to, [this] { return status_message(); });
}

// Built when the reply goes: after the transaction, outside the mirror's lock.
OscMessage Controller::status_message() const {
    const RuntimeStatus s = status_();
    auto i32 = [](std::uint64_t v) {
        return OscArg::int32(static_cast<std::int32_t>(std::min<std::uint64_t>(v, INT32_MAX)));
    };
    OscMessage m{std::string(osc::kStatusReply), {}};
    auto add = [&m](const char* key, OscArg value) {
        m.args.push_back(OscArg::string(key));
        m.args.push_back(std::move(value));
    };
    add("voices", i32(s.voices));
    add("voices_max", i32(s.voices_max));
    add("slots_loaded", i32(slots_loaded()));
    add("slots", i32(config_.slots));
    add("sample_rate", i32(s.sample_rate));
    add("block_size", i32(s.block_size));
    add("xruns", i32(s.xruns));
    add("dropped", i32(s.dropped));
    add("voices_refused", i32(s.refused_voices));
    add("late", i32(s.late));
    add("scheduled_refused", i32(s.scheduled_refused + schedule_.refused()));
    add("memory_bytes", i32(budget_.used()));
    add("memory_budget", i32(budget_.limit()));
    add("dsp_load", OscArg::float32(s.dsp_load));
    add("render_max_us", OscArg::float32(static_cast<float>(s.render_max_us)));
    add("dropped_not_allowed", i32(s.dropped_not_allowed));
    add("dropped_rate_limited", i32(s.dropped_rate_limited));
    add("error_replies_dropped", i32(error_replies_dropped()));
    if (!s.state.empty()) add("state", OscArg::string(s.state));
    add("jack", OscArg::string(s.jack));
    add("recorders_free", i32(s.recorders_free));
    add("uptime", OscArg::float32(static_cast<float>(s.uptime_s)));
    add("midi_events", i32(s.midi_events));
    add("midi_dropped", i32(s.midi_dropped));
    add("tempo", OscArg::float32(static_cast<float>(s.tempo)));
    add("link_peers", i32(s.link_peers));
    return m;
}

void Controller::osc_stop_all(const Request& r) {
    if (!check_arity(r, 0, 0)) return;
    send(Command{*r.row.command}, r);
}

// A global number row (master gain, /monitor, tempo, meter): checked, sent, mirrored in
// `field`, echoed.
template <typename T>
void Controller::set_global(const Request& r, T Mirror::Globals::*field) {
    const auto v = value_argument(r);
    if (!v || !send(Command{*r.row.command, 0, static_cast<float>(*v)}, r)) return;
    const auto value = static_cast<T>(*v);
    r.tx.mirror.edit_globals().*field = value;
    if constexpr (std::is_same_v<T, float>) {
        echo(r, r.row.echo, OscArg::float32(value));
    } else {
        echo(r, r.row.echo, OscArg::int32(value));
    }
}

void Controller::osc_master_gain(const Request& r) {
    set_global(r, &Mirror::Globals::master_gain);
}

void Controller::osc_monitor(const Request& r) {
    if (require_recording(r)) set_global(r, &Mirror::Globals::monitor);
}

// A release goes to the engine too: in gate mode it ends the note.
void Controller::osc_slot_play(const Request& r) {
    if (auto pressed = button(r)) send(Command{*r.row.command, r.slot, *pressed ? 1.0F : 0.0F}, r);
}

void Controller::osc_slot_stop(const Request& r) {
    if (button(r).value_or(false)) send(Command{*r.row.command, r.slot}, r);
}

// A saved slot row's value, checked against the row: a number or whole number in its range, one
// of its choices, or text. Its command, if it has one, carries the number or the choice's index;
// text is for surfaces alone.
void Controller::osc_param(const Request& r) {
    if (r.row.recording && !require_recording(r)) return;
    OscArg value;          // as the mirror keeps it and subscribers see it
    float carried = 0.0F;  // what the row's command tells the engine
    if (r.row.value == osc::Value::number || r.row.value == osc::Value::whole) {
        const auto v = value_argument(r);
        if (!v) return;
        value = r.row.value == osc::Value::whole ? OscArg::int32(static_cast<std::int32_t>(*v))
                                                 : OscArg::float32(static_cast<float>(*v));
        carried = static_cast<float>(*v);
    } else {
        if (!check_arity(r, 1, 1)) return;
        const OscArg& a = r.message.args[0];
        if (r.row.value == osc::Value::choice) {
            const auto index = osc::is_string(a) ? osc::choice_index(r.row, a.s) : std::nullopt;
            if (!index) {
                refuse(r, fmt::format("{} must be {}", r.row.what, osc::quoted_choices(r.row)));
                return;
            }
            carried = static_cast<float>(*index);
        } else if (!osc::is_string(a) || !osc::fits_text(r.row, a.s)) {
            refuse(r, fmt::format("{} {}", r.row.what, osc::text_rule(r.row)));
            return;
        }
        value = OscArg::string(a.s);
    }
    if (r.row.command && !send(Command{*r.row.command, r.slot, carried}, r)) return;
    r.tx.mirror.edit(r.slot).params.set(r.row, value);
    echo(r, r.row.echo, std::move(value));
    // A rendering is made to the slot's beats and pitch (docs/stretch.md).
    if (r.row.command == CommandKind::set_beats || r.row.command == CommandKind::set_pitch)
        stretch_asked(r, r.slot);
}

// The mode named by the choice at `index` of /slot/<n>/mode's row: into the engine, the
// mirror, and echoed by name.
void Controller::set_mode(const Request& r, std::size_t index) {
    if (!send(Command{*r.row.command, r.slot, static_cast<float>(index)}, r)) return;
    const std::string name(mode_name(static_cast<SlotMode>(index)));
    r.tx.mirror.edit(r.slot).params.set_whole("mode", static_cast<std::int32_t>(index));
    echo(r, r.row.echo, OscArg::string(name));
}

void Controller::osc_slot_loop(const Request& r) {
    if (!check_arity(r, 1, 1)) return;
    const auto v = osc::number(r.message.args[0]);
    if (!v || (*v != 0.0 && *v != 1.0)) {
        refuse(r, "loop must be 1 (loop) or 0 (one-shot)");
        return;
    }
    set_mode(r, static_cast<std::uint8_t>(*v != 0.0 ? SlotMode::loop : SlotMode::oneshot));
}

void Controller::osc_slot_mode(const Request& r) {
    if (!check_arity(r, 1, 1)) return;
    const auto& a = r.message.args[0];
    const auto index = osc::is_string(a) ? osc::choice_index(r.row, a.s) : std::nullopt;
    if (!index) {
        refuse(r, fmt::format("{} must be {}", r.row.what, osc::quoted_choices(r.row)));
        return;
    }
    set_mode(r, *index);
}

// Sends the region bound `kind` at `fraction` (checked to be in 0..1) if it stays on its side of
// the slot's other bound, and remembers it.
void Controller::send_region(const Request& r, CommandKind kind, double fraction) {
    const bool is_start = kind == CommandKind::set_start;
    // Compared as the engine will see them: as floats.
    const auto value = static_cast<float>(fraction);
    const SlotParams& params = r.tx.mirror.slot(r.slot).params;
    const float other = is_start ? params.number("end") : params.number("start");
    if (is_start ? value >= other : value <= other) {
        refuse(r,
               fmt::format("the region's start must stay before its end: {} {} is {} its {} {}",
                           is_start ? "start" : "end", value, is_start ? "not before" : "not after",
                           is_start ? "end" : "start", other));
        return;
    }
    if (!send(Command{kind, r.slot, value}, r)) return;
    SlotParams& p = r.tx.mirror.edit(r.slot).params;
    if (is_start) {
        p.set_number("start", value);
    } else {
        p.set_number("end", value);
    }
    // start_seconds and end_seconds echo as fractions, on the addresses of start and end.
    echo(r, r.row.echo, OscArg::float32(value));
    stretch_asked(r, r.slot);  // a rendering covers the region
}

void Controller::osc_slot_region(const Request& r) {
    if (auto f = value_argument(r)) send_region(r, *r.row.command, *f);
}

// The one argument, in seconds, as a fraction of the loaded sample's length (0..1). Answers
// /error for an empty slot or a time outside the sample.
std::optional<double> Controller::seconds_to_fraction(const Request& r) {
    if (!check_arity(r, 1, 1)) return std::nullopt;
    double seconds_long = 0.0;
    const Mirror::Slot& s = r.tx.mirror.slot(r.slot);
    if (s.loaded && s.frames > 0 && s.sample_rate > 0)
        seconds_long = static_cast<double>(s.frames) / static_cast<double>(s.sample_rate);
    if (seconds_long <= 0.0) {
        refuse(r, "slot is empty: seconds need a loaded sample");
        return std::nullopt;
    }
    const auto v = osc::number(r.message.args[0]);
    const double fraction = v ? *v / seconds_long : -1.0;
    if (!v || fraction < 0.0 || fraction > 1.0) {
        refuse(r, fmt::format("seconds must be a number from 0 to {} (the sample's length)",
                              seconds_long));
        return std::nullopt;
    }
    return fraction;
}

void Controller::osc_slot_region_seconds(const Request& r) {
    if (auto f = seconds_to_fraction(r)) send_region(r, *r.row.command, *f);
}

// A name of the row's choices (echoed as given), or a number of beats above min, up to max.
// "none" → 0, "bar" → -1, "beat" → 1 on the engine's side.
void Controller::osc_slot_quantize(const Request& r) {
    if (!check_arity(r, 1, 1)) return;
    const auto& a = r.message.args[0];
    std::optional<double> grid;
    if (osc::is_string(a)) {
        if (a.s == "none") grid = 0.0;
        if (a.s == "bar") grid = -1.0;
        if (a.s == "beat") grid = 1.0;
    } else if (const auto v = osc::number(a); v && *v > r.row.min && *v <= r.row.max) {
        grid = v;
    }
    if (!grid) {
        refuse(r, fmt::format("{} must be {} or a number of beats above {}, up to {}", r.row.what,
                              osc::quoted_choices(r.row, ", "), r.row.min, r.row.max));
        return;
    }
    if (!send(Command{*r.row.command, r.slot, static_cast<float>(*grid)}, r)) return;
    // Echoed as given: a name stays a name, a number of beats a float.
    const OscArg given =
        osc::is_string(a) ? OscArg::string(a.s) : OscArg::float32(static_cast<float>(*grid));
    r.tx.mirror.edit(r.slot).params.set(r.row, given);
    echo(r, r.row.echo, given);
}

// Following Link, the tempo is the session's: every peer follows it (and looperd, through
// the session).
void Controller::osc_clock_tempo(const Request& r) {
    set_global(r, &Mirror::Globals::tempo);
    stretch_asked(r, std::nullopt);
    if (r.tx.refused || r.tx.mirror.globals().sync != ClockSource::link) return;
    const auto bpm = static_cast<double>(r.tx.mirror.globals().tempo);
    later(r, [this, bpm] { link_.session->set_tempo(bpm); });
}

// The meter is Link's quantum: the beats over which looperd's phase matches the session's.
void Controller::osc_clock_meter(const Request& r) {
    set_global(r, &Mirror::Globals::meter);
    if (r.tx.refused || link_.session == nullptr) return;
    const double meter = r.tx.mirror.globals().meter;
    later(r, [this, meter] { link_.session->set_quantum(meter); });
}

void Controller::osc_clock_reset(const Request& r) {
    if (check_arity(r, 0, 0)) send(Command{*r.row.command}, r);
}

void Controller::osc_midi_leds_refresh(const Request& r) {
    if (check_arity(r, 0, 0)) send(Command{*r.row.command}, r);
}

// The index of a name among the row's choices is its ClockSource.
void Controller::osc_clock_sync(const Request& r) {
    if (!check_arity(r, 1, 1)) return;
    const auto& a = r.message.args[0];
    const auto index = osc::is_string(a) ? osc::choice_index(r.row, a.s) : std::nullopt;
    if (!index) {
        refuse(r, fmt::format("{} must be {}", r.row.what, osc::quoted_choices(r.row)));
        return;
    }
    const auto source = static_cast<ClockSource>(*index);
    if (source == ClockSource::link && !link_available()) {
        refuse(r, "this looperd was built without Ableton Link (meson's `link` feature)");
        return;
    }
    if (!send(Command{*r.row.command, 0, static_cast<float>(*index)}, r)) return;
    const ClockSource was = r.tx.mirror.globals().sync;
    r.tx.mirror.edit_globals().sync = source;
    // Link is joined before the engine follows it, so that the session already holds
    // looperd's beat when it does: the beat never jumps.
    if (source == ClockSource::link && was != ClockSource::link) {
        const auto bpm = static_cast<double>(r.tx.mirror.globals().tempo);
        const double meter = r.tx.mirror.globals().meter;
        first(r, [this, bpm, meter] { join_link(bpm, meter); });
    }
    if (source != ClockSource::link && was == ClockSource::link) later(r, [this] { leave_link(); });
    echo(r, r.row.echo, OscArg::string(a.s));
}

// The transport. Following Link with start/stop sync, the session's: every peer starts and
// stops with it, and the engine also hears it from the session (the two are one: a stop holds
// only what still sounds, a start plays only what is held).
void Controller::osc_clock_playing(const Request& r) {
    const auto v = value_argument(r);
    if (!v) return;
    const bool playing = *v != 0.0;
    const CommandKind kind = playing ? CommandKind::transport_start : CommandKind::transport_stop;
    if (!send(Command{kind}, r)) return;
    r.tx.mirror.edit_globals().playing = playing ? 1 : 0;
    if (r.tx.mirror.globals().sync == ClockSource::link && link_.start_stop_sync &&
        link_.session != nullptr)
        later(r, [this, playing] {
            link_.session->set_playing(playing, link_.session->now_micros());
        });
    echo(r, r.row.echo, OscArg::int32(playing ? 1 : 0));
}

bool Controller::require_feedback(const Request& r) {
    if (feedback_) return true;
    refuse(r, "feedback is not available");
    return false;
}

// mode 1: subscribe with echo of the sender's own changes; 2: without; 0: unsubscribe.
void Controller::osc_notify(const Request& r) {
    if (!check_arity(r, 1, 2)) return;
    const auto mode = osc::number(r.message.args[0]);
    if (!mode || (*mode != 0.0 && *mode != 1.0 && *mode != 2.0)) {
        refuse(r, "mode must be 0 (unsubscribe), 1 (subscribe) or 2 (subscribe without echo)");
        return;
    }
    auto to = reply_endpoint(r, 1);
    if (!to || !require_feedback(r)) return;
    later(r, [this, to = *to, from = r.from, address = r.message.address,
              mode = static_cast<int>(*mode)] {
        if (mode == 0) {
            feedback_->unsubscribe(to);
            return;
        }
        const std::string why = feedback_->subscribe(to, from, mode);
        if (!why.empty()) report_error(from, address, why);
    });
}

void Controller::osc_refresh(const Request& r) {
    if (!check_arity(r, 0, 1)) return;
    auto to = reply_endpoint(r, 0);
    if (!to || !require_feedback(r)) return;
    later(r, [this, to = *to] {
        if (!feedback_->send_state(to)) spdlog::warn("cannot send the state to {}", to.to_string());
    });
}

void Controller::osc_slot_info(const Request& r) {
    if (!check_arity(r, 0, 1)) return;
    auto to = reply_endpoint(r, 0);
    if (!to || !require_feedback(r)) return;
    reply(r, *to, [this, slot = r.slot] { return feedback_->info_message(slot); });
}

void Controller::osc_slots(const Request& r) {
    if (!check_arity(r, 0, 1)) return;
    auto to = reply_endpoint(r, 0);
    if (!to || !require_feedback(r)) return;
    reply(r, *to, [this] { return feedback_->slots_message(); });
}

}  // namespace looperd
