import type { FlowInfo } from '../tcp/stream.js';
import type { ProcessInfo } from '../imds/event.js';
import { flowKey } from '../domain/address.js';
import type { GateRecord } from './gate.js';

/**
 * Capture loss, as far as it can be seen: cap exposes no pcap_stats, so every SYN the gate
 * held is expected to show up as a flow start in the capture within `SYN_WAIT_MS`; one that
 * does not is a missed connection (`missedSyns`). The gate knew who opened it, so a missed
 * connection is still named: `missedByProgram()` tallies them by program (exe, unit,
 * container), so the operator learns whose calls went unread (docs/design.md#capture-loss).
 *
 * Flows the capture already showed are remembered too: a SYN forwarded from a container
 * bridge is captured on the bridge 2–9 ms *before* the gate's FORWARD-hook record arrives;
 * without this the later record would wait for a flow start that has already happened and
 * be counted as loss.
 */
export const SYN_WAIT_MS = 5_000;
export const CAPTURED_GRACE_MS = 10_000;
/** most keys kept in each map (oldest dropped first): as many as the flow table holds, ×4 */
export const MAX_TRACKED_KEYS = 65_536;
/** most programs named in the missed-connection tally; further ones are only counted */
export const MAX_MISSED_PROGRAMS = 64;

/** connections of one program that the gate held and the capture never showed */
export interface MissedConnections {
  exe: string | null;
  unit: string | null;
  /** container name (or id) when the program ran in one */
  container: string | null;
  user: string | null;
  /** the latest such connection's pid */
  pid: number | null;
  count: number;
}

export interface MissedTally {
  programs: MissedConnections[];
  /** missed connections of programs past MAX_MISSED_PROGRAMS */
  otherPrograms: number;
}

export class CaptureLossCheck {
  /** gate SYNs waiting for the capture to show their flow (key → SYN time, ms, and owner) */
  private readonly awaiting = new Map<string, { synMs: number; process: ProcessInfo | null }>();
  /** flows the capture has shown (key → time seen, ms), in time order */
  private readonly captured = new Map<string, number>();
  private missed = 0;
  private readonly byProgram = new Map<string, MissedConnections>();
  private otherPrograms = 0;

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
    this.awaiting.set(r.key, { synMs: r.synMs, process: r.process });
  }

  /** once a second: SYNs waiting too long are missed; old captured keys are forgotten */
  check(nowMs: number): void {
    for (const [key, w] of this.awaiting) {
      if (nowMs - w.synMs < SYN_WAIT_MS) break; // insertion order is SYN order
      this.awaiting.delete(key);
      this.missed++;
      this.tally(w.process);
    }
    for (const [key, seenMs] of this.captured) {
      if (nowMs - seenMs < CAPTURED_GRACE_MS) break;
      this.captured.delete(key);
    }
  }


  missedSyns(): number {
    return this.missed;
  }

  /** missed connections by program, most first (cumulative) */
  missedByProgram(): MissedTally {
    const programs = [...this.byProgram.values()].map((p) => ({ ...p })).sort((a, b) => b.count - a.count);
    return { programs, otherPrograms: this.otherPrograms };
  }

  private tally(p: ProcessInfo | null): void {
    const container = p?.container ? (p.container.name ?? p.container.id ?? null) : null;
    const key = `${p?.exe ?? ''}\0${p?.unit ?? ''}\0${container ?? ''}`;
    const known = this.byProgram.get(key);
    if (known) {
      known.count++;
      known.pid = p?.pid ?? known.pid;
      return;
    }
    if (this.byProgram.size >= MAX_MISSED_PROGRAMS) {
      this.otherPrograms++;
      return;
    }
    this.byProgram.set(key, { exe: p?.exe ?? null, unit: p?.unit ?? null, container, user: p?.user ?? null, pid: p?.pid ?? null, count: 1 });
  }
}

/** "/usr/bin/curl (pid 4242, cron.service) ×2, unattributed ×1, and 3 more" ('' when none) */
export function describeMissed(t: MissedTally, max = 5): string {
  const parts = t.programs.slice(0, max).map((p) => {
    const where = [p.pid !== null ? `pid ${p.pid}` : null, p.container ? `container ${p.container}` : p.unit].filter(Boolean).join(', ');
    return `${p.exe ?? 'unattributed'}${where ? ` (${where})` : ''} ×${p.count}`;
  });
  const rest = t.programs.slice(max).reduce((a, p) => a + p.count, 0) + t.otherPrograms;
  if (rest > 0) parts.push(`${rest} more`);
  return parts.join(', ');
}

function bounded<V>(m: Map<string, V>): void {
  if (m.size < MAX_TRACKED_KEYS) return;
  const oldest = m.keys().next().value;
  if (oldest !== undefined) m.delete(oldest);
}
