#!/usr/bin/env bash
# An OCI image per architecture, without any registry, daemon or image tool: a minimal
# root (the release tree under /opt/imdswatch plus the C and C++ runtime libraries the
# bundled Node.js needs, taken from the Debian 11 build root: glibc 2.31) written as an
# OCI image layout and saved as release/imdswatch-VERSION-oci-ARCH.tar.
# Load it with `podman load -i FILE`, `docker load -i FILE` (Docker >= 25) or
# `skopeo copy oci-archive:FILE ...`.
# The image carries iptables (Debian 11's 1.8.7, both backends, no shell) so the daemon
# runs its SYN gate (#12): `iptables`/`ip6tables` on PATH are the nf_tables backend;
# putting /usr/lib/imdswatch/xtables-legacy first on PATH selects the legacy backend for
# nodes whose iptables is legacy (deploy/README.md "Which iptables backend").
#   packaging/build-oci.sh ARCH(x64|arm64)
#   packaging/build-oci.sh --fetch-only     only download the iptables packages (both arches)
set -euo pipefail
cd "$(dirname "$0")/.."
arch=$1
source packaging/apt-mirror.sh # apt_mirror: the Debian archive apt uses here
DEBS=${IMDSWATCH_RELEASE_CACHE:-/var/cache/imdswatch-release}/dl/debs
# Debian 11 (bullseye) packages, the same release as the image's glibc: iptables and the
# libraries its two backends and its extensions link. Pinned: path in the pool and the
# SHA256 from bullseye's Packages index (apt-cache show). Nothing else is taken from them.
PKGS=(
  "amd64 i/iptables/iptables_1.8.7-1_amd64.deb d3d90ea8ba3b371d02cc9483aa3e33851c4923854b786df60befc4ec67e5392d"
  "amd64 i/iptables/libxtables12_1.8.7-1_amd64.deb 9702a4be6f267b58c8fc1cfa0747bbefccb8b9a9af2a3547535533fbf2a7c14d"
  "amd64 i/iptables/libip4tc2_1.8.7-1_amd64.deb 7adeb63d9a350794b8234082082608d1b81097f5b177a9d16c28b72584c4f527"
  "amd64 i/iptables/libip6tc2_1.8.7-1_amd64.deb f6756882ae06fc61d7af02b3665893f53721590b87be338477ec8d8c99e17732"
  "amd64 libn/libnftnl/libnftnl11_1.1.9-1_amd64.deb 04da1ce7c71a3b1f3b52a2315e844dda6f7130db0857262d79d983182e86ccd7"
  "amd64 libm/libmnl/libmnl0_1.0.4-3_amd64.deb 4581f42e3373cb72f9ea4e88163b17873afca614a6c6f54637e95aa75983ea7c"
  "amd64 libn/libnetfilter-conntrack/libnetfilter-conntrack3_1.0.8-3_amd64.deb d230aafed9e69a6ee09846b4b9afcecd49e2775651c6d2f22313d21613bc742a"
  "amd64 libn/libnfnetlink/libnfnetlink0_1.0.1-3+b1_amd64.deb 6d650aae2fbfcb261557ed9032ba00c6d69ff30eded71050459af0fc0cf50926"
  "arm64 i/iptables/iptables_1.8.7-1_arm64.deb 21699bd1f42a470d272ebaadd9208fa8088c69d6ff1a5124f6af24ef7ac63f2a"
  "arm64 i/iptables/libxtables12_1.8.7-1_arm64.deb fa07088a313d8dae7a8cba0780117e80ead683ac549fd9986a52a3280232272a"
  "arm64 i/iptables/libip4tc2_1.8.7-1_arm64.deb d1fe2f3f384c2c9205b33822d6510c5f1f68d93f3ce487638d162b9667ff1f27"
  "arm64 i/iptables/libip6tc2_1.8.7-1_arm64.deb 40a45ce5fa8b3926efc281cab4d0ba9846dee18295c9374ad8917c7dbb113b2e"
  "arm64 libn/libnftnl/libnftnl11_1.1.9-1_arm64.deb 57fec0830e0f4f858e3b1498f86b0c27aed6e8f1e4143c852bc5c5922be2a0aa"
  "arm64 libm/libmnl/libmnl0_1.0.4-3_arm64.deb d63aafb6f2c07db8fcb135b00ff915baf72ef8a3397e773c9c24d67950c6a46c"
  "arm64 libn/libnetfilter-conntrack/libnetfilter-conntrack3_1.0.8-3_arm64.deb 754a300b2c4bb477e425cfbb4de8af734e6f0523c26e09d1115004d425cf60b6"
  "arm64 libn/libnfnetlink/libnfnetlink0_1.0.1-3+b1_arm64.deb 3a43bb97c16a4a4b2321973fe83b9a5d98e523415f9909cf978aef542e77f538"
)
# each .deb to a temporary name, checked, then renamed: an interrupted download is never
# taken for a finished one
fetch_debs() { # [DPKG_ARCH]: prints the cached paths
  local a path sum f
  mkdir -p "$DEBS"
  for p in "${PKGS[@]}"; do
    read -r a path sum <<<"$p"
    [[ -z ${1:-} || $a == "$1" ]] || continue
    f=$DEBS/${path##*/}
    if [[ ! -f $f ]]; then
      MIRROR=${MIRROR:-$(apt_mirror)}
      curl -fsS -o "$f.tmp.$$" "$MIRROR/pool/main/$path" || { rm -f "$f.tmp.$$"; echo "build-oci: could not fetch $MIRROR/pool/main/$path" >&2; exit 2; }
      mv "$f.tmp.$$" "$f"
    fi
    echo "$sum  $f" | sha256sum -c --quiet - >&2 || { rm -f "$f"; echo "build-oci: checksum mismatch: $f (removed)" >&2; exit 2; }
    echo "$f"
  done
}
if [[ $arch == --fetch-only ]]; then fetch_debs >/dev/null; exit 0; fi
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

# iptables for the SYN gate (src/live/gate-rules.ts runs `iptables`/`ip6tables -w 5 -t mangle`
# by name): both multi-call binaries, the shared libraries they and the extensions link, and
# the IPv4/IPv6/generic extensions (every one: listing a table with `-S` loads the extension
# of each rule already in it, e.g. kube-proxy's or a CNI's). No ebtables/arptables
# extensions, no iptables-apply (a shell script), no nfnl_osf.
x=$work/debs; mkdir -p "$x"
debs=$(fetch_debs "$oci_arch") # (an assignment: a failed download stops the build)
for deb in $debs; do dpkg-deb -x "$deb" "$x"; done
mkdir -p "$r/usr/sbin" "$r/usr/lib/$triplet/xtables" "$r/usr/lib/imdswatch/xtables-legacy"
cp -a "$x/usr/sbin/xtables-nft-multi" "$x/usr/sbin/xtables-legacy-multi" "$r/usr/sbin/"
for l in libxtables.so.12 libip4tc.so.2 libip6tc.so.2 libnftnl.so.11 libmnl.so.0 libnetfilter_conntrack.so.3 libnfnetlink.so.0; do
  cp -L "$x/usr/lib/$triplet/$l" "$r/lib/$triplet/"
done
cp -a "$x/usr/lib/$triplet/xtables/"lib{xt,ipt,ip6t}_*.so "$r/usr/lib/$triplet/xtables/"
# the default names are the nf_tables backend; -nft/-legacy names select one explicitly;
# /usr/lib/imdswatch/xtables-legacy first on PATH makes the plain names legacy
for t in iptables ip6tables; do
  for s in "" -save -restore; do
    ln -s xtables-nft-multi "$r/usr/sbin/$t$s"
    ln -s xtables-nft-multi "$r/usr/sbin/$t-nft$s"
    ln -s xtables-legacy-multi "$r/usr/sbin/$t-legacy$s"
    ln -s ../../../sbin/xtables-legacy-multi "$r/usr/lib/imdswatch/xtables-legacy/$t$s"
  done
done
for p in iptables libnftnl11 libmnl0 libnetfilter-conntrack3 libnfnetlink0; do
  cp "$x/usr/share/doc/$p/copyright" "$r/opt/imdswatch/licenses/$p-copyright.txt"
done
rm -rf "$x"

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
{"created":"$created","architecture":"$oci_arch","os":"linux","config":{"Entrypoint":["/opt/imdswatch/node/bin/node","/opt/imdswatch/dist/cli/main.js"],"Cmd":["daemon","--metrics-host","0.0.0.0"],"Env":["PATH=/opt/imdswatch/node/bin:/usr/sbin:/usr/bin:/bin"],"WorkingDir":"/","Labels":{"org.opencontainers.image.title":"imdswatch","org.opencontainers.image.version":"$VERSION"}},"rootfs":{"type":"layers","diff_ids":["$diff_id"]},"history":[{"created":"$created","created_by":"packaging/build-oci.sh $arch"}]}
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
