#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: looperd contributors
#
# looperd beside its peers, under one private JACK server (dummy backend, 48 kHz, not real-time
# unless --realtime): scsynth (SuperCollider's server, one PlayBuf per voice, each on its own
# buffer) and SooperLooper (one loop per voice, at most 128). For each period size, voice count and
# rate, each player in turn loads N copies of one stereo sample, plays them all looping, and is
# measured over a window: whole-process CPU (% of one core, from /proc), resident memory (VmRSS, and
# "own": less RssShmem, the JACK server's shared port memory every client maps), and the xruns the
# JACK server reported while it ran, and of those the ones at which the player was still inside its
# process callback (JACK names the client it waited for, and whether it was running). Ratios are to
# scsynth in the same run. For looperd, also the longest time one block took to render in the window
# (its /status render_max_us, read every second), beside the period it must fit in.
# docs/performance.md#side-by-side-with-other-players explains the figures.
#
# Usage: scripts/bench-peers.sh [--voices "1 64 128 256 1024"] [--rates "1 1.01"]
#          [--periods "128 32"] [--seconds 20] [--repeat 3] [--players "looperd scsynth sooperlooper"]
#          [--looperd PATH] [--threads] [--realtime]
# --players may also name `none`: no player at all, for the xruns the server reports alone; and
# `metro`: jackd2's jack_metro, the smallest client, for the xruns any client brings.
# --realtime runs the server (and so every player's process thread) real-time, SCHED_FIFO at
# priority 70, as a stage rig runs it: it needs the right to (root, or the audio group's
# rtprio limit). Without it, xruns measure the machine's other load as much as the players.
# --threads also prints, after each looperd window, its CPU by thread (the names `top -H`
# shows: the JACK process thread is the one JACK names, the others looperd's).
# Needs: jackd2, supercollider-server (scsynth), sooperlooper, python3 (OSC); scripts/
# install-deps.sh --bench installs them. looperd is built into build-release/ when no --looperd
# is given.
set -euo pipefail
cd "$(dirname "$0")/.."

voices="1 64 128 256 1024"
rates="1 1.01"
periods="128 32"
window=20
repeat=3
players="looperd scsynth sooperlooper"
looperd=""
threads=0
realtime=0
while [ $# -gt 0 ]; do
  case $1 in
    --voices) voices=$2; shift 2 ;;
    --rates) rates=$2; shift 2 ;;
    --periods) periods=$2; shift 2 ;;
    --seconds) window=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --players) players=$2; shift 2 ;;
    --looperd) looperd=$2; shift 2 ;;
    --threads) threads=1; shift ;;
    --realtime) realtime=1; shift ;;
    -h | --help) sed -n '4,/^# is given\.$/p' "$0"; exit 0 ;;
    *) echo "bench-peers.sh: unknown argument '$1' (--help)" >&2; exit 2 ;;
  esac
done

for tool in jackd python3; do
  command -v "$tool" >/dev/null || { echo "bench-peers.sh: $tool is missing (scripts/install-deps.sh --bench)" >&2; exit 1; }
done
case " $players " in *" scsynth "*) command -v scsynth >/dev/null ||
  { echo "bench-peers.sh: scsynth is missing (supercollider-server)" >&2; exit 1; } ;; esac
case " $players " in *" sooperlooper "*)
  command -v sooperlooper >/dev/null || { echo "bench-peers.sh: sooperlooper is missing" >&2; exit 1; }
  # SooperLooper opens the ALSA sequencer at start and aborts without it (a VM or container
  # without sound devices): it is left out then, with the reason.
  if [ ! -e /dev/snd/seq ]; then
    echo "SooperLooper left out: it needs the ALSA sequencer (/dev/snd/seq), which this machine has not"
    players=$(echo " $players " | sed 's/ sooperlooper / /')
  fi ;;
esac
if [ "$realtime" = 1 ] && ! chrt -f 70 true 2>/dev/null; then
  echo "bench-peers.sh: --realtime: this user may not run SCHED_FIFO at priority 70 (ulimit -r)" >&2
  exit 1
fi
if [ -z "$looperd" ]; then
  [ -d build-release ] || meson setup build-release --buildtype=release -Dintegration_tests=false >/dev/null
  ninja -C build-release src/looperd >/dev/null
  looperd=$PWD/build-release/src/looperd
fi

work=$(mktemp -d /tmp/looperd-bench-peers.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  sleep 0.5
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# OSC over UDP, in Python's standard library only: each line of stdin is "address types args...";
# with --await PREFIX COUNT, each line is a request answered by a reply whose address starts with
# PREFIX (or /error, printed): at most 32 are outstanding, and it waits (60 s at most) for COUNT.
read -r -d '' osc_py <<'PY' || true
import socket, struct, sys, time
port = int(sys.argv[1]); args = sys.argv[2:]
await_prefix, await_count = None, 0
if args and args[0] == "--await":
    await_prefix, await_count, args = args[1], int(args[2]), args[3:]
def pad(b): return b + b"\0" * (4 - len(b) % 4)
def message(line):
    parts = line.split(" ")
    address, types, values = parts[0], parts[1] if len(parts) > 1 else "", parts[2:]
    out = pad(address.encode()) + pad(("," + types).encode())
    for t, v in zip(types, values):
        out += struct.pack(">i", int(v)) if t == "i" else struct.pack(">f", float(v)) if t == "f" else pad(v.encode())
    return out
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(0.5)
got, deadline = 0, time.time() + 60
def receive():
    global got
    try: data, _ = sock.recvfrom(65536)
    except socket.timeout: return
    address = data.split(b"\0", 1)[0].decode()
    if address.startswith(await_prefix): got += 1
    elif address == "/error":
        got += 1
        print("  /error:", data[data.index(b",") :].decode(errors="replace"), file=sys.stderr)
sent = 0
for line in sys.stdin.read().splitlines():
    if not line: continue
    # Awaited requests (loads) go at most 32 at a time: looperd takes 64 pending loads.
    while await_prefix and sent - got >= 32 and time.time() < deadline: receive()
    sock.sendto(message(line), ("127.0.0.1", port))
    sent += 1
    if not await_prefix and sent % 64 == 0: time.sleep(0.005)  # no burst beyond a socket buffer
while await_prefix and got < await_count and time.time() < deadline: receive()
if await_prefix and got < await_count:
    sys.exit(f"only {got} of {await_count} replies {await_prefix}...")
PY
osc() { python3 -c "$osc_py" "$@"; }

# Asks looperd (OSC port $1) for /status every second for $2 seconds and prints the largest
# render_max_us it answered (the longest block of the window, in microseconds) and, after a
# slash, the median of the seconds' longest blocks.
read -r -d '' longest_py <<'PY' || true
import socket, struct, sys, time
port, seconds = int(sys.argv[1]), float(sys.argv[2])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(0.2)
def pad(n): return (n + 4) & ~3
def values(data):  # the reply's arguments, "key value ..." pairs of s and i/f
    end = data.index(b"\0"); types_at = pad(end); tend = data.index(b"\0", types_at)
    types = data[types_at + 1 : tend].decode(); at = pad(tend); out = []
    for t in types:
        if t == "s":
            e = data.index(b"\0", at); out.append(data[at:e].decode()); at = pad(e)
        elif t in "if":
            out.append(struct.unpack(">" + t, data[at : at + 4])[0]); at += 4
        elif t in "hd":
            out.append(struct.unpack(">" + ("q" if t == "h" else "d"), data[at : at + 8])[0]); at += 8
        elif t in "TFN":
            out.append(t)
        else:
            return out
    return out
seen, end = [], time.time() + seconds
while time.time() < end:
    sock.sendto(b"/status\0,\0\0\0", ("127.0.0.1", port))
    ask = time.time()
    while time.time() < ask + 1:
        try: data, _ = sock.recvfrom(65536)
        except socket.timeout: continue
        if not data.startswith(b"/status.reply"): continue
        v = values(data)
        for k in range(0, len(v) - 1, 2):
            if v[k] == "render_max_us": seen.append(float(v[k + 1]))
        time.sleep(max(0.0, ask + 1 - time.time()))  # one a second: the meter's window
        break
seen.sort()
print(f"{seen[-1]:.0f}/{seen[len(seen) // 2]:.0f}" if seen else "-")
PY
longest_us() { python3 -c "$longest_py" "$@"; }

# One stereo sample of 2 s (a 0.73 MiB 16-bit WAV; 0.73 MiB of floats per channel once loaded),
# noise so that nothing is silent or constant, and a copy per voice so that every voice streams
# its own memory.
python3 - "$work/sample.wav" <<'PY'
import random, struct, sys, wave
random.seed(1)
w = wave.open(sys.argv[1], "wb"); w.setnchannels(2); w.setsampwidth(2); w.setframerate(48000)
w.writeframes(b"".join(struct.pack("<hh", random.randint(-8000, 8000), random.randint(-8000, 8000)) for _ in range(96000)))
w.close()
PY
max_voices=0
for n in $voices; do [ "$n" -gt "$max_voices" ] && max_voices=$n; done
mkdir -p "$work/samples"
for ((i = 0; i < max_voices; i++)); do cp "$work/sample.wav" "$work/samples/v$i.wav"; done

hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# "name ticks" per thread of process $1 (a thread's name may hold spaces: it is between the
# parentheses of its stat line).
thread_ticks() {
  for t in /proc/"$1"/task/*; do
    sed -E 's/^[0-9]+ \((.*)\) /\1\t/' "$t/stat" 2>/dev/null |
      awk -F'\t' '{split($2, f, " "); gsub(/ /, "_", $1); print $1, f[12] + f[13]}'
  done
}
rss_mib() { awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
# Without RssShmem: the JACK server's shared port memory, which every client maps whole.
own_mib() { awk '/^VmRSS/ {r = $2} /^RssShmem/ {s = $2} END {printf "%.0f", (r - s) / 1024}' "/proc/$1/status"; }
wait_port() {  # until the JACK client $1 has a port, or 20 s
  for _ in $(seq 200); do jack_lsp 2>/dev/null | grep -q "^$1:" && return 0; sleep 0.1; done
  return 1
}

# start_PLAYER N RATE: starts the player with N voices at RATE; sets $pid.
start_looperd() {
  local n=$1 rate=$2 slots=$(($1 > 128 ? $1 : 128))
  "$looperd" --osc-port 19950 --slots "$slots" --voices "$((slots > 256 ? slots : 256))" \
    --memory-budget 8G --samples-dir "$work/samples" --no-state --no-autoconnect --no-midi \
    --no-dns-sd --client-name bench-looperd >"$work/looperd.log" 2>&1 &
  pid=$!; pids+=("$pid")
  wait_port bench-looperd || { tail "$work/looperd.log"; return 1; }
  sleep 0.5
  for ((i = 0; i < n; i++)); do echo "/slot/$i/load s v$i.wav"; done | osc 19950 --await /slot/ "$n"
  for ((i = 0; i < n; i++)); do
    echo "/slot/$i/mode s loop"; echo "/slot/$i/gain f 0.01"
    [ "$rate" = 1 ] || echo "/slot/$i/rate f $rate"
    echo "/slot/$i/play"
  done | osc 19950
}
start_scsynth() {
  local n=$1 rate=$2
  # Its control block (-z, 64 frames by default) no longer than the JACK period: with a longer
  # one, scsynth at 32-frame periods does not render (its CPU stays flat with the voices).
  SC_JACK_DEFAULT_OUTPUTS="" scsynth -u 19957 -i 0 -o 2 -n 4096 -b 4096 -a 4096 -m 65536 \
    -z "$((period < 64 ? period : 64))" -l 1 >"$work/scsynth.log" 2>&1 &
  pid=$!; pids+=("$pid")
  wait_port SuperCollider || { tail "$work/scsynth.log"; return 1; }
  echo "/d_load s $PWD/scripts/bench/looperdBenchVoice.scsyndef" | osc 19957 --await /done 1
  for ((i = 0; i < n; i++)); do echo "/b_allocRead is $i $work/samples/v$i.wav"; done | osc 19957 --await /done "$n"
  for ((i = 0; i < n; i++)); do echo "/s_new siiisisf looperdBenchVoice $((1000 + i)) 0 0 buf $i rate $rate"; done | osc 19957
}
start_sooperlooper() {
  local n=$1 rate=$2
  sooperlooper -q -l "$n" -c 2 -t 3 -p 19951 -j bench-sooperlooper >"$work/sooperlooper.log" 2>&1 &
  pid=$!; pids+=("$pid")
  wait_port bench-sooperlooper || { tail "$work/sooperlooper.log"; return 1; }
  sleep 1
  for ((i = 0; i < n; i++)); do
    echo "/sl/$i/load_loop sss $work/samples/v$i.wav osc.udp://127.0.0.1:9/ /e"
    [ "$rate" = 1 ] || echo "/sl/$i/set sf rate $rate"
    echo "/sl/$i/set sf wet 0.01"
  done | osc 19951
}
# The smallest JACK client there is (jackd2's jack_metro, a click): the xruns that any client,
# doing next to nothing, brings on this machine.
start_metro() {
  jack_metro -b 120 -n bench-metro >"$work/metro.log" 2>&1 &
  pid=$!; pids+=("$pid")
  wait_port bench-metro || { tail "$work/metro.log"; return 1; }
}
# No player: what the server reports on its own (its xruns, on a machine that is not real-time).
start_none() {
  sleep 100000 &
  pid=$!; pids+=("$pid")
}

printf '%-7s %6s %5s %-13s %7s %8s %8s %6s %8s %9s %9s %9s %11s\n' period voices rate player "cpu %" "rss MiB" "own MiB" xruns running "cpu/sc" "rss/sc" "own/sc" "longest µs"
for period in $periods; do
  server=bench-peers-$$-$period
  export JACK_DEFAULT_SERVER=$server
  if [ "$realtime" = 1 ]; then scheduling=(--realtime -P 70); else scheduling=(--no-realtime); fi
  JACK_NO_AUDIO_RESERVATION=1 jackd "${scheduling[@]}" -n "$server" -d dummy -r 48000 -p "$period" \
    >"$work/jackd-$period.log" 2>&1 &
  jackd_pid=$!; pids+=("$jackd_pid")
  for _ in $(seq 100); do jack_lsp >/dev/null 2>&1 && break; sleep 0.1; done
  for n in $voices; do
    for rate in $rates; do
      declare -A cpu=() rss=() own=() xr=() running=() longest=()
      for player in $players; do
        if [ "$player" = sooperlooper ] && [ "$n" -gt 128 ]; then continue; fi
        samples_cpu=() samples_rss=() samples_own=() samples_xr=() samples_running=() samples_longest=()
        for ((r = 0; r < repeat; r++)); do
          "start_$player" "$n" "$rate" || { echo "$player did not start"; continue; }
          sleep 3  # loads settle, voices are all playing
          before_xr=$(grep -ci xrun "$work/jackd-$period.log" || true)
          before_lines=$(wc -l <"$work/jackd-$period.log")
          t0=$(cpu_ticks "$pid")
          [ "$threads" = 1 ] && [ "$player" = looperd ] && thread_ticks "$pid" >"$work/threads0"
          if [ "$player" = looperd ]; then
            samples_longest+=("$(longest_us 19950 "$window")")
          else
            sleep "$window"
          fi
          t1=$(cpu_ticks "$pid")
          if [ "$threads" = 1 ] && [ "$player" = looperd ]; then
            thread_ticks "$pid" >"$work/threads1"
            # CPU % of one core by thread name, summed over threads of one name, largest first.
            awk -v hz="$hz" -v s="$window" 'NR == FNR {a[$1] += $2; next} {b[$1] += $2}
              END {for (n in b) printf "%s %.2f\n", n, 100 * (b[n] - a[n]) / hz / s}' \
              "$work/threads0" "$work/threads1" | sort -k2 -gr |
              awk -v p="$period" -v v="$n" -v r="$rate" 'BEGIN {printf "  looperd threads (%s frames, %s voices, rate %s):", p, v, r}
                {printf " %s %s", $1, $2} END {print ""}'
          fi
          samples_rss+=("$(rss_mib "$pid")")
          samples_own+=("$(own_mib "$pid")")
          samples_xr+=($(($(grep -ci xrun "$work/jackd-$period.log" || true) - before_xr)))
          # The xruns at which the player was still inside its process callback: the only ones
          # its own work can cause. (JACK names the client that was not finished, and its state:
          # Triggered, woken but not yet running, is the system's wake-up latency.)
          samples_running+=($(tail -n +"$((before_lines + 1))" "$work/jackd-$period.log" |
            grep -c "was not finished, state = Running" || true))
          samples_cpu+=("$(awk -v a="$t0" -v b="$t1" -v hz="$hz" -v s="$window" 'BEGIN {printf "%.1f", 100 * (b - a) / hz / s}')")
          kill "$pid"; wait "$pid" 2>/dev/null || true
          sleep 1
        done
        median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
        cpu[$player]=$(median "${samples_cpu[@]}")
        rss[$player]=$(median "${samples_rss[@]}")
        own[$player]=$(median "${samples_own[@]}")
        xr[$player]=$(median "${samples_xr[@]}")
        running[$player]=$(median "${samples_running[@]}")
        # The window whose longest block came nearest the period.
        [ "${#samples_longest[@]}" -gt 0 ] &&
          longest[$player]=$(printf '%s\n' "${samples_longest[@]}" | sort -g | tail -1)
      done
      for player in $players; do
        [ -n "${cpu[$player]:-}" ] || continue
        ratio_cpu=$(awk -v a="${cpu[$player]}" -v b="${cpu[scsynth]:-0}" 'BEGIN {print (b > 0 ? sprintf("%.2f", a / b) : "-")}')
        ratio_rss=$(awk -v a="${rss[$player]}" -v b="${rss[scsynth]:-0}" 'BEGIN {print (b > 0 ? sprintf("%.2f", a / b) : "-")}')
        ratio_own=$(awk -v a="${own[$player]}" -v b="${own[scsynth]:-0}" 'BEGIN {print (b > 0 ? sprintf("%.2f", a / b) : "-")}')
        printf '%-7s %6s %5s %-13s %7s %8s %8s %6s %8s %9s %9s %9s %11s\n' "$period" "$n" "$rate" "$player" \
          "${cpu[$player]}" "${rss[$player]}" "${own[$player]}" "${xr[$player]}" "${running[$player]}" "$ratio_cpu" \
          "$ratio_rss" "$ratio_own" "${longest[$player]:--}"
      done
      unset cpu rss own xr running longest
    done
  done
  kill "$jackd_pid"; wait "$jackd_pid" 2>/dev/null || true
done
echo "(cpu: % of one core, medians of $repeat windows of $window s; xruns: reported by the JACK server while the player ran;"
echo " running: of those, the xruns at which the player was still in its process callback, the only ones its work can cause;"
echo " longest µs: looperd's longest block render in the window where it was longest, and the median of that window's"
echo " seconds' longest; against a period of 2,667 µs at 128 frames, 667 at 32)"
