#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: looperd contributors
# Builds the Debian package (debian/) for this machine's architecture or, with Debian's cross
# toolchains, for arm64 or armhf, and checks it with lintian. docs/packaging.md explains it.
# Usage: scripts/build-deb.sh [ARCH] [OUTPUT_DIR]
#   ARCH        amd64 (this machine's, the default), arm64 or armhf
#   OUTPUT_DIR  where the .deb, .changes and .buildinfo files go (default: build-deb/ here)
# dpkg-buildpackage writes its results beside the source tree, so the tree (the files git
# tracks, and new ones it does not ignore) is copied to a temporary directory and built there:
# nothing is written next to the repository. Installs what the build needs with apt-get (as root,
# or with sudo). Exits non-zero when the build fails or lintian reports an error or a warning.
set -euo pipefail
cd "$(dirname "$0")/.."

build_arch=$(dpkg --print-architecture)
arch=${1:-$build_arch}
out=${2:-build-deb}
mkdir -p "$out"
out=$(cd "$out" && pwd)

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
apt_get() { $sudo env DEBIAN_FRONTEND=noninteractive apt-get "$@"; }
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
install_missing() {
  local missing=() p
  for p in "$@"; do installed "$p" || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing: ${missing[*]}"
    apt_get update -qq
    apt_get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/looperd-deb-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
version=$(dpkg-parsechangelog -l debian/changelog -S Version)
src="$tmp/looperd-${version%-*}"
mkdir -p "$src"
git ls-files -z --cached --others --exclude-standard | tar -c --null -T - | tar -x -C "$src"
# The copy has no .git: `looperd --version` reads the revision from meson/revision.txt, as in a
# tree from `git archive` (scripts/revision.sh). Uncommitted changes are said here, not there.
git rev-parse HEAD >"$src/meson/revision.txt"
if [ -n "$(git status --porcelain)" ]; then
  echo "note: the tree has uncommitted changes; the package says it is $(git rev-parse --short=12 HEAD)"
fi

cross_args=()
if [ "$arch" = "$build_arch" ]; then
  # Everything debian/control's Build-Depends names, and lintian.
  install_missing lintian dpkg-dev
  (cd "$src" && dpkg-checkbuilddeps 2>/dev/null) || apt_get build-dep -y -qq "$src"
else
  case $arch in
    arm64) triplet=aarch64-linux-gnu ;;
    armhf) triplet=arm-linux-gnueabihf ;;
    *) echo "build-deb.sh: cross builds are for arm64 and armhf, not '$arch'" >&2; exit 2 ;;
  esac
  # The host libraries as scripts/cross-test.sh installs them, with liblo-dev unpacked rather
  # than installed: liblo-dev is not Multi-Arch: same, and liblo-dev:$arch would replace this
  # machine's own (what `apt-get build-dep -a $arch` would do). So the build dependencies are
  # installed here by name, and dpkg-buildpackage is told not to check them (-d).
  scripts/cross-test.sh --deps-only "$arch"
  install_missing lintian dpkg-dev debhelper meson ninja-build systemd "crossbuild-essential-$arch" \
    "pkgconf:$arch" "libavahi-client-dev:$arch"
  # debhelper's meson cross file (debcrossgen), plus the unpacked liblo's pkg-config directory.
  cross_file="$tmp/cross-$arch.ini"
  dpkg-architecture -a "$arch" -c /usr/share/meson/debcrossgen -o "$cross_file" \
    >/dev/null 2>&1
  printf "\n[built-in options]\npkg_config_path = '%s'\n" \
    "$PWD/build-cross-deps/$arch/root/usr/lib/$triplet/pkgconfig" >>"$cross_file"
  export DH_MESON_CROSS_FILE=$cross_file
  # The package is built without tests anyway; nocheck tells dh so, instead of its warning that
  # cross-built tests cannot run.
  export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:+$DEB_BUILD_OPTIONS }nocheck"
  cross_args=(-a "$arch" -d)
fi

echo "== looperd $version: dpkg-buildpackage for $arch in $src =="
start=$SECONDS
# The lowest CPU priority: the package build may run beside tests that measure timing.
(cd "$src" && nice -n 19 dpkg-buildpackage -b -us -uc "${cross_args[@]}")
echo "$arch: package build took $((SECONDS - start)) s"

changes="looperd_${version}_${arch}.changes"
for f in "$tmp"/*.deb "$tmp"/*.changes "$tmp"/*.buildinfo; do
  [ -e "$f" ] && cp "$f" "$out/"
done
echo "== lintian $changes =="
lintian --version
# Errors and warnings fail; pedantic and informational tags are shown, not fatal. Overrides
# are in debian/looperd.lintian-overrides, each with its reason.
lintian -i -I --pedantic --fail-on error,warning "$out/$changes"
echo "lintian: no error, no warning"
ls -l "$out"/looperd_"${version}"_"$arch".deb
