import type { Totals } from '../sinks/report.js';
import { CliError } from './exit-codes.js';

export type FailOn = 'v1' | 'rejected';

export function parseFailOn(value: string | undefined): FailOn[] {
  if (!value) return [];
  const out: FailOn[] = [];
  for (const part of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (part !== 'v1' && part !== 'rejected') throw new CliError(`--fail-on takes v1 and/or rejected (comma-separated), not "${part}"`);
    out.push(part);
  }
  return out;
}

/** v1: any IMDSv1 call; rejected: a v1 call answered 401 or a token PUT answered 403 */
export function failOnMatched(failOn: FailOn[], t: Totals): boolean {
  return (failOn.includes('v1') && t.v1 > 0) || (failOn.includes('rejected') && t.v1Rejected + t.tokenRejected > 0);
}
