import { describe, expect, it } from 'vitest';
import { FrameQueue, DEFAULT_FRAME_QUEUE } from '../../src/live/frame-queue.js';
import type { Frame } from '../../src/source/frame.js';

/**
 * The frame queue lags (answers may still wait in it: the half-closed and gate-rule checks wait)
 * by age, not by count alone (docs/design.md#lane-batching): a buffered capture hands over a
 * block of hundreds of frames read at one moment, which crossed the count while the pipeline
 * kept up. Lagging is at least `lagFrames` waiting AND the oldest read at least `lagMs` before
 * the newest.
 */
const frame = (ms: number): Frame => ({ sec: Math.floor(ms / 1000), nsec: (ms % 1000) * 1e6, linkType: 101, data: Buffer.from([1]), origLen: 1, iface: 0 });

describe('FrameQueue: lagging by age', () => {
  it('a block of 1 000 frames read at one moment does not lag', () => {
    const asked: boolean[] = [];
    const q = new FrameQueue(() => {}, (_f, lagging) => {
      asked.push(lagging);
      return false;
    });
    const t = 1_700_000_000_000;
    for (let i = 0; i < 1000; i++) q.push(frame(t + (i % 3)));
    expect(q.waiting).toBe(1000);
    expect(asked.filter(Boolean)).toHaveLength(0);
    expect(q.lagging).toBe(false);
    q.drain();
  });

  it(`lags once at least lagFrames wait and the oldest is lagMs (${DEFAULT_FRAME_QUEUE.lagMs} ms) older than the newest`, () => {
    const q = new FrameQueue(() => {}, () => false, { lagFrames: 3, lagMs: 100 });
    const t = 1_700_000_000_000;
    q.push(frame(t));
    q.push(frame(t + 150)); // 150 ms apart, but only 2 wait
    expect(q.lagging).toBe(false);
    q.push(frame(t + 160)); // 3 wait, the oldest 160 ms older: lagging
    expect(q.lagging).toBe(true);
    q.drain();
    expect(q.lagging).toBe(false);
  });
});

/**
 * The shed rule (src/live/unread-connections.ts) is on only near the queue's bound
 * (docs/design.md#unread-near-bound): a queue that lags by age but is far from overflowing is
 * worked off, every call read. At 1 000 one-shot calls/s on a busy machine the age rule was
 * true for most of a 3-minute soak and ~13 % of root's calls were left unread.
 */
describe('FrameQueue: shed only near the bound', () => {
  it(`asks shed with nearBound=false while lagging by age below shedFrames (${DEFAULT_FRAME_QUEUE.shedFrames}), true from it; a shed frame takes no place`, () => {
    const asked: boolean[] = [];
    const q = new FrameQueue(() => {}, (_f, nearBound) => {
      asked.push(nearBound);
      return nearBound;
    }, { lagFrames: 2, lagMs: 100, shedFrames: 4 });
    const t = 1_700_000_000_000;
    for (let i = 0; i < 4; i++) q.push(frame(t + 200 * i));
    expect(q.lagging).toBe(true);
    expect(asked).toEqual([false, false, false, false]);
    q.push(frame(t + 1000)); // 4 wait: near the bound
    q.push(frame(t + 1001));
    expect(asked).toEqual([false, false, false, false, true, true]);
    expect(q.waiting).toBe(4);
    expect(q.stats().shed).toBe(2);
    expect(q.nearBound).toBe(true);
    q.drain();
    expect(q.nearBound).toBe(false);
  });

  it('is near the bound from shedBytes waiting, whatever the count', () => {
    const asked: boolean[] = [];
    const q = new FrameQueue(() => {}, (_f, nearBound) => {
      asked.push(nearBound);
      return false;
    }, { shedBytes: 3 * 1500 });
    const big = (ms: number): Frame => ({ ...frame(ms), data: Buffer.alloc(1500), origLen: 1500 });
    for (let i = 0; i < 4; i++) q.push(big(i));
    expect(asked).toEqual([false, false, false, true]);
    q.drain();
  });

  it('defaults: a quarter of the bound', () => {
    expect(DEFAULT_FRAME_QUEUE.shedFrames * 4).toBe(DEFAULT_FRAME_QUEUE.maxFrames);
    expect(DEFAULT_FRAME_QUEUE.shedBytes * 4).toBe(DEFAULT_FRAME_QUEUE.maxBytes);
  });
});
