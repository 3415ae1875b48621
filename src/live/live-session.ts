import type { Attribution, ImdsEvent } from '../imds/event.js';
import type { FlowInfo } from '../tcp/stream.js';
import { createPipeline } from '../pipeline/create-pipeline.js';
import type { LiveObserver, Pipeline, PipelineStats } from '../pipeline/pipeline.js';
import type { Who } from '../enrich/enricher.js';
import { ProcCorrelator, type CorrelatorStats } from '../enrich/process/proc-correlator.js';
import { DEFAULT_GATE_BUDGET_MS, DEFAULT_PASSIVE_BUDGET_MS, IMDS_PORT, IMDS_V4_TEXT, IMDS_V6_TEXT } from '../domain/endpoint.js';
import type { ProcessInfo } from '../imds/event.js';
import { LiveCapture, SYN_GATED_BUFFER_MS, type CaptureStats } from './capture.js';
import { SegmentDeduper, type DedupeStats } from './dedupe.js';
import { SynGate, tupleKey, type GateRecord, type GateStats } from './gate.js';
import type { HistogramSnapshot } from './hold-histogram.js';
import { procLookupPrivilegeWarning } from './privilege.js';
import { installGateRules, removeGateRules, watchGateRules, type GateRuleWatch, type GateRulesResult, type Runner } from './gate-rules.js';
import { FlowAttributor } from './attribution.js';
import { CaptureLossCheck, type MissedTally } from './capture-loss.js';
import { UnreadConnections, type UnreadStats } from './unread-connections.js';
import { FrameQueue, type FrameQueueStats } from './frame-queue.js';
import { Decoder } from '../decode/decoder.js';
import { LaneConnections, laneRules, type LaneStats } from './system-lane.js';
import type { Frame } from '../source/frame.js';

/**
 * One live session, what `scan` and `daemon` run: the SYN gate (firewall rules + NFQUEUE
 * listener + /proc correlator), the passive capture, and the pipeline of `replay`:
 *
 *   capture → decode → dedupe → tcp → http → imds → enrich(attribution) → onEvent
 *                                                          ↑
 *   SYN gate (NFQUEUE) → /proc lookup → record by flow key ┘
 *
 * Events are emitted as each request completes (no reordering delay in live use).
 * Failure policy: no rights / no firewall tool / no nfqueue → one warning, run passively.
 * A capture that cannot open is fatal (throws LiveCaptureError) after undoing the gate.
 * Signals are the CLI's: it calls `stop()`, and `removeGateRulesNow()` from its exit hook.
 */
export interface LiveSessionOptions {
  interfaces: string[];
  gate: boolean;
  queueNum: number;
  /** lookup budget per held SYN */
  gateBudgetMs?: number;
  /** lookup budget for a passive lookup */
  passiveBudgetMs?: number;
  onEvent: (ev: ImdsEvent) => void;
  onWarning: (msg: string) => void;
  /** every held SYN (metrics, probes) */
  onGateRecord?: (r: GateRecord) => void;
  /** drop copies of the same packet seen on several interfaces (default true) */
  dedupe?: boolean;
  /** skip the passive capture (gate only: probes, tests) */
  capture?: boolean;
  /** capture filter override (tests) */
  filter?: string;
  /**
   * the system lane (docs/design.md#system-lane): the host's system users' IMDS SYNs on a
   * queue of their own, their packets through NFLOG; on with the gate unless false (the
   * daemon's and scan's `lane` setting)
   */
  lane?: boolean;
  correlator?: ProcCorrelator;
  ruleRunner?: Runner;
}

export interface LiveStats {
  /** every stage of the pipeline (decode, tcp, http, imds, enrich) */
  pipeline: PipelineStats;
  gateActive: boolean;
  gateRules: GateRulesResult | null;
  gate: GateStats | null;
  holdHistogram: HistogramSnapshot | null;
  holdQuantiles: { p50: number; p99: number; max: number; samples: number } | null;
  capture: CaptureStats | null;
  dedupe: DedupeStats | null;
  correlator: CorrelatorStats;
  /** flows by attribution (once per flow) */
  attribution: Record<Attribution, number>;
  /** passive lookups skipped by the overload guard (the flow stays unattributed) */
  passiveShed: number;
  /** SYNs the gate held that the capture never showed within 5 s (capture loss) */
  missedSyns: number;
  /** those missed connections by the program the gate named (whose calls went unread) */
  missedConnections: MissedTally;
  /** frames between capture and pipeline (src/live/frame-queue.ts); null without capture */
  frameQueue: FrameQueueStats | null;
  /** shed connections left unread while the pipeline was near its bound (src/live/unread-connections.ts); null without gate or capture */
  unread: UnreadStats | null;
  /** the system lane (src/live/system-lane.ts): its SYNs held, frames read, copies dropped, frames dropped at the queue; null when it is off */
  lane: (LaneStats & { syns: number; overflow: number }) | null;
}

export class LiveSession {
  private readonly pipeline: Pipeline;
  private readonly correlator: ProcCorrelator;
  private readonly loss = new CaptureLossCheck();
  private readonly dedupe: SegmentDeduper | null;
  private gate: SynGate | null = null;
  private rules: GateRulesResult | null = null;
  private rulesInstalled = false;
  /** keeps the gate rule in place when runtimes rewrite the tables */
  private ruleWatch: GateRuleWatch | null = null;
  private capture: LiveCapture | null = null;
  /** the system lane's NFLOG capture, its connections, and whether the frame being read came from it */
  private laneCapture: LiveCapture | null = null;
  private laneConns: LaneConnections | null = null;
  private readingLane = false;
  private flowAttributor: FlowAttributor | null = null;
  /** owners of the IMDS connections open when the session started (tuple key → process) */
  private readonly openAtStart = new Map<string, ProcessInfo>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private frames: FrameQueue | null = null;
  private unread: UnreadConnections | null = null;
  /** capture time of the newest frame the pipeline has read */
  private readUpToMs = 0;

  /** start everything; throws LiveCaptureError (after undoing the gate) when the capture cannot open */
  static start(opts: LiveSessionOptions): LiveSession {
    const s = new LiveSession(opts);
    s.startGate();
    s.startCapture();
    s.timer = setInterval(() => {
      const now = Date.now();
      s.pipeline.tick(Math.floor(now / 1000));
      // a flow whose answer was lost leaves in seconds, but never while an answer may still wait in a backlog
      if (!(s.frames?.lagging ?? false)) s.pipeline.endHalfClosed(now / 1000);
      s.loss.check(s.captureClockMs(now));
      s.unread?.expire(now);
      s.laneConns?.expire(now);
    }, 1000);
    s.timer.unref();
    return s;
  }

  private constructor(private readonly opts: LiveSessionOptions) {
    this.correlator = opts.correlator ?? new ProcCorrelator();
    this.correlator.prime();
    // connections to IMDS already open: their SYN is past, their owner may exit before we read them
    for (const c of this.correlator.openConnections(isImdsPeer)) this.openAtStart.set(tupleKey(c.tuple), c.process);
    if (!opts.correlator) {
      const w = procLookupPrivilegeWarning();
      if (w) opts.onWarning(w);
    }
    const dedupe = opts.dedupe === false ? null : new SegmentDeduper();
    this.dedupe = dedupe;
    this.pipeline = createPipeline({
      onEvent: opts.onEvent,
      ordered: false,
      flowLimits: { halfClosedTimeoutSec: LIVE_HALF_CLOSED_SEC },
      observer: this.observer(dedupe),
    });
  }

  /**
   * The pipeline's one live observer (src/pipeline/pipeline.ts LiveObserver, in its call
   * order): dedupe, capture-loss bookkeeping, the attribution taken at the first byte and
   * settled when each event is built.
   */
  private observer(dedupe: SegmentDeduper | null): LiveObserver {
    return {
      acceptSegment: (seg) => {
        const ms = seg.sec * 1000 + seg.nsec / 1e6;
        const lane = this.laneConns;
        if (lane) {
          // a lane connection's packets to IMDS are read from the lane (one copy each); `any`'s copies of them are dropped
          if (this.readingLane) return lane.laneSegment(seg, ms);
          if (lane.isCopy(seg, ms)) return false;
        }
        return dedupe ? dedupe.acceptSegment(seg, ms) : true;
      },
      flowStarted: (flow) => {
        this.loss.flowStarted(flow);
        if (!this.gate) this.attributor().synSeen(flow);
      },
      firstByte: (flow) => this.attributor().firstByte(flow),
      who: (flow) => this.attributor().who(flow),
    };
  }

  /** who made a flow's calls, as the pipeline would settle it at its first event (public for tests of the passive path) */
  attributionFor(flow: FlowInfo): Who {
    return this.attributor().who(flow);
  }

  private attributor(): FlowAttributor {
    return (this.flowAttributor ??= new FlowAttributor(this.correlator, this.gate, this.opts.passiveBudgetMs ?? DEFAULT_PASSIVE_BUDGET_MS, this.openAtStart, () => this.ungated()));
  }

  /** a captured SYN the gate never held: check its rules now (docs/design.md#lane-batching); not while lagging (a record may be evicted) */
  private ungated(): void {
    if (!(this.frames?.lagging ?? false)) this.ruleWatch?.checkSoon();
  }

  /** the system lane reads its own queue and capture (docs/design.md#system-lane) */
  get laneActive(): boolean {
    return this.laneConns !== null && !this.stopped;
  }

  get gateActive(): boolean {
    return this.gate !== null && !this.stopped;
  }

  /**
   * How far the capture has been read (docs/design.md#capture-loss): now, when no frame waits;
   * else the newest frame's capture time. A SYN is missed only when the pipeline has read
   * past it and never saw its flow — a pipeline seconds behind under a flood is late, not
   * lossy, and counting its flows as missed named the wrong calls.
   */
  captureClockMs(nowMs = Date.now()): number {
    return this.frames && this.frames.waiting > 0 ? Math.min(nowMs, this.readUpToMs) : nowMs;
  }

  /** stop capture and gate, remove the gate rules, end every flow (pending requests are emitted) */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.capture?.stop();
    this.laneCapture?.stop();
    this.gate?.stop();
    this.removeGateRulesNow();
    this.frames?.drain();
    this.pipeline.finish();
  }

  /**
   * Remove the gate's firewall rules, nothing else (synchronous, safe in a process 'exit'
   * hook after an uncaught exception). The rule bypasses when nobody listens anyway.
   */
  removeGateRulesNow(): void {
    this.ruleWatch?.stop();
    this.ruleWatch = null;
    if (!this.rulesInstalled) return;
    this.rulesInstalled = false;
    try {
      removeGateRules({ runner: this.opts.ruleRunner });
    } catch {
      /* at exit: nothing more to do; the rule bypasses anyway */
    }
  }

  /** the gate's hold histogram (what /metrics publishes at each scrape); null without the gate */
  holdHistogram = (): HistogramSnapshot | null => this.gate?.holdHistogram() ?? null;

  stats(): LiveStats {
    const a = this.flowAttributor?.stats() ?? { flows: { gate: 0, passive: 0, none: 0 }, passiveShed: 0 };
    const [gate, frames] = [this.gate, this.frames?.stats() ?? null];
    const gateStats = gate?.stats() ?? null;
    return {
      pipeline: this.pipeline.stats(),
      gateActive: this.gateActive,
      gateRules: this.rules,
      gate: gateStats,
      holdHistogram: gate?.holdHistogram() ?? null,
      holdQuantiles: gate?.holdQuantiles() ?? null,
      capture: this.capture?.stats() ?? null,
      dedupe: this.dedupe?.stats() ?? null,
      correlator: this.correlator.stats(),
      attribution: a.flows,
      passiveShed: a.passiveShed,
      missedSyns: this.loss.missedSyns(),
      missedConnections: this.loss.missedByProgram(),
      frameQueue: frames,
      unread: this.unread?.stats() ?? null,
      lane: this.laneConns ? { ...this.laneConns.stats(), syns: gateStats?.laneSyns ?? 0, overflow: frames?.laneOverflow ?? 0 } : null,
    };
  }

  private startGate(): void {
    const o = this.opts;
    if (!o.gate) return;
    const onRecord = (r: GateRecord): void => {
      // the hold histogram and probes see lookups; the loss check awaits every SYN
      if (r.outcome !== 'shed') o.onGateRecord?.(r);
      this.loss.gateRecord(r);
      // the lane's connections are the ones its queue held: known before either capture sees them
      if (r.lane) this.laneConns?.held(r.key, r.isn, r.synMs);
    };
    const g = new SynGate(this.correlator, { queueNum: o.queueNum, budgetMs: o.gateBudgetMs ?? DEFAULT_GATE_BUDGET_MS }, onRecord);
    try {
      g.start();
      let lane = o.lane === false ? undefined : laneRules(o.queueNum);
      if (lane) {
        try {
          g.startLane(lane.queueNum);
        } catch (err) {
          o.onWarning(`the system lane is off: ${(err as Error).message}; system users' calls share the queue and the capture with everyone's`);
          lane = undefined;
        }
      }
      try {
        this.rules = installGateRules({ queueNum: o.queueNum, runner: o.ruleRunner, lane });
        this.rulesInstalled = true;
        this.gate = g;
        if (this.rules.replacedStale) o.onWarning('replaced gate rules left by an earlier run');
        for (const w of this.rules.warnings) o.onWarning(w);
        // a removed or displaced gate rule is put back, counted in stats().gateRules.repairs,
        // and named once in a warning
        if (this.rules.backend === 'iptables') {
          const r = this.rules;
          this.ruleWatch = watchGateRules({
            queueNum: o.queueNum,
            lane: r.lane,
            families: r.families,
            runner: o.ruleRunner,
            onRepair: (family, problem, ok) => {
              if ((r.repairs = (r.repairs ?? 0) + 1) === 1)
                o.onWarning(
                  `the SYN gate's rule was changed by something else (${family === 4 ? 'iptables' : 'ip6tables'}: ${problem}); ${ok ? 'put back' : 'could not put it back'} (checked when a call was not held, and every 30 s; later repairs are counted, not logged)`,
                );
            },
          });
        }
      } catch (err) {
        g.stop();
        throw err;
      }
    } catch (err) {
      const e = err as Error & { code?: string };
      o.onWarning(`SYN gate not active (${e.code ?? 'error'}): ${e.message}; continuing with passive attribution only`);
    }
  }

  private startCapture(): void {
    const o = this.opts;
    if (o.capture === false) return;
    const pipeline = this.pipeline;
    // every captured frame is read: a shed connection loses only its process lookup, never its
    // request (docs/design.md#syn-gate, "Between capture and pipeline")
    const unread = this.gate ? new UnreadConnections(this.gate) : null;
    this.unread = unread;
    const frames = new FrameQueue(
      (f) => {
        this.readUpToMs = f.sec * 1000 + f.nsec / 1e6;
        pipeline.pushFrame(f);
      },
      unread ? (f, nearBound) => unread.leaveUnread(f, nearBound) : undefined,
      {},
      (f) => {
        // a lane frame: read first, and not how far the capture was read (that is the `any` ring's backlog)
        this.readingLane = true;
        try {
          pipeline.pushFrame(f);
        } finally {
          this.readingLane = false;
        }
      },
    );
    this.frames = frames;
    // buffered while the gate holds every SYN for its lookup (SYN_GATED_BUFFER_MS), with the lane's NFLOG group batched
    // too (docs/design.md#lane-batching); immediate without the gate (the passive lookup needs the first byte while the socket exists)
    const bufferMs = this.gate ? SYN_GATED_BUFFER_MS : 0;
    const capture = new LiveCapture((f) => frames.push(f), { interfaces: o.interfaces, bufferMs, ...(o.filter ? { filter: o.filter } : {}) });
    try {
      capture.start();
    } catch (err) {
      this.gate?.stop();
      this.gate = null;
      this.removeGateRulesNow();
      throw err;
    }
    this.capture = capture;
    this.startLaneCapture(frames);
  }

  /** the system lane's NFLOG group, when its rules are in (docs/design.md#system-lane); a failure is a warning */
  private startLaneCapture(frames: FrameQueue): void {
    const lane = this.rules?.lane;
    if (!lane) return;
    const c = new LiveCapture((f) => frames.pushLane(f), { interfaces: [`nflog:${lane.nflogGroup}`], filter: '', bufferBytes: LANE_BUFFER_BYTES, bufferMs: LANE_FLUSH_MS });
    try {
      c.start();
      this.laneCapture = c;
      this.laneConns = new LaneConnections();
    } catch (err) {
      this.opts.onWarning(`the system lane's capture is off (${(err as Error).message}); system users' SYNs keep their own queue, their packets are read from the shared capture`);
    }
  }
}

/**
 * A flow the client closed and on which nothing came for this long is ended (its calls leave
 * without their answer's status): IMDS answers in milliseconds, so its answer was lost to a
 * full capture ring (docs/design.md#half-closed-flows). Checked once a second, only while the
 * frame queue is not behind.
 */
export const LIVE_HALF_CLOSED_SEC = 5;

/**
 * The lane's NFLOG flush timeout: the kernel sends the group's packets at most this late, many
 * per read, instead of one wake-up per packet (docs/design.md#lane-batching; cap as patched at
 * install; the kernel counts in 1/100 s).
 */
const LANE_FLUSH_MS = 20;

/** the lane capture's socket buffer: a few services' calls */
const LANE_BUFFER_BYTES = 4 * 1024 * 1024;

function isImdsPeer(ip: string, port: number): boolean {
  return port === IMDS_PORT && (ip === IMDS_V4_TEXT || ip === IMDS_V6_TEXT);
}
