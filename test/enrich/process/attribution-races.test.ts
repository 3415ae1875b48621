import { rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcCorrelator } from '../../../src/enrich/process/proc-correlator.js';
import { waitingFirst } from '../../../src/enrich/process/waiting-first.js';
import { fakeProc, HEADER, ROW, TUPLE } from './fake-proc.js';

/**
 * The races between a caller's start and the SYN gate's lookup (docs/design.md#attribution),
 * on a fake /proc so each order of events is exact: a network namespace whose first process
 * appears right after the namespaces were read, a process that entered another namespace
 * after its own was read, and a burst where the newest pids are still in exec().
 */
const CONTAINER_NS = 4026532999;

describe('attribution races (fake /proc)', () => {
  const roots: string[] = [];
  const proc = () => {
    const fp = fakeProc();
    roots.push(fp.root);
    fp.setNet('net', HEADER);
    fp.addPid(1, { comm: 'systemd', ppid: 0, uid: 0, argv: ['/sbin/init'], exe: '/usr/lib/systemd/systemd' });
    const c = new ProcCorrelator({ procRoot: fp.root, passwdPath: join(fp.root, 'passwd'), containerResolver: null, sockDiag: null });
    return { fp, c };
  };
  afterEach(() => {
    for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
  });

  it('finds a socket in a namespace whose first process started just after the namespaces were last read', () => {
    const { fp, c } = proc();
    c.prime();
    // a lookup that misses everywhere reads the namespaces again (the old code did, then not for 200 ms)
    expect(c.findSocketOwner({ ...TUPLE, srcPort: 1 }, 1_000).outcome).toBe('no-socket');
    // now a container starts and its entrypoint calls IMDS at once
    fp.addPid(4000, { comm: 'curl', ppid: 1, uid: 0, argv: ['curl'], exe: '/usr/bin/curl', netns: CONTAINER_NS, fds: [777001] });
    fp.setNet('4000/net', HEADER + ROW);
    const r = c.findSocketOwner(TUPLE, 1_000);
    expect({ outcome: r.outcome, pid: r.process?.pid, netns: r.netnsInode }).toEqual({ outcome: 'found', pid: 4000, netns: CONTAINER_NS });
  });

  it('finds a socket of a process that entered another namespace after its own was read (setns, as `ip netns exec` does)', () => {
    const { fp, c } = proc();
    fp.addPid(4100, { comm: 'ip', ppid: 1, uid: 0, argv: ['ip', 'netns', 'exec', 'ctr', 'curl'], exe: '/usr/bin/ip' });
    c.prime();
    expect(c.findSocketOwner({ ...TUPLE, srcPort: 1 }, 1_000).outcome).toBe('no-socket');
    // the same pid, now in the container's namespace and exec'd into curl
    unlinkSync(join(fp.root, '4100/ns/net'));
    symlinkSync(`net:[${CONTAINER_NS}]`, join(fp.root, '4100/ns/net'));
    symlinkSync('socket:[777001]', join(fp.root, '4100/fd/3'));
    fp.setNet('4100/net', HEADER + ROW);
    const r = c.findSocketOwner(TUPLE, 1_000);
    expect({ outcome: r.outcome, pid: r.process?.pid, netns: r.netnsInode }).toEqual({ outcome: 'found', pid: 4100, netns: CONTAINER_NS });
  });

  it('reads the waiting new pids before the running ones (a pid in exec() makes /proc reads wait)', () => {
    const { fp, c } = proc();
    fp.setNet('net', HEADER + ROW);
    c.prime();
    // the caller (waiting in connect) and, newer, two processes still starting (R, D)
    fp.addPid(5000, { comm: 'curl', ppid: 1, uid: 65534, argv: ['curl'], exe: '/usr/bin/curl', fds: [777001], state: 'S' });
    fp.addPid(5001, { comm: 'sh', ppid: 1, uid: 65534, argv: ['sh'], exe: '/bin/sh', state: 'R' });
    fp.addPid(5002, { comm: 'sh', ppid: 1, uid: 65534, argv: ['sh'], exe: '/bin/sh', state: 'D' });
    const before = c.stats().fdDirsScanned;
    const r = c.findSocketOwner(TUPLE, 1_000);
    expect(r.process?.pid).toBe(5000);
    // only the caller's fd table was read
    expect(c.stats().fdDirsScanned - before).toBe(1);
  });

  it('waitingFirst keeps the order within each group', () => {
    const fp = fakeProc();
    roots.push(fp.root);
    const states: Array<[number, string]> = [[9, 'R'], [8, 'S'], [7, 'D'], [6, 'S'], [5, 'Z']];
    for (const [pid, state] of states) fp.addPid(pid, { comm: 'x', ppid: 1, uid: 0, argv: ['x'], state });
    expect(waitingFirst(fp.root, [9, 8, 7, 6, 5, 4])).toEqual([8, 6, 9, 7, 5, 4]);
    // past maxStat the order is left as it is
    expect(waitingFirst(fp.root, [9, 8, 7, 6, 5], 2)).toEqual([8, 9, 7, 6, 5]);
  });
});
