#!/bin/sh
# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: looperd contributors
# Prints the git revision looperd is built from, for `looperd --version`: the commit (12 hex
# digits, "-dirty" with uncommitted changes) in a git checkout; in a tree exported with
# `git archive` (a release tarball, the Debian package's build), the commit git wrote into
# meson/revision.txt (export-subst, .gitattributes); else "unknown".
root=$1
if [ "$(git -C "$root" rev-parse --show-toplevel 2>/dev/null)" = "$(cd "$root" && pwd -P)" ]; then
  exec git -C "$root" describe --always --dirty --abbrev=12
fi
exported=$(cat "$root/meson/revision.txt" 2>/dev/null)
case "$exported" in
  '' | *Format*) echo unknown ;;
  *) echo "$exported" | cut -c1-12 ;;
esac
