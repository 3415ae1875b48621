#!/usr/bin/env bash
# Boot test: "from boot onward" on a real systemd boot.
#
#  1. a minimal Debian tree (copied from the shared root packaging/debian-root.sh
#     bookworm-boot: debootstrapped once per machine);
#  2. imdswatch installed into it by install.sh (run inside the tree, --no-start);
#  3. an early-boot unit (imds-early.service, ordered before network-online.target
#     and sysinit.target) calling IMDSv1 with curl; and one that calls before
#     imdswatch.service starts (imds-preboot.service: DefaultDependencies=no,
#     Before=network-pre.target sysinit.target imdswatch.service), which the boot watch
#     (systemd/imdswatch-generator, docs/design.md#boot-watch) must count;
#  4. boot it with systemd-nspawn in a network namespace whose only peer is the
#     repo's IMDS simulator at 169.254.169.254 (in a second namespace);
#  5. after boot, `imdswatch report` inside must name imds-early.service and curl; the
#     daemon's state must hold the boot's window (startKind boot, watched from boot)
#     with the pre-boot call as an unwatched connection of uid 0; then the daemon is
#     killed, a call is made as uid 65534 while it is down, and the restarted daemon's
#     window (startKind restart) must hold that call as unwatched by uid 65534;
#  6. after shutdown no gate or boot-watch rule is left in the namespace; install.sh
#     --uninstall --purge leaves no file, user, unit or generator behind.
#
# IMDSWATCH_BOOT_MODE=probe: instead of `imdswatch daemon`, run the live stage's gate
# probe under the same hardened unit (probe-shim.mjs) and require that it attributed
# the early unit's curl by pid and exe; proves the sandbox lets capture, the gate's
# rules and nfqueue, and /proc attribution work at early boot.
#
# Needs root, debootstrap, systemd-nspawn, a built tree (npm run build).
# Prints "BOOT TEST PASS" last on success; exits non-zero with the reason otherwise.
set -Eeuo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
KEEP=${IMDSWATCH_BOOT_KEEP:-0}
MODE=${IMDSWATCH_BOOT_MODE:-daemon}
ID=$$
NS=imdsbt$ID
NS_SRV=imdsbt${ID}s
WORK=$(mktemp -d /var/tmp/imdswatch-boot.XXXXXX)
ROOT=$WORK/root
OUT=$WORK/out
SRV_PID=

log() { printf '[boot-test] %s\n' "$*"; }
fail() { printf '[boot-test] FAIL: %s\n' "$*"; exit 1; }

cleanup() {
  set +e
  [[ -n $SRV_PID ]] && kill "$SRV_PID" 2>/dev/null && wait "$SRV_PID" 2>/dev/null
  ip netns del "$NS" 2>/dev/null
  ip netns del "$NS_SRV" 2>/dev/null
  if [[ $KEEP == 1 ]]; then log "kept $WORK"; else rm -rf --one-file-system "$WORK"; fi
}
trap cleanup EXIT

[[ $EUID -eq 0 ]] || fail "needs root"
for t in debootstrap systemd-nspawn ip; do command -v $t >/dev/null || fail "needs $t"; done
[[ -f $REPO/dist/cli/main.js && -f $REPO/build/lab/imds-server-main.js ]] || fail "build first: npm run build"
NODE=$(command -v node)

# --- 1. the Debian tree ------------------------------------------------------
BASE=$("$REPO/packaging/debian-root.sh" bookworm-boot) || fail "no Debian 12 root (packaging/debian-root.sh bookworm-boot)"
log "copying the tree"
cp -a "$BASE" "$ROOT"
rm -f "$ROOT/.imdswatch-root"
mkdir -p "$OUT"

# The app as install.sh expects it, production modules only.
APP=$WORK/app
mkdir -p "$APP"
cp -a "$REPO/dist" "$REPO/package.json" "$REPO/package-lock.json" "$REPO/install.sh" "$REPO/systemd" "$REPO/node_modules" "$APP/"
(cd "$APP" && npm prune --omit=dev --offline --no-audit --no-fund --loglevel=error >/dev/null)

snapshot() {
  # every path of the tree except what any boot changes by itself
  (cd "$ROOT" && find . -xdev \( -path ./proc -o -path ./sys -o -path ./dev -o -path ./run -o -path ./tmp \
      -o -path ./var/log/journal -o -path ./var/lib/systemd -o -path ./var/tmp -o -path ./var/cache -o -path ./var/lib/logrotate -o -path ./var/lib/apt -o -path ./var/backups \) -prune -o -print |
    grep -v -E '^\./etc/(machine-id|passwd-|group-|shadow-|gshadow-|\.pwd\.lock)$' | sort)
  # and the accounts
  grep -h -o '^[^:]*' "$ROOT/etc/passwd" "$ROOT/etc/group" | sed 's/^/account:/' | sort
}

NSPAWN=(env SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=0 systemd-nspawn -q -D "$ROOT" --register=no --keep-unit
  --bind-ro="$NODE:/usr/bin/node" --bind-ro="$APP:/src")

# A first boot-less run so that the "before" snapshot already has what any run creates
# (mount points included).
mkdir -p "$ROOT/bt"
"${NSPAWN[@]}" /bin/true
snapshot >"$WORK/before.txt"

# --- 2. install ------------------------------------------------------------------
log "install.sh inside the tree"
"${NSPAWN[@]}" /bin/bash /src/install.sh --from /src --node /usr/bin/node --no-start >"$OUT/install.log" 2>&1 ||
  { cat "$OUT/install.log"; fail "install.sh failed"; }
if [[ $MODE == probe ]]; then
  mv "$ROOT/opt/imdswatch/dist/cli/main.js" "$ROOT/opt/imdswatch/dist/cli/main-real.js"
  cp "$REPO/test/systemd/boot/probe-shim.mjs" "$ROOT/opt/imdswatch/dist/cli/main.js"
fi
grep -q '^imdswatch:' "$ROOT/etc/passwd" || fail "install.sh did not create the imdswatch user"
[[ -L $ROOT/etc/systemd/system/sysinit.target.wants/imdswatch.service ]] || fail "unit not enabled"

# --- 3. the early-boot IMDSv1 caller and the end-of-boot collector ---------------
cat >"$ROOT/etc/systemd/system/imds-early.service" <<'EOF'
[Unit]
Description=boot test: an IMDSv1 call before the network is online
DefaultDependencies=no
After=local-fs.target imdswatch.service
Before=network-online.target sysinit.target
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/bin/curl -s -m 5 -o /dev/null -w "imds-early: HTTP %%{http_code}\n" http://169.254.169.254/latest/meta-data/instance-id
[Install]
WantedBy=sysinit.target
EOF
ln -s /etc/systemd/system/imds-early.service "$ROOT/etc/systemd/system/sysinit.target.wants/imds-early.service"
# the ordering early boot helpers use (issue: ~25 ms before imdswatch.service started),
# made certain with Before=imdswatch.service: the daemon cannot see this call
cat >"$ROOT/etc/systemd/system/imds-preboot.service" <<'EOF'
[Unit]
Description=boot test: an IMDSv1 call before imdswatch.service starts
DefaultDependencies=no
Before=network-pre.target sysinit.target imdswatch.service
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/bin/curl -s -m 5 -o /dev/null -w "imds-preboot: HTTP %%{http_code}\n" http://169.254.169.254/latest/meta-data/ami-id
[Install]
WantedBy=sysinit.target
EOF
ln -s /etc/systemd/system/imds-preboot.service "$ROOT/etc/systemd/system/sysinit.target.wants/imds-preboot.service"
# after boot: kill the daemon (a crash: Restart=on-failure), call IMDSv1 as uid 65534
# while it is down (once ExecStopPost has re-armed the boot watch and removed the gate),
# then wait for the restarted daemon and its state
cat >"$ROOT/usr/local/sbin/boot-test-restart" <<'EOF'
#!/bin/sh
cp /var/lib/imdswatch/state.json /bt/state-boot.json
iptables -t mangle -S > /bt/mangle-running.txt 2>&1
systemctl kill -s KILL imdswatch
for i in $(seq 100); do
  if iptables -t mangle -S IMDSWATCH-EARLY >/dev/null 2>&1 && ! iptables -t mangle -S IMDSWATCH >/dev/null 2>&1; then break; fi
  sleep 0.05
done
iptables -t mangle -S > /bt/mangle-down.txt 2>&1
setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/curl -s -m 5 -o /dev/null -w "imds-down: HTTP %{http_code}\n" http://169.254.169.254/latest/meta-data/ami-id > /bt/down-call.txt 2>&1
for i in $(seq 300); do
  [ "$(systemctl is-active imdswatch)" = active ] && [ "$(systemctl show -p NRestarts --value imdswatch)" -ge 1 ] && break
  sleep 0.1
done
sleep 2
cp /var/lib/imdswatch/state.json /bt/state.json
iptables -t mangle -S > /bt/mangle-restarted.txt 2>&1
# a clean stop (an operator, a package upgrade): the unit re-arms the count until the next start
systemctl stop imdswatch
iptables -t mangle -S > /bt/mangle-stopped.txt 2>&1
setpriv --reuid=1 --regid=1 --clear-groups /usr/bin/curl -s -m 5 -o /dev/null -w "imds-stopped: HTTP %{http_code}\n" http://169.254.169.254/latest/meta-data/ami-id > /bt/stopped-call.txt 2>&1
systemctl start imdswatch
sleep 2
cp /var/lib/imdswatch/state.json /bt/state-clean.json
EOF
chmod 0755 "$ROOT/usr/local/sbin/boot-test-restart"
cat >"$ROOT/etc/systemd/system/boot-test-collect.service" <<'EOF'
[Unit]
Description=boot test: collect the report, then power off
After=multi-user.target
[Service]
Type=oneshot
StandardOutput=journal
ExecStart=/bin/sh -c 'sleep 2; systemctl is-active imdswatch > /bt/imdswatch.active; journalctl -b -u imds-preboot --no-pager > /bt/journal-preboot.txt 2>&1; systemctl show -p NRestarts --value imdswatch > /bt/imdswatch.restarts; journalctl -b -u imdswatch -u imds-early --no-pager > /bt/journal.txt 2>&1; systemd-analyze critical-chain imds-early.service > /bt/chain.txt 2>&1; iptables -S > /bt/iptables-running.txt 2>&1; /usr/local/bin/imdswatch report --format json > /bt/report.json 2> /bt/report.err; /usr/local/bin/imdswatch report > /bt/report.txt 2>&1; (cat /proc/self/cgroup; cat /proc/$(systemctl show -p MainPID --value imdswatch)/cgroup; grep -o "\"unit\":[^,]*" /var/log/imdswatch/imdswatch.log) > /bt/cgroup.txt 2>&1; if [ -e /var/lib/imdswatch/state.json ]; then /usr/local/sbin/boot-test-restart; fi; journalctl -b -u imdswatch --no-pager > /bt/journal-all.txt 2>&1; true'
ExecStartPost=/bin/systemctl poweroff --no-block
[Install]
WantedBy=multi-user.target
EOF
mkdir -p "$ROOT/etc/systemd/system/multi-user.target.wants"
ln -s /etc/systemd/system/boot-test-collect.service "$ROOT/etc/systemd/system/multi-user.target.wants/boot-test-collect.service"

# --- 4. network: container namespace <-> simulator namespace ----------------------
ip netns add "$NS"
ip netns add "$NS_SRV"
ip link add "bt${ID}c" type veth peer name "bt${ID}s"
ip link set "bt${ID}c" netns "$NS"
ip link set "bt${ID}s" netns "$NS_SRV"
ip -n "$NS" link set lo up
ip -n "$NS" addr add 169.254.1.2/16 dev "bt${ID}c"
ip -n "$NS" link set "bt${ID}c" up
ip -n "$NS_SRV" link set lo up
ip -n "$NS_SRV" addr add 169.254.169.254/16 dev "bt${ID}s"
ip -n "$NS_SRV" link set "bt${ID}s" up
ip netns exec "$NS_SRV" "$NODE" "$REPO/build/lab/imds-server-main.js" --listen 169.254.169.254 --port 80 --tokens optional >"$OUT/imds-server.log" 2>&1 &
SRV_PID=$!
for _ in $(seq 50); do
  ip netns exec "$NS_SRV" curl -s -m 1 -o /dev/null -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' http://169.254.169.254/latest/api/token && break
  sleep 0.1
done
# (the probe above runs in the simulator's own namespace: the boot's namespace must open
# no TCP connection before the boot, or the boot watch rightly says it was not armed
# before every connection of the boot: docs/design.md#boot-watch)

# --- 5. boot -------------------------------------------------------------------------
log "booting"
set +e
# --capability=CAP_NET_ADMIN: with --network-namespace-path nspawn does not grant it by
# itself (nfqueue then fails with NFQNL_CFG_CMD_PF_UNBIND: Operation not permitted)
timeout 300 "${NSPAWN[@]}" --boot --network-namespace-path="/run/netns/$NS" --capability=CAP_NET_ADMIN --bind="$OUT:/bt" --console=pipe >"$OUT/console.log" 2>&1
rc=$?
set -e
[[ $rc -eq 0 ]] || { tail -50 "$OUT/console.log"; fail "boot did not end cleanly (rc $rc)"; }
[[ -f $OUT/imdswatch.active ]] || fail "boot did not reach multi-user.target (no collector output)"
log "imdswatch was $(cat "$OUT/imdswatch.active") after boot, $(cat "$OUT/imdswatch.restarts" 2>/dev/null) restarts"
tail -30 "$OUT/journal.txt"
[[ $(cat "$OUT/imdswatch.active") == active ]] || fail "imdswatch.service was not active after boot"
grep -q 'imds-early: HTTP 200' "$OUT/journal.txt" || fail "the early unit's IMDS call did not succeed"

log "report:"; cat "$OUT/report.txt"; log "cgroup:"; cat "$OUT/cgroup.txt" 2>/dev/null || true
if [[ $MODE == probe ]]; then
  # the gate held the early unit's SYN and found its process: same pid as journald's curl[PID]
  CURL_PID=$(grep -o 'curl\[[0-9]*\]: imds-early' "$OUT/journal.txt" | grep -o '[0-9]\+' | head -1)
  [[ -n $CURL_PID ]] || fail "no curl pid in the journal"
  grep -q "\"pid\":$CURL_PID,\"exe\":\"/usr/bin/curl\"" "$OUT/report.txt" ||
    fail "the gate probe did not attribute the early call to curl (pid $CURL_PID)"
  grep -q '"gateActive":true' "$OUT/report.txt" || fail "the gate was not active"
  log "early-boot call attributed to /usr/bin/curl pid $CURL_PID of imds-early.service"
else
  # the report must name the early unit and curl
  grep -q 'imds-early.service' "$OUT/report.json" || fail "report does not name imds-early.service"
  grep -q 'curl' "$OUT/report.json" || fail "report does not name curl"
  # the boot watch: the call before imdswatch.service is in the state, as unwatched
  grep -q 'imds-preboot: HTTP 200' "$OUT/journal-preboot.txt" || { cat "$OUT/journal-preboot.txt"; fail "the pre-boot unit's IMDS call did not succeed"; }
  if grep -q 'IMDSWATCH-EARLY' "$OUT/mangle-running.txt"; then cat "$OUT/mangle-running.txt"; fail "the boot watch chain is still there while the daemon runs"; fi
  grep -q 'imds-down: HTTP 200' "$OUT/down-call.txt" || { cat "$OUT/down-call.txt" "$OUT/mangle-down.txt"; fail "the call while the daemon was down did not succeed"; }
  log "windows:"
  grep -q 'imds-stopped: HTTP 200' "$OUT/stopped-call.txt" || { cat "$OUT/stopped-call.txt" "$OUT/mangle-stopped.txt"; fail "the call while the daemon was stopped did not succeed"; }
  "$NODE" "$REPO/test/systemd/boot/check-windows.mjs" "$OUT/state-boot.json" "$OUT/state.json" "$OUT/state-clean.json" ||
    { cat "$OUT/mangle-down.txt" "$OUT/mangle-restarted.txt" "$OUT/mangle-stopped.txt"; grep -i 'boot-watch\|boot watch' "$OUT/journal-all.txt" | tail; fail "the boot's windows do not account for the calls made while imdswatch did not watch"; }
fi

# --- 6. no rule left after shutdown; uninstall leaves nothing -------------------------
for t in filter mangle; do
  if ip netns exec "$NS" iptables -t $t -S 2>/dev/null | grep -q IMDSWATCH; then fail "gate or boot-watch rules left in $t after shutdown"; fi
  if ip netns exec "$NS" ip6tables -t $t -S 2>/dev/null | grep -q IMDSWATCH; then fail "ip6 gate or boot-watch rules left in $t after shutdown"; fi
done
if ip netns exec "$NS" nft list tables 2>/dev/null | grep -q imdswatch; then fail "nft gate table left after shutdown"; fi

rm -f "$ROOT/etc/systemd/system/imds-early.service" "$ROOT/etc/systemd/system/boot-test-collect.service" \
  "$ROOT/etc/systemd/system/sysinit.target.wants/imds-early.service" \
  "$ROOT/etc/systemd/system/multi-user.target.wants/boot-test-collect.service" \
  "$ROOT/etc/systemd/system/imds-preboot.service" "$ROOT/etc/systemd/system/sysinit.target.wants/imds-preboot.service" \
  "$ROOT/usr/local/sbin/boot-test-restart"
"${NSPAWN[@]}" /bin/bash /src/install.sh --uninstall --purge >"$OUT/uninstall.log" 2>&1 ||
  { cat "$OUT/uninstall.log"; fail "install.sh --uninstall failed"; }
snapshot >"$WORK/after.txt"
if ! diff -u "$WORK/before.txt" "$WORK/after.txt" >"$OUT/leftovers.diff"; then
  cat "$OUT/leftovers.diff"
  fail "install -> boot -> uninstall left something behind (or removed something)"
fi
log "BOOT TEST PASS"
