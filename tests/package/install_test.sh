#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: looperd contributors
# Installs the looperd Debian package on this machine, checks what it installed, plays an
# installed example sample through the installed daemon into a private JACK server and checks
# that sound came out, then removes and purges the package and checks what is left.
# Usage: tests/package/install_test.sh LOOPERD_DEB [JUNIT_XML]
#   JUNIT_XML: where to write one test case per check, for scripts/test.sh's summary.
# Needs root (apt-get install): as another user it re-runs itself with passwordless sudo, and
# without that it skips, saying so, and exits 77 (meson's "skipped").
# Every wait is bounded; only the processes this script started are stopped, by their PIDs.
set -euo pipefail

if [ $# -lt 1 ] || [ ! -f "$1" ]; then
  echo "usage: $0 LOOPERD_DEB [JUNIT_XML]" >&2
  exit 2
fi
deb=$(realpath "$1")
junit=${2:+$(realpath -m "$2")}

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    exec sudo -n "$0" "$deb" ${junit:+"$junit"}
  fi
  echo "SKIPPED: the package install test needs root (apt-get install, purge), and this user"
  echo "         ($(id -un)) is not root and has no passwordless sudo. Nothing was tested."
  exit 77
fi

apt_get() { env DEBIAN_FRONTEND=noninteractive apt-get "$@"; }
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# --- results ---------------------------------------------------------------------------------
passed=0 failed=0
cases=()
pass() { echo "ok: $1"; passed=$((passed + 1)); cases+=("<testcase classname=\"package\" name=\"$1\"/>"); }
fail() {
  echo "FAIL: $1${2:+: $2}"
  failed=$((failed + 1))
  cases+=("<testcase classname=\"package\" name=\"$1\"><failure message=\"${2:-}\"/></testcase>")
}
check() {  # check NAME COMMAND...: passes when the command succeeds
  local name=$1
  shift
  if "$@"; then pass "$name"; else fail "$name"; fi
}

# --- processes this script starts ------------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/looperd-pkg-XXXXXX")
chmod 755 "$tmp"
pids=()
stop_pid() {  # stop_pid PID: SIGTERM, up to 5 s, then SIGKILL
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
finish() {
  local pid
  for pid in "${pids[@]}"; do stop_pid "$pid"; done
  if [ -n "$junit" ]; then
    mkdir -p "$(dirname "$junit")"
    {
      echo '<?xml version="1.0" encoding="UTF-8"?>'
      echo "<testsuites><testsuite name=\"package\" tests=\"$((passed + failed))\" failures=\"$failed\">"
      printf '%s\n' "${cases[@]}"
      echo '</testsuite></testsuites>'
    } >"$junit"
  fi
  rm -rf "$tmp"
}
trap finish EXIT

# --- install ---------------------------------------------------------------------------------
# What the checks use: man-db for man -w, jackd2 for jackd and jack_rec, liblo-tools for
# oscsend and oscdump, python3 to read the recording.
need=()
for p in man-db jackd2 liblo-tools python3 systemd; do installed "$p" || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  echo "jackd2 jackd/tweak_rt_limits boolean true" | debconf-set-selections
  apt_get update -qq
  apt_get install -y -qq --no-install-recommends "${need[@]}"
fi
# A package left by an earlier run is purged first, so that this run installs afresh.
if dpkg-query -W looperd >/dev/null 2>&1; then apt_get purge -y -qq looperd; fi

echo "== apt-get install $(basename "$deb") =="
check "apt-get install" apt_get install -y -qq "$deb"
installed looperd || { echo "looperd did not install: nothing more to check"; exit 1; }
mapfile -t files < <(dpkg -L looperd)
# Which of those are directories, while they exist.
dirs=()
for f in "${files[@]}"; do [ -d "$f" ] && dirs+=("$f"); done

echo "== the installed files =="
version=$(/usr/bin/looperd --version 2>&1 | head -n 1) || true
echo "looperd --version: $version"
check "looperd --version" grep -q '^looperd [0-9]' <<<"$version"
if grep -q '/man1/looperd\.1' <(printf '%s\n' "${files[@]}"); then
  check "man -w looperd" man -w looperd
  check "man -w 5 looperd.toml" man -w 5 looperd.toml
else
  fail "man -w looperd" "the package ships no looperd.1"
fi
unit=$(printf '%s\n' "${files[@]}" | grep -E '^(/usr)?/lib/systemd/system/looperd\.service$' || true)
if [ -n "$unit" ]; then
  out=$(systemd-analyze verify "$unit" 2>&1) && [ -z "$out" ] && pass "systemd-analyze verify $unit" ||
    fail "systemd-analyze verify $unit" "$out"
  check "the unit reads /etc/default/looperd" grep -q '^EnvironmentFile=-/etc/default/looperd$' "$unit"
else
  fail "system unit installed" "no looperd.service in the system unit directory"
fi
check "the looperd user exists" getent passwd looperd
check "the looperd user is in group audio" bash -c 'id -nG looperd | tr " " "\n" | grep -qx audio'
enabled=$(systemctl --root=/ is-enabled looperd.service 2>&1 || true)
echo "systemctl is-enabled looperd: $enabled"
check "the service is disabled" test "$enabled" = disabled
if [ -d /run/systemd/system ]; then
  active=$(systemctl is-active looperd.service 2>&1 || true)
  check "the service was not started" test "$active" = inactive
else
  echo "(systemd is not PID 1 here: whether the service runs is not checked)"
fi
check "/etc/default/looperd installed" grep -q '^#LOOPERD_OPTS=""' /etc/default/looperd
check "the example samples installed" test -f /usr/share/doc/looperd/examples/samples/kick.wav

echo "== the installed looperd plays an installed sample into a private JACK server =="
server="looperd-pkg-$$"
# The dummy backend needs no sound card; JACK_NO_AUDIO_RESERVATION: no D-Bus device reservation.
JACK_NO_AUDIO_RESERVATION=1 jackd --no-realtime -n "$server" -d dummy -r 48000 -p 128 \
  >"$tmp/jackd.log" 2>&1 &
pids+=($!)
export JACK_DEFAULT_SERVER=$server JACK_NO_START_SERVER=1
# jack_wait polls by itself; timeout bounds it in case it hangs on a half-started server.
jack_up=0
timeout 30 jack_wait -s "$server" -w -t 20 >"$tmp/jack_wait.log" 2>&1 && jack_up=1
check "private jackd '$server' up" test "$jack_up" = 1
# Free UDP ports for looperd and for the replies.
read -r osc_port reply_port < <(python3 -c '
import socket
s = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))')
client="looperd-pkgtest-$$"
# Its own HOME and XDG directories: no configuration or state of this machine's user is read
# or written; /etc/looperd/looperd.toml, as installed, is.
mkdir -p "$tmp/home"
HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/home/.config" XDG_STATE_HOME="$tmp/home/.state" \
  /usr/bin/looperd --client-name "$client" --osc-port "$osc_port" --no-state --no-dns-sd \
  --no-midi --no-autoconnect --samples-dir /usr/share/doc/looperd/examples/samples \
  >"$tmp/looperd.log" 2>&1 &
looperd_pid=$!
pids+=("$looperd_pid")
# looperd preallocates its recorders and locks memory before it joins: seconds on a busy machine.
ports_up=0
deadline=$((SECONDS + 60))
while [ "$SECONDS" -lt "$deadline" ]; do
  # Read whole, then searched: with pipefail, grep -q ending the pipe early would fail it.
  ports=$(timeout 10 jack_lsp 2>/dev/null || true)
  if grep -qx "$client:out_2" <<<"$ports"; then ports_up=1; break; fi
  kill -0 "$looperd_pid" 2>/dev/null || break
  sleep 0.5
done
check "looperd joined the server ($client:out_1, out_2)" test "$ports_up" = 1

# -L: a line at a time into the file, not when oscdump's buffer fills.
oscdump -L "$reply_port" >"$tmp/replies.txt" 2>&1 &
pids+=($!)
sleep 0.3
oscsend 127.0.0.1 "$osc_port" /slot/0/load ss kick.wav "osc.udp://127.0.0.1:$reply_port"
loaded=0
deadline=$((SECONDS + 30))
while [ "$SECONDS" -lt "$deadline" ]; do
  if grep -q '/slot/0/loaded' "$tmp/replies.txt"; then loaded=1; break; fi
  if grep -q '/error' "$tmp/replies.txt"; then break; fi
  sleep 0.1
done
echo "replies: $(tr '\n' ' ' <"$tmp/replies.txt")"
check "/slot/0/load kick.wav answered /slot/0/loaded" test "$loaded" = 1

# The kick loops, so that it sounds whenever jack_rec's client gets going on a busy machine;
# jack_rec then records both outputs for 2 s (16-bit WAV).
oscsend 127.0.0.1 "$osc_port" /slot/0/mode s loop
oscsend 127.0.0.1 "$osc_port" /slot/0/play
timeout 30 jack_rec -f "$tmp/out.wav" -d 2 -b 16 "$client:out_1" "$client:out_2" \
  >"$tmp/jack_rec.log" 2>&1 &
rec_pid=$!
pids+=("$rec_pid")
rec_ok=0
wait "$rec_pid" && rec_ok=1
check "jack_rec recorded $client's outputs" test "$rec_ok" = 1
peak=$(python3 - "$tmp/out.wav" <<'PY' 2>&1 || true
import sys, wave, array
w = wave.open(sys.argv[1])
assert w.getsampwidth() == 2, "expected 16-bit samples"
a = array.array("h", w.readframes(w.getnframes()))
nonzero = sum(1 for x in a if x != 0)
print(f"{max((abs(x) for x in a), default=0) / 32768:.4f} {nonzero} {len(a)}")
PY
)
echo "recording: peak, non-zero samples, samples: $peak"
check "sound came out (peak above 0.05 of full scale)" \
  awk -v p="${peak%% *}" 'BEGIN { exit !(p + 0 > 0.05) }'
check "looperd still runs" kill -0 "$looperd_pid"
for pid in "${pids[@]}"; do stop_pid "$pid"; done
pids=()
if [ "$failed" -ne 0 ]; then
  echo "-- looperd's log --"; tail -n 30 "$tmp/looperd.log"
  echo "-- jackd's log --"; grep -v XRun "$tmp/jackd.log" | tail -n 20
  echo "-- jack_rec's log --"; tail -n 10 "$tmp/jack_rec.log"
fi
unset JACK_DEFAULT_SERVER JACK_NO_START_SERVER

# --- remove and purge ------------------------------------------------------------------------
conffiles=$(dpkg-query -W -f='${Conffiles}\n' looperd | awk 'NF { print $1 }')
echo "conffiles: $(tr '\n' ' ' <<<"$conffiles")"
check "/etc/default/looperd is a conffile" grep -qx /etc/default/looperd <<<"$conffiles"
check "/etc/looperd/looperd.toml is a conffile" grep -qx /etc/looperd/looperd.toml <<<"$conffiles"
# The state directory systemd makes at the service's first start (StateDirectory=), made here
# as it would be, so that purge is seen removing it; not when this machine already has one.
made_state=0
if [ ! -e /var/lib/looperd ]; then
  mkdir -p /var/lib/looperd/samples
  touch /var/lib/looperd/rig.toml
  made_state=1
fi

echo "== apt-get remove looperd =="
check "apt-get remove" apt_get remove -y -qq looperd
status=$(dpkg-query -W -f='${db:Status-Abbrev}' looperd 2>/dev/null || true)
check "after remove only the configuration is left (dpkg status rc)" test "${status// /}" = rc
check "/usr/bin/looperd is gone after remove" test ! -e /usr/bin/looperd
left=0
while read -r f; do [ -n "$f" ] && [ ! -e "$f" ] && { echo "conffile gone after remove: $f"; left=1; }; done <<<"$conffiles"
check "the conffiles stay after remove" test "$left" = 0

echo "== apt-get purge looperd =="
check "apt-get purge" apt_get purge -y -qq looperd
check "dpkg knows no looperd after purge" bash -c '! dpkg-query -W looperd >/dev/null 2>&1'
left=()
for f in "${files[@]}"; do
  is_dir=0
  for d in "${dirs[@]}"; do [ "$d" = "$f" ] && is_dir=1 && break; done
  # Directories other packages share (/etc, /usr/share/doc, ...) stay; the package's own go.
  if [ "$is_dir" -eq 1 ]; then
    case $f in
      */looperd | */looperd/*) [ -e "$f" ] && left+=("$f") ;;
    esac
  elif [ -e "$f" ] || [ -L "$f" ]; then
    left+=("$f")
  fi
done
while read -r f; do [ -n "$f" ] && [ -e "$f" ] && left+=("$f"); done <<<"$conffiles"
for f in /etc/looperd /etc/default/looperd; do [ -e "$f" ] && left+=("$f"); done
if [ "$made_state" -eq 1 ] && [ -e /var/lib/looperd ]; then left+=(/var/lib/looperd); fi
if [ ${#left[@]} -eq 0 ]; then
  pass "nothing of the package's ${#files[@]} paths, its conffiles or its state is left"
else
  fail "paths left after purge" "${left[*]}"
fi
# Policy keeps a system user after purge: files it owns may remain, and its id must not be
# given to another user.
check "the looperd system user stays after purge (policy)" getent passwd looperd

echo "package: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
