#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: looperd contributors
# Loads every sound file of a folder into consecutive looperd slots, in name order.
#
#   examples/scripts/load-folder.sh DIR [FIRST_SLOT]      (FIRST_SLOT: default 0)
#
# LOOPERD_HOST and LOOPERD_OSC_PORT select looperd (default 127.0.0.1 9950). Paths are sent
# absolute, so looperd's --samples-dir does not matter; looperd must see the same files (same
# machine, or the same path on a shared disk). Needs oscsend (liblo-tools).
set -euo pipefail
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 DIR [FIRST_SLOT]" >&2
  exit 2
fi
dir=$(cd "$1" && pwd)
slot=${2:-0}
host=${LOOPERD_HOST:-127.0.0.1}
port=${LOOPERD_OSC_PORT:-9950}
case $slot in '' | *[!0-9]*) echo "FIRST_SLOT must be a whole number" >&2; exit 2 ;; esac

shopt -s nullglob nocaseglob
files=()
# What libsndfile reads; anything else would only be answered with /error.
for f in "$dir"/*.{wav,aif,aiff,flac,ogg,oga,opus,caf,w64,au}; do files+=("$f"); done
if [ ${#files[@]} -eq 0 ]; then
  echo "no sound files in $dir" >&2
  exit 1
fi
mapfile -t files < <(printf '%s\n' "${files[@]}" | LC_ALL=C sort)

for f in "${files[@]}"; do
  printf 'slot %3d  %s\n' "$slot" "${f##*/}"
  # Loads run one at a time on looperd's loader thread; each answers /slot/<n>/loaded or
  # /error to this (short-lived) sender: watch-feedback.sh or looperd's log shows the outcome.
  oscsend "$host" "$port" "/slot/$slot/load" s "$f"
  slot=$((slot + 1))
done
