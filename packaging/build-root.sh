#!/usr/bin/env bash
# The build root for the native addons: Debian 11 "bullseye" (glibc 2.31, the oldest
# Debian release still on deb.debian.org; buster's 2.28 is only on archive.debian.org,
# unreachable here), with gcc and the arm64 cross compiler. Building there instead of on
# the Debian 12 host keeps GLIBC_2.32+ symbols (stat@2.33, the 2.34 pthread move) out of
# the addons. Cached: made once, reused by every release build.
#   packaging/build-root.sh [ROOT]      (default /var/cache/imdswatch-release/bullseye-build)
set -euo pipefail
ROOT=${1:-${IMDSWATCH_BUILD_ROOT:-/var/cache/imdswatch-release/bullseye-build}}
MIRROR=${IMDSWATCH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
readonly STAMP=.imdswatch-build-root-v1
[[ $EUID -eq 0 ]] || { echo "build-root: run as root (debootstrap, chroot)" >&2; exit 2; }
if [[ -f $ROOT/$STAMP ]]; then exit 0; fi
command -v debootstrap >/dev/null || { echo "build-root: debootstrap is missing (apt-get install debootstrap)" >&2; exit 2; }
mkdir -p "$(dirname "$ROOT")"
if [[ ! -x $ROOT/usr/bin/gcc ]]; then
  rm -rf "$ROOT.tmp"
  echo "build-root: debootstrap bullseye (buildd) into $ROOT"
  debootstrap --variant=buildd --include=python3,flex,bison,ca-certificates bullseye "$ROOT.tmp" "$MIRROR" >"$ROOT.log" 2>&1 ||
    { tail -20 "$ROOT.log" >&2; exit 1; }
  rm -rf "$ROOT"; mv "$ROOT.tmp" "$ROOT"
fi
echo "build-root: adding the arm64 cross compiler"
unshare -m --propagation private bash -c '
  set -e
  mount -t proc proc "$1/proc"
  mount --bind /dev "$1/dev"
  chroot "$1" /bin/sh -c "dpkg --add-architecture arm64 && apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends crossbuild-essential-arm64 </dev/null >/dev/null &&
    apt-get clean"
' _ "$ROOT"
touch "$ROOT/$STAMP"
