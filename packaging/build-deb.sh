#!/usr/bin/env bash
# .deb of a release tree (build-release.sh's release/stage/imdswatch-VERSION-linux-ARCH):
# the tree under /opt/imdswatch, /usr/bin/imdswatch, the unit in /lib/systemd/system, the
# boot-watch generator in /lib/systemd/system-generators (docs/design.md#boot-watch), the
# logrotate snippet; the imdswatch user made by postinst, the service enabled (and
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
rm -rf "$p"; mkdir -p "$p/DEBIAN" "$p/opt" "$p/usr/bin" "$p/lib/systemd/system" "$p/lib/systemd/system-generators" "$p/etc/logrotate.d"
cp -a "$tree" "$p/opt/imdswatch"
ln -s /opt/imdswatch/bin/imdswatch "$p/usr/bin/imdswatch"
gen=/lib/systemd/system-generators/imdswatch-generator
packaging/package-unit.sh /usr/bin/imdswatch "$gen" <systemd/imdswatch.service >"$p/lib/systemd/system/imdswatch.service"
install -m 0755 systemd/imdswatch-generator "$p$gen"
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
for s in preinst postinst prerm postrm; do
  sed -e '/^#COMMON#$/r packaging/maintainer/common.sh' -e '/^#COMMON#$/d' "packaging/maintainer/$s" >"$p/DEBIAN/$s"
  chmod 0755 "$p/DEBIAN/$s"
done
out=release/imdswatch_${VERSION}_$deb_arch.deb
dpkg-deb --root-owner-group -Zgzip --build "$p" "$out" >/dev/null
# /opt is not ours: without its entry in data.tar dpkg never lists it among the package's
# directories, so a purge does not try to remove it ("directory '/opt' not empty so not
# removed" when other software lives there). preinst makes sure it exists.
rp=$(mktemp -d)
members=$(ar t "$out" | tr '\n' ' ')
[[ $members == "debian-binary control.tar."*" data.tar.gz " ]] || { echo "build-deb: unexpected members: $members" >&2; exit 1; }
(cd "$rp" && ar x "$OLDPWD/$out" && gunzip data.tar.gz && tar --delete --no-recursion -f data.tar ./opt/ && gzip -9n data.tar &&
  rm -f "$OLDPWD/$out" && ar rc "$OLDPWD/$out" $members)
rm -rf "$rp"
echo "build-deb: $out ($(du -h "$out" | cut -f1))"
