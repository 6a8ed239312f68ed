#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: looperd contributors
# Builds looperd and runs every test: unit, audio-thread guard, integration (a real jackd with
# the dummy backend), then the unit and guard tests again under ASan+UBSan.
# Warnings are errors. This is exactly what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

jobs=$(nproc)

echo "== build (warnings are errors) and test =="
if [ ! -d build-test ]; then meson setup build-test -Dwerror=true; fi
meson compile -C build-test -j "$jobs"
meson test -C build-test --print-errorlogs --num-processes "$jobs"

echo "== unit and guard tests under AddressSanitizer + UndefinedBehaviorSanitizer =="
if [ ! -d build-asan ]; then
  # RealtimeSanitizer and ASan both intercept malloc: the ASan build uses looperd's own
  # allocation guard only.
  meson setup build-asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false \
    -Drtsan=disabled -Dintegration_tests=false -Dbenchmarks=false
fi
meson compile -C build-asan -j "$jobs"
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
  meson test -C build-asan --print-errorlogs --num-processes "$jobs"

echo "All looperd tests passed."
