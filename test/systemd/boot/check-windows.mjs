// Boot test: the daemon's windows for this boot (docs/design.md#boot-watch).
//   node check-windows.mjs STATE-AFTER-BOOT STATE-AFTER-RESTART STATE-AFTER-CLEAN-STOP-START
// (the container's state is new: every window is of this boot; the boot id the sandboxed
// daemon reads is the host's, not the one nspawn shows the container's other processes)
// After boot: one window of this boot, startKind "boot", fromBoot true (the generator
// armed the boot watch before any TCP connection), its unwatched connections include
// uid 0's (imds-preboot.service's curl, before imdswatch.service). After the kill and
// restart: a later window of this boot, startKind "restart", whose unwatched connections
// include uid 65534's (the call made while the daemon was down). After a clean stop and
// start: a third window, also a restart counted from the stop (fromBoot), with uid 1's
// call made while it was stopped. Exit 1 with the reason.
import { readFileSync } from 'node:fs';

const [bootFile, restartFile, cleanFile] = process.argv.slice(2);
const windows = (f) => JSON.parse(readFileSync(f, 'utf8')).windows;
const problems = [];
const check = (ok, what) => { if (!ok) problems.push(what); };
const uids = (w) => (w?.unwatched?.makers ?? []).map((m) => m.uid);

const atBoot = windows(bootFile);
console.log(`[boot-test] after boot: ${JSON.stringify(atBoot)}`);
check(atBoot.length === 1, `one window of this boot after boot (got ${atBoot.length})`);
const b = atBoot[0];
check(b?.startKind === 'boot', 'the first window is startKind "boot"');
check(typeof b?.bootStart === 'string' && b.bootStart <= b.start, 'bootStart (kernel boot time) before the window start');
check(b?.fromBoot === true, 'fromBoot: the boot watch was armed before any TCP connection of the boot');
check(b?.unwatched?.source === 'early-rule', 'unwatched counted by the early rule');
check((b?.unwatched?.count ?? 0) >= 1 && uids(b).includes(0), "imds-preboot's call is an unwatched connection of uid 0");

const all = windows(restartFile);
console.log(`[boot-test] after the restart: ${JSON.stringify(all)}`);
check(all.length === 2, `two windows of this boot after the restart (got ${all.length})`);
const r = all[all.length - 1];
check(r?.startKind === 'restart', 'the window after the kill is startKind "restart"');
check(r?.fromBoot === true, 'the restart window was counted from the kill on (the re-armed chain)');
check((r?.unwatched?.count ?? 0) >= 1 && uids(r).includes(65534), 'the call made while the daemon was down is an unwatched connection of uid 65534');
check(!uids(r).includes(0), "the boot's call is not counted again in the restart window");

const clean = windows(cleanFile);
console.log(`[boot-test] after a clean stop and start: ${JSON.stringify(clean.slice(2))}`);
check(clean.length === 3, `three windows of this boot after the clean stop and start (got ${clean.length})`);
const c = clean[clean.length - 1];
check(c?.startKind === 'restart' && c?.fromBoot === true, 'the window after a clean stop is a restart counted from the stop');
check(uids(c).includes(1), 'the call made while the daemon was stopped is an unwatched connection of uid 1 (daemon)');
check(!uids(c).includes(65534), 'the call made while it was killed is not counted again');

if (problems.length) {
  console.log(`[boot-test] all windows: ${JSON.stringify(JSON.parse(readFileSync(restartFile, 'utf8')).windows)}`);
  for (const p of problems) console.log(`[boot-test] windows: expected ${p}`);
  process.exit(1);
}
console.log('[boot-test] windows: the pre-boot call, the call while the daemon was killed and the call while it was stopped are all accounted for');
