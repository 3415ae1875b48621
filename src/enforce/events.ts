/** What `imdswatch enforce` writes (docs/design.md#enforce): never a header value, a token or a body. */
export const MARK_REJECTED = 'rejected by imdswatch enforce';
export const MARK_WOULD_REJECT = 'would be rejected by imdswatch enforce';

/** one enforce decision as the CLI writes it (NDJSON); never a header value or a body */
export interface EnforceEvent {
  type: 'enforce';
  time: string;
  verdict: 'rejected' | 'would-reject';
  /** "rejected by imdswatch enforce" / "would be rejected by imdswatch enforce": not IMDS's own 401 */
  note: string;
  workload: string;
  method: string;
  path: string;
  /** the client's connection: "10.0.0.5:41234 -> 169.254.169.254:80" */
  connection: string;
  pid: number | null;
  exe: string | null;
  unit: string | null;
  container: string | null;
}

export interface WorkloadSummary {
  workload: string;
  cgroup: string;
  rejected: number;
  wouldReject: number;
  passed: number;
  /** distinct "METHOD PATH by EXE" that were (or would be) rejected, most 20 */
  calls: string[];
}
