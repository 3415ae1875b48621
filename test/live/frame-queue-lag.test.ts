import { describe, expect, it } from 'vitest';
import { FrameQueue, DEFAULT_FRAME_QUEUE } from '../../src/live/frame-queue.js';
import type { Frame } from '../../src/source/frame.js';

/**
 * The frame queue lags (its shed rule on: src/live/unread-connections.ts) by age, not by count
 * alone (docs/design.md#lane-batching): a buffered capture hands over a block of hundreds of
 * frames read at one moment, which crossed the count while the pipeline kept up, and shed
 * connections were then left unread for nothing. Lagging is at least `lagFrames` waiting AND
 * the oldest read at least `lagMs` before the newest.
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

  it(`lags once at least lagFrames wait and the oldest is lagMs (${DEFAULT_FRAME_QUEUE.lagMs} ms) older than the newest; a shed frame takes no place`, () => {
    const asked: boolean[] = [];
    const q = new FrameQueue(() => {}, (_f, lagging) => {
      asked.push(lagging);
      return lagging;
    }, { lagFrames: 3, lagMs: 100 });
    const t = 1_700_000_000_000;
    q.push(frame(t));
    q.push(frame(t + 150)); // 150 ms apart, but only 1 waits before it
    q.push(frame(t + 160));
    expect(asked).toEqual([false, false, false]);
    q.push(frame(t + 170)); // 3 wait, the oldest 170 ms older: lagging
    q.push(frame(t + 180));
    expect(asked).toEqual([false, false, false, true, true]);
    expect(q.waiting).toBe(3);
    expect(q.stats().shed).toBe(2);
    expect(q.lagging).toBe(true);
    q.drain();
    expect(q.lagging).toBe(false);
  });
});
