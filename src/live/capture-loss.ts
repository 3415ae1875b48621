import type { FlowInfo } from '../tcp/stream.js';
import type { ProcessInfo } from '../imds/event.js';
import { CLOCK_SLACK_MS, type GateRecord } from './gate.js';

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
 *
 * Both are keyed by connection (4-tuple and the client's ISN), not by 4-tuple alone: under
 * load a client port is reused within seconds, and a second SYN on the tuple overwrote the
 * first one's wait — the first connection's flow then "showed" the second, whose loss went
 * uncounted. Every SYN the gate saw is awaited, shed ones too (shedding saves a lookup, not
 * a call). A flow the capture joined mid-connection (its SYN lost) answers the tuple's
 * oldest waiting SYN.
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
  /** the socket's uid, for connections without a process (the gate shed their SYN) */
  uid?: number;
  /** the latest such connection's pid */
  pid: number | null;
  count: number;
}

export interface MissedTally {
  programs: MissedConnections[];
  /** missed connections of programs past MAX_MISSED_PROGRAMS */
  otherPrograms: number;
}

/** a flow the capture showed: its client's ISN (undefined: joined mid-connection) and when */
interface Shown {
  isn: number | undefined;
  /** when it was shown (the check's clock) */
  ms: number;
  /** its first packet's capture time */
  firstMs: number;
}

export class CaptureLossCheck {
  /**
   * gate SYNs waiting for the capture to show their flow, by 4-tuple (the gate's own key
   * string, no copy), oldest first within a tuple; map order = each tuple's latest SYN
   */
  private readonly awaiting = new Map<string, GateRecord[]>();
  private awaitingCount = 0;
  /** the latest flow the capture showed per 4-tuple, in time order */
  private readonly captured = new Map<string, Shown>();
  private missed = 0;
  private readonly byProgram = new Map<string, MissedConnections>();
  private otherPrograms = 0;

  /** the pipeline's onFlowStart hook */
  flowStarted(flow: FlowInfo, nowMs = Date.now()): void {
    const isn = flow.sawSyn ? flow.clientIsn : undefined;
    const waiting = this.awaiting.get(flow.key);
    if (waiting) {
      // its own SYN by ISN; joined mid-connection, the tuple's oldest waiting SYN
      const i = isn === undefined ? 0 : waiting.findIndex((r) => r.isn === isn || r.isn === undefined);
      if (i >= 0) {
        waiting.splice(i, 1);
        this.awaitingCount--;
        if (waiting.length === 0) this.awaiting.delete(flow.key);
        return;
      }
    }
    if (this.captured.size >= MAX_TRACKED_KEYS) this.captured.delete(this.captured.keys().next().value!);
    this.captured.delete(flow.key); // re-insert: keeps insertion order = time order
    this.captured.set(flow.key, { isn, ms: nowMs, firstMs: flow.sec * 1000 + flow.nsec / 1e6 });
  }

  /** every record of the SYN gate, shed ones too */
  gateRecord(r: GateRecord): void {
    const shown = this.captured.get(r.key);
    // the capture showed this connection first (or joined it mid-way: no ISN to compare, but
    // a packet from before this SYN is another connection's)
    if (shown && (r.isn === undefined || shown.isn === r.isn || (shown.isn === undefined && shown.firstMs >= r.synMs - CLOCK_SLACK_MS))) {
      this.captured.delete(r.key);
      return;
    }
    const list = this.awaiting.get(r.key) ?? [];
    // a retransmitted SYN is the same connection
    if (list.some((w) => w.isn === r.isn && r.isn !== undefined)) return;
    list.push(r);
    this.awaitingCount++;
    this.awaiting.delete(r.key);
    this.awaiting.set(r.key, list);
    // full: the oldest waits are judged now, as missed — never dropped unjudged
    while (this.awaitingCount > MAX_TRACKED_KEYS) this.judgeHead(Number.POSITIVE_INFINITY);
  }

  /** once a second: SYNs waiting too long are missed; old captured keys are forgotten */
  check(nowMs: number): void {
    while (this.awaiting.size > 0 && this.judgeHead(nowMs)) {
      /* the head tuple had nothing left waiting */
    }
    for (const [key, shown] of this.captured) {
      if (nowMs - shown.ms < CAPTURED_GRACE_MS) break;
      this.captured.delete(key);
    }
  }

  /**
   * The head tuple's SYNs that waited SYN_WAIT_MS by `nowMs` are missed; true when the
   * tuple has nothing left waiting (the next tuple may be judged). A later tuple's older SYN
   * waits at most until the head's newest is judged.
   */
  private judgeHead(nowMs: number): boolean {
    const [key, list] = this.awaiting.entries().next().value!;
    while (list.length > 0 && nowMs - list[0]!.synMs >= SYN_WAIT_MS) {
      const w = list.shift()!;
      this.awaitingCount--;
      this.missed++;
      this.tally(w);
    }
    if (list.length > 0) return false;
    this.awaiting.delete(key);
    return true;
  }

  missedSyns(): number {
    return this.missed;
  }

  /** missed connections by program, most first (cumulative) */
  missedByProgram(): MissedTally {
    const programs = [...this.byProgram.values()].map((p) => ({ ...p })).sort((a, b) => b.count - a.count);
    return { programs, otherPrograms: this.otherPrograms };
  }

  private tally(w: GateRecord): void {
    const p: ProcessInfo | null = w.process;
    const container = p?.container ? (p.container.name ?? p.container.id ?? null) : null;
    // no process (shed, or not found): by the socket's uid when known
    const uid = p === null && w.uid !== null && w.uid !== undefined ? w.uid : undefined;
    const key = `${p?.exe ?? ''}\0${p?.unit ?? ''}\0${container ?? ''}\0${uid ?? ''}`;
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
    this.byProgram.set(key, { exe: p?.exe ?? null, unit: p?.unit ?? null, container, user: p?.user ?? null, ...(uid !== undefined ? { uid } : {}), pid: p?.pid ?? null, count: 1 });
  }
}

/** "/usr/bin/curl (pid 4242, cron.service) ×2, unattributed ×1, and 3 more" ('' when none) */
export function describeMissed(t: MissedTally, max = 5): string {
  const parts = t.programs.slice(0, max).map((p) => {
    const where = [p.pid !== null ? `pid ${p.pid}` : null, p.uid !== undefined ? `uid ${p.uid}` : null, p.container ? `container ${p.container}` : p.unit].filter(Boolean).join(', ');
    return `${p.exe ?? 'unattributed'}${where ? ` (${where})` : ''} ×${p.count}`;
  });
  const rest = t.programs.slice(max).reduce((a, p) => a + p.count, 0) + t.otherPrograms;
  if (rest > 0) parts.push(`${rest} more`);
  return parts.join(', ');
}
