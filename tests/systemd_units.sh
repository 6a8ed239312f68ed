#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: looperd contributors
# Checks looperd's systemd units with systemd's own tools:
#  - `systemd-analyze verify` on the system unit, the user unit and the example jackd unit
#    (any message fails the check: unknown keys, bad values, missing programs);
#  - `systemd-analyze security --offline=yes` on the system unit: its exposure must be 2.0 or
#    less. systemd 252 takes --threshold= in tenths (20 = 2.0) and fails above it; the figure
#    is also read back and compared here, so the check holds whatever --threshold= means.
# The units are generated from the templates with ExecStart= pointing at the build's looperd,
# because verify requires the program to exist.
# Usage: systemd_units.sh SOURCE_DIR LOOPERD_BINARY
set -euo pipefail

src=$1
looperd=$2
if ! command -v systemd-analyze >/dev/null; then
  echo "systemd-analyze not found (Debian: systemd; scripts/install-deps.sh installs it)"
  exit 77  # meson: skipped
fi
systemd-analyze --version | head -n 1

tmp=$(mktemp -d "${TMPDIR:-/tmp}/looperd-units-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/system" "$tmp/user" "$tmp/run"

configure() {  # configure TEMPLATE OUTPUT
  sed -e "s|@BINDIR@|$(dirname "$looperd")|g" -e "s|@DOCDIR@|$src/docs|g" \
      -e "s|@SERVICE_USER@|looperd|g" "$1" >"$2"
  if grep -n '@[A-Z_]*@' "$2"; then echo "FAIL: unreplaced placeholder in $2"; exit 1; fi
}
configure "$src/systemd/looperd.service.in" "$tmp/system/looperd.service"
configure "$src/systemd/looperd-user.service.in" "$tmp/user/looperd.service"
cp "$src/systemd/examples/jackd-rig.service" "$tmp/system/jackd-rig.service"
# The binary is named looperd in the unit; the build's may be elsewhere only by directory.
[ "$(basename "$looperd")" = looperd ] || { echo "FAIL: $looperd is not named looperd"; exit 1; }

status=0
verify() {  # verify LABEL ARGS...
  local label=$1 out
  shift
  if ! out=$(systemd-analyze "$@" 2>&1) || [ -n "$out" ]; then
    echo "FAIL: systemd-analyze $* ($label):"
    echo "$out"
    status=1
  else
    echo "ok: verify $label"
  fi
}
verify "system unit" verify "$tmp/system/looperd.service"
verify "example jackd unit" verify "$tmp/system/jackd-rig.service"
# A user manager's verify looks for its runtime directory.
XDG_RUNTIME_DIR="$tmp/run" verify "user unit" --user verify "$tmp/user/looperd.service"

report=$(systemd-analyze security --offline=yes --threshold=20 "$tmp/system/looperd.service" 2>&1) \
  || { echo "$report"; echo "FAIL: exposure above 2.0 (--threshold=20)"; status=1; }
line=$(grep 'Overall exposure level' <<<"$report" || true)
echo "${line:-FAIL: no exposure level in the report}"
exposure=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$line")
if [ -z "$exposure" ] || ! awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }'; then
  echo "FAIL: exposure '${exposure}' is not at most 2.0"
  grep '✗' <<<"$report" || true
  status=1
else
  echo "ok: exposure $exposure <= 2.0"
fi
exit $status
