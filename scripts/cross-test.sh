#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: looperd contributors
# Cross-builds looperd for other architectures and runs its unit and guard tests there:
#   arm64  Raspberry Pi OS 64-bit (and Debian arm64), tests under qemu-user;
#   armhf  Raspberry Pi OS 32-bit (Debian armhf: ARMv7), tests under qemu-user;
#   i386   32-bit x86: the quick 32-bit check (size_t, pointer arithmetic, the OSC datagram
#          path with bundle sizes that overflow 32-bit arithmetic).
# Each architecture's tests run natively where this machine's kernel runs its programs (an
# arm64 Raspberry Pi runs arm64 and armhf; most x86_64 kernels run i386, some small VM kernels
# do not), and under qemu-user where it does not: the script tries, and says which it used.
# Usage: scripts/cross-test.sh [--deps-only] [ARCH...]   (default: arm64 armhf i386)
#   --deps-only: install the packages and unpack liblo-dev (below), build nothing; for
#   scripts/build-deb.sh's cross package builds, which need the same host libraries.
# Adds the foreign architectures to dpkg and installs Debian's cross toolchains, qemu-user and the
# multiarch -dev packages (as root, or with sudo). Builds build-<arch>/ with meson/cross/<triplet>.ini,
# warnings as errors; leaves build-<arch>/meson-logs/testlog.junit.xml for scripts/test.sh's summary.
# Exits 1 when any architecture fails to build or to pass.
set -euo pipefail
cd "$(dirname "$0")/.."

deps_only=0
if [ "${1:-}" = "--deps-only" ]; then deps_only=1; shift; fi
archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(arm64 armhf i386)

# The qemu-user emulator for an architecture's programs.
qemu_of() {
  case $1 in
    arm64) echo qemu-aarch64 ;;
    armhf) echo qemu-arm ;;
    i386) echo qemu-i386 ;;
  esac
}

triplet_of() {
  case $1 in
    arm64) echo aarch64-linux-gnu ;;
    armhf) echo arm-linux-gnueabihf ;;
    i386) echo i686-linux-gnu ;;  # the compiler's triplet; the library directory is i386-linux-gnu
    *) echo "cross-test.sh: unknown architecture '$1' (arm64, armhf, i386)" >&2; exit 2 ;;
  esac
}

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
apt_get() { $sudo env DEBIAN_FRONTEND=noninteractive apt-get "$@"; }

# --- packages ------------------------------------------------------------------------------
# liblo-dev is not Multi-Arch: same (its .so link and .pc are per architecture in one path), so
# installing liblo-dev:arm64 would remove the build machine's own liblo-dev. The library itself
# (liblo7, Multi-Arch: same) is installed; the -dev package is unpacked into build-cross-deps/
# below instead. Every other -dev package here is Multi-Arch: same (libreaderwriterqueue-dev,
# ableton-link-dev and libasio-dev are header-only, Architecture: all).
packages=(qemu-user libreaderwriterqueue-dev ableton-link-dev libasio-dev)
for arch in "${archs[@]}"; do
  t=$(triplet_of "$arch")
  packages+=("g++-$t" "pkgconf:$arch"
    "libjack-jackd2-dev:$arch" "liblo7:$arch" "libsndfile1-dev:$arch" "libsamplerate0-dev:$arch"
    "libspdlog-dev:$arch" "libfmt-dev:$arch" "libgtest-dev:$arch" "libtomlplusplus-dev:$arch"
    "libhwy-dev:$arch")
done

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

added_arch=0
for arch in "${archs[@]}"; do
  if [ "$arch" != "$(dpkg --print-architecture)" ] &&
    ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
    $sudo dpkg --add-architecture "$arch"
    added_arch=1
  fi
done

missing=()
for p in "${packages[@]}"; do installed "$p" || missing+=("$p"); done

# Right after an architecture is added, the mirror's index for it may be mid-sync ("File has
# unexpected size"): apt-get update is retried with a pause. If one index still fails (often
# the security archive's for one architecture), the packages come from the main archive and
# apt-get install says clearly if anything is then missing.
apt_update() {
  local try
  for try in 1 2 3 4 5; do
    if apt_get update -qq; then return 0; fi
    echo "apt-get update failed (try $try of 5); retrying in 15 s" >&2
    sleep 15
  done
  echo "apt-get update still reports errors; installing from the indexes it has" >&2
}

if [ ${#missing[@]} -gt 0 ] || [ "$added_arch" -eq 1 ]; then
  if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing: ${missing[*]}"
    apt_update
    # A package file may also vanish mid-sync: one more update and try before giving up.
    if ! apt_get install -y -qq --no-install-recommends "${missing[@]}"; then
      sleep 15
      apt_update
      apt_get install -y -qq --no-install-recommends "${missing[@]}"
    fi
  else
    apt_update
  fi
fi

# unpack_liblo_dev ARCH TRIPLET: liblo-dev of liblo7's exact version, unpacked into
# build-cross-deps/ARCH; prints the pkg-config directory whose liblo.pc points there.
unpack_liblo_dev() {
  local arch=$1 t=$2 dir version deb libdir
  dir="$PWD/build-cross-deps/$arch"
  version=$(dpkg-query -W -f='${Version}' "liblo7:$arch")
  libdir="usr/lib/$t"
  [ "$arch" = i386 ] && libdir="usr/lib/i386-linux-gnu"
  if [ ! -f "$dir/.version" ] || [ "$(cat "$dir/.version")" != "$version" ]; then
    rm -rf "$dir"
    mkdir -p "$dir"
    # apt downloads as its sandbox user, which must be able to write here.
    if [ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1; then chown _apt "$dir"; fi
    (cd "$dir" && apt-get download -q "liblo-dev:$arch=$version" >/dev/null)
    deb=$(echo "$dir"/liblo-dev_*.deb)
    dpkg-deb -x "$deb" "$dir/root"
    rm -f "$deb"
    # The package's liblo.so points at liblo.so.7.* beside it, which liblo7:ARCH installed in
    # the real library directory. The .pc's prefix becomes the unpacked tree, whose headers are
    # system headers as they would be in /usr/include (-isystem: their warnings are liblo's).
    ln -sfn "/$libdir/$(readlink "$dir/root/$libdir/liblo.so")" "$dir/root/$libdir/liblo.so"
    sed -i -e "s|^prefix=.*|prefix=$dir/root/usr|" -e 's|-I${includedir}|-isystem ${includedir}|' \
      "$dir/root/$libdir/pkgconfig/liblo.pc"
    echo "$version" >"$dir/.version"
  fi
  echo "$dir/root/$libdir/pkgconfig"
}

if [ "$deps_only" -eq 1 ]; then
  for arch in "${archs[@]}"; do unpack_liblo_dev "$arch" "$(triplet_of "$arch")" >/dev/null; done
  exit 0
fi

# --- build and test ------------------------------------------------------------------------
jobs=$(nproc)
status=0
for arch in "${archs[@]}"; do
  t=$(triplet_of "$arch")
  dir="build-$arch"
  echo "== $arch ($t): build (warnings are errors) =="
  start=$SECONDS
  pc_dir=$(unpack_liblo_dev "$arch" "$t")
  deps="build-cross-deps/$arch"

  # Natively or under the emulator: decided by trying, before meson is configured, since meson
  # runs cross-built tests through the cross file's exe_wrapper. A trivial program from the
  # cross compiler is started; a kernel without the architecture's support answers "Exec
  # format error".
  qemu=$(qemu_of "$arch")
  printf 'int main(void) { return 0; }\n' >"$deps/probe.c"
  "$t-gcc" "$deps/probe.c" -o "$deps/probe"
  extra_cross=()
  if "$deps/probe" 2>/dev/null; then
    runner=native
    how="natively"
    wrap=(env)
    multiplier=1
    # qemu-user-binfmt lets the kernel start foreign programs through the emulator.
    if grep -qx enabled "/proc/sys/fs/binfmt_misc/$qemu" 2>/dev/null; then
      how="through the kernel's binfmt_misc entry for $qemu"
      multiplier=4
    fi
  else
    runner=$qemu
    how="under qemu-user ($qemu): this kernel does not run $arch programs"
    if ! "$qemu" "$deps/probe"; then
      echo "$arch: a program built for $arch runs neither natively nor under $qemu" >&2
      status=1
      continue
    fi
    # Emulation makes each test slower, not less meaningful; the timeouts scale with it. A
    # death test's child cannot re-execute a foreign binary under qemu-user (no binfmt_misc
    # needed or assumed), so death tests fork instead (the tests honour Google Test's own
    # variable). Tests that start another of looperd's programs (the daemon, a writer) run it
    # through the emulator, named by LOOPERD_TEST_EXEC_WRAPPER.
    wrap=(env GTEST_DEATH_TEST_STYLE=fast "LOOPERD_TEST_EXEC_WRAPPER=$qemu")
    multiplier=4
    # The ARM cross files name their emulator; i386's does not, since most x86_64 kernels
    # run it, so a second cross file adds it here.
    if ! grep -q '^exe_wrapper' "meson/cross/$t.ini"; then
      printf "[binaries]\nexe_wrapper = ['%s']\n[properties]\nneeds_exe_wrapper = true\n" \
        "$qemu" >"$deps/emulator.ini"
      extra_cross=(--cross-file "$deps/emulator.ini")
    fi
  fi
  # A build directory configured for the other way is configured anew.
  if [ -d "$dir" ] && [ "$(cat "$deps/runner" 2>/dev/null)" != "$runner" ]; then rm -rf "$dir"; fi
  echo "$runner" >"$deps/runner"

  # No integration tests (they need a JACK server of the same architecture), no benchmark, and
  # no RealtimeSanitizer (its runtime is x86_64 only): the guard's own operator new/delete
  # check stays on. No debug information either: the code is the same -O2 code and the
  # assertions stay on, and the build takes about 30 % less time (189 s instead of 266 s for
  # i386 on 2 cores); the native builds keep it for the sanitizers' reports.
  if [ ! -d "$dir" ] && ! meson setup "$dir" --cross-file "meson/cross/$t.ini" "${extra_cross[@]}" \
    -Dwerror=true -Dintegration_tests=false -Dbenchmarks=false -Drtsan=disabled \
    -Ddebug=false -Doptimization=2 -Dpkg_config_path="$pc_dir"; then
    status=1
    continue
  fi
  rm -f "$dir/meson-logs/testlog.junit.xml"
  if ! meson compile -C "$dir" -j "$jobs"; then status=1; continue; fi
  echo "$arch: build took $((SECONDS - start)) s"

  echo "== $arch: unit and guard tests, run $how =="
  start=$SECONDS
  if ! "${wrap[@]}" meson test -C "$dir" --print-errorlogs --num-processes "$jobs" \
    --timeout-multiplier "$multiplier" --suite unit --suite guard; then
    status=1
  fi
  echo "$arch: tests took $((SECONDS - start)) s"
done
exit "$status"
