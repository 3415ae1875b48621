import { flowKey, keyIp } from '../domain/address.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type TcpSegment } from '../decode/packet.js';
import { Reassembler, type ReassemblerLimits } from './reassembler.js';
import { FlowAccount, MemoryBudget, UNCOUNTED } from './memory-budget.js';
import { Tombstones } from './tombstones.js';
import {
  DEFAULT_FLOW_LIMITS,
  type EndReason,
  type FlowHandler,
  type FlowInfo,
  type FlowLimits,
  type FlowStats,
} from './stream.js';

const NO_CONSUMER = { onData() {}, onGap() {}, onEnd() {} };

/**
 * What an ended flow's `up` and `down` become: one shared direction, ended. An ended flow
 * keeps no path to its reassemblers and HTTP parsers: a dead flow promoted to the old
 * generation would otherwise keep them alive through every young collection until the
 * next full one (replay of the 1 GiB bench capture promoted 31 MB instead of ~11 MB).
 */
function endedDirection(): Reassembler {
  const r = new Reassembler(NO_CONSUMER, emptyFlowStats(), UNCOUNTED, { maxBufferedBytes: 0, maxBufferedSegments: 0 });
  r.end('eof', 0, 0);
  return r;
}

/** a flow of the table; it is also its own account in the byte budget */
class Flow extends FlowAccount {
  /** client → server (toImds) */
  up!: Reassembler;
  /** server → client */
  down!: Reassembler;
  /** doubly linked list in order of last activity (head = least recently active) */
  prev: Flow | null = null;
  next: Flow | null = null;

  /** the key's parts (identity text), for finding the flow of a segment without building its key */
  readonly clientIp: string;
  readonly serverIp: string;

  constructor(
    budget: MemoryBudget,
    readonly key: string,
    readonly info: FlowInfo,
    public lastSec: number,
    public lastNsec: number,
  ) {
    super(budget);
    this.clientIp = keyIp(info.client.ip);
    this.serverIp = keyIp(info.server.ip);
  }

  /** the flow `flowKey(clientIp, clientPort, serverIp, serverPort)` names (ports first: they differ most) */
  is(clientIp: string, clientPort: number, serverIp: string, serverPort: number): boolean {
    return this.info.client.port === clientPort && this.info.server.port === serverPort && this.clientIp === keyIp(clientIp) && this.serverIp === keyIp(serverIp);
  }
}

/** Closed flows remembered (key → close time) so their late ACK/FIN/RST/retransmissions do not start a new flow. */
const TOMBSTONE_MAX = 4096;
const TOMBSTONE_TTL_SEC = 60;
/** flows on one client port found by scanning; past this, that port's flows are found by text key */
const PORT_SHARERS = 8;

/** all counters at zero (tests build a Reassembler's with `new FlowTable(...).stats`) */
function emptyFlowStats(): FlowStats {
  return {
    flows: 0,
    activeFlows: 0,
    evictedFlows: 0,
    idleFlows: 0,
    halfClosedFlows: 0,
    retransmittedBytes: 0,
    overlapBytes: 0,
    overlapConflictBytes: 0,
    gapBytes: 0,
    responseGapBytes: 0,
    midstreamFlows: 0,
    ignoredSegments: 0,
    reusedFlows: 0,
    budgetEvictedFlows: 0,
    budgetEvictedBytes: 0,
    heldBytes: 0,
    heldBytesPeak: 0,
  };
}

/**
 * The tcp stage: a table of IMDS flows keyed by "clientIp|clientPort|serverIp|serverPort"
 * (the server is the IMDS side), one Reassembler per direction.
 *
 * A flow starts on its first SYN or data-carrying segment (a flow that starts without
 * the client's SYN counts in `midstreamFlows`). It ends on RST ('rst' both ways), when
 * both directions saw their FIN and all data before it, on idle timeout by packet time
 * (`tick`), on eviction when `maxFlows` is reached (least recently active first), on
 * eviction when the byte budget is full (least recently active of the flows that hold
 * anything first), or at `finish` ('eof'). Each consumer gets exactly one onEnd.
 */
export class FlowTable {
  readonly stats: FlowStats = emptyFlowStats();
  private readonly limits: FlowLimits;
  private readonly flows = new Map<string, Flow>();
  /**
   * the same flows by client port (a flow, or the few sharing that port): a segment's flow is
   * found without building its text key, which is made only for a segment with no flow. A port
   * shared by more than PORT_SHARERS flows (many clients' addresses, a crafted capture) is
   * `null`: its segments are looked up by text key, so no scan grows with the flood.
   */
  private readonly byPort = new Map<number, Flow | Flow[] | null>();
  private readonly tombstones = new Tombstones(TOMBSTONE_MAX);
  private readonly budget: MemoryBudget;
  private readonly directionLimits: ReassemblerLimits;
  private readonly ended = endedDirection();
  private head: Flow | null = null;
  private tail: Flow | null = null;
  /** live: flows whose client sent its FIN, in the order it came (null: the half-closed timeout is off) */
  private readonly halfClosed: Set<Flow> | null;
  /** time of the segment whose arrival made the budget evict */
  private evictSec = 0;
  private evictNsec = 0;

  constructor(
    private readonly handler: FlowHandler,
    limits?: Partial<FlowLimits>,
  ) {
    this.limits = { ...DEFAULT_FLOW_LIMITS, ...limits };
    this.halfClosed = Number.isFinite(this.limits.halfClosedTimeoutSec) ? new Set() : null;
    this.budget = new MemoryBudget(this.limits.memoryBudgetBytes, (a) => this.endFlow(a as Flow, 'evicted', this.evictSec, this.evictNsec));
    this.directionLimits = {
      maxBufferedBytes: this.limits.maxBufferedBytesPerDirection,
      maxBufferedSegments: this.limits.maxBufferedSegmentsPerDirection,
    };
  }

  /** bytes charged to the budget over all flows right now (out-of-order data, HTTP state) */
  get heldBytes(): number {
    return this.budget.held;
  }

  /** the counters, with the budget's gauges filled in */
  snapshot(): FlowStats {
    return { ...this.stats, heldBytes: this.budget.held, heldBytesPeak: this.budget.peak };
  }

  push(seg: TcpSegment): void {
    const toImds = seg.toImds;
    const flags = seg.flags;
    const clientSyn = toImds && (flags & (TCP_SYN | TCP_ACK)) === TCP_SYN;
    let flow = toImds ? this.find(seg.src, seg.srcPort, seg.dst, seg.dstPort) : this.find(seg.dst, seg.dstPort, seg.src, seg.srcPort);
    if (flow !== undefined && clientSyn && flow.up.hasStarted && flow.up.isn !== seg.seq) {
      // port reuse before we saw the old connection end
      this.stats.reusedFlows++;
      this.endFlow(flow, 'eof', flow.lastSec, flow.lastNsec);
      flow = undefined;
    }
    if (flow === undefined) {
      const key = toImds ? flowKey(seg.src, seg.srcPort, seg.dst, seg.dstPort) : flowKey(seg.dst, seg.dstPort, seg.src, seg.srcPort);
      const isSyn = (flags & TCP_SYN) !== 0;
      if (!isSyn) {
        if (seg.payload.length + seg.missing === 0 || (flags & TCP_RST) !== 0 || this.tombstones.has(key)) {
          this.stats.ignoredSegments++;
          return;
        }
      } else {
        this.tombstones.delete(key);
      }
      flow = this.startFlow(key, seg, clientSyn);
    } else {
      this.touch(flow);
      this.budget.touch(flow);
    }
    flow.lastSec = seg.sec;
    flow.lastNsec = seg.nsec;
    if ((flags & TCP_RST) !== 0) {
      this.endFlow(flow, 'rst', seg.sec, seg.nsec);
      return;
    }
    (toImds ? flow.up : flow.down).push(seg.seq, flags, seg.payload, seg.missing, seg.sec, seg.nsec);
    if (flow.up.ended && flow.down.ended) {
      this.remove(flow, true);
      this.forget(flow);
    } else if (toImds && (flags & TCP_FIN) !== 0 && this.halfClosed !== null) this.halfClosed.add(flow);
    if (this.budget.held > this.budget.maxBytes) this.enforceBudget(seg.sec, seg.nsec);
  }

  /** the flow of this connection (what `flows.get(flowKey(...))` gives), without making the key */
  private find(clientIp: string, clientPort: number, serverIp: string, serverPort: number): Flow | undefined {
    const e = this.byPort.get(clientPort);
    if (e === undefined) return undefined;
    if (e === null) return this.flows.get(flowKey(clientIp, clientPort, serverIp, serverPort));
    if (!Array.isArray(e)) return e.is(clientIp, clientPort, serverIp, serverPort) ? e : undefined;
    for (const f of e) if (f.is(clientIp, clientPort, serverIp, serverPort)) return f;
    return undefined;
  }

  private index(flow: Flow): void {
    const port = flow.info.client.port;
    const e = this.byPort.get(port);
    if (e === undefined) this.byPort.set(port, flow);
    else if (e === null) return;
    else if (!Array.isArray(e)) this.byPort.set(port, [e, flow]);
    else if (e.length < PORT_SHARERS) e.push(flow);
    else this.byPort.set(port, null);
  }

  private unindex(flow: Flow): void {
    const port = flow.info.client.port;
    const e = this.byPort.get(port);
    if (e === flow) this.byPort.delete(port);
    else if (Array.isArray(e)) {
      const i = e.indexOf(flow);
      if (i >= 0) e.splice(i, 1);
      if (e.length === 1) this.byPort.set(port, e[0]);
    }
  }

  /** the byte budget is full: evict the least recently active flows that hold anything */
  private enforceBudget(sec: number, nsec: number): void {
    this.evictSec = sec;
    this.evictNsec = nsec;
    const { flows, bytes } = this.budget.enforce();
    this.stats.evictedFlows += flows;
    this.stats.budgetEvictedFlows += flows;
    this.stats.budgetEvictedBytes += bytes;
  }

  /** Packet-time housekeeping: end flows idle for longer than idleTimeoutSec ('idle'). */
  tick(nowSec: number): void {
    const limit = this.limits.idleTimeoutSec;
    const sec = Math.floor(nowSec);
    const nsec = Math.round((nowSec - sec) * 1e9);
    while (this.head !== null && nowSec - (this.head.lastSec + this.head.lastNsec / 1e9) > limit) {
      this.stats.idleFlows++;
      this.endFlow(this.head, 'idle', sec, nsec);
    }
    this.tombstones.expire(nowSec - TOMBSTONE_TTL_SEC);
  }

  /**
   * Live (when `halfClosedTimeoutSec` is set): end each flow whose client sent its FIN and on
   * which nothing came for that long since ('idle', counted in `halfClosedFlows`). IMDS
   * answers in milliseconds; a flow still waiting was read without its answer (lost from a
   * full capture ring), and its calls are whole: they leave now rather than at the idle
   * timeout minutes later. The caller runs it only when the capture is read up to date, so an
   * answer still waiting in a backlog is never cut off (docs/design.md#half-closed-flows).
   */
  endHalfClosed(nowSec: number): void {
    const hc = this.halfClosed;
    if (hc === null || hc.size === 0) return;
    const limit = this.limits.halfClosedTimeoutSec;
    const sec = Math.floor(nowSec);
    const nsec = Math.round((nowSec - sec) * 1e9);
    for (const flow of hc) {
      // ending a flow takes it out of the set (remove); one the server still talks on stays
      if (nowSec - (flow.lastSec + flow.lastNsec / 1e9) <= limit) continue;
      this.stats.halfClosedFlows++;
      this.endFlow(flow, 'idle', sec, nsec);
    }
  }

  /** End of input: every flow ends ('eof', or 'fin' for a direction whose FIN was seen). */
  finish(): void {
    while (this.head !== null) this.endFlow(this.head, 'eof', this.head.lastSec, this.head.lastNsec);
    this.tombstones.clear();
  }

  private startFlow(key: string, seg: TcpSegment, clientSyn: boolean): Flow {
    if (this.flows.size >= this.limits.maxFlows && this.head !== null) {
      this.stats.evictedFlows++;
      this.endFlow(this.head, 'evicted', seg.sec, seg.nsec);
    }
    const toImds = seg.toImds;
    const info: FlowInfo = {
      key,
      client: toImds ? { ip: seg.src, port: seg.srcPort } : { ip: seg.dst, port: seg.dstPort },
      server: toImds ? { ip: seg.dst, port: seg.dstPort } : { ip: seg.src, port: seg.srcPort },
      ipVersion: seg.ipVersion,
      sawSyn: clientSyn,
      clientIsn: clientSyn ? seg.seq : undefined,
      sec: seg.sec,
      nsec: seg.nsec,
    };
    this.stats.flows++;
    this.stats.activeFlows++;
    if (!clientSyn) this.stats.midstreamFlows++;
    const flow = new Flow(this.budget, key, info, seg.sec, seg.nsec);
    // what the consumers hold is charged to the flow itself (src/tcp/memory-budget.ts)
    const consumers = this.handler.onFlow(info, flow);
    flow.up = new Reassembler(consumers.toServer, this.stats, flow, this.directionLimits);
    flow.down = new Reassembler(consumers.toClient, this.stats, flow, this.directionLimits, 'response');
    flow.prev = this.tail;
    if (this.tail !== null) this.tail.next = flow;
    else this.head = flow;
    this.tail = flow;
    this.flows.set(key, flow);
    this.index(flow);
    return flow;
  }

  private endFlow(flow: Flow, reason: EndReason, sec: number, nsec: number): void {
    // after a RST the connection is over: late segments must not start a new flow;
    // after idle/evicted/eof/reuse a later data segment may start a mid-stream flow
    this.remove(flow, reason === 'rst');
    flow.up.end(reason, sec, nsec);
    flow.down.end(reason, sec, nsec);
    this.forget(flow);
  }

  /** the flow has ended both ways: let go of its streams (see endedDirection) */
  private forget(flow: Flow): void {
    flow.up = flow.down = this.ended;
  }

  private remove(flow: Flow, tombstone: boolean): void {
    if (this.flows.get(flow.key) !== flow) return;
    this.flows.delete(flow.key);
    this.halfClosed?.delete(flow);
    this.unindex(flow);
    this.stats.activeFlows--;
    if (flow.prev !== null) flow.prev.next = flow.next;
    else this.head = flow.next;
    if (flow.next !== null) flow.next.prev = flow.prev;
    else this.tail = flow.prev;
    flow.prev = flow.next = null;
    if (!tombstone) return;
    this.tombstones.add(flow.key, flow.lastSec);
  }

  /** move to the tail of the activity list */
  private touch(flow: Flow): void {
    if (this.tail === flow) return;
    if (flow.prev !== null) flow.prev.next = flow.next;
    else this.head = flow.next;
    flow.next!.prev = flow.prev;
    flow.prev = this.tail;
    flow.next = null;
    this.tail!.next = flow;
    this.tail = flow;
  }
}
