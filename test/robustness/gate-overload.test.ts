import { describe, expect, it } from 'vitest';
import type { ProcCorrelator } from '../../src/enrich/process/proc-correlator.js';
import { DEFAULT_GATE_OPTIONS, SynGate } from '../../src/live/gate.js';
import { ipv4Tcp } from '../support/testkit/packet-builders.js';

/**
 * The SYN gate's overload guard, with a fake /proc lookup that takes `lookupMs` of real
 * time (busy wait: the gate measures its holds with performance.now()).
 */
function syn(port: number): Buffer {
  return ipv4Tcp({ src: '10.0.0.9', dst: '169.254.169.254', srcPort: port, dstPort: 80, seq: 0, ack: 0, flags: 'S' });
}

function slowCorrelator(lookupMs: number | ((t: { srcPort: number }) => number)): ProcCorrelator {
  return {
    findSocketOwner: (t: { srcPort: number }) => {
      const ms = typeof lookupMs === 'number' ? lookupMs : lookupMs(t);
      const end = performance.now() + ms;
      while (performance.now() < end) {
        /* a slow /proc */
      }
      return { process: null, netnsInode: null, elapsedMs: ms, outcome: 'no-socket', socket: null };
    },
    ownSocket: () => undefined,
    catchUp: () => {},
  } as unknown as ProcCorrelator;
}

/**
 * SYNs pile up in the kernel queue (the gate sheds only then): said here, not read from this
 * host's /proc, where another test's or a daemon's queue 7 may be anything at that moment
 */
const PILED = { pilingUp: () => true };

describe('SynGate overload guard', () => {
  it('sheds back-to-back SYNs once lookups took half of the window: a flood cannot stall the queue', () => {
    const g = new SynGate(slowCorrelator(20), PILED);
    const results = Array.from({ length: 40 }, (_, i) => g.onPacket(syn(20000 + i)));
    const st = g.stats();
    // 25 ms of a 100 ms window: the second 20 ms lookup crosses the share, the rest of the window is shed
    expect(st.syns + st.shed).toBe(40);
    expect(st.shed).toBeGreaterThan(20);
    expect(results.filter((r) => r?.outcome === 'shed').length).toBe(st.shed);
    // the first SYN of a burst is always looked up
    expect(results[0]).not.toBeNull();
  });

  it('never sheds SYNs that arrive one at a time, however slow the lookup', async () => {
    const g = new SynGate(slowCorrelator(60), PILED);
    for (let i = 0; i < 5; i++) {
      expect(g.onPacket(syn(30000 + i)), `SYN ${i}`).not.toBeNull();
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(g.stats()).toMatchObject({ syns: 5, shed: 0 });
  });

  it.each([
    ['0.3 ms', 0.3],
    ['40 ms (a daemon short of CPU: every wall-clock lookup time inflated)', 40],
  ])("sheds a flooding uid's SYNs, never another uid's: every root SYN in the flood is looked up, the flood is counted by uid (root's lookups %s)", (_label, rootMs) => {
    // a fake clock: each lookup advances it (the flooder's 2 ms: new processes each time;
    // root's rootMs), and the flooder's SYNs arrive 0.2 ms apart (5 000/s), root's every
    // 100 ms, back to back with them; no real time is measured
    let clock = 1000;
    const uidOf = (t: { srcPort: number }) => (t.srcPort >= 40000 ? 0 : 1000);
    const c = {
      findSocketOwner: (t: { srcPort: number }) => {
        const ms = t.srcPort >= 40000 ? rootMs : 2;
        clock += ms;
        return { process: null, netnsInode: null, elapsedMs: ms, outcome: 'no-socket', socket: null };
      },
      ownSocket: () => undefined,
    catchUp: () => {},
    } as unknown as ProcCorrelator;
    const g = new SynGate(c, { ...PILED, uidOf, now: () => clock });
    const root: Array<ReturnType<SynGate['onPacket']>> = [];
    for (let i = 0; i < 20_000; i++) {
      clock += 0.2;
      g.onPacket(syn(1024 + (i % 30000)));
      if (i % 500 === 250) root.push(g.onPacket(syn(40000 + root.length)));
    }
    const st = g.stats();
    expect(root).toHaveLength(40);
    expect(root.filter((r) => r?.outcome !== 'no-socket')).toEqual([]);
    expect(root.every((r) => r?.uid === 0)).toBe(true);
    // the flooder's back-to-back lookups are held to an eighth of the time: most of its SYNs are shed
    expect(st.shed).toBeGreaterThan(15_000);
    expect(st.shedByUid).toEqual({ '1000': st.shed });
  });

  it('a shed SYN keeps a record with its uid (no passive lookup later), and no lookup ran for it', () => {
    let lookups = 0;
    // a clock that moves only while a lookup runs (30 ms each): on the real clock a pause of
    // the test process between two SYNs (a loaded CI machine) read as the guard's idle gap,
    // its window restarted, and the second SYN was looked up (seen once in CI)
    let t = 0;
    const c = slowCorrelator(0);
    const find = c.findSocketOwner.bind(c);
    c.findSocketOwner = (...a: Parameters<typeof find>) => {
      lookups++;
      t += 30;
      return find(...a);
    };
    const g = new SynGate(c, { ...PILED, uidOf: () => 1000, now: () => t });
    const recs = Array.from({ length: 5 }, (_, i) => g.onPacket(syn(21000 + i)));
    expect(lookups).toBe(1);
    expect(recs.slice(1).map((r) => r?.outcome)).toEqual(['shed', 'shed', 'shed', 'shed']);
    expect(g.lookup(recs[4]!.key, recs[4]!.synMs)).toMatchObject({ outcome: 'shed', uid: 1000, process: null });
  });

  it("defaults: a quarter of each 100 ms window", () => {
    expect(DEFAULT_GATE_OPTIONS).toMatchObject({ maxBusyShare: 0.25, busyWindowMs: 100 });
  });
});
