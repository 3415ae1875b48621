import type { ProcessInfo, Attribution } from '../imds/event.js';
import type { FlowInfo } from '../tcp/stream.js';
import type { Who } from '../enrich/enricher.js';
import type { ProcCorrelator } from '../enrich/process/proc-correlator.js';
import type { SynGate } from './gate.js';
import { BusyGuard, PASSIVE_KEY } from './busy-guard.js';

/**
 * Who made a flow's calls (docs/design.md#attribution): the SYN gate's record when it has
 * one, else a passive /proc lookup taken at the flow's first byte, while the socket still
 * exists (or, for a connection already open when capture started, its owner as read then:
 * a keep-alive client may exit before its first captured byte is processed). The answer is a plain value settled when the flow's first event is built: a SYN
 * forwarded from a container is captured before the gate holds it, so at the first byte the
 * gate may not have its record yet; by the time the flow carries a response it has (the
 * handshake waited for the verdict), and the gate's answer wins.
 */
export interface AttributionStats {
  /** flows by how they were attributed (counted once per flow, when settled) */
  flows: Record<Attribution, number>;
  /** passive lookups skipped by the overload guard (the flow stays unattributed) */
  passiveShed: number;
}

/** a flow whose SYN was captured, with no gate record yet at its first byte */
interface Pending {
  key: string;
  atMs: number;
  isn: number | undefined;
  passive: Who;
}

export class FlowAttributor {
  /** each flow's answer, settled or pending (dropped with the flow: keyed by its FlowInfo) */
  private readonly pending = new WeakMap<FlowInfo, Who | Pending>();
  private readonly counts: Record<Attribution, number> = { gate: 0, passive: 0, none: 0 };
  private passiveShed = 0;
  private readonly guard: BusyGuard;

  constructor(
    private readonly correlator: ProcCorrelator,
    private readonly gate: SynGate | null,
    private readonly passiveBudgetMs: number,
    /** owners of the IMDS connections open when capture started (tuple key → process) */
    private readonly openAtStart: ReadonlyMap<string, ProcessInfo> = new Map(),
    /** a flow whose SYN was captured and never held by the gate: its rules may be gone (src/live/gate-rules.ts checkSoon) */
    private readonly onUngated: () => void = () => {},
  ) {
    // passive lookups share the gate's overload guard (one /proc budget for the event loop)
    this.guard = gate?.guard ?? new BusyGuard();
  }

  /** ungated flows found at their SYN (the caller's socket exists from connect() on): the answer, not yet counted */
  private readonly atSyn = new WeakMap<FlowInfo, ProcessInfo>();

  /**
   * The observer's `flowStarted`, without a gate: a one-shot caller may exit before its first
   * byte is processed, but at its SYN it is still in connect(), so the passive lookup is taken
   * now (under the same overload guard); the first byte looks again only when this found nothing.
   */
  synSeen(flow: FlowInfo): void {
    if (this.gate || !flow.sawSyn) return;
    const found = this.passiveLookup(flow, PASSIVE_KEY);
    if (found) this.atSyn.set(flow, found);
  }

  /** the observer's `firstByte` (src/pipeline/pipeline.ts LiveObserver): the answer is taken now */
  firstByte(flow: FlowInfo): void {
    this.pending.set(flow, this.answerAt(flow));
  }

  /** the socket's owner from /proc now, within the overload guard's share of `fairKey` (null: not found, or shed) */
  private passiveLookup(flow: FlowInfo, fairKey: number): ProcessInfo | null {
    const t0 = performance.now();
    if (!this.guard.allow(t0, fairKey)) {
      this.passiveShed++;
      return null;
    }
    const tuple = { srcIp: flow.client.ip, srcPort: flow.client.port, dstIp: flow.server.ip, dstPort: flow.server.port, ipVersion: flow.ipVersion };
    const found = this.correlator.findSocketOwner(tuple, this.passiveBudgetMs).process;
    this.guard.done(t0, performance.now(), fairKey);
    return found;
  }

  /** the observer's `who`: the flow's answer as a plain value (the gate's, if its record came since) */
  who(flow: FlowInfo): Who {
    let p = this.pending.get(flow);
    if (!p) this.pending.set(flow, (p = this.answerAt(flow)));
    if ('process' in p) return p;
    const later = this.gate?.lookup(p.key, p.atMs, p.isn);
    if (!later) this.onUngated();
    const answer: Who = later?.process ? { process: later.process, attribution: 'gate' } : p.passive;
    this.counts[answer.attribution]++;
    this.pending.set(flow, answer);
    return answer;
  }

  /** at a flow's first byte: settled, or pending on the gate's record (a forwarded SYN is captured before the gate holds it) */
  private answerAt(flow: FlowInfo): Who | Pending {
    // the decoder's canonical text, as the gate keys its records
    const key = flow.key;
    const atMs = flow.sec * 1000 + Math.floor(flow.nsec / 1e6);
    // by connection (tuple and ISN) when the SYN was seen: a tuple is reused within seconds
    const isn = flow.sawSyn ? flow.clientIsn : undefined;
    const rec = this.gate?.lookup(key, atMs, isn);
    if (rec?.process) return this.settled({ process: rec.process, attribution: 'gate' });
    // the gate shed this SYN: its uid is over its share of the lookup time, and a passive
    // lookup now would spend that share again (docs/design.md#syn-gate)
    if (rec?.outcome === 'shed') return this.settled({ process: null, attribution: 'none' });
    // the tuple was reused since this flow began (the pipeline lags): its socket now is
    // another connection's, and a passive lookup would name that one's owner
    if (!rec && this.gate?.reusedSince(key, atMs)) return this.settled({ process: null, attribution: 'none' });
    // without a gate: the owner found at the SYN, while the caller was in connect()
    const atSyn = this.atSyn.get(flow);
    if (atSyn) return this.settled({ process: atSyn, attribution: 'passive' });
    // charged to the socket's uid when the gate read it, so a flooder's flows share its share
    let found = this.passiveLookup(flow, rec?.uid ?? PASSIVE_KEY);
    // a connection older than the capture: its owner as read at start, when it has gone since
    if (!found && !flow.sawSyn) found = this.openAtStart.get(key) ?? null;
    const passive: Who = found ? { process: found, attribution: 'passive' } : { process: null, attribution: 'none' };
    if (!this.gate || !flow.sawSyn || rec) return this.settled(passive);
    return { key, atMs, isn, passive };
  }

  stats(): AttributionStats {
    return { flows: { ...this.counts }, passiveShed: this.passiveShed };
  }

  private settled(who: Who): Who {
    this.counts[who.attribution]++;
    return who;
  }
}
