import type { DecodeStats } from '../decode/packet.js';
import type { FlowStats } from '../tcp/stream.js';
import type { HttpStats } from '../http/message.js';
import type { ImdsStats } from '../imds/imds-stage.js';
import type { EnrichStats } from '../enrich/enricher.js';

/**
 * One typed snapshot per stage, in pipeline order. Every counter a stage keeps is here:
 * `replay`/`scan --format json` carry the whole snapshot (`input.stages`), the daemon feeds
 * its deltas to /metrics (`imdswatch_stage_events_total{stage,counter}`) and to its log.
 */
export interface PipelineStats {
  /** frames handed to the decoder */
  frames: number;
  decode: DecodeStats;
  tcp: FlowStats;
  http: HttpStats;
  imds: ImdsStats;
  enrich: EnrichStats;
}

/** the snapshot's values that are sizes, not counters (they go down as well as up) */
export const GAUGE_PATHS: ReadonlySet<string> = new Set(['decode.fragmentBytesHeld', 'decode.fragmentBytesHeldPeak', 'tcp.activeFlows', 'tcp.heldBytes', 'tcp.heldBytesPeak', 'enrich.sdkCache.entries', 'enrich.reasons.clients']);

/** every numeric value of a snapshot by "stage.counter" path (counterDelta from nothing) */
export function flatCounters(now: PipelineStats): Record<string, number> {
  return counterDelta(null, now);
}

type Tree = { [k: string]: number | number[] | Tree | null | undefined };

/**
 * Counters of a later snapshot minus an earlier one, flattened to "stage.counter" paths
 * ("http.errors.E_HTTP_GAP"); zero deltas are left out. Gauges (activeFlows, cache entries)
 * come out as their change, which is what a log line about an interval wants.
 */
export function counterDelta(before: PipelineStats | null, now: PipelineStats): Record<string, number> {
  const out: Record<string, number> = {};
  const walk = (a: Tree | undefined, b: Tree, path: string): void => {
    for (const [k, v] of Object.entries(b)) {
      const p = path ? `${path}.${k}` : k;
      if (typeof v === 'number') {
        const prev = a?.[k];
        const d = v - (typeof prev === 'number' ? prev : 0);
        if (d !== 0) out[p] = d;
      } else if (v && typeof v === 'object' && !Array.isArray(v)) walk(a?.[k] as Tree | undefined, v, p);
    }
  };
  walk(before as unknown as Tree | undefined, now as unknown as Tree, '');
  return out;
}

/** two snapshots added (replay: one pipeline per file); lists are united, peaks (`…Peak`) are the larger */
export function sumStats(a: PipelineStats, b: PipelineStats): PipelineStats {
  const add = (x: Tree, y: Tree): Tree => {
    const out: Tree = { ...x };
    for (const [k, v] of Object.entries(y)) {
      const cur = out[k];
      // a peak over several files is the highest one (they are read one after another)
      if (typeof v === 'number') out[k] = k.endsWith('Peak') ? Math.max(typeof cur === 'number' ? cur : 0, v) : (typeof cur === 'number' ? cur : 0) + v;
      else if (Array.isArray(v)) out[k] = [...new Set([...((Array.isArray(cur) ? cur : []) as number[]), ...v])];
      else if (v && typeof v === 'object') out[k] = add((cur && typeof cur === 'object' && !Array.isArray(cur) ? cur : {}) as Tree, v);
    }
    return out;
  };
  return add(a as unknown as Tree, b as unknown as Tree) as unknown as PipelineStats;
}
