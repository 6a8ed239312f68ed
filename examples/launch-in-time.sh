#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: looperd contributors
# Loads the example samples into a running looperd (on this machine) and runs
# looperd-launch-in-time against it: four loops start on one frame, then a fill lands on the
# next bar. Stops everything after a few bars.
#
#   examples/launch-in-time.sh [BUILD_DIR]     (default: build-release, as scripts/start.sh uses)
#
# LOOPERD_OSC_PORT selects looperd's port (default 9950). Needs oscsend (liblo-tools).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=${1:-build-release}
port=${LOOPERD_OSC_PORT:-9950}
samples="$root/examples/samples"

if [ ! -x "$build/examples/looperd-launch-in-time" ]; then
  meson compile -C "$build" looperd-launch-in-time
fi

send() { oscsend 127.0.0.1 "$port" "$@"; }

# At 120 BPM in 4/4 a bar lasts 2 s: the drone loop's length. /beats makes each loop last a
# whole number of beats (its rate follows the tempo), so the four stay in time with each other.
send /clock/tempo f 120
send /clock/meter i 4
send /slot/0/load s "$samples/drone-loop.wav"   # 2 s
send /slot/1/load s "$samples/kick.wav"         # 0.35 s → 1 beat
send /slot/2/load s "$samples/bell-44k1.flac"   # 1.5 s → 4 beats (resampled on load)
send /slot/3/load s "$samples/noise-burst.ogg"  # 0.25 s → half a beat
send /slot/4/load s "$samples/kick.wav"         # the fill: a one-shot
beats=(4 1 4 0.5)
gains=(0.8 0.9 0.5 0.15)
for n in 0 1 2 3; do
  send /slot/$n/mode s loop
  send /slot/$n/beats f "${beats[n]}"
  send /slot/$n/gain f "${gains[n]}"
done
send /slot/4/pitch f -12
# Loads finish in the background; oscsend cannot wait for /slot/<n>/loaded, so allow time.
sleep 1

"$build/examples/looperd-launch-in-time" --port "$port" --delay-ms 100 --fill-after-ms 700

sleep 6
send /stop_all
