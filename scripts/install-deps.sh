#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: looperd contributors
# Installs what looperd needs to build, run and test, from Debian's packages.
# Debian 12 (bookworm) or Raspberry Pi OS 12. Uses sudo when not run as root.
set -euo pipefail

# Usage: install-deps.sh [--test] [--bench]   (--test adds what the test suite needs besides the
# build; --bench the players scripts/bench-peers.sh measures looperd beside)
packages=(
  build-essential meson ninja-build pkg-config
  libjack-jackd2-dev jackd2 liblo-dev liblo-tools
  libsndfile1-dev libsamplerate0-dev
  # Google Highway: the voices' SIMD kernel, its instruction set chosen at run time.
  libhwy-dev
  libreaderwriterqueue-dev libspdlog-dev libtomlplusplus-dev
  libgtest-dev libbenchmark-dev
  # DNS-SD: announces the OSC service through avahi-daemon (optional at build time: meson's
  # avahi feature).
  libavahi-client-dev
  # Ableton Link, header-only, and the asio it is written on (optional at build time: meson's
  # link feature; GPLv2+, see README.md).
  ableton-link-dev libasio-dev
  # Rubber Band: loops stretched to the tempo with their pitch kept (optional at build time:
  # meson's rubberband feature; GPLv2+, see README.md).
  librubberband-dev
)
test_deps=0
bench_deps=0
for arg in "$@"; do
  case $arg in
    --test) test_deps=1 ;;
    --bench) bench_deps=1 ;;
    *) echo "install-deps.sh: unknown argument '$arg' (--test, --bench)" >&2; exit 2 ;;
  esac
done
if [ "$bench_deps" = 1 ]; then
  # SuperCollider's server and SooperLooper, measured beside looperd; python3 speaks OSC to them.
  packages+=(supercollider-server sooperlooper python3)
fi
if [ "$test_deps" = 1 ]; then
  # clang 19 builds the ThreadSanitizer pass: moodycamel's queue annotates its fences for
  # TSan only under clang. Its runtime package also carries RealtimeSanitizer's runtime for
  # the audio-thread guard (x86_64).
  packages+=(clang-19 libclang-rt-19-dev)
  # llvm-symbolizer, so that a sanitizer's report names functions, files and lines.
  packages+=(llvm-19)
  # The sources' formatting is checked against .clang-format (Debian's clang-format, 14).
  packages+=(clang-format)
  # systemd-analyze checks the units (verify, security exposure); util-linux's prlimit and
  # setpriv (Essential, so always there) run the daemon under a small RLIMIT_MEMLOCK.
  packages+=(systemd util-linux)
  # The surface tests (tests/surface) play the Open Stage Control session in headless Chromium.
  packages+=(chromium)
  # The DNS-SD integration test runs its own D-Bus system bus and avahi-daemon in a network
  # namespace of its own (veth pair set up with ip) and browses with avahi-browse.
  packages+=(dbus avahi-daemon avahi-utils iproute2)
  # The Debian package (scripts/build-deb.sh) is built and linted, and its install test reads
  # man pages (tests/package/install_test.sh).
  packages+=(debhelper dpkg-dev lintian man-db)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "Installing: ${missing[*]}"
# jackd2 asks whether to enable realtime scheduling; preseed "yes" so nothing prompts.
echo "jackd2 jackd/tweak_rt_limits boolean true" | $sudo debconf-set-selections
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
