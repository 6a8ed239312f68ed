// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/load_worker.hpp"
#include "io/memory_budget.hpp"
#include "io/osc_server.hpp"
#include "looperd/command.hpp"

namespace looperd {

// What /status reports besides the controller's own slot table.
struct RuntimeStatus {
    std::uint32_t voices = 0;
    std::uint32_t voices_max = 0;
    std::uint32_t sample_rate = 0;
    std::uint32_t block_size = 0;
    std::uint64_t xruns = 0;
    std::uint64_t dropped = 0;
    std::uint64_t refused_voices = 0;
    float dsp_load = 0.0F;
};

struct ControllerConfig {
    std::uint32_t slots = 128;
    std::filesystem::path samples_dir;  // empty: the current directory
};

// Controller: turns OSC messages into engine commands and replies. It keeps the non-real-time
// mirror of the slot table (what is loaded, which load is current) that /status and load
// bookkeeping need, so the audio thread is never asked anything.
//
// Threads: handle() runs on the network thread; load jobs run on the loader thread it owns.
// Both may send commands: they are serialised by mutex_ here, off the audio thread, so the
// command ring keeps exactly one producer at a time.
class Controller {
  public:
    using SendCommand = std::function<bool(const Command&)>;  // false: ring full
    using SendReply = std::function<void(const OscEndpoint&, const OscMessage&)>;
    using StatusSource = std::function<RuntimeStatus()>;
    using SampleRateSource = std::function<std::uint32_t()>;

    Controller(const ControllerConfig& config, MemoryBudget& budget, SendCommand send,
               SendReply reply, StatusSource status, SampleRateSource sample_rate);
    ~Controller();
    Controller(const Controller&) = delete;
    Controller& operator=(const Controller&) = delete;

    // Network thread: one decoded message from `from`.
    void handle(const OscMessage& message, const OscEndpoint& from);
    // Network thread: a datagram that could not be decoded.
    void reject_packet(const std::string& reason, const OscEndpoint& from);

    // Stops the loader thread; pending loads are dropped.
    void stop();
    // Blocks until queued loads have finished. For tests.
    void wait_for_loads();

    std::uint32_t slots_loaded() const;

    // Every address pattern the controller answers, as documented in docs/osc.md.
    static std::vector<std::string> addresses();

  private:
    struct SlotState {
        std::uint64_t generation = 0;  // bumped by every load request and unload
        bool loaded = false;
        std::string path;
        std::uint32_t frames = 0;
        std::uint32_t channels = 0;
    };
    struct Request {
        const OscMessage& message;
        const OscEndpoint& from;
        std::uint32_t slot = 0;
    };
    using Handler = void (Controller::*)(const Request&);
    struct Route {
        std::string_view address;  // "/ping", or "/slot/<n>/play" for slot routes
        Handler handler;
    };
    static const std::vector<Route>& routes();

    void osc_ping(const Request& r);
    void osc_status(const Request& r);
    void osc_stop_all(const Request& r);
    void osc_master_gain(const Request& r);
    void osc_slot_load(const Request& r);
    void osc_slot_unload(const Request& r);
    void osc_slot_play(const Request& r);
    void osc_slot_stop(const Request& r);
    void osc_slot_gain(const Request& r);
    void osc_slot_loop(const Request& r);

    void finish_load(std::uint32_t slot, std::uint64_t generation, const std::string& path,
                     const std::filesystem::path& resolved, const OscEndpoint& reply_to);
    bool send(const Command& c, const Request& r);
    bool check_arity(const Request& r, std::size_t min, std::size_t max);
    bool pressed(const Request& r);
    std::optional<float> gain_argument(const Request& r, float max);
    void error(const OscEndpoint& to, const std::string& address, const std::string& reason);
    // The reply endpoint: the optional string argument at `index` as a URL, else the sender.
    std::optional<OscEndpoint> reply_endpoint(const Request& r, std::size_t index);

    ControllerConfig config_;
    MemoryBudget& budget_;
    SendCommand send_;
    SendReply reply_;
    StatusSource status_;
    SampleRateSource sample_rate_;

    std::atomic<bool> cancel_loads_{false};
    mutable std::mutex mutex_;  // slots_ and every send_ call
    std::vector<SlotState> slots_;
    LoadWorker loader_;
};

}  // namespace looperd
