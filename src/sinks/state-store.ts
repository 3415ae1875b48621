import { existsSync, renameSync } from 'node:fs';
import { readNoFollow, writeFileAtomic } from '../service/safe-file.js';
import type { ImdsEvent, SdkInfo, V1Reason } from '../imds/event.js';
import { containerLabel } from './capture-summary.js';
import { originOf, scriptOf } from '../readiness/what-ran.js';
import { readHostIdentity, type HostIdentity } from '../readiness/host-identity.js';

/**
 * The daemon's small state file: what software used IMDS, first/last seen and counts,
 * the observation windows (when capture ran), drops and an hourly timeline. Written
 * atomically (temp file + rename); a corrupt file is moved aside and rebuilt, never
 * fatal. Only event-derived values: never headers, bodies or tokens.
 */
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
  /** (additive, #11) first IMDSv1 call; older states lack it (then firstSeen stands in) */
  firstV1?: string | null;
  /** (additive, #11) last IMDSv1 call rejected with 401: "broken now" only while it is the program's last call */
  lastV1Rejected?: string | null;
  /** (additive, #11) distinct redacted command lines, scripts run by an interpreter or shell, users, cron/session origins (each capped) */
  commands?: string[];
  scripts?: string[];
  users?: string[];
  origins?: string[];
  /** (additive, #11) hour (ISO, truncated) → [v1, v1Rejected, v2, token]: lets `report --since` answer to the hour */
  hours?: Record<string, [number, number, number, number]>;
  /** (additive, #11) hours older than this were trimmed from `hours` (null: none) */
  hoursTrimmedBefore?: string | null;
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
  /** (additive, #11) EC2 instance id from the DMI board asset tag (Nitro), null elsewhere */
  instanceId?: string | null;
  bootId: string | null;
  windows: ObservationWindow[];
  software: Record<string, SoftwareEntry>;
  /** software keys beyond the cap are merged into this count */
  softwareOverflow: number;
  /** hour (ISO, truncated) → counts */
  hourly: Record<string, { v1: number; v2: number; token: number }>;
  drops: {
    pcap: number;
    flowsEvicted: number;
    unattributed: number;
    parseErrors: number;
    logLinesDropped: number;
    /** IMDS packets the decoder could not read (fragments not reassembled, conflicting overlaps, unknown link types): an IMDSv1 call may hide there (#16); absent in older states */
    imdsUnread?: number;
    /** bytes missing from the client side of IMDS connections (request packets the capture dropped): an IMDSv1 call may hide there; absent in older states */
    requestGapBytes?: number;
  };
}

export const STATE_LIMITS = {
  maxSoftware: 2_000,
  maxPathsPerSoftware: 20,
  maxHours: 24 * 120,
  maxWindows: 500,
  /** per program: hours of counts kept for `report --since` (older hours are trimmed; a window reaching past them uses the all-time counts) */
  maxHoursPerSoftware: 24 * 31,
  maxCommandsPerSoftware: 8,
  maxScriptsPerSoftware: 8,
  maxUsersPerSoftware: 16,
  maxOriginsPerSoftware: 16,
  maxCommandChars: 300,
};

function addCapped(list: string[], value: string | null, cap: number): void {
  if (value && list.length < cap && !list.includes(value)) list.push(value);
}

export function emptyState(host: string, bootId: string | null): DaemonState {
  return {
    format: STATE_FORMAT,
    host,
    bootId,
    windows: [],
    software: {},
    softwareOverflow: 0,
    hourly: {},
    drops: { pcap: 0, flowsEvicted: 0, unattributed: 0, parseErrors: 0, logLinesDropped: 0 },
  };
}

export function softwareKey(ev: ImdsEvent): string {
  const p = ev.process;
  if (p?.exe) return JSON.stringify([p.exe, p.unit ?? null, containerLabel(ev)]);
  return JSON.stringify([null, ev.client.ip, ev.userAgent ?? null]);
}

/** The User-Agent of `imdswatch doctor`'s token probe (src/doctor/probe.ts). */
export const DOCTOR_PROBE_USER_AGENT = 'imdswatch-doctor/1';

/** imdswatch's own doctor probe: never a finding, never counted (#11) */
export function isOwnProbe(ev: ImdsEvent): boolean {
  if (ev.userAgent === DOCTOR_PROBE_USER_AGENT) return true;
  // doctors from before the User-Agent: a token request from `imdswatch doctor`
  return ev.version === 'token' && /\bimdswatch(\.js|\/dist\/cli\/main\.js)?\s+doctor\b/.test(ev.process?.cmdline ?? '');
}

/** Fold one event into the state (pure; the caller saves). */
export function recordEvent(state: DaemonState, ev: ImdsEvent): void {
  if (isOwnProbe(ev)) return;
  const key = softwareKey(ev);
  let s = state.software[key];
  if (!s) {
    if (Object.keys(state.software).length >= STATE_LIMITS.maxSoftware) {
      state.softwareOverflow++;
      return;
    }
    s = state.software[key] = {
      exe: ev.process?.exe ?? null,
      unit: ev.process?.unit ?? null,
      container: containerLabel(ev),
      userAgent: ev.userAgent,
      sdk: ev.sdk,
      v1: 0,
      v2: 0,
      token: 0,
      v1Rejected: 0,
      tokenRejected: 0,
      firstSeen: ev.ts,
      lastSeen: ev.ts,
      lastV1: null,
      v1Paths: [],
      reasons: {},
      lastPid: null,
      lastCmdline: null,
      firstV1: null,
      lastV1Rejected: null,
      commands: [],
      scripts: [],
      users: [],
      origins: [],
      hours: {},
      hoursTrimmedBefore: null,
    };
  }
  s.commands ??= [];
  s.scripts ??= [];
  s.users ??= [];
  s.origins ??= [];
  s.hours ??= {};
  s[ev.version]++;
  if (ev.ts < s.firstSeen) s.firstSeen = ev.ts;
  if (ev.ts > s.lastSeen) s.lastSeen = ev.ts;
  if (ev.userAgent && !s.userAgent) s.userAgent = ev.userAgent;
  if (ev.sdk && !s.sdk) s.sdk = ev.sdk;
  if (ev.process) {
    s.lastPid = ev.process.pid;
    s.lastCmdline = ev.process.cmdline;
    const cmd = ev.process.cmdline ? ev.process.cmdline.slice(0, STATE_LIMITS.maxCommandChars) : null;
    addCapped(s.commands, cmd, STATE_LIMITS.maxCommandsPerSoftware);
    addCapped(s.scripts, scriptOf(ev.process), STATE_LIMITS.maxScriptsPerSoftware);
    addCapped(s.users, ev.process.user ?? (ev.process.uid !== null ? `uid ${ev.process.uid}` : null), STATE_LIMITS.maxUsersPerSoftware);
    addCapped(s.origins, originOf(ev.process), STATE_LIMITS.maxOriginsPerSoftware);
  }
  const hourKey = `${ev.ts.slice(0, 13)}:00:00Z`;
  const ph = (s.hours[hourKey] ??= [0, 0, 0, 0]);
  if (ev.version === 'v1') ph[0]++;
  if (ev.version === 'v1' && ev.status === 401) ph[1]++;
  if (ev.version === 'v2') ph[2]++;
  if (ev.version === 'token') ph[3]++;
  const keys = Object.keys(s.hours);
  if (keys.length > STATE_LIMITS.maxHoursPerSoftware) {
    keys.sort();
    const drop = keys.slice(0, keys.length - STATE_LIMITS.maxHoursPerSoftware);
    for (const old of drop) delete s.hours[old];
    s.hoursTrimmedBefore = keys[drop.length];
  }
  if (ev.version === 'v1') {
    if (ev.status === 401) {
      s.v1Rejected++;
      if (!s.lastV1Rejected || ev.ts > s.lastV1Rejected) s.lastV1Rejected = ev.ts;
    }
    if (!s.lastV1 || ev.ts > s.lastV1) s.lastV1 = ev.ts;
    if (!s.firstV1 || ev.ts < s.firstV1) s.firstV1 = ev.ts;
    if (ev.reason) s.reasons[ev.reason] = (s.reasons[ev.reason] ?? 0) + 1;
    if (s.v1Paths.length < STATE_LIMITS.maxPathsPerSoftware && !s.v1Paths.includes(ev.path)) s.v1Paths.push(ev.path);
  }
  if (ev.version === 'token' && ev.status === 403) s.tokenRejected++;
  if (ev.attribution === 'none') state.drops.unattributed++;
  const hour = `${ev.ts.slice(0, 13)}:00:00Z`;
  const h = (state.hourly[hour] ??= { v1: 0, v2: 0, token: 0 });
  h[ev.version]++;
  const hours = Object.keys(state.hourly);
  if (hours.length > STATE_LIMITS.maxHours) {
    hours.sort();
    for (const old of hours.slice(0, hours.length - STATE_LIMITS.maxHours)) delete state.hourly[old];
  }
}

/** Extend the current observation window to `nowIso`, or start a new one. */
export function touchWindow(state: DaemonState, nowIso: string, newWindow: boolean): void {
  const last = state.windows[state.windows.length - 1];
  if (!newWindow && last) last.end = nowIso;
  else {
    state.windows.push({ start: nowIso, end: nowIso, bootId: state.bootId });
    if (state.windows.length > STATE_LIMITS.maxWindows) state.windows.splice(0, state.windows.length - STATE_LIMITS.maxWindows);
  }
}

export type LoadResult = { state: DaemonState; note: string | null };

/** Load, or start fresh. A corrupt file is renamed to `<path>.corrupt-<time>` and a note says so. */
export function loadState(path: string, host: string, bootId: string | null, nowIso: string, identity: () => HostIdentity = () => readHostIdentity(undefined, host)): LoadResult {
  const r = loadStateFile(path, host, bootId, nowIso);
  // which host this is, for fleet reports (#11): name and, on Nitro, the instance id
  const id = identity();
  r.state.host = id.name;
  r.state.instanceId = id.instanceId;
  return r;
}

function loadStateFile(path: string, host: string, bootId: string | null, nowIso: string): LoadResult {
  if (!existsSync(path)) return { state: emptyState(host, bootId), note: null };
  let text: string;
  try {
    text = readNoFollow(path);
  } catch (err) {
    return { state: emptyState(host, bootId), note: `cannot read state ${path} (${(err as NodeJS.ErrnoException).code}); starting a new one` };
  }
  const parsed = parseState(text);
  if (parsed) {
    parsed.bootId = bootId;
    return { state: parsed, note: null };
  }
  const aside = `${path}.corrupt-${nowIso.replace(/[:.]/g, '')}`;
  try {
    renameSync(path, aside);
  } catch {
    /* leave it; it will be overwritten */
  }
  return { state: emptyState(host, bootId), note: `state file ${path} was corrupt; moved to ${aside} and started a new one` };
}

export function parseState(text: string): DaemonState | null {
  try {
    const s = JSON.parse(text) as DaemonState;
    if (!s || s.format !== STATE_FORMAT || typeof s.software !== 'object' || !Array.isArray(s.windows)) return null;
    s.hourly ??= {};
    s.drops ??= { pcap: 0, flowsEvicted: 0, unattributed: 0, parseErrors: 0, logLinesDropped: 0 };
    s.softwareOverflow ??= 0;
    s.windows = s.windows.filter((w) => w && typeof w.start === 'string' && typeof w.end === 'string');
    // entries of the wrong shape (a hand-edited or foreign file) are dropped, not a crash (#11)
    for (const [k, e] of Object.entries(s.software)) {
      const ok = e && typeof e === 'object' && typeof e.firstSeen === 'string' && typeof e.lastSeen === 'string' && ['v1', 'v2', 'token', 'v1Rejected'].every((f) => typeof (e as unknown as Record<string, unknown>)[f] === 'number');
      if (!ok) {
        delete s.software[k];
        continue;
      }
      if (!Array.isArray(e.v1Paths)) e.v1Paths = [];
      if (!e.reasons || typeof e.reasons !== 'object') e.reasons = {};
      for (const f of ['commands', 'scripts', 'users', 'origins'] as const) if (e[f] !== undefined && !Array.isArray(e[f])) e[f] = [];
      if (e.hours !== undefined && (typeof e.hours !== 'object' || e.hours === null)) delete e.hours;
    }
    return s;
  } catch {
    return null;
  }
}

/** Atomic save: write a temp file, fsync, rename. */
export function saveState(path: string, state: DaemonState): void {
  // a random temporary name (O_EXCL, never through a symlink) in a directory only we can write (src/service/safe-file.ts)
  writeFileAtomic(path, `${JSON.stringify(state)}\n`);
}
