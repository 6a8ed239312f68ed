// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "control/command_port.hpp"
#include "control/error_limits.hpp"
#include "control/midi_binding.hpp"
#include "control/mirror.hpp"
#include "control/osc_schema.hpp"
#include "control/schedule_bound.hpp"
#include "daemon/feedback.hpp"
#include "daemon/path_confinement.hpp"
#include "daemon/sample_loading.hpp"
#include "daemon/stretch_worker.hpp"
#include "daemon/take_tracker.hpp"
#include "io/beat_stamp.hpp"
#include "io/link_session.hpp"
#include "io/memory_budget.hpp"
#include "io/osc_server.hpp"
#include "looperd/command.hpp"
#include "looperd/limits.hpp"

namespace looperd {

class Persistence;

// What /status reports besides the controller's own slot table.
struct RuntimeStatus {
    std::uint32_t voices = 0;
    std::uint32_t voices_max = 0;
    std::uint32_t sample_rate = 0;
    std::uint32_t block_size = 0;
    std::uint64_t xruns = 0;
    std::uint64_t dropped = 0;
    std::uint64_t refused_voices = 0;
    std::uint64_t late = 0;               // scheduled commands that arrived after their frame
    std::uint64_t scheduled_refused = 0;  // refused by the engine: its scheduled queue was full
    float dsp_load = 0.0F;
    double render_max_us = 0.0;  // longest block render in the last second of audio
    // Saving the state: "ok", "error" (the last write failed) or "off" (--no-state). Empty:
    // not reported.
    std::string state;
    // Datagrams the network thread dropped before decoding them.
    std::uint64_t dropped_not_allowed = 0;   // source outside every --osc-allow network
    std::uint64_t dropped_rate_limited = 0;  // source over --osc-rate / --osc-burst
    // The JACK connection: "connected", "disconnected" or "stalled".
    const char* jack = "connected";
    std::uint32_t recorders_free = 0;  // recorders holding no take (0 with recording off)
    // MIDI messages read from midi_in, and events dropped (beyond the per-block budget, or
    // lost by JACK).
    std::uint64_t midi_events = 0;
    std::uint64_t midi_dropped = 0;
    double tempo = 0.0;  // the beat grid's tempo, from its source (internal or JACK), in BPM
    std::uint32_t link_peers = 0;  // other Link apps in the session (0 while Link is off)
    // Seconds since the daemon started: a surface that sees it fall knows looperd restarted
    // and subscribes again.
    double uptime_s = 0.0;
};

// Ableton Link (docs/link.md): the session, and looperd's beat at a time of Link's clock (the
// audio thread's last cycle, JackClient::beat_at_host).
struct LinkControl {
    LinkSession* session = nullptr;
    std::function<std::optional<double>(double host_micros)> beat_at_host;
    // The session as the audio thread last read it (JackClient::link_view): joining waits
    // until it shows what the control thread committed.
    std::function<std::optional<BeatStamp::Point>()> audio_view;
    // Start/stop sync (--link-start-stop): /clock/playing is the session's start and stop.
    bool start_stop_sync = true;
    // Called once the session is joined: wakes the thread that follows it (follow_link),
    // which rests while Link is off.
    std::function<void()> joined;
};

struct ControllerConfig {
    std::uint32_t slots = limits::kDefaultSlots;
    std::uint32_t outputs = limits::kDefaultOutputs;  // bounds /slot/<n>/output
    // Recording (docs/recording.md): off when either is 0; inputs bounds /slot/<n>/input.
    std::uint32_t inputs = limits::kDefaultInputs;
    std::uint32_t recorders = limits::kDefaultRecorders;
    // The engine's longest take (Engine::max_record_frames()): the size of the buffer takes are
    // saved through. 0: takes cannot be saved.
    std::uint32_t max_record_frames = 0;
    // Where finished takes are kept (<state directory>/takes, existing); empty: they are not.
    // Also a sample root, so that a saved rig's /slot/<n>/load_take passes the path rules.
    std::filesystem::path takes_dir;
    // Commands with a future frame that may be pending at once (--max-scheduled).
    std::size_t max_scheduled = limits::kDefaultScheduledCapacity;
    std::filesystem::path samples_dir;  // empty: the current directory
    // Further directories load paths may lie in (--samples-root). A load path must resolve,
    // symlinks followed, inside samples_dir or one of these.
    std::vector<std::filesystem::path> sample_roots;
    float fade_ms = limits::kDefaultFadeMs;  // the engine's fade, every slot's first fade_out
    // /error log lines per reason and second, and /error replies per destination IP and second.
    std::uint32_t error_logs_per_second = 10;
    std::uint32_t error_replies_per_second = 50;
    // The time the error limits go by. Empty: std::chrono::steady_clock. Tests inject theirs.
    std::function<std::chrono::steady_clock::time_point()> now;
    // Places free in the command ring (Engine::command_room). Empty: unknown, and a bundle's
    // commands go one by one until the ring refuses one.
    CommandPort::Room command_room;
    // The frames of a slot's take as the engine last published them (Engine::take_frames), 0
    // while none loops. The mirror hears of a finished take from housekeeping, a poll later;
    // a surface shows it playing from the engine's state at once. Empty: the mirror's only.
    std::function<std::uint32_t(std::uint32_t slot)> take_frames;
};

// Where bundle timetags land on the audio clock. Both are called on the network thread only.
struct FrameClock {
    // An OSC timetag (1: immediately, else NTP 32.32) → the JACK frame it falls on.
    std::function<std::uint64_t(std::uint64_t timetag)> frame_for_timetag;
    // The JACK frame now: scheduled frames at or before it no longer count as pending.
    std::function<std::uint64_t()> current_frame;
};

// Controller: turns OSC messages into engine commands and replies, through the control schema
// (control/osc_schema.hpp). Its rooms:
//  - the router (controller.cpp): dispatch to each row's handler, the transaction of a message
//    or a bundle, the scheduled-command bound, replies and /error limits;
//  - the mirror (control/mirror.hpp): the model /status, feedback and persistence read;
//  - the handlers by subject: parameters and queries (controller_params.cpp), staged sample
//    loading (controller_loading.cpp, then SampleLoading on the loader thread), takes
//    (controller_takes.cpp, and TakeTracker for the engine's take events and kept files), rigs
//    and sessions (controller_sessions.cpp);
//  - the command port (control/command_port.hpp): the ring's one producer at a time.
//
// Threads: handle(), handle_packet() and reject_packet() run on the network thread (and
// apply_rig() on main before it starts); load jobs on the loader thread; engine_event() on the
// housekeeping thread; kept takes' callbacks on the take thread. Each writes the mirror through
// one Mirror::Transaction at a time and sends through the port.
//
// Transactions: a handler never acts at once. It checks its message, writes the mirror's copy
// and records what it would do (commands, replies, echoes, loads); the router then commits the
// whole message, or the whole bundle if none of its messages was refused.
//
// Timing: handle_packet() maps each distinct bundle timetag of a datagram to a frame once, so
// every command of one bundle lands on the same frame; it keeps the future frames it sent and
// refuses more than ControllerConfig::max_scheduled pending at once. Messages outside a bundle,
// and everything handle() takes, apply at the next block (frame 0).
class Controller {
  public:
    using SendCommand = std::function<bool(const Command&)>;  // false: ring full
    using SendReply = std::function<void(const OscEndpoint&, const OscMessage&)>;
    using StatusSource = std::function<RuntimeStatus()>;
    using SampleRateSource = std::function<std::uint32_t()>;

    // `clock` may be left empty: bundles then apply at the next block, like plain messages.
    Controller(const ControllerConfig& config, MemoryBudget& budget, SendCommand send,
               SendReply reply, StatusSource status, SampleRateSource sample_rate,
               FrameClock clock = {});
    ~Controller();
    Controller(const Controller&) = delete;
    Controller& operator=(const Controller&) = delete;

    // Network thread: one decoded message from `from`, applied at the next block whatever its
    // timetag.
    void handle(const OscMessage& message, const OscEndpoint& from);
    // Network thread: the messages of one datagram, in order, each scheduled on the frame of
    // its timetag.
    void handle_packet(const std::vector<OscMessage>& messages, const OscEndpoint& from);
    // Network thread: a datagram that could not be decoded.
    void reject_packet(const std::string& reason, const OscEndpoint& from);

    // Any thread: every loaded slot is loaded again from its file, converted to the current
    // sample rate (after the engine's rate changed), with no reply to anyone. A sounding loop,
    // gate or toggle slot starts again on the new buffer. Returns how many were queued.
    std::uint32_t reload_all();
    // Any thread: the engine's record offset, in frames (JACK's round trip plus
    // --record-offset; docs/recording.md). False: the command ring was full.
    bool set_record_offset(std::int64_t frames);

    // Any thread: commands of looperd's own, not from OSC (the MIDI profile's lights and pad
    // map, a refresh of the lights), in order through the one command port, all or none.
    // False: the ring had no room for them all.
    bool send_internal(std::span<const Command> commands);

    // Housekeeping thread: an event of the engine's about takes (started, finished, layered,
    // undone, loaded, snapshots): the mirror follows, finished takes are kept.
    void engine_event(const Event& e);
    // MIDI control thread: a bound MIDI message the engine passed on (or, while learning, the
    // message to learn): handled as the OSC message of its binding's address would be.
    void midi_message(const MidiMessage& m);
    // Any thread: the address /midi/learn waits to bind, "" when not learning.
    std::string midi_learning() const;
    // Blocks until the takes asked to be written so far are written. For tests.
    void wait_for_takes();

    // Stops the loader and take threads; pending loads are dropped.
    void stop();
    // Blocks until queued loads have finished. For tests.
    void wait_for_loads();

    std::uint32_t slots_loaded() const;

    // Network thread, at least a few times a second: closes the error limits' ended windows and
    // logs how much each held back.
    void expire_error_limits();
    // Any thread: /error replies dropped by the per-destination limit so far.
    std::uint64_t error_replies_dropped() const;
    // The sample roots as compared: absolute, symlinks resolved; samples_dir first.
    const std::vector<std::filesystem::path>& sample_roots() const noexcept {
        return confinement_.roots();
    }

    // Before any message is handled: where accepted changes and senders are reported, and what
    // /notify, /refresh, /slot/<n>/info and /slots use. Null: those answer /error.
    void set_feedback(Feedback* feedback) { feedback_ = feedback; }
    // Before any message is handled: the Link session `/clock/sync link` joins. Without one (or
    // in a looperd built without Link), `/clock/sync link` answers /error.
    void set_link(LinkControl link) { link_ = std::move(link); }
    // A thread of its own, a few times a second, while Link may be on: the session's tempo,
    // changed by a peer, becomes looperd's (mirrored, echoed to surfaces as /clock/tempo).
    void follow_link();
    // Before any message is handled: starts the stretch thread (docs/stretch.md), which renders
    // the slots in `stretch pitch` to the tempo: the mirror's under the internal clock (it
    // reaches the engine at its next block), else what `grid_tempo` gives (the engine's grid,
    // following JACK, MIDI clock or Link). `take_content`: the engine's take_content, for
    // takes to be rendered once settled. Without it, `stretch pitch` is accepted and slots
    // follow the tempo by their rate.
    void start_stretching(std::function<double()> grid_tempo,
                          std::function<std::uint32_t(std::uint32_t)> take_content);
    // Any thread: whether slot n's rendering is being made (its state says `stretching`).
    bool stretching(std::uint32_t slot) const { return stretch_.stretching(slot); }
    // The stretch thread rests: no slot is in `stretch pitch` (tests).
    bool stretch_resting() const { return stretch_.resting(); }
    // Renders installed so far. For tests.
    std::uint64_t stretch_renders() const { return stretch_.renders_done(); }
    // Any thread: a copy of the mirror (every slot's parameters, loads in flight, the clock).
    // `changes`, when given, receives the change count the copy includes.
    MirrorState snapshot(std::uint64_t* changes = nullptr) const;
    // Any thread: accepted changes so far (parameters, clock, master, loads finished or
    // failed, unloads). What persistence watches.
    std::uint64_t changes() const;

    // Before any message is handled: where /session/save, /session/load and /session/list
    // go. Null: they answer /error (persistence is off).
    // Every accepted change then wakes its persister (Persistence::changed).
    void set_persistence(Persistence* persistence);
    // Called every few dozen messages while a rig is applied: may wait for the audio thread
    // to drain the command ring (main wires it). Empty: no pacing.
    void set_pace(std::function<void()> pace) { pace_ = std::move(pace); }
    // Applies a rig's messages (rig_messages, rig_replace_messages) through the handlers, as
    // from `from`, at the next block. Their loads are rig loads: not bound by the load queue
    // (a rig names each slot once), and a file missing at load time stays in the saved rig.
    // Main thread before the network thread starts, or the network thread.
    void apply_rig(const std::vector<OscMessage>& messages, const OscEndpoint& from);
    // The endpoint restore uses: replies to it go nowhere and its errors are logged.
    static OscEndpoint internal_endpoint() { return OscEndpoint{}; }

    // Whether the schema has a control row for `address` ("/slot/12/gain", "/ping"), whatever the
    // slot count.
    static bool is_known_address(std::string_view address);
    // Whether `address` is one only feedback sends (slot state, playing, position, meters,
    // beats): shown by a surface, never answered by looperd.
    static bool is_feedback_address(std::string_view address);

    // Every address pattern the controller answers (the schema's control rows).
    static std::vector<std::string> addresses();

  private:
    // What one message, or a whole bundle, does: its mirror writes on a copy, and everything
    // else held back until the router commits it.
    struct Transaction {
        explicit Transaction(Mirror& m) : mirror(m) {}
        Mirror::Transaction mirror;
        std::vector<Command> commands;
        std::vector<std::string> command_addresses;  // the message each command came from
        std::vector<std::function<void()>> effects;  // after the commands, in order
        std::vector<std::function<void()>> before;   // before the commands are sent
        std::size_t scheduled = 0;                   // future frames among `commands`
        std::size_t loads = 0;                       // loads it queues
        bool refused = false;                        // the message being handled was refused
    };
    struct Request {
        const OscMessage& message;
        const OscEndpoint& from;
        const osc::Row& row;  // the schema's row of the message's address
        std::uint32_t slot = 0;
        std::uint64_t frame = 0;  // every command the message produces takes effect here
        Transaction& tx;
    };
    using Handler = void (Controller::*)(const Request&);
    // The member function answering a schema row's handler.
    static Handler handler_for(osc::Handler h);

    void osc_ping(const Request& r);
    void osc_status(const Request& r);
    OscMessage status_message() const;
    void osc_stop_all(const Request& r);
    void osc_master_gain(const Request& r);
    void osc_slot_load(const Request& r);
    void osc_slot_unload(const Request& r);
    void osc_slot_play(const Request& r);
    void osc_slot_stop(const Request& r);
    void osc_slot_loop(const Request& r);
    void set_mode(const Request& r, std::size_t index);
    // A slot's plain parameter (Handler::param: a number, whole number, choice or text):
    // checked against its row, sent when the row has a command, mirrored and echoed.
    void osc_param(const Request& r);
    void osc_slot_region(const Request& r);
    void osc_slot_region_seconds(const Request& r);
    void osc_slot_mode(const Request& r);
    void osc_slot_quantize(const Request& r);
    void osc_slot_record(const Request& r);
    void osc_slot_overdub(const Request& r);
    void osc_slot_undo(const Request& r);
    void osc_slot_redo(const Request& r);
    void osc_slot_clear(const Request& r);
    void osc_monitor(const Request& r);
    void osc_slot_save(const Request& r);
    void osc_slot_load_take(const Request& r);
    void osc_clock_from_slot(const Request& r);
    std::uint32_t take_frames(std::uint32_t n, const Mirror::Slot& s) const;
    // Staged loading, stage 1 (controller_loading.cpp); stages 2 to 4 are loading_'s.
    void request_load(const Request& r, bool take);
    bool require_recording(const Request& r);
    void empty_slot(const Request& r, CommandKind kind);
    void osc_clock_tempo(const Request& r);
    void osc_clock_meter(const Request& r);
    void osc_clock_reset(const Request& r);
    void osc_midi_leds_refresh(const Request& r);
    void osc_clock_sync(const Request& r);
    // Time-stretching (controller_stretch.cpp).
    void osc_slot_stretch(const Request& r);
    // A message that may change what a slot's rendering is for: its sender hears of a render
    // the budget refuses, and the stretch thread looks at once.
    void stretch_asked(const Request& r, std::optional<std::uint32_t> slot);
    bool install_stretched(std::uint32_t slot, std::uint64_t generation, std::uint32_t content,
                           SampleBuffer* rendering);
    void stretch_refused(std::uint32_t slot, const std::string& why);
    void record_refused(std::uint32_t slot);
    double stretch_tempo() const;
    void osc_clock_playing(const Request& r);
    // Ableton Link (controller_link.cpp).
    bool link_available() const;
    void join_link(double bpm, double meter);
    void leave_link();
    void osc_notify(const Request& r);
    void osc_refresh(const Request& r);
    void osc_slot_info(const Request& r);
    void osc_slots(const Request& r);
    void osc_session_save(const Request& r);
    void osc_session_load(const Request& r);
    void osc_session_list(const Request& r);
    void osc_samples_list(const Request& r);
    // MIDI bindings (controller_midi.cpp).
    void osc_midi_bind(const Request& r);
    void osc_midi_forget(const Request& r);
    void osc_midi_learn(const Request& r);
    void osc_midi_learn_cancel(const Request& r);
    void osc_midi_bindings(const Request& r);
    double binding_row_max(std::string_view address) const;
    std::vector<MidiBinding> parse_bindings(const std::vector<std::string>& texts) const;
    std::optional<MidiBinding> binding_argument(const Request& r,
                                                const std::vector<std::string_view>& words,
                                                bool* mode_given = nullptr);
    // The bindings become `bindings`: the mirror's text, the engine's watch list (what it
    // passes on), the live list once r's transaction commits. False after /error.
    bool set_bindings(const Request& r, std::vector<MidiBinding> bindings);
    bool send_watch(const Request& r, const std::vector<MidiBinding>& bindings);
    void publish_learning(const std::string& address);
    // A change of `address` to `value` goes out on midi_out as every CC bound to the address
    // (motorised faders and LED rings follow), with r's transaction.
    void echo_to_midi(const Request& r, const std::string& address, const OscArg& value);
    std::optional<double> current_value(const osc::Row& row, std::string_view address);
    bool require_persistence(const Request& r);
    struct SessionRequest {
        std::string name;
        OscEndpoint to;  // where the reply goes
    };
    std::optional<SessionRequest> session_request(const Request& r);
    // With recording off, a rig's recording settings at their defaults (input 1, monitor 0)
    // ask for nothing: apply_rig skips them rather than log an error for each.
    bool skipped_without_recording(const OscMessage& m) const;

    // One message into `tx`: its row's handler, or /error.
    void dispatch(Transaction& tx, const OscMessage& message, const OscEndpoint& from,
                  std::uint64_t frame);
    // Sends tx's commands, writes its mirror copy and runs what it held back. False: the
    // command ring had no room, and nothing was done (answered /error).
    bool commit(Transaction& tx, const OscEndpoint& from);
    // One message as a transaction of its own, committed whatever it answered: a refused
    // message has written nothing, or only what it keeps on purpose (a rig's missing file).
    void run(const OscMessage& message, const OscEndpoint& from, std::uint64_t frame);
    // Records a command for r's transaction, within the scheduled bound. False after /error.
    bool send(Command c, const Request& r);
    // Holds `effect` back until r's transaction commits.
    static void later(const Request& r, std::function<void()> effect);
    // `effect` runs when r's transaction commits, before its commands reach the engine.
    static void first(const Request& r, std::function<void()> effect);
    bool check_arity(const Request& r, std::size_t min, std::size_t max);
    std::optional<bool> button(const Request& r);
    // The one argument of a number or whole row, checked against the row's range (its upper
    // bound narrowed by the configuration where the row says so). nullopt after /error.
    std::optional<double> value_argument(const Request& r);
    double row_max(const osc::Row& row) const;
    // Tells subscribers of an accepted change from r's sender.
    // `pattern`: the row's echo address, "/slot/<n>/..." filled in with r's slot.
    void echo(const Request& r, std::string_view pattern, OscArg value);
    bool require_feedback(const Request& r);
    bool admit_scheduled(const Request& r);
    void send_region(const Request& r, CommandKind kind, double fraction);
    std::optional<double> seconds_to_fraction(const Request& r);
    // Answers r's sender /error (within the rate limits) and marks r refused: a bundle
    // holding it is not applied.
    void refuse(const Request& r, const std::string& reason);
    // Any thread: replies /error and logs it, both within their rate limits.
    void report_error(const OscEndpoint& to, const std::string& address, const std::string& reason);
    // Replies once r's transaction commits; `make` builds the message then.
    void reply(const Request& r, const OscEndpoint& to, std::function<OscMessage()> make);
    // `requested` (relative to samples_dir) resolved, symlinks followed, when it lies inside a
    // sample root; nullopt after answering /error otherwise.
    std::optional<std::filesystem::path> confine(const Request& r, const std::string& requested);
    // The reply endpoint: the optional string argument at `index` as a URL, else the sender.
    std::optional<OscEndpoint> reply_endpoint(const Request& r, std::size_t index);

    ControllerConfig config_;
    MemoryBudget& budget_;
    SendReply reply_;
    StatusSource status_;
    SampleRateSource sample_rate_;
    FrameClock clock_;
    PathConfinement confinement_;

    ErrorLimits errors_;      // any thread
    ScheduleBound schedule_;  // network thread only
    Mirror mirror_;
    CommandPort port_;
    // Network thread: a global number row into `field` (controller_params.cpp).
    template <typename T>
    void set_global(const Request& r, T Mirror::Globals::*field);
    Feedback* feedback_ = nullptr;
    LinkControl link_;
    Persistence* persistence_ = nullptr;
    std::function<void()> pace_;
    // Network thread (or main before it starts): a rig is being applied.
    bool applying_rig_ = false;
    // One message handled at a time, whichever thread brings it (the network thread, main
    // applying a rig, the MIDI control thread). Recursive: a session load applies a rig.
    std::recursive_mutex dispatch_;
    // MIDI bindings, live (controller_midi.cpp): what the engine was told to pass on, the
    // bindings those messages go through, and the learning under way.
    struct Learn {
        std::string address;
        std::vector<std::string> options;
        OscEndpoint from;  // who asked: /midi/learned and errors go there
    };
    mutable std::mutex midi_mutex_;
    std::array<std::uint16_t, kMidiControlKeys> midi_watch_{};
    std::vector<MidiBinding> midi_bindings_;
    std::optional<Learn> learn_;
    // Who last asked something of each slot's rendering, and of the tempo (stretch_mutex_).
    mutable std::mutex stretch_mutex_;
    std::vector<std::optional<OscEndpoint>> stretch_askers_;
    std::optional<OscEndpoint> tempo_asker_;
    // Who last pressed each slot's record (record_mutex_): a press the engine refuses later for
    // want of memory is answered there.
    mutable std::mutex record_mutex_;
    std::vector<std::optional<OscEndpoint>> record_askers_;
    std::function<double()> stretch_tempo_;
    std::function<std::uint32_t(std::uint32_t)> take_content_;
    // Last, after the mirror and the port: their threads call back into both.
    TakeTracker takes_;
    SampleLoading loading_;
    StretchWorker stretch_;
};

}  // namespace looperd
