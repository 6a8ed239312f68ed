#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: looperd contributors
# Builds looperd and runs every test, as CI does:
#  0. formatting of every C++ file (clang-format, .clang-format);
#  1. unit, audio-thread guard and integration tests (a real jackd with the dummy backend),
#     warnings as errors; then the load scenarios (docs/load-testing.md), one at a time;
#  2. unit and guard tests again under AddressSanitizer + UndefinedBehaviorSanitizer;
#  3. the threaded unit tests (controller + loader thread, rings) under ThreadSanitizer;
#  4. every libFuzzer target for 60 s (in parallel), after replaying its regression inputs;
#  5. cross builds (scripts/cross-test.sh): unit and guard tests for arm64 and armhf (the
#     Raspberry Pi's), under qemu-user where the kernel cannot run them; beside them the long tests
#     (ten minutes of Link rigs looping);
#     After cross-test.sh, beside the same long tests, the Debian package (scripts/build-deb.sh)
#     is built and checked by lintian for amd64, arm64 and armhf;
#  6. the amd64 package installed, played through a private jackd, removed and purged
#     (tests/package/install_test.sh);
#  7. the Open Stage Control session end to end in headless Chromium (tests/surface).
# The sanitizer builds compile beside the integration tests and load scenarios, which mostly
# wait, at the lowest CPU priority.
# Prints one closing line: "tests: N passed, N failed, N skipped" (Google Test cases).
set -euo pipefail
cd "$(dirname "$0")/.."

# Each stage's wall-clock time, printed at the end, so that a slow stage shows before CI's limit.
stage_names=()
stage_seconds=()
stage_name=""
stage_start=$SECONDS
end_stage() {
  if [ -n "$stage_name" ]; then
    stage_names+=("$stage_name")
    stage_seconds+=($((SECONDS - stage_start)))
  fi
  stage_name=""
}
# stage NAME: ends the stage before and starts this one.
stage() {
  end_stage
  stage_name=$1
  stage_start=$SECONDS
  echo "== $1 =="
}
print_stage_times() {
  end_stage
  echo "stage times:"
  local i
  for i in "${!stage_names[@]}"; do
    printf '  %5d s  %s\n' "${stage_seconds[$i]}" "${stage_names[$i]}"
  done
  printf '  %5d s  in all\n' "$SECONDS"
}
# A stage that stops the script (set -e) still gets its time printed.
trap 'print_stage_times' EXIT

stage "packages (scripts/install-deps.sh --test)"
scripts/install-deps.sh --test

jobs=$(nproc)
status=0
junit_files=()

stage "formatting (clang-format --dry-run against .clang-format)"
# Seconds, and a failure names the file and line; the build goes on, so that one run reports all.
if ! clang-format --dry-run --Werror $(git ls-files '*.cpp' '*.hpp'); then
  echo "formatting differs from .clang-format: run clang-format -i on the files above"
  status=1
fi

# run_suite BUILD_DIR TIMEOUT_MULTIPLIER [meson test args...]: runs and remembers the JUnit
# log for the summary. meson's per-test timeouts (tests/meson.build) only catch hangs, with
# room for a busy machine; the sanitizers run everything several times slower, so their runs
# multiply them (ASan 2, TSan 3).
run_suite() {
  local dir=$1 multiplier=$2
  shift 2
  if ! meson test -C "$dir" --print-errorlogs --num-processes "$jobs" \
    --timeout-multiplier "$multiplier" "$@"; then status=1; fi
  junit_files+=("$dir/meson-logs/testlog.junit.xml")
}

stage "build (warnings are errors), unit, guard and integration tests, TSan build beside them"
[ -d build-test ] || meson setup build-test -Dwerror=true
meson compile -C build-test -j "$jobs"
# clang, because moodycamel's queue tells TSan about its fences only under clang; with g++
# every ring handoff would be reported as a race. The integration tests mostly wait on jackd and
# the daemon: the TSan build takes the idle CPU beside them, at the lowest priority. Line tables
# only: reports keep their functions and lines, and a file compiles in about 25 % less time
# (controller_test.cpp: 17.5 s against 23.1 s).
[ -d build-tsan ] || CXX=clang++-19 meson setup build-tsan -Dwerror=true -Db_sanitize=thread \
  -Db_lundef=false -Drtsan=disabled -Dintegration_tests=false -Dbenchmarks=false \
  -Dcpp_args=-gline-tables-only
nice -n 19 meson compile -C build-tsan -j "$jobs" >build-tsan/compile.log 2>&1 &
tsan_compile=$!
run_suite build-test 1 --no-suite load --no-suite surface --no-suite long

stage "load scenarios (looperd-load, one private jackd at a time, about 5 minutes), ASan build beside them"
# RealtimeSanitizer and ASan both intercept malloc: this build uses looperd's own allocation
# guard only.
# GCC 12 reports false -Wmaybe-uninitialized inside libstdc++'s <regex> when ASan
# instruments it (the tests use std::regex); every other warning stays an error.
# -O1 and line tables only (-g1), as ASan's own documentation advises: reports keep their
# functions and lines, and GCC compiles the instrumented tree in less than half the time of
# -O2 -g (the heaviest file: 28 s against 65 s), which was CI's longest wait.
[ -d build-asan ] || meson setup build-asan -Dwerror=true -Db_sanitize=address,undefined \
  -Db_lundef=false -Drtsan=disabled -Dintegration_tests=false -Dbenchmarks=false \
  -Doptimization=1 "-Dcpp_args=-Wno-maybe-uninitialized -g1"
# The scenarios mostly wait on the network and the clock: the ASan build takes the idle CPU at
# the lowest priority, so that the daemon and jackd under load are not slowed by it.
nice -n 19 meson compile -C build-asan -j "$jobs" >build-asan/compile.log 2>&1 &
asan_compile=$!
# Their own log base, so that the summary below counts them next to the tests above.
if ! meson test -C build-test --no-rebuild --print-errorlogs --timeout-multiplier 2 --suite load \
  --logbase load; then
  status=1
fi
junit_files+=("build-test/meson-logs/load.junit.xml")

stage "unit and guard tests under AddressSanitizer + UndefinedBehaviorSanitizer"
if ! wait "$asan_compile"; then
  tail -n 60 build-asan/compile.log
  echo "the ASan build failed (build-asan/compile.log)"
  exit 1
fi
# Sanitizer reports with function names and lines, from LLVM's symbolizer when it is installed.
symbolizer=/usr/lib/llvm-19/bin/llvm-symbolizer
[ -x "$symbolizer" ] || symbolizer=""
if [ -n "$symbolizer" ]; then export ASAN_SYMBOLIZER_PATH=$symbolizer; fi
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 run_suite build-asan 2

stage "threaded unit tests under ThreadSanitizer (clang)"
if ! wait "$tsan_compile"; then
  tail -n 60 build-tsan/compile.log
  echo "the TSan build failed (build-tsan/compile.log)"
  exit 1
fi
tsan_options=halt_on_error=1:second_deadlock_stack=1
if [ -n "$symbolizer" ]; then tsan_options="$tsan_options:external_symbolizer_path=$symbolizer"; fi
TSAN_OPTIONS=$tsan_options run_suite build-tsan 3 --suite unit

stage "fuzzing: regression inputs, then each libFuzzer target for 60 s (clang)"
# scripts/fuzz.sh configures build-fuzz, writes the seeds and fails on any crash, leak,
# timeout or sanitizer report; the targets run side by side, so this adds about a minute.
if FUZZ_SEED=1 scripts/fuzz.sh 60; then
    run_suite build-fuzz 2 --no-rebuild --suite fuzz
else
    status=1
fi

stage "cross builds: arm64 and armhf (natively where the kernel can, else qemu-user); ten minutes of Link rigs looping beside them"
# The long tests (suite long: three rigs looping in one Link session for ten minutes) mostly
# wait: they run beside the cross builds, which take the idle CPU at the lowest priority.
meson test -C build-test --no-rebuild --print-errorlogs --suite long --logbase long \
  >build-test/long.log 2>&1 &
long_tests=$!
# scripts/cross-test.sh adds the foreign architectures and installs their packages itself.
# i386 is left to a developer's run (docs/building.md#why-i386): on a kernel without 32-bit
# support it costs CI about 7 minutes (a 278 s build and 146 s of tests under qemu-i386), and
# armhf covers the 32-bit class of bugs here.
if ! nice -n 19 scripts/cross-test.sh arm64 armhf; then status=1; fi
for arch in arm64 armhf; do junit_files+=("build-$arch/meson-logs/testlog.junit.xml"); done
# The Debian package for each architecture, built from a copy of the tree and checked by lintian
# (errors and warnings fail). Each build's log is build-deb/<arch>.log; lintian's part and the
# time are printed, the whole log only when it fails. One test case each in the summary.
mkdir -p build-deb
package_cases=()
for arch in amd64 arm64 armhf; do
  start=$SECONDS
  # Without debug information (-g0, no -dbgsym package): the same code, packaged and linted the
  # same way, in about 30 % less compile time; scripts/build-deb.sh run by hand keeps Debian's
  # flags as they are.
  if DEB_BUILD_OPTIONS=noautodbgsym DEB_CXXFLAGS_APPEND=-g0 \
    nice -n 19 scripts/build-deb.sh "$arch" build-deb >"build-deb/$arch.log" 2>&1; then
    package_cases+=("<testcase classname=\"package\" name=\"build-deb.sh $arch and lintian\"/>")
    sed -n '/^== lintian/,$p' "build-deb/$arch.log"
  else
    tail -n 80 "build-deb/$arch.log"
    echo "the $arch package failed to build or lintian found an error or warning (build-deb/$arch.log)"
    package_cases+=("<testcase classname=\"package\" name=\"build-deb.sh $arch and lintian\"><failure/></testcase>")
    status=1
  fi
  echo "$arch package: $((SECONDS - start)) s"
done
printf '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites><testsuite name="package-builds">\n%s\n</testsuite></testsuites>\n' \
  "$(printf '%s\n' "${package_cases[@]}")" >build-deb/builds.junit.xml
junit_files+=("build-deb/builds.junit.xml")
if ! wait "$long_tests"; then status=1; fi
echo "-- the long tests (build-test/long.log) --"
grep -hE '^minute |drifted|^ *[0-9]+/[0-9]+ |FAIL' build-test/long.log \
  build-test/meson-logs/long.txt || tail -n 40 build-test/long.log
junit_files+=("build-test/meson-logs/long.junit.xml")

stage "the amd64 package: install, play through a private jackd, remove, purge (under a minute)"
# After the long tests: it runs a jackd and the daemon of its own, and apt-get, which should not
# share the machine with the Link rigs' timing.
deb=$(ls build-deb/looperd_*_amd64.deb 2>/dev/null | head -n 1 || true)
if [ -z "$deb" ]; then
  echo "no amd64 package was built: the install test cannot run"
  status=1
else
  rc=0
  tests/package/install_test.sh "$deb" build-deb/install.junit.xml || rc=$?
  # 77: skipped, and it said why (no root, no passwordless sudo).
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then status=1; fi
  junit_files+=("build-deb/install.junit.xml")
fi

stage "Open Stage Control session in headless Chromium (tests/surface, about 3 minutes)"
# Chromium comes with install-deps.sh --test; Node and npm only where there is no node, then
# puppeteer-core as package-lock.json pins it (it never downloads a browser). Its own log base,
# so that the summary below counts each case.
if ! command -v node >/dev/null; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm
fi
# meson finds node when it configures: a build dir set up before node was installed looks again.
[ -n "$(meson introspect build-test --tests | grep -o '"surface_widgets"' || true)" ] ||
  meson setup --reconfigure build-test
if (cd tests/surface && npm ci --no-audit --no-fund --loglevel=error); then
  if ! meson test -C build-test --no-rebuild --print-errorlogs --suite surface --logbase surface \
    --num-processes 2; then
    status=1
  fi
  junit_files+=("build-test/meson-logs/surface.junit.xml")
else
  status=1
fi

passed=0 failed=0 skipped=0
for f in "${junit_files[@]}"; do
  [ -f "$f" ] || continue
  # Occurrences, not lines: meson writes a TAP test's cases on one line.
  total=$( { grep -o '<testcase ' "$f" || true; } | wc -l)
  fail=$( { grep -oE '<(failure|error)[ />]' "$f" || true; } | wc -l)
  skip=$( { grep -o '<skipped' "$f" || true; } | wc -l)
  passed=$((passed + total - fail - skip))
  failed=$((failed + fail))
  skipped=$((skipped + skip))
done
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi  # a crash may leave no test case
trap - EXIT
print_stage_times
# The failed cases by name, last, where a log's tail still shows them.
if [ "$failed" -ne 0 ]; then
  python3 - "${junit_files[@]}" <<'PY' || true
import sys, xml.etree.ElementTree as ET
for path in sys.argv[1:]:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        continue
    for suite in root.iter("testsuite"):
        for case in suite.iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                print(f"failed: {suite.get('name')}: {case.get('classname')}.{case.get('name')}"
                      f" ({path.split('/')[0]})")
PY
fi
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit "$status"
