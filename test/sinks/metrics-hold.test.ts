import { describe, expect, it } from 'vitest';
import { Histogram, Registry } from 'prom-client';
import { HOLD_METRIC_BOUNDS_MS, Metrics } from '../../src/sinks/metrics.js';
import { HOLD_BUCKETS_MS, HoldHistogram } from '../../src/live/hold-histogram.js';

/** the hold histogram's lines of a /metrics text */
const holdLines = (text: string) => text.split('\n').filter((l) => l.startsWith('imdswatch_gate_hold_seconds'));

describe('imdswatch_gate_hold_seconds is read from the gate at each scrape (docs/design.md#hold-metric)', () => {
  it("publishes what prom-client's Histogram gave for the same holds", async () => {
    const holds = [0.03, 0.05, 0.07, 0.1, 0.2, 0.25, 0.4, 0.6, 0.9, 1, 1.7, 2.4, 3, 7, 12, 30, 60, 99, 120, 300, 0.8, 0.8, 0.31];
    const gate = new HoldHistogram();
    const m = new Metrics();
    m.setGateHoldSource(() => gate.snapshot());
    // what the daemon published before: prom-client's own histogram, observed per hold
    const reg = new Registry();
    const ref = new Histogram({ name: 'imdswatch_gate_hold_seconds', help: 'Time each SYN was held by the gate for the /proc lookup', buckets: HOLD_METRIC_BOUNDS_MS.map((b) => b / 1000), registers: [reg] });
    expect(holdLines(await m.registry.metrics())).toEqual(holdLines(await reg.metrics()));
    for (const ms of holds) {
      gate.observe(ms);
      ref.observe(ms / 1000);
    }
    const got = holdLines(await m.registry.metrics());
    expect(got).toContain(`imdswatch_gate_hold_seconds_count ${holds.length}`);
    expect(got).toContain('imdswatch_gate_hold_seconds_bucket{le="0.001"} 13');
    // the sum differs from prom-client's only by the order of float additions
    const sum = (l: string[]) => Number(l.find((x) => x.startsWith('imdswatch_gate_hold_seconds_sum '))!.split(' ')[1]);
    const want = holdLines(await reg.metrics());
    expect(sum(got)).toBeCloseTo(sum(want), 12);
    expect(got.filter((l) => !l.includes('_sum '))).toEqual(want.filter((l) => !l.includes('_sum ')));
  });

  it('each published bound is one of the gate buckets (so its cumulative count is exact)', () => {
    for (const b of HOLD_METRIC_BOUNDS_MS) expect(HOLD_BUCKETS_MS).toContain(b);
  });

  it('without a gate: the series is there, all zero', async () => {
    const m = new Metrics();
    const text = holdLines(await m.registry.metrics());
    expect(text).toContain('imdswatch_gate_hold_seconds_bucket{le="+Inf"} 0');
    expect(text).toContain('imdswatch_gate_hold_seconds_count 0');
    m.setGateHoldSource(() => null);
    expect(holdLines(await m.registry.metrics())).toEqual(text);
  });
});
