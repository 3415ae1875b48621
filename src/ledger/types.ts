import type { SdkInfo, V1Reason } from '../imds/event.js';
import type { EnforceEntry } from './enforce-ledger.js';
import type { Job } from './job.js';

/** The readiness ledger's types (docs/design.md#ledger); the fold is src/ledger/ledger.ts. Fields added after `imdswatch-state/1` stay optional: old states load. */
export const STATE_FORMAT = 'imdswatch-state/1';

export interface SoftwareEntry {
  exe: string | null;
  unit: string | null;
  container: string | null;
  userAgent: string | null;
  sdk: SdkInfo | null;
  v1: number;
  v2: number;
  token: number;
  v1Rejected: number;
  tokenRejected: number;
  firstSeen: string;
  lastSeen: string;
  lastV1: string | null;
  /** distinct paths of IMDSv1 calls (capped) */
  v1Paths: string[];
  reasons: Partial<Record<V1Reason, number>>;
  lastPid: number | null;
  lastCmdline: string | null;
  /** (additive) first IMDSv1 call; older states lack it (then firstSeen stands in) */
  firstV1?: string | null;
  /** (additive) last IMDSv1 call rejected with 401: "broken now" only while it is the program's last call */
  lastV1Rejected?: string | null;
  /** (additive) distinct redacted command lines, scripts run by an interpreter or shell, users, cron/session origins (each capped) */
  commands?: string[];
  scripts?: string[];
  users?: string[];
  origins?: string[];
  /** (additive) hour (ISO, truncated) → [v1, v1Rejected, v2, token]: lets `report --since` answer to the hour */
  hours?: Record<string, [number, number, number, number]>;
  /** (additive) hours older than this were trimmed from `hours` (null: none) */
  hoursTrimmedBefore?: string | null;
  /** (additive) minute (ISO to the minute, "2026-11-29T09:15") → [v1, v1Rejected, v2, token] of the program's last active minutes: `report --since` on a state answers to the minute (docs/design.md#since-windows) */
  minutes?: Record<string, [number, number, number, number]>;
  /** (additive) `minutes` holds every call of this program from this minute on (older minutes: `hours`) */
  minutesFrom?: string;
  /** (additive) whose share of the program table this entry takes: "uid N" of the call that made it, "uid unknown", "unattributed" (older states: none, counted as "unknown") */
  owner?: string;
  /** (additive) the cron job or person's shell that made the calls (src/ledger/job.ts, docs/design.md#jobs); part of the entry's key */
  job?: Job;
  /** (additive) an interactive entry's sessions (logind ids or "sshd PID"), capped; `sessionsMore`: more were seen */
  sessions?: string[];
  sessionsMore?: boolean;
}

/** Programs of one owner that have no entry of their own: their calls, counted like one program's (docs/design.md#program-table). */
export interface OverflowBucket extends SoftwareEntry {
  owner: string;
  /** entries displaced from the table into this bucket */
  displaced: number;
  /** a few of the programs (exe, or User-Agent), the first ones seen */
  examples: string[];
}

export interface ObservationWindow {
  /** ISO time capture started / was last known running */
  start: string;
  end: string;
  bootId: string | null;
  /** (additive) why this window began: the first window of a boot, or a daemon restart within a boot; absent in older states */
  startKind?: 'boot' | 'restart';
  /** (additive) ISO time the kernel booted (from /proc/stat btime), for a 'boot' window */
  bootStart?: string | null;
  /** (additive) true when an early rule was in place before any IMDS connection of this boot could be made, so nothing before `start` went unaccounted */
  fromBoot?: boolean;
  /** (additive) IMDS connections made before this window began that imdswatch did not watch (counted by the early rule); each keeps the verdict from READY */
  unwatched?: UnwatchedConnections;
}

/** IMDS connections made while imdswatch was not yet watching, with what can still be known of their makers. */
export interface UnwatchedConnections {
  /** how many connections (SYNs) were counted */
  count: number;
  /** what is known per maker, at most a few dozen entries; `count` stays the total */
  makers: Array<{ uid: number | null; pid: number | null; exe: string | null; unit: string | null; count: number; firstTs: string | null }>;
  /** how they were counted, e.g. 'early-rule' (the boot rule's log) or 'conntrack' */
  source: string;
}

export interface DaemonState {
  format: typeof STATE_FORMAT;
  host: string;
  /** (additive) EC2 instance id from the DMI board asset tag (Nitro), null elsewhere */
  instanceId?: string | null;
  bootId: string | null;
  windows: ObservationWindow[];
  software: Record<string, SoftwareEntry>;
  /** calls folded into `overflow` buckets instead of a program's own entry (docs/design.md#program-table) */
  softwareOverflow: number;
  /**
   * (additive) per owner (a uid, "uid unknown", "unattributed"), the programs past the owner's
   * share of the table or displaced from it: every count kept, the program not kept one by one
   */
  overflow?: Record<string, OverflowBucket>;
  /** (additive) per workload, what `imdswatch enforce` under the daemon rejected or would have (src/ledger/enforce-ledger.ts) */
  enforce?: Record<string, EnforceEntry>;
  /** hour (ISO, truncated) → counts */
  hourly: Record<string, { v1: number; v2: number; token: number }>;
  drops: {
    pcap: number;
    flowsEvicted: number;
    unattributed: number;
    parseErrors: number;
    logLinesDropped: number;
    /** IMDS packets the decoder could not read (fragments not reassembled, conflicting overlaps, unknown link types): an IMDSv1 call may hide there; absent in older states */
    imdsUnread?: number;
    /** bytes missing from the client side of IMDS connections (request packets the capture dropped): an IMDSv1 call may hide there; absent in older states */
    requestGapBytes?: number;
  };
}

export const STATE_LIMITS = {
  /** programs kept one by one (docs/design.md#program-table) */
  maxSoftware: 2_000,
  /** of those, at most this many per owner (uid): one user cannot push other users' programs out */
  maxSoftwarePerOwner: 500,
  /** overflow buckets: one per owner, then one for all further owners */
  maxOverflowOwners: 64,
  maxExamplesPerBucket: 8,
  maxPathsPerSoftware: 20,
  maxHours: 24 * 120,
  maxWindows: 500,
  /** per program: hours of counts kept for `report --since` (older hours are trimmed; a window reaching past them uses the all-time counts) */
  maxHoursPerSoftware: 24 * 31,
  /** per program: its last active minutes with counts (older ones answer to the hour) */
  maxMinutesPerSoftware: 120,
  maxCommandsPerSoftware: 8,
  maxScriptsPerSoftware: 8,
  maxUsersPerSoftware: 16,
  maxOriginsPerSoftware: 16,
  maxCommandChars: 300,
  maxSessionsPerSoftware: 64,
};
