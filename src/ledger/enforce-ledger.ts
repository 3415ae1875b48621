/**
 * What `imdswatch enforce` did under the daemon (docs/design.md#enforce), per workload, in the
 * state: how many token-less calls were rejected by imdswatch enforce (or, in a dry run,
 * would have been) and passed, and which calls ("METHOD PATH by EXE"). These are not IMDS's
 * own 401s: they never reach `v1Rejected`. Only event-derived values; never a header or body.
 */
export const MARK_REJECTED = 'rejected by imdswatch enforce';
export const MARK_WOULD_REJECT = 'would be rejected by imdswatch enforce';

export interface EnforceEntry {
  /** "unit:app.service", "container:web", "cgroup:/lab/a" */
  workload: string;
  cgroup: string | null;
  /** the last run's mode */
  dryRun: boolean;
  rejected: number;
  wouldReject: number;
  passed: number;
  /** distinct "METHOD PATH by EXE" rejected or would-be rejected, capped */
  calls: string[];
  /** first and last time the daemon enforced it (ISO) */
  firstTs: string;
  lastTs: string;
  /** last rejected or would-be rejected call (ISO), null when none */
  lastCall: string | null;
}

export const MAX_ENFORCE_WORKLOADS = 64;
export const MAX_ENFORCE_CALLS = 20;

/** the part of the state this module reads and writes (DaemonState has it) */
export interface WithEnforce {
  enforce?: Record<string, EnforceEntry>;
}

/** the workload's entry, made when the daemon starts enforcing it; null past MAX_ENFORCE_WORKLOADS */
export function enforceEntry(state: WithEnforce, workload: string, cgroup: string | null, dryRun: boolean, ts: string): EnforceEntry | null {
  const all = (state.enforce ??= {});
  let e = all[workload];
  if (!e) {
    if (Object.keys(all).length >= MAX_ENFORCE_WORKLOADS) return null;
    e = all[workload] = { workload, cgroup, dryRun, rejected: 0, wouldReject: 0, passed: 0, calls: [], firstTs: ts, lastTs: ts, lastCall: null };
  }
  e.dryRun = dryRun;
  if (cgroup) e.cgroup = cgroup;
  if (ts > e.lastTs) e.lastTs = ts;
  return e;
}

/** one rejected or would-be rejected call */
export function foldEnforceCall(state: WithEnforce, c: { workload: string; verdict: 'rejected' | 'would-reject'; time: string; method: string; path: string; exe: string | null }): void {
  const e = enforceEntry(state, c.workload, null, c.verdict === 'would-reject', c.time);
  if (!e) return;
  if (c.verdict === 'rejected') e.rejected++;
  else e.wouldReject++;
  e.lastCall = c.time;
  const call = `${c.method} ${c.path} by ${c.exe ?? 'unknown process'}`;
  if (e.calls.length < MAX_ENFORCE_CALLS && !e.calls.includes(call)) e.calls.push(call);
}

const isStr = (v: unknown): v is string => typeof v === 'string';
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** the state's enforce entries of the right shape (a hand-edited or foreign file's others are left out) */
export function enforceEntries(state: WithEnforce): EnforceEntry[] {
  const all = state.enforce;
  if (!all || typeof all !== 'object') return [];
  return Object.values(all).filter(
    (e): e is EnforceEntry =>
      !!e && typeof e === 'object' && isStr(e.workload) && typeof e.dryRun === 'boolean' && isCount(e.rejected) && isCount(e.wouldReject) && isCount(e.passed) &&
      Array.isArray(e.calls) && e.calls.every(isStr) && isStr(e.firstTs) && isStr(e.lastTs),
  );
}
