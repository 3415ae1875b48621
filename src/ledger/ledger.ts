import type { ImdsEvent } from '../imds/event.js';
import { containerLabel } from './container-label.js';
import { foldEvent } from './entry.js';
import { entryUnit, jobKey, jobOf } from './job.js';
import { entryFor, noteFirstV1 } from './program-table.js';
import { entryChanged } from './state-text.js';
import { STATE_FORMAT, STATE_LIMITS, type DaemonState, type ObservationWindow, type OverflowBucket, type SoftwareEntry } from './types.js';

export { STATE_FORMAT, STATE_LIMITS };
export type { DaemonState, ObservationWindow, OverflowBucket, SoftwareEntry, UnwatchedConnections } from './types.js';

/**
 * The readiness ledger (docs/design.md#ledger): what software used IMDS, first/last seen and
 * counts, the observation windows (when capture ran), drops and an hourly timeline. One
 * owner for the types, the pure fold of events (`recordEvent`, used by the daemon, by
 * `report` over NDJSON logs and by replay/scan) and the parse of a saved state. File I/O
 * is src/sinks/state-store.ts's. Only event-derived values: never headers, bodies or tokens.
 */
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
  const job = p ? jobOf(p) : null;
  // a cron job or a person's shell: one entry per job (or person) and program; an interactive entry spans that person's sessions
  if (p?.exe && job) return JSON.stringify([p.exe, entryUnit(p.unit, job), containerLabel(ev), jobKey(job)]);
  if (p?.exe) return JSON.stringify([p.exe, p.unit ?? null, containerLabel(ev)]);
  return JSON.stringify([null, ev.client.ip, ev.userAgent ?? null]);
}

/** The User-Agent of `imdswatch doctor`'s token probe (src/doctor/probe.ts). */
export const DOCTOR_PROBE_USER_AGENT = 'imdswatch-doctor/1';

/** imdswatch's own doctor probe: never a finding, never counted */
export function isOwnProbe(ev: ImdsEvent): boolean {
  if (ev.userAgent === DOCTOR_PROBE_USER_AGENT) return true;
  // doctors from before the User-Agent: a token request from `imdswatch doctor`
  return ev.version === 'token' && /\bimdswatch(\.js|\/dist\/cli\/main\.js)?\s+doctor\b/.test(ev.process?.cmdline ?? '');
}

/**
 * States whose hourly timeline recordEvent trimmed to STATE_LIMITS.maxHours (docs/design.md#ledger-trims; since the state was
 * made or loaded): an event on an existing hour then skips listing every hour (up to 2 880 in a
 * long-running daemon: an array of every key per event). A state not seen yet (loaded) is
 * checked whole at its first event, as before.
 */
const trimmedStates = new WeakSet<DaemonState>();

/** Fold one event into the state (pure; the caller saves). No bound drops a call: see src/ledger/program-table.ts. */
export function recordEvent(state: DaemonState, ev: ImdsEvent): void {
  if (isOwnProbe(ev)) return;
  const key = softwareKey(ev);
  let s = state.software[key];
  let bucket = false;
  if (!s) ({ entry: s, bucket } = entryFor(state, key, ev));
  const wasClean = s.v1 === 0;
  foldEvent(s, ev);
  entryChanged(s);
  if (bucket) state.softwareOverflow++;
  else if (wasClean && s.v1 > 0) noteFirstV1(state, s);
  if (ev.attribution === 'none') state.drops.unattributed++;
  const hour = `${ev.ts.slice(0, 13)}:00:00Z`;
  const newHour = state.hourly[hour] == null;
  const h = (state.hourly[hour] ??= { v1: 0, v2: 0, token: 0 });
  h[ev.version]++;
  // only a new hour can take a state already within the limit past it (see trimmedStates)
  if (!newHour && trimmedStates.has(state)) return;
  trimmedStates.add(state);
  const hours = Object.keys(state.hourly);
  if (hours.length > STATE_LIMITS.maxHours) {
    hours.sort();
    for (const old of hours.slice(0, hours.length - STATE_LIMITS.maxHours)) delete state.hourly[old];
  }
}

/** Why a new observation window began and what went unwatched before it (the daemon's start-up fills it; docs/design.md#observation-gaps). */
export type WindowStart = Pick<ObservationWindow, 'startKind' | 'bootStart' | 'fromBoot' | 'unwatched'>;

/**
 * Open a new observation window at `nowIso` (the daemon's start). `start` says why it began
 * (boot or restart), when the boot began, whether an early rule watched from the boot's start
 * and the IMDS connections it counted before this window; without `startKind` the window is a
 * restart when the last window has this boot id, else the boot's first window.
 */
export function openWindow(state: DaemonState, nowIso: string, start: Partial<WindowStart> = {}): ObservationWindow {
  const last = state.windows[state.windows.length - 1];
  const startKind = start.startKind ?? (state.bootId ? (last && last.bootId === state.bootId ? 'restart' : 'boot') : undefined);
  const w: ObservationWindow = { start: nowIso, end: nowIso, bootId: state.bootId, ...(startKind ? { startKind } : {}) };
  if (start.bootStart !== undefined) w.bootStart = start.bootStart;
  if (start.fromBoot !== undefined) w.fromBoot = start.fromBoot;
  if (start.unwatched !== undefined) w.unwatched = start.unwatched;
  state.windows.push(w);
  if (state.windows.length > STATE_LIMITS.maxWindows) state.windows.splice(0, state.windows.length - STATE_LIMITS.maxWindows);
  return w;
}

/** Extend the current observation window to `nowIso`, or (`newWindow`) open a new one with `start` (see openWindow). */
export function touchWindow(state: DaemonState, nowIso: string, newWindow: boolean, start?: Partial<WindowStart>): void {
  const last = state.windows[state.windows.length - 1];
  if (!newWindow && last) last.end = nowIso;
  else openWindow(state, nowIso, start);
}


/** an ISO time as the ledger writes it (a hand-edited or foreign file's other strings never reach a report) */
export const isIsoTime = (v: unknown): v is string => typeof v === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,9})?)?Z$/.test(v);

const entryOk = (e: unknown): e is SoftwareEntry =>
  !!e && typeof e === 'object' && isIsoTime((e as SoftwareEntry).firstSeen) && isIsoTime((e as SoftwareEntry).lastSeen) && ['v1', 'v2', 'token', 'v1Rejected'].every((f) => typeof (e as Record<string, unknown>)[f] === 'number');

const sOrNull = (v: unknown) => v === null || typeof v === 'string';
/** a job of the shape src/ledger/job.ts writes (a hand-edited state's other values never reach a report) */
function jobOk(j: unknown): boolean {
  const o = j as Record<string, unknown> | null;
  if (!o || typeof o !== 'object') return false;
  if (o.kind === 'cron') return (o.runner === 'cron' || o.runner === 'anacron') && typeof o.user === 'string' && sOrNull(o.command) && sOrNull(o.part);
  return o.kind === 'interactive' && typeof o.person === 'string' && ['ssh', 'console', 'session'].includes(o.via as string) && typeof o.terminal === 'boolean' && sOrNull(o.session);
}

function fixEntry(e: SoftwareEntry): void {
  if (!Array.isArray(e.v1Paths)) e.v1Paths = [];
  if (!e.reasons || typeof e.reasons !== 'object') e.reasons = {};
  for (const f of ['commands', 'scripts', 'users', 'origins'] as const) if (e[f] !== undefined && !Array.isArray(e[f])) e[f] = [];
  if (e.hours !== undefined && (typeof e.hours !== 'object' || e.hours === null)) delete e.hours;
  if (e.owner !== undefined && typeof e.owner !== 'string') delete e.owner;
  if (e.job !== undefined && !jobOk(e.job)) delete e.job;
  if (e.sessions !== undefined && !(Array.isArray(e.sessions) && e.sessions.every((x) => typeof x === 'string'))) delete e.sessions;
  if (e.minutes !== undefined && (typeof e.minutes !== 'object' || e.minutes === null || typeof e.minutesFrom !== 'string')) {
    delete e.minutes;
    delete e.minutesFrom;
  }
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const strOrNull = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** a window's additive fields of the right type, or none (older states have none) */
function fixWindow(w: ObservationWindow): void {
  if (w.startKind !== undefined && w.startKind !== 'boot' && w.startKind !== 'restart') delete w.startKind;
  if (w.bootStart !== undefined && w.bootStart !== null && !isIsoTime(w.bootStart)) delete w.bootStart;
  if (w.fromBoot !== undefined && typeof w.fromBoot !== 'boolean') delete w.fromBoot;
  const u = w.unwatched as unknown as Record<string, unknown> | undefined;
  if (u === undefined) return;
  if (!u || typeof u !== 'object' || num(u.count) === null) {
    delete w.unwatched;
    return;
  }
  const makers = Array.isArray(u.makers) ? u.makers.filter((m): m is Record<string, unknown> => !!m && typeof m === 'object') : [];
  w.unwatched = {
    count: num(u.count)!,
    makers: makers.slice(0, 64).map((m) => ({ uid: num(m.uid), pid: num(m.pid), exe: strOrNull(m.exe), unit: strOrNull(m.unit), count: num(m.count) ?? 1, firstTs: isIsoTime(m.firstTs) ? m.firstTs : null })),
    source: strOrNull(u.source) ?? 'unknown',
  };
}

/** A saved state, or null when it is not one. Entries of the wrong shape are dropped; fields added since imdswatch-state/1 may be absent. */
export function parseState(text: string): DaemonState | null {
  try {
    const s = JSON.parse(text) as DaemonState;
    if (!s || s.format !== STATE_FORMAT || typeof s.software !== 'object' || !Array.isArray(s.windows)) return null;
    s.hourly ??= {};
    s.drops ??= { pcap: 0, flowsEvicted: 0, unattributed: 0, parseErrors: 0, logLinesDropped: 0 };
    s.softwareOverflow ??= 0;
    s.windows = s.windows.filter((w) => w && isIsoTime(w.start) && isIsoTime(w.end));
    for (const w of s.windows) fixWindow(w);
    // entries of the wrong shape (a hand-edited or foreign file) are dropped, not a crash
    for (const [k, e] of Object.entries(s.software)) {
      if (!entryOk(e)) delete s.software[k];
      else fixEntry(e);
    }
    if (s.overflow !== undefined && (typeof s.overflow !== 'object' || s.overflow === null)) delete s.overflow;
    for (const [k, b] of Object.entries(s.overflow ?? {})) {
      if (!entryOk(b)) delete s.overflow![k];
      else fixEntry(b);
      if (s.overflow![k]) {
        const o = s.overflow![k] as Partial<OverflowBucket>;
        o.owner = typeof o.owner === 'string' ? o.owner : k;
        if (!Array.isArray(o.examples)) o.examples = [];
        if (typeof o.displaced !== 'number') o.displaced = 0;
      }
    }
    return s;
  } catch {
    return null;
  }
}
