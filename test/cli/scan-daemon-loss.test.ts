import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lossesBetween } from '../../src/cli/scan-daemon.js';
import { acquireDaemonLock, askDaemon, type LockPlace } from '../../src/service/single-instance.js';

/**
 * A scan following the daemon judges its window by the daemon's own counters, asked at its
 * start and once the daemon has read its capture past the end (src/cli/scan-daemon.ts): the
 * daemon's loss log lines come once per save interval, after such a scan has printed READY.
 */
describe('lossesBetween', () => {
  const at = (over: Record<string, number> = {}) => ({ readUpToMs: 2_000, missedSyns: 3, requestGapBytes: 0, imdsUnread: 0, flowsEvicted: 0, frameOverflow: 0, logLinesDropped: 0, ...over });

  it('nothing lost between two answers, capture read to the end: no loss', () => {
    expect(lossesBetween(at({ readUpToMs: 1_000 }), at(), 2_000)).toEqual({});
  });

  it('names each counter that grew, by how much (a missed SYN, a dropped log line)', () => {
    expect(lossesBetween(at(), at({ missedSyns: 5, logLinesDropped: 1 }), 2_000)).toEqual({ 'daemon-missedSyns': 2, 'daemon-logLinesDropped': 1 });
  });

  it('a daemon that had not read its capture to the end, or gave no counters, is a loss', () => {
    expect(lossesBetween(at(), at({ readUpToMs: 1_999 }), 2_000)).toEqual({ 'daemon-capture-not-read-to-end': 1 });
    expect(lossesBetween(null, at(), 2_000)).toEqual({ 'daemon-counters-not-answered': 1 });
    expect(lossesBetween(at(), undefined, 2_000)).toEqual({ 'daemon-counters-not-answered': 1 });
  });
});

describe('the lock socket answers the daemon health read at each ask', () => {
  it('counters as they are when asked; a getter that throws or gives no numbers answers null', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'imdswatch-health-'));
    const place: LockPlace = { dirs: [join(dir, 'run')], netns: '79' };
    let missed = 0;
    let mode: 'ok' | 'throw' | 'junk' = 'ok';
    const lock = await acquireDaemonLock(place, {
      logFile: '/var/log/imdswatch/imdswatch.log',
      health: () => {
        if (mode === 'throw') throw new Error('no session');
        if (mode === 'junk') return { missedSyns: Number.NaN } as Record<string, number>;
        return { readUpToMs: 5, missedSyns: missed };
      },
    });
    try {
      expect((await askDaemon(place))?.health).toEqual({ readUpToMs: 5, missedSyns: 0 });
      missed = 4;
      expect((await askDaemon(place))?.health).toEqual({ readUpToMs: 5, missedSyns: 4 });
      mode = 'throw';
      expect(await askDaemon(place)).toMatchObject({ pid: process.pid, health: null });
      mode = 'junk';
      expect((await askDaemon(place))?.health).toBeNull();
    } finally {
      lock.release();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
