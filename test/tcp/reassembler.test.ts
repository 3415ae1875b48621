import { describe, expect, it } from 'vitest';
import { Reassembler, type ReassemblerLimits } from '../../src/tcp/reassembler.js';
import { PIECE_COST } from '../../src/tcp/memory-budget.js';
import { FlowTable } from '../../src/tcp/flow-table.js';

/** a FlowStats with every counter at zero: a fresh table's */
const emptyFlowStats = () => ({ ...new FlowTable({ onFlow: () => null as never }).stats });
import { TCP_FIN, TCP_SYN } from '../../src/decode/packet.js';
import { Recorder, TestAccount } from './helpers.js';

interface Seg {
  seq: number;
  data?: string;
  flags?: number;
  missing?: number;
}

const S = TCP_SYN;
const F = TCP_FIN;

function run(segs: Seg[], limits: Partial<ReassemblerLimits> = {}, endAt?: 'eof') {
  const rec = new Recorder();
  const stats = emptyFlowStats();
  const budget = new TestAccount();
  const r = new Reassembler(rec, stats, budget, { maxBufferedBytes: 1 << 20, maxBufferedSegments: 1000, ...limits });
  segs.forEach((s, i) => r.push(s.seq >>> 0, s.flags ?? 0, Buffer.from(s.data ?? '', 'latin1'), s.missing ?? 0, i, 0));
  if (endAt) r.end(endAt, 99, 0);
  return { rec, stats, budget, r };
}

// gopacket TestReorder style: {in, want}
const cases: Array<{ name: string; in: Seg[]; want: string; end: string[]; eof?: boolean; limits?: Partial<ReassemblerLimits> }> = [
  { name: 'in order', in: [{ seq: 999, flags: S }, { seq: 1000, data: 'abc' }, { seq: 1003, data: 'def' }, { seq: 1006, flags: F }], want: 'abcdef', end: ['fin'] },
  { name: 'reversed', in: [{ seq: 999, flags: S }, { seq: 1006, flags: F }, { seq: 1003, data: 'def' }, { seq: 1000, data: 'abc' }], want: 'abcdef', end: ['fin'] },
  { name: 'retransmission dropped', in: [{ seq: 0, flags: S }, { seq: 1, data: 'ab' }, { seq: 1, data: 'ab' }, { seq: 3, data: 'cd' }], want: 'abcd', end: ['eof'], eof: true },
  { name: 'partial retransmission keeps new tail', in: [{ seq: 0, flags: S }, { seq: 1, data: 'ab' }, { seq: 2, data: 'XYZ' }], want: 'abYZ', end: ['eof'], eof: true },
  {
    name: 'overlap: first buffered copy wins',
    in: [{ seq: 0, flags: S }, { seq: 3, data: 'cd' }, { seq: 2, data: 'XYZW' }, { seq: 1, data: 'a' }],
    want: 'aXcdW',
    end: ['eof'],
    eof: true,
  },
  {
    name: 'in-order segment does not override buffered bytes',
    in: [{ seq: 0, flags: S }, { seq: 4, data: 'DD' }, { seq: 1, data: 'abcXX' }],
    want: 'abcDD',
    end: ['eof'],
    eof: true,
  },
  { name: 'wraparound', in: [{ seq: 0xfffffffe, flags: S }, { seq: 0xffffffff, data: 'ab' }, { seq: 1, data: 'cd' }, { seq: 3, flags: F }], want: 'abcd', end: ['fin'] },
  { name: 'wraparound reordered', in: [{ seq: 0xfffffffd, flags: S }, { seq: 1, data: 'cd' }, { seq: 0xfffffffe, data: 'ab' }, { seq: 0, data: 'X' }], want: 'abXcd', end: ['eof'], eof: true },
  { name: 'mid-stream start at first data', in: [{ seq: 5000, data: 'hello' }, { seq: 5005, data: ' world', flags: F }], want: 'hello world', end: ['fin'] },
  { name: 'data before the mid-stream start is old', in: [{ seq: 5000, data: 'hello' }, { seq: 4990, data: '0123456789' }], want: 'hello', end: ['eof'], eof: true },
  { name: 'snaplen cut is a gap after the captured bytes', in: [{ seq: 0, flags: S }, { seq: 1, data: 'ab', missing: 3 }, { seq: 6, data: 'cd' }], want: 'ab<gap 3>cd', end: ['eof'], eof: true },
  { name: 'snaplen cut out of order', in: [{ seq: 0, flags: S }, { seq: 6, data: 'cd' }, { seq: 1, data: 'ab', missing: 3 }], want: 'ab<gap 3>cd', end: ['eof'], eof: true },
  { name: 'hole flushed at end of flow', in: [{ seq: 0, flags: S }, { seq: 1, data: 'ab' }, { seq: 6, data: 'cd' }], want: 'ab<gap 3>cd', end: ['eof'], eof: true },
  { name: 'FIN waits for the missing data', in: [{ seq: 0, flags: S }, { seq: 3, data: 'cd', flags: F }, { seq: 1, data: 'ab' }], want: 'abcd', end: ['fin'] },
  { name: 'FIN with hole ends as fin at flow end with a gap', in: [{ seq: 0, flags: S }, { seq: 1, data: 'ab' }, { seq: 5, flags: F }], want: 'ab<gap 2>', end: ['fin'], eof: true },
  { name: 'SYN with data (TFO)', in: [{ seq: 10, flags: S, data: 'ab' }, { seq: 13, data: 'c' }], want: 'abc', end: ['eof'], eof: true },
  {
    name: 'per-direction byte limit declares the hole a gap',
    in: [{ seq: 0, flags: S }, { seq: 1, data: 'a' }, { seq: 3, data: 'cc' }, { seq: 5, data: 'dd' }, { seq: 7, data: 'e' }],
    want: 'a<gap 1>ccdde',
    end: ['eof'],
    eof: true,
    limits: { maxBufferedBytes: 4 },
  },
  {
    name: 'segment-count limit declares the hole a gap',
    in: [{ seq: 0, flags: S }, { seq: 3, data: 'c' }, { seq: 5, data: 'e' }, { seq: 7, data: 'g' }, { seq: 2, data: 'b' }],
    want: '<gap 2>c<gap 1>e<gap 1>g',
    end: ['eof'],
    eof: true,
    limits: { maxBufferedSegments: 2 },
  },
  { name: 'data after FIN is ignored', in: [{ seq: 0, flags: S }, { seq: 1, data: 'ab', flags: F }, { seq: 4, data: 'zz' }], want: 'ab', end: ['fin'] },
  { name: 'nothing but ACKs', in: [{ seq: 7 }, { seq: 7 }], want: '', end: ['eof'], eof: true },
];

describe('Reassembler (table)', () => {
  for (const c of cases) {
    it(c.name, () => {
      const { rec, budget } = run(c.in, c.limits, c.eof ? 'eof' : undefined);
      expect(rec.text).toBe(c.want);
      expect(rec.ends).toEqual(c.end);
      expect(rec.afterEnd).toBe(0);
      expect(budget.held).toBe(0);
    });
  }

  it('counts retransmitted, overlapping and conflicting bytes', () => {
    const { stats } = run([{ seq: 0, flags: S }, { seq: 1, data: 'ab' }, { seq: 1, data: 'ab' }, { seq: 5, data: 'ef' }, { seq: 5, data: 'eX' }, { seq: 3, data: 'cd' }], {}, 'eof');
    expect(stats.retransmittedBytes).toBe(2);
    expect(stats.overlapBytes).toBe(2);
    expect(stats.overlapConflictBytes).toBe(1);
    expect(stats.gapBytes).toBe(0);
  });

  it('in-order data is handed over without a copy', () => {
    const rec = new Recorder();
    const seen: Buffer[] = [];
    const orig = rec.onData.bind(rec);
    rec.onData = (d, s, n) => {
      seen.push(d);
      orig(d, s, n);
    };
    const r = new Reassembler(rec, emptyFlowStats(), new TestAccount(), { maxBufferedBytes: 1e6, maxBufferedSegments: 100 });
    const payload = Buffer.from('hello');
    r.push(1, 0, payload, 0, 0, 0);
    expect(seen[0]).toBe(payload);
  });

  it('every piece held is charged to the account (bytes + PIECE_COST) and released when delivered or ended', () => {
    const budget = new TestAccount();
    const stats = emptyFlowStats();
    const a = new Recorder();
    const lim = { maxBufferedBytes: 100, maxBufferedSegments: 100 };
    const r = new Reassembler(a, stats, budget, lim);
    r.push(0, S, Buffer.alloc(0), 0, 0, 0);
    r.push(1, 0, Buffer.from('ab'), 0, 0, 0); // in order: handed over, never held
    expect(budget.held).toBe(0);
    r.push(5, 0, Buffer.from('ee'), 0, 0, 0); // hole at 3-4: held
    expect(budget.held).toBe(2 + PIECE_COST);
    r.push(8, 0, Buffer.from('h'), 1, 0, 0); // snaplen cut: 1 byte + a known hole, two pieces
    expect(budget.held).toBe(2 + PIECE_COST + 1 + 2 * PIECE_COST);
    r.push(3, 0, Buffer.from('cd'), 0, 0, 0); // fills the first hole: 'ee' delivered
    expect(budget.held).toBe(1 + 2 * PIECE_COST);
    r.end('eof', 1, 0);
    expect(a.text).toBe('abcdee<gap 1>h<gap 1>');
    expect(budget.held).toBe(0);
    // 'cd' arrived while pieces were held: stored, then delivered at once with 'ee'
    expect(budget.peak).toBe(5 + 4 * PIECE_COST);
  });

  it('times: each delivered run carries the time of its segment', () => {
    const { rec } = run([{ seq: 0, flags: S }, { seq: 3, data: 'cd' }, { seq: 1, data: 'ab' }]);
    // segment index is the time; 'ab' arrived at 2, 'cd' at 1
    expect(rec.times).toEqual([
      [2, 0],
      [1, 0],
    ]);
  });
});
