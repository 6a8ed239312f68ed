// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "daemon/controller.hpp"

#include <spdlog/spdlog.h>

#include <charconv>
#include <cmath>

#include "io/sample_loader.hpp"
#include "looperd/limits.hpp"
#include "looperd/sample_buffer.hpp"

namespace looperd {

namespace {

// A numeric argument: int or float (32 or 64 bit), finite. Anything else: nullopt.
std::optional<double> number(const OscArg& a) {
    double v = 0.0;
    switch (a.type) {
        case 'i':
            v = a.i;
            break;
        case 'h':
            v = static_cast<double>(a.h);
            break;
        case 'f':
            v = static_cast<double>(a.f);
            break;
        case 'd':
            v = a.d;
            break;
        default:
            return std::nullopt;
    }
    if (!std::isfinite(v)) return std::nullopt;
    return v;
}

bool is_string(const OscArg& a) {
    return a.type == 's' || a.type == 'S';
}

// "/slot/12/play" → {12, "play"}. Digits only, no sign, no leading '+'.
struct SlotAddress {
    std::uint64_t slot = 0;
    std::string_view verb;
};
std::optional<SlotAddress> parse_slot_address(std::string_view address) {
    constexpr std::string_view prefix = "/slot/";
    if (address.substr(0, prefix.size()) != prefix) return std::nullopt;
    address.remove_prefix(prefix.size());
    const auto slash = address.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash > 9) return std::nullopt;
    SlotAddress out;
    const auto digits = address.substr(0, slash);
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out.slot);
    if (ec != std::errc{} || ptr != digits.data() + digits.size()) return std::nullopt;
    out.verb = address.substr(slash + 1);
    return out;
}

// Messages that are themselves replies are never answered: two peers that answer each
// other's errors would otherwise bounce datagrams forever.
bool is_reply_address(std::string_view a) {
    return a == "/error" || a == "/pong" || a == "/status.reply" ||
           (a.substr(0, 6) == "/slot/" && a.size() > 7 && a.substr(a.size() - 7) == "/loaded");
}

}  // namespace

Controller::Controller(const ControllerConfig& config, MemoryBudget& budget, SendCommand send,
                       SendReply reply, StatusSource status, SampleRateSource sample_rate)
    : config_(config),
      budget_(budget),
      send_(std::move(send)),
      reply_(std::move(reply)),
      status_(std::move(status)),
      sample_rate_(std::move(sample_rate)),
      slots_(config.slots) {}

Controller::~Controller() {
    stop();
}

void Controller::stop() {
    loader_.stop();
}

void Controller::wait_for_loads() {
    loader_.drain();
}

std::uint32_t Controller::slots_loaded() const {
    std::lock_guard lock(mutex_);
    std::uint32_t n = 0;
    for (const auto& s : slots_) n += s.loaded ? 1U : 0U;
    return n;
}

const std::vector<Controller::Route>& Controller::routes() {
    // The single table of OSC addresses: docs/osc.md and the tests are checked against it.
    static const std::vector<Route> table = {
        {"/ping", &Controller::osc_ping},
        {"/status", &Controller::osc_status},
        {"/stop_all", &Controller::osc_stop_all},
        {"/master/gain", &Controller::osc_master_gain},
        {"/slot/<n>/load", &Controller::osc_slot_load},
        {"/slot/<n>/unload", &Controller::osc_slot_unload},
        {"/slot/<n>/play", &Controller::osc_slot_play},
        {"/slot/<n>/stop", &Controller::osc_slot_stop},
        {"/slot/<n>/gain", &Controller::osc_slot_gain},
        {"/slot/<n>/loop", &Controller::osc_slot_loop},
    };
    return table;
}

std::vector<std::string> Controller::addresses() {
    std::vector<std::string> out;
    for (const auto& r : routes()) out.emplace_back(r.address);
    return out;
}

void Controller::handle(const OscMessage& message, const OscEndpoint& from) {
    const std::string& address = message.address;
    if (is_reply_address(address)) {
        spdlog::debug("ignoring reply message {} from {}", address, from.to_string());
        return;
    }
    std::string_view pattern = address;
    std::uint32_t slot = 0;
    std::string slot_pattern;
    if (auto sa = parse_slot_address(address)) {
        if (sa->slot >= config_.slots) {
            error(from, address,
                  "slot " + std::to_string(sa->slot) + " out of range 0.." +
                      std::to_string(config_.slots - 1));
            return;
        }
        slot = static_cast<std::uint32_t>(sa->slot);
        slot_pattern = "/slot/<n>/" + std::string(sa->verb);
        pattern = slot_pattern;
    }
    for (const auto& route : routes()) {
        if (route.address == pattern) {
            try {
                (this->*route.handler)(Request{message, from, slot});
            } catch (const std::exception& e) {
                error(from, address, e.what());
            }
            return;
        }
    }
    error(from, address, "unknown address");
}

void Controller::reject_packet(const std::string& reason, const OscEndpoint& from) {
    error(from, "", "malformed OSC packet: " + reason);
}

void Controller::error(const OscEndpoint& to, const std::string& address,
                       const std::string& reason) {
    spdlog::warn("{} from {}: {}", address.empty() ? "packet" : address, to.to_string(), reason);
    reply_(to, OscMessage{"/error", {OscArg::string(address), OscArg::string(reason)}});
}

bool Controller::send(const Command& c, const Request& r) {
    bool sent = false;
    {
        std::lock_guard lock(mutex_);
        sent = send_(c);
    }
    if (!sent) error(r.from, r.message.address, "command queue full: command dropped");
    return sent;
}

std::optional<OscEndpoint> Controller::reply_endpoint(const Request& r, std::size_t index) {
    const auto& args = r.message.args;
    if (args.size() <= index) return r.from;
    if (!is_string(args[index])) {
        error(r.from, r.message.address, "reply URL must be a string");
        return std::nullopt;
    }
    std::string why;
    auto to = OscServer::resolve_url(args[index].s, why);
    if (!to) error(r.from, r.message.address, why);
    return to;
}

// Answers /error and returns false when the argument count is outside [min, max].
bool Controller::check_arity(const Request& r, std::size_t min, std::size_t max) {
    const auto n = r.message.args.size();
    if (n >= min && n <= max) return true;
    const std::string expected =
        min == max ? std::to_string(min) : std::to_string(min) + " to " + std::to_string(max);
    error(r.from, r.message.address,
          "expected " + expected + " argument(s), got " + std::to_string(n) + " ('" +
              r.message.type_tags() + "')");
    return false;
}

void Controller::osc_ping(const Request& r) {
    if (!check_arity(r, 0, 1)) return;
    if (auto to = reply_endpoint(r, 0)) reply_(*to, OscMessage{"/pong", {}});
}

void Controller::osc_status(const Request& r) {
    if (!check_arity(r, 0, 1)) return;
    auto to = reply_endpoint(r, 0);
    if (!to) return;
    const RuntimeStatus s = status_();
    auto i32 = [](std::uint64_t v) {
        return OscArg::int32(static_cast<std::int32_t>(std::min<std::uint64_t>(v, INT32_MAX)));
    };
    OscMessage m{"/status.reply", {}};
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
    add("memory_bytes", i32(budget_.used()));
    add("memory_budget", i32(budget_.limit()));
    add("dsp_load", OscArg::float32(s.dsp_load));
    reply_(*to, m);
}

void Controller::osc_stop_all(const Request& r) {
    if (!check_arity(r, 0, 0)) return;
    send(Command{CommandKind::stop_all, 0, 0.0F, nullptr}, r);
}

// The one argument of a gain message: a number from 0 to `max`. Answers /error otherwise.
std::optional<float> Controller::gain_argument(const Request& r, float max) {
    if (!check_arity(r, 1, 1)) return std::nullopt;
    const auto g = number(r.message.args[0]);
    if (!g || *g < 0.0 || *g > static_cast<double>(max)) {
        error(r.from, r.message.address, fmt::format("gain must be a number from 0 to {}", max));
        return std::nullopt;
    }
    return static_cast<float>(*g);
}

void Controller::osc_master_gain(const Request& r) {
    if (auto g = gain_argument(r, limits::kMaxMasterGain))
        send(Command{CommandKind::set_master_gain, 0, *g, nullptr}, r);
}

void Controller::osc_slot_load(const Request& r) {
    if (!check_arity(r, 1, 2)) return;
    const auto& path_arg = r.message.args[0];
    if (!is_string(path_arg) || path_arg.s.empty()) {
        error(r.from, r.message.address, "expected a file path string");
        return;
    }
    auto reply_to = reply_endpoint(r, 1);
    if (!reply_to) return;
    std::filesystem::path resolved = path_arg.s;
    if (resolved.is_relative()) resolved = config_.samples_dir / resolved;
    std::uint64_t generation = 0;
    {
        std::lock_guard lock(mutex_);
        generation = ++slots_[r.slot].generation;
    }
    spdlog::info("slot {}: loading {}", r.slot, resolved.string());
    loader_.post([this, slot = r.slot, generation, path = path_arg.s, resolved, to = *reply_to] {
        finish_load(slot, generation, path, resolved, to);
    });
}

// Loader thread: read, convert, then hand the buffer to the engine if this load is still the
// slot's latest request.
void Controller::finish_load(std::uint32_t slot, std::uint64_t generation, const std::string& path,
                             const std::filesystem::path& resolved, const OscEndpoint& reply_to) {
    const std::string address = "/slot/" + std::to_string(slot) + "/load";
    LoadedSample loaded;
    try {
        loaded = load_sample(resolved, sample_rate_(), budget_, &cancel_loads_);
    } catch (const std::exception& e) {
        error(reply_to, address, std::string(e.what()));
        return;
    }
    const std::uint32_t frames = loaded.buffer->frames();
    const std::uint32_t channels = loaded.buffer->channels();
    const std::size_t bytes = loaded.buffer->bytes();
    const float seconds =
        static_cast<float>(frames) / static_cast<float>(loaded.buffer->sample_rate());
    std::string refused;
    {
        std::lock_guard lock(mutex_);
        SlotState& s = slots_[slot];
        if (s.generation != generation) {
            refused = "superseded by a later load or unload of this slot";
        } else if (!send_(Command{CommandKind::assign_buffer, slot, 0.0F, loaded.buffer.get()})) {
            refused = "command queue full: load dropped";
        } else {
            (void)loaded.buffer.release();  // the engine owns it now
            s.loaded = true;
            s.path = path;
            s.frames = frames;
            s.channels = channels;
        }
    }
    if (!refused.empty()) {
        loaded.buffer.reset();
        budget_.release(bytes);
        error(reply_to, address, refused);
        return;
    }
    spdlog::info("slot {}: loaded {} ({} frames, {} channel{}, {:.3f} s{})", slot, path, frames,
                 channels, channels == 1 ? "" : "s", seconds,
                 loaded.locked ? "" : ", not locked in RAM");
    reply_(
        reply_to,
        OscMessage{"/slot/" + std::to_string(slot) + "/loaded",
                   {OscArg::string(path), OscArg::int32(static_cast<std::int32_t>(frames)),
                    OscArg::int32(static_cast<std::int32_t>(channels)), OscArg::float32(seconds)}});
}

void Controller::osc_slot_unload(const Request& r) {
    if (!check_arity(r, 0, 0)) return;
    std::lock_guard lock(mutex_);
    SlotState& s = slots_[r.slot];
    ++s.generation;  // a load still in flight for this slot is now stale
    if (!send_(Command{CommandKind::unload, r.slot, 0.0F, nullptr})) {
        error(r.from, r.message.address, "command queue full: command dropped");
        return;
    }
    s = SlotState{s.generation};
}

// Buttons send 1 on press and 0 on release: act on no argument or anything but an explicit 0.
// Returns false (after answering /error for a bad argument) when there is nothing to do.
bool Controller::pressed(const Request& r) {
    if (!check_arity(r, 0, 1)) return false;
    if (r.message.args.empty()) return true;
    const auto v = number(r.message.args[0]);
    if (!v) {
        error(r.from, r.message.address, "argument must be a number");
        return false;
    }
    return *v != 0.0;
}

void Controller::osc_slot_play(const Request& r) {
    if (pressed(r)) send(Command{CommandKind::play, r.slot, 0.0F, nullptr}, r);
}

void Controller::osc_slot_stop(const Request& r) {
    if (pressed(r)) send(Command{CommandKind::stop, r.slot, 0.0F, nullptr}, r);
}

void Controller::osc_slot_gain(const Request& r) {
    if (auto g = gain_argument(r, limits::kMaxSlotGain))
        send(Command{CommandKind::set_gain, r.slot, *g, nullptr}, r);
}

void Controller::osc_slot_loop(const Request& r) {
    if (!check_arity(r, 1, 1)) return;
    const auto v = number(r.message.args[0]);
    if (!v || (*v != 0.0 && *v != 1.0)) {
        error(r.from, r.message.address, "loop must be 1 (loop) or 0 (one-shot)");
        return;
    }
    send(Command{CommandKind::set_mode, r.slot, static_cast<float>(*v), nullptr}, r);
}

}  // namespace looperd
