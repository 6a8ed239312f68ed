#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: looperd contributors
"""Checks the control-surface examples against looperd's schema and Open Stage Control 1.26.2.

  surface_test.py fresh       --looperd BIN   the checked-in session and TouchOSC table are what
                                              scripts/make-surfaces.py makes from BIN's schema
  surface_test.py session     --looperd BIN   the checked-in session: properties, ids, addresses
  surface_test.py options     --looperd BIN   16 slots in pages of 8, 128 in pages of 16
  surface_test.py properties-doc              the property list against the app's own reference
                                              ($OPEN_STAGE_CONTROL, else ../shared/tools/
                                              open-stage-control beside the repository; skipped
                                              when absent)
Exit 0: passed; 1: failed; 77: skipped (meson's code).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SESSION = os.path.join(REPO, "examples", "open-stage-control", "looperd.json")
GENERATOR = os.path.join(REPO, "scripts", "make-surfaces.py")
PROPERTIES = os.path.join(REPO, "tests", "surface", "open-stage-control-1.26.2-properties.json")
LOCAL = "/surface/"
CONTAINERS = {"root", "panel", "tab", "modal"}
# Types that never send their value: they only show what arrives on their address.
DISPLAYS = {"led", "text", "variable"}
SLOT_IDS = ["slot", "label", "state", "play", "stop", "record", "overdub", "undo", "redo",
            "clear", "gain", "pan", "pitch", "mode", "loop", "quantize", "position", "playing"]
GLOBAL_IDS = ["master_gain", "tempo", "meter", "beat", "meter_out", "jack_state", "xruns",
              "connection"]
BROWSER_IDS = ["browser", "browser_slot", "browser_load", "browser_refresh"]


class Failures:
    def __init__(self):
        self.items = []

    def check(self, ok, message):
        if not ok:
            self.items.append(message)

    def report(self, what):
        for m in self.items[:50]:
            print(f"FAIL {what}: {m}", file=sys.stderr)
        if len(self.items) > 50:
            print(f"… and {len(self.items) - 50} more", file=sys.stderr)
        return 1 if self.items else 0


def strict_json(text):
    def no_duplicates(pairs):
        keys = [k for k, _ in pairs]
        dup = {k for k in keys if keys.count(k) > 1}
        if dup:
            raise ValueError(f"duplicate key(s) {sorted(dup)}")
        return dict(pairs)

    def no_constant(name):
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, object_pairs_hook=no_duplicates, parse_constant=no_constant)


def schema_of(looperd):
    out = subprocess.run([looperd, "--print-osc=json"], check=True, capture_output=True,
                         text=True).stdout
    return {r["address"]: r for r in json.loads(out)["addresses"]}


def row_for(schema, address):
    """The schema row of a concrete address ("/slot/3/gain" → "/slot/<n>/gain")."""
    if address in schema:
        return schema[address]
    pattern = re.sub(r"^/slot/\d+/", "/slot/<n>/", address)
    return schema.get(pattern) if pattern != address else None


def arg_counts(row):
    """(required, at most) arguments of a control row, from its documented `args`."""
    args = row["args"]
    if row["value"] == "button":
        return 0, 1
    tokens = re.findall(r"\[[^\]]*\]|\S+", args)
    if any("…" in t for t in tokens):
        return len([t for t in tokens if not t.startswith("[")]) - 1, 10 ** 6
    return len([t for t in tokens if not t.startswith("[")]), len(tokens)


def walk(w, out):
    out.append(w)
    for key in ("widgets", "tabs"):
        for child in w.get(key, []):
            walk(child, out)
    return out


def scripts_of(w):
    return [w[k] for k in ("onCreate", "onValue", "onDraw", "onTouch", "onPreload")
            if isinstance(w.get(k), str) and w[k]]


def strings_of(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings_of(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings_of(v)


def in_range(x, row):
    return isinstance(x, (int, float)) and row["min"] <= x <= row["max"]


def range_ends(scale):
    """The values at a fader's min and max: numbers, or {label: value}."""
    ends = []
    for key in ("min", "max"):
        v = scale.get(key)
        ends.append(next(iter(v.values())) if isinstance(v, dict) else v)
    return ends


def check_session(doc, schema, properties, f, slots=None):
    f.check(doc.get("type") == "session" and doc.get("version") == "1.26.2",
            "not an Open Stage Control 1.26.2 session")
    root = doc.get("content", {})
    f.check(root.get("type") == "root", "content is not a root widget")
    widgets = walk(root, [])
    ids = [w.get("id") for w in widgets]
    seen = set()
    for i in ids:
        f.check(i not in seen, f"duplicate id {i}")
        seen.add(i)
    known = set(ids)

    # The ids end-to-end tests rely on.
    count = slots if slots is not None else len([i for i in ids if re.fullmatch(r"slot_\d+", i)])
    for n in range(count):
        for prefix in SLOT_IDS:
            f.check(f"{prefix}_{n}" in known, f"no widget {prefix}_{n}")
    for i in GLOBAL_IDS + (BROWSER_IDS if "/samples/list" in schema else []):
        f.check(i in known, f"no widget {i}")
    f.check(not any(a.startswith(LOCAL) for a in schema),
            f"looperd now has an address under {LOCAL}, which the session keeps for itself")

    for w in widgets:
        wid, type_ = w.get("id"), w.get("type")
        where = f"{wid} ({type_})"
        allowed = properties.get(type_)
        f.check(allowed is not None, f"{where}: no such widget type in 1.26.2")
        for prop in w:
            f.check(allowed is None or prop in allowed,
                    f"{where}: 1.26.2 has no property {prop!r} for a {type_}")
        # Every @{id} and every id a script names must be a widget of the session.
        for s in strings_of({k: v for k, v in w.items() if k not in ("widgets", "tabs")}):
            for ref in re.findall(r"@\{([A-Za-z0-9_]+)", s):
                f.check(ref in known or ref in ("this", "parent"), f"{where}: @{{{ref}}} unknown")
        for s in scripts_of(w):
            for ref in re.findall(r"\b(?:get|set|updateCanvas)\('([A-Za-z0-9_]+)'\s*[,)]", s):
                f.check(ref in known or ref in ("this", "parent"), f"{where}: script names {ref}")
            for prefix in re.findall(r"\bset\('([A-Za-z0-9_]+_)'\s*\+", s):
                f.check(f"{prefix}0" in known, f"{where}: script names {prefix}<n>")
            check_sends(s, schema, where, f)
        if type_ in CONTAINERS or type_ == "root":
            continue
        address = w.get("address")
        f.check(isinstance(address, str) and address.startswith("/"),
                f"{where}: needs an explicit address")
        if not isinstance(address, str):
            continue
        sends = (type_ not in DISPLAYS and not w.get("bypass", False)
                 and w.get("interaction", True) is not False and type_ != "canvas")
        if address.startswith(LOCAL):
            f.check(not sends, f"{where}: sends on the surface's own {address}")
            continue
        row = row_for(schema, address)
        f.check(row is not None, f"{where}: {address} is not in looperd's schema")
        if row is None:
            continue
        if sends:
            f.check(row["role"] == "control", f"{where}: sends {address}, a {row['role']} row")
            check_sent_values(w, row, where, f)
        else:
            # A display shows what looperd sends: feedback, a reply, or a control's echo.
            pattern = row["address"]
            echoed = any(r.get("echo") == pattern for r in schema.values())
            f.check(row["role"] in ("feedback", "reply") or echoed,
                    f"{where}: shows {address}, which looperd never sends")
            if type_ == "canvas":
                n_args = len(row["args"].split())
                f.check(w.get("valueLength", 1) == n_args,
                        f"{where}: valueLength {w.get('valueLength', 1)}, {address} has {n_args}")
            if type_ in ("led", "fader") and row["role"] == "feedback":
                f.check(row["args"].startswith("f:"), f"{where}: {address} is not a number")
            if type_ == "text" and row["role"] == "feedback":
                f.check(row["args"].startswith("s:"), f"{where}: {address} is not text")


def check_sent_values(w, row, where, f):
    type_ = w["type"]
    value = row["value"]
    if type_ == "button":
        mode = w.get("mode", "toggle")
        sent = [] if mode == "momentary" else [w.get("on", 1)] + (
            [w.get("off", 0)] if mode in ("push", "toggle") else [])
        for v in sent:
            if v is None:
                f.check(arg_counts(row)[0] == 0, f"{where}: sends no argument to {row['address']}")
            elif value == "button":
                f.check(isinstance(v, (int, float)), f"{where}: a button sends {v!r}")
            else:
                f.check(value in ("number", "whole") and in_range(v, row),
                        f"{where}: sends {v!r} to {row['address']} ({row['args']})")
        if mode == "momentary":
            f.check(arg_counts(row)[0] == 0, f"{where}: sends no argument to {row['address']}")
    elif type_ in ("fader", "knob"):
        f.check(value in ("number", "whole"), f"{where}: a {type_} on {row['address']}")
        if value in ("number", "whole"):
            lo, hi = range_ends(w.get("range", {"min": 0, "max": 1}))
            f.check(lo == row["min"] and hi == row["max"],
                    f"{where}: range {lo} … {hi}, the schema says {row['min']} … {row['max']}")
            if "default" in w and "default" in row:
                f.check(w["default"] == row["default"], f"{where}: default {w['default']},"
                        f" the schema says {row['default']}")
    elif type_ == "dropdown":
        values = w.get("values", [])
        values = list(values.values()) if isinstance(values, dict) else values
        for v in values:
            if isinstance(v, str):
                f.check(v in row.get("choices", []), f"{where}: {v!r} is none of"
                        f" {row['address']}'s choices")
            else:
                f.check(value in ("whole", "number", "quantize") and in_range(v, row),
                        f"{where}: {v!r} outside {row['address']}'s range")
        if isinstance(values, list) and row.get("choices"):
            f.check(sorted(map(str, values)) == sorted(row["choices"]),
                    f"{where}: offers {values}, the schema {row['choices']}")
    else:
        f.check(False, f"{where}: no check for what a {type_} sends")


def check_sends(script, schema, where, f):
    """send('/address', args…) and send(`/slot/${n}/verb`, …) in a script."""
    for m in re.finditer(r"\bsend\(\s*(['`])(/[^'`]*)\1\s*((?:,[^,)]*)*)\)", script):
        address = re.sub(r"\$\{[^}]*\}", "0", m.group(2))
        n_args = len([a for a in m.group(3).split(",") if a.strip()])
        row = row_for(schema, address)
        f.check(row is not None and row["role"] == "control",
                f"{where}: a script sends {m.group(2)}, not a control address of looperd")
        if row is not None:
            lo, hi = arg_counts(row)
            f.check(lo <= n_args <= hi, f"{where}: a script sends {m.group(2)} with {n_args}"
                    f" argument(s); looperd takes {row['args'] or 'none'}")
    # A send whose address is not written out could not be checked: refuse it.
    for m in re.finditer(r"\bsend\(\s*([^'`\s])", script):
        f.check(False, f"{where}: send() with an address the test cannot read")


def load_properties():
    with open(PROPERTIES, encoding="utf-8") as fh:
        return {t: set(p) for t, p in json.load(fh)["properties"].items()}


def generate(looperd, slots, per_page, out):
    return subprocess.run([sys.executable, GENERATOR, "--looperd", looperd, "--slots", str(slots),
                           "--per-page", str(per_page), "--session", out, "--session-only"],
                          capture_output=True, text=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("check", choices=["fresh", "session", "options", "properties-doc"])
    p.add_argument("--looperd")
    args = p.parse_args()
    f = Failures()

    if args.check == "properties-doc":
        base = os.environ.get("OPEN_STAGE_CONTROL") or os.path.join(
            REPO, "..", "shared", "tools", "open-stage-control")
        docs = os.path.join(base, "docs")
        if not os.path.isfile(os.path.join(docs, "widgets", "properties-reference.md")):
            print(f"skipped: no Open Stage Control docs at {base} (set OPEN_STAGE_CONTROL)")
            return 77
        return subprocess.run([sys.executable, os.path.join(REPO, "tests", "surface",
                                                            "osc_properties.py"),
                               "--doc", docs, "--check", PROPERTIES]).returncode

    if not args.looperd:
        p.error("--looperd is needed")
    if args.check == "fresh":
        r = subprocess.run([sys.executable, GENERATOR, "--looperd", args.looperd, "--check"],
                           capture_output=True, text=True)
        sys.stderr.write(r.stderr)
        return 0 if r.returncode == 0 else 1

    schema = schema_of(args.looperd)
    properties = load_properties()
    if args.check == "session":
        with open(SESSION, encoding="utf-8") as fh:
            try:
                doc = strict_json(fh.read())
            except ValueError as e:
                print(f"FAIL session: {SESSION} is not strict JSON: {e}", file=sys.stderr)
                return 1
        check_session(doc, schema, properties, f)
        return f.report("looperd.json")

    for slots, per_page in ((16, 8), (128, 16), (8, 16), (1, 8)):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "s.json")
            r = generate(args.looperd, slots, per_page, out)
            f.check(r.returncode == 0, f"--slots {slots} --per-page {per_page}: {r.stderr}")
            if r.returncode != 0:
                continue
            with open(out, encoding="utf-8") as fh:
                doc = strict_json(fh.read())
        g = Failures()
        check_session(doc, schema, properties, g, slots=slots)
        f.items += [f"--slots {slots} --per-page {per_page}: {m}" for m in g.items]
        pages = [w for w in walk(doc["content"], []) if w.get("type") == "tab"]
        want = 0 if slots <= per_page else -(-slots // per_page)
        f.check(len(pages) == want, f"--slots {slots} --per-page {per_page}: {len(pages)} tabs")
    r = generate(args.looperd, 129, 16, os.devnull)
    f.check(r.returncode != 0, "--slots 129 was accepted")
    return f.report("options")


if __name__ == "__main__":
    sys.exit(main())
