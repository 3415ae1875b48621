import { describe, expect, it } from 'vitest';
import type { ProcCorrelator, SocketTuple } from '../../src/enrich/process/proc-correlator.js';
import { linkTypeNumber } from '../../src/live/cap-binding.js';
import { RECORDS_PER_TUPLE, SynGate, tupleKey } from '../../src/live/gate.js';
import { HoldHistogram } from '../../src/live/hold-histogram.js';
import { ipv4Tcp } from '../support/testkit/packet-builders.js';

/** no SYN ever waits in the queue: the gate never sheds here (not read from this host's /proc) */
const CALM = { pilingUp: () => false };

function ipv4Syn(src: number[], sport: number, flags = 0x02, isn = 12345): Buffer {
  return ipv4Tcp({ src: src.join('.'), dst: '169.254.169.254', srcPort: sport, dstPort: 80, seq: isn, ack: 0, flags });
}
function ipv6Syn(sport: number): Buffer {
  const b = Buffer.alloc(60);
  b[0] = 0x60;
  b.writeUInt16BE(20, 4);
  b[6] = 6;
  b[7] = 64;
  Buffer.from('fd000ec2000100000000000000000002', 'hex').copy(b, 8);
  Buffer.from('fd000ec2000000000000000000000254', 'hex').copy(b, 24);
  b.writeUInt16BE(sport, 40);
  b.writeUInt16BE(80, 42);
  b[52] = 0x50;
  b[53] = 0x02;
  return b;
}

function fakeCorrelator(seen: SocketTuple[]): ProcCorrelator {
  return {
    findSocketOwner: (t: SocketTuple) => {
      seen.push(t);
      return { process: { pid: 42, exe: '/usr/bin/curl', cmdline: 'curl', uid: 0, user: 'root', unit: null, container: null, ancestors: [] }, netnsInode: 1, elapsedMs: 0.1, outcome: 'found', socket: null };
    },
    ownSocket: () => undefined,
    catchUp: () => {},
  } as unknown as ProcCorrelator;
}

describe('SynGate packet handling', () => {
  it('decodes IPv4 and IPv6 SYNs from the same queue by version nibble and records them by 4-tuple', () => {
    const seen: SocketTuple[] = [];
    const g = new SynGate(fakeCorrelator(seen), CALM);
    const r4 = g.onPacket(ipv4Syn([10, 213, 1, 2], 40000));
    const r6 = g.onPacket(ipv6Syn(40001));
    expect(r4?.key).toBe('10.213.1.2|40000|169.254.169.254|80');
    expect(r6?.key).toBe('fd00:ec2:1::2|40001|fd00:ec2::254|80');
    expect(seen.map((t) => t.ipVersion)).toEqual([4, 6]);
    expect(g.lookup(tupleKey({ srcIp: 'FD00:EC2:1::2', srcPort: 40001, dstIp: 'fd00:ec2::254', dstPort: 80 }))?.process?.pid).toBe(42);
    expect(g.stats()).toMatchObject({ syns: 2, outcomes: { found: 2 }, recordsKept: 2 });
    expect(g.holdHistogram().count).toBe(2);
  });

  it('passes non-SYN and garbage packets without a lookup', () => {
    const seen: SocketTuple[] = [];
    const g = new SynGate(fakeCorrelator(seen), CALM);
    expect(g.onPacket(ipv4Syn([10, 0, 0, 1], 1, 0x12))).toBeNull(); // SYN-ACK
    expect(g.onPacket(Buffer.from([0x45, 0, 0]))).toBeNull();
    expect(g.onPacket(Buffer.alloc(0))).toBeNull();
    expect(seen).toHaveLength(0);
    expect(g.stats().notSyn).toBe(3);
  });

  it('bounds and expires records', () => {
    const g = new SynGate(fakeCorrelator([]), { ...CALM, maxRecords: 10 });
    for (let i = 0; i < 50; i++) g.onPacket(ipv4Syn([10, 0, 0, 1], 1000 + i));
    expect(g.stats().recordsKept).toBe(10);
    expect(g.lookup('10.0.0.1|1049|169.254.169.254|80')).not.toBeNull();
    expect(g.lookup('10.0.0.1|1000|169.254.169.254|80')).toBeNull();
    expect(g.lookup('10.0.0.1|1049|169.254.169.254|80', Date.now() + 3_600_000)).toBeNull();
  });
});

/** a correlator that names a different process for each lookup: pid 1, 2, ... */
function countingCorrelator(): ProcCorrelator {
  let n = 0;
  return {
    findSocketOwner: () => {
      n++;
      return { process: { pid: n, exe: `/usr/bin/p${n}`, cmdline: '', uid: n, user: `u${n}`, unit: null, container: null, ancestors: [] }, netnsInode: 1, elapsedMs: 0.1, outcome: 'found', socket: null };
    },
    ownSocket: () => undefined,
    catchUp: () => {},
  } as unknown as ProcCorrelator;
}

describe('SynGate records: one per connection, not per reusable 4-tuple', () => {
  const key = '10.0.0.9|40000|169.254.169.254|80';

  it("answers a flow with its own SYN's record (by ISN) after the tuple was reused by another user's connection", () => {
    const g = new SynGate(countingCorrelator(), CALM);
    const first = g.onPacket(ipv4Syn([10, 0, 0, 9], 40000, 0x02, 1_000))!;
    const second = g.onPacket(ipv4Syn([10, 0, 0, 9], 40000, 0x02, 9_000_000))!;
    expect(first.process?.pid).toBe(1);
    expect(second.process?.pid).toBe(2);
    // the pipeline reads the first connection's packets after the second SYN was held
    expect(g.lookup(key, first.synMs, 1_000)?.process?.pid).toBe(1);
    expect(g.lookup(key, second.synMs, 9_000_000)?.process?.pid).toBe(2);
    // an ISN the gate never held: no record (not the tuple's newest)
    expect(g.lookup(key, second.synMs, 77)).toBeNull();
    expect(g.stats().recordsKept).toBe(2);
  });

  it('joined mid-connection (no ISN): the newest SYN held before the first packet, never a later one', () => {
    const g = new SynGate(countingCorrelator(), CALM);
    const first = g.onPacket(ipv4Syn([10, 0, 0, 9], 40000, 0x02, 1_000))!;
    g.onPacket(ipv4Syn([10, 0, 0, 9], 40000, 0x02, 2_000));
    expect(g.lookup(key, first.synMs + 60_000)?.process?.pid).toBe(2);
    // a packet from before both SYNs were held: neither is its connection
    expect(g.lookup(key, first.synMs - 5_000)).toBeNull();
    expect(g.reusedSince(key, first.synMs - 5_000)).toBe(true);
    expect(g.reusedSince(key, first.synMs + 60_000)).toBe(false);
  });

  it('a retransmitted SYN replaces its record; each tuple keeps its latest connections', () => {
    const g = new SynGate(countingCorrelator(), CALM);
    g.onPacket(ipv4Syn([10, 0, 0, 9], 40000, 0x02, 5));
    const again = g.onPacket(ipv4Syn([10, 0, 0, 9], 40000, 0x02, 5))!;
    expect(g.stats().recordsKept).toBe(1);
    expect(g.lookup(key, again.synMs, 5)?.process?.pid).toBe(2);
    for (let i = 0; i < RECORDS_PER_TUPLE + 2; i++) g.onPacket(ipv4Syn([10, 0, 0, 9], 40000, 0x02, 100 + i));
    expect(g.stats().recordsKept).toBe(RECORDS_PER_TUPLE);
    expect(g.lookup(key, again.synMs, 5)).toBeNull();
    expect(g.lookup(key, again.synMs, 100 + RECORDS_PER_TUPLE + 1)).not.toBeNull();
  });
});

describe('HoldHistogram', () => {
  it('buckets and quantiles', () => {
    const h = new HoldHistogram(100);
    for (let i = 1; i <= 100; i++) h.observe(i / 10);
    const s = h.snapshot();
    expect(s.count).toBe(100);
    expect(s.counts.reduce((a, b) => a + b, 0)).toBe(100);
    expect(s.counts[s.bucketsMs.indexOf(1)]).toBe(5); // 0.6..1.0
    expect(h.quantiles()).toMatchObject({ p50: 5, p99: 9.9, max: 10, samples: 100 });
  });
});

describe('linkTypeNumber', () => {
  it.each([
    ['LINKTYPE_LINUX_SLL', 113],
    ['ETHERNET', 1],
    ['RAW', 101],
    ['Unknown linktype 228', 228],
    ['Unknown linktype 276', 276],
    ['Unknown linktype 12', 101],
    ['something else', null],
  ])('%s → %s', (name, n) => expect(linkTypeNumber(name)).toBe(n));
});
