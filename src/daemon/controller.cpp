// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "daemon/controller.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <variant>

#include "daemon/persistence.hpp"
#include "daemon/rig_state.hpp"
#include "io/memory_lock.hpp"
#include "io/sample_loader.hpp"
#include "looperd/limits.hpp"
#include "looperd/sample_buffer.hpp"

namespace looperd {

namespace {

std::vector<std::filesystem::path> with_takes_dir(std::vector<std::filesystem::path> roots,
                                                  const std::filesystem::path& takes_dir) {
    if (!takes_dir.empty()) roots.push_back(takes_dir);
    return roots;
}

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

}  // namespace

Controller::Controller(const ControllerConfig& config, MemoryBudget& budget, SendCommand send,
                       SendReply reply, StatusSource status, SampleRateSource sample_rate,
                       FrameClock clock)
    : config_(config),
      budget_(budget),
      send_(std::move(send)),
      reply_(std::move(reply)),
      status_(std::move(status)),
      sample_rate_(std::move(sample_rate)),
      clock_(std::move(clock)),
      confinement_(
          config.samples_dir.empty() ? std::filesystem::current_path() : config.samples_dir,
          with_takes_dir(config.sample_roots, config.takes_dir)),
      errors_(config.error_logs_per_second, config.error_replies_per_second, config.now),
      schedule_(config.max_scheduled),
      slots_(config.slots) {
    if (config_.samples_dir.empty()) config_.samples_dir = std::filesystem::current_path();
    // spdlog makes its default logger on first use, inside its library. Made here, before the
    // first job reaches the loader thread (through its mutex), the order is one that
    // ThreadSanitizer can see, whoever logs first. (looperd's main() sets its logger up even
    // earlier; tests need not.)
    (void)spdlog::default_logger_raw();
    for (auto& s : slots_) s.params.fade_out = config.fade_ms;
    if (config_.inputs > 0 && config_.recorders > 0 && config_.max_record_frames > 0) {
        keeper_ = std::make_unique<TakeKeeper>(
            [this](const Command& c) {
                std::lock_guard lock(mutex_);
                return send_(c);
            },
            sample_rate_, config_.max_record_frames);
    }
}

Controller::~Controller() {
    stop();
}

void Controller::stop() {
    if (keeper_) keeper_->stop();
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

std::uint64_t Controller::changes() const {
    std::lock_guard lock(mutex_);
    return changes_;
}

MirrorState Controller::snapshot(std::uint64_t* changes) const {
    MirrorState m;
    std::lock_guard lock(mutex_);
    if (changes != nullptr) *changes = changes_;
    m.slots.reserve(slots_.size());
    for (const auto& s : slots_) {
        SlotMirror out;
        out.loaded = s.loaded;
        out.loading = s.loading;
        out.path = s.path;
        out.frames = s.frames;
        out.channels = s.channels;
        out.sample_rate = s.sample_rate;
        out.params = s.params;
        out.rig_path = s.loading ? s.loading_path : s.restore_path;
        out.take = s.take;
        out.rig_take = s.rig_take;
        m.slots.push_back(std::move(out));
    }
    m.master_gain = globals_.master_gain;
    m.tempo = globals_.tempo;
    m.meter = globals_.meter;
    m.sync = globals_.sync;
    m.monitor = globals_.monitor;
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
        case H::clock_sync:
            return &Controller::osc_clock_sync;
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
    if (feedback_) feedback_->touch(from);
    dispatch(message, from, 0);
}

void Controller::handle_packet(const std::vector<OscMessage>& messages, const OscEndpoint& from) {
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
    // A bundle takes effect whole or not at all: its messages are first rehearsed against a
    // copy of the mirror, with every command, reply, echo and load held back; only when no
    // element was refused are they run for real.
    if (messages.size() > 1) {
        std::size_t refused = 0;
        {
            std::lock_guard lock(mutex_);
            rehearsal_.slots = slots_;
            rehearsal_.globals = globals_;
        }
        rehearsal_.scheduled = 0;
        rehearsing_ = true;
        for (std::size_t i = 0; i < messages.size(); ++i) {
            rehearsal_.refused = false;
            dispatch(messages[i], from, message_frames[i]);
            refused += rehearsal_.refused ? 1 : 0;
        }
        rehearsing_ = false;
        rehearsal_.scheduled = 0;
        if (refused > 0) {
            report_error(from, std::string(osc::kBundle),
                         "bundle not applied: " + std::to_string(refused) + " of " +
                             std::to_string(messages.size()) + " messages refused");
            return;
        }
    }
    for (std::size_t i = 0; i < messages.size(); ++i)
        dispatch(messages[i], from, message_frames[i]);
}

void Controller::dispatch(const OscMessage& message, const OscEndpoint& from, std::uint64_t frame) {
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
    if (auto slot = osc::parse_slot_address(address); slot && slot->slot >= config_.slots) {
        error(from, address,
              "slot " + std::to_string(slot->slot) + " out of range 0.." +
                  std::to_string(config_.slots - 1));
        return;
    }
    if (row == nullptr) {
        error(from, address, "unknown address");
        return;
    }
    try {
        (this->*handler_for(row->handler))(
            Request{message, from, *row, static_cast<std::uint32_t>(n), frame});
    } catch (const std::exception& e) {
        error(from, address, e.what());
    }
}

void Controller::reject_packet(const std::string& reason, const OscEndpoint& from) {
    if (feedback_) feedback_->touch(from);
    report_error(from, "", "malformed OSC packet: " + reason);
}

void Controller::error(const OscEndpoint& to, const std::string& address,
                       const std::string& reason) {
    if (rehearsing_) rehearsal_.refused = true;
    report_error(to, address, reason);
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

std::optional<std::filesystem::path> Controller::confine(const Request& r,
                                                         const std::string& requested) {
    auto result = confinement_.resolve(requested);
    if (auto* why = std::get_if<std::string>(&result)) {
        error(r.from, r.message.address, *why);
        return std::nullopt;
    }
    return std::get<std::filesystem::path>(std::move(result));
}

// Answers /error and returns false when r's frame is in the future and the scheduled bound is
// reached, or is too far ahead.
bool Controller::admit_scheduled(const Request& r) {
    switch (schedule_.admit(r.frame, rehearsal_.scheduled, sample_rate_())) {
        case ScheduleBound::Verdict::ok:
            return true;
        case ScheduleBound::Verdict::too_far:
            error(r.from, r.message.address, "timetag more than an hour ahead");
            return false;
        case ScheduleBound::Verdict::full:
            error(r.from, r.message.address, "too many scheduled commands");
            return false;
    }
    return false;
}

bool Controller::send(Command c, const Request& r) {
    c.frame = r.frame;
    if (!admit_scheduled(r)) return false;
    if (rehearsing_) {
        if (schedule_.is_ahead(c.frame)) ++rehearsal_.scheduled;
        return true;
    }
    bool sent = false;
    {
        std::lock_guard lock(mutex_);
        sent = send_(c);
    }
    if (!sent) {
        error(r.from, r.message.address, "command queue full: command dropped");
        return false;
    }
    schedule_.note(c.frame);
    return true;
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
    if (auto to = reply_endpoint(r, 0)) reply(*to, OscMessage{std::string(osc::kPong), {}});
}

void Controller::osc_status(const Request& r) {
    if (!check_arity(r, 0, 1)) return;
    auto to = reply_endpoint(r, 0);
    if (!to) return;
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
    reply(*to, m);
}

void Controller::osc_stop_all(const Request& r) {
    if (!check_arity(r, 0, 0)) return;
    send(Command{*r.row.command}, r);
}

void Controller::osc_master_gain(const Request& r) {
    const auto g = value_argument(r);
    if (!g || !send(Command{*r.row.command, 0, static_cast<float>(*g)}, r)) return;
    {
        std::lock_guard lock(mutex_);
        globals().master_gain = static_cast<float>(*g);
        ++changes_;
    }
    echo(r, r.row.echo, OscArg::float32(static_cast<float>(*g)));
}

void Controller::osc_slot_load(const Request& r) {
    load_slot(r, false);
}

// A load, or a load_take (`take`): the file then becomes the slot's take.
void Controller::load_slot(const Request& r, bool take) {
    if (!check_arity(r, 1, 2)) return;
    const auto& path_arg = r.message.args[0];
    if (!is_string(path_arg) || path_arg.s.empty()) {
        error(r.from, r.message.address, "expected a file path string");
        return;
    }
    auto reply_to = reply_endpoint(r, 1);
    if (!reply_to) return;
    if (applying_rig_) {
        // Set before the path is checked: a rig whose file is missing, or now outside the
        // sample roots, keeps naming it until the slot is loaded or unloaded again.
        std::lock_guard lock(mutex_);
        if (!slots_[r.slot].loaded || slots_[r.slot].path != path_arg.s) {
            slots_[r.slot].restore_path = path_arg.s;
            slots_[r.slot].rig_take = take;
            ++changes_;
        }
    }
    const auto confined = confine(r, path_arg.s);
    if (!confined) return;
    const std::filesystem::path resolved = *confined;
    {
        // Under mutex_, so that the job cannot finish before its generation is the slot's.
        std::lock_guard lock(mutex_);
        SlotState& slot = mirror_slot(r.slot);
        const std::uint64_t generation = slot.generation + 1;
        const bool rig = applying_rig_;
        auto job = [this, n = r.slot, generation, path = path_arg.s, resolved,
                    to = std::optional<OscEndpoint>(*reply_to), rig,
                    take] { finish_load(n, generation, path, resolved, to, rig, take); };
        bool queued = true;
        if (rehearsing_) {
            // A bundle's rehearsal: nothing is queued.
        } else if (rig) {
            // A rig names each slot once, so its loads are bounded by the slot count; the
            // queue's bound is for peers that flood.
            rig_loads_.fetch_add(1, std::memory_order_relaxed);
            loader_.post(std::move(job));
        } else {
            queued = loader_.try_post(std::move(job));
        }
        if (!queued) {
            // The slot keeps whatever it holds, and a load already under way stays current.
            error(r.from, r.message.address,
                  "too many loads pending (" + std::to_string(LoadWorker::kDefaultCapacity) + ")");
            return;
        }
        slot.generation = generation;
        slot.loading = true;
        slot.loading_path = path_arg.s;
        slot.rig_take = take;
        ++changes_;
    }
    if (!rehearsing_) spdlog::info("slot {}: loading {}", r.slot, resolved.string());
}

// Queues a reload of every loaded slot at the engine's current rate.
bool Controller::set_record_offset(std::int64_t frames) {
    Command c;
    c.kind = CommandKind::set_record_offset;
    c.value = static_cast<float>(frames);
    std::lock_guard lock(mutex_);
    return send_(c);
}

std::uint32_t Controller::reload_all() {
    std::uint32_t queued = 0;
    std::lock_guard lock(mutex_);
    for (std::uint32_t n = 0; n < slots_.size(); ++n) {
        SlotState& slot = slots_[n];
        if (!slot.loaded) continue;
        if (slot.take && slot.path.empty()) {
            // Not kept on disk: nothing to convert from. It plays at its old rate.
            spdlog::warn("slot {}: its take is not kept on disk and stays at its old rate", n);
            continue;
        }
        const std::uint64_t generation = slot.generation + 1;
        if (!loader_.try_post([this, n, generation, path = slot.path, resolved = slot.resolved,
                               take = slot.take] {
                finish_load(n, generation, path, resolved, std::nullopt, false, take);
            })) {
            spdlog::error("slot {}: cannot queue its reload (too many loads pending)", n);
            continue;
        }
        slot.generation = generation;
        slot.loading = true;
        slot.loading_path = slot.path;  // what the saved rig names meanwhile
        slot.rig_take = slot.take;
        ++queued;
        spdlog::info("slot {}: loading {} again at {} Hz", n, slot.path, sample_rate_());
    }
    return queued;
}

// Loader thread: read, convert, then hand the buffer to the engine if this load is still the
// slot's latest request.
void Controller::finish_load(std::uint32_t slot, std::uint64_t generation, const std::string& path,
                             const std::filesystem::path& resolved,
                             const std::optional<OscEndpoint>& reply_to, bool rig_load, bool take) {
    struct RigLoadDone {
        std::atomic<std::uint32_t>* count;
        ~RigLoadDone() {
            if (count != nullptr) count->fetch_sub(1, std::memory_order_relaxed);
        }
    } rig_done{rig_load ? &rig_loads_ : nullptr};
    const std::string address = osc::slot_address(
        osc::row(take ? osc::Handler::load_take : osc::Handler::load).address, slot);
    const bool reload = !reply_to;
    LoadedSample loaded;
    try {
        // The rate may change while the file converts (a server with another rate joined):
        // convert again then, so that no slot keeps a sample at a rate the engine left.
        for (int attempt = 0; attempt < 3; ++attempt) {
            const std::uint32_t rate = sample_rate_();
            if (loaded.buffer) budget_.release(loaded.buffer->bytes());
            loaded = load_sample(resolved, rate, budget_, &cancel_loads_);
            if (sample_rate_() == rate) break;
        }
    } catch (const std::exception& e) {
        {
            std::lock_guard lock(mutex_);
            if (slots_[slot].generation == generation) {
                slots_[slot].loading = false;
                ++changes_;
            }
        }
        if (reply_to) {
            report_error(*reply_to, address, std::string(e.what()));
        } else {
            spdlog::error("slot {}: cannot load {} again: {}", slot, path, e.what());
        }
        return;
    }
    const std::uint32_t frames = loaded.buffer->frames();
    const std::uint32_t channels = loaded.buffer->channels();
    const std::uint32_t rate = loaded.buffer->sample_rate();
    const std::size_t bytes = loaded.buffer->bytes();
    const float seconds =
        static_cast<float>(frames) / static_cast<float>(loaded.buffer->sample_rate());
    std::string refused;
    {
        std::lock_guard lock(mutex_);
        SlotState& s = slots_[slot];
        if (s.generation == generation) {
            s.loading = false;  // done, whichever way
            ++changes_;
        }
        // A reload keeps a sounding loop going (value 1); a load replaces what plays.
        Command assign{take ? CommandKind::load_take : CommandKind::assign_buffer, slot,
                       reload ? 1.0F : 0.0F, loaded.buffer.get()};
        if (s.generation != generation) {
            refused = "superseded by a later load or unload of this slot";
        } else if (!send_(assign)) {
            refused = "command queue full: load dropped";
        } else {
            (void)loaded.buffer.release();  // the engine owns it now
            // The kept take goes when another file replaces it (not when it is reloaded).
            if (s.take && s.path != path) forget_take(s);
            s.take = take;
            s.take_frames = 0;  // the engine reports the take's length once it holds it
            s.loaded = true;
            s.path = path;
            s.resolved = resolved;
            s.frames = frames;
            s.channels = channels;
            s.sample_rate = rate;
            s.restore_path.clear();
        }
    }
    if (!refused.empty()) {
        loaded.buffer.reset();
        budget_.release(bytes);
        if (reply_to) {
            report_error(*reply_to, address, refused);
        } else {
            spdlog::warn("slot {}: reload of {} not applied: {}", slot, path, refused);
        }
        return;
    }
    spdlog::info("slot {}: loaded {} ({} frames, {} channel{}, {:.3f} s{})", slot, path, frames,
                 channels, channels == 1 ? "" : "s", seconds,
                 loaded.locked ? "" : ", not locked in RAM");
    if (!loaded.locked) {
        if (auto warning = memlock_warning_once(bytes, SampleBuffer::unlocked_bytes()))
            spdlog::warn("{}", *warning);
    }
    if (!reply_to || reply_to->len == 0) return;  // a reload or a restore: nobody asked
    reply_(
        *reply_to,
        OscMessage{osc::slot_address(osc::kSlotLoaded, slot),
                   {OscArg::string(path), OscArg::int32(static_cast<std::int32_t>(frames)),
                    OscArg::int32(static_cast<std::int32_t>(channels)), OscArg::float32(seconds)}});
}

void Controller::osc_slot_unload(const Request& r) {
    empty_slot(r, CommandKind::unload);
}

// unload or clear: the slot's sample (or take) goes, and the mirror forgets it.
void Controller::empty_slot(const Request& r, CommandKind kind) {
    if (!check_arity(r, 0, 0) || !admit_scheduled(r)) return;
    std::lock_guard lock(mutex_);
    SlotState& s = mirror_slot(r.slot);
    ++s.generation;  // a load still in flight for this slot is now stale
    s.loading = false;
    Command c{kind, r.slot};
    c.frame = r.frame;
    if (rehearsing_) {
        if (schedule_.is_ahead(c.frame)) ++rehearsal_.scheduled;
    } else if (!send_(c)) {
        error(r.from, r.message.address, "command queue full: command dropped");
        return;
    } else {
        schedule_.note(c.frame);
    }
    // The slot's parameters (its region among them) stay: the engine keeps them too.
    s.restore_path.clear();
    ++changes_;
    if (!rehearsing_) forget_take(s);
    s.take = false;
    s.take_frames = 0;
    s.loaded = false;
    s.path.clear();
    s.resolved.clear();
    s.frames = 0;
    s.channels = 0;
    s.sample_rate = 0;
}

// Recording (docs/recording.md). With --inputs 0 or --recorders 0 there is nothing to record
// with: say so instead of sending commands the engine would ignore.
bool Controller::require_recording(const Request& r) {
    if (config_.inputs > 0 && config_.recorders > 0) return true;
    error(r.from, r.message.address, "recording is off (--inputs 0 or --recorders 0)");
    return false;
}

// Presses only: a release (0) does nothing, so that a pad sends press and release freely.
void Controller::osc_slot_record(const Request& r) {
    if (!require_recording(r)) return;
    if (button(r).value_or(false)) send(Command{*r.row.command, r.slot, 1.0F}, r);
}

void Controller::osc_slot_overdub(const Request& r) {
    if (!require_recording(r)) return;
    if (button(r).value_or(false)) send(Command{*r.row.command, r.slot, 1.0F}, r);
}

// Presses, like record: a surface's button sends 1 on press and 0 on release.
void Controller::osc_slot_undo(const Request& r) {
    if (!require_recording(r)) return;
    if (button(r).value_or(false)) send(Command{*r.row.command, r.slot}, r);
}

void Controller::osc_slot_redo(const Request& r) {
    if (!require_recording(r)) return;
    if (button(r).value_or(false)) send(Command{*r.row.command, r.slot}, r);
}

// Empties the slot whatever it holds (a take or a sample); the take's recorder returns to the
// pool. Works with recording off too, as an unload.
void Controller::osc_slot_clear(const Request& r) {
    empty_slot(r, CommandKind::clear);
}

void Controller::osc_monitor(const Request& r) {
    if (!require_recording(r)) return;
    const auto v = value_argument(r);
    if (!v || !send(Command{*r.row.command, 0, static_cast<float>(*v)}, r)) return;
    {
        std::lock_guard lock(mutex_);
        globals().monitor = static_cast<std::int32_t>(*v);
        ++changes_;
    }
    echo(r, r.row.echo, OscArg::int32(static_cast<std::int32_t>(*v)));
}

// Keeping takes (docs/recording.md). /slot/<n>/save: the take, as it is when the engine copies
// it, written by the take thread; the reply comes from there.
void Controller::osc_slot_save(const Request& r) {
    if (!require_recording(r) || !check_arity(r, 1, 2)) return;
    const auto& arg = r.message.args[0];
    if (!is_string(arg) || arg.s.empty()) {
        error(r.from, r.message.address, "expected a file path string");
        return;
    }
    const std::string& path = arg.s;
    const bool wav = path.size() > 4 && (path.ends_with(".wav") || path.ends_with(".WAV"));
    if (!wav) {
        error(r.from, r.message.address,
              "a take is saved as a WAV file: the path must end in .wav");
        return;
    }
    auto reply_to = reply_endpoint(r, 1);
    if (!reply_to) return;
    const auto confined = confine(r, path);
    if (!confined) return;
    std::error_code ec;
    if (std::filesystem::is_directory(*confined, ec)) {
        error(r.from, r.message.address, "path is a directory");
        return;
    }
    if (!keeper_) {
        error(r.from, r.message.address, "takes cannot be saved (recording is off)");
        return;
    }
    if (rehearsing_) return;
    std::uint64_t generation = 0;
    {
        std::lock_guard lock(mutex_);
        generation = slots_[r.slot].generation;
    }
    const std::string address = r.message.address;
    keeper_->save(TakeJob{
        r.slot, generation, *confined, false,
        [this, slot = r.slot, path, file = *confined, to = *reply_to, address](
            const std::string& why, std::uint32_t frames) {
            if (!why.empty()) {
                report_error(to, address, why);
                return;
            }
            const float seconds = static_cast<float>(frames) / static_cast<float>(sample_rate_());
            spdlog::info("slot {}: take saved to {} ({} frames)", slot, file.string(), frames);
            if (to.len == 0) return;
            reply_(to, OscMessage{
                           osc::slot_address(osc::kSlotSaved, slot),
                           {OscArg::string(path), OscArg::int32(static_cast<std::int32_t>(frames)),
                            OscArg::float32(seconds)}});
        }});
}

void Controller::osc_slot_load_take(const Request& r) {
    // A saved rig's take, restored with recording now off: better heard as a sample than lost.
    if (applying_rig_ && (config_.inputs == 0 || config_.recorders == 0)) {
        load_slot(r, false);
        return;
    }
    if (require_recording(r)) load_slot(r, true);
}

// The tempo at which the slot's take lasts `beats` beats; the grid's zero where it began.
void Controller::osc_clock_from_slot(const Request& r) {
    if (!require_recording(r) || !check_arity(r, 2, 2)) return;
    const auto slot = number(r.message.args[0]);
    const auto beats = number(r.message.args[1]);
    const auto slots = static_cast<double>(config_.slots);
    if (!slot || *slot < 0.0 || *slot >= slots || std::trunc(*slot) != *slot) {
        error(r.from, r.message.address,
              fmt::format("slot must be a whole number from 0 to {}", config_.slots - 1));
        return;
    }
    if (!beats || *beats < r.row.min || *beats > r.row.max || std::trunc(*beats) != *beats) {
        error(r.from, r.message.address,
              fmt::format("{} must be a whole number from {} to {}", r.row.what, r.row.min,
                          r.row.max));
        return;
    }
    const auto n = static_cast<std::uint32_t>(*slot);
    double bpm = 0.0;
    {
        std::lock_guard lock(mutex_);
        if (globals().sync == ClockSource::jack) {
            error(r.from, r.message.address,
                  "the clock follows JACK's transport: /clock/sync internal first");
            return;
        }
        const SlotState& s = mirror_slot(n);
        if (!s.take || s.take_frames == 0) {
            error(r.from, r.message.address, fmt::format("slot {} holds no take", n));
            return;
        }
        bpm = *beats * 60.0 * static_cast<double>(sample_rate_()) /
              static_cast<double>(s.take_frames);
    }
    const osc::Row& tempo_row = osc::row(osc::Handler::clock_tempo);
    if (bpm < tempo_row.min || bpm > tempo_row.max) {
        error(r.from, r.message.address,
              fmt::format("{} beats over the take make {:.2f} BPM, outside {} to {}", *beats, bpm,
                          tempo_row.min, tempo_row.max));
        return;
    }
    const auto tempo = static_cast<float>(bpm);
    if (!send(Command{*r.row.command, n, tempo}, r)) return;
    {
        std::lock_guard lock(mutex_);
        globals().tempo = tempo;
        ++changes_;
    }
    echo(r, r.row.echo, OscArg::float32(tempo));
}

std::filesystem::path Controller::take_file(std::uint32_t slot) const {
    return config_.takes_dir / ("slot-" + std::to_string(slot) + ".wav");
}

void Controller::keep_take(std::uint32_t slot) {
    if (!keeper_ || config_.takes_dir.empty()) return;
    const std::filesystem::path file = take_file(slot);
    const std::uint64_t generation = slots_[slot].generation;
    keeper_->save(TakeJob{
        slot, generation, file, true,
        [this, slot, generation, file](const std::string& why, std::uint32_t frames) {
            if (!why.empty()) {
                spdlog::error("slot {}: its take is not kept on disk: {}", slot, why);
                return;
            }
            std::lock_guard lock(mutex_);
            SlotState& s = slots_[slot];
            // A take cleared or replaced meanwhile: its forget() follows this write.
            if (s.generation != generation || !s.take) return;
            spdlog::info("slot {}: take kept in {} ({} frames)", slot, file.string(), frames);
            if (s.path == file.string()) return;
            s.path = file.string();
            s.resolved = file;
            ++changes_;  // the saved rig names the file from now on
        }});
}

void Controller::forget_take(SlotState& s) {
    if (!keeper_ || config_.takes_dir.empty() || !s.take || s.path.empty()) return;
    // Only what looperd kept itself: a file the musician saved or loaded stays.
    if (PathConfinement::is_within(s.resolved, config_.takes_dir)) keeper_->forget(s.resolved);
}

void Controller::wait_for_takes() {
    if (keeper_) keeper_->wait_idle();
}

void Controller::engine_event(const Event& e) {
    if (e.kind == EventKind::snapshot_done || e.kind == EventKind::snapshot_refused) {
        if (keeper_) keeper_->snapshot_event(e);
        return;
    }
    std::lock_guard lock(mutex_);
    if (e.slot >= slots_.size()) return;
    SlotState& s = slots_[e.slot];
    switch (e.kind) {
        case EventKind::take_started:
            // The slot let go of what it held: a load in flight or a save of the old take no
            // longer applies, and the old take's file goes.
            ++s.generation;
            forget_take(s);
            s.loading = false;
            s.take = false;
            s.take_frames = 0;
            s.loaded = false;
            s.path.clear();
            s.resolved.clear();
            s.restore_path.clear();
            s.frames = s.channels = s.sample_rate = 0;
            ++changes_;
            break;
        case EventKind::take_finished:
        case EventKind::take_max_reached:
            s.take = true;
            s.take_frames = e.frames;
            s.loaded = true;
            s.frames = e.frames;
            s.channels = 2;
            s.sample_rate = sample_rate_();
            ++changes_;
            keep_take(e.slot);
            break;
        case EventKind::take_loaded:
            if (s.take) s.take_frames = e.frames;
            break;
        case EventKind::take_load_refused:
            s.take = false;  // it plays as a sample
            s.take_frames = 0;
            ++changes_;
            break;
        case EventKind::overdub_ended:
        case EventKind::undo_done:
        case EventKind::redo_done:
            if (s.take) keep_take(e.slot);  // the take as it now sounds
            break;
        default:
            break;
    }
}

// Buttons send 1 on press and 0 on release; no argument is a press. Returns whether it was
// pressed, or nullopt after answering /error for a bad argument.
std::optional<bool> Controller::button(const Request& r) {
    if (!check_arity(r, 0, 1)) return std::nullopt;
    if (r.message.args.empty()) return true;
    const auto v = number(r.message.args[0]);
    if (!v) {
        error(r.from, r.message.address, "argument must be a number");
        return std::nullopt;
    }
    return *v != 0.0;
}

// A release goes to the engine too: in gate mode it ends the note.
void Controller::osc_slot_play(const Request& r) {
    if (auto pressed = button(r)) send(Command{*r.row.command, r.slot, *pressed ? 1.0F : 0.0F}, r);
}

void Controller::osc_slot_stop(const Request& r) {
    if (button(r).value_or(false)) send(Command{*r.row.command, r.slot}, r);
}

double Controller::row_max(const osc::Row& row) const {
    switch (row.bound) {
        case osc::Bound::output_pairs:
            // 0 is every output pair; k is out_(2k-1) and out_(2k). An odd last output is a
            // pair of its own.
            return (config_.outputs + 1) / 2;
        case osc::Bound::input_pairs:
            return std::max(1U, (config_.inputs + 1) / 2);
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
    const auto v = number(r.message.args[0]);
    if (!v || *v < row.min || *v > max || (whole && std::trunc(*v) != *v)) {
        error(r.from, r.message.address,
              fmt::format("{} must be a {} from {} to {}", row.what,
                          whole ? "whole number" : "number", row.min, max));
        return std::nullopt;
    }
    return v;
}

void Controller::osc_param(const Request& r) {
    if (r.row.recording && !require_recording(r)) return;
    const auto v = value_argument(r);
    if (!v || !send(Command{*r.row.command, r.slot, static_cast<float>(*v)}, r)) return;
    const ParamField field = param_field(osc::slot_verb(r.row.address));
    OscArg echoed;
    {
        std::lock_guard lock(mutex_);
        SlotParams& p = mirror_slot(r.slot).params;
        if (field.f != nullptr) {
            p.*field.f = static_cast<float>(*v);
            echoed = OscArg::float32(p.*field.f);
        } else {
            p.*field.i = static_cast<std::int32_t>(*v);
            echoed = OscArg::int32(p.*field.i);
        }
        ++changes_;
    }
    echo(r, r.row.echo, std::move(echoed));
}

void Controller::echo(const Request& r, std::string_view pattern, OscArg value) {
    if (feedback_ && !rehearsing_)
        feedback_->publish(OscMessage{osc::slot_address(pattern, r.slot), {std::move(value)}},
                           r.from);
}

// The mode named by the choice at `index` of /slot/<n>/mode's row: into the engine, the
// mirror, and echoed by name.
void Controller::set_mode(const Request& r, std::size_t index) {
    if (!send(Command{*r.row.command, r.slot, static_cast<float>(index)}, r)) return;
    const std::string name(mode_name(static_cast<SlotMode>(index)));
    {
        std::lock_guard lock(mutex_);
        mirror_slot(r.slot).params.mode = static_cast<SlotMode>(index);
        ++changes_;
    }
    echo(r, r.row.echo, OscArg::string(name));
}

void Controller::osc_slot_loop(const Request& r) {
    if (!check_arity(r, 1, 1)) return;
    const auto v = number(r.message.args[0]);
    if (!v || (*v != 0.0 && *v != 1.0)) {
        error(r.from, r.message.address, "loop must be 1 (loop) or 0 (one-shot)");
        return;
    }
    set_mode(r, static_cast<std::uint8_t>(*v != 0.0 ? SlotMode::loop : SlotMode::oneshot));
}

void Controller::osc_slot_mode(const Request& r) {
    if (!check_arity(r, 1, 1)) return;
    const auto& a = r.message.args[0];
    const auto index = is_string(a) ? osc::choice_index(r.row, a.s) : std::nullopt;
    if (!index) {
        error(r.from, r.message.address,
              fmt::format("{} must be {}", r.row.what, osc::quoted_choices(r.row)));
        return;
    }
    set_mode(r, *index);
}

// Sends the region bound `kind` at `fraction` (checked to be in 0..1) if it stays on its side of
// the slot's other bound, and remembers it.
void Controller::send_region(const Request& r, CommandKind kind, double fraction) {
    const bool is_start = kind == CommandKind::set_region_start;
    // Compared as the engine will see them: as floats.
    const auto value = static_cast<float>(fraction);
    float other = 0.0F;
    {
        std::lock_guard lock(mutex_);
        other = is_start ? mirror_slot(r.slot).params.end : mirror_slot(r.slot).params.start;
    }
    if (is_start ? value >= other : value <= other) {
        error(r.from, r.message.address,
              fmt::format("the region's start must stay before its end: {} {} is {} its {} {}",
                          is_start ? "start" : "end", value, is_start ? "not before" : "not after",
                          is_start ? "end" : "start", other));
        return;
    }
    if (!send(Command{kind, r.slot, value}, r)) return;
    {
        std::lock_guard lock(mutex_);
        SlotParams& p = mirror_slot(r.slot).params;
        (is_start ? p.start : p.end) = value;
        ++changes_;
    }
    // start_seconds and end_seconds echo as fractions, on the addresses of start and end.
    echo(r, r.row.echo, OscArg::float32(value));
}

void Controller::osc_slot_region(const Request& r) {
    if (auto f = value_argument(r)) send_region(r, *r.row.command, *f);
}

// The one argument, in seconds, as a fraction of the loaded sample's length (0..1). Answers
// /error for an empty slot or a time outside the sample.
std::optional<double> Controller::seconds_to_fraction(const Request& r) {
    if (!check_arity(r, 1, 1)) return std::nullopt;
    double seconds_long = 0.0;
    {
        std::lock_guard lock(mutex_);
        const SlotState& s = mirror_slot(r.slot);
        if (s.loaded && s.frames > 0 && s.sample_rate > 0)
            seconds_long = static_cast<double>(s.frames) / static_cast<double>(s.sample_rate);
    }
    if (seconds_long <= 0.0) {
        error(r.from, r.message.address, "slot is empty: seconds need a loaded sample");
        return std::nullopt;
    }
    const auto v = number(r.message.args[0]);
    const double fraction = v ? *v / seconds_long : -1.0;
    if (!v || fraction < 0.0 || fraction > 1.0) {
        error(r.from, r.message.address,
              fmt::format("seconds must be a number from 0 to {} (the sample's length)",
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
    if (is_string(a)) {
        if (a.s == "none") grid = 0.0;
        if (a.s == "bar") grid = -1.0;
        if (a.s == "beat") grid = 1.0;
    } else if (const auto v = number(a); v && *v > r.row.min && *v <= r.row.max) {
        grid = v;
    }
    if (!grid) {
        error(r.from, r.message.address,
              fmt::format("{} must be {} or a number of beats above {}, up to {}", r.row.what,
                          osc::quoted_choices(r.row, ", "), r.row.min, r.row.max));
        return;
    }
    if (!send(Command{*r.row.command, r.slot, static_cast<float>(*grid)}, r)) return;
    // Echoed as given: a name stays a name, a number of beats a float.
    const OscArg given =
        is_string(a) ? OscArg::string(a.s) : OscArg::float32(static_cast<float>(*grid));
    {
        std::lock_guard lock(mutex_);
        mirror_slot(r.slot).params.quantize = given;
        ++changes_;
    }
    echo(r, r.row.echo, given);
}

void Controller::osc_clock_tempo(const Request& r) {
    const auto v = value_argument(r);
    if (!v || !send(Command{*r.row.command, 0, static_cast<float>(*v)}, r)) return;
    {
        std::lock_guard lock(mutex_);
        globals().tempo = static_cast<float>(*v);
        ++changes_;
    }
    echo(r, r.row.echo, OscArg::float32(static_cast<float>(*v)));
}

void Controller::osc_clock_meter(const Request& r) {
    const auto v = value_argument(r);
    if (!v || !send(Command{*r.row.command, 0, static_cast<float>(*v)}, r)) return;
    {
        std::lock_guard lock(mutex_);
        globals().meter = static_cast<std::int32_t>(*v);
        ++changes_;
    }
    echo(r, r.row.echo, OscArg::int32(static_cast<std::int32_t>(*v)));
}

void Controller::osc_clock_reset(const Request& r) {
    if (check_arity(r, 0, 0)) send(Command{*r.row.command}, r);
}

// The index of a name among the row's choices is its ClockSource.
void Controller::osc_clock_sync(const Request& r) {
    if (!check_arity(r, 1, 1)) return;
    const auto& a = r.message.args[0];
    const auto index = is_string(a) ? osc::choice_index(r.row, a.s) : std::nullopt;
    if (!index) {
        error(r.from, r.message.address,
              fmt::format("{} must be {}", r.row.what, osc::quoted_choices(r.row)));
        return;
    }
    if (!send(Command{*r.row.command, 0, static_cast<float>(*index)}, r)) return;
    {
        std::lock_guard lock(mutex_);
        globals().sync = static_cast<ClockSource>(*index);
        ++changes_;
    }
    echo(r, r.row.echo, OscArg::string(a.s));
}

bool Controller::require_feedback(const Request& r) {
    if (feedback_) return true;
    error(r.from, r.message.address, "feedback is not available");
    return false;
}

// mode 1: subscribe with echo of the sender's own changes; 2: without; 0: unsubscribe.
void Controller::osc_notify(const Request& r) {
    if (!check_arity(r, 1, 2)) return;
    const auto mode = number(r.message.args[0]);
    if (!mode || (*mode != 0.0 && *mode != 1.0 && *mode != 2.0)) {
        error(r.from, r.message.address,
              "mode must be 0 (unsubscribe), 1 (subscribe) or 2 (subscribe without echo)");
        return;
    }
    auto to = reply_endpoint(r, 1);
    if (!to || !require_feedback(r) || rehearsing_) return;
    if (*mode == 0.0) {
        feedback_->unsubscribe(*to);
        return;
    }
    const std::string why = feedback_->subscribe(*to, r.from, static_cast<int>(*mode));
    if (!why.empty()) error(r.from, r.message.address, why);
}

void Controller::osc_refresh(const Request& r) {
    if (!check_arity(r, 0, 1)) return;
    auto to = reply_endpoint(r, 0);
    if (!to || !require_feedback(r) || rehearsing_) return;
    if (!feedback_->send_state(*to)) spdlog::warn("cannot send the state to {}", to->to_string());
}

void Controller::osc_slot_info(const Request& r) {
    if (!check_arity(r, 0, 1)) return;
    auto to = reply_endpoint(r, 0);
    if (!to || !require_feedback(r)) return;
    reply(*to, feedback_->info_message(r.slot));
}

void Controller::osc_slots(const Request& r) {
    if (!check_arity(r, 0, 1)) return;
    auto to = reply_endpoint(r, 0);
    if (!to || !require_feedback(r)) return;
    reply(*to, feedback_->slots_message());
}

Controller::SlotState& Controller::mirror_slot(std::uint32_t slot) {
    return rehearsing_ ? rehearsal_.slots[slot] : slots_[slot];
}

Controller::Globals& Controller::globals() {
    return rehearsing_ ? rehearsal_.globals : globals_;
}

void Controller::reply(const OscEndpoint& to, const OscMessage& message) {
    if (!rehearsing_) reply_(to, message);
}

void Controller::apply_rig(const std::vector<OscMessage>& messages, const OscEndpoint& from) {
    // Pacing: a rig may hold thousands of messages, more than the command ring takes at once.
    constexpr std::size_t kPaceEvery = 32;
    applying_rig_ = true;
    std::size_t n = 0;
    for (const auto& m : messages) {
        if (skipped_without_recording(m)) continue;
        if (++n % kPaceEvery == 0 && pace_) pace_();
        dispatch(m, from, 0);
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
    error(r.from, r.message.address, "persistence is off (--no-state)");
    return false;
}

// The session's name: the first argument, a string the store accepts. nullopt after /error.
namespace {
std::optional<std::string> session_name(const OscMessage& m, std::string& why) {
    if (m.args.empty() || (m.args[0].type != 's' && m.args[0].type != 'S')) {
        why = "expected a session name string";
        return std::nullopt;
    }
    if (!SessionStore::valid_session_name(m.args[0].s, why)) return std::nullopt;
    return m.args[0].s;
}
}  // namespace

void Controller::osc_session_save(const Request& r) {
    if (!check_arity(r, 1, 2)) return;
    std::string why;
    const auto name = session_name(r.message, why);
    if (!name) {
        error(r.from, r.message.address, why);
        return;
    }
    auto to = reply_endpoint(r, 1);
    if (!to || !require_persistence(r) || rehearsing_) return;
    // Written on the persister thread (fsync may take long); answered from there.
    why = persistence_->save_session(
        *name, [this, to = *to, name = *name, address = r.message.address](const std::string& e) {
            if (!e.empty())
                report_error(to, address, e);
            else
                reply_(to, OscMessage{std::string(osc::kSessionSaveReply), {OscArg::string(name)}});
        });
    if (!why.empty()) error(r.from, r.message.address, why);
}

void Controller::osc_session_load(const Request& r) {
    if (!check_arity(r, 1, 2)) return;
    std::string why;
    const auto name = session_name(r.message, why);
    if (!name) {
        error(r.from, r.message.address, why);
        return;
    }
    auto to = reply_endpoint(r, 1);
    if (!to || !require_persistence(r) || rehearsing_) return;
    // One rig's loads at a time: the loads of a rig are not bound by the load queue.
    if (rig_loads_.load(std::memory_order_relaxed) != 0) {
        error(r.from, r.message.address, "the loads of a previous rig are still in progress");
        return;
    }
    RigState rig;
    try {
        rig = persistence_->load_session(*name);
    } catch (const std::exception& e) {
        error(r.from, r.message.address, e.what());
        return;
    }
    spdlog::info("loading session {} ({} slot{})", *name, rig.slots.size(),
                 rig.slots.size() == 1 ? "" : "s");
    // Its replies (/slot/<n>/loaded, /error) go where the session's reply goes.
    apply_rig(rig_replace_messages(rig, snapshot(), persistence_->defaults()), *to);
    reply_(*to, OscMessage{std::string(osc::kSessionLoadReply), {OscArg::string(*name)}});
}

void Controller::osc_session_list(const Request& r) {
    if (!check_arity(r, 0, 1)) return;
    auto to = reply_endpoint(r, 0);
    if (!to || !require_persistence(r) || rehearsing_) return;
    std::vector<std::string> names;
    try {
        names = persistence_->list_sessions();
    } catch (const std::exception& e) {
        error(r.from, r.message.address, e.what());
        return;
    }
    OscMessage m{std::string(osc::kSessionListReply), {}};
    for (auto& n : names) m.args.push_back(OscArg::string(std::move(n)));
    reply_(*to, m);
}

}  // namespace looperd
