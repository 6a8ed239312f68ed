#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: looperd contributors
# A small scripted performance with oscsend and sleep, on the example samples: a drone fades in,
# a kick loop joins on the bar, a bell answers, everything is swept and fades out.
#
#   examples/scripts/performance.sh
#
# LOOPERD_HOST and LOOPERD_OSC_PORT select looperd (default 127.0.0.1 9950); the samples are
# sent as absolute paths of this checkout, so looperd must run on this machine. Needs oscsend.
# Run watch-feedback.sh alongside to see every change and slot state as it happens.
set -euo pipefail
cd "$(dirname "$0")/../.."
samples="$(pwd)/examples/samples"
host=${LOOPERD_HOST:-127.0.0.1}
port=${LOOPERD_OSC_PORT:-9950}
send() { oscsend "$host" "$port" "$@"; }
# Steps a parameter from one value to another in `steps` steps over `seconds`.
ramp() {
  local address=$1 from=$2 to=$3 steps=$4 seconds=$5 k
  for ((k = 0; k <= steps; k++)); do
    send "$address" f "$(awk -v a="$from" -v b="$to" -v k="$k" -v n="$steps" 'BEGIN { printf "%.4f", a + (b - a) * k / n }')"
    sleep "$(awk -v s="$seconds" -v n="$steps" 'BEGIN { printf "%.3f", s / n }')"
  done
}
trap 'send /stop_all' EXIT

send /clock/tempo f 120
send /clock/meter i 4
send /slot/0/load s "$samples/drone-loop.wav"
send /slot/1/load s "$samples/kick.wav"
send /slot/2/load s "$samples/bell-44k1.flac"
send /slot/3/load s "$samples/noise-burst.ogg"
send /slot/0/mode s loop
send /slot/0/gain f 0
send /slot/0/fade_in f 200
send /slot/1/mode s loop
send /slot/1/beats f 1          # the kick loop lasts one beat, whatever its length
send /slot/1/quantize s bar     # starts and stops land on bar lines
send /slot/2/poly i 4           # bells ring over each other
send /slot/2/pan f -0.5
send /slot/3/choke i 1          # the noise burst and the bell cut each other
send /slot/2/choke i 1
sleep 1                         # loads finish in the background

echo "drone"
send /slot/0/play
ramp /slot/0/gain 0 0.7 20 2
echo "kick, from the next bar"
send /slot/1/play
sleep 4
echo "bells"
for pitch in 0 7 12 5; do
  send /slot/2/pitch f "$pitch"
  send /slot/2/play
  sleep 1
done
echo "noise burst chokes the bells"
send /slot/3/play
sleep 1
echo "sweep"
ramp /slot/0/rate 1 0.5 20 2
ramp /slot/0/pan 0 1 10 1
ramp /slot/0/pan 1 0 10 1
echo "kick stops on the bar, the drone fades out"
send /slot/1/stop
send /slot/0/fade_out f 2000
send /slot/0/stop
sleep 2.5
