import { createSocket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { LiveCapture } from '../../src/live/capture.js';
import { makeClock } from '../../src/live/cap-binding.js';
import type { Frame } from '../../src/source/frame.js';

/**
 * LiveCapture's frames own their bytes (docs/design.md#capture-copy): cap reuses one buffer
 * per device, the capture copies each packet once, and the frame queue keeps the frame as
 * given. Frames kept past their callback must still hold their own packet. Root only (a real
 * capture on loopback).
 */
const CI = process.env.CI === 'true';
const root = process.getuid?.() === 0;

describe.skipIf(!root && !CI)('LiveCapture: frames own their bytes', () => {
  it('three datagrams kept past their callbacks each still hold their own payload', async () => {
    expect(root, 'needs root').toBe(true);
    const rx = createSocket('udp4');
    await new Promise<void>((r) => rx.bind(0, '127.0.0.1', r));
    const port = rx.address().port;
    const kept: Frame[] = [];
    const c = new LiveCapture((f) => kept.push(f), { interfaces: ['lo'], filter: `udp dst port ${port}`, bufferBytes: 1 << 20, bufferMs: 0 });
    c.start();
    const tx = createSocket('udp4');
    try {
      const payloads = ['first-datagram-AAAA', 'second-datagram-BBBBBBBB', 'third-CC'];
      for (const p of payloads) {
        await new Promise<void>((r, j) => tx.send(p, port, '127.0.0.1', (e) => (e ? j(e) : r())));
        await new Promise((r) => setTimeout(r, 20));
      }
      for (let i = 0; i < 100 && kept.length < payloads.length; i++) await new Promise((r) => setTimeout(r, 20));
      const tails = kept.map((f) => f.data.subarray(f.data.length - 30).toString('latin1'));
      for (const p of payloads) expect(tails.filter((t) => t.endsWith(p)), p).toHaveLength(1);
    } finally {
      c.stop();
      tx.close();
      rx.close();
    }
  });
});

describe('the capture clock (makeClock)', () => {
  it('gives the wall-clock time, never going back, nsec within a second', async () => {
    const clock = makeClock();
    let prev = -1;
    for (let i = 0; i < 2000; i++) {
      const t = clock();
      expect(t.nsec).toBeGreaterThanOrEqual(0);
      expect(t.nsec).toBeLessThan(1e9);
      expect(Number.isInteger(t.sec) && Number.isInteger(t.nsec)).toBe(true);
      const ns = t.sec * 1e9 + t.nsec;
      expect(ns).toBeGreaterThanOrEqual(prev);
      prev = ns;
    }
    await new Promise((r) => setTimeout(r, 30));
    const t = clock();
    expect(Math.abs(t.sec * 1000 + t.nsec / 1e6 - Date.now())).toBeLessThan(50);
  });
});
