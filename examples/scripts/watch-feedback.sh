#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: looperd contributors
# Subscribes to looperd's feedback and prints it as it arrives: the whole state first, then
# every change, slot state, position, meter and beat.
#
#   examples/scripts/watch-feedback.sh [LISTEN_PORT]      (default 9952: 9951 is where the Open Stage Control example listens)
#
# LOOPERD_HOST and LOOPERD_OSC_PORT select looperd (default 127.0.0.1 9950); LOOPERD_WATCH_HOST
# is the address looperd sends feedback to (default 127.0.0.1: set it to this machine's IP when
# looperd runs elsewhere). Needs oscdump and oscsend (liblo-tools). Ctrl-C unsubscribes.
#
# A watcher only listens. looperd drops no subscriber for silence by default; should it run with
# --subscriber-timeout, set LOOPERD_WATCH_RENEW to a number of seconds below the timeout and the
# subscription is renewed that often (each renewal prints the whole state again). Or start
# looperd with
# --notify osc.udp://127.0.0.1:9952/ instead (never dropped) and run plain `oscdump -L 9952`.
set -euo pipefail
listen=${1:-9952}
host=${LOOPERD_HOST:-127.0.0.1}
port=${LOOPERD_OSC_PORT:-9950}
me=${LOOPERD_WATCH_HOST:-127.0.0.1}
every=${LOOPERD_WATCH_RENEW:-0}
url="osc.udp://$me:$listen/"

oscdump -L "$listen" &
dump=$!
renew=""
cleanup() {
  oscsend "$host" "$port" /notify is 0 "$url" || true
  if [ -n "$renew" ]; then kill "$renew" 2>/dev/null || true; fi
  kill "$dump" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM
sleep 0.2  # let oscdump bind before the whole state arrives

# oscsend sends from a port of its own, so the subscription names the watcher's port: a url.
# looperd keeps a /notify subscriber alive while its owner (this oscsend) or the url itself
# sends something, and each oscsend sends from a new port: so renew with a fresh /notify.
oscsend "$host" "$port" /notify is 1 "$url"
if [ "$every" != 0 ]; then
  (
    while sleep "$every"; do oscsend "$host" "$port" /notify is 1 "$url" || true; done
  ) &
  renew=$!
fi
echo "watching looperd at $host:$port on $url (Ctrl-C to stop)" >&2
wait "$dump"
