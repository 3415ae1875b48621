import { mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { loadProcScan } from '../../../src/enrich/process/proc-scan.js';
import { ProcCorrelator } from '../../../src/enrich/process/proc-correlator.js';
import { OwnerSearch } from '../../../src/enrich/process/owner-search.js';

/**
 * The owner search's native scanner (native/sockdiag/src/procscan.c) and the recent-owner
 * hints, on a fake /proc (the scanner reads any tree: fd entries are symlinks). Under CI the
 * addon must be built; elsewhere its tests skip when it is not.
 */
const scan = loadProcScan();
const needAddon = !scan && !process.env.CI;

const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
const HEADER6 = '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
// 10.0.2.15:PORT → 169.254.169.254:80 SYN_SENT, uid 1000
const row = (port: number, inode: number) =>
  `   1: ${LE ? '0F02000A' : '0A00020F'}:${port.toString(16).toUpperCase().padStart(4, '0')} ${LE ? 'FEA9FEA9' : 'A9FEA9FE'}:0050 02 00000001:00000000 01:00000064 00000000  1000        0 ${inode} 2 0\n`;
const tuple = (port: number) => ({ srcIp: '10.0.2.15', srcPort: port, dstIp: '169.254.169.254', dstPort: 80, ipVersion: 4 as const });

let root = '';
const pidDir = (pid: number) => join(root, String(pid));
function addPid(pid: number, uid: number, fds: Record<number, string>) {
  const d = pidDir(pid);
  mkdirSync(join(d, 'fd'), { recursive: true });
  mkdirSync(join(d, 'ns'), { recursive: true });
  writeFileSync(join(d, 'status'), `Name:\tp${pid}\nTgid:\t${pid}\nPPid:\t1\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\nVmSize:\t100 kB\n`);
  writeFileSync(join(d, 'stat'), `${pid} (p${pid}) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1000 0 0\n`);
  writeFileSync(join(d, 'cmdline'), `p${pid}\0`);
  writeFileSync(join(d, 'cgroup'), '0::/system.slice/x.service\n');
  symlinkSync(`/usr/bin/p${pid}`, join(d, 'exe'));
  symlinkSync('net:[4026531840]', join(d, 'ns', 'net'));
  for (const [fd, target] of Object.entries(fds)) symlinkSync(target, join(d, 'fd', fd));
}
const setSocketRow = (port: number, inode: number) => writeFileSync(join(root, 'net', 'tcp'), HEADER + row(port, inode));

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), `imw-pscan-${process.pid}-`));
  mkdirSync(join(root, 'self', 'ns'), { recursive: true });
  mkdirSync(join(root, 'net'), { recursive: true });
  symlinkSync('net:[4026531840]', join(root, 'self', 'ns', 'net'));
  writeFileSync(join(root, 'passwd'), 'alice:x:1000:1000::/home/alice:/bin/sh\n');
  writeFileSync(join(root, 'net', 'tcp6'), HEADER6);
  writeFileSync(join(root, 'notapid'), '');
  addPid(1, 0, { 0: '/dev/null', 3: 'socket:[11]' });
  addPid(40, 1000, { 0: '/dev/null', 7: 'socket:[4001]', 9: 'pipe:[5]' });
  addPid(300, 1000, { 0: '/dev/null', 1: '/dev/null', 5: 'socket:[3005]', 6: 'socket:[3006]' });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe.skipIf(needAddon)('native proc scanner', () => {
  it('lists numeric entries, highest first', () => {
    expect([...scan!.pids(root)]).toEqual([300, 40, 1]);
  });

  it('finds the pid and fd holding a socket inode, reports pids read on a miss, and stops at the budget', () => {
    const pids = Int32Array.from([300, 40, 1]);
    expect(scan!.findSocket(root, pids, 3, 4001, 1e6)).toEqual({ index: 1, fd: 7 });
    expect(scan!.findSocket(root, pids, 3, 3006, 1e6)).toEqual({ index: 0, fd: 6 });
    expect(scan!.findSocket(root, pids, 3, 999, 1e6)).toBe(3);
    expect(scan!.findSocket(root, pids, 2, 11, 1e6)).toBe(2); // count limits the search
    expect(scan!.findSocket(root, Int32Array.from([77, 1]), 2, 11, 1e6)).toEqual({ index: 1, fd: 3 }); // a vanished pid is a miss
    expect(scan!.findSocket(root, pids, 3, 11, -1)).toBe(0);
  });

  it('probes exact descriptors without throwing on closed ones', () => {
    expect(scan!.probeFds(root, Int32Array.from([300, 40, 40]), Int32Array.from([9, 3, 7]), 3, 4001)).toBe(2);
    expect(scan!.probeFds(root, Int32Array.from([300, 77]), Int32Array.from([5, 5]), 2, 4001)).toBe(-1);
  });
});

describe.each([
  ['native', false],
  ['JS', true],
])('recent-owner hints (%s search)', (_name, js) => {
  it.skipIf(!js && needAddon)('a long-lived owner\'s next socket at a recent descriptor is found without reading fd tables', () => {
    const c = new ProcCorrelator({ procRoot: root, passwdPath: join(root, 'passwd'), containerResolver: null, sockDiag: null, ...(js ? { procScan: null } : {}) });
    c.prime();
    // a socket opened after prime: the fd tables are read (uid list: 300, then 40)
    symlinkSync('socket:[7001]', join(pidDir(40), 'fd', '8'));
    setSocketRow(40001, 7001);
    const first = c.findSocketOwner(tuple(40001), 1_000);
    expect(first).toMatchObject({ outcome: 'found', process: { pid: 40, exe: '/usr/bin/p40' } });
    const scanned = c.stats().fdDirsScanned;
    // it closes that socket; the next one gets the same fd number
    unlinkSync(join(pidDir(40), 'fd', '8'));
    symlinkSync('socket:[7002]', join(pidDir(40), 'fd', '8'));
    setSocketRow(40002, 7002);
    const second = c.findSocketOwner(tuple(40002), 1_000);
    expect(second).toMatchObject({ outcome: 'found', process: { pid: 40 } });
    expect(c.stats().ownerHintHits).toBe(1);
    expect(c.stats().fdDirsScanned).toBe(scanned);
    // a socket the hinted descriptor does not hold: found by the full search, never misattributed
    symlinkSync('socket:[7003]', join(pidDir(300), 'fd', '9'));
    setSocketRow(40003, 7003);
    expect(c.findSocketOwner(tuple(40003), 1_000)).toMatchObject({ outcome: 'found', process: { pid: 300 } });
    expect(c.stats().ownerHintHits).toBe(1);
    unlinkSync(join(pidDir(300), 'fd', '9'));
    unlinkSync(join(pidDir(40), 'fd', '8'));
  });

  it.skipIf(!js && needAddon)('a recent owner\'s socket at a new descriptor is found in its own fd table before any new process is read', () => {
    const c = new ProcCorrelator({ procRoot: root, passwdPath: join(root, 'passwd'), containerResolver: null, sockDiag: null, ...(js ? { procScan: null } : {}) });
    c.prime();
    onTestFinished(() => {
      for (const l of [join(pidDir(40), 'fd', '8'), join(pidDir(40), 'fd', '12')]) rmSync(l, { force: true });
      rmSync(pidDir(500), { recursive: true, force: true });
    });
    symlinkSync('socket:[7101]', join(pidDir(40), 'fd', '8'));
    setSocketRow(41001, 7101);
    expect(c.findSocketOwner(tuple(41001), 1_000)).toMatchObject({ outcome: 'found', process: { pid: 40 } });
    // a process started since (an unrelated one: read first by the old order), and the
    // owner's next socket at a descriptor none of its recent sockets had (many in flight)
    addPid(500, 1000, { 0: '/dev/null', 4: 'socket:[5004]' });
    symlinkSync('socket:[7102]', join(pidDir(40), 'fd', '12'));
    setSocketRow(41002, 7102);
    const scanned = c.stats().fdDirsScanned;
    expect(c.findSocketOwner(tuple(41002), 1_000)).toMatchObject({ outcome: 'found', process: { pid: 40 } });
    expect(c.stats().fdDirsScanned - scanned).toBe(1);
    expect(c.stats().recentOwnerHits).toBe(1);
    // the new process's own socket: still found (by the full search after the recent owners)
    setSocketRow(41003, 5004);
    expect(c.findSocketOwner(tuple(41003), 1_000)).toMatchObject({ outcome: 'found', process: { pid: 500 } });
    expect(c.stats().recentOwnerHits).toBe(1);
  });

  it.skipIf(!js && needAddon)('with several connections in flight, the new socket is looked for at the lowest recent descriptor first (the kernel gives the lowest free one)', () => {
    const c = new ProcCorrelator({ procRoot: root, passwdPath: join(root, 'passwd'), containerResolver: null, sockDiag: null, ...(js ? { procScan: null } : {}) });
    c.prime();
    // three calls in flight at fds 10, 11, 12, found in that order (most recent: 12)
    const links = [10, 11, 12].map((fd) => join(pidDir(40), 'fd', String(fd)));
    onTestFinished(() => links.forEach((l) => rmSync(l, { force: true })));
    [10, 11, 12].forEach((fd, k) => {
      symlinkSync(`socket:[${7200 + k}]`, join(pidDir(40), 'fd', String(fd)));
      setSocketRow(42000 + k, 7200 + k);
      expect(c.findSocketOwner(tuple(42000 + k), 1_000)).toMatchObject({ outcome: 'found', process: { pid: 40 } });
    });
    // the first one ends; the next call's socket gets fd 10 (11 and 12 still open)
    unlinkSync(join(pidDir(40), 'fd', '10'));
    symlinkSync('socket:[7210]', join(pidDir(40), 'fd', '10'));
    setSocketRow(42010, 7210);
    const read = c.stats().hintLinksRead;
    const hits = c.stats().ownerHintHits;
    expect(c.findSocketOwner(tuple(42010), 1_000)).toMatchObject({ outcome: 'found', process: { pid: 40 } });
    expect(c.stats().ownerHintHits).toBe(hits + 1);
    expect(c.stats().hintLinksRead - read).toBe(2);
  });

  it.skipIf(!js && needAddon)('when the recent owners\' tables take their whole share, the search goes on to new pids (and the recent owners after them)', () => {
    const search = new OwnerSearch(root, js ? null : scan, 1_000, () => undefined, 0);
    search.prime();
    onTestFinished(() => {
      rmSync(join(pidDir(40), 'fd', '14'), { force: true });
      rmSync(join(pidDir(40), 'fd', '20'), { force: true });
      rmSync(pidDir(600), { recursive: true, force: true });
    });
    symlinkSync('socket:[7401]', join(pidDir(40), 'fd', '14'));
    expect(search.find(7401, 1000, performance.now() + 10_000)).toBe(40);
    // a new process's socket: found although the recent-owner step had no time at all
    addPid(600, 1000, { 0: '/dev/null', 4: 'socket:[7402]' });
    expect(search.find(7402, 1000, performance.now() + 10_000)).toBe(600);
    // the recent owner's socket at a descriptor no hint names: found by the search too
    symlinkSync('socket:[7403]', join(pidDir(40), 'fd', '20'));
    expect(search.find(7403, 1000, performance.now() + 10_000)).toBe(40);
  });

  it.skipIf(!js && needAddon)('a client opening connections faster than they end: its next socket is looked for after its last descriptor first', () => {
    const c = new ProcCorrelator({ procRoot: root, passwdPath: join(root, 'passwd'), containerResolver: null, sockDiag: null, ...(js ? { procScan: null } : {}) });
    c.prime();
    const links = [10, 11, 12, 13].map((fd) => join(pidDir(40), 'fd', String(fd)));
    onTestFinished(() => links.forEach((l) => rmSync(l, { force: true })));
    // three calls in flight at fds 10, 11, 12 (every one still open), then a fourth at 13
    links.forEach((l, k) => symlinkSync(`socket:[${7300 + k}]`, l));
    for (const k of [0, 1, 2]) {
      setSocketRow(43000 + k, 7300 + k);
      expect(c.findSocketOwner(tuple(43000 + k), 1_000)).toMatchObject({ outcome: 'found', process: { pid: 40 } });
    }
    const read = c.stats().hintLinksRead;
    const hits = c.stats().ownerHintHits;
    setSocketRow(43003, 7303);
    expect(c.findSocketOwner(tuple(43003), 1_000)).toMatchObject({ outcome: 'found', process: { pid: 40 } });
    expect(c.stats().ownerHintHits).toBe(hits + 1);
    expect(c.stats().hintLinksRead - read).toBe(1);
  });
});
