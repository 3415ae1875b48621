#!/bin/bash
# Runs inside the build root (packaging/build-root.sh), called by build-release.sh:
# builds a static, position-independent libpcap (no D-Bus, RDMA, Bluetooth, USB or
# libnl: a capture of ordinary interfaces needs none of them) and links it into cap, so
# the host needs no libpcap; then builds the sock_diag addon. For ARCH x64 or arm64
# (cross-compiled), against the headers shipped with that architecture's Node.js.
#   /work/build-addons.sh ARCH
set -euo pipefail
ARCH=$1
W=/work
case $ARCH in
  x64) HOST=x86_64-linux-gnu; export CC=gcc CXX=g++ ;;
  arm64) HOST=aarch64-linux-gnu; export CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ AR=aarch64-linux-gnu-ar LINK=aarch64-linux-gnu-g++ ;;
  *) echo "build-addons: unknown arch $ARCH" >&2; exit 2 ;;
esac
export PATH=$W/host-node/bin:$W/gyp-bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=$W/home npm_config_nodedir=$W/node-$ARCH npm_config_arch=$ARCH
mkdir -p "$HOME"

pcap=$W/pcap-$ARCH
rm -rf "$W/pcap-src-$ARCH" "$pcap"
mkdir -p "$W/pcap-src-$ARCH"
tar -xzf "$W/libpcap.tar.gz" -C "$W/pcap-src-$ARCH" --strip-components=1
(
  cd "$W/pcap-src-$ARCH"
  CFLAGS="-O2 -fPIC" ./configure --quiet --host="$HOST" --prefix="$pcap" --disable-shared \
    --disable-dbus --disable-rdma --disable-bluetooth --disable-usb --disable-netmap \
    --disable-remote --without-libnl >/dev/null
  make -s -j2 >/dev/null 2>&1
  make -s install >/dev/null
)
# headers from CPATH, -lpcap from LIBRARY_PATH (native gcc) or LDFLAGS (cross gcc ignores
# LIBRARY_PATH; gyp Makefiles pass LDFLAGS): only the static archive is there
export CPATH=$pcap/include LIBRARY_PATH=$pcap/lib LDFLAGS="-L$pcap/lib"

tree=$W/tree-$ARCH
# cap: imdswatch's snaplen patch, then the build (patch-cap.mjs runs node-gyp)
node "$tree/native/cap-snaplen/patch-cap.mjs"
[[ -f $tree/node_modules/cap/build/Release/.imdswatch-snaplen ]] || { echo "build-addons: cap did not build" >&2; exit 1; }
# sock_diag
(cd "$tree/native/sockdiag" && node-gyp rebuild --silent)
[[ -f $tree/native/sockdiag/build/Release/sockdiag.node ]] || { echo "build-addons: sockdiag did not build" >&2; exit 1; }
