import { mkdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessCache } from '../../../src/enrich/process/process-cache.js';
import { OwnerSearch } from '../../../src/enrich/process/owner-search.js';
import { loadProcScan } from '../../../src/enrich/process/proc-scan.js';
import { readPidFile, readText } from '../../../src/enrich/process/proc-fs.js';
import { fakeProc } from './fake-proc.js';

/**
 * Less work inside the SYN gate's hold (docs/design.md#hold-work), the same answers: a
 * one-at-a-time client's socket is probed at its recent descriptor first; recent owners that
 * have exited are forgotten outside the hold; parent-chain entries named lately are re-checked
 * outside the hold; a process's small /proc files are read with one read().
 */
const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

const scan = loadProcScan();

function tree() {
  const fp = fakeProc();
  roots.push(fp.root);
  fp.addPid(1, { comm: 'systemd', ppid: 0, uid: 0, argv: ['/sbin/init'], exe: '/usr/lib/systemd/systemd' });
  return fp;
}

describe.each([
  ['native', scan],
  ['JS', null],
])('owner search hints (%s)', (_name, procScan) => {
  it.skipIf(_name === 'native' && !scan && !process.env.CI)('a client making one call at a time: its next socket is probed at its recent descriptor first (one link read)', () => {
    const { root, addPid } = tree();
    addPid(40, { comm: 'agent', ppid: 1, uid: 0, argv: ['agent'], exe: '/usr/bin/agent' });
    const s = new OwnerSearch(root, procScan, 1_000, () => undefined);
    s.prime();
    const fd = join(root, '40', 'fd', '5');
    const reads: number[] = [];
    for (let k = 0; k < 4; k++) {
      // the previous call's socket is closed; the new one gets the same lowest free descriptor
      rmSync(fd, { force: true });
      symlinkSync(`socket:[${9000 + k}]`, fd);
      const before = s.counters.hintLinksRead;
      expect(s.find(9000 + k, 0, performance.now() + 10_000)).toBe(40);
      reads.push(s.counters.hintLinksRead - before);
    }
    // first: the fd table; second: "next descriptor" (6) then 5; from then on 5 at once
    expect(reads).toEqual([0, 2, 1, 1]);
    expect(s.counters.ownerHintHits).toBe(3);
  });

  it.skipIf(_name === 'native' && !scan && !process.env.CI)('recent owners that have exited are not probed once catchUp ran (one-shot clients); the answer is the same', () => {
    const { root, addPid } = tree();
    const s = new OwnerSearch(root, procScan, 1_000, () => undefined);
    s.prime();
    // three one-shot clients, one after the other: each exits after its call
    const hints: number[] = [];
    for (const pid of [501, 502, 503, 504]) {
      addPid(pid, { comm: 'curl', ppid: 1, uid: 0, argv: ['curl'], exe: '/usr/bin/curl', fds: [pid * 10] });
      const before = s.counters.hintLinksRead;
      expect(s.find(pid * 10, 0, performance.now() + 10_000)).toBe(pid);
      hints.push(s.counters.hintLinksRead - before);
      rmSync(join(root, String(pid)), { recursive: true, force: true });
      expect(s.needsCatchUp).toBe(true);
      s.catchUp(5);
    }
    // each lookup probes only the previous client (found a moment before it exited: next + its fd),
    // never the ones before it (gone, dropped by catchUp)
    expect(hints).toEqual([0, 2, 2, 2]);
  });
});

describe('parent chain re-checked outside the hold', () => {
  it('an ancestor named lately is re-checked by refreshAncestors before it expires, so a chain built 2 s on reads no stat of it', () => {
    const { root, addPid } = tree();
    let now = 1_000_000;
    const cache = new ProcessCache({ procRoot: root, passwdPath: join(root, 'passwd'), graceMs: 30_000, maxEntries: 64, maxAncestors: 8, now: () => now });
    addPid(80, { comm: 'cron', ppid: 1, uid: 0, argv: ['cron'], exe: '/usr/sbin/cron' });
    addPid(81, { comm: 'curl', ppid: 80, uid: 0, argv: ['curl'], exe: '/usr/bin/curl' });
    expect(cache.get(81)?.ancestors.map((a) => a.comm)).toEqual(['cron', 'systemd']);
    expect(cache.ancestorsDue()).toBe(false);
    now += 1_600;
    expect(cache.ancestorsDue()).toBe(true);
    cache.refreshAncestors(performance.now() + 1_000);
    expect(cache.ancestorsDue()).toBe(false);
    // the parent's stat cannot be read any more: a chain that re-read it would end there
    const stat = join(root, '80', 'stat');
    const text = readFileSync(stat, 'latin1');
    unlinkSync(stat);
    now += 500; // 2.1 s after the first read, 0.5 s after the refresh
    addPid(82, { comm: 'curl', ppid: 80, uid: 0, argv: ['curl'], exe: '/usr/bin/curl' });
    expect(cache.get(82)?.ancestors.map((a) => a.comm)).toEqual(['cron', 'systemd']);
    // past ANCESTOR_RECHECK_MS since the refresh, the hold reads it again (as before): gone
    now += 2_000;
    addPid(83, { comm: 'curl', ppid: 80, uid: 0, argv: ['curl'], exe: '/usr/bin/curl' });
    expect(cache.get(83)?.ancestors).toEqual([{ pid: 80, exe: null, comm: null }]);
    writeFileSync(stat, text);
  });

  it('an ancestor found gone or replaced by the refresh is left to expire as before, and not read again by later refreshes', () => {
    const { root, addPid } = tree();
    let now = 1_000_000;
    const cache = new ProcessCache({ procRoot: root, passwdPath: join(root, 'passwd'), graceMs: 30_000, maxEntries: 64, maxAncestors: 8, now: () => now });
    addPid(90, { comm: 'bash', ppid: 1, uid: 0, argv: ['bash'], exe: '/usr/bin/bash', start: 100 });
    addPid(91, { comm: 'curl', ppid: 90, uid: 0, argv: ['curl'], exe: '/usr/bin/curl' });
    expect(cache.get(91)?.ancestors.map((a) => a.comm)).toEqual(['bash', 'systemd']);
    // the parent pid is reused by another process
    rmSync(join(root, '90'), { recursive: true });
    addPid(90, { comm: 'other', ppid: 1, uid: 0, argv: ['other'], exe: '/usr/bin/other', start: 200 });
    now += 1_600;
    cache.refreshAncestors(performance.now() + 1_000);
    // within 2 s of its last check the entry still answers, as before the refresh existed
    addPid(92, { comm: 'curl', ppid: 90, uid: 0, argv: ['curl'], exe: '/usr/bin/curl' });
    expect(cache.get(92)?.ancestors.map((a) => a.comm)).toEqual(['bash', 'systemd']);
    now += 500;
    addPid(93, { comm: 'curl', ppid: 90, uid: 0, argv: ['curl'], exe: '/usr/bin/curl' });
    expect(cache.get(93)?.ancestors.map((a) => a.comm)).toEqual(['other', 'systemd']);
  });
});

describe('readPidFile', () => {
  it('reads the same text as readText, for real /proc files and files larger than one read', () => {
    for (const f of ['stat', 'status', 'cmdline', 'cgroup', 'loginuid']) {
      const p = `/proc/self/${f}`;
      // stat and status change between two reads (times, memory): compare their stable start
      const a = readPidFile(p);
      const b = readText(p);
      expect(a === null, f).toBe(b === null);
      expect(a?.slice(0, 40)).toBe(b?.slice(0, 40));
    }
    const dir = join(tree().root, 'big');
    mkdirSync(dir);
    const big = 'x'.repeat(600 * 1024) + 'end';
    writeFileSync(join(dir, 'cmdline'), big);
    expect(readPidFile(join(dir, 'cmdline'))).toBe(big);
    expect(readPidFile(join(dir, 'missing'))).toBeNull();
  });
});

describe.each([
  ['native', scan],
  ['JS', null],
])('new pids without listing /proc (%s)', (_name, procScan) => {
  /** a stat line with every field up to exit_signal (field 38) */
  const stat = (pid: number, comm: string, state: string, exitSignal: number) =>
    `${pid} (${comm}) ${state} 1 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 1000 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 ${exitSignal} 1 0 0 0 0 0\n`;

  it.skipIf(_name === 'native' && !scan && !process.env.CI)('finds a new process among the pids above the last one seen (its thread ids never answer), waiting ones first and running ones too; lists /proc when too many are new, or pids wrapped', () => {
    const { root, addPid } = tree();
    addPid(40, { comm: 'agent', ppid: 1, uid: 0, argv: ['agent'], exe: '/usr/bin/agent' });
    const loadavg = (last: number) => writeFileSync(join(root, 'loadavg'), `0.10 0.20 0.30 1/90 ${last}\n`);
    loadavg(40);
    const s = new OwnerSearch(root, procScan, 1_000, () => undefined);
    s.prime();
    // a process 46 with a thread 47: both show the socket (a thread's /proc/TID/fd is its process's table)
    addPid(46, { comm: 'curl', ppid: 1, uid: 0, argv: ['curl'], exe: '/usr/bin/curl', fds: [4600] });
    addPid(47, { comm: 'curl', ppid: 1, uid: 0, argv: ['curl'], exe: '/usr/bin/curl', fds: [4600] });
    writeFileSync(join(root, '46', 'stat'), stat(46, 'curl', 'S', 17));
    writeFileSync(join(root, '47', 'stat'), stat(47, 'curl', 'S', -1));
    loadavg(48);
    expect(s.find(4600, 0, performance.now() + 10_000)).toBe(46);
    expect(s.counters.newPidHits).toBe(1);
    // a newer process that is not waiting (in exec()) and the caller waiting: the waiting one is read first, without the listing
    addPid(50, { comm: 'sh', ppid: 1, uid: 0, argv: ['sh'], exe: '/usr/bin/dash', state: 'R' });
    addPid(49, { comm: 'curl', ppid: 1, uid: 0, argv: ['curl'], exe: '/usr/bin/curl', fds: [4900] });
    loadavg(50);
    let tables = s.counters.fdDirsScanned;
    expect(s.find(4900, 0, performance.now() + 10_000)).toBe(49);
    expect(s.counters.newPidHits).toBe(2);
    // the recent owner's table (46), then 49's: not the running 50's
    expect(s.counters.fdDirsScanned - tables).toBe(2);
    // the caller still running (a client that connects without blocking returns from connect() at once),
    // beside an older new process that waits: the waiting one first, then the caller, without the listing
    addPid(51, { comm: 'sleep', ppid: 1, uid: 0, argv: ['sleep'], exe: '/usr/bin/sleep' });
    addPid(52, { comm: 'curl', ppid: 1, uid: 0, argv: ['curl'], exe: '/usr/bin/curl', fds: [5200], state: 'R' });
    loadavg(52);
    tables = s.counters.fdDirsScanned;
    expect(s.find(5200, 0, performance.now() + 10_000)).toBe(52);
    expect(s.counters.newPidHits).toBe(3);
    // the recent owners' tables (49, 46), the waiting 51's, then 52's
    expect(s.counters.fdDirsScanned - tables).toBe(4);
    // more new pids than NEW_PID_PROBES since the last look: listed
    addPid(80, { comm: 'curl', ppid: 1, uid: 0, argv: ['curl'], exe: '/usr/bin/curl', fds: [8000] });
    loadavg(80);
    expect(s.find(8000, 0, performance.now() + 10_000)).toBe(80);
    expect(s.counters.newPidHits).toBe(3);
    // a few new pids: found without the listing again
    addPid(83, { comm: 'curl', ppid: 1, uid: 0, argv: ['curl'], exe: '/usr/bin/curl', fds: [8300] });
    loadavg(85);
    expect(s.find(8300, 0, performance.now() + 10_000)).toBe(83);
    expect(s.counters.newPidHits).toBe(4);
    // pids wrapped (the last pid is below the last one seen): listed
    addPid(30, { comm: 'curl', ppid: 1, uid: 0, argv: ['curl'], exe: '/usr/bin/curl', fds: [3000] });
    loadavg(30);
    expect(s.find(3000, 0, performance.now() + 10_000)).toBe(30);
    expect(s.counters.newPidHits).toBe(4);
  });
});
