import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/sinks/metrics.js';
import { createPipeline } from '../../src/pipeline/create-pipeline.js';
import { counterDelta, flatCounters } from '../../src/pipeline/stats.js';
import { VERSION } from '../../src/domain/version.js';

describe('every stage counter reaches /metrics', () => {
  it('counter deltas and gauges by stage, and the build info', async () => {
    const m = new Metrics();
    const before = createPipeline({ onEvent: () => {} }).stats();
    const now = structuredClone(before);
    now.http.unpairedResponses = 3;
    now.http.ignoredBytes = 10;
    now.tcp.activeFlows = 5;
    now.enrich.reasons.evicted = 2;
    now.decode.skipped['unknown-linktype-147'] = 1;
    m.addStageCounters(counterDelta(before, now), flatCounters(now));
    m.addStageCounters(counterDelta(now, now), flatCounters(now)); // nothing new: no change
    const text = await m.registry.metrics();
    expect(text).toContain('imdswatch_stage_counter_total{stage="http",counter="unpairedResponses"} 3');
    expect(text).toContain('imdswatch_stage_counter_total{stage="http",counter="ignoredBytes"} 10');
    expect(text).toContain('imdswatch_stage_counter_total{stage="enrich",counter="reasons.evicted"} 2');
    expect(text).toContain('imdswatch_stage_counter_total{stage="decode",counter="skipped.unknown-linktype-147"} 1');
    expect(text).toContain('imdswatch_stage_gauge{stage="tcp",counter="activeFlows"} 5');
    expect(text).toContain(`imdswatch_build_info{version="${VERSION}"} 1`);
    expect(VERSION).toMatch(/^\d+\.\d+\.\d+/);
  });
});
