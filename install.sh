#!/usr/bin/env bash
# install.sh: install (or remove) imdswatch as a hardened systemd service.
#
#   sudo ./install.sh                 install, enable and start
#   sudo ./install.sh --no-start      install and enable for the next boot only
#   sudo ./install.sh --uninstall     remove everything except the logs
#   sudo ./install.sh --uninstall --purge   ... and the logs and state
#   sudo imdswatch uninstall [--purge]      the same once installed: this script is
#                                           kept as PREFIX/install.sh
#
# Idempotent: running it again upgrades in place. Never half-installed: every
# change is recorded and undone, newest first, if a later step fails.
set -Eeuo pipefail
umask 022

SELF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly SELF_DIR
readonly MIN_NODE_MAJOR=20
readonly DEFAULT_BINDIR=/usr/local/bin
readonly DEFAULT_SYSTEMD_DIR=/etc/systemd/system

PREFIX=/opt/imdswatch
BINDIR=$DEFAULT_BINDIR
SYSTEMD_DIR=$DEFAULT_SYSTEMD_DIR
LOGROTATE_DIR=/etc/logrotate.d
LOG_DIR=/var/log/imdswatch
STATE_DIR=/var/lib/imdswatch
CONFIG_DIR=/etc/imdswatch
GENERATOR_DIR=
SVC_USER=imdswatch
# readers of the metrics socket (--metrics-socket; src/service/metrics-server.ts DEFAULT_METRICS_GROUP)
METRICS_GROUP=imdswatch-metrics
SRC_DIR=$SELF_DIR
NODE_BIN=
MODE=install
START=1
PURGE=0
PACKAGES=1
INSTALL_FIREWALL=0
UNIT=imdswatch.service

usage() {
  cat <<EOF
Usage: install.sh [options]
       install.sh --uninstall [--purge] [options]

Installs imdswatch under PREFIX, a command in BINDIR, the system user, the
systemd unit (enabled for boot: WantedBy=sysinit.target), its boot-watch generator
and a logrotate snippet (when logrotate is present), then starts the service.
The installed command uninstalls too: imdswatch uninstall [--purge].

Options:
  --prefix DIR         application directory            (default /opt/imdswatch)
  --bindir DIR         where the imdswatch command goes (default $DEFAULT_BINDIR)
  --systemd-dir DIR    where the unit goes              (default $DEFAULT_SYSTEMD_DIR)
  --generator-dir DIR  where the boot-watch generator goes
                       (default: system-generators beside the systemd dir,
                       /etc/systemd/system-generators)
  --logrotate-dir DIR  where the logrotate snippet goes (default /etc/logrotate.d)
  --log-dir DIR        log directory, removed by --purge (default /var/log/imdswatch)
  --state-dir DIR      state directory, removed by --purge (default /var/lib/imdswatch)
  --config-dir DIR     daemon configuration (config.json), removed by --purge
                       (default /etc/imdswatch; install.sh does not create it)
  --user NAME          service user                      (default imdswatch)
  --metrics-group NAME group that may read the metrics socket (default imdswatch-metrics)
  --node PATH          Node.js >= $MIN_NODE_MAJOR to run with (default: node on PATH)
  --from DIR           built source tree (default: this script's directory);
                       it needs dist/ (npm ci && npm run build) and node_modules/
  --no-start           enable for the next boot, but do not start now
  --no-packages        do not install system packages (libpcap, iptables)
  --install-firewall   if neither iptables nor nft is present, install iptables
                       (the gate needs one of them; without it imdswatch watches
                       passively). Never done without this flag.
  --uninstall          stop, disable and remove everything, firewall rules included;
                       keeps logs and state unless --purge
  --purge              with --uninstall: also remove logs and state
  -h, --help           this text

Must run as root. IMDSWATCH_INSTALL_FAIL_AT=STEP makes step STEP fail (for
testing the rollback); steps: packages user app wrapper unit generator logrotate
enable start.
EOF
}

say() { printf 'imdswatch install: %s\n' "$*"; }
warn() { printf 'imdswatch install: warning: %s\n' "$*" >&2; }
die() { printf 'imdswatch install: error: %s\n' "$*" >&2; exit 2; }

need_arg() { [[ $# -ge 2 && -n $2 ]] || die "$1 needs a value (see --help)"; }

while [[ $# -gt 0 ]]; do
  case $1 in
    --prefix) need_arg "$@"; PREFIX=$2; shift 2 ;;
    --bindir) need_arg "$@"; BINDIR=$2; shift 2 ;;
    --systemd-dir) need_arg "$@"; SYSTEMD_DIR=$2; shift 2 ;;
    --logrotate-dir) need_arg "$@"; LOGROTATE_DIR=$2; shift 2 ;;
    --log-dir) need_arg "$@"; LOG_DIR=$2; shift 2 ;;
    --state-dir) need_arg "$@"; STATE_DIR=$2; shift 2 ;;
    --config-dir) need_arg "$@"; CONFIG_DIR=$2; shift 2 ;;
    --generator-dir) need_arg "$@"; GENERATOR_DIR=$2; shift 2 ;;
    --user) need_arg "$@"; SVC_USER=$2; shift 2 ;;
    --metrics-group) need_arg "$@"; METRICS_GROUP=$2; shift 2 ;;
    --node) need_arg "$@"; NODE_BIN=$2; shift 2 ;;
    --from) need_arg "$@"; SRC_DIR=$2; shift 2 ;;
    --no-start) START=0; shift ;;
    --no-packages) PACKAGES=0; shift ;;
    --install-firewall) INSTALL_FIREWALL=1; shift ;;
    --uninstall) MODE=uninstall; shift ;;
    --purge) PURGE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) printf 'imdswatch install: error: unknown option %s\n\n' "$1" >&2; usage >&2; exit 2 ;;
  esac
done

[[ $PURGE -eq 0 || $MODE == uninstall ]] || die "--purge only goes with --uninstall"
[[ -n $GENERATOR_DIR ]] || GENERATOR_DIR="$(dirname "$SYSTEMD_DIR")/system-generators"
for d in "$PREFIX" "$BINDIR" "$SYSTEMD_DIR" "$LOGROTATE_DIR" "$LOG_DIR" "$STATE_DIR" "$CONFIG_DIR" "$GENERATOR_DIR"; do
  [[ $d == /* && $d != / ]] || die "directories must be absolute and not /: $d"
done
[[ $SVC_USER =~ ^[a-z_][a-z0-9_-]{0,30}$ ]] || die "bad user name: $SVC_USER"

[[ $EUID -eq 0 ]] || die "must run as root (try: sudo $0 $*)"

readonly WRAPPER="$BINDIR/imdswatch"
readonly UNIT_PATH="$SYSTEMD_DIR/$UNIT"
readonly WANTS_LINK="$SYSTEMD_DIR/sysinit.target.wants/$UNIT"
readonly LOGROTATE_PATH="$LOGROTATE_DIR/imdswatch"
readonly GENERATOR="imdswatch-generator"
readonly GENERATOR_PATH="$GENERATOR_DIR/$GENERATOR"

# systemd is managing this machine (not a container without it, not a chroot).
systemd_running() { [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; }
# Only talk to systemd about units it can see.
systemd_owns_unit_dir() { systemd_running && [[ $SYSTEMD_DIR == "$DEFAULT_SYSTEMD_DIR" ]]; }
pid1_name() { cat /proc/1/comm 2>/dev/null || echo unknown; }

# ---------------------------------------------------------------------------
# Transaction: each step that changes something pushes its undo command. On any
# error the undo commands run newest first, then the script exits 1.
UNDO=()
CLEANUP=()
IN_TRANSACTION=0
push_undo() { UNDO+=("$1"); }
# EXIT trap: any non-zero exit inside the transaction (a failed command under
# set -e, die, an interrupt) rolls back.
on_exit() {
  local rc=$?
  [[ $IN_TRANSACTION -eq 1 && $rc -ne 0 ]] || return 0
  rollback "$rc"
}
rollback() {
  local rc=$1 i c
  IN_TRANSACTION=0
  set +e
  warn "step '${CURRENT_STEP:-?}' failed (exit $rc); rolling back"
  for ((i = ${#UNDO[@]} - 1; i >= 0; i--)); do
    eval "${UNDO[i]}" >/dev/null 2>&1 || warn "undo failed: ${UNDO[i]}"
  done
  for c in "${CLEANUP[@]}"; do eval "$c" >/dev/null 2>&1; done
  warn "rolled back: the system is as it was before this run"
  exit 1
}
commit() {
  local c
  for c in "${CLEANUP[@]}"; do eval "$c" >/dev/null 2>&1 || true; done
  UNDO=(); CLEANUP=()
}

step() {
  CURRENT_STEP=$1
  if [[ ${IMDSWATCH_INSTALL_FAIL_AT:-} == "$1" ]]; then
    warn "IMDSWATCH_INSTALL_FAIL_AT=$1: failing on purpose"
    false
  fi
}

# Put FILE (a finished temp file) at DEST; remember how to restore what was there.
place_file() {
  local tmp=$1 dest=$2 mode=$3
  chmod "$mode" "$tmp"
  if [[ -e $dest || -L $dest ]]; then
    if cmp -s "$tmp" "$dest"; then rm -f "$tmp"; return 0; fi
    local bak="$dest.imdswatch-bak.$$"
    mv -f "$dest" "$bak"
    push_undo "mv -f $(printf %q "$bak") $(printf %q "$dest")"
    CLEANUP+=("rm -f $(printf %q "$bak")")
  else
    push_undo "rm -f $(printf %q "$dest")"
  fi
  mv -f "$tmp" "$dest"
  CHANGED=1
}

# a temporary file in DIR (made, and recorded for undo, when missing), removed on failure: sets
# the caller's `tmp` (declare `local tmp` first)
new_temp() {
  mkdir_recorded "$1"
  tmp=$(mktemp "$1/.imdswatch.XXXXXX")
  CLEANUP+=("rm -f $(printf %q "$tmp")")
}

mkdir_recorded() {
  local d=$1 missing=() p
  p=$d
  while [[ ! -d $p ]]; do missing+=("$p"); p=$(dirname "$p"); done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  mkdir -p "$d"
  # Undo runs newest first: push the shallowest first so the deepest is removed
  # first (rmdir: only if empty).
  local i
  for ((i = ${#missing[@]} - 1; i >= 0; i--)); do push_undo "rmdir $(printf %q "${missing[i]}")"; done
}

# ---------------------------------------------------------------------------
# A release tree (packaging/build-release.sh) carries its own Node.js and a libpcap
# linked into the capture addon: the host then needs neither.
is_release_tree() { [[ -f $SRC_DIR/RELEASE && -x $SRC_DIR/node/bin/node ]]; }

resolve_node() {
  if [[ -z $NODE_BIN ]] && is_release_tree; then
    NODE_BIN=$SRC_DIR/node/bin/node
  fi
  if [[ -z $NODE_BIN ]]; then
    NODE_BIN=$(command -v node || true)
    [[ -n $NODE_BIN ]] || die "Node.js >= $MIN_NODE_MAJOR is required but 'node' is not on PATH (install it, or pass --node PATH)"
  fi
  [[ -x $NODE_BIN ]] || die "--node $NODE_BIN is not an executable file"
  [[ $NODE_BIN == /* ]] || NODE_BIN="$(cd "$(dirname "$NODE_BIN")" && pwd)/$(basename "$NODE_BIN")"
  local v major
  v=$("$NODE_BIN" --version 2>/dev/null || true)
  major=${v#v}; major=${major%%.*}
  [[ $major =~ ^[0-9]+$ ]] || die "cannot tell the version of $NODE_BIN (got '${v}')"
  ((major >= MIN_NODE_MAJOR)) || die "Node.js $v at $NODE_BIN is too old: imdswatch needs >= $MIN_NODE_MAJOR (install a newer nodejs, or pass --node PATH)"
  NODE_VERSION=$v
  # the bundled node runs from where the application is installed (a copy under PREFIX):
  # the unpacked folder may be anywhere, /root or a user's home included
  if is_release_tree && [[ $NODE_BIN == "$SRC_DIR/node/bin/node" ]]; then NODE_BIN=$PREFIX/node/bin/node; fi
  # what the service runs must be outside the homes it cannot see
  local where
  for where in "$NODE_BIN" "$PREFIX/"; do
    case $where in
      /home/*|/root/*|/run/user/*)
        die "$where is inside a home directory, which the service cannot see (ProtectHome=yes); install Node.js system-wide (e.g. /usr/bin/node) or pass --node, and keep --prefix outside /home, /root and /run/user" ;;
    esac
  done
}

check_source() {
  [[ -f $SRC_DIR/dist/cli/main.js ]] || die "$SRC_DIR/dist/cli/main.js is missing: build first (npm ci && npm run build)"
  [[ -f $SRC_DIR/package.json ]] || die "$SRC_DIR/package.json is missing"
  [[ -f $SRC_DIR/systemd/$UNIT ]] || die "$SRC_DIR/systemd/$UNIT is missing"
  [[ -f $SRC_DIR/systemd/$GENERATOR ]] || die "$SRC_DIR/systemd/$GENERATOR is missing"
  [[ -d $SRC_DIR/node_modules ]] || die "$SRC_DIR/node_modules is missing: run npm ci first"
}

# ---------------------------------------------------------------------------
missing_packages() {
  local pkgs=() cache
  # no `ldconfig -p | grep -q` under pipefail: grep exits at the first match, ldconfig then
  # dies of SIGPIPE and the pipeline "fails" (libpcap looked missing in 6-7 of 300 runs)
  cache=$(ldconfig -p 2>/dev/null || true)
  if ! is_release_tree && [[ $cache != *libpcap.so.0.8* && $cache != *libpcap.so.1* ]]; then pkgs+=(libpcap); fi
  if ! command -v iptables >/dev/null && ! command -v nft >/dev/null; then
    if [[ $INSTALL_FIREWALL -eq 1 ]]; then
      pkgs+=(iptables)
    else
      warn "neither iptables nor nft is installed: the gate (which holds each IMDSv1 call until its caller is known) stays off and imdswatch watches passively; rerun with --install-firewall to install iptables"
    fi
  fi
  printf '%s\n' "${pkgs[@]}"
}

# the package manager of this host, and its name for a package
package_manager() {
  local m
  for m in apt-get dnf yum zypper; do
    if command -v "$m" >/dev/null; then echo "$m"; return 0; fi
  done
  return 1
}
package_name() {
  case $1:$2 in
    apt-get:libpcap) echo libpcap0.8 ;;
    *) echo "$2" ;;
  esac
}
package_installed() {
  local st
  case $1 in
    apt-get)
      st=$(dpkg-query -W -f='${Status}' "$2" 2>/dev/null || true)
      [[ $st == "install ok installed" ]] ;;
    *) rpm -q "$2" >/dev/null 2>&1 ;;
  esac
}

do_packages() {
  step packages
  [[ $PACKAGES -eq 1 ]] || { say "skipping system packages (--no-packages)"; return 0; }
  local wanted pm
  mapfile -t wanted < <(missing_packages | sed '/^$/d')
  if [[ ${#wanted[@]} -eq 0 ]]; then say "system packages: nothing to install"; return 0; fi
  pm=$(package_manager) || die "missing ${wanted[*]} and no apt-get, dnf, yum or zypper: install them with your package manager, then rerun"
  local pkgs=() new=() p n
  for p in "${wanted[@]}"; do
    n=$(package_name "$pm" "$p")
    pkgs+=("$n")
    # an installer may only undo what it did: the rollback removes only the packages
    # that were not installed before this run
    package_installed "$pm" "$n" || new+=("$n")
  done
  say "installing ${pkgs[*]} ($pm)"
  case $pm in
    apt-get) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" </dev/null ;;
    dnf|yum) "$pm" install -y -q "${pkgs[@]}" </dev/null ;;
    zypper) zypper --non-interactive --quiet install "${pkgs[@]}" </dev/null ;;
  esac
  if [[ ${#new[@]} -gt 0 ]]; then
    case $pm in
      apt-get) push_undo "DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq ${new[*]} </dev/null" ;;
      dnf|yum) push_undo "$pm remove -y -q ${new[*]} </dev/null" ;;
      zypper) push_undo "zypper --non-interactive --quiet remove ${new[*]} </dev/null" ;;
    esac
  fi
}

do_user() {
  step user
  # the metrics socket's readers (README "Security"): empty until an admin adds a collector
  if ! getent group "$METRICS_GROUP" >/dev/null; then
    groupadd --system "$METRICS_GROUP"
    push_undo "groupdel $(printf %q "$METRICS_GROUP")"
    say "created group $METRICS_GROUP (members may read the metrics socket)"
  fi
  if getent passwd "$SVC_USER" >/dev/null; then say "user $SVC_USER exists"; return 0; fi
  local nologin=/usr/sbin/nologin
  [[ -x $nologin ]] || nologin=/sbin/nologin
  useradd --system --no-create-home --home-dir /nonexistent --shell "$nologin" \
    --user-group --comment "imdswatch IMDSv1 detector" "$SVC_USER"
  push_undo "userdel $(printf %q "$SVC_USER")"
  say "created system user $SVC_USER"
}

# Without npm: drop what package-lock.json marks as development-only ("dev": true),
# which is what `npm prune --omit=dev` removes (79 MB of node_modules -> 8.8 MB).
prune_dev_by_lock() {
  local dir=$1
  "$NODE_BIN" - "$dir" <<'JS'
const fs = require('fs'), path = require('path');
const dir = process.argv[2];
const lock = JSON.parse(fs.readFileSync(path.join(dir, 'package-lock.json'), 'utf8'));
let n = 0;
for (const [key, meta] of Object.entries(lock.packages ?? {})) {
  if (!key.startsWith('node_modules/') || !meta.dev) continue;
  const p = path.join(dir, key);
  if (!path.resolve(p).startsWith(path.resolve(dir, 'node_modules') + path.sep)) continue;
  if (fs.existsSync(p)) { fs.rmSync(p, { recursive: true, force: true }); n++; }
}
for (const e of fs.readdirSync(path.join(dir, 'node_modules'))) {  // scopes left empty
  const p = path.join(dir, 'node_modules', e);
  if (e.startsWith('@') && fs.readdirSync(p).length === 0) fs.rmdirSync(p);
}
const bin = path.join(dir, 'node_modules/.bin');
if (fs.existsSync(bin)) {  // links into packages that are gone
  for (const l of fs.readdirSync(bin)) { const f = path.join(bin, l); if (!fs.existsSync(f)) fs.rmSync(f, { force: true }); }
}
console.log(n);
JS
}

do_app() {
  step app
  local parent stage
  parent=$(dirname "$PREFIX")
  mkdir_recorded "$parent"
  stage=$(mktemp -d "$parent/.imdswatch-new.XXXXXX")
  CLEANUP+=("rm -rf $(printf %q "$stage")")
  cp -a "$SRC_DIR/dist" "$SRC_DIR/package.json" "$stage/"
  # the sock_diag addon (fast socket lookup; without it the correlator reads /proc/net/tcp)
  if [[ -f $SRC_DIR/native/sockdiag/build/Release/sockdiag.node ]]; then
    mkdir -p "$stage/native/sockdiag/build/Release"
    cp -a "$SRC_DIR/native/sockdiag/build/Release/sockdiag.node" "$stage/native/sockdiag/build/Release/"
  fi
  # a release tree: its Node.js, command, licences and build description
  local extra
  for extra in node bin licenses RELEASE LICENSE; do
    if is_release_tree && [[ -e $SRC_DIR/$extra ]]; then cp -a "$SRC_DIR/$extra" "$stage/"; fi
  done
  if [[ -f $SRC_DIR/package-lock.json ]]; then cp -a "$SRC_DIR/package-lock.json" "$stage/"; fi
  # kept on the host: `imdswatch uninstall` runs it once the unpacked folder is gone
  cp "$SELF_DIR/install.sh" "$stage/install.sh"
  cp -a "$SRC_DIR/node_modules" "$stage/"
  if is_release_tree; then
    : # built with production packages only
  elif command -v npm >/dev/null; then
    (cd "$stage" && npm prune --omit=dev --offline --no-audit --no-fund --loglevel=error >/dev/null)
  elif [[ -f $stage/package-lock.json ]]; then
    local n; n=$(prune_dev_by_lock "$stage")
    say "npm not found: removed $n development packages listed in package-lock.json"
  else
    warn "npm and package-lock.json not found: installing node_modules as they are"
  fi
  # The app is code: root-owned, world-readable, not writable by the service.
  chown -R root:root "$stage"
  chmod -R u=rwX,go=rX "$stage"
  # Nothing changed (a configuration-management rerun): keep the running version, so
  # the service is not restarted for nothing.
  if [[ -d $PREFIX ]] && diff -r --no-dereference -q "$stage" "$PREFIX" >/dev/null 2>&1; then
    say "application in $PREFIX unchanged"
    return 0
  fi
  if [[ -d $PREFIX ]]; then
    local old="$PREFIX.imdswatch-old.$$"
    mv "$PREFIX" "$old"
    push_undo "rm -rf $(printf %q "$PREFIX"); mv $(printf %q "$old") $(printf %q "$PREFIX")"
    CLEANUP+=("rm -rf $(printf %q "$old")")
  else
    push_undo "rm -rf $(printf %q "$PREFIX")"
  fi
  mv "$stage" "$PREFIX"
  CHANGED=1
  say "installed the application in $PREFIX"
}

do_wrapper() {
  step wrapper
  local tmp; new_temp "$BINDIR"
  # `imdswatch uninstall [--purge]`: the kept installer, with this installation's layout
  local layout
  layout=$(printf ' %q' --prefix "$PREFIX" --bindir "$BINDIR" --systemd-dir "$SYSTEMD_DIR" \
    --generator-dir "$GENERATOR_DIR" --logrotate-dir "$LOGROTATE_DIR" --log-dir "$LOG_DIR" \
    --state-dir "$STATE_DIR" --config-dir "$CONFIG_DIR" --user "$SVC_USER" --metrics-group "$METRICS_GROUP")
  cat >"$tmp" <<EOF
#!/bin/sh
# installed by imdswatch install.sh
if [ "\${1:-}" = uninstall ]; then
  shift
  exec /bin/bash $(printf %q "$PREFIX/install.sh") --uninstall$layout "\$@"
fi
exec $(printf %q "$NODE_BIN") $(printf %q "$PREFIX/dist/cli/main.js") "\$@"
EOF
  place_file "$tmp" "$WRAPPER" 0755
  say "command: $WRAPPER (Node.js $NODE_VERSION at $NODE_BIN)"
}

do_unit() {
  step unit
  local tmp; new_temp "$SYSTEMD_DIR"
  sed -e "s#/usr/local/bin/imdswatch#$WRAPPER#g" \
      -e "s#/usr/lib/systemd/system-generators/imdswatch-generator#$GENERATOR_PATH#g" \
      -e "s#^User=imdswatch\$#User=$SVC_USER#" \
      -e "s#^Group=imdswatch\$#Group=$SVC_USER#" \
      "$SRC_DIR/systemd/$UNIT" >"$tmp"
  place_file "$tmp" "$UNIT_PATH" 0644
  say "unit: $UNIT_PATH"
}

# The boot watch (docs/design.md#boot-watch): a generator systemd runs before any unit
# of a boot; it arms a chain that counts IMDS SYNs until the daemon watches.
do_generator() {
  step generator
  local tmp; new_temp "$GENERATOR_DIR"
  sed -e "s#^WANTS=\\\${IMDSWATCH_WANTS:-/etc/systemd/system/sysinit.target.wants/imdswatch.service}\$#WANTS=\\\${IMDSWATCH_WANTS:-$WANTS_LINK}#" \
    "$SRC_DIR/systemd/$GENERATOR" >"$tmp"
  place_file "$tmp" "$GENERATOR_PATH" 0755
  say "boot watch generator: $GENERATOR_PATH"
}

do_logrotate() {
  step logrotate
  if ! command -v logrotate >/dev/null && [[ $LOGROTATE_DIR == /etc/logrotate.d ]]; then
    say "logrotate not installed: skipping the logrotate snippet"
    return 0
  fi
  local tmp; new_temp "$LOGROTATE_DIR"
  sed -e "s#/var/log/imdswatch#$LOG_DIR#g" \
      -e "s#^\\( *su \\)imdswatch imdswatch#\\1$SVC_USER $SVC_USER#" \
      "$SRC_DIR/systemd/imdswatch.logrotate" >"$tmp"
  place_file "$tmp" "$LOGROTATE_PATH" 0644
  say "logrotate: $LOGROTATE_PATH"
}

# Enabling = the symlink `systemctl enable` makes for WantedBy=sysinit.target.
# Made by hand so that it works the same without a running systemd (chroot,
# image build, container) and with --systemd-dir.
do_enable() {
  step enable
  mkdir_recorded "$(dirname "$WANTS_LINK")"
  if [[ -L $WANTS_LINK && $(readlink "$WANTS_LINK") == "$UNIT_PATH" ]]; then
    say "already enabled for boot"
  else
    if [[ -e $WANTS_LINK || -L $WANTS_LINK ]]; then
      local old; old=$(readlink "$WANTS_LINK" || true)
      push_undo "ln -sfn $(printf %q "$old") $(printf %q "$WANTS_LINK")"
    else
      push_undo "rm -f $(printf %q "$WANTS_LINK")"
    fi
    ln -sfn "$UNIT_PATH" "$WANTS_LINK"
    say "enabled for boot ($WANTS_LINK)"
  fi
  if systemd_owns_unit_dir; then
    systemctl daemon-reload
    push_undo "systemctl daemon-reload"
  fi
}

do_start() {
  step start
  if [[ $START -eq 0 ]]; then
    say "not starting now (--no-start): the service starts at the next boot"
    return 0
  fi
  if ! systemd_owns_unit_dir; then
    if systemd_running; then
      say "not starting: the unit is in $SYSTEMD_DIR, which systemd does not read"
    else
      say "not starting: systemd is not running here (PID 1 is '$(pid1_name)'); the service starts at the next boot under systemd"
    fi
    return 0
  fi
  if systemctl is-active --quiet "$UNIT"; then
    if [[ ${CHANGED:-0} -eq 1 ]]; then
      push_undo "systemctl restart $UNIT"
      systemctl restart "$UNIT"
      say "restarted $UNIT with the new version"
    else
      say "$UNIT is running; nothing changed, so it was not restarted"
    fi
  else
    push_undo "systemctl stop $UNIT"
    systemctl start "$UNIT"
    say "started $UNIT"
  fi
}

install_main() {
  resolve_node
  check_source
  CHANGED=0
  IN_TRANSACTION=1
  trap on_exit EXIT
  trap 'exit 130' INT TERM HUP
  do_packages
  do_user
  do_app
  do_wrapper
  do_unit
  do_generator
  do_logrotate
  do_enable
  do_start
  IN_TRANSACTION=0
  commit
  if [[ $CHANGED -eq 0 ]]; then say "nothing changed: already installed"; fi
  say "done. Check it with: $WRAPPER doctor (remove it with: $WRAPPER uninstall [--purge])"
}

# ---------------------------------------------------------------------------
# Uninstall: best effort, keeps going, says what it could not do.
remove_gate_rules() {
  if [[ -x $WRAPPER ]] && "$WRAPPER" gate --remove >/dev/null 2>&1; then
    say "removed the gate's firewall rules"
    return 0
  fi
  # Fallback without the application: the gate's rules live in chains named
  # IMDSWATCH (iptables/ip6tables) or a table named imdswatch (nftables).
  local ipt table
  for ipt in iptables ip6tables; do
    command -v "$ipt" >/dev/null || continue
    for table in mangle raw filter; do
      local rules
      # IMDSWATCH: the gate; IMDSWATCH-EARLY: the boot watch (docs/design.md#boot-watch)
      rules=$("$ipt" -w -t "$table" -S 2>/dev/null | grep -E -e '-j IMDSWATCH(-EARLY(-FWD)?)?$' | sed 's/^-A /-D /' || true)
      while read -r -a rule; do
        if [[ ${#rule[@]} -gt 0 ]]; then "$ipt" -w -t "$table" "${rule[@]}" 2>/dev/null || true; fi
      done <<<"$rules"
      local chain
      for chain in IMDSWATCH IMDSWATCH-EARLY IMDSWATCH-EARLY-FWD; do
        if "$ipt" -w -t "$table" -nL "$chain" >/dev/null 2>&1; then
          "$ipt" -w -t "$table" -F "$chain" 2>/dev/null || true
          "$ipt" -w -t "$table" -X "$chain" 2>/dev/null || true
        fi
      done
    done
  done
  if command -v nft >/dev/null; then
    local fam
    for fam in inet ip ip6; do
      nft list table "$fam" imdswatch >/dev/null 2>&1 && nft delete table "$fam" imdswatch 2>/dev/null || true
    done
  fi
  say "removed any leftover gate firewall rules"
}

uninstall_main() {
  if systemd_owns_unit_dir && [[ -e $UNIT_PATH ]]; then
    systemctl disable --now "$UNIT" >/dev/null 2>&1 || warn "could not stop/disable $UNIT"
    say "stopped and disabled $UNIT"
  fi
  # the generator first: a daemon-reload must not arm the boot watch again
  rm -f "$GENERATOR_PATH"
  rmdir "$GENERATOR_DIR" 2>/dev/null || true
  remove_gate_rules
  rm -f "$WANTS_LINK"
  rmdir "$(dirname "$WANTS_LINK")" 2>/dev/null || true
  rm -f "$UNIT_PATH"
  if systemd_owns_unit_dir; then systemctl daemon-reload || true; systemctl reset-failed "$UNIT" 2>/dev/null || true; fi
  rm -f "$WRAPPER" "$LOGROTATE_PATH"
  rm -rf "$PREFIX"
  local kept=() d what
  if [[ $PURGE -eq 1 ]]; then
    rm -rf "$LOG_DIR" "$STATE_DIR" "$CONFIG_DIR"
    say "removed logs, state and configuration ($LOG_DIR, $STATE_DIR, $CONFIG_DIR)"
  else
    for d in "$LOG_DIR:logs" "$STATE_DIR:state" "$CONFIG_DIR:configuration"; do
      what=${d##*:}; d=${d%:*}
      [[ -d $d ]] && kept+=("$d ($what)")
    done
  fi
  # what is kept must not belong to the uid about to be deleted (a later user would get it)
  for d in "$LOG_DIR" "$STATE_DIR" "$CONFIG_DIR"; do
    if [[ -d $d ]]; then chown -R root:root "$d" 2>/dev/null || warn "could not give $d to root"; fi
  done
  if getent passwd "$SVC_USER" >/dev/null; then
    userdel "$SVC_USER" 2>/dev/null || warn "could not remove user $SVC_USER"
  fi
  if getent group "$SVC_USER" >/dev/null; then groupdel "$SVC_USER" 2>/dev/null || true; fi
  if getent group "$METRICS_GROUP" >/dev/null; then groupdel "$METRICS_GROUP" 2>/dev/null || warn "could not remove group $METRICS_GROUP"; fi
  say "uninstalled"
  if [[ ${#kept[@]} -gt 0 ]]; then
    say "kept: $(IFS=,; echo "${kept[*]}" | sed 's/,/, /g') (remove them with --uninstall --purge)"
  else
    say "kept: no logs, state or configuration"
  fi
  local pk=() p st
  for p in libpcap0.8 iptables nftables libpcap; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    if [[ $st == "install ok installed" ]] || { command -v rpm >/dev/null && rpm -q "$p" >/dev/null 2>&1; }; then pk+=("$p"); fi
  done
  if [[ ${#pk[@]} -gt 0 ]]; then
    say "kept the system packages ${pk[*]} (never removed: other software may use them)"
  fi
}

case $MODE in
  install) install_main ;;
  uninstall) uninstall_main ;;
esac
