#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: looperd contributors
"""The widget properties Open Stage Control 1.26.2 knows, per widget type.

Read from the app's docs/widgets/properties-reference.md: a type has the generic properties
plus the ones its own section lists. The reference leaves out the generic properties a type
drops (a `variable` has no geometry, a `led` no `bypass`: the widget classes set them to null,
which the reference's generator skips), so those are kept by hand in the list's "removed",
taken from the 1.26.2 widget classes, and subtracted.

  osc_properties.py --doc DOCS_DIR --check LIST   exit 1 if LIST differs from the reference
  osc_properties.py --doc DOCS_DIR --write LIST   rewrite LIST's "properties" from the reference
"""

import argparse
import json
import re
import sys

REFERENCE = "widgets/properties-reference.md"


def parse_reference(text):
    """{type: set of property names} with the generic ones included, and the generic set."""
    generic, types, current = set(), {}, None
    for line in text.splitlines():
        m = re.match(r'\?\?\? api "<div id="([a-z_]+)">', line)
        if m:
            current = m.group(1)
            if current != "generic_properties":
                types[current] = set()
            continue
        m = re.search(r'<h6 id="([A-Za-z_]+)">', line)
        if not m or current is None:
            continue
        if current == "generic_properties":
            generic.add(m.group(1))
        else:
            prefix = current + "_"
            if not m.group(1).startswith(prefix):
                raise ValueError(f"property id {m.group(1)} outside its type {current}")
            types[current].add(m.group(1)[len(prefix):])
    if not generic or not types:
        raise ValueError("no widget types found: not the properties reference")
    return generic, {t: props | generic for t, props in types.items()}


def expected(doc_dir, removed):
    with open(f"{doc_dir}/{REFERENCE}", encoding="utf-8") as f:
        generic, types = parse_reference(f.read())
    for t, names in removed.items():
        if t not in types:
            raise ValueError(f"removed: no widget type {t} in the reference")
        stray = set(names) - generic
        if stray:
            raise ValueError(f"removed: {t}: {sorted(stray)} are not generic properties")
    return {t: sorted(props - set(removed.get(t, []))) for t, props in sorted(types.items())}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--doc", required=True, help="Open Stage Control's docs/ folder")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--check", metavar="LIST")
    g.add_argument("--write", metavar="LIST")
    args = p.parse_args()
    path = args.check or args.write
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    props = expected(args.doc, data["removed"])
    if args.check:
        if props != data["properties"]:
            for t in sorted(set(props) | set(data["properties"])):
                a, b = set(props.get(t, [])), set(data["properties"].get(t, []))
                if a != b:
                    print(f"{t}: reference only {sorted(a - b)}, list only {sorted(b - a)}",
                          file=sys.stderr)
            print(f"{path} differs from {REFERENCE}; rewrite it with"
                  f" tests/surface/osc_properties.py --doc DOCS --write {path}", file=sys.stderr)
            return 1
        return 0
    data["properties"] = props
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(data, indent=1, sort_keys=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
