#!/usr/bin/env bash
# .rpm of a release tree, with Debian's rpmbuild: the same layout and scriptlets as the
# .deb (packaging/maintainer/common.sh). rpm has no purge: erase removes every file,
# rule and the user, and keeps /var/log/imdswatch and /var/lib/imdswatch. The generator
# directory is co-owned (%dir) with systemd: rpm -e removes it only where it left it empty.
#   packaging/build-rpm.sh ARCH(x64|arm64)
set -euo pipefail
cd "$(dirname "$0")/.."
arch=$1
case $arch in x64) rpm_arch=x86_64 ;; arm64) rpm_arch=aarch64 ;; *) echo "build-rpm: arch x64 or arm64" >&2; exit 2 ;; esac
command -v rpmbuild >/dev/null || { echo "build-rpm: rpmbuild is missing (apt-get install rpm)" >&2; exit 2; }
VERSION=$(node -p 'require("./package.json").version')
REPO=$PWD
tree=$REPO/release/stage/imdswatch-$VERSION-linux-$arch
[[ -x $tree/bin/imdswatch ]] || { echo "build-rpm: $tree is missing: run packaging/build-release.sh first" >&2; exit 2; }
top=$REPO/release/stage/rpm-$rpm_arch
rm -rf "$top"; mkdir -p "$top/SPECS" "$top/RPMS" "$top/BUILD" "$top/extra"
packaging/package-unit.sh /usr/bin/imdswatch /usr/lib/systemd/system-generators/imdswatch-generator <systemd/imdswatch.service >"$top/extra/imdswatch.service"
common=$(cat packaging/maintainer/common.sh)
cat >"$top/SPECS/imdswatch.spec" <<EOS
%global debug_package %{nil}
%global __os_install_post %{nil}
%global _build_id_links none
Name: imdswatch
Version: $VERSION
Release: 1
Summary: Find software that calls EC2 IMDS without a token (IMDSv1)
License: Apache-2.0 AND MIT AND BSD-3-Clause
URL: https://github.com/imdswatch/imdswatch
AutoReqProv: no
Requires: shadow-utils

%description
A daemon that watches calls to the EC2 Instance Metadata Service and attributes each
IMDSv1 call to its process, container and systemd unit. Self-contained: Node.js and
libpcap are bundled under /opt/imdswatch.

%install
mkdir -p %{buildroot}/opt %{buildroot}/usr/bin %{buildroot}/usr/lib/systemd/system %{buildroot}/usr/lib/systemd/system-generators %{buildroot}/etc/logrotate.d
cp -a $tree %{buildroot}/opt/imdswatch
ln -s /opt/imdswatch/bin/imdswatch %{buildroot}/usr/bin/imdswatch
install -m 0644 $top/extra/imdswatch.service %{buildroot}/usr/lib/systemd/system/imdswatch.service
install -m 0755 $REPO/systemd/imdswatch-generator %{buildroot}/usr/lib/systemd/system-generators/imdswatch-generator
install -m 0644 $REPO/systemd/imdswatch.logrotate %{buildroot}/etc/logrotate.d/imdswatch

%files
%defattr(-,root,root,-)
/opt/imdswatch
/usr/bin/imdswatch
/usr/lib/systemd/system/imdswatch.service
%dir /usr/lib/systemd/system-generators
/usr/lib/systemd/system-generators/imdswatch-generator
%config(noreplace) /etc/logrotate.d/imdswatch

%post
$common
imdswatch_add_user
imdswatch_enable /usr/lib/systemd/system/imdswatch.service

%preun
$common
if [ "\$1" -eq 0 ]; then imdswatch_stop; fi

%postun
$common
if [ "\$1" -eq 0 ]; then imdswatch_forget; fi
EOS
rpmbuild --quiet -bb --target "$rpm_arch-linux" --define "_topdir $top" --define "_rpmdir $top/RPMS" \
  --define '_binary_payload w6.gzdio' "$top/SPECS/imdswatch.spec" >/dev/null 2>"$top/rpmbuild.log" ||
  { cat "$top/rpmbuild.log" >&2; exit 1; }
out=$REPO/release/imdswatch-$VERSION-1.$rpm_arch.rpm
mv "$top/RPMS/$rpm_arch/imdswatch-$VERSION-1.$rpm_arch.rpm" "$out"
echo "build-rpm: $out ($(du -h "$out" | cut -f1))"
