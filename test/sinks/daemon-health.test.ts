/**
 * The daemon's health sink (src/sinks/daemon-health.ts): typed counters to /metrics, the
 * losses that keep the verdict from READY to the state, one log line per loss that grew.
 */
import { describe, expect, it } from 'vitest';
import { DaemonHealth } from '../../src/sinks/daemon-health.js';
import { Metrics } from '../../src/sinks/metrics.js';
import { emptyState } from '../../src/sinks/state-store.js';
import { createPipeline } from '../../src/pipeline/create-pipeline.js';
import type { LiveStats } from '../../src/live/live-session.js';
import type { PipelineStats } from '../../src/pipeline/stats.js';

function live(edit: (p: PipelineStats) => void): LiveStats {
  const pipeline = createPipeline({ onEvent: () => {} }).stats();
  edit(pipeline);
  return { pipeline, missedSyns: 0, missedConnections: { programs: [], otherPrograms: 0 }, gateRules: null } as unknown as LiveStats;
}

async function metricLines(m: Metrics, name: string): Promise<string[]> {
  return (await m.registry.metrics()).split('\n').filter((l) => l.startsWith(`${name}{`));
}

describe('DaemonHealth', () => {
  it('parse errors come from the HTTP stage only; the IMDS stage reasons go to the stage counters', async () => {
    const metrics = new Metrics();
    const state = emptyState('h', null);
    const lines: string[] = [];
    const health = new DaemonHealth({ logger: { error: (_o: object, m: string) => lines.push(m) } as never, metrics, state });
    health.report(live((p) => {
      p.http.errors.E_HTTP_HEADERS_TOO_LARGE = 2;
      p.imds.skipped['not-imds-method'] = 3;
    }), 0);
    health.report(live((p) => {
      p.http.errors.E_HTTP_HEADERS_TOO_LARGE = 5;
      p.imds.skipped['not-imds-method'] = 3;
    }), 0);
    expect(await metricLines(metrics, 'imdswatch_parse_errors_total')).toEqual(['imdswatch_parse_errors_total{code="E_HTTP_HEADERS_TOO_LARGE"} 5']);
    expect(await metricLines(metrics, 'imdswatch_stage_counter_total')).toContain('imdswatch_stage_counter_total{stage="imds",counter="skipped.not-imds-method"} 3');
    expect(lines).toEqual([]);
  });

  it('requests the IMDS stage could not read are unread IMDS traffic in the state (verdict UNKNOWN), logged once per growth', () => {
    const state = emptyState('h', null);
    const lines: string[] = [];
    const health = new DaemonHealth({ logger: { error: (_o: object, m: string) => lines.push(m) } as never, metrics: null, state });
    health.report(live((p) => {
      p.imds.skipped['request-unreadable'] = 1;
      p.imds.skipped['unclassifiable-truncated-head'] = 1;
      p.decode.fragments = 2;
    }), 0);
    expect(state.drops.imdsUnread).toBe(4);
    health.report(live((p) => {
      p.imds.skipped['request-unreadable'] = 1;
      p.imds.skipped['unclassifiable-truncated-head'] = 1;
      p.decode.fragments = 2;
    }), 3);
    expect(state.drops.imdsUnread).toBe(4);
    expect(state.drops.logLinesDropped).toBe(3);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/IMDS traffic could not be read/);
  });
});
