import type { ImdsEvent, SdkInfo, V1Reason } from '../imds/event.js';
import { emptyState, recordEvent, type DaemonState } from '../ledger/ledger.js';
import { containerLabel } from '../ledger/container-label.js';
import { computeReadiness, type Readiness } from '../readiness/readiness.js';
import { describeUnread } from '../decode/unread-imds.js';
import { verdictUnknown } from './input-summary.js';
import { nextStepOf } from '../readiness/next-step.js';

/**
 * The capture summary that `replay` and `scan` print: totals, one row per
 * (client, User-Agent, process) group, then each IMDSv1 call, and the same readiness
 * findings `imdswatch report` gives. ("report" is the readiness report over the daemon's
 * state: src/readiness, src/cli/report-command.ts; this is the summary of one capture.)
 * Every list has a named bound; what does not fit is counted, never dropped silently.
 */
export interface CaptureSummaryLimits {
  maxGroups: number;
  maxListedV1Calls: number;
}

export const DEFAULT_SUMMARY_LIMITS: CaptureSummaryLimits = { maxGroups: 10_000, maxListedV1Calls: 1_000 };

export interface Totals {
  requests: number;
  v1: number;
  v2: number;
  token: number;
  /** v1 calls answered 401: IMDSv2 is already required and this software is broken now */
  v1Rejected: number;
  /** token PUTs answered 403 (a proxy added X-Forwarded-For) */
  tokenRejected: number;
  /** requests with no response seen */
  unanswered: number;
}

export interface GroupRow {
  client: string;
  userAgent: string | null;
  sdk: SdkInfo | null;
  exe: string | null;
  unit: string | null;
  container: string | null;
  v1: number;
  v2: number;
  token: number;
  v1Rejected: number;
  firstSeen: string;
  lastSeen: string;
  reasons: Partial<Record<V1Reason, number>>;
}

export interface V1CallRow {
  ts: string;
  client: string;
  method: string;
  path: string;
  status: number | null;
  userAgent: string | null;
  reason: V1Reason | null;
  pid: number | null;
  exe: string | null;
}

export interface CaptureSummary {
  totals: Totals;
  groups: GroupRow[];
  /** groups beyond maxGroups, merged into one row named "(other)" */
  groupsOverflowed: number;
  v1Calls: V1CallRow[];
  v1CallsNotListed: number;
  firstSeen: string | null;
  lastSeen: string | null;
  /** (additive) the same findings, fix lines and verdict as `imdswatch report` */
  readiness: Readiness;
}

export class CaptureSummaryBuilder {
  /** per-program fold shared with the daemon's state, so scan/replay name what report names */
  private readonly state: DaemonState;
  private readonly totals: Totals = { requests: 0, v1: 0, v2: 0, token: 0, v1Rejected: 0, tokenRejected: 0, unanswered: 0 };
  private readonly groups = new Map<string, GroupRow>();
  private groupsOverflowed = 0;
  private readonly v1Calls: V1CallRow[] = [];
  private v1CallsNotListed = 0;
  private firstSeen: string | null = null;
  private lastSeen: string | null = null;
  private readonly limits: CaptureSummaryLimits;

  constructor(limits: Partial<CaptureSummaryLimits> = {}, host = '-') {
    this.limits = { ...DEFAULT_SUMMARY_LIMITS, ...limits };
    this.state = emptyState(host, null);
  }

  add(ev: ImdsEvent): void {
    recordEvent(this.state, ev);
    const t = this.totals;
    t.requests++;
    t[ev.version]++;
    if (ev.version === 'v1' && ev.status === 401) t.v1Rejected++;
    if (ev.version === 'token' && ev.status === 403) t.tokenRejected++;
    if (ev.status === null) t.unanswered++;
    if (this.firstSeen === null || ev.ts < this.firstSeen) this.firstSeen = ev.ts;
    if (this.lastSeen === null || ev.ts > this.lastSeen) this.lastSeen = ev.ts;

    const row = this.groupFor(ev);
    row[ev.version]++;
    if (ev.version === 'v1' && ev.status === 401) row.v1Rejected++;
    if (ev.ts < row.firstSeen) row.firstSeen = ev.ts;
    if (ev.ts > row.lastSeen) row.lastSeen = ev.ts;
    if (ev.version === 'v1') {
      if (ev.reason) row.reasons[ev.reason] = (row.reasons[ev.reason] ?? 0) + 1;
      if (this.v1Calls.length < this.limits.maxListedV1Calls) {
        this.v1Calls.push({
          ts: ev.ts,
          client: endpointText(ev.client.ip, ev.client.port),
          method: ev.method,
          path: ev.path,
          status: ev.status,
          userAgent: ev.userAgent,
          reason: ev.reason,
          pid: ev.process?.pid ?? null,
          exe: ev.process?.exe ?? null,
        });
      } else {
        this.v1CallsNotListed++;
      }
    }
  }

  /**
   * `input`: what of the capture could not be read (summarize()'s `unread` and
   * `unclassified`): with no IMDSv1 call seen, the readiness verdict is then UNKNOWN, as the
   * text report's Result line and --fail-on unknown say (docs/design.md#capture-loss).
   */
  build(input?: { unread?: Record<string, number>; unclassified: number }): CaptureSummary {
    const groups = [...this.groups.values()].sort(
      (a, b) => b.v1Rejected - a.v1Rejected || b.v1 - a.v1 || b.v2 + b.token - (a.v2 + a.token) || a.client.localeCompare(b.client),
    );
    return {
      totals: { ...this.totals },
      groups,
      groupsOverflowed: this.groupsOverflowed,
      v1Calls: this.v1Calls.slice(),
      v1CallsNotListed: this.v1CallsNotListed,
      firstSeen: this.firstSeen,
      lastSeen: this.lastSeen,
      readiness: this.readiness(input),
    };
  }

  private readiness(input?: { unread?: Record<string, number>; unclassified: number }): Readiness {
    const windows = this.firstSeen && this.lastSeen ? [{ start: this.firstSeen, end: this.lastSeen, bootId: null }] : [];
    const state = { ...this.state, windows };
    const r = computeReadiness([{ host: this.state.host, state, fromEvents: true }], { minHours: 0, since: null, now: this.lastSeen ?? new Date().toISOString() });
    if (r.verdict !== 'READY' || !input || !verdictUnknown(input)) return r;
    const unread = describeUnread(input.unread);
    const unclassified = input.unclassified;
    const why = [`IMDS traffic could not be read (${[unread, unclassified > 0 ? `${unclassified} request(s) could not be classified` : ''].filter(Boolean).join('; ')}): an IMDSv1 call may be hidden there`];
    const hosts = r.hosts.map((h) => ({ ...h, verdict: 'UNKNOWN' as const, why }));
    return { ...r, verdict: 'UNKNOWN', why, hosts, nextStep: nextStepOf({ ...r, verdict: 'UNKNOWN', why, hosts }) };
  }

  private groupFor(ev: ImdsEvent): GroupRow {
    const exe = ev.process?.exe ?? null;
    const unit = ev.process?.unit ?? null;
    const container = containerLabel(ev);
    const key = `${ev.client.ip}\u0000${ev.userAgent ?? ''}\u0000${exe ?? ''}\u0000${unit ?? ''}\u0000${container ?? ''}`;
    let row = this.groups.get(key);
    if (row) return row;
    if (this.groups.size >= this.limits.maxGroups) {
      this.groupsOverflowed++;
      const otherKey = '\u0001other';
      row = this.groups.get(otherKey);
      if (row) return row;
      row = newRow('(other)', null, null, null, null, null, ev.ts);
      this.groups.set(otherKey, row);
      return row;
    }
    row = newRow(ev.client.ip, ev.userAgent, ev.sdk, exe, unit, container, ev.ts);
    this.groups.set(key, row);
    return row;
  }
}

function newRow(
  client: string,
  userAgent: string | null,
  sdk: SdkInfo | null,
  exe: string | null,
  unit: string | null,
  container: string | null,
  ts: string,
): GroupRow {
  return { client, userAgent, sdk, exe, unit, container, v1: 0, v2: 0, token: 0, v1Rejected: 0, firstSeen: ts, lastSeen: ts, reasons: {} };
}

export { containerLabel }; // src/ledger/container-label.ts

export function endpointText(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
