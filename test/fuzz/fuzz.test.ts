/**
 * The short, bounded fuzz pass CI runs: every property of bench/lib/fuzz-properties.mjs
 * with a small number of runs (`npm run fuzz -- --minutes N` runs them for long), and
 * checks that the properties do catch planted bugs.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
// @ts-expect-error plain ESM module shared with the long runner, no type declarations
import { makeProperties } from '../../bench/lib/fuzz-properties.mjs';
import { srcModules } from './modules.js';

interface Property {
  name: string;
  arb: fc.Arbitrary<unknown>;
  check: (v: unknown) => void;
}

const props = makeProperties(srcModules, fc) as Property[];
const RUNS: Record<string, number> = { 'pipeline-split': 60, 'reader-mutated': 150, 'reader-random': 150, 'http-split': 120 };

describe('fuzz properties (short pass)', () => {
  it('covers every parser', () => {
    expect(props.map((p) => p.name).sort()).toEqual(
      ['decoder-random', 'http-random', 'http-split', 'ip-reassembly', 'pipeline-split', 'reader-mutated', 'reader-random', 'reassembler-reference'].sort(), // ip-reassembly: #16 (defrag)
    );
  });

  for (const p of props) {
    it(p.name, () => {
      fc.assert(
        fc.property(p.arb, (v) => p.check(v)),
        { numRuns: RUNS[p.name] ?? 500 },
      );
    });
  }
});

/** Planted bugs: a property that cannot fail would prove nothing. */
describe('fuzz properties catch planted bugs', () => {
  const failsWith = (mods: typeof srcModules, name: string, numRuns = 300): boolean => {
    const p = (makeProperties(mods, fc) as Property[]).find((x) => x.name === name)!;
    const r = fc.check(
      fc.property(p.arb, (v) => p.check(v)),
      { numRuns, seed: 42 },
    );
    return r.failed;
  };

  it('a reader that throws a plain Error on odd lengths', () => {
    const readCaptureFile: typeof srcModules.readCaptureFile = (path, onFrame, opts) =>
      srcModules.readCaptureFile(
        path,
        (f) => {
          if (f.data.length % 7 === 3) throw new TypeError('boom');
          onFrame(f);
        },
        opts,
      );
    expect(failsWith({ ...srcModules, readCaptureFile }, 'reader-mutated')).toBe(true);
  });

  it('a reassembler where the last copy wins', () => {
    class LastCopyWins {
      private bytes = new Map<number, number>();
      private isn = 0;
      constructor(private readonly c: { onData(d: Buffer, s: number, n: number): void; onGap(n: number, s: number, ns: number): void; onEnd(r: string, s: number, n: number): void }) {}
      get buffered() {
        return 0;
      }
      push(seq: number, flags: number, payload: Buffer) {
        if (flags & srcModules.TCP_SYN) this.isn = seq;
        payload.forEach((b, i) => this.bytes.set(((seq - this.isn - 1) >>> 0) + i, b));
      }
      end() {
        const n = Math.max(-1, ...this.bytes.keys()) + 1;
        const out = Buffer.alloc(n);
        for (const [k, v] of this.bytes) out[k] = v;
        if (n) this.c.onData(out, 0, 0);
        this.c.onEnd('fin', 0, 0);
      }
    }
    expect(failsWith({ ...srcModules, Reassembler: LastCopyWins as unknown as typeof srcModules.Reassembler }, 'reassembler-reference')).toBe(true);
  });

  it('an HTTP stage that loses the last byte of every chunk', () => {
    class Lossy extends srcModules.HttpExchange {
      constructor(...args: ConstructorParameters<typeof srcModules.HttpExchange>) {
        super(...args);
        const inner = this.toServer;
        (this as { toServer: typeof inner }).toServer = {
          onData: (d, s, n) => inner.onData(d.length > 1 ? d.subarray(0, d.length - 1) : d, s, n),
          onGap: (b, s, n) => inner.onGap(b, s, n),
          onEnd: (r, s, n) => inner.onEnd(r, s, n),
        };
      }
    }
    expect(failsWith({ ...srcModules, HttpExchange: Lossy }, 'http-split', 100)).toBe(true);
  });

  it('a decoder that hands out a payload longer than the frame', () => {
    class Bad extends srcModules.Decoder {
      override decode(frame: Parameters<srcModules.Decoder['decode']>[0]) {
        const s = super.decode(frame);
        return s ? { ...s, payload: Buffer.concat([s.payload, frame.data]) } : s;
      }
    }
    expect(failsWith({ ...srcModules, Decoder: Bad }, 'decoder-random')).toBe(true);
  });
});
