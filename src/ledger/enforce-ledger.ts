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
  /**
   * Whether the setting was in effect (docs/design.md#enforce-in-effect). A listed workload
   * that is not running has no rule: its calls are not checked, so "nothing rejected" says
   * nothing about it then. Absent in states written before these fields (in effect throughout).
   */
  /** start of the current period in effect (ISO); null when not in effect now */
  inEffectSince?: string | null;
  /** the first time it came into effect (ISO); null when never */
  firstInEffect?: string | null;
  /** time listed and in effect, and listed but not in effect (ms, up to the last save) */
  inEffectMs?: number;
  notInEffectMs?: number;
  /** why it was last not in effect ("unit app.service was not running"); null when it has always been */
  notInEffectWhy?: string | null;
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

/** the daemon lists the workload (its start): nothing is in effect yet */
export function enforceListed(state: WithEnforce, workload: string, dryRun: boolean, ts: string): EnforceEntry | null {
  const e = enforceEntry(state, workload, null, dryRun, ts);
  if (!e) return null;
  e.inEffectSince = null;
  e.firstInEffect ??= e.inEffectMs === undefined && e.notInEffectMs === undefined && e.firstTs !== ts ? e.firstTs : null;
  e.inEffectMs ??= 0;
  e.notInEffectMs ??= 0;
  e.notInEffectWhy ??= null;
  return e;
}

/** its rule is in place from `ts` */
export function enforceCameIntoEffect(state: WithEnforce, workload: string, cgroup: string, ts: string): void {
  const e = enforceEntry(state, workload, cgroup, state.enforce?.[workload]?.dryRun ?? false, ts);
  if (!e) return;
  e.inEffectSince = ts;
  e.firstInEffect ??= ts;
}

/** not in effect from `ts` (or still not: the reason is kept) */
export function enforceNotInEffect(state: WithEnforce, workload: string, ts: string, why: string): void {
  const e = state.enforce?.[workload];
  if (!e) return;
  e.inEffectSince = null;
  e.notInEffectWhy = why;
  if (ts > e.lastTs) e.lastTs = ts;
}

/** `ms` more of listed time, in effect or not (each save adds the time since the last) */
export function enforceAccount(state: WithEnforce, workload: string, inEffect: boolean, ms: number, ts: string): void {
  const e = state.enforce?.[workload];
  if (!e || !(ms > 0)) return;
  if (inEffect) e.inEffectMs = (e.inEffectMs ?? 0) + ms;
  else e.notInEffectMs = (e.notInEffectMs ?? 0) + ms;
  if (ts > e.lastTs) e.lastTs = ts;
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
