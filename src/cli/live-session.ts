import { createPipeline } from '../pipeline/create-pipeline.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import { startLive, type LiveSource } from '../live/live-source.js';
import { tupleKey, type GateRecord } from '../live/gate.js';
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
  /**
   * SYNs the gate held that the passive capture never saw within 5 s: evidence of
   * capture loss (cap exposes no pcap_stats, so this cross-check stands in for them).
   */
  missedSyns(): number;
  /** stop capture, remove the gate rules, end every flow (pending requests are emitted) */
  stop(): void;
}

export function startLiveSession(o: LiveSessionOptions): LiveSession {
  let live: LiveSource | null = null;
  // gate SYNs waiting for the capture to show their flow (key → SYN time, ms)
  const awaiting = new Map<string, number>();
  const MAX_AWAITING = 65_536;
  // flows the capture has already shown (key → time seen, ms). A SYN forwarded from a
  // container bridge is captured on the bridge 2–9 ms *before* the gate's FORWARD-hook
  // record arrives; without this the later record would wait for a flow start that has
  // already happened and be counted as capture loss (issue #10, item 1).
  const captured = new Map<string, number>();
  const CAPTURED_GRACE_MS = 10_000;
  let missed = 0;
  const pipeline = createPipeline({
    onEvent: o.onEvent,
    ordered: false,
    onFlowStart: (flow) => {
      const key = tupleKey({ srcIp: flow.client.ip, srcPort: flow.client.port, dstIp: flow.server.ip, dstPort: flow.server.port });
      if (awaiting.delete(key)) return;
      if (captured.size >= MAX_AWAITING) {
        const oldest = captured.keys().next().value;
        if (oldest !== undefined) captured.delete(oldest);
      }
      captured.delete(key); // re-insert: keeps insertion order = time order
      captured.set(key, Date.now());
    },
    resolveProcess: (flow) => (live ? live.attributionFor(flow) : { process: null, attribution: 'none' }),
  });
  const onGateRecord = (r: GateRecord) => {
    o.onGateRecord?.(r);
    if (captured.delete(r.key)) return; // the capture saw this flow first
    if (awaiting.size >= MAX_AWAITING) {
      const oldest = awaiting.keys().next().value;
      if (oldest !== undefined) awaiting.delete(oldest);
    }
    awaiting.set(r.key, r.synMs);
  };
  const checkMissed = (nowMs: number) => {
    for (const [key, synMs] of awaiting) {
      if (nowMs - synMs < 5_000) break; // insertion order is SYN order
      awaiting.delete(key);
      missed++;
    }
    for (const [key, seenMs] of captured) {
      if (nowMs - seenMs < CAPTURED_GRACE_MS) break;
      captured.delete(key);
    }
  };
  live = startLive({
    interfaces: o.interfaces,
    gate: o.gate,
    queueNum: o.queueNum,
    gateBudgetMs: o.gateBudgetMs,
    onFrame: (f) => pipeline.pushFrame(f),
    onWarning: o.onWarning,
    onGateRecord,
    handleSignals: false,
  });
  const timer = setInterval(() => {
    const now = Date.now();
    pipeline.tick(Math.floor(now / 1000));
    checkMissed(now);
  }, 1000);
  timer.unref();
  let stopped = false;
  const l = live;
  return {
    pipeline,
    live: l,
    missedSyns: () => missed,
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
