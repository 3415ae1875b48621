#!/usr/bin/env bash
# An OCI image per architecture, without any registry, daemon or image tool: a minimal
# root (the release tree under /opt/imdswatch plus the C and C++ runtime libraries the
# bundled Node.js needs, taken from the Debian 11 build root: glibc 2.31) written as an
# OCI image layout and saved as release/imdswatch-VERSION-oci-ARCH.tar.
# Load it with `podman load -i FILE`, `docker load -i FILE` (Docker >= 25) or
# `skopeo copy oci-archive:FILE ...`. The image has no shell and no iptables/nft: the
# daemon runs without the gate (passive attribution); see deploy/kubernetes/.
#   packaging/build-oci.sh ARCH(x64|arm64)
set -euo pipefail
cd "$(dirname "$0")/.."
arch=$1
# the Debian 11 build root (set by build-release.sh; else the shared cache's)
ROOT=${IMDSWATCH_BUILD_ROOT:-$(packaging/debian-root.sh --check bullseye-build || true)}
[[ -n $ROOT && -d $ROOT/usr ]] || { echo "build-oci: no build root: run packaging/build-release.sh" >&2; exit 2; }
case $arch in
  x64) oci_arch=amd64; libdir=$ROOT/lib/x86_64-linux-gnu; cxxdir=$ROOT/usr/lib/x86_64-linux-gnu
       triplet=x86_64-linux-gnu; ld=ld-linux-x86-64.so.2; lddir=lib64 ;;
  arm64) oci_arch=arm64; libdir=$ROOT/usr/aarch64-linux-gnu/lib; cxxdir=$libdir
       triplet=aarch64-linux-gnu; ld=ld-linux-aarch64.so.1; lddir=lib ;;
  *) echo "build-oci: arch x64 or arm64" >&2; exit 2 ;;
esac
VERSION=$(node -p 'require("./package.json").version')
tree=release/stage/imdswatch-$VERSION-linux-$arch
[[ -x $tree/bin/imdswatch ]] || { echo "build-oci: $tree is missing: run packaging/build-release.sh first" >&2; exit 2; }
EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
work=release/stage/oci-$arch
rm -rf "$work"; mkdir -p "$work/rootfs/opt" "$work/rootfs/lib/$triplet" "$work/rootfs/$lddir" "$work/layout/blobs/sha256"
r=$work/rootfs
cp -a "$tree" "$r/opt/imdswatch"
for l in libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 libgcc_s.so.1; do cp -L "$libdir/$l" "$r/lib/$triplet/"; done
cp -L "$cxxdir/libstdc++.so.6" "$r/lib/$triplet/"
cp -L "$libdir/$ld" "$r/$lddir/$ld"
mkdir -p "$r/etc" "$r/tmp" "$r/var/lib/imdswatch" "$r/var/log/imdswatch" "$r/run" "$r/proc" "$r/sys" "$r/dev"
chmod 1777 "$r/tmp"
printf 'root:x:0:0:root:/root:/nonexistent\n' >"$r/etc/passwd"
printf 'root:x:0:\n' >"$r/etc/group"
cp "$ROOT/usr/share/doc/libc6/copyright" "$r/opt/imdswatch/licenses/glibc-copyright.txt"
cp "$ROOT/usr/share/doc/libstdc++6/copyright" "$r/opt/imdswatch/licenses/libstdc++-copyright.txt" 2>/dev/null || true

blob() { # FILE -> moves it into blobs, prints "sha256:HEX SIZE"
  local h s; h=$(sha256sum "$1" | cut -d' ' -f1); s=$(stat -c %s "$1")
  mv "$1" "$work/layout/blobs/sha256/$h"; echo "sha256:$h $s"
}
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$EPOCH" -C "$r" -cf "$work/layer.tar" .
diff_id=sha256:$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
gzip -6n "$work/layer.tar"
read -r layer_digest layer_size < <(blob "$work/layer.tar.gz")
created=$(date -u -d "@$EPOCH" +%Y-%m-%dT%H:%M:%SZ)
cat >"$work/config.json" <<EOC
{"created":"$created","architecture":"$oci_arch","os":"linux","config":{"Entrypoint":["/opt/imdswatch/node/bin/node","/opt/imdswatch/dist/cli/main.js"],"Cmd":["daemon","--no-gate","--metrics-host","0.0.0.0"],"Env":["PATH=/opt/imdswatch/node/bin:/usr/bin:/bin"],"WorkingDir":"/","Labels":{"org.opencontainers.image.title":"imdswatch","org.opencontainers.image.version":"$VERSION"}},"rootfs":{"type":"layers","diff_ids":["$diff_id"]},"history":[{"created":"$created","created_by":"packaging/build-oci.sh $arch"}]}
EOC
read -r config_digest config_size < <(blob "$work/config.json")
cat >"$work/manifest.json" <<EOM
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"$config_digest","size":$config_size},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"$layer_digest","size":$layer_size}]}
EOM
read -r manifest_digest manifest_size < <(blob "$work/manifest.json")
cat >"$work/layout/index.json" <<EOI
{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"$manifest_digest","size":$manifest_size,"platform":{"architecture":"$oci_arch","os":"linux"},"annotations":{"org.opencontainers.image.ref.name":"$VERSION","io.containerd.image.name":"localhost/imdswatch:$VERSION"}}]}
EOI
printf '{"imageLayoutVersion":"1.0.0"}' >"$work/layout/oci-layout"
out=release/imdswatch-$VERSION-oci-$arch.tar
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$EPOCH" -C "$work/layout" -cf "$out" .
rm -rf "$r"
echo "build-oci: $out ($(du -h "$out" | cut -f1))"
