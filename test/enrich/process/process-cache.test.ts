import { rmSync, unlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessCache } from '../../../src/enrich/process/process-cache.js';
import { fakeProc } from './fake-proc.js';

/**
 * The process cache's identity checks (src/enrich/process/process-cache.ts): an entry is the
 * process with that pid AND start time AND program. A reused pid (new start time) and an
 * execve() in the same pid (same start time, new comm and exe) are both rebuilt, never
 * answered from the cache; an unchanged process is answered without rebuilding.
 */
const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

function setup() {
  const fp = fakeProc();
  roots.push(fp.root);
  const cache = new ProcessCache({ procRoot: fp.root, passwdPath: join(fp.root, 'passwd'), graceMs: 30_000, maxEntries: 64, maxAncestors: 8, now: () => Date.now() });
  fp.addPid(1, { comm: 'systemd', ppid: 0, uid: 0, argv: ['/sbin/init'], exe: '/usr/lib/systemd/systemd' });
  return { ...fp, cache };
}

/** what execve() changes in /proc/PID: comm (stat, status), exe, cmdline; pid and start time stay */
function execIn(root: string, pid: number, comm: string, exe: string, argv: string[], start = 1000) {
  const d = join(root, String(pid));
  writeFileSync(join(d, 'stat'), `${pid} (${comm}) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 ${start} 0 0\n`);
  writeFileSync(join(d, 'status'), `Name:\t${comm}\nTgid:\t${pid}\nPPid:\t1\nUid:\t0\t0\t0\t0\nVmSize:\t100 kB\n`);
  writeFileSync(join(d, 'cmdline'), argv.map((a) => `${a}\0`).join(''));
  unlinkSync(join(d, 'exe'));
  symlinkSync(exe, join(d, 'exe'));
}

describe('ProcessCache identity', () => {
  it('answers an unchanged process from the cache', () => {
    const { root, addPid, cache } = setup();
    void root;
    addPid(700, { comm: 'python3', ppid: 1, uid: 0, argv: ['python3', 'app.py'], exe: '/usr/bin/python3.11' });
    expect(cache.get(700)).toMatchObject({ pid: 700, exe: '/usr/bin/python3.11' });
    expect(cache.get(700)).toMatchObject({ pid: 700, exe: '/usr/bin/python3.11' });
    expect(cache.counters).toMatchObject({ built: 1, hits: 1 });
  });

  it('rebuilds a reused pid (another start time): the new process, never the old one', () => {
    const { root, addPid, cache } = setup();
    addPid(701, { comm: 'python3', ppid: 1, uid: 0, argv: ['python3', 'app.py'], exe: '/usr/bin/python3.11', start: 1000 });
    expect(cache.get(701)?.exe).toBe('/usr/bin/python3.11');
    rmSync(join(root, '701'), { recursive: true });
    addPid(701, { comm: 'curl', ppid: 1, uid: 0, argv: ['curl', 'http://169.254.169.254/'], exe: '/usr/bin/curl', start: 5000 });
    expect(cache.get(701)).toMatchObject({ pid: 701, exe: '/usr/bin/curl', cmdline: 'curl http://169.254.169.254/' });
    expect(cache.counters.built).toBe(2);
  });

  it('rebuilds a process that exec()ed another program (same pid and start time)', () => {
    const { root, addPid, cache } = setup();
    addPid(702, { comm: 'sh', ppid: 1, uid: 0, argv: ['/bin/sh', '/usr/local/bin/fetch.sh'], exe: '/usr/bin/dash', start: 1000 });
    expect(cache.get(702)?.exe).toBe('/usr/bin/dash');
    execIn(root, 702, 'curl', '/usr/bin/curl', ['curl', '-s', 'http://169.254.169.254/latest/meta-data/']);
    expect(cache.get(702)).toMatchObject({ pid: 702, exe: '/usr/bin/curl', cmdline: 'curl -s http://169.254.169.254/latest/meta-data/' });
    expect(cache.counters.built).toBe(2);
  });
});
