import { Decoder } from '../decode/decoder.js';
import { TCP_ACK, TCP_SYN } from '../decode/packet.js';
import type { ProcessInfo } from '../imds/event.js';
import { canonicalIp, flowKey } from '../domain/address.js';
import { ImdswatchError, type GateErrorCode } from '../errors/catalogue.js';
import { DEFAULT_GATE_BUDGET_MS, DEFAULT_QUEUE_NUM } from '../domain/endpoint.js';
import type { LookupOutcome, ProcCorrelator, SocketTuple } from '../enrich/process/proc-correlator.js';
import { QUEUE_BATCH, QUEUE_SNAPLEN, capLoadError, loadCap, makeClock, openCap, type CapHandle } from './cap-binding.js';
import { isPermissionError } from './capture.js';
import { HoldHistogram, type HistogramSnapshot } from './hold-histogram.js';
import { BusyGuard, UNKNOWN_KEY } from './busy-guard.js';
import { pilingUp } from './queue-backlog.js';
import { hasCapability } from './privilege.js';

/**
 * The SYN gate's listener: reads `nfqueue:N` through libpcap (cap). libpcap sends the
 * NF_ACCEPT verdict only after the packet callback returns, so while `onPacket` runs the
 * client is blocked in connect() with its socket in SYN_SENT; the callback resolves the
 * socket's owner synchronously (within a time budget) and records it by 4-tuple.
 *
 * cap reports the queue as link type 228 (raw IPv4), yet ip6tables-queued IPv6 SYNs arrive on
 * the same queue: packets are decoded as raw IP by their version nibble.
 */
export interface GateRecord {
  /** "clientIp|clientPort|serverIp|serverPort", canonical address text */
  key: string;
  tuple: SocketTuple;
  /** the SYN's sequence number (the client's ISN): with the key, one connection exactly */
  isn: number;
  /** wall-clock time the SYN was held (ms since epoch) */
  synMs: number;
  process: ProcessInfo | null;
  netnsInode: number | null;
  /** 'shed': passed without a lookup, its uid over its share of the lookup time (BusyGuard) */
  outcome: LookupOutcome | 'shed';
  /** held on the system lane's queue (docs/design.md#system-lane) */
  lane?: true;
  /** the socket's uid as sock_diag gave it before the lookup (null: not known) */
  uid: number | null;
  /** time the callback held the packet */
  holdMs: number;
  /** time the /proc lookup took */
  lookupMs: number;
}

export interface GateOptions {
  queueNum: number;
  /** lookup budget per SYN; past it the verdict is given and the flow is unattributed */
  budgetMs: number;
  /** most records kept (oldest dropped first) */
  maxRecords: number;
  /** records older than this are dropped */
  recordTtlMs: number;
  /** libpcap buffer for the queue */
  bufferBytes: number;
  /**
   * overload guard (see BusyGuard): most share of each `busyWindowMs` spent holding SYNs for
   * lookups while SYNs queue up back to back. Past it the rest of that window's SYNs get
   * their verdict at once, unattributed (`shed`), so a SYN flood cannot fill the kernel queue
   * (1024 packets; a full queue drops SYNs and IMDS would be blocked for every client) nor
   * starve the capture of the event loop.
   */
  maxBusyShare: number;
  busyWindowMs: number;
  /**
   * the uid of the SYN's socket, asked before any /proc search (the BusyGuard's fairness key);
   * default: the correlator's sock_diag row in the daemon's network namespace (ownSocket, microseconds; handed on to the owner search), null
   * when it cannot answer (no addon, a socket in another namespace). Tests pass their own.
   */
  uidOf?: (tuple: SocketTuple) => number | null;
  /** the monotonic clock of holds and of the BusyGuard (default performance.now; tests pass their own) */
  now?: () => number;
  /** SYNs pile up in the queue (default: its backlog from /proc, queue-backlog.ts); tests pass their own */
  pilingUp?: (queueNum: number) => boolean;
}

export const DEFAULT_GATE_OPTIONS: GateOptions = {
  queueNum: DEFAULT_QUEUE_NUM,
  budgetMs: DEFAULT_GATE_BUDGET_MS,
  // a record matters only while its flow can still be joined: as many as the flow table holds
  maxRecords: 16_384,
  recordTtlMs: 10 * 60_000,
  bufferBytes: 4 * 1024 * 1024,
  maxBusyShare: 0.25,
  busyWindowMs: 100,
};

export interface GateStats {
  /** SYNs held */
  syns: number;
  /** of them, held on the system lane's queue (docs/design.md#system-lane) */
  laneSyns: number;
  outcomes: Record<LookupOutcome, number>;
  /** queued packets that were not an IMDS SYN (decoded and passed) */
  notSyn: number;
  recordsKept: number;
  recordsEvicted: number;
  /** SYNs passed without a lookup because the gate was overloaded (maxBusyShare) */
  shed: number;
  /**
   * those shed SYNs by the uid of their socket ("unknown" when sock_diag could not tell;
   * past MAX_SHED_UIDS distinct uids, "other"): whose flood was shed
   */
  shedByUid: Record<string, number>;
}

/** most records kept for one 4-tuple (a busy host reuses a client port within seconds) */
export const RECORDS_PER_TUPLE = 4;
/**
 * how far a captured packet's time may precede the SYN's hold on this clock (capture time
 * and gate time are both the kernel's wall clock, read at two hooks)
 */
export const CLOCK_SLACK_MS = 1_000;

/** most uids named in `shedByUid` (the rest are counted under "other") */
export const MAX_SHED_UIDS = 64;

export type { GateErrorCode };

export class GateError extends ImdswatchError<GateErrorCode> {
  constructor(code: GateErrorCode, message: string) {
    super(code, message);
    this.name = 'GateError';
  }
}

export function tupleKey(t: { srcIp: string; srcPort: number; dstIp: string; dstPort: number }): string {
  return flowKey(canonicalIp(t.srcIp), t.srcPort, canonicalIp(t.dstIp), t.dstPort);
}

export class SynGate {
  private readonly opts: GateOptions;
  /** per 4-tuple, its connections' records oldest first (at most RECORDS_PER_TUPLE) */
  private readonly records = new Map<string, GateRecord[]>();
  private recordCount = 0;
  private readonly decoder = new Decoder();
  private readonly clock = makeClock();
  private readonly hist = new HoldHistogram();
  private readonly caps: CapHandle[] = [];
  /** the system lane's queue, once open */
  private laneQueueNum: number | null = null;
  private catchUpScheduled = false;
  private readonly counters: GateStats = {
    syns: 0,
    laneSyns: 0,
    outcomes: { found: 0, 'no-socket': 0, 'no-owner': 0, budget: 0 },
    notSyn: 0,
    recordsKept: 0,
    recordsEvicted: 0,
    shed: 0,
    shedByUid: {},
  };
  private shedUids = 0;
  /** shared with the live source's passive lookups: one budget for all /proc work */
  readonly guard: BusyGuard;

  constructor(
    private readonly correlator: ProcCorrelator,
    opts: Partial<GateOptions> = {},
    /** every IMDS SYN's record, shed ones too (outcome 'shed') */
    private readonly onRecord?: (r: GateRecord) => void,
  ) {
    this.opts = { ...DEFAULT_GATE_OPTIONS, ...opts };
    this.guard = new BusyGuard({ maxShare: this.opts.maxBusyShare, windowMs: this.opts.busyWindowMs });
  }

  /** open the queue; throws GateError when libpcap cannot (no cap, no nfqueue support, no rights) */
  start(): void {
    this.caps.push(this.openQueue(this.opts.queueNum));
  }

  /**
   * Open the system lane's queue too (docs/design.md#system-lane): the host's system users'
   * SYNs, held apart from everyone else's, so another user's flood never queues ahead of
   * them. Throws GateError like start().
   */
  startLane(queueNum: number): void {
    this.caps.push(this.openQueue(queueNum));
    this.laneQueueNum = queueNum;
  }

  private openQueue(queueNum: number): CapHandle {
    const mod = loadCap();
    if (!mod) throw new GateError('E_GATE_NO_CAP', `cannot load the libpcap binding (cap): ${capLoadError()}`);
    const cap = new mod.Cap();
    const buf = Buffer.alloc(65_535);
    try {
      openCap(cap, `nfqueue:${queueNum}`, '', this.opts.bufferBytes, buf, QUEUE_BATCH, QUEUE_SNAPLEN);
    } catch (err) {
      const msg = (err as Error).message;
      if (isPermissionError(msg)) {
        // the kernel answers EPERM both to a caller without CAP_NET_ADMIN and to a bind of
        // a queue another process holds (nfnetlink_queue: peer_portid differs): tell them apart
        if (hasCapability('CAP_NET_ADMIN')) {
          throw new GateError(
            'E_GATE_QUEUE_BUSY',
            `cannot open nfqueue:${queueNum}: the queue is held by another process (another imdswatch, or an IPS such as Suricata); ` +
              'choose a free queue with --queue-num N, or stop the other program',
          );
        }
        throw new GateError('E_GATE_NO_PRIVILEGE', `cannot open nfqueue:${queueNum}: missing privilege CAP_NET_ADMIN (${msg})`);
      }
      throw new GateError('E_GATE_OPEN_FAILED', `cannot open nfqueue:${queueNum}: ${msg}`);
    }
    cap.on('packet', (nbytes: number) => this.onPacket(buf.subarray(0, nbytes), queueNum));
    return cap;
  }

  stop(): void {
    for (const cap of this.caps.splice(0)) {
      cap.removeAllListeners('packet');
      cap.close();
    }
  }

  /**
   * The packet callback (public for tests): decode, read the socket's uid, look up (unless
   * that uid is over its share: shed), record. Returns the record for an IMDS SYN (outcome
   * 'shed' without a process when shed); null for anything else.
   */
  onPacket(packet: Buffer, queueNum = this.opts.queueNum): GateRecord | null {
    const now0 = this.opts.now ?? performance.now.bind(performance);
    const t0 = now0();
    const now = this.clock();
    const seg = this.decoder.decode({ sec: now.sec, nsec: now.nsec, linkType: 101, data: packet, origLen: packet.length, iface: 0 });
    if (!seg || !seg.toImds || (seg.flags & (TCP_SYN | TCP_ACK)) !== TCP_SYN) {
      this.counters.notSyn++;
      return null;
    }
    const tuple: SocketTuple = { srcIp: seg.src, srcPort: seg.srcPort, dstIp: seg.dst, dstPort: seg.dstPort, ipVersion: seg.ipVersion };
    // one sock_diag question for both the fairness key and the owner search (docs/design.md#syn-gate)
    const own = this.opts.uidOf ? undefined : this.correlator.ownSocket(tuple);
    const uid = this.opts.uidOf ? this.opts.uidOf(tuple) : (own?.uid ?? null);
    // decoder text: flowKey makes it canonical without re-parsing (tupleKey is for text from anywhere)
    const key = flowKey(seg.src, seg.srcPort, seg.dst, seg.dstPort);
    const synMs = now.sec * 1000 + Math.floor(now.nsec / 1e6);
    const fairKey = uid ?? UNKNOWN_KEY;
    // shed only while SYNs pile up in the kernel queue (queue-backlog.ts): N callers at once are all held, a flood's uid goes first
    if (!this.guard.allow(t0, fairKey) && (this.opts.pilingUp ?? pilingUp)(queueNum)) {
      this.countShed(uid);
      // kept, so the flow's first byte does not try a passive lookup for the same uid
      const shed: GateRecord = { key, tuple, isn: seg.seq, synMs, process: null, netnsInode: null, outcome: 'shed', uid, holdMs: now0() - t0, lookupMs: 0 };
      if (queueNum === this.laneQueueNum) shed.lane = true;
      this.store(shed);
      this.onRecord?.(shed);
      return shed;
    }
    const r = this.correlator.findSocketOwner(tuple, this.opts.budgetMs, own);
    const holdMs = now0() - t0;
    this.guard.done(t0, t0 + holdMs, fairKey);
    const rec: GateRecord = {
      key,
      tuple,
      isn: seg.seq,
      synMs,
      process: r.process,
      netnsInode: r.netnsInode,
      outcome: r.outcome,
      uid: uid ?? r.socket?.uid ?? null,
      holdMs,
      lookupMs: r.elapsedMs,
    };
    this.counters.syns++;
    if (queueNum === this.laneQueueNum) {
      this.counters.laneSyns++;
      rec.lane = true;
    }
    this.counters.outcomes[r.outcome]++;
    this.hist.observe(holdMs);
    this.store(rec);
    this.onRecord?.(rec);
    if (!this.catchUpScheduled && this.correlator.needsCatchUp) {
      // after the verdict: read the status of pids first seen during this hold
      this.catchUpScheduled = true;
      setImmediate(() => {
        this.catchUpScheduled = false;
        this.correlator.catchUp(5);
      });
    }
    return rec;
  }

  /**
   * The record of one connection (docs/design.md#syn-gate). `isn` (the client's ISN, when
   * the capture saw its SYN) names it exactly: a 4-tuple alone does not, since a client
   * port is reused within seconds under load, and the pipeline may read a flow's packets
   * after the tuple's next SYN was held — matching by tuple alone gave one user's call to
   * another user's process. Without an ISN (the capture joined mid-connection, `atMs` =
   * its first packet) the newest SYN held before that packet answers: never a later one.
   */
  lookup(key: string, atMs = Date.now(), isn?: number): GateRecord | null {
    const list = this.records.get(key);
    if (!list) return null;
    for (let i = list.length - 1; i >= 0; i--) {
      const r = list[i]!;
      if (atMs - r.synMs > this.opts.recordTtlMs) return null; // older ones are older still
      if (isn !== undefined) {
        // a forwarded SYN is captured before the gate holds it: its record may be later
        if (r.isn === isn && r.synMs - atMs <= 5_000) return r;
      } else if (r.synMs - atMs <= CLOCK_SLACK_MS) {
        return r;
      }
    }
    return null;
  }

  /** the tuple's newest SYN was held after `atMs`: its socket now is a later connection's */
  reusedSince(key: string, atMs: number): boolean {
    const list = this.records.get(key);
    return list !== undefined && list[list.length - 1]!.synMs - atMs > CLOCK_SLACK_MS;
  }

  stats(): GateStats {
    return { ...this.counters, outcomes: { ...this.counters.outcomes }, shedByUid: { ...this.counters.shedByUid }, recordsKept: this.recordCount };
  }

  private countShed(uid: number | null): void {
    this.counters.shed++;
    const m = this.counters.shedByUid;
    let k = uid === null ? 'unknown' : String(uid);
    if (m[k] === undefined && k !== 'unknown') {
      if (this.shedUids >= MAX_SHED_UIDS) k = 'other';
      else this.shedUids++;
    }
    m[k] = (m[k] ?? 0) + 1;
  }

  holdHistogram(): HistogramSnapshot {
    return this.hist.snapshot();
  }

  holdQuantiles() {
    return this.hist.quantiles();
  }

  private store(rec: GateRecord): void {
    const list = this.records.get(rec.key) ?? [];
    // a retransmitted SYN (same ISN) replaces its first hold's record
    const again = list.findIndex((r) => r.isn === rec.isn);
    if (again >= 0) {
      list.splice(again, 1);
      this.recordCount--;
    } else if (list.length >= RECORDS_PER_TUPLE) {
      list.shift();
      this.recordCount--;
      this.counters.recordsEvicted++;
    }
    list.push(rec);
    this.recordCount++;
    // the map's order is each tuple's latest SYN: re-insert
    this.records.delete(rec.key);
    this.records.set(rec.key, list);
    // least recently used tuples first: drop over-capacity and expired heads
    for (const [k, l] of this.records) {
      const newest = l[l.length - 1]!;
      if (this.recordCount > this.opts.maxRecords || rec.synMs - newest.synMs > this.opts.recordTtlMs) {
        this.records.delete(k);
        this.recordCount -= l.length;
        this.counters.recordsEvicted += l.length;
      } else break;
    }
  }
}
