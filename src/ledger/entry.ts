import type { ImdsEvent } from '../imds/event.js';
import { containerLabel } from './container-label.js';
import { originOf, scriptOf } from './what-ran.js';
import { entryUnit, jobOf } from './job.js';
import { STATE_LIMITS, type SoftwareEntry } from './types.js';

/** One program's entry: a new one, one event folded in, two entries merged (pure). */

function addCapped(list: string[], value: string | null, cap: number): void {
  if (value && list.length < cap && !list.includes(value)) list.push(value);
}

function addSession(s: SoftwareEntry, id: string): void {
  const list = (s.sessions ??= []);
  if (list.includes(id)) return;
  if (list.length < STATE_LIMITS.maxSessionsPerSoftware) list.push(id);
  else s.sessionsMore = true;
}

export function newEntry(ev: ImdsEvent, owner: string): SoftwareEntry {
  const job = ev.process ? jobOf(ev.process) : null;
  return {
    exe: ev.process?.exe ?? null,
    // an interactive entry spans sessions: no one session's scope names it
    unit: ev.process ? entryUnit(ev.process.unit, job) : null,
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
    owner,
    ...(job ? { job } : {}),
  };
}

function trimHours(s: SoftwareEntry): void {
  const keys = Object.keys(s.hours ?? {});
  if (keys.length <= STATE_LIMITS.maxHoursPerSoftware) return;
  keys.sort();
  const drop = keys.slice(0, keys.length - STATE_LIMITS.maxHoursPerSoftware);
  for (const old of drop) delete s.hours![old];
  const kept = keys[drop.length];
  if (!s.hoursTrimmedBefore || kept > s.hoursTrimmedBefore) s.hoursTrimmedBefore = kept;
}

function trimMinutes(s: SoftwareEntry): void {
  const keys = Object.keys(s.minutes ?? {});
  if (keys.length <= STATE_LIMITS.maxMinutesPerSoftware) return;
  keys.sort();
  const drop = keys.slice(0, keys.length - STATE_LIMITS.maxMinutesPerSoftware);
  for (const old of drop) delete s.minutes![old];
  const kept = keys[drop.length];
  if (!s.minutesFrom || kept > s.minutesFrom) s.minutesFrom = kept;
}

/**
 * Entries whose hours and minutes were trimmed to their limits by foldEvent (docs/design.md#ledger-trims; since the entry was
 * made or loaded): only a new key can take them past a limit, so a later event on an existing
 * hour and minute skips listing the keys (up to 744 hours and 120 minutes per entry in a
 * long-running daemon: an array of every key per event). An entry not seen yet (a loaded state)
 * is checked whole at its first event, as before.
 */
const trimmedEntries = new WeakSet<SoftwareEntry>();

export function foldEvent(s: SoftwareEntry, ev: ImdsEvent): void {
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
    const job = s.job?.kind === 'interactive' ? jobOf(ev.process) : null;
    if (job?.kind === 'interactive' && job.session) addSession(s, job.session);
  }
  const trimmed = trimmedEntries.has(s);
  const hour = `${ev.ts.slice(0, 13)}:00:00Z`;
  const newHour = s.hours[hour] == null;
  const ph = (s.hours[hour] ??= [0, 0, 0, 0]);
  if (ev.version === 'v1') ph[0]++;
  if (ev.version === 'v1' && ev.status === 401) ph[1]++;
  if (ev.version === 'v2') ph[2]++;
  if (ev.version === 'token') ph[3]++;
  if (newHour || !trimmed) trimHours(s);
  // an entry without minutes (new, or from an older state) has every call from this minute on
  const minute = ev.ts.slice(0, 16);
  s.minutesFrom ??= minute;
  const minutes = (s.minutes ??= {});
  const newMinute = minutes[minute] == null;
  const pm = (minutes[minute] ??= [0, 0, 0, 0]);
  if (ev.version === 'v1') pm[0]++;
  if (ev.version === 'v1' && ev.status === 401) pm[1]++;
  if (ev.version === 'v2') pm[2]++;
  if (ev.version === 'token') pm[3]++;
  if (newMinute || !trimmed) trimMinutes(s);
  if (!trimmed) trimmedEntries.add(s);
  if (ev.version === 'v1') {
    if (ev.status === 401) {
      s.v1Rejected++;
      if (!s.lastV1Rejected || ev.ts > s.lastV1Rejected) s.lastV1Rejected = ev.ts;
    }
    if (!s.lastV1 || ev.ts > s.lastV1) s.lastV1 = ev.ts;
    if (!s.firstV1 || ev.ts < s.firstV1) s.firstV1 = ev.ts;
    if (ev.reason) s.reasons[ev.reason] = (s.reasons[ev.reason] ?? 0) + 1;
    addCapped(s.v1Paths, ev.path, STATE_LIMITS.maxPathsPerSoftware);
  }
  if (ev.version === 'token' && ev.status === 403) s.tokenRejected++;
}

const min = (a: string | null | undefined, b: string | null | undefined) => (!a ? (b ?? null) : !b ? a : a < b ? a : b);
const max = (a: string | null | undefined, b: string | null | undefined) => (!a ? (b ?? null) : !b ? a : a > b ? a : b);

/** Every count and time of `from` added to `into` (a program displaced into its owner's bucket). */
export function mergeEntry(into: SoftwareEntry, from: SoftwareEntry): void {
  into.v1 += from.v1;
  into.v2 += from.v2;
  into.token += from.token;
  into.v1Rejected += from.v1Rejected;
  into.tokenRejected = (into.tokenRejected ?? 0) + (from.tokenRejected ?? 0);
  into.firstSeen = min(into.firstSeen, from.firstSeen)!;
  into.lastSeen = max(into.lastSeen, from.lastSeen)!;
  into.lastV1 = max(into.lastV1, from.lastV1);
  into.firstV1 = from.v1 > 0 ? min(into.firstV1, from.firstV1 ?? from.firstSeen) : (into.firstV1 ?? null);
  into.lastV1Rejected = max(into.lastV1Rejected, from.lastV1Rejected);
  for (const [r, n] of Object.entries(from.reasons)) into.reasons[r as keyof SoftwareEntry['reasons']] = (into.reasons[r as keyof SoftwareEntry['reasons']] ?? 0) + (n ?? 0);
  for (const p of from.v1Paths) addCapped(into.v1Paths, p, STATE_LIMITS.maxPathsPerSoftware);
  const lists = [
    ['commands', STATE_LIMITS.maxCommandsPerSoftware],
    ['scripts', STATE_LIMITS.maxScriptsPerSoftware],
    ['users', STATE_LIMITS.maxUsersPerSoftware],
    ['origins', STATE_LIMITS.maxOriginsPerSoftware],
  ] as const;
  for (const [f, cap] of lists) for (const x of from[f] ?? []) addCapped((into[f] ??= []), x, cap);
  for (const x of from.sessions ?? []) addSession(into, x);
  if (from.sessionsMore) into.sessionsMore = true;
  into.hours ??= {};
  for (const [h, c] of Object.entries(from.hours ?? {})) {
    const t = (into.hours[h] ??= [0, 0, 0, 0]);
    for (let i = 0; i < 4; i++) t[i] += c[i] ?? 0;
  }
  // an entry without per-hour counts (an older state) makes the bucket's hours partial: windows then use all-time counts
  into.minutes ??= {};
  for (const [m, c] of Object.entries(from.minutes ?? {})) {
    const t = (into.minutes[m] ??= [0, 0, 0, 0]);
    for (let i = 0; i < 4; i++) t[i] += c[i] ?? 0;
  }
  // complete from the later of the two (an entry without minutes: none)
  const fromFrom = from.minutes && from.minutesFrom ? from.minutesFrom : '9999';
  if (!into.minutesFrom || fromFrom > into.minutesFrom) into.minutesFrom = fromFrom;
  trimMinutes(into);
  if (!from.hours) into.hoursTrimmedBefore = '9999';
  else if (from.hoursTrimmedBefore) into.hoursTrimmedBefore = max(into.hoursTrimmedBefore, from.hoursTrimmedBefore);
  trimHours(into);
}
