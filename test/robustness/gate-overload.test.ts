import { describe, expect, it } from 'vitest';
import type { ProcCorrelator } from '../../src/enrich/process/proc-correlator.js';
import { DEFAULT_GATE_OPTIONS, SynGate } from '../../src/live/gate.js';

/**
 * The SYN gate's overload guard, with a fake /proc lookup that takes `lookupMs` of real
 * time (busy wait: the gate measures its holds with performance.now()).
 */
function syn(port: number): Buffer {
  const b = Buffer.alloc(40);
  b[0] = 0x45;
  b.writeUInt16BE(40, 2);
  b[8] = 64;
  b[9] = 6;
  Buffer.from([10, 0, 0, 9]).copy(b, 12);
  Buffer.from([169, 254, 169, 254]).copy(b, 16);
  b.writeUInt16BE(port, 20);
  b.writeUInt16BE(80, 22);
  b[32] = 0x50;
  b[33] = 0x02;
  return b;
}

function slowCorrelator(lookupMs: number): ProcCorrelator {
  return {
    findSocketOwner: () => {
      const end = performance.now() + lookupMs;
      while (performance.now() < end) {
        /* a slow /proc */
      }
      return { process: null, netnsInode: null, elapsedMs: lookupMs, outcome: 'no-socket', socket: null };
    },
    catchUp: () => {},
  } as unknown as ProcCorrelator;
}

describe('SynGate overload guard', () => {
  it('sheds back-to-back SYNs once lookups took half of the window: a flood cannot stall the queue', () => {
    const g = new SynGate(slowCorrelator(20));
    const results = Array.from({ length: 40 }, (_, i) => g.onPacket(syn(20000 + i)));
    const st = g.stats();
    // 25 ms of a 100 ms window: the second 20 ms lookup crosses the share, the rest of the window is shed
    expect(st.syns + st.shed).toBe(40);
    expect(st.shed).toBeGreaterThan(20);
    expect(results.filter((r) => r === null).length).toBe(st.shed);
    // the first SYN of a burst is always looked up
    expect(results[0]).not.toBeNull();
  });

  it('never sheds SYNs that arrive one at a time, however slow the lookup', async () => {
    const g = new SynGate(slowCorrelator(60));
    for (let i = 0; i < 5; i++) {
      expect(g.onPacket(syn(30000 + i)), `SYN ${i}`).not.toBeNull();
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(g.stats()).toMatchObject({ syns: 5, shed: 0 });
  });

  it("defaults: a quarter of each 100 ms window", () => {
    expect(DEFAULT_GATE_OPTIONS).toMatchObject({ maxBusyShare: 0.25, busyWindowMs: 100 });
  });
});
