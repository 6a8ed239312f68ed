#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: looperd contributors
# Builds looperd and starts it with a working default:
#  - joins the running JACK server, or starts one with the dummy backend (48 kHz, 128 frames)
#    when none runs, so that it works on a machine without a sound card too;
#  - loads the example samples from examples/samples into slots 0..3;
#  - prints the oscsend lines to try, then runs in the foreground until Ctrl-C.
# Extra arguments are passed to looperd (e.g. --osc-bind 0.0.0.0 for a tablet on the LAN).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/install-deps.sh

if [ ! -d build-release ]; then meson setup build-release --buildtype=release -Dtests=false -Dbenchmarks=false; fi
meson compile -C build-release

port=${LOOPERD_OSC_PORT:-9950}
pids=()
# Stop in reverse order of start: looperd leaves JACK before the JACK server stops.
cleanup() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
}
trap cleanup EXIT INT TERM

if JACK_NO_START_SERVER=1 jack_lsp >/dev/null 2>&1; then
  echo "Using the running JACK server."
else
  echo "No JACK server running: starting one with the dummy backend (no sound card needed)."
  JACK_NO_AUDIO_RESERVATION=1 jackd --no-realtime -d dummy -r 48000 -p 128 >/tmp/looperd-jackd.log 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do
    JACK_NO_START_SERVER=1 jack_lsp >/dev/null 2>&1 && break
    sleep 0.1
  done
fi

build-release/src/looperd --osc-port "$port" --samples-dir "$root/examples/samples" "$@" &
looperd_pid=$!
pids+=("$looperd_pid")

# looperd binds its OSC port before anything else, so datagrams sent from here on queue up
# until it is ready; a short wait only lets a start-up error show first.
sleep 0.5
kill -0 "$looperd_pid" 2>/dev/null || { echo "looperd exited; see the log above."; exit 1; }
oscsend 127.0.0.1 "$port" /slot/0/load s drone-loop.wav
oscsend 127.0.0.1 "$port" /slot/0/loop i 1
oscsend 127.0.0.1 "$port" /slot/1/load s kick.wav
oscsend 127.0.0.1 "$port" /slot/2/load s bell-44k1.flac
oscsend 127.0.0.1 "$port" /slot/3/load s noise-burst.ogg

cat <<EOT

looperd is running (OSC on udp port $port). Try, from another terminal:

  oscsend 127.0.0.1 $port /slot/0/play           # start the drone loop
  oscsend 127.0.0.1 $port /slot/1/play           # kick (one-shot)
  oscsend 127.0.0.1 $port /slot/2/play           # bell (a 44.1 kHz FLAC, resampled on load)
  oscsend 127.0.0.1 $port /slot/0/gain f 0.5     # half the drone's level, smoothly
  oscsend 127.0.0.1 $port /master/gain f 0.8
  oscsend 127.0.0.1 $port /slot/0/stop           # fades out in 5 ms
  oscsend 127.0.0.1 $port /stop_all
  oscdump 9951 & oscsend 127.0.0.1 $port /status s osc.udp://127.0.0.1:9951/

Ctrl-C stops looperd (and the JACK server this script started).
EOT
wait "$looperd_pid"
