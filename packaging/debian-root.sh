#!/usr/bin/env bash
# The Debian roots that the release build and the tests run in, debootstrapped once per
# machine into one shared cache and reused by everyone (#12):
#   bookworm-min    Debian 12 minbase: no node, npm, compiler or libpcap
#                   (test/release: the tarball, .deb and .rpm in a clean root)
#   bullseye-min    Debian 11 minbase, the same (test/release)
#   bookworm-boot   Debian 12 minbase + systemd, curl, iproute2, libpcap0.8, iptables, ...
#                   (test/systemd boot test; test/containers' image)
#   bullseye-build  Debian 11 minbase + gcc, g++, make, python3, flex, bison and the arm64
#                   cross compiler (packaging/build-release.sh: glibc 2.31 floor)
#
#   packaging/debian-root.sh NAME       prints the root's path, building it first if needed
#   packaging/debian-root.sh --all      builds every missing root (two at a time; CI prefetch)
#   packaging/debian-root.sh --check NAME   exit 0 when NAME is built (prints its path)
#
# Cache: $IMDSWATCH_ROOT_CACHE (default /var/cache/imdswatch-roots). A root lives in
# NAME-KEY, KEY a hash of its recipe (suite, packages, RECIPE_VERSION): a changed recipe
# gets a new directory, never a half-updated old one. It is built in a temporary
# directory under a per-NAME lock (flock), stamped last, then renamed into place: a root
# without its stamp (a failed or killed build) is never used, and the next caller removes
# the leftovers and builds again. Consumers must not write into a root: use an overlay
# or a copy. Speed: dpkg runs with force-unsafe-io during the build (one sync at the end
# instead of an fsync per file), downloaded .debs are kept per suite in $CACHE/debs-SUITE
# and shared between roots of that suite (under a per-suite lock).
set -euo pipefail
readonly RECIPE_VERSION=1
CACHE=${IMDSWATCH_ROOT_CACHE:-/var/cache/imdswatch-roots}
# the Debian archive apt uses here (packaging/apt-mirror.sh), looked up only when a root is built
source "$(dirname "$0")/apt-mirror.sh"
LOCK_WAIT=${IMDSWATCH_ROOT_LOCK_WAIT:-2400} # seconds to wait for another builder
ALL=(bookworm-boot bullseye-build bookworm-min bullseye-min)

die() { echo "debian-root: $*" >&2; exit 2; }

recipe() { # NAME -> "suite include-list"
  case $1 in
    bookworm-min) echo "bookworm -" ;;
    bullseye-min) echo "bullseye -" ;;
    bookworm-boot) echo "bookworm systemd,systemd-sysv,curl,iproute2,libpcap0.8,iptables,logrotate,libstdc++6,ca-certificates" ;;
    # crossbuild-essential-arm64 without dpkg-cross/dpkg-dev (nothing here packages .debs):
    # the cross gcc/g++ and the arm64 C/C++ libraries (arch: all), no foreign dpkg arch
    bullseye-build) echo "bullseye gcc,g++,make,python3,flex,bison,ca-certificates,gcc-aarch64-linux-gnu,g++-aarch64-linux-gnu,libc6-dev-arm64-cross,libstdc++6-arm64-cross" ;;
    *) die "unknown root '$1' (one of: ${ALL[*]})" ;;
  esac
}

dir_of() { # NAME -> its cache directory
  local r key; r=$(recipe "$1") || exit 2
  key=$(printf '%s|%s|minbase|v%s' "$1" "$r" "$RECIPE_VERSION" | sha256sum | cut -c1-12)
  echo "$CACHE/$1-$key"
}
STAMP=.imdswatch-root
ready() { [[ -f $1/$STAMP ]]; }
failed() { # TMP MESSAGE LOG: a failed build leaves nothing behind (a killed one: the next builder cleans up)
  tail -20 "$3" >&2
  rm -rf --one-file-system "$1"
  die "$2 (log: $3)"
}

build() { # NAME DIR: debootstrap into a temp dir, stamp, rename
  local name=$1 final=$2 suite includes tmp log t0
  read -r suite includes <<<"$(recipe "$name")"
  command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap)"
  local mirror
  mirror=$(apt_mirror) || exit 2
  rm -rf --one-file-system "$CACHE/.tmp-$name".* # leftovers of a failed build (we hold the lock)
  tmp=$(mktemp -d "$CACHE/.tmp-$name.XXXXXX")
  chmod 0755 "$tmp" # it becomes the root's /
  log=$CACHE/$name.log
  t0=$(date +%s)
  echo "debian-root: debootstrap $name ($suite minbase${includes:+ +$includes}) into $final, log $log" >&2
  local inc=() debs=$CACHE/debs-$suite
  [[ $includes != - ]] && inc=(--include="$includes")
  mkdir -p "$debs"
  # stage 1 (download + unpack) holds the suite's .deb cache; stage 2 (dpkg --install,
  # configure) runs with unsafe-io, in a private mount namespace: whatever debootstrap
  # mounts inside the root goes away with it, even when killed
  {
    flock -w "$LOCK_WAIT" 8 && echo "holding $debs.lock" || { echo "timed out waiting for $debs.lock"; false; } &&
    debootstrap --variant=minbase --foreign --cache-dir="$debs" "${inc[@]}" "$suite" "$tmp" "$mirror"
  } 8>"$debs.lock" >"$log" 2>&1 || failed "$tmp" "debootstrap (first stage) of $name failed" "$log"
  mkdir -p "$tmp/etc/dpkg/dpkg.cfg.d"
  echo force-unsafe-io >"$tmp/etc/dpkg/dpkg.cfg.d/imdswatch-root-build"
  unshare -m --propagation private chroot "$tmp" /debootstrap/debootstrap --second-stage >>"$log" 2>&1 ||
    failed "$tmp" "debootstrap (second stage) of $name failed" "$log"
  rm -f "$tmp/etc/dpkg/dpkg.cfg.d/imdswatch-root-build"
  rm -rf "$tmp/var/cache/apt/archives/"*.deb "$tmp/var/lib/apt/lists/"*_Packages
  printf 'name=%s\nrecipe=%s\nbuilt=%s\nseconds=%s\n' "$name" "$(recipe "$name")" "$(date -u +%FT%TZ)" "$(($(date +%s) - t0))" >"$tmp/$STAMP"
  sync -f "$tmp"
  rm -rf --one-file-system "$final" # an unstamped leftover at the final name
  mv -T "$tmp" "$final"
  echo "debian-root: $name ready in $(($(date +%s) - t0)) s" >&2
}

ensure() { # NAME -> prints the path
  local name=$1 d; d=$(dir_of "$name")
  if ! ready "$d"; then
    [[ $EUID -eq 0 ]] || die "$name is not built yet and building it needs root"
    mkdir -p "$CACHE"
    {
      flock -w "$LOCK_WAIT" 9 || die "timed out after ${LOCK_WAIT}s waiting for $CACHE/$name.lock"
      ready "$d" || build "$name" "$d"
    } 9>"$CACHE/$name.lock"
  fi
  echo "$d"
}

case ${1:-} in
  --all)
    # two at a time: debootstrap alternates between the network and the disk/CPU
    pids=()
    for n in "${ALL[@]}"; do
      ensure "$n" >/dev/null &
      pids+=($!)
      if ((${#pids[@]} == 2)); then wait "${pids[0]}" || rc=1; pids=("${pids[@]:1}"); fi
    done
    for p in "${pids[@]}"; do wait "$p" || rc=1; done
    exit "${rc:-0}"
    ;;
  --check) d=$(dir_of "${2:?NAME}"); ready "$d" && echo "$d" ;;
  --dir) dir_of "${2:?NAME}" ;;
  ''|-*) die "usage: $0 NAME | --all | --check NAME" ;;
  *) ensure "$1" ;;
esac
