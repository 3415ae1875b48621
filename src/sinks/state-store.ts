import { existsSync, readFileSync, renameSync, writeFileSync, mkdirSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ImdsEvent, SdkInfo, V1Reason } from '../imds/event.js';
import { containerLabel } from './report.js';

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
}

export interface ObservationWindow {
  /** ISO time capture started / was last known running */
  start: string;
  end: string;
  bootId: string | null;
}

export interface DaemonState {
  format: typeof STATE_FORMAT;
  host: string;
  bootId: string | null;
  windows: ObservationWindow[];
  software: Record<string, SoftwareEntry>;
  /** software keys beyond the cap are merged into this count */
  softwareOverflow: number;
  /** hour (ISO, truncated) → counts */
  hourly: Record<string, { v1: number; v2: number; token: number }>;
  drops: { pcap: number; flowsEvicted: number; unattributed: number; parseErrors: number; logLinesDropped: number };
}

export const STATE_LIMITS = { maxSoftware: 2_000, maxPathsPerSoftware: 20, maxHours: 24 * 120, maxWindows: 500 };

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

/** Fold one event into the state (pure; the caller saves). */
export function recordEvent(state: DaemonState, ev: ImdsEvent): void {
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
    };
  }
  s[ev.version]++;
  if (ev.ts < s.firstSeen) s.firstSeen = ev.ts;
  if (ev.ts > s.lastSeen) s.lastSeen = ev.ts;
  if (ev.userAgent && !s.userAgent) s.userAgent = ev.userAgent;
  if (ev.sdk && !s.sdk) s.sdk = ev.sdk;
  if (ev.process) {
    s.lastPid = ev.process.pid;
    s.lastCmdline = ev.process.cmdline;
  }
  if (ev.version === 'v1') {
    if (ev.status === 401) s.v1Rejected++;
    if (!s.lastV1 || ev.ts > s.lastV1) s.lastV1 = ev.ts;
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
export function loadState(path: string, host: string, bootId: string | null, nowIso: string): LoadResult {
  if (!existsSync(path)) return { state: emptyState(host, bootId), note: null };
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
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
    return s;
  } catch {
    return null;
  }
}

/** Atomic save: write a temp file, fsync, rename. */
export function saveState(path: string, state: DaemonState): void {
  const dir = dirname(path);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(state)}\n`, { mode: 0o600 });
  const fd = openSync(tmp, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
