// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#include "io/jack_client.hpp"

#include <spdlog/spdlog.h>

#include <cstring>
#include <stdexcept>

#include "looperd/rt_guard.hpp"

namespace looperd {

namespace {

std::string describe_status(jack_status_t s) {
    std::string out;
    auto add = [&](jack_status_t bit, const char* text) {
        if ((s & bit) == 0) return;
        if (!out.empty()) out += ", ";
        out += text;
    };
    add(JackServerFailed, "cannot connect to the JACK server (is it running? see --jack-server)");
    add(JackServerError, "JACK server error");
    add(JackNameNotUnique, "client name already in use");
    add(JackVersionError, "JACK protocol version mismatch");
    add(JackInitFailure, "cannot initialise the JACK client");
    add(JackShmFailure, "cannot access JACK shared memory");
    add(JackNoSuchClient, "no such client");
    add(JackLoadFailure, "cannot load internal client");
    add(JackInvalidOption, "invalid option");
    if (out.empty()) out = "jack_client_open failed (status 0x" + std::to_string(s) + ")";
    return out;
}

}  // namespace

JackClient::JackClient(const std::string& client_name, const std::string& server_name,
                       std::uint32_t outputs) {
    jack_status_t status{};
    // Never start a server behind the user's back: a stage rig runs the one it was set up with.
    auto options = static_cast<jack_options_t>(JackNoStartServer | JackUseExactName);
    if (!server_name.empty()) {
        options = static_cast<jack_options_t>(options | JackServerName);
        client_ = jack_client_open(client_name.c_str(), options, &status, server_name.c_str());
    } else {
        client_ = jack_client_open(client_name.c_str(), options, &status);
    }
    if (!client_) throw std::runtime_error(describe_status(status));

    for (std::uint32_t i = 0; i < outputs; ++i) {
        const std::string port_name = "out_" + std::to_string(i + 1);
        jack_port_t* p = jack_port_register(client_, port_name.c_str(), JACK_DEFAULT_AUDIO_TYPE,
                                            JackPortIsOutput | JackPortIsTerminal, 0);
        if (!p) {
            close();
            throw std::runtime_error("cannot register JACK port " + port_name);
        }
        ports_.push_back(p);
    }
    buffers_.resize(outputs, nullptr);
    sample_rate_ = jack_get_sample_rate(client_);
    block_size_ = jack_get_buffer_size(client_);

    jack_set_process_callback(
        client_,
        [](jack_nframes_t n, void* self) { return static_cast<JackClient*>(self)->process(n); },
        this);
    jack_set_sample_rate_callback(
        client_,
        [](jack_nframes_t rate, void* arg) {
            auto* self = static_cast<JackClient*>(arg);
            // JACK's notification thread, not the audio thread: logging is allowed here.
            const auto previous = self->sample_rate_.exchange(rate, std::memory_order_relaxed);
            if (previous != 0 && previous != rate)
                spdlog::warn(
                    "JACK sample rate changed from {} to {} Hz: samples loaded before "
                    "play at the wrong pitch until they are loaded again",
                    previous, rate);
            if (self->engine_) self->engine_->set_sample_rate(rate);
            return 0;
        },
        this);
    // Under PipeWire this may come late or not before the first cycle: process() trusts
    // nframes and never relies on this value.
    jack_set_buffer_size_callback(
        client_,
        [](jack_nframes_t n, void* arg) {
            static_cast<JackClient*>(arg)->block_size_.store(n, std::memory_order_relaxed);
            return 0;
        },
        this);
    jack_set_xrun_callback(
        client_,
        [](void* arg) {
            static_cast<JackClient*>(arg)->xruns_.fetch_add(1, std::memory_order_relaxed);
            return 0;
        },
        this);
    jack_on_info_shutdown(
        client_,
        [](jack_status_t, const char* reason, void* arg) {
            auto* self = static_cast<JackClient*>(arg);
            std::strncpy(self->shutdown_reason_, reason ? reason : "unknown",
                         sizeof(self->shutdown_reason_) - 1);
            self->server_gone_.store(true, std::memory_order_release);
        },
        this);
}

JackClient::~JackClient() {
    close();
}

void JackClient::activate(Engine& engine) {
    engine_ = &engine;
    engine.set_sample_rate(sample_rate());
    if (jack_activate(client_) != 0) throw std::runtime_error("cannot activate the JACK client");
}

std::uint32_t JackClient::connect_physical_outputs() {
    const char** physical = jack_get_ports(client_, nullptr, JACK_DEFAULT_AUDIO_TYPE,
                                           JackPortIsPhysical | JackPortIsInput);
    std::uint32_t connected = 0;
    if (physical) {
        for (std::size_t i = 0; i < ports_.size() && physical[i]; ++i)
            if (jack_connect(client_, jack_port_name(ports_[i]), physical[i]) == 0) ++connected;
        jack_free(physical);
    }
    return connected;
}

void JackClient::close() noexcept {
    if (!client_) return;
    // After the server vanished the client is already dead; closing it is still required to
    // free our side, and JACK allows it.
    jack_deactivate(client_);
    jack_client_close(client_);
    client_ = nullptr;
    engine_ = nullptr;
}

std::string JackClient::name() const {
    return client_ ? jack_get_client_name(client_) : "";
}

float JackClient::dsp_load() const noexcept {
    return client_ ? jack_cpu_load(client_) : 0.0F;
}

std::string JackClient::shutdown_reason() const {
    return shutdown_reason_;
}

// Audio thread. Wait-free; does not allocate.
int JackClient::process(jack_nframes_t nframes) noexcept {
    for (std::size_t i = 0; i < ports_.size(); ++i)
        buffers_[i] = static_cast<float*>(jack_port_get_buffer(ports_[i], nframes));
    rt_guard::Scope realtime;
    engine_->process(buffers_.data(), nframes);
    return 0;
}

}  // namespace looperd
