import type { Logger } from 'pino';
import { describeMissed } from './capture-loss.js';
import type { LiveStats } from './live-session.js';
import { counterDelta, flatCounters, type PipelineStats } from '../pipeline/stats.js';
import { unreadImdsPackets, unreadImdsRequests } from '../decode/unread-imds.js';
import type { HttpErrorCode } from '../errors/catalogue.js';
import type { Metrics } from '../sinks/metrics.js';
import type { DaemonState } from '../sinks/state-store.js';

/** what the health sink writes to: the daemon's log, its metrics (null with --metrics off) and its state */
export interface HealthTargets {
  logger: Pick<Logger, 'error' | 'warn'>;
  metrics: Metrics | null;
  state: DaemonState;
}

/**
 * Every loss that can hide a call, as counters that only grow, and how far the capture was
 * read (ms since the epoch): the daemon answers them on its lock socket at each ask, so a
 * `scan` following it knows exactly whether anything was lost during its window, without
 * waiting for the next save interval's log lines (src/cli/scan-daemon.ts).
 */
export interface LossCounters extends Record<string, number> {
  readUpToMs: number;
  missedSyns: number;
  requestGapBytes: number;
  imdsUnread: number;
  flowsEvicted: number;
  frameOverflow: number;
  logLinesDropped: number;
}

export function lossCounters(st: LiveStats, logLinesDropped: number, readUpToMs: number): LossCounters {
  return {
    readUpToMs,
    missedSyns: st.missedSyns,
    requestGapBytes: st.pipeline.tcp.gapBytes - st.pipeline.tcp.responseGapBytes,
    imdsUnread: unreadImdsPackets(st.pipeline.decode) + unreadImdsRequests(st.pipeline.imds),
    flowsEvicted: st.pipeline.tcp.evictedFlows,
    frameOverflow: st.frameQueue?.overflow ?? 0,
    logLinesDropped,
  };
}

/**
 * The daemon's health, once per save interval (and at stop): the pipeline's counter deltas
 * to the metrics, the losses that can hide an IMDSv1 call to the state (they keep the
 * verdict from READY) and one log line per kind of loss that grew, never one per event.
 * `imdswatch_parse_errors_total{code}` gets the HTTP stage's typed error counts only; every
 * other counted reason reaches /metrics as `imdswatch_stage_counter_total` (docs/errors.md).
 */
export class DaemonHealth {
  private last: PipelineStats | null = null;
  private lastShed = 0;
  private lastOverflow = 0;

  constructor(private readonly to: HealthTargets) {}

  report(st: LiveStats, logLinesDropped: number): void {
    const { logger, metrics, state } = this.to;
    // the same counters the lock socket answers (readUpToMs is not needed here)
    const loss = lossCounters(st, logLinesDropped, 0);
    const delta = counterDelta(this.last, st.pipeline);
    metrics?.addStageCounters(delta, flatCounters(st.pipeline));
    const evicted = delta['tcp.evictedFlows'] ?? 0;
    if (evicted > 0) {
      metrics?.addEvictions(evicted);
      logger.error({ kind: 'flow-table', evicted }, 'flows evicted: the flow table is full (calls may be missed)');
    }
    if (metrics) {
      const before = this.last?.http.errors ?? {};
      for (const [code, n] of Object.entries(st.pipeline.http.errors) as Array<[HttpErrorCode, number]>) metrics.addParseErrors(code, n - (before[code] ?? 0));
    }
    this.last = st.pipeline;
    state.drops.flowsEvicted = st.pipeline.tcp.evictedFlows;
    // IMDS packets the decode stage could not read, and requests the IMDS stage could not read
    // (docs/design.md#unfinished-requests): the readiness verdict is UNKNOWN, not READY
    const unread = loss.imdsUnread;
    if (unread > (state.drops.imdsUnread ?? 0)) {
      logger.error(
        { kind: 'decode', imdsUnread: unread },
        'IMDS traffic could not be read (IP fragments not reassembled, an unsupported link type, or requests whose request line or token header could not be read): calls may be missing',
      );
    }
    state.drops.imdsUnread = unread;
    // request bytes the capture dropped inside IMDS connections (the server side's gaps hide no request)
    const requestGap = loss.requestGapBytes;
    if (requestGap > (state.drops.requestGapBytes ?? 0)) {
      logger.error({ kind: 'capture', requestGapBytes: requestGap }, 'bytes sent to IMDS were not captured (packets dropped inside IMDS connections): calls may be missing');
    }
    state.drops.requestGapBytes = requestGap;
    const missed = st.missedSyns;
    if (missed > state.drops.pcap) {
      // the gate named who opened them: whose calls went unread (cumulative, most first)
      const programs = st.missedConnections.programs.slice(0, 10);
      logger.error(
        { kind: 'capture', missedSyns: missed, programs },
        `the capture missed connections the SYN gate saw (packets dropped): calls may be missing; by program: ${describeMissed(st.missedConnections)}`,
      );
    }
    state.drops.pcap = missed;
    metrics?.setPcapDrops(missed);
    metrics?.setGateRuleRepairs(st.gateRules?.repairs ?? 0);
    // per-uid fairness (docs/design.md#syn-gate): whose SYNs were passed without a lookup
    const shedByUid = st.gate?.shedByUid ?? {};
    const shed = st.gate?.shed ?? 0;
    const frames = st.frameQueue;
    if (shed > this.lastShed || (frames?.overflow ?? 0) > this.lastOverflow) {
      // of those, the connections left unread while the pipeline was near its bound (counted as missed)
      const unreadByUid = st.unread?.byUid ?? {};
      const unread = Object.values(unreadByUid).reduce((a, n) => a + n, 0);
      logger.warn(
        { kind: 'gate', shed, shedByUid, frames, unreadByUid, lane: st.lane },
        `the SYN gate passed ${shed - this.lastShed} SYNs without a process lookup (uid over its share of lookup time; cumulative by uid: ${JSON.stringify(shedByUid)}): those calls are unattributed` +
          (unread > 0 ? `; ${unread} of them were left unread while the pipeline was near its bound (by uid: ${JSON.stringify(unreadByUid)}), counted as missed connections` : ''),
      );
      this.lastShed = shed;
      this.lastOverflow = frames?.overflow ?? 0;
    }
    metrics?.setGateShed(shedByUid);
    state.drops.logLinesDropped = logLinesDropped;
    metrics?.setLogLinesDropped(logLinesDropped);
  }
}
