#!/usr/bin/env bash
# .deb of a release tree (build-release.sh's release/stage/imdswatch-VERSION-linux-ARCH):
# the tree under /opt/imdswatch, /usr/bin/imdswatch, the unit in /lib/systemd/system,
# the logrotate snippet; the imdswatch user made by postinst, the service enabled (and
# started where systemd runs). Removal stops the service, removes the gate's rules, the
# user and every file; purge also the logs, state and configuration.
#   packaging/build-deb.sh ARCH(x64|arm64)
set -euo pipefail
cd "$(dirname "$0")/.."
arch=$1
case $arch in x64) deb_arch=amd64 ;; arm64) deb_arch=arm64 ;; *) echo "build-deb: arch x64 or arm64" >&2; exit 2 ;; esac
VERSION=$(node -p 'require("./package.json").version')
tree=release/stage/imdswatch-$VERSION-linux-$arch
[[ -x $tree/bin/imdswatch ]] || { echo "build-deb: $tree is missing: run packaging/build-release.sh first" >&2; exit 2; }
p=release/stage/deb-$deb_arch
rm -rf "$p"; mkdir -p "$p/DEBIAN" "$p/opt" "$p/usr/bin" "$p/lib/systemd/system" "$p/etc/logrotate.d"
cp -a "$tree" "$p/opt/imdswatch"
ln -s /opt/imdswatch/bin/imdswatch "$p/usr/bin/imdswatch"
packaging/package-unit.sh /usr/bin/imdswatch <systemd/imdswatch.service >"$p/lib/systemd/system/imdswatch.service"
cp systemd/imdswatch.logrotate "$p/etc/logrotate.d/imdswatch"
size=$(du -sk "$p" | cut -f1)
cat >"$p/DEBIAN/control" <<EOC
Package: imdswatch
Version: $VERSION
Architecture: $deb_arch
Maintainer: imdswatch maintainers <imdswatch@invalid>
Installed-Size: $size
Depends: passwd
Recommends: iptables | nftables
Section: admin
Priority: optional
Homepage: https://github.com/imdswatch/imdswatch
Description: find software that calls EC2 IMDS without a token (IMDSv1)
 A daemon that watches calls to the EC2 Instance Metadata Service and attributes
 each IMDSv1 call to its process, container and systemd unit. Self-contained:
 Node.js and libpcap are bundled under /opt/imdswatch.
EOC
echo /etc/logrotate.d/imdswatch >"$p/DEBIAN/conffiles"
for s in postinst prerm postrm; do
  sed -e '/^#COMMON#$/r packaging/maintainer/common.sh' -e '/^#COMMON#$/d' "packaging/maintainer/$s" >"$p/DEBIAN/$s"
  chmod 0755 "$p/DEBIAN/$s"
done
out=release/imdswatch_${VERSION}_$deb_arch.deb
dpkg-deb --root-owner-group -Zgzip --build "$p" "$out" >/dev/null
echo "build-deb: $out ($(du -h "$out" | cut -f1))"
