# shared by the .deb maintainer scripts and the .rpm scriptlets (inlined at build time)
IMDSWATCH_UNIT=imdswatch.service
IMDSWATCH_WANTS=/etc/systemd/system/sysinit.target.wants/imdswatch.service
imdswatch_systemd_running() { [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; }
imdswatch_add_user() {
  # readers of the metrics socket (README "Security")
  getent group imdswatch-metrics >/dev/null || groupadd --system imdswatch-metrics
  getent passwd imdswatch >/dev/null && return 0
  nologin=/usr/sbin/nologin; [ -x $nologin ] || nologin=/sbin/nologin
  useradd --system --no-create-home --home-dir /nonexistent --shell $nologin \
    --user-group --comment "imdswatch IMDSv1 detector" imdswatch
}
imdswatch_enable() {
  # the link `systemctl enable` makes (WantedBy=sysinit.target), by hand so that it
  # also works in a chroot or image build without systemd
  mkdir -p "${IMDSWATCH_WANTS%/*}"
  ln -sfn "$1" "$IMDSWATCH_WANTS"
  if imdswatch_systemd_running; then
    systemctl daemon-reload || true
    if systemctl is-active --quiet $IMDSWATCH_UNIT; then systemctl restart $IMDSWATCH_UNIT || true
    else systemctl start $IMDSWATCH_UNIT || true; fi
  fi
}
imdswatch_stop() {
  if imdswatch_systemd_running; then systemctl stop $IMDSWATCH_UNIT 2>/dev/null || true; fi
  # the gate's rules and the boot watch's counting chain (docs/design.md#boot-watch)
  /opt/imdswatch/bin/imdswatch gate --remove >/dev/null 2>&1 || true
}
imdswatch_forget() {
  # /opt is an FHS directory no Debian package owns: dpkg drops it with our last file
  [ -d /opt ] || mkdir -m 0755 /opt
  rm -f "$IMDSWATCH_WANTS"
  rmdir "${IMDSWATCH_WANTS%/*}" 2>/dev/null || true
  if imdswatch_systemd_running; then systemctl daemon-reload || true; systemctl reset-failed $IMDSWATCH_UNIT 2>/dev/null || true; fi
  # what is kept (logs, state) must not belong to the uid about to be deleted
  for d in /var/log/imdswatch /var/lib/imdswatch; do [ -d "$d" ] && chown -R root:root "$d" 2>/dev/null || true; done
  getent passwd imdswatch >/dev/null && userdel imdswatch 2>/dev/null || true
  getent group imdswatch >/dev/null && groupdel imdswatch 2>/dev/null || true
  getent group imdswatch-metrics >/dev/null && groupdel imdswatch-metrics 2>/dev/null || true
}
imdswatch_purge() { rm -rf /var/log/imdswatch /var/lib/imdswatch /etc/imdswatch; }
