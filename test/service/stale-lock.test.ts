import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pidHoldsSocket } from '../../src/service/single-instance.js';

/**
 * A user's scan may not connect to the daemon's root-only lock socket, so it cannot ask it;
 * a socket left by a SIGKILLed daemon (or whose network namespace id a new namespace reused)
 * refused every user's scan as "daemon running" (seen in CI: a lab's scan as nobody met a
 * killed daemon's socket). /proc says whether the pid still runs and is the same process.
 */
describe('pidHoldsSocket', () => {
  const dir = mkdtempSync(join(tmpdir(), 'imdswatch-stale-'));
  const proc = join(dir, 'proc');
  const sock = join(dir, 'daemon.sock');
  const BTIME = 1_700_000_000;
  mkdirSync(proc);
  writeFileSync(join(proc, 'stat'), `cpu  1 2 3\nbtime ${BTIME}\nprocesses 9\n`);
  writeFileSync(sock, '');
  // the socket was made 100 s after boot
  utimesSync(sock, BTIME + 100, BTIME + 100);
  /** a /proc/PID/stat whose process started `sec` seconds after boot (comm with spaces and parens) */
  const started = (pid: number, sec: number) => {
    mkdirSync(join(proc, String(pid)), { recursive: true });
    const after = ['S', '1', '1', '1', '0', '-1', '4194560', '0', '0', '0', '0', '0', '0', '0', '0', '20', '0', '1', '0', String(sec * 100), '0'];
    writeFileSync(join(proc, String(pid), 'stat'), `${pid} (node (x) y) ${after.join(' ')}\n`);
  };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the daemon that made the socket still runs: live', () => {
    started(10, 99);
    expect(pidHoldsSocket(10, sock, proc)).toBe(true);
  });

  it('no such process: the socket is a dead daemon\'s', () => {
    expect(pidHoldsSocket(11, sock, proc)).toBe(false);
  });

  it('the pid runs but started after the socket was made: reused, not the daemon', () => {
    started(12, 500);
    expect(pidHoldsSocket(12, sock, proc)).toBe(false);
  });
});
