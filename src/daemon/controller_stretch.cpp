// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors

// Time-stretching's control side (docs/stretch.md): /slot/<n>/stretch, the stretch thread's
// renderings into the engine, and its refusals back to whoever asked.
#include <spdlog/spdlog.h>

#include <cmath>

#include "daemon/controller.hpp"
#include "io/stretch_render.hpp"

namespace looperd {

void Controller::start_stretching(std::function<double()> grid_tempo,
                                  std::function<std::uint32_t(std::uint32_t)> take_content) {
    stretch_tempo_ = std::move(grid_tempo);
    take_content_ = std::move(take_content);
    stretch_.start();
}

double Controller::stretch_tempo() const {
    const auto [tempo, sync] = mirror_.tempo_and_sync();
    if (sync == ClockSource::internal || !stretch_tempo_) return static_cast<double>(tempo);
    return stretch_tempo_();
}

void Controller::osc_slot_stretch(const Request& r) {
    if (!check_arity(r, 1, 1)) return;
    const auto& a = r.message.args[0];
    const auto index = osc::is_string(a) ? osc::choice_index(r.row, a.s) : std::nullopt;
    if (index && static_cast<StretchMode>(*index) == StretchMode::pitch) {
        if (!stretch_available()) {
            refuse(r,
                   "stretch pitch needs Rubber Band, and this looperd was built without it "
                   "(meson -Drubberband=enabled)");
            return;
        }
        // A rendering that cannot fit is refused now, while the sender waits for an answer;
        // a tempo that makes it too long later is refused by the stretch thread.
        const Mirror::Slot& s = r.tx.mirror.slot(r.slot);
        const double beats = static_cast<double>(s.params.number("beats"));
        const double bpm = r.tx.mirror.globals().sync == ClockSource::internal || !stretch_tempo_
                               ? static_cast<double>(r.tx.mirror.globals().tempo)
                               : stretch_tempo_();
        if (s.loaded && beats > 0.0 && bpm > 0.0) {
            // A take is rendered from a copy of it, made first.
            const double copy = s.take ? static_cast<double>(s.frames) : 0.0;
            const double bytes = (std::round(beats * 60.0 / bpm * sample_rate_()) + copy) *
                                 s.channels * static_cast<double>(sizeof(float));
            const double free = static_cast<double>(budget_.limit() - budget_.used());
            if (bytes > free) {
                refuse(r, fmt::format("stretching needs {:.1f} MiB; the memory budget has {:.1f} "
                                      "MiB free (--memory-budget)",
                                      bytes / 1048576.0, free / 1048576.0));
                return;
            }
        }
    }
    osc_param(r);
    if (r.tx.refused || !index) return;
    const std::uint32_t slot = r.slot;
    if (static_cast<StretchMode>(*index) != StretchMode::pitch)
        later(r, [this, slot] { stretch_.dropped(slot); });
    stretch_asked(r, slot);
}

void Controller::stretch_asked(const Request& r, std::optional<std::uint32_t> slot) {
    if (r.tx.refused) return;
    later(r, [this, slot, from = r.from] {
        {
            std::lock_guard lock(stretch_mutex_);
            if (slot) {
                if (*slot < stretch_askers_.size()) stretch_askers_[*slot] = from;
            } else {
                tempo_asker_ = from;
            }
        }
        stretch_.wake();
    });
}

// The stretch thread's rendering goes to the engine only while the slot still holds the sample
// it was made from, in `stretch pitch`: checked and sent under the mirror's lock, so that a
// load, unload or mode change is either before both (and the rendering is dropped here) or
// after both (and the engine drops it then).
// The engine checks a take's content itself (a take changes on the audio thread); this checks
// what the mirror knows: the same load or take, still in `stretch pitch`.
bool Controller::install_stretched(std::uint32_t slot, std::uint64_t generation,
                                   std::uint32_t content, SampleBuffer* rendering) {
    Mirror::Transaction tx(mirror_);
    if (slot >= tx.size()) return false;
    const Mirror::Slot& s = tx.slot(slot);
    if (rendering != nullptr &&
        (s.generation != generation || !s.loaded || s.take != (content != 0) ||
         static_cast<StretchMode>(s.params.whole("stretch")) != StretchMode::pitch))
        return false;
    return port_.send(Command{CommandKind::assign_stretched, slot, 0.0F, content, rendering});
}

// Logged, and answered to whoever last asked something of the slot's rendering (or of the
// tempo): the slot keeps its previous rendering, in time.
void Controller::stretch_refused(std::uint32_t slot, const std::string& why) {
    std::optional<OscEndpoint> to;
    {
        std::lock_guard lock(stretch_mutex_);
        to = slot < stretch_askers_.size() && stretch_askers_[slot] ? stretch_askers_[slot]
                                                                    : tempo_asker_;
    }
    const std::string address = osc::slot_address(osc::row(osc::Handler::stretch).address, slot);
    if (to && to->len != 0) {
        report_error(*to, address, why);
    } else {
        spdlog::error("slot {}: not stretched: {}", slot, why);
    }
}

}  // namespace looperd
