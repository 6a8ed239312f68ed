// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "control/model.hpp"
#include "daemon/worker_thread.hpp"
#include "io/osc_server.hpp"
#include "looperd/engine.hpp"
#include "looperd/limits.hpp"

namespace looperd {

struct FeedbackConfig {
    std::vector<OscEndpoint> static_subscribers;  // --notify: never dropped for silence
    std::uint16_t feedback_port = 0;              // zero-configuration port; 0: off
    std::uint32_t max_subscribers = 16;
    double subscriber_timeout_s = 0.0;  // 0: silence never drops a subscriber
    std::uint32_t feedback_rate = 30;   // bursts per second per subscriber, at most
    std::uint32_t position_rate = 20;   // position and meter updates per second
    std::uint32_t outputs = limits::kDefaultOutputs;
    std::size_t max_datagram = 8192;
};

// Feedback: keeps control surfaces in sync. It holds the subscribers, coalesces what each must
// be told, and sends it as OSC bundles, at most feedback_rate bursts per second per subscriber.
//
// Threads: its own thread calls tick() on a timer (start()/stop()); it alone reads the engine's
// output peaks. publish(), touch(), subscribe(), unsubscribe() and the message builders may be
// called from any thread (the network and loader threads): the subscriber table is guarded by
// mutex_, which the audio thread never sees. Engine telemetry is read through relaxed atomics
// only, so the audio thread never waits for the network.
class Feedback {
  public:
    using TimePoint = std::chrono::steady_clock::time_point;
    using Now = std::function<TimePoint()>;
    // What sending one datagram came to. `refused`: the destination answered that nothing
    // listens there (ICMP port unreachable, seen on a connected socket), so its subscriber goes
    // at once; `failed` (a full buffer, no route) counts towards 10 in a row.
    enum class SendResult : std::uint8_t { sent, failed, refused };
    using SendDatagram =
        std::function<SendResult(const OscEndpoint&, const std::vector<std::uint8_t>&)>;
    using MirrorSource = std::function<MirrorState()>;

    // `engine` is read only (telemetry); `now` is the clock touch() and subscribe() use (tests
    // inject their own).
    Feedback(const FeedbackConfig& config, Engine& engine, MirrorSource mirror, SendDatagram send,
             Now now = std::chrono::steady_clock::now);
    ~Feedback();
    Feedback(const Feedback&) = delete;
    // Before start(): how many peers looperd's Ableton Link session has (any thread), which
    // surfaces are told of (/clock/link_peers). Unset: 0.
    void set_link_peers(std::function<std::uint32_t()> peers) { link_peers_ = std::move(peers); }
    Feedback& operator=(const Feedback&) = delete;

    // Before start(): called (under the subscriber table's lock) for every subscriber that goes,
    // whatever the reason, so that the sending side can close what it holds for it. A
    // connected socket keeps a "port unreachable" that arrived after the drop; a surface
    // back on that port must not be dropped again for it.
    using Forget = std::function<void(const OscEndpoint&)>;
    void on_forget(Forget forget) { forget_ = std::move(forget); }

    // Starts the thread ticking at max(feedback_rate, position_rate) per second while anyone
    // is subscribed; with no subscriber it rests until one comes.
    void start();
    void stop();
    // The wait after a tick: the period, or zero (until a subscriber comes) with none.
    WorkerThread::Clock::duration next_tick() const;

    // Any thread: an accepted change, on the address a control would use. `origin` is the
    // sender (nullopt: no peer, e.g. a script); subscribers in mode 2 owned by it skip it.
    void publish(OscMessage message, const std::optional<OscEndpoint>& origin);
    // Any thread: `from` sent looperd something. Keeps its subscriptions alive and, in
    // zero-configuration mode, subscribes its IP at the feedback port.
    void touch(const OscEndpoint& from);

    // Any thread. mode 1: with echo of the owner's own changes; 2: without. The new subscriber
    // gets the whole state at its next burst. Returns an error text (empty: subscribed).
    std::string subscribe(const OscEndpoint& to, const OscEndpoint& owner, int mode);
    // Any thread. Returns whether `to` was subscribed.
    bool unsubscribe(const OscEndpoint& to);

    // Any thread: the whole state, as subscribers receive it (without the meter, whose peaks
    // only the feedback thread takes).
    std::vector<OscMessage> state_messages() const;
    // Any thread: the whole state to `to` now, as bundles. Returns false if a send failed.
    bool send_state(const OscEndpoint& to) const;
    // Any thread: the /slot/<n>/info.reply and /slots.reply messages.
    OscMessage info_message(std::uint32_t slot) const;
    OscMessage slots_message() const;

    // Feedback thread (or a test, while the thread is not running): one round of work at `now`.
    void tick(TimePoint now);

    std::size_t subscriber_count() const;
    bool is_subscribed(const OscEndpoint& to) const;

    // "recording" or "overdubbing" (a take, whatever else the slot holds), else "loading",
    // "stretching" (a rendering of the slot is being made: docs/stretch.md, whether the slot
    // sounds or not), "playing" (a sample or a take sounds), "stopping" (sounding until a quantized
    // stop, or fading out), "queued" (a start waits for its grid frame), "stopped" (a sample
    // loaded) or "empty".
    static const char* state_name(const SlotMirror& slot, bool sounding,
                                  Engine::RecordState record = Engine::RecordState::none,
                                  Engine::SlotPending pending = {}, bool stretching = false);
    // Before start(): whether a slot's rendering is being made (StretchWorker::stretching).
    void set_stretching(std::function<bool(std::uint32_t)> stretching) {
        stretching_ = std::move(stretching);
    }

  private:
    struct Pending {
        std::vector<OscMessage> messages;  // in order of first change
    };
    struct Subscriber {
        OscEndpoint to;
        OscEndpoint owner;         // whose messages keep it alive, and whose echoes mode 2 skips
        bool is_static = false;    // --notify
        bool zero_config = false;  // owner matched by IP only
        int mode = 1;
        TimePoint last_heard{};
        TimePoint next_burst{};  // rate limit: no burst before this
        int failed_sends = 0;
        bool refused = false;  // the last burst was refused: nothing listens there
        bool wants_state = true;
        std::vector<OscMessage> pending;  // coalesced: the latest value per address
    };
    struct Published {
        OscMessage message;
        std::optional<OscEndpoint> origin;
    };

    // Slot `n`'s state_name, from the mirror and the engine's telemetry, and whether it sounds
    // as /slot/<n>/playing says it (playing, overdubbing, stopping, or stretching and sounding).
    struct Shown {
        const char* state;
        bool playing;
    };
    Shown slot_state(const SlotMirror& slot, std::uint32_t n) const;
    std::uint32_t link_peers() const { return link_peers_ ? link_peers_() : 0; }
    std::vector<OscMessage> state_messages(const MirrorState& mirror) const;
    void add_subscriber(const OscEndpoint& to, const OscEndpoint& owner, bool is_static,
                        bool zero_config, int mode, TimePoint now);
    // A subscriber that was dropped: brought back when its owner is heard again.
    struct Dropped {
        OscEndpoint to;
        OscEndpoint owner;
        int mode = 1;
        bool zero_config = false;
    };
    void resubscribe(const OscEndpoint& from, TimePoint now);
    bool make_room();
    std::vector<Subscriber>::iterator drop(std::vector<Subscriber>::iterator it);
    void forget_dropped(const OscEndpoint& to);
    Subscriber* find(const OscEndpoint& to);
    const Subscriber* find(const OscEndpoint& to) const;
    static void coalesce(std::vector<OscMessage>& pending, const OscMessage& m);
    SendResult send_bundles(const OscEndpoint& to, const std::vector<OscMessage>& messages) const;

    FeedbackConfig config_;
    Engine& engine_;
    MirrorSource mirror_;
    SendDatagram send_;
    Forget forget_;
    Now now_;
    std::chrono::nanoseconds burst_interval_;
    std::chrono::nanoseconds position_interval_;

    mutable std::mutex mutex_;  // subscribers_, published_, refused_, dropped_
    std::vector<Subscriber> subscribers_;
    std::vector<Published> published_;
    std::vector<std::string> refused_;  // zero-config IPs already logged as refused
    std::vector<Dropped> dropped_;      // at most max_subscribers, oldest first

    // Feedback thread only: what was last told, to send changes only.
    std::vector<std::string> last_state_;
    std::vector<char> last_playing_;
    std::function<bool(std::uint32_t)> stretching_;
    std::optional<std::int64_t> last_beat_;
    std::function<std::uint32_t()> link_peers_;
    std::uint32_t last_link_peers_ = 0;
    TimePoint next_position_{};
    bool meter_was_silent_ = false;

    WorkerThread worker_;  // last: its thread ticks with the members above
};

}  // namespace looperd
