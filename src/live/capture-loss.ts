import type { FlowInfo } from '../tcp/stream.js';
import { flowKey } from '../domain/address.js';
import type { GateRecord } from './gate.js';

/**
 * Capture loss, as far as it can be seen: cap exposes no pcap_stats, so every SYN the gate
 * held is expected to show up as a flow start in the capture within `SYN_WAIT_MS`; one that
 * does not is a missed connection (`missedSyns`).
 *
 * Flows the capture already showed are remembered too: a SYN forwarded from a container
 * bridge is captured on the bridge 2–9 ms *before* the gate's FORWARD-hook record arrives;
 * without this the later record would wait for a flow start that has already happened and
 * be counted as loss (issue #10, item 1).
 */
export const SYN_WAIT_MS = 5_000;
export const CAPTURED_GRACE_MS = 10_000;
/** most keys kept in each map (oldest dropped first): as many as the flow table holds, ×4 */
export const MAX_TRACKED_KEYS = 65_536;

export class CaptureLossCheck {
  /** gate SYNs waiting for the capture to show their flow (key → SYN time, ms) */
  private readonly awaiting = new Map<string, number>();
  /** flows the capture has shown (key → time seen, ms), in time order */
  private readonly captured = new Map<string, number>();
  private missed = 0;

  /** the pipeline's onFlowStart hook */
  flowStarted(flow: FlowInfo, nowMs = Date.now()): void {
    const key = flowKey(flow.client.ip, flow.client.port, flow.server.ip, flow.server.port);
    if (this.awaiting.delete(key)) return;
    bounded(this.captured);
    this.captured.delete(key); // re-insert: keeps insertion order = time order
    this.captured.set(key, nowMs);
  }

  /** every record of the SYN gate */
  gateRecord(r: GateRecord): void {
    if (this.captured.delete(r.key)) return; // the capture saw this flow first
    bounded(this.awaiting);
    this.awaiting.set(r.key, r.synMs);
  }

  /** once a second: SYNs waiting too long are missed; old captured keys are forgotten */
  check(nowMs: number): void {
    for (const [key, synMs] of this.awaiting) {
      if (nowMs - synMs < SYN_WAIT_MS) break; // insertion order is SYN order
      this.awaiting.delete(key);
      this.missed++;
    }
    for (const [key, seenMs] of this.captured) {
      if (nowMs - seenMs < CAPTURED_GRACE_MS) break;
      this.captured.delete(key);
    }
  }

  missedSyns(): number {
    return this.missed;
  }
}

function bounded(m: Map<string, number>): void {
  if (m.size < MAX_TRACKED_KEYS) return;
  const oldest = m.keys().next().value;
  if (oldest !== undefined) m.delete(oldest);
}
