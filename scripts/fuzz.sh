#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: looperd contributors
# Builds the libFuzzer targets (clang, ASan + UBSan + coverage) and runs each one, in parallel,
# for a while. Fails on any crash, leak, timeout, out-of-memory or sanitizer report.
#
# Usage: scripts/fuzz.sh [seconds per target, default 60] [target...]
# Targets: fuzz_osc_datagram fuzz_sample_loader fuzz_engine_commands fuzz_engine_midi
# fuzz_path_confinement fuzz_config_parsers (default: all).
# The corpus grows in build-fuzz/fuzz-corpus/<target>/ and is kept between runs; a failing
# input is written to build-fuzz/fuzz-artifacts/<target>/. docs/fuzzing.md has the rest.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_osc_datagram fuzz_sample_loader fuzz_engine_commands
    fuzz_engine_midi fuzz_path_confinement fuzz_config_parsers)

build=build-fuzz
if [ ! -d "$build" ]; then
    CXX=${CXX:-clang++-19} meson setup "$build" -Dwerror=true -Dfuzzing=true \
        -Db_sanitize=address,undefined -Db_lundef=false \
        -Dcpp_args="-fsanitize=fuzzer-no-link -gline-tables-only" \
        -Drtsan=disabled -Dintegration_tests=false -Dbenchmarks=false
fi
ninja -C "$build" tests/fuzz/fuzz_seeds "${targets[@]/#/tests/fuzz/}"

rm -rf "$build/fuzz-seeds"
"$build/tests/fuzz/fuzz_seeds" "$build/fuzz-seeds"

export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1
export LSAN_OPTIONS="suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0"
for s in llvm-symbolizer-19 llvm-symbolizer; do
    if command -v "$s" >/dev/null; then
        export ASAN_SYMBOLIZER_PATH
        ASAN_SYMBOLIZER_PATH=$(command -v "$s")
        break
    fi
done

# FUZZ_SEED fixes libFuzzer's random seed (CI does, so that a run explores the same inputs
# each time and a red CI is reproducible); unset, every run explores afresh.
seed_args=()
if [ -n "${FUZZ_SEED:-}" ]; then seed_args=(-seed="$FUZZ_SEED"); fi

# -timeout catches a hang, not a slow input: six fuzzers share the machine's cores, under
# ASan, beside whatever else runs, and an input that takes 50 ms alone can take seconds then.
# How slow the slowest input was is printed as a figure instead (stat::slowest_unit_time_sec).
pids=()
for t in "${targets[@]}"; do
    mkdir -p "$build/fuzz-corpus/$t" "$build/fuzz-artifacts/$t"
    # The first directory receives new inputs; seeds and regressions are only read.
    "$build/tests/fuzz/$t" -max_total_time="$seconds" -timeout=60 -rss_limit_mb=2048 \
        "${seed_args[@]}" -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/$t/" \
        "$build/fuzz-corpus/$t" "$build/fuzz-seeds/$t" "tests/fuzz/regressions/$t" \
        >"$build/fuzz-artifacts/$t.log" 2>&1 &
    pids+=($!)
done

status=0
for i in "${!targets[@]}"; do
    t=${targets[$i]}
    log="$build/fuzz-artifacts/$t.log"
    rc=0
    wait "${pids[$i]}" || rc=$?
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)
    execs=$(grep -E '^stat::average_exec_per_sec' "$log" | awk '{print $2}' || true)
    slowest=$(grep -E '^stat::slowest_unit_time_sec' "$log" | awk '{print $2}' || true)
    artifacts=$(find "$build/fuzz-artifacts/$t" -type f | wc -l)
    if [ "$rc" -ne 0 ] || [ "$artifacts" -ne 0 ]; then
        status=1
        echo "== $t: FAILED (exit $rc) =="
        grep -E 'ERROR|runtime error|invariant broken|Test unit written' "$log" | head -n 20 || true
        echo "   full log: $log"
    else
        echo "== $t: ok, ${done_line:-no stats}, ${execs:-?} exec/s, slowest input ${slowest:-?} s =="
    fi
done
exit "$status"
