import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { LiveCapture } from '../../src/live/capture.js';

/**
 * LiveCapture's `bufferMs` (src/live/capture.ts): 0 opens the packet socket in immediate mode
 * (a TPACKET_V2 ring of small frames, no block timeout; `ver:1`), N opens it buffered (TPACKET_V3:
 * blocks the kernel hands over when full or N ms after they opened; `ver:2`). Checked on the kernel's
 * own description of the socket's ring (`ss --packet -e -p`), on loopback. Root only.
 */
const CI = process.env.CI === 'true';
const root = process.getuid?.() === 0;

function ringOfThisProcess(): string[] {
  const r = spawnSync('ss', ['--packet', '-a', '-e', '-p'], { encoding: 'utf8' });
  const lines = r.stdout.split('\n');
  const rings: string[] = [];
  lines.forEach((l, i) => {
    if (!l.includes(`pid=${process.pid},`)) return;
    // the socket's detail lines follow it, indented: "ver:N ..." (N: TPACKET_V1 = 0) and "ring_rx(...)"
    let detail = '';
    for (let j = i + 1; j < lines.length && /^\s/.test(lines[j]!); j++) detail += ` ${lines[j]!.trim()}`;
    if (detail.includes('ring_rx(')) rings.push(detail.trim());
  });
  return rings;
}

describe.skipIf(!root && !CI)('LiveCapture: immediate or buffered ring', () => {
  for (const [bufferMs, expected] of [
    [0, /^ver:1 .*ring_rx\(.*tmo:0,/],
    [50, /^ver:2 .*ring_rx\(blk_size:262144,.*tmo:50,/],
  ] as const) {
    it(`bufferMs ${bufferMs}: ${String(expected)}`, () => {
      expect(root, 'needs root').toBe(true);
      const c = new LiveCapture(() => {}, { interfaces: ['lo'], filter: 'tcp port 9', bufferBytes: 1 << 20, bufferMs });
      c.start();
      try {
        const rings = ringOfThisProcess();
        expect(rings).toHaveLength(1);
        expect(rings[0]).toMatch(expected);
      } finally {
        c.stop();
      }
    });
  }
});
