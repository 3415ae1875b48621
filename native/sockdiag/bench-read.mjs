#!/usr/bin/env node
/**
 * Time to build a new process's ProcessInfo (ProcessCache.get of a pid never seen: its stat,
 * login, exe, cmdline, cgroup, namespaces, the borrowed-name check) and the owner search's
 * look for new pids (OwnerSearch newPids: loadavg, each new pid's stat), each with the addon's
 * one call (readProc, newPids; docs/design.md#hold-read) and with the JS reads, alternating
 * per process in one sitting. Each round starts a fresh process the way the lab's one-shot curl runs (in a
 * mount namespace of its own, `unshare -m`, so the borrowed-name check stats its file), waits
 * until it sleeps, lets the daemon side idle 10 ms (a hold runs on a cold loop), then asks
 * both caches (the order alternates). Root (unshare -m).
 *
 *   npm run build && node native/sockdiag/bench-read.mjs [--runs 300] [--no-unshare]
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = process.env.IMDSWATCH_DIST ? path.resolve(process.env.IMDSWATCH_DIST) : path.resolve(here, '../../dist');
const { ProcessCache } = await import(path.join(dist, 'enrich/process/process-cache.js'));
const { loadProcRead } = await import(path.join(dist, 'enrich/process/proc-read.js'));
const { loadProcScan } = await import(path.join(dist, 'enrich/process/proc-scan.js'));
const { OwnerSearch } = await import(path.join(dist, 'enrich/process/owner-search.js'));
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const runs = Number(arg('--runs', '300'));
const unshare = !process.argv.includes('--no-unshare');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const native = loadProcRead();
if (!native) throw new Error('addon without readProc: npm run build:native');
const make = (procRead) => new ProcessCache({ procRoot: '/proc', passwdPath: '/etc/passwd', graceMs: 30_000, maxEntries: 4_096, maxAncestors: 64, now: () => Date.now(), procRead });
const caches = { native: make(native), js: make(null) };
const times = { native: [], js: [] };
// the owner search's look for pids started since the last one (loadavg, then each new pid's stat): one call vs from JS
const scan = loadProcScan();
const { newPids: _, ...scanWithoutNewPids } = scan ?? {};
const searches = scan?.newPids ? { native: new OwnerSearch('/proc', scan, 65_536, () => {}), js: new OwnerSearch('/proc', scanWithoutNewPids, 65_536, () => {}) } : null;
const newPidTimes = { native: [], js: [] };
const lastPid = () => Number(readFileSync('/proc/loadavg', 'latin1').trim().split(' ').pop());

async function sleeper() {
  const c = spawn(unshare ? 'unshare' : 'sleep', unshare ? ['-m', 'sleep', '30'] : ['30'], { stdio: 'ignore' });
  for (let i = 0; i < 500; i++) {
    try {
      const stat = readFileSync(`/proc/${c.pid}/stat`, 'latin1');
      if (stat.includes('(sleep) S ')) return c;
    } catch {
      /* not there yet */
    }
    await sleep(2);
  }
  throw new Error('the process did not start');
}

const loads = [os.loadavg()];
for (let i = 0; i < runs; i++) {
  const order = i % 2 === 0 ? ['native', 'js'] : ['js', 'native'];
  const before = lastPid();
  const c = await sleeper();
  if (searches) {
    for (const k of order) {
      await sleep(10);
      searches[k].lastPid = before; // (private) the last look was just before the process started
      const t = performance.now();
      const found = searches[k].newPids();
      newPidTimes[k].push(performance.now() - t);
      if (found && !found.includes(c.pid)) throw new Error(`${k}: new pids ${found} without ${c.pid}`);
    }
  }
  for (const k of order) {
    await sleep(10);
    const t = performance.now();
    const info = caches[k].get(c.pid, null);
    times[k].push(performance.now() - t);
    if (!info || !info.exe?.endsWith('/sleep')) throw new Error(`${k}: no ProcessInfo for ${c.pid}`);
  }
  c.kill('SIGKILL');
}
loads.push(os.loadavg());
const pct = (a, p) => a[Math.min(a.length - 1, Math.ceil((p / 100) * a.length) - 1)];
console.log(`ProcessInfo of a new process (${unshare ? 'unshare -m sleep' : 'sleep'}), ${runs} rounds, load average ${loads.map((l) => l.map((x) => x.toFixed(2)).join(' ')).join(' -> ')}`);
console.log('| step | p50 µs | p90 µs | p99 µs |\n| --- | ---: | ---: | ---: |');
for (const [k, v] of Object.entries(searches ? { 'ProcessInfo, one call': times.native, 'ProcessInfo, from JS': times.js, 'new pids, one call': newPidTimes.native, 'new pids, from JS': newPidTimes.js } : times)) {
  v.sort((a, b) => a - b);
  console.log(`| ${k} | ${(pct(v, 50) * 1000).toFixed(0)} | ${(pct(v, 90) * 1000).toFixed(0)} | ${(pct(v, 99) * 1000).toFixed(0)} |`);
}
