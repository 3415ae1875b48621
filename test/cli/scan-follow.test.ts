import { appendFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FollowError, LogFollower } from '../../src/cli/scan-follow.js';
import type { ImdsEvent } from '../../src/imds/event.js';
import { acquireDaemonLock, askDaemon, type LockPlace } from '../../src/service/single-instance.js';

/**
 * The follower under `scan` while the daemon runs: the daemon's event log read from its end,
 * by inode across any number of rotations, truncation, and never through a symlink or FIFO.
 */
const line = (ua: string, ts = '2030-01-01T00:00:01.000Z', extra: Record<string, unknown> = {}) =>
  `${JSON.stringify({ level: 'warn', time: ts, app: 'imdswatch', kind: 'imds-request', event: { ts, version: 'v1', method: 'GET', path: '/latest/meta-data/', status: 200, client: { ip: '10.0.0.2', port: 4000 }, userAgent: ua, attribution: 'gate', process: { pid: 7, exe: '/usr/bin/curl', uid: 1000, user: 'alice', unit: null, container: null, cmdline: 'curl', ancestors: [] } }, ...extra, msg: 'x' })}\n`;

describe('LogFollower', () => {
  let dir: string;
  let log: string;
  let got: ImdsEvent[];
  const follow = (since = '2030-01-01T00:00:00.000Z') => new LogFollower({ path: log, since, onEvent: (ev) => got.push(ev) });
  const uas = () => got.map((e) => e.userAgent);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'imdswatch-follow-'));
    mkdirSync(join(dir, 'log'), { mode: 0o700 });
    log = join(dir, 'log', 'imdswatch.log');
    got = [];
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('starts at the end: what was logged before (and rotated before) is not the scan\'s', () => {
    writeFileSync(join(dir, 'log', 'imdswatch.log.1'), line('old-rotated'));
    writeFileSync(log, line('old'));
    const f = follow();
    appendFileSync(log, line('new'));
    f.poll();
    expect(uas()).toEqual(['new']);
  });

  it('reads every line across several rotations between two polls, oldest first', () => {
    writeFileSync(log, '');
    const f = follow();
    appendFileSync(log, line('a'));
    f.poll();
    appendFileSync(log, line('b'));
    // three rotations as src/sinks/rotating-file.ts does them, with no poll between
    for (const ua of ['c', 'd', 'e']) {
      for (let i = 3; i >= 1; i--) {
        try {
          renameSync(`${log}.${i}`, `${log}.${i + 1}`);
        } catch {
          /* not there yet */
        }
      }
      renameSync(log, `${log}.1`);
      writeFileSync(log, line(ua));
    }
    f.poll();
    const st = f.finish('2030-01-01T00:00:02.000Z');
    expect(uas()).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(st.rotations).toBe(3);
    expect(st.events).toBe(5);
  });

  it('a line written in two pieces is one event; a file cut shorter is read again from its start', () => {
    writeFileSync(log, line('before'));
    const f = follow();
    const l = line('split');
    appendFileSync(log, l.slice(0, 40));
    f.poll();
    expect(uas()).toEqual([]);
    appendFileSync(log, l.slice(40));
    f.poll();
    expect(uas()).toEqual(['split']);
    truncateSync(log, 0);
    appendFileSync(log, line('after-truncate'));
    f.poll();
    expect(uas()).toEqual(['split', 'after-truncate']);
  });

  it('keeps events of the scan\'s window only, leaves out doctor\'s own probe, counts non-JSON lines and the daemon\'s loss lines', () => {
    writeFileSync(log, '');
    const losses: string[] = [];
    const f = new LogFollower({ path: log, since: '2030-01-01T00:00:01.000Z', onEvent: (ev) => got.push(ev), onLoss: (m) => losses.push(m) });
    appendFileSync(log, line('too-early', '2030-01-01T00:00:00.500Z'));
    appendFileSync(log, line('probe', '2030-01-01T00:00:01.500Z', { ownProbe: true }));
    appendFileSync(log, 'not json\n');
    appendFileSync(log, `${JSON.stringify({ level: 'error', time: '2030-01-01T00:00:01.600Z', app: 'imdswatch', kind: 'capture', missedSyns: 3, msg: 'the capture missed connections' })}\n`);
    appendFileSync(log, line('in-window', '2030-01-01T00:00:01.700Z'));
    appendFileSync(log, line('too-late', '2030-01-01T00:00:03.000Z'));
    const st = f.finish('2030-01-01T00:00:02.000Z');
    expect(uas()).toEqual(['in-window']);
    expect(got[0]!.process).toMatchObject({ exe: '/usr/bin/curl', user: 'alice' });
    expect(st).toMatchObject({ skippedLines: 1, lossLines: 1 });
    expect(losses).toEqual(['the capture missed connections']);
  });

  it('refuses a symlink, a FIFO, and a directory other users can write, in one line', () => {
    writeFileSync(join(dir, 'real.log'), '');
    symlinkSync(join(dir, 'real.log'), log);
    expect(() => follow()).toThrow(FollowError);
    expect(() => follow()).toThrow(/symlink/);
    rmSync(log);
    execFileSync('mkfifo', [log]);
    expect(() => follow()).toThrow(/not a regular file/);
    const open = join(dir, 'open');
    mkdirSync(open, { mode: 0o777 });
    execFileSync('chmod', ['0777', open]);
    writeFileSync(join(open, 'x.log'), '');
    expect(() => new LogFollower({ path: join(open, 'x.log'), since: '', onEvent: () => {} })).toThrow(/every user can write it/);
  });
});

describe('askDaemon', () => {
  it("reads the running daemon's pid and event log from its lock socket", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'imdswatch-ask-'));
    const place: LockPlace = { dirs: [join(dir, 'run')], netns: '77' };
    try {
      expect(await askDaemon(place)).toBeNull();
      const lock = await acquireDaemonLock(place, { logFile: '/var/log/imdswatch/imdswatch.log' });
      try {
        expect(await askDaemon(place)).toMatchObject({ pid: process.pid, logFile: '/var/log/imdswatch/imdswatch.log', owner: { uid: process.getuid!() } });
        expect(await askDaemon({ ...place, netns: '78' })).toBeNull();
      } finally {
        lock.release();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
