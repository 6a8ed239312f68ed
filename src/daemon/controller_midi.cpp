// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// The controller's MIDI bindings (docs/midi.md, "Bindings"): /midi/bind, /midi/forget,
// /midi/learn, /midi/learn_cancel and /midi/bindings, and the bound messages the engine passes
// on, each turned into the OSC message of its address and handled like one from the network.
//
// Threads: the handlers run on the network thread (or main, applying a rig); midi_message() on
// the MIDI control thread. Both hold dispatch_, so that one message is handled at a time.

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "daemon/controller.hpp"
#include "looperd/midi_commands.hpp"

namespace looperd {

namespace {

std::vector<std::string_view> string_words(const std::vector<OscArg>& args) {
    std::vector<std::string_view> words;
    for (const auto& a : args) words.emplace_back(a.s);
    return words;
}

}  // namespace

double Controller::binding_row_max(std::string_view address) const {
    const osc::Row* row = osc::match(address);
    return row != nullptr ? row_max(*row) : 0.0;
}

// The bindings as the mirror holds them (text), parsed. Each was checked when it was made.
std::vector<MidiBinding> Controller::parse_bindings(const std::vector<std::string>& texts) const {
    std::vector<MidiBinding> out;
    for (const auto& t : texts) {
        std::string error;
        const auto words = midi_binding_words(t);
        if (words.size() < 2) continue;
        if (auto b = parse_midi_binding(words, binding_row_max(words[1]), error))
            out.push_back(std::move(*b));
    }
    return out;
}

// Checks a binding's words as /midi/bind and /midi/learn take them: nullopt after /error.
std::optional<MidiBinding> Controller::binding_argument(const Request& r,
                                                        const std::vector<std::string_view>& words,
                                                        bool* mode_given) {
    std::string error;
    const double max = words.size() > 1 ? binding_row_max(words[1]) : 0.0;
    auto b = parse_midi_binding(words, max, error, mode_given);
    if (!b) {
        refuse(r, error);
        return std::nullopt;
    }
    std::uint64_t slot = 0;
    const bool of_a_slot =
        osc::match(b->address, &slot) != nullptr && osc::parse_slot_address(b->address).has_value();
    if (of_a_slot && slot >= config_.slots) {
        refuse(r,
               fmt::format("MIDI binding: slot {} is out of range 0..{}", slot, config_.slots - 1));
        return std::nullopt;
    }
    return b;
}

// The engine passes on the messages of every bound source; sends what changed since the last.
bool Controller::send_watch(const Request& r, const std::vector<MidiBinding>& bindings) {
    std::array<std::uint16_t, kMidiControlKeys> masks{};
    for (const auto& b : bindings) masks[b.source.key()] |= b.source.channels();
    std::lock_guard lock(midi_mutex_);
    for (std::uint32_t k = 0; k < kMidiControlKeys; ++k) {
        if (masks[k] == midi_watch_[k]) continue;
        if (!send(Command{CommandKind::set_midi_watch, k, static_cast<float>(masks[k])}, r))
            return false;
    }
    later(r, [this, masks, bindings] {
        std::lock_guard inner(midi_mutex_);
        midi_watch_ = masks;
        midi_bindings_ = bindings;
    });
    return true;
}

bool Controller::set_bindings(const Request& r, std::vector<MidiBinding> bindings) {
    if (!send_watch(r, bindings)) return false;
    std::vector<std::string> texts;
    texts.reserve(bindings.size());
    for (const auto& b : bindings) texts.push_back(to_text(b));
    r.tx.mirror.edit_globals().midi_bindings = std::move(texts);
    return true;
}

void Controller::osc_midi_bind(const Request& r) {
    const auto& args = r.message.args;
    if (args.size() < 2 ||
        !std::all_of(args.begin(), args.end(), [](const OscArg& a) { return osc::is_string(a); })) {
        refuse(r, "takes strings: a source (\"cc:7@1\"), an address and options");
        return;
    }
    const auto b = binding_argument(r, string_words(args));
    if (!b) return;
    auto bindings = parse_bindings(r.tx.mirror.globals().midi_bindings);
    // A source drives one address: a new binding of it replaces the old.
    std::erase_if(bindings, [&b](const MidiBinding& old) { return old.source == b->source; });
    bindings.push_back(*b);
    set_bindings(r, std::move(bindings));
}

void Controller::osc_midi_forget(const Request& r) {
    if (!check_arity(r, 0, 1)) return;
    auto bindings = parse_bindings(r.tx.mirror.globals().midi_bindings);
    if (!r.message.args.empty()) {
        const auto& a = r.message.args[0];
        if (!osc::is_string(a) || !is_known_address(a.s)) {
            refuse(r, "takes an address looperd answers, or nothing for every binding");
            return;
        }
        std::erase_if(bindings, [&a](const MidiBinding& b) { return b.address == a.s; });
    } else {
        bindings.clear();
    }
    set_bindings(r, std::move(bindings));
}

void Controller::osc_midi_learn(const Request& r) {
    const auto& args = r.message.args;
    if (args.empty() ||
        !std::all_of(args.begin(), args.end(), [](const OscArg& a) { return osc::is_string(a); })) {
        refuse(r, "takes an address and options, strings");
        return;
    }
    // Checked as a CC's binding would be (the source is not known yet): the address, the
    // range and the options. What the learned source cannot take is refused when it arrives.
    std::vector<std::string_view> words{"cc:0"};
    for (const auto w : string_words(args)) words.push_back(w);
    if (!binding_argument(r, words)) return;
    if (!send(Command{CommandKind::set_midi_learn, 0, 1.0F}, r)) return;
    Learn learn{args[0].s, {}, r.from};
    for (std::size_t k = 1; k < args.size(); ++k) learn.options.push_back(args[k].s);
    later(r, [this, learn = std::move(learn)] {
        {
            std::lock_guard lock(midi_mutex_);
            learn_ = learn;
        }
        publish_learning(learn.address);
    });
}

void Controller::osc_midi_learn_cancel(const Request& r) {
    if (!check_arity(r, 0, 0)) return;
    if (!send(Command{CommandKind::set_midi_learn, 0, 0.0F}, r)) return;
    later(r, [this] {
        {
            std::lock_guard lock(midi_mutex_);
            learn_.reset();
        }
        publish_learning("");
    });
}

void Controller::osc_midi_bindings(const Request& r) {
    if (!check_arity(r, 0, 1)) return;
    auto to = reply_endpoint(r, 0);
    if (!to) return;
    reply(r, *to, [this] {
        OscMessage m{std::string(osc::kMidiBindingsReply), {}, 0};
        for (const auto& b : mirror_.snapshot().midi_bindings) m.args.push_back(OscArg::string(b));
        return m;
    });
}

void Controller::echo_to_midi(const Request& r, const std::string& address, const OscArg& value) {
    std::vector<MidiMessage> out;
    {
        std::lock_guard lock(midi_mutex_);
        if (midi_bindings_.empty()) return;
        const osc::Row* row = osc::match(address);
        if (row == nullptr) return;
        for (const auto& b : midi_bindings_) {
            if (b.address != address) continue;
            if (const auto m = midi_echo_message(b, *row, row_max(*row), value)) out.push_back(*m);
        }
    }
    // At the change's own frame. Not sent is not an error: the change itself stands.
    for (const auto& m : out) send(midi_send_command(m.status, m.data1, m.data2), r);
}

void Controller::publish_learning(const std::string& address) {
    if (feedback_ == nullptr) return;
    feedback_->publish({std::string(osc::kMidiLearning), {OscArg::string(address)}, 0},
                       std::nullopt);
}

std::string Controller::midi_learning() const {
    std::lock_guard lock(midi_mutex_);
    return learn_ ? learn_->address : std::string{};
}

// The address's value now, as a number: a number or whole row's value, a choice's index.
std::optional<double> Controller::current_value(const osc::Row& row, std::string_view address) {
    const MirrorState m = mirror_.snapshot();
    OscArg v;
    if (const auto slot = osc::parse_slot_address(address)) {
        if (slot->slot >= m.slots.size() || !row.saved) return std::nullopt;
        v = m.slots[slot->slot].params.value(row);
    } else {
        switch (row.handler) {
            case osc::Handler::master_gain:
                return m.master_gain;
            case osc::Handler::clock_tempo:
                return m.tempo;
            case osc::Handler::clock_meter:
                return m.meter;
            case osc::Handler::monitor:
                return m.monitor;
            case osc::Handler::clock_sync:
                return static_cast<double>(m.sync);
            case osc::Handler::clock_playing:
                return m.playing;
            default:
                return std::nullopt;
        }
    }
    if (v.type == 's') {
        const auto index = osc::choice_index(row, v.s);
        return index ? std::optional<double>(static_cast<double>(*index)) : std::nullopt;
    }
    return osc::number(v);
}

void Controller::midi_message(const MidiMessage& m) {
    std::lock_guard one_at_a_time(dispatch_);
    MidiControlKind kind{};
    if (!midi_control_kind(m, kind)) return;
    std::optional<Learn> learn;
    std::vector<MidiBinding> bindings;
    {
        std::lock_guard lock(midi_mutex_);
        learn = learn_;
        if (!learn) bindings = midi_bindings_;
    }
    if (learn) {
        // The first press learned: bind it, and stop learning (whatever the bind answered).
        OscMessage bind{
            std::string(osc::row(osc::Handler::midi_bind).address),
            {OscArg::string(to_text(midi_source_of(m, kind))), OscArg::string(learn->address)},
            0};
        for (const auto& o : learn->options) bind.args.push_back(OscArg::string(o));
        const auto before = mirror_.snapshot().midi_bindings;
        run(bind, learn->from, 0);
        run({std::string(osc::row(osc::Handler::midi_learn_cancel).address), {}, 0},
            internal_endpoint(), 0);
        const auto after = mirror_.snapshot().midi_bindings;
        if (after != before && !after.empty())
            reply_(learn->from,
                   {std::string(osc::kMidiLearned), {OscArg::string(after.back())}, 0});
        return;
    }
    for (const auto& b : bindings) {
        if (!b.source.matches(m)) continue;
        const osc::Row* row = osc::match(b.address);
        if (row == nullptr) continue;
        const bool needs_current = b.mode != MidiBindMode::absolute ||
                                   row->value == osc::Value::choice ||
                                   row->value == osc::Value::quantize;
        const auto current = needs_current ? current_value(*row, b.address) : std::nullopt;
        if (auto message = midi_binding_message(b, *row, row_max(*row), m, current))
            run(*message, internal_endpoint(), 0);
    }
}

}  // namespace looperd
