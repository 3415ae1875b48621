import type { Totals } from '../sinks/capture-summary.js';
import { summarize, verdictUnknown, type InputSummary } from '../sinks/input-summary.js';
import { CliError } from './exit-codes.js';
import type { ReplayResult } from '../pipeline/replay.js';
import { describeUnread, unknownLinkTypesOf, unsupportedLinkTypeError } from '../decode/unread-imds.js';

export type FailOn = 'v1' | 'rejected' | 'unknown';

const KINDS: readonly FailOn[] = ['v1', 'rejected', 'unknown'];

export function parseFailOn(value: string | undefined): FailOn[] {
  if (!value) return [];
  const out: FailOn[] = [];
  for (const part of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!KINDS.includes(part as FailOn)) throw new CliError(`--fail-on takes v1, rejected and/or unknown (comma-separated), not "${part}"`);
    out.push(part as FailOn);
  }
  return out;
}

/**
 * v1: any IMDSv1 call; rejected: a v1 call answered 401 or a token PUT answered 403;
 * unknown: no IMDSv1 call seen, but IMDS traffic could not be read (unread fragments, gaps,
 * unsupported link types: input.unread) or a request could not be classified — the verdict
 * is UNKNOWN, not "no IMDSv1 call".
 */
export function failOnMatched(failOn: FailOn[], t: Totals, input?: Pick<InputSummary, 'unclassified'> & { unread?: Record<string, number> }): boolean {
  if (failOn.includes('v1') && t.v1 > 0) return true;
  if (failOn.includes('rejected') && t.v1Rejected + t.tokenRejected > 0) return true;
  return failOn.includes('unknown') && t.v1 === 0 && input !== undefined && verdictUnknown(input);
}

/**
 * After a replay: a run whose every packet has an unsupported link type becomes an error
 * (added to `result.errors`: exit 2, one line naming the link type); otherwise the line that
 * names what IMDS traffic could not be read (for stderr), or null when everything was read.
 */
export function unreadNotes(files: string[], result: Pick<ReplayResult, 'stats' | 'errors' | 'read'>): string | null {
  const lt = unsupportedLinkTypeError(result.stats);
  if (lt !== null && result.errors.length === 0) {
    result.errors.push({ file: files.join(', '), code: 'E_LINKTYPE_UNSUPPORTED', message: lt, packetsRead: result.read.packets });
    return null;
  }
  const { unread } = summarize(files, result.stats, [], result.read.skipped);
  const what = describeUnread(unread, unknownLinkTypesOf(result.stats.decode.unknownLinkTypes));
  if (!what) return null;
  // with an IMDSv1 call seen the verdict is NOT READY anyway; without one it is UNKNOWN
  const verdict = result.stats.imds.events.v1 > 0 ? 'more IMDSv1 calls may be hidden there' : 'an IMDSv1 call may be hidden there, so the verdict is UNKNOWN (--fail-on unknown fails on this)';
  return `IMDS traffic could not be read: ${what}; ${verdict}`;
}
