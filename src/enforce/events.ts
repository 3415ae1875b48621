import type { ProcessInfo } from '../imds/event.js';

/** What `imdswatch enforce` writes (docs/design.md#enforce): never a header value, a token or a body. The marks are the ledger's (the report prints them). */
export { MARK_REJECTED, MARK_WOULD_REJECT } from '../ledger/enforce-ledger.js';

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

/** who a connection the responder opened to IMDS is for (the daemon's owner hint, owner-hints.ts) */
export interface OwnerHint {
  family: 4 | 6;
  /** the responder's own socket to IMDS, as the capture sees its client side */
  localIp: string;
  localPort: number;
  workload: string;
  /** the workload's process that made the connection; null when it could not be read */
  process: ProcessInfo | null;
}
