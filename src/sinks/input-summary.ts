import type { PipelineStats } from '../pipeline/stats.js';
import { unreadImds } from '../decode/unread-imds.js';

/** What the report says about its input: which sources, how much was read, what was skipped and why. */
export interface InputSummary {
  sources: string[];
  packets: number;
  imdsSegments: number;
  /** counters by fixed reason (decode, tcp, http); never packet content */
  skipped: Record<string, number>;
  /** IMDS requests whose head was cut (snaplen, capture gap) before a token header could be seen: neither v1 nor v2 */
  unclassified: number;
  /** skip counters that may hide IMDS requests (unread fragments, gaps, unsupported link types): the verdict is UNKNOWN */
  unread?: Record<string, number>;
  /** one-line error messages (e.g. a truncated file) */
  errors: string[];
}

/**
 * The InputSummary of a run from its stage counters: the one place that says which counter
 * is which skip (replay, scan and replay's stderr line all read it from here).
 */
export function summarize(sources: string[], stats: PipelineStats, errors: string[], readSkipped: Record<string, number> = {}): InputSummary {
  const skipped: Record<string, number> = {};
  const add = (k: string, n: number) => {
    if (n > 0) skipped[k] = (skipped[k] ?? 0) + n;
  };
  for (const [k, n] of Object.entries(readSkipped)) add(k, n);
  for (const [k, n] of Object.entries(stats.decode.skipped)) add(k, n);
  add('ip-fragments', stats.decode.fragments);
  add('tcp-flows-evicted', stats.tcp.evictedFlows);
  add('tcp-gap-bytes', stats.tcp.gapBytes - stats.tcp.responseGapBytes);
  add('tcp-response-gap-bytes', stats.tcp.responseGapBytes);
  for (const [k, n] of Object.entries(stats.http.errors)) add(k, n);
  // the IMDS stage's reasons: requests that made no event (docs/design.md#unfinished-requests)
  for (const [k, n] of Object.entries(stats.imds.skipped)) add(k, n);
  const unclassified = stats.imds.skipped['unclassifiable-truncated-head'] ?? 0;
  return { sources, packets: stats.frames, imdsSegments: stats.decode.imdsSegments, skipped, unclassified, unread: unreadImds(skipped), errors }; // unread: docs/design.md#capture-loss
}

/** the replay/scan verdict is UNKNOWN (when no IMDSv1 call was seen) */
export function verdictUnknown(input: Pick<InputSummary, 'unclassified'> & { unread?: Record<string, number> }): boolean {
  return input.unclassified > 0 || Object.values(input.unread ?? {}).some((n) => n > 0);
}
