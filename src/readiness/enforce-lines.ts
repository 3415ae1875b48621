import { enforceEntries, MARK_REJECTED, MARK_WOULD_REJECT, type WithEnforce } from '../ledger/enforce-ledger.js';

/**
 * The report's lines for `imdswatch enforce` under the daemon (docs/design.md#enforce): per
 * workload, the calls rejected by imdswatch enforce or, in a dry run, that would break under
 * HttpTokens=required. They are not IMDS's own 401s (those are "rejected (401)" of a finding):
 * a rejected call is also a finding of its program, as the IMDSv1 call it is.
 */
export interface EnforceLine {
  host: string;
  workload: string;
  cgroup: string | null;
  dryRun: boolean;
  rejected: number;
  wouldReject: number;
  passed: number;
  calls: string[];
  /** when the daemon enforced it: first and last (ISO) */
  firstTs: string;
  lastTs: string;
}

/** the state's workloads enforced at or after `since` (counts are since the first time) */
export function enforceLinesOf(state: WithEnforce, host: string, since: string | null): EnforceLine[] {
  return enforceEntries(state)
    .filter((e) => since === null || e.lastTs >= since)
    .map((e) => ({ host, workload: e.workload, cgroup: e.cgroup ?? null, dryRun: e.dryRun, rejected: e.rejected, wouldReject: e.wouldReject, passed: e.passed, calls: e.calls.slice(0, 20), firstTs: e.firstTs, lastTs: e.lastTs }));
}

/**
 * "unit:app.service (dry run): would break — 3 token-less call(s) would be rejected by
 * imdswatch enforce: GET /latest/meta-data/ by /usr/bin/curl; 5 passed". `cell` makes each
 * name safe for the format (printable, md, esc).
 */
export function enforceLineText(l: EnforceLine, cell: (s: string, max: number) => string, multi: boolean): string {
  const who = `${multi ? `${cell(l.host, 60)}: ` : ''}${cell(l.workload, 200)}${l.dryRun ? ' (dry run)' : ''}`;
  const calls = l.calls.length ? `: ${l.calls.map((c) => cell(c, 300)).join('; ')}` : '';
  const parts: string[] = [];
  if (l.rejected) parts.push(`${l.rejected} token-less call(s) ${MARK_REJECTED}`);
  if (l.wouldReject) parts.push(`would break — ${l.wouldReject} token-less call(s) ${MARK_WOULD_REJECT}`);
  const head = parts.length ? parts.join('; ') : `no token-less call (ready for HttpTokens=required)`;
  return `${who}: ${head}${calls}; ${l.passed} passed; enforced ${l.firstTs} to ${l.lastTs}`;
}
