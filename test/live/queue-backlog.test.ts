import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pilingUp, queueBacklog, SHED_BACKLOG } from '../../src/live/queue-backlog.js';

/** /proc/net/netfilter/nfnetlink_queue: queue, peer portid, queue_total, copy mode, range, dropped, user dropped, id, 1 */
describe('NFQUEUE backlog (queue-backlog.ts)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'iw-nfq-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (text: string): string => {
    const p = join(dir, `q${Math.random()}`);
    writeFileSync(p, text);
    return p;
  };

  it('reads queue_total of the gate queue', () => {
    const p = file('    0  12345     0 2 65531     0     0        0  1\n    7  23456    17 2 65535     0     0     4711  1\n');
    expect(queueBacklog(7, p)).toBe(17);
    expect(queueBacklog(0, p)).toBe(0);
    expect(pilingUp(7, p)).toBe(false);
  });

  it('piles up at SHED_BACKLOG; unknown (no file, no such queue) lets the guard decide alone', () => {
    expect(pilingUp(7, file(`    7  23456 ${SHED_BACKLOG} 2 65535     0     0     4711  1\n`))).toBe(true);
    expect(queueBacklog(9, file('    7  23456     3 2 65535     0     0     4711  1\n'))).toBeNull();
    expect(pilingUp(7, join(dir, 'missing'))).toBe(true);
  });
});
