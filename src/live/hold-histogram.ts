/**
 * Gate hold latency: fixed buckets (for a Prometheus histogram) plus a bounded ring of recent
 * samples (for p50/p99 in reports and benchmarks). Memory is constant.
 */
import type { HoldCounts } from '../sinks/metrics.js';

export const HOLD_BUCKETS_MS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250];

/** the histogram's counts, as /metrics reads them (one definition, in the sink below this layer) */
export type HistogramSnapshot = HoldCounts;

export class HoldHistogram {
  private readonly counts = new Array<number>(HOLD_BUCKETS_MS.length + 1).fill(0);
  private sum = 0;
  private n = 0;
  private readonly ring: Float64Array;
  private ringLen = 0;
  private ringPos = 0;

  constructor(ringSize = 8192) {
    this.ring = new Float64Array(ringSize);
  }

  observe(ms: number): void {
    let i = 0;
    while (i < HOLD_BUCKETS_MS.length && ms > HOLD_BUCKETS_MS[i]!) i++;
    this.counts[i]!++;
    this.sum += ms;
    this.n++;
    this.ring[this.ringPos] = ms;
    this.ringPos = (this.ringPos + 1) % this.ring.length;
    if (this.ringLen < this.ring.length) this.ringLen++;
  }

  snapshot(): HistogramSnapshot {
    return { bucketsMs: [...HOLD_BUCKETS_MS], counts: [...this.counts], sumMs: this.sum, count: this.n };
  }

  /** quantiles over the most recent samples (up to the ring size); null when empty */
  quantiles(): { p50: number; p99: number; max: number; samples: number } | null {
    if (this.ringLen === 0) return null;
    const s = Array.from(this.ring.subarray(0, this.ringLen)).sort((a, b) => a - b);
    const q = (p: number) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]!;
    return { p50: q(0.5), p99: q(0.99), max: s[s.length - 1]!, samples: s.length };
  }
}
