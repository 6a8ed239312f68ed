#!/bin/sh
# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: looperd contributors
#
# Builds looperd in release mode (build-release/) and runs the engine benchmark: 5
# repetitions, medians reported. Extra arguments go to the benchmark, e.g.
#   scripts/bench.sh --benchmark_filter=Looping
# See docs/performance.md for what the figures mean.
set -eu

cd "$(dirname "$0")/.."
build="build-release"

if [ ! -d "$build" ]; then
    # Integration tests need jackd, which the benchmark does not: leave them out.
    meson setup "$build" --buildtype=release -Dbenchmarks=true -Dintegration_tests=false
else
    # An existing directory may have been set up otherwise; the figures need these two.
    meson configure "$build" --buildtype=release -Dbenchmarks=true
fi
ninja -C "$build" tests/engine_bench

json=$(mktemp "${TMPDIR:-/tmp}/looperd-bench.XXXXXX")
trap 'rm -f "$json"' EXIT INT TERM

"$build/tests/engine_bench" \
    --benchmark_repetitions=5 \
    --benchmark_report_aggregates_only=true \
    --benchmark_out="$json" --benchmark_out_format=json \
    "$@"

# The console table above has every aggregate; this one is the medians docs/performance.md quotes.
python3 - "$json" <<'PY'
import json
import sys

with open(sys.argv[1]) as f:
    report = json.load(f)
medians = [b for b in report["benchmarks"] if b.get("aggregate_name") == "median"]
failed = [b for b in report["benchmarks"] if b.get("error_occurred")]
print()
if medians:
    print(f"medians of {medians[0]['repetitions']} repetitions; blocks of 128 frames at 48 kHz (2.667 ms) unless the name ends in 32 (0.667 ms)")
    print(f"{'benchmark':<20} {'voices':>6} {'us/block':>9} {'ns/voice-frame':>15} {'% of block':>11}")
for b in medians:
    name = b["run_name"].split("/")[0].removeprefix("BM_")
    if "voices" not in b:
        # The recording benchmarks: one take, CPU time per block (in µs by their unit).
        us = b["cpu_time"]
        print(f"{name:<20} {'1':>6} {us:>9.2f} {'-':>15} {us / 2666.67 * 100:>11.3f}")
        continue
    voices = int(b["voices"])
    ns = b["ns_per_voice_frame"]
    frames = int(b.get("frames", 128))
    print(f"{name:<20} {voices:>6} {ns * voices * frames / 1000:>9.2f} {ns:>15.3f} {b['block_pct']:>11.3f}")
for b in failed:
    print(f"FAILED {b['name']}: {b.get('error_message', '')}")
sys.exit(1 if failed else 0)
PY
