import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Reassembler } from '../../src/tcp/reassembler.js';
import { FlowTable } from '../../src/tcp/flow-table.js';

/** a FlowStats with every counter at zero: a fresh table's */
const emptyFlowStats = () => ({ ...new FlowTable({ onFlow: () => null as never }).stats });
import { TCP_FIN, TCP_SYN } from '../../src/decode/packet.js';
import { Recorder, TestAccount, type Run } from './helpers.js';

/** a segment of the stream: [off, off+data.length) in stream offsets (0 = first byte after the SYN) */
interface Seg {
  off: number;
  data: Uint8Array;
}

/**
 * Reference receiver: every stream byte keeps the value of the first segment (in
 * arrival order) that carried it; bytes no segment carried are gaps.
 */
function reference(n: number, arrivals: Seg[]): Run[] {
  const val = new Int16Array(n).fill(-1);
  for (const s of arrivals) {
    for (let k = 0; k < s.data.length; k++) {
      const p = s.off + k;
      if (p < n && val[p] < 0) val[p] = s.data[k];
    }
  }
  const runs: Run[] = [];
  for (let p = 0; p < n; p++) {
    const last = runs[runs.length - 1];
    if (val[p] < 0) {
      if (last && 'gap' in last) last.gap++;
      else runs.push({ gap: 1 });
    } else {
      const ch = String.fromCharCode(val[p]);
      if (last && 'data' in last) last.data += ch;
      else runs.push({ data: ch });
    }
  }
  return runs;
}

const isnArb = fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0xffffffff - 600, max: 0xffffffff }));

/** a stream, a covering segmentation, extra overlapping segments (same or different bytes), an arrival order */
const scenarioArb = fc
  .record({
    stream: fc.uint8Array({ minLength: 1, maxLength: 400 }),
    cuts: fc.array(fc.integer({ min: 1, max: 399 }), { maxLength: 40 }),
    extras: fc.array(
      fc.record({ a: fc.nat(399), len: fc.integer({ min: 1, max: 60 }), conflict: fc.boolean(), fill: fc.integer({ min: 0, max: 255 }) }),
      { maxLength: 15 },
    ),
    isn: isnArb,
    order: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 60, maxLength: 60 }),
    dropSome: fc.array(fc.boolean(), { minLength: 60, maxLength: 60 }),
  })
  .map((s) => {
    const n = s.stream.length;
    const points = [...new Set(s.cuts.filter((c) => c < n))].sort((a, b) => a - b);
    const segs: Seg[] = [];
    let prev = 0;
    for (const p of [...points, n]) {
      segs.push({ off: prev, data: s.stream.slice(prev, p) });
      prev = p;
    }
    for (const e of s.extras) {
      const a = e.a % n;
      const b = Math.min(n, a + e.len);
      const data = s.stream.slice(a, b);
      if (e.conflict) data.fill(e.fill);
      segs.push({ off: a, data });
    }
    // arrival order: sort by random keys
    const keyed = segs.map((seg, i) => ({ seg, k: s.order[i % s.order.length] + i * 1e-9 }));
    keyed.sort((x, y) => x.k - y.k);
    return { ...s, arrivals: keyed.map((x) => x.seg), n };
  });

function feed(isn: number, arrivals: Seg[], n: number, finAt: number | null) {
  const rec = new Recorder();
  const stats = emptyFlowStats();
  const budget = new TestAccount();
  const r = new Reassembler(rec, stats, budget, { maxBufferedBytes: 1 << 20, maxBufferedSegments: 1 << 20 });
  r.push(isn, TCP_SYN, Buffer.alloc(0), 0, 0, 0);
  arrivals.forEach((s, i) => {
    const fin = finAt === i ? TCP_FIN : 0;
    r.push((isn + 1 + s.off) >>> 0, fin, Buffer.from(s.data), 0, 1, i);
  });
  if (finAt === arrivals.length) r.push((isn + 1 + n) >>> 0, TCP_FIN, Buffer.alloc(0), 0, 2, 0);
  return { rec, r, stats, budget };
}

describe('Reassembler (properties)', () => {
  it('permuted, duplicated, overlapping segments reassemble to the first-copy-wins stream', () => {
    fc.assert(
      fc.property(scenarioArb, ({ isn, arrivals, n }) => {
        const { rec, budget } = feed(isn, arrivals, n, arrivals.length);
        // every byte is covered and a FIN follows the last byte: the stream ends by itself
        expect(rec.runs).toEqual(reference(n, arrivals));
        expect(rec.ends).toEqual(['fin']);
        expect(rec.afterEnd).toBe(0);
        expect(budget.held).toBe(0);
      }),
      { numRuns: 400 },
    );
  });

  it('without overlapping conflicts the original stream comes out exactly', () => {
    fc.assert(
      fc.property(scenarioArb, ({ isn, stream, arrivals, n }) => {
        const clean = arrivals.map((s) => ({ off: s.off, data: stream.slice(s.off, s.off + s.data.length) }));
        const { rec } = feed(isn, clean, n, clean.length);
        expect(rec.text).toBe(Buffer.from(stream).toString('latin1'));
        expect(rec.ends).toEqual(['fin']);
      }),
      { numRuns: 300 },
    );
  });

  it('lost segments become gaps of the exact size; one end, nothing after it', () => {
    fc.assert(
      fc.property(scenarioArb, ({ isn, arrivals, n, dropSome }) => {
        const kept = arrivals.filter((_, i) => !dropSome[i % dropSome.length]);
        // FIN on the wire after the last byte, then the flow ends (eof): trailing hole is a gap
        const { rec, r, budget } = feed(isn, kept, n, kept.length);
        r.end('eof', 3, 0);
        expect(rec.runs).toEqual(reference(n, kept));
        expect(rec.ends).toEqual(['fin']);
        expect(rec.afterEnd).toBe(0);
        expect(budget.held).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('bounded buffer: memory stays under the cap; delivered bytes are first copies at their true offsets', () => {
    fc.assert(
      fc.property(scenarioArb, fc.integer({ min: 1, max: 64 }), ({ isn, arrivals, n }, cap) => {
        const rec = new Recorder();
        const budget = new TestAccount();
        const r = new Reassembler(rec, emptyFlowStats(), budget, { maxBufferedBytes: cap, maxBufferedSegments: 8 });
        r.push(isn, TCP_SYN, Buffer.alloc(0), 0, 0, 0);
        for (const s of arrivals) {
          r.push((isn + 1 + s.off) >>> 0, 0, Buffer.from(s.data), 0, 0, 0);
          expect(r.buffered).toBeLessThanOrEqual(cap);
        }
        r.end('eof', 0, 0);
        // a byte is delivered only if its first copy arrived while it was still ahead of the
        // stream position, and then it is that first copy: every delivered byte equals the reference
        const firstCopy = new Int16Array(n).fill(-1);
        let p = 0;
        for (const run of reference(n, arrivals)) {
          if ('data' in run) for (let k = 0; k < run.data.length; k++) firstCopy[p + k] = run.data.charCodeAt(k);
          p += 'data' in run ? run.data.length : run.gap;
        }
        let pos = 0;
        for (const run of rec.runs) {
          if ('gap' in run) pos += run.gap;
          else
            for (let k = 0; k < run.data.length; k++, pos++) {
              expect(pos).toBeLessThan(n);
              expect(run.data.charCodeAt(k)).toBe(firstCopy[pos]);
            }
        }
        expect(pos).toBeLessThanOrEqual(n);
        expect(budget.held).toBe(0);
        expect(rec.ends).toEqual(['eof']);
      }),
      { numRuns: 300 },
    );
  });
});
