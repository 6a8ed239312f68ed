#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: looperd contributors
"""Writes looperd's control-surface examples from its own address table.

Reads the schema (`looperd --print-osc=json`, or a JSON file) and writes
  examples/open-stage-control/looperd.json  an Open Stage Control 1.26.2 session
  examples/open-stage-control/README.md      its table of state colours, between marker comments
  examples/touchosc/README.md               the mapping table, between its marker comments
Ranges, defaults, choices and units come from the schema only. Anything the surfaces need that
the schema lacks (an address, a state with no colour) stops the script with a message.

  scripts/make-surfaces.py                       regenerate both from build/src/looperd
  scripts/make-surfaces.py --check               exit 1 if either file is out of date
  scripts/make-surfaces.py --slots 128 --per-page 16 --session big.json --session-only
"""

import argparse
import json
import math
import os
import subprocess
import sys

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
SESSION_PATH = "examples/open-stage-control/looperd.json"
TOUCHOSC_PATH = "examples/touchosc/README.md"
OSC_README_PATH = "examples/open-stage-control/README.md"
REGENERATE = "scripts/make-surfaces.py (after building looperd)"

# Addresses only the surface itself uses: widgets that exist for their scripts or looks carry
# one so that they never match anything looperd sends (looperd has no address under it).
LOCAL = "/surface/"

# One colour per slot state; a state the schema lists without a colour here is an error, so a
# new state cannot reach the stage unseen. Text is dark on light fills, light on dark ones.
STATE_COLOURS = {
    "empty": ("#3b3f46", "#c8ccd2"),
    "loading": ("#2b6cd4", "#ffffff"),
    "stopped": ("#8a9099", "#101215"),
    "queued": ("#e0b020", "#101215"),
    "playing": ("#2f9e44", "#ffffff"),
    "stopping": ("#e8590c", "#ffffff"),
    "recording": ("#d62828", "#ffffff"),
    "overdubbing": ("#ae3ec9", "#ffffff"),
    "stretching": ("#1098ad", "#ffffff"),  # a teal between loading and playing
}
UNKNOWN_STATE_COLOURS = ("#ffffff", "#d62828")  # a state this session was not made for

BEGIN_MARK = "<!-- begin: scripts/make-surfaces.py -->"
END_MARK = "<!-- end: scripts/make-surfaces.py -->"


class SchemaError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# The schema


class Schema:
    def __init__(self, doc):
        if doc.get("format") != "looperd-osc-schema":
            raise SchemaError('not a looperd schema (no "format": "looperd-osc-schema")')
        self.rows = {r["address"]: r for r in doc["addresses"]}

    def has(self, address):
        return address in self.rows

    def row(self, address, role=None):
        r = self.rows.get(address)
        if r is None:
            raise SchemaError(f"the schema has no {address}")
        if role is not None and r["role"] != role:
            raise SchemaError(f"{address} is a {r['role']} row, the surface needs a {role} one")
        return r

    def control(self, address, *fields):
        r = self.row(address, "control")
        for f in fields:
            if f not in r:
                raise SchemaError(f"{address} has no {f!r} in the schema")
        return r

    def choices(self, address):
        r = self.row(address)
        if not r.get("choices"):
            raise SchemaError(f"{address} has no choices in the schema")
        return r["choices"]


def load_schema(args):
    if args.schema:
        with open(args.schema, encoding="utf-8") as f:
            text = f.read()
    else:
        looperd = args.looperd or os.path.join(REPO, "build", "src", "looperd")
        if not os.access(looperd, os.X_OK):
            raise SchemaError(f"no looperd at {looperd}: build it, or give --looperd or --schema")
        text = subprocess.run([looperd, "--print-osc=json"], check=True, capture_output=True,
                              text=True).stdout
    return Schema(json.loads(text))


def slot(address, n):
    return address.replace("<n>", str(n))


def number(x):
    """A schema number as JSON writes it: 4, not 4.0."""
    return int(x) if float(x).is_integer() else x


def db(linear):
    return 20.0 * math.log10(linear)


# ---------------------------------------------------------------------------------------------
# Open Stage Control widgets. Only properties 1.26.2 knows for the type are written
# (tests/surface/open-stage-control-1.26.2-properties.json); the rest take the app's defaults.


def widget(type_, id_, **props):
    w = {"type": type_, "id": id_}
    w.update(props)
    return w


def panel(id_, layout, widgets, **props):
    return widget("panel", id_, layout=layout, widgets=widgets, **props)


def text(id_, address, default, **props):
    return widget("text", id_, address=address, default=default, **props)


def button(id_, address, label, mode, **props):
    return widget("button", id_, address=address, label=label, mode=mode, **props)


def variable(id_, address, on_value):
    return widget("variable", id_, address=address, onValue=on_value)


# Text that keeps to one line and ends in "…" when the slot is too narrow for it.
ONE_LINE_CSS = "white-space: nowrap; overflow: hidden; text-overflow: ellipsis;"


def caption_css(extra=""):
    # The caption is a line of its own above the widget (Open Stage Control puts html before
    # the widget's content), so it never covers the fader's pips or the knob.
    return (".html { line-height: 16rem; font-size: 90%; white-space: nowrap; overflow: hidden;"
            " text-overflow: ellipsis; pointer-events: none; }" + extra)


def when_number(expr):
    """A #{} caption: expr once the widget has a number, a dash before (html is evaluated
    before the first value arrives, when @{this} is still undefined)."""
    return f"#{{typeof @{{this}} === 'number' ? {expr} : '–'}}"


def gain_fader(id_, address, row, horizontal, label, **props):
    """A gain fader in dB steps over the schema's linear range, its value shown in dB."""
    lo, hi = row["min"], row["max"]
    if lo != 0 or hi <= 1:
        raise SchemaError(f"{row['address']}: the gain scale expects a range 0 … above 1")
    # Breakpoints at familiar dB marks inside the range, so that unity sits high on the
    # fader and the last few dB are not squeezed into its top.
    marks = [(0.0, {"-inf": 0})]
    for pos, mark in ((0.25, -30.0), (0.5, -12.0), (0.75, 0.0)):
        marks.append((pos, {f"{mark:g}": round(10 ** (mark / 20.0), 4)}))
    marks.append((1.0, {f"+{db(hi):.0f}": number(hi)}))
    scale = {}
    for pos, mark in marks:
        key = "min" if pos == 0 else "max" if pos == 1 else f"{int(pos * 100)}%"
        scale[key] = mark
    shown = when_number("(@{this} > 0 ? (20 * Math.log10(@{this})).toFixed(1) + ' dB' : '-inf dB')")
    return widget("fader", id_, address=address, range=scale, default=number(row["default"]),
                  doubleTap=True, horizontal=horizontal, pips=True,
                  html=f"<div>{label} <b>{shown}</b></div>", css=caption_css(),
                  comments=f"{row['address']}: {row['min']} … {row['max']} {row.get('unit', '')}"
                  f", shown in dB; double tap: {row['default']}", **props)


def knob(id_, address, row, label, shown, steps=None):
    props = dict(address=address, range={"min": number(row["min"]), "max": number(row["max"])},
                 default=number(row["default"]), doubleTap=True, html=f"<div>{label} <b>{shown}</b></div>",
                 css=caption_css(), design="solid", expand=True)
    if steps:
        props["steps"] = steps
    return widget("knob", id_, **props)


def state_css(schema):
    """The state display's colours: a JS lookup over the schema's state names."""
    states = schema.choices("/slot/<n>/state")
    missing = [s for s in states if s not in STATE_COLOURS]
    if missing:
        raise SchemaError(f"/slot/<n>/state value(s) with no colour: {', '.join(missing)} "
                          f"(add them to STATE_COLOURS in scripts/make-surfaces.py)")
    table = ", ".join(f"'{s}': ['{STATE_COLOURS[s][0]}', '{STATE_COLOURS[s][1]}']" for s in states)
    fallback = f"['{UNKNOWN_STATE_COLOURS[0]}', '{UNKNOWN_STATE_COLOURS[1]}']"
    return ("JS{ var c = ({" + table + "})[@{this}] || " + fallback + ";"
            " return 'background: ' + c[0] + '; color: ' + c[1] + '; border-radius: 4rem;"
            " font-weight: bold;'; }")


def slot_panel(schema, n):
    s = lambda verb: slot(f"/slot/<n>/{verb}", n)  # noqa: E731
    state_row = schema.row("/slot/<n>/state", "feedback")
    for feedback in ("/slot/<n>/playing", "/slot/<n>/position"):
        schema.row(feedback, "feedback")
    if "fraction" not in schema.row("/slot/<n>/position").get("unit", ""):
        raise SchemaError("/slot/<n>/position is not a fraction: the bar needs its range")
    label_row = schema.control("/slot/<n>/label", "echo")
    for verb in ("play", "stop", "record", "overdub", "undo", "redo"):
        if not schema.control(f"/slot/<n>/{verb}")["button"]:
            raise SchemaError(f"/slot/<n>/{verb} is not a button in the schema")
    schema.control("/slot/<n>/clear")
    gain = schema.control("/slot/<n>/gain", "min", "max", "default")
    pan = schema.control("/slot/<n>/pan", "min", "max", "default")
    pitch = schema.control("/slot/<n>/pitch", "min", "max", "default", "unit")
    mode = schema.control("/slot/<n>/mode", "choices", "default")
    loop = schema.control("/slot/<n>/loop", "min", "max")
    quantize = schema.control("/slot/<n>/quantize", "choices", "default")
    if "loop" not in mode["choices"] or loop["echo"] != mode["address"]:
        raise SchemaError("/slot/<n>/loop no longer maps onto /slot/<n>/mode 'loop'")
    states = schema.choices(state_row["address"])
    for needed in ("playing", "recording", "overdubbing"):
        if needed not in states:
            raise SchemaError(f"/slot/<n>/state has no {needed!r}, which the buttons light on")

    name = f"slot {n}"
    # Shows the slot's label; with none, the name of its sample (from /slots.reply, which the
    # root asks for every 2 s), else "slot n". The label a user set is kept apart in globals
    # so that the sample name never passes for it.
    label_script = (
        "var g = globals.looperd; if (!g) return;"
        f" g.labels[{n}] = value === '{name}' ? '' : value;"
        f" if (!g.labels[{n}] && g.samples[{n}]) set('this', g.samples[{n}], {{send: false, script: false}});")
    # An emptied slot loses its sample's name at once, not at the next /slots answer (up to
    # 2 s later), so a stale name never stands over an empty slot.
    empty_script = (
        "var g = globals.looperd; if (!g || value !== 'empty' || !g.samples[" + str(n) + "]) return;"
        f" g.samples[{n}] = undefined;"
        f" if (!g.labels[{n}]) set('label_{n}', '', {{send: false, script: false}});")
    lit = lambda state: (  # noqa: E731
        f"#{{@{{state_{n}}} === '{state}' ? 0.85 : 0.15}}")
    unit = pitch["unit"]
    semitones = "st" if unit == "semitones" else unit
    pitch_steps = int(pitch["max"] - pitch["min"]) + 1  # whole semitones; double tap: default
    mode_values = {c: c for c in mode["choices"]}
    quantize_values = {c: c for c in quantize["choices"]}
    # Top to bottom, each line a fixed height but the play pad, which takes what is left: the
    # slot fits a quarter of a landscape tablet's width and half its height. Names and states
    # get lines of their own so neither is cut by the other on a narrow slot.
    return panel(
        f"slot_{n}", "vertical", [
            panel(f"slot_{n}_top", "horizontal", [
                widget("led", f"playing_{n}", address=s("playing"), width=16, range={"min": 0, "max": 1},
                       comments="lit while the slot plays: /slot/<n>/playing 1|0"),
                text(f"label_{n}", slot(label_row["echo"], n), name, expand=True, align="left",
                     onValue=label_script, css=ONE_LINE_CSS + " font-weight: bold;"),
            ], height=24, padding=1),
            text(f"state_{n}", s("state"), states[0], height=22, css=state_css(schema),
                 onValue=empty_script, comments="/slot/<n>/state: " + ", ".join(states)),
            button(f"play_{n}", s("play"), f"^play {n}", "push", on=1, off=0, expand=True,
                   alphaFillOff=lit("playing"), colorWidget=STATE_COLOURS["playing"][0],
                   comments="press 1, release 0: gate mode fades out on release"),
            widget("fader", f"position_{n}", address=s("position"), horizontal=True,
                   design="compact", interaction=False, bypass=True, height=10,
                   range={"min": 0, "max": 1},
                   comments="/slot/<n>/position: the place in the region, 0 when it stops"),
            # Icons for the well-known verbs, words for rec and dub: six fit the narrowest slot.
            panel(f"slot_{n}_transport", "horizontal", [
                button(f"stop_{n}", s("stop"), "^stop", "tap", on=1, expand=True),
                button(f"record_{n}", s("record"), "rec", "tap", on=1, expand=True,
                       alphaFillOff=lit("recording"), colorWidget=STATE_COLOURS["recording"][0],
                       comments="first tap records a take, the next ends it and loops it"),
                button(f"overdub_{n}", s("overdub"), "dub", "tap", on=1, expand=True,
                       alphaFillOff=lit("overdubbing"),
                       colorWidget=STATE_COLOURS["overdubbing"][0],
                       comments="tap on, tap off; lit while the slot is overdubbing"),
                button(f"undo_{n}", s("undo"), "^undo", "tap", on=1, expand=True),
                button(f"redo_{n}", s("redo"), "^redo", "tap", on=1, expand=True),
                # /clear takes no argument: momentary sends the address alone.
                button(f"clear_{n}", s("clear"), "^trash", "momentary", doubleTap=True, expand=True,
                       comments="double tap: empties the slot"),
            ], height=34, padding=1),
            gain_fader(f"gain_{n}", s("gain"), gain, True, "gain", height=56),
            panel(f"slot_{n}_knobs", "horizontal", [
                knob(f"pan_{n}", s("pan"), pan, "pan", when_number("@{this}.toFixed(2)")),
                knob(f"pitch_{n}", s("pitch"), pitch, "pitch",
                     when_number(f"Math.round(@{{this}}) + ' {semitones}'"), steps=pitch_steps),
            ], height=78, padding=1),
            panel(f"slot_{n}_play_mode", "horizontal", [
                widget("dropdown", f"mode_{n}", address=s("mode"), values=mode_values,
                       default=mode["default"], expand=True, icon=False, css=ONE_LINE_CSS,
                       onValue=f"set('loop_{n}', value === 'loop' ? 1 : 0, {{send: false, script: false}})",
                       comments="/slot/<n>/mode: " + ", ".join(mode["choices"])),
                button(f"loop_{n}", s("loop"), "^redo", "toggle",
                       on=number(loop["max"]), off=number(loop["min"]), width=34,
                       onValue=f"set('mode_{n}', value ? 'loop' : 'oneshot', {{send: false, script: false}})",
                       comments="/slot/<n>/loop 1|0: mode loop or oneshot; lit while the mode is loop"),
                widget("dropdown", f"quantize_{n}", address=s("quantize"), values=quantize_values,
                       default=quantize["default"], expand=True, icon=False, css=ONE_LINE_CSS,
                       label="q %value",
                       comments="/slot/<n>/quantize: " + ", ".join(quantize["choices"])),
            ], height=30, padding=1),
        ], padding=2, css="border: 1rem solid rgba(255, 255, 255, 0.12); border-radius: 6rem;",
        comments=f"slot {n}")


# The slot grid: 4 columns in two rows, so that a tablet or laptop shows all 8 slots at a size
# whose words can be read; 2 columns on a phone, which scrolls.
GRID_CSS = (
    ":host > inner { grid-template-columns: repeat(4, 1fr) !important;"
    " grid-auto-rows: minmax(300rem, 1fr); }"
    " @media (max-width: 600px) { :host > inner {"
    " grid-template-columns: repeat(2, 1fr) !important;"
    " grid-auto-rows: minmax(330rem, 1fr); } }")


def header_css(columns):
    """Landscape: one row; portrait: two; a phone: three."""
    return (
        ":host { height: 112rem !important; }"
        f" :host > inner {{ grid-template-columns: {columns} !important; }}"
        " @media (orientation: portrait) { :host { height: 200rem !important; }"
        " :host > inner { grid-template-columns: repeat(3, 1fr) !important; } }"
        " @media (max-width: 600px) { :host { height: 300rem !important; }"
        " :host > inner { grid-template-columns: repeat(2, 1fr) !important; } }")


def header(schema, slots):
    master = schema.control("/master/gain", "min", "max", "default")
    tempo = schema.control("/clock/tempo", "min", "max", "default", "unit")
    meter = schema.control("/clock/meter", "min", "max", "default")
    playing = schema.control("/clock/playing", "min", "max")
    beat = schema.row("/clock/beat", "feedback")
    if not beat["args"].startswith("i:bar i:beat"):
        raise SchemaError("/clock/beat no longer carries i:bar i:beat")
    schema.row("/meter/out", "feedback")
    schema.row("/status.reply", "reply")
    bpm = tempo["unit"]

    beat_draw = (
        "var beats = Math.max(1, get('meter') || 1), lit = Array.isArray(value) ? value[1] : 0,"
        " gap = 3, w = (width - gap * (beats - 1)) / beats;"
        " for (var k = 0; k < beats; k++) {"
        " ctx.globalAlpha = k + 1 === lit ? 1 : 0.18;"
        " ctx.fillStyle = k === 0 ? cssVars.colorWidget : cssVars.colorText;"
        " ctx.fillRect(k * (w + gap), height * 0.45, w, height * 0.55); }"
        " ctx.globalAlpha = 1; ctx.fillStyle = cssVars.colorText;"
        " ctx.font = Math.min(14, height * 0.3) + 'px sans-serif'; ctx.textAlign = 'left';"
        " ctx.fillText(Array.isArray(value) && value[0] ? 'bar ' + value[0] + ' · beat ' + value[1]"
        " : 'beat', 2, height * 0.33);")
    # Before any /meter/out (and in silence) it still shows its caption and two empty bars, so
    # the panel reads as an output meter, not as a hole in the layout.
    meter_draw = (
        "var p = (globals.looperd && globals.looperd.peaks) || [], n = Math.max(2, p.length),"
        " top = height * 0.4, gap = 3, h = (height - top - gap * (n - 1)) / n;"
        " ctx.fillStyle = cssVars.colorText; ctx.font = Math.min(14, height * 0.25) + 'px sans-serif';"
        " ctx.textAlign = 'left';"
        " ctx.fillText('outputs', 2, height * 0.28);"
        " for (var k = 0; k < n; k++) {"
        " var peak = p[k] || 0, y = top + k * (h + gap);"
        " ctx.globalAlpha = 0.15; ctx.fillStyle = cssVars.colorText; ctx.fillRect(0, y, width, h);"
        " ctx.globalAlpha = 1; ctx.fillStyle = peak >= 1 ? '#d62828' : peak > 0.5 ? '#e0b020' : '#2f9e44';"
        " ctx.fillRect(0, y, width * Math.min(1, peak), h); }")
    browser = []
    if schema.has("/samples/list"):
        schema.control("/samples/list")
        schema.row("/samples/list.reply", "reply")
        load = schema.control("/slot/<n>/load")
        if load["types"] != "s":
            raise SchemaError("/slot/<n>/load no longer takes a path string")
        slot_values = {f"slot {k}": k for k in range(slots)}
        browser = [panel("browser_panel", "vertical", [
            widget("dropdown", "browser", address=LOCAL + "browser", bypass=True,
                   values="JS{ var v = @{browser_files};"
                          " return v === null || v === undefined || v === '' ? [] :"
                          " Array.isArray(v) ? v : [v]; }",
                   label="%value", expand=True, align="left", css=ONE_LINE_CSS,
                   comments="the files under looperd's --samples-dir (/samples/list.reply)"),
            panel("browser_row", "horizontal", [
                widget("dropdown", "browser_slot", address=LOCAL + "browser_slot", bypass=True,
                       values=slot_values, default=0, expand=True, label="%key", icon=False),
                button("browser_load", LOCAL + "browser_load", "^file-import load", "tap",
                       on=1, bypass=True, expand=True,
                       onValue="var path = get('browser'), n = get('browser_slot');"
                               " if (path && n !== null && n !== undefined)"
                               " send(`/slot/${n}/load`, path);",
                       comments="sends /slot/<n>/load with the chosen file into the chosen slot"),
                button("browser_refresh", "/samples/list", "^sync", "tap", on=None, width=44,
                       comments="asks looperd for its sample list again (/samples/list)"),
            ], expand=True, padding=1),
        ], padding=1)]
    else:
        print("make-surfaces.py: note: the schema has no /samples/list yet, so the session has no"
              " sample browser", file=sys.stderr)

    return panel("header", "grid", [
        panel("status_panel", "vertical", [
            # Padded on the left: Open Stage Control's menu button sits over the top-left corner.
            text("connection", LOCAL + "connection", "connecting…", expand=True,
                 css="#{@{this} === 'looperd answering' ? 'background: #1f6f3f;'"
                     " : 'background: #b00020; font-weight: bold;'} border-radius: 4rem;"
                     " padding-left: 14rem; font-size: 90%;",
                 comments="/ping every second; red when no /pong came for 3 s"),
            text("jack_state", LOCAL + "jack_state", "JACK ?", expand=True,
                 css="#{String(@{this}).indexOf('connected') > 0 && String(@{this}).indexOf('dis') < 0"
                     " ? '' : 'color: #ff8787; font-weight: bold;'}",
                 comments="/status.reply jack, every 2 s"),
            text("xruns", LOCAL + "xruns", "xruns ?", expand=True,
                 comments="/status.reply xruns: xruns since looperd started"),
            # What MIDI learn waits for, so that a player sees why a pad plays nothing.
            text("midi_learn", LOCAL + "midi_learn", MIDI_LEARN_OFF, expand=True,
                 css="#{String(@{this}) === '" + MIDI_LEARN_OFF + "' ? 'opacity: 0.5;'"
                     " : 'background: #e0b020; color: #000; font-weight: bold;'}",
                 comments="/midi/learning: the address the next MIDI press or move binds to"),
        ], padding=1),
        gain_fader("master_gain", "/master/gain", master, True, "master"),
        panel("clock_panel", "vertical", [
            widget("fader", "tempo", address="/clock/tempo", horizontal=True,
                   range={"min": number(tempo["min"]), "max": number(tempo["max"])},
                   steps=int(tempo["max"] - tempo["min"]) + 1, decimals=0,
                   default=number(tempo["default"]), doubleTap=True, expand=2,
                   html="<div>tempo <b>" + when_number(f"Math.round(@{{this}}) + ' {bpm}'") + "</b></div>",
                   css=caption_css()),
            panel("meter_row", "horizontal", [
                text("meter_caption", LOCAL + "meter_caption", meter.get("unit", "meter"),
                     expand=True),
                widget("dropdown", "meter", address="/clock/meter",
                       values=list(range(int(meter["min"]), int(meter["max"]) + 1)),
                       default=number(meter["default"]), expand=True),
                button("playing", "/clock/playing", "^play", "toggle",
                       on=number(playing["max"]), off=number(playing["min"]), width=40,
                       comments="/clock/playing 1|0: the transport; off stops every loop, on "
                                "starts them again on the next bar (with Link, the session's)"),
            ], expand=True, padding=1),
        ], padding=1),
        widget("canvas", "beat", address="/clock/beat", valueLength=2, bypass=True,
               interaction=False, onDraw=beat_draw,
               comments="/clock/beat i:bar i:beat: a light per beat of the bar (/clock/meter)"),
        widget("canvas", "meter_out", address=LOCAL + "meter_out", bypass=True,
               interaction=False, onDraw=meter_draw,
               comments="/meter/out: one bar per output, peak 0 … 1, red at 1 and over"),
    ] + browser, gridTemplate=6, padding=2, scroll=False,
       css=header_css("1.3fr 1.5fr 1.5fr 1.1fr 0.8fr" + (" 2fr" if browser else "")))


def hidden_receivers(schema, slots):
    """Variables that take looperd's replies for the scripts."""
    schema.row("/pong", "reply")
    schema.row("/midi/learning", "feedback")
    schema.row("/slots.reply", "reply")
    slots_in = (
        "var g = globals.looperd; if (!g) return;"
        " var v = Array.isArray(value) ? value : [], seen = {};"
        " for (var k = 0; k + 1 < v.length; k += 2) {"
        " var name = String(v[k + 1]).split('/').pop(); seen[v[k]] = name; }"
        f" for (var n = 0; n < {slots}; n++) {{"
        " if (g.samples[n] === seen[n]) continue; g.samples[n] = seen[n];"
        " if (!g.labels[n]) set('label_' + n, seen[n] || '', {send: false, script: false}); }")
    # looperd forgets its subscribers when it restarts: the session subscribes again as soon as
    # it sees looperd back, by a /pong after a gap or by /status.reply's uptime: one that falls,
    # or one that says looperd started after the last /notify (so it never had that one: a
    # restart before the session heard the old looperd at all). They only mark the subscription
    # stale: Open Stage Control ignores send() in a script run by a received message.
    receivers = [
        variable("pong", "/pong",
                 "var g = globals.looperd; if (!g) return; var now = Date.now();"
                 f" if (now - g.last_pong > {PONG_GAP_MS}) g.stale = true;"
                 " g.last_pong = now;"),
        variable("status_reply", "/status.reply",
                 "var g = globals.looperd, v = Array.isArray(value) ? value : [], s = {};"
                 " for (var k = 0; k + 1 < v.length; k += 2) s[v[k]] = v[k + 1];"
                 " if (g && typeof s.uptime === 'number') {"
                 " var started = Date.now() - s.uptime * 1000;"
                 " if ((g.uptime !== null && s.uptime < g.uptime)"
                 f" || started > g.subscribed + {START_SLACK_MS}) g.stale = true;"
                 " g.uptime = s.uptime; }"
                 " if (s.jack !== undefined) set('jack_state', 'JACK ' + s.jack, {send: false});"
                 " if (s.xruns !== undefined) set('xruns', 'xruns ' + s.xruns, {send: false});"),
        variable("slots_reply", "/slots.reply", slots_in),
        variable("midi_learning", "/midi/learning",
                 "set('midi_learn', value ? 'MIDI learn → ' + value : '" + MIDI_LEARN_OFF + "',"
                 " {send: false});"),
        variable("meter_out_peaks", "/meter/out",
                 "if (!globals.looperd) return;"
                 " globals.looperd.peaks = Array.isArray(value) ? value : value === null ? [] : [value];"
                 " updateCanvas('meter_out');"),
    ]
    if schema.has("/samples/list"):
        # The first file is chosen once the list comes, so the browser never shows blank; a
        # moment later, when the drop-down has taken the new list (a value it lacks is refused).
        receivers.append(variable(
            "browser_files", "/samples/list.reply",
            "var v = Array.isArray(value) ? value : value ? [value] : [];"
            " setTimeout('pick', function () {"
            " if (v.length && v.indexOf(get('browser')) < 0) set('browser', v[0], {send: false});"
            " }, 100);"))
    return receivers


# The MIDI learn line while looperd is not learning.
MIDI_LEARN_OFF = "MIDI learn off"

# A /pong later than this after the previous one means looperd was away (a ping goes every
# second), as long as the connection shows red: the session subscribes again. A restart is
# told sooner by /status.reply's uptime; a shorter gap would renew on a mere busy spell.
PONG_GAP_MS = 3000
# How much later than the last /notify looperd must have started for the session to take it
# for a new one: more than a /status round trip on a busy machine.
START_SLACK_MS = 500


def root_script(schema):
    """Subscribes, then keeps watch: /ping and /status every second, /slots every two."""
    for address in ("/notify", "/ping", "/status", "/slots"):
        schema.control(address)
    asks_list = " send('/samples/list');" if schema.has("/samples/list") else ""
    return (
        "globals.looperd = {last_pong: Date.now(), uptime: null, subscribed: 0, stale: false,"
        " samples: {}, labels: {}, peaks: [], subscribe: function () {"
        " this.stale = false; this.subscribed = Date.now();"
        " send('/notify', 2); send('/slots');" + asks_list + " }};"
        " globals.looperd.subscribe();"
        # The receivers mark a stale subscription; the root, which may send, renews it at once.
        " setInterval('renew', function () {"
        " if (globals.looperd.stale) globals.looperd.subscribe(); }, 100);"
        " var tick = 0;"
        " setInterval('looperd', function () {"
        " var g = globals.looperd, answering = Date.now() - g.last_pong < 3000;"
        " set('connection', answering ? 'looperd answering' : 'looperd not answering',"
        " {send: false});"
        # /status every second too: its uptime tells a quick restart that /pong cannot.
        " send('/ping'); send('/status');"
        " if (tick++ % 2 === 0) send('/slots');"
        " }, 1000);")


def session(schema, slots, per_page):
    if not 1 <= slots <= 128:
        raise SchemaError("--slots must be 1 … 128")
    pages = [list(range(k, min(k + per_page, slots))) for k in range(0, slots, per_page)]
    grid_props = dict(gridTemplate=min(8, per_page), padding=3, css=GRID_CSS)
    if len(pages) == 1:
        slots_widget = panel("slots", "grid", [slot_panel(schema, n) for n in pages[0]],
                             expand=True, **grid_props)
    else:
        tabs = [widget("tab", f"page_{k + 1}", label=f"{page[0]}–{page[-1]}", layout="grid",
                       widgets=[slot_panel(schema, n) for n in page], **grid_props)
                for k, page in enumerate(pages)]
        slots_widget = widget("panel", "slots", expand=True, tabs=tabs, padding=0)
    root = widget(
        "root", "root", layout="vertical", onCreate=root_script(schema), padding=2,
        widgets=[header(schema, slots), slots_widget] + hidden_receivers(schema, slots),
        comments=f"looperd, {slots} slots; generated by scripts/make-surfaces.py from"
                 " looperd --print-osc=json: edit the script, not this file")
    return {"createdWith": "Open Stage Control", "version": "1.26.2", "type": "session",
            "content": root}


def session_text(schema, slots, per_page):
    return json.dumps(session(schema, slots, per_page), indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------------------------
# The TouchOSC mapping table


def range_text(row):
    value = row["value"]
    unit = row.get("unit", "")
    if value == "button":
        return "press 1, release 0"
    if value == "choice":
        return ", ".join(f"`{c}`" for c in row["choices"])
    if value == "quantize":
        names = ", ".join(f"`{c}`" for c in row["choices"])
        return f"{names}, or beats above {number(row['min'])} … {number(row['max'])}"
    if value in ("number", "whole"):
        lo, hi = number(row["min"]), number(row["max"])
        if value == "whole" and lo == 0 and hi == 1:
            return "0 or 1"
        text_ = f"{lo} … {hi}" + (", whole" if value == "whole" else "")
        if unit == "linear":
            text_ += f" (linear: 1 is 0 dB, {hi} is +{db(hi):.0f} dB)"
        elif unit:
            text_ += f" {unit}"
        return text_
    if value == "text":
        return f"text, at most {number(row['max_bytes'])} bytes"
    return "—"


# (address, TouchOSC control, note): the rows of the table, in order. Ranges come from the
# schema; a row whose address the schema lacks stops the script.
TOUCHOSC_ROWS = [
    ("/slot/<n>/play", "Button, type Momentary", ": gate mode fades out on release"),
    ("/slot/<n>/playing", "the same Button, a second message", None),
    ("/slot/<n>/stop", "Button, type Momentary, trigger on press only", None),
    ("/slot/<n>/label", "Label", None),
    ("/slot/<n>/state", "Label (colour it per value)", None),
    ("/slot/<n>/gain", "Fader", None),
    ("/slot/<n>/pan", "Radial (or Fader), centred", None),
    ("/slot/<n>/pitch", "Radial", None),
    ("/slot/<n>/rate", "Radial", None),
    ("/slot/<n>/reverse", "Button, type Toggle", None),
    ("/slot/<n>/loop", "Button, type Toggle", ": 1 sets mode `loop`, 0 `oneshot`"),
    ("/slot/<n>/mode", "Label, or a Radio per choice", None),
    ("/slot/<n>/quantize", "Radio, one step per name", None),
    ("/slot/<n>/position", "Fader, Interactive off", None),
    ("/slot/<n>/record", "Button, type Momentary",
     ": the first press starts a take, the next ends it and loops it"),
    ("/slot/<n>/overdub", "Button, type Momentary", ": layering on, the next press off"),
    ("/slot/<n>/undo", "Button, type Momentary", ": the last overdub layer off"),
    ("/slot/<n>/redo", "Button, type Momentary", ": the last layer undone back on"),
    ("/slot/<n>/clear", "Button, no argument (remove **x** from the message)", None),
    ("/master/gain", "Fader", None),
    ("/clock/tempo", "Fader", None),
    ("/clock/meter", "Fader with one step per value", None),
    ("/clock/playing", "Button, type Toggle", ": 0 stops the loops, 1 starts them on the bar"),
    ("/clock/beat", "Label", None),
    ("/meter/out", "Fader per output, Interactive off", None),
    ("/stop_all", "Button, no argument", None),
    ("/refresh", "Button, no argument", " (asks for the whole state)"),
]


def touchosc_table(schema):
    lines = ["| address | TouchOSC control | value range | send | receive |",
             "|---|---|---|---|---|"]
    for address, control, note in TOUCHOSC_ROWS:
        row = schema.row(address)
        role = row["role"]
        if role == "control":
            send = "yes"
            receive = "yes" if row.get("echo") == address else "no"
            range_ = range_text(row)
        else:
            send, receive = "no", "yes"
            if row.get("choices"):
                range_ = "shows " + ", ".join(f"`{c}`" for c in row["choices"])
            else:
                range_ = f"`{row['args']}`: {row['doc']}"
        if address == "/slot/<n>/loop":
            receive = "no"  # echoed as /slot/<n>/mode
        range_ += note or ""
        lines.append(f"| `{address}` | {control} | {range_} | {send} | {receive} |")
    return "\n".join(lines) + "\n"


def state_table(schema):
    lines = ["| state | colour | text |", "|---|---|---|"]
    for state in schema.choices("/slot/<n>/state"):
        fill, ink = STATE_COLOURS[state]
        lines.append(f"| `{state}` | `{fill}` | `{ink}` |")
    fill, ink = UNKNOWN_STATE_COLOURS
    lines.append(f"| any other (a newer looperd) | `{fill}` | `{ink}` |")
    return "\n".join(lines) + "\n"


def between_marks(path, current, table):
    begin = current.find(BEGIN_MARK)
    end = current.find(END_MARK)
    if begin < 0 or end < begin:
        raise SchemaError(f"{path} has no {BEGIN_MARK} … {END_MARK} markers")
    return current[:begin + len(BEGIN_MARK)] + "\n" + table + current[end:]


# ---------------------------------------------------------------------------------------------


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--schema", help="the schema as JSON (default: run looperd --print-osc=json)")
    p.add_argument("--looperd", help="the looperd binary (default: build/src/looperd)")
    p.add_argument("--slots", type=int, default=8, help="slots on the surface (1 … 128)")
    p.add_argument("--per-page", type=int, default=8, choices=(8, 16), help="slots per tab")
    p.add_argument("--session", default=os.path.join(REPO, SESSION_PATH),
                   help="where the Open Stage Control session goes")
    p.add_argument("--touchosc", default=os.path.join(REPO, TOUCHOSC_PATH),
                   help="the TouchOSC README whose table is rewritten")
    p.add_argument("--osc-readme", default=os.path.join(REPO, OSC_README_PATH),
                   help="the Open Stage Control README whose colour table is rewritten")
    p.add_argument("--session-only", action="store_true",
                   help="write the session only, not the two READMEs' tables")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if a file differs from what would be written")
    args = p.parse_args()
    try:
        schema = load_schema(args)
        outputs = [(args.session, session_text(schema, args.slots, args.per_page))]
        if not args.session_only:
            for path, table in ((args.osc_readme, state_table(schema)),
                                (args.touchosc, touchosc_table(schema))):
                with open(path, encoding="utf-8") as f:
                    outputs.append((path, between_marks(path, f.read(), table)))
    except (SchemaError, subprocess.CalledProcessError, OSError, KeyError) as e:
        print(f"make-surfaces.py: error: {e}", file=sys.stderr)
        return 2
    stale = []
    for path, text_ in outputs:
        try:
            with open(path, encoding="utf-8") as f:
                same = f.read() == text_
        except FileNotFoundError:
            same = False
        if same:
            continue
        if args.check:
            stale.append(path)
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text_)
    if stale:
        for path in stale:
            print(f"make-surfaces.py: {os.path.relpath(path, REPO)} is not what looperd's schema"
                  f" gives; regenerate it with {REGENERATE}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
