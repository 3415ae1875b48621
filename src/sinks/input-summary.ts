/** What the report says about its input: which sources, how much was read, what was skipped and why. */
export interface InputSummary {
  sources: string[];
  packets: number;
  imdsSegments: number;
  /** counters by fixed reason (decode, tcp, http); never packet content */
  skipped: Record<string, number>;
  /** IMDS requests whose head was cut (snaplen, capture gap) before a token header could be seen: neither v1 nor v2 */
  unclassified: number;
  /** skip counters that may hide IMDS requests (unread fragments, gaps, unsupported link types): the verdict is UNKNOWN (#16) */
  unread?: Record<string, number>;
  /** one-line error messages (e.g. a truncated file) */
  errors: string[];
}
