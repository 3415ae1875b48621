import type { DaemonState } from '../ledger/ledger.js';
import { computeReadiness, type Verdict } from './readiness.js';

/**
 * The host's verdict as the daemon publishes it on /metrics (`imdswatch_readiness`,
 * docs/design.md#readiness-metric): the same computeReadiness that `imdswatch report` runs
 * over the state file, with the report's defaults — no `--since` (everything recorded),
 * `--min-hours 24`, the running daemon's own state (`live`) — so the metric and the report
 * never disagree. Pure: reads the state, never changes it.
 */

/** `imdswatch report --min-hours` default (src/cli/report-command.ts; test/readiness/verdict-gauge.test.ts keeps them equal) */
export const REPORT_MIN_HOURS = 24;

export interface HostVerdict {
  verdict: Verdict;
  /** the findings the report lists (programs with IMDSv1 calls, an owner's overflow bucket counting as one); 0 unless NOT READY */
  blockingPrograms: number;
}

export function hostVerdict(state: DaemonState, nowIso: string): HostVerdict {
  // the daemon calls this right after extending its window, so `live` (a stale window is a gap up to now) changes nothing then
  const r = computeReadiness([{ host: state.host, state, live: true }], { minHours: REPORT_MIN_HOURS, since: null, now: nowIso });
  return { verdict: r.verdict, blockingPrograms: r.findings.length };
}
