import { createPipeline } from '../pipeline/create-pipeline.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import { startLive, type LiveSource } from '../live/live-source.js';
import type { GateRecord } from '../live/gate.js';
import type { ImdsEvent } from '../imds/event.js';

/**
 * What `scan` and `daemon` share: the live source (capture + SYN gate + /proc) feeding
 * the same pipeline as `replay`, with the gate's answers attached to each flow. Events
 * are emitted as each request completes (no reordering delay in live use).
 */
export interface LiveSessionOptions {
  interfaces: string[];
  gate: boolean;
  queueNum: number;
  gateBudgetMs: number;
  onEvent: (ev: ImdsEvent) => void;
  onWarning: (msg: string) => void;
  onGateRecord?: (r: GateRecord) => void;
}

export interface LiveSession {
  readonly pipeline: Pipeline;
  readonly live: LiveSource;
  /** stop capture, remove the gate rules, end every flow (pending requests are emitted) */
  stop(): void;
}

export function startLiveSession(o: LiveSessionOptions): LiveSession {
  let live: LiveSource | null = null;
  const pipeline = createPipeline({
    onEvent: o.onEvent,
    ordered: false,
    resolveProcess: (flow) => (live ? live.attributionFor(flow) : { process: null, attribution: 'none' }),
  });
  live = startLive({
    interfaces: o.interfaces,
    gate: o.gate,
    queueNum: o.queueNum,
    gateBudgetMs: o.gateBudgetMs,
    onFrame: (f) => pipeline.pushFrame(f),
    onWarning: o.onWarning,
    onGateRecord: o.onGateRecord,
    handleSignals: false,
  });
  const timer = setInterval(() => pipeline.tick(Math.floor(Date.now() / 1000)), 1000);
  timer.unref();
  let stopped = false;
  const l = live;
  return {
    pipeline,
    live: l,
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      l.stop();
      pipeline.finish();
    },
  };
}

/** "10m", "30s", "2h", "500ms" → milliseconds */
export function parseDuration(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) return null;
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * mult;
}
