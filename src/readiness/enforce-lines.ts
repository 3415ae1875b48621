import { enforceEntries, MARK_REJECTED, MARK_WOULD_REJECT, type EnforceEntry, type WithEnforce } from '../ledger/enforce-ledger.js';

/**
 * The report's lines for `imdswatch enforce` under the daemon (docs/design.md#enforce): per
 * workload, the calls rejected by imdswatch enforce or, in a dry run, that would break under
 * HttpTokens=required. They are not IMDS's own 401s (those are "rejected (401)" of a finding):
 * a rejected call is also a finding of its program, as the IMDSv1 call it is.
 */
/** an enforce entry of the state as the report reads it: the host, and the in-effect fields always present */
export type EnforceLine = Omit<EnforceEntry, 'lastCall' | 'inEffectSince' | 'firstInEffect' | 'inEffectMs' | 'notInEffectMs' | 'notInEffectWhy'> & {
  host: string;
  /** since when it is in effect (null: not in effect at the last save); the first time ever (null: never) */
  inEffectSince: string | null;
  firstInEffect: string | null;
  /** listed and in effect, listed but not in effect (ms); why it was not (docs/design.md#enforce-in-effect) */
  inEffectMs: number;
  notInEffectMs: number;
  notInEffectWhy: string | null;
};

/** the state's workloads enforced at or after `since` (counts are since the first time) */
export function enforceLinesOf(state: WithEnforce, host: string, since: string | null): EnforceLine[] {
  return enforceEntries(state)
    .filter((e) => since === null || e.lastTs >= since)
    .map((e) => {
      // a state written before these fields: the workload was in effect whenever listed
      const legacy = e.inEffectMs === undefined && e.notInEffectMs === undefined;
      const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
      const ms = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0);
      return {
        host, workload: e.workload, cgroup: e.cgroup ?? null, dryRun: e.dryRun, rejected: e.rejected, wouldReject: e.wouldReject, passed: e.passed, calls: e.calls.slice(0, 20), firstTs: e.firstTs, lastTs: e.lastTs,
        inEffectSince: legacy ? null : str(e.inEffectSince),
        firstInEffect: legacy ? e.firstTs : str(e.firstInEffect),
        inEffectMs: legacy ? Math.max(0, Date.parse(e.lastTs) - Date.parse(e.firstTs)) : ms(e.inEffectMs),
        notInEffectMs: legacy ? 0 : ms(e.notInEffectMs),
        notInEffectWhy: str(e.notInEffectWhy),
      };
    });
}

/** "12 s", "4.2 min", "3.5 h" */
function msText(ms: number): string {
  return ms < 60_000 ? `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s` : ms < 3_600_000 ? `${(ms / 60_000).toFixed(1)} min` : `${(ms / 3_600_000).toFixed(1)} h`;
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
  const why = l.notInEffectWhy ? cell(l.notInEffectWhy, 300) : 'not running';
  const listed = `listed ${l.firstTs} to ${l.lastTs}`;
  // never in effect: no rule was ever in place, so no call was checked (never "ready")
  if (l.firstInEffect === null) return `${who}: not enforced: ${why} (${listed}, never in effect: its calls were not checked)`;
  const partial = l.notInEffectMs > 0;
  const head = parts.length ? parts.join('; ') : partial ? 'no token-less call while in effect' : `no token-less call (ready for HttpTokens=required)`;
  const mode = l.dryRun ? 'dry run' : 'enforced';
  const since = l.inEffectSince ? `${mode} since ${l.inEffectSince}` : l.notInEffectWhy === null ? `${mode} from ${l.firstInEffect} to ${l.lastTs}` : `${mode} from ${l.firstInEffect}, not in effect at the end (${why})`;
  const gap = partial ? `; not in effect for ${msText(l.notInEffectMs)} of the time listed (last: ${why}): calls then were not checked` : '';
  return `${who}: ${head}${calls}; ${l.passed} passed; ${since}; in effect ${msText(l.inEffectMs)}${gap}; ${listed}`;
}
