// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "io/osc_codec.hpp"
#include "looperd/command.hpp"
#include "looperd/limits.hpp"

// looperd's control schema: one row per OSC address, accepted, replied or sent as feedback
// (the table is in osc_rows.hpp, a slot's rows in osc_rows_slot.hpp).
// Dispatch, argument checks, the rig's state file, feedback, `looperd --print-osc` and
// docs/osc.md's address table all read this table; nothing else in src/ spells an address or a
// parameter's range. Constant data: any thread.
namespace looperd::osc {

// Who sends a message on the address.
enum class Role : std::uint8_t {
    control,   // a peer: looperd accepts it
    reply,     // looperd, answering one peer's control message
    feedback,  // looperd, to its subscribers (docs/osc.md#feedback)
};

// The control value a row takes (its first argument).
enum class Value : std::uint8_t {
    none,      // no value (an optional reply URL may follow: see `args`)
    button,    // optional number: none or non-zero is a press, 0 a release
    number,    // a finite number from min to max
    whole,     // a whole number from min to max
    choice,    // one of `choices`, a string
    quantize,  // one of `choices`, or a number of beats above min, up to max
    path,      // a file path string
    name,      // a session name string
    text,      // a string of at most `max` bytes of UTF-8, empty included (a slot's label)
    special,   // arguments the row's own handler reads (see `args`)
};

// Where a row's upper bound comes from when the daemon's configuration narrows it: `max` is
// then the most any configuration allows (what a saved rig is checked against).
enum class Bound : std::uint8_t {
    fixed,
    output_pairs,  // ⌈--outputs / 2⌉
    input_pairs,   // ⌈--inputs / 2⌉
};

// Which handler of the controller's router answers a control row. `param` is the generic one
// for a slot's plain number, whole, choice or text parameters (check, send if the row has a
// command, mirror, echo); the others are named after their address.
enum class Handler : std::uint8_t {
    none,  // replies and feedback: never answered
    param,
    ping,
    status,
    stop_all,
    master_gain,
    monitor,
    load,
    unload,
    play,
    stop,
    mode,
    loop,
    region,          // start, end
    region_seconds,  // start_seconds, end_seconds
    quantize,
    record,
    overdub,
    undo,
    redo,
    clear,
    save,
    load_take,
    clock_tempo,
    clock_meter,
    clock_reset,
    clock_sync,
    clock_from_slot,
    notify,
    refresh,
    info,
    slots,
    session_save,
    session_load,
    session_list,
    samples_list,
    midi_leds_refresh,
    midi_bind,
    midi_forget,
    midi_learn,
    midi_learn_cancel,
    midi_bindings,
    clock_playing,
    stretch,
};

// Addresses the code sends, besides echoes (which take a row's `echo`). Rows below use them.
inline constexpr std::string_view kError = "/error";
inline constexpr std::string_view kPong = "/pong";
inline constexpr std::string_view kStatusReply = "/status.reply";
inline constexpr std::string_view kSlotLoaded = "/slot/<n>/loaded";
inline constexpr std::string_view kSlotSaved = "/slot/<n>/saved";
inline constexpr std::string_view kSlotInfoReply = "/slot/<n>/info.reply";
inline constexpr std::string_view kSlotsReply = "/slots.reply";
inline constexpr std::string_view kSessionSaveReply = "/session/save.reply";
inline constexpr std::string_view kSessionLoadReply = "/session/load.reply";
inline constexpr std::string_view kSessionListReply = "/session/list.reply";
inline constexpr std::string_view kSamplesListReply = "/samples/list.reply";
inline constexpr std::string_view kSlotState = "/slot/<n>/state";
inline constexpr std::string_view kSlotPlaying = "/slot/<n>/playing";
inline constexpr std::string_view kSlotPosition = "/slot/<n>/position";
inline constexpr std::string_view kMeterOut = "/meter/out";
inline constexpr std::string_view kClockBeat = "/clock/beat";
inline constexpr std::string_view kClockLinkPeers = "/clock/link_peers";
inline constexpr std::string_view kMidiBindingsReply = "/midi/bindings.reply";
inline constexpr std::string_view kMidiLearned = "/midi/learned";
inline constexpr std::string_view kMidiLearning = "/midi/learning";
// A bundle refused whole is reported under this name instead of an address.
inline constexpr std::string_view kBundle = "#bundle";

struct Row {
    std::string_view address;  // "/ping", or "/slot/<n>/gain" for a slot's
    Role role = Role::control;
    Value value = Value::none;
    // The arguments as documented, OSC type tags first: "number", "s:path [s:reply_url]".
    std::string_view args;
    double min = 0.0;
    double max = 0.0;
    Bound bound = Bound::fixed;
    double def = 0.0;           // the default of a number or whole value
    std::string_view def_text;  // a default that is not a plain number ("oneshot", "--fade-ms")
    std::string_view unit;      // "ms", "BPM", "semitones", "linear", "fraction"...
    std::string_view choices;   // "oneshot|loop|gate|toggle"
    std::string_view what;      // the value's name in /error texts: "pan", "pitch (semitones)"
    bool saved = false;         // kept in the rig: state file, sessions, a config's [[slot]]
    // A slot parameter of the first state format: written in every saved slot even at its
    // default, and listed in /slot/<n>/info.reply before `playing`, as it always was. A
    // parameter added since is written only off its default and listed after `playing`, so
    // that an older rig saves byte for byte and positional readers of info.reply keep working.
    bool state_v1 = false;
    std::string_view echo;               // where an accepted change is echoed to subscribers
    bool recording = false;              // needs recording (--inputs and --recorders above 0)
    std::optional<CommandKind> command;  // the engine command it sends, if one
    Handler handler = Handler::none;
    std::string_view reply;  // what answers it, as documented
    std::string_view doc;    // one line: what it does
};

// The whole table, in docs/osc.md's order (osc_rows.hpp's kRows). A slot's saved parameters
// come in the order the state file writes them.
std::span<const Row> rows();

// "/slot/12/play" → {12, "play"}: digits only, no sign, at most 9 of them; nullopt for any
// other address.
struct SlotAddress {
    std::uint64_t slot = 0;
    std::string_view verb;
};
std::optional<SlotAddress> parse_slot_address(std::string_view address);

// The OSC type tags a row's value accepts: "ihfd" (numbers: int32, int64, float32, float64;
// finite), "s" (strings; 'S' symbols too), "sihfd" (quantize), or "" (no value, or its handler
// reads its own: see `args`). T, F, N, I and blobs are refused everywhere.
std::string_view value_types(const Row& r);

// The name at `index` of choices "a|b|c" ("" past the end), and the index of `name` (nullopt
// when it is none of them). Constant expressions: the model derives its defaults from them.
constexpr std::string_view choice_at(std::string_view choices, std::size_t index) {
    for (std::size_t k = 0; !choices.empty(); ++k) {
        const auto bar = choices.find('|');
        if (k == index) return choices.substr(0, bar);
        choices = bar == std::string_view::npos ? std::string_view{} : choices.substr(bar + 1);
    }
    return {};
}
constexpr std::optional<std::size_t> choice_of(std::string_view choices, std::string_view name) {
    for (std::size_t k = 0; !choices.empty(); ++k) {
        const auto bar = choices.find('|');
        if (choices.substr(0, bar) == name) return k;
        choices = bar == std::string_view::npos ? std::string_view{} : choices.substr(bar + 1);
    }
    return std::nullopt;
}

// A choice row's names, in order (the index of a name is its enum's value: SlotMode,
// ClockSource): the index of `name`, or nullopt; the name at `index` ("" past the end); the
// names quoted for an error text, R"("a", "b" or "c")", `last` joining the final one.
std::optional<std::size_t> choice_index(const Row& r, std::string_view name);
std::string_view choice_name(const Row& r, std::size_t index);
std::string quoted_choices(const Row& r, std::string_view last = " or ");

// Argument readers, as every row reads its value. A number: int or float (32 or 64 bit),
// finite; anything else (T, F, NaN, infinities, strings): nullopt. A string: 's' or 'S'.
std::optional<double> number(const OscArg& a);
bool is_string(const OscArg& a);

// Whether `s` is UTF-8: no stray or missing continuation bytes, overlong forms, surrogates or
// code points past U+10FFFF.
bool valid_utf8(std::string_view s);
// Whether `s` is a value of text row `r`: at most r.max bytes of UTF-8, without NUL (which an
// OSC string cannot carry). The rule, for an error text after the value's name: "must be text
// of at most 64 bytes of UTF-8".
bool fits_text(const Row& r, std::string_view s);
std::string text_rule(const Row& r);

// A row's range and default as docs/osc.md writes them ("0 … 4", "`loop`", "⌈outputs/2⌉"),
// code in backticks; "" when the row has none.
std::string range_text(const Row& r);
std::string default_text(const Row& r);

// The row a handler answers (the first, for handlers that answer several). `h` must answer
// one: asking for Handler::none or Handler::param is a bug.
const Row& row(Handler h);

// The row of an address pattern ("/slot/<n>/gain"), or nullptr.
const Row* find(std::string_view pattern);

// The row `address` ("/slot/12/gain", "/ping") falls under, whatever the slot count, or
// nullptr; `slot` receives the slot number of a slot address.
const Row* match(std::string_view address, std::uint64_t* slot = nullptr);

// "/slot/<n>/gain" → "/slot/3/gain"; other patterns unchanged.
std::string slot_address(std::string_view pattern, std::uint32_t slot);
// "gain" → "/slot/3/gain".
std::string slot_verb_address(std::uint32_t slot, std::string_view verb);

// The part of a slot pattern after "/slot/<n>/" ("gain"), or "" for a global address.
constexpr std::string_view slot_verb(std::string_view pattern) {
    constexpr std::string_view kSlotPattern = "/slot/<n>/";
    return pattern.starts_with(kSlotPattern) ? pattern.substr(kSlotPattern.size())
                                             : std::string_view{};
}

// The table as Markdown (docs/osc.md's address table) and as JSON (for surfaces and
// mappings): `looperd --print-osc` and `--print-osc=json`.
std::string markdown_table();
std::string json_schema();

}  // namespace looperd::osc
