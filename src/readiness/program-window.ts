import type { SoftwareEntry } from '../ledger/ledger.js';

/**
 * One program's counts and first/last times inside a `--since` window. Event files are
 * filtered event by event before they get here (exact); a state file keeps per-hour
 * counts per program, so a window over a state answers to the hour: the hour holding
 * `since` counts whole (first seen is then that hour's top, or the exact time when later).
 * A window reaching past the hours kept uses the all-time counts.
 */
export interface ProgramWindow {
  v1: number;
  v1Rejected: number;
  v2: number;
  token: number;
  firstSeen: string;
  lastSeen: string;
  /** first/last IMDSv1 call (null: none in the window) */
  firstV1: string | null;
  lastV1: string | null;
  /** the program's last call was an IMDSv1 call rejected with 401 */
  brokenNow: boolean;
  /** how the window was cut: 'minute' from the program's recent per-minute counts, 'hour' from its hourly ones (absent: no window, or an event file) */
  precision?: 'minute' | 'hour';
}

const hourOf = (iso: string) => `${iso.slice(0, 13)}:00:00Z`;

export function programWindow(s: SoftwareEntry, since: string | null): ProgramWindow | null {
  const lastV1Rejected = (s as { lastV1Rejected?: string | null }).lastV1Rejected ?? null;
  const all: ProgramWindow = {
    v1: s.v1,
    v1Rejected: s.v1Rejected,
    v2: s.v2,
    token: s.token,
    firstSeen: s.firstSeen,
    lastSeen: s.lastSeen,
    firstV1: s.v1 > 0 ? (s.firstV1 ?? s.firstSeen) : null,
    lastV1: s.v1 > 0 ? (s.lastV1 ?? s.lastSeen) : null,
    // older states have no lastV1Rejected: any 401 then counts as broken now, as before
    brokenNow: s.v1Rejected > 0 && (lastV1Rejected === null ? !('lastV1Rejected' in s) : lastV1Rejected >= s.lastSeen),
  };
  if (!since) return all;
  const byMinute = minuteWindow(s, since, all);
  if (byMinute !== undefined) return byMinute;
  const sinceHour = hourOf(since);
  // per-hour counts: the window starts at the top of the hour holding `since`
  if (s.lastSeen < (s.hours ? sinceHour : since)) return null;
  const trimmed = s.hoursTrimmedBefore ?? null;
  if (!s.hours || (trimmed && sinceHour < trimmed)) return { ...all, precision: 'hour' };
  const w: ProgramWindow = { ...all, v1: 0, v1Rejected: 0, v2: 0, token: 0, firstV1: null };
  let firstHour: string | null = null;
  let firstV1Hour: string | null = null;
  for (const [hour, c] of Object.entries(s.hours)) {
    if (hour < sinceHour) continue;
    w.v1 += c[0];
    w.v1Rejected += c[1];
    w.v2 += c[2];
    w.token += c[3];
    if (!firstHour || hour < firstHour) firstHour = hour;
    if (c[0] > 0 && (!firstV1Hour || hour < firstV1Hour)) firstV1Hour = hour;
  }
  if (w.v1 + w.v2 + w.token === 0) return null;
  // exact when the program's first call is inside the window, else the top of the first hour it was seen in
  w.firstSeen = s.firstSeen >= sinceHour ? s.firstSeen : (firstHour ?? sinceHour);
  if (w.v1 > 0) {
    const f = all.firstV1 ?? s.firstSeen;
    w.firstV1 = f >= sinceHour ? f : (firstV1Hour ?? sinceHour);
  } else w.lastV1 = null;
  if (w.v1Rejected === 0) w.brokenNow = false;
  return { ...w, precision: 'hour' };
}

/**
 * The window from the program's per-minute counts (docs/design.md#since-windows), when they
 * hold every call since `since`'s minute (that minute counts whole); undefined otherwise.
 */
function minuteWindow(s: SoftwareEntry, since: string, all: ProgramWindow): ProgramWindow | null | undefined {
  const sinceMinute = since.slice(0, 16);
  if (!s.minutes || !s.minutesFrom || sinceMinute < s.minutesFrom) return undefined;
  const w: ProgramWindow = { ...all, v1: 0, v1Rejected: 0, v2: 0, token: 0, firstV1: null, precision: 'minute' };
  let first: string | null = null;
  let firstV1: string | null = null;
  for (const [minute, c] of Object.entries(s.minutes)) {
    if (minute < sinceMinute) continue;
    w.v1 += c[0];
    w.v1Rejected += c[1];
    w.v2 += c[2];
    w.token += c[3];
    if (!first || minute < first) first = minute;
    if (c[0] > 0 && (!firstV1 || minute < firstV1)) firstV1 = minute;
  }
  if (w.v1 + w.v2 + w.token === 0) return null;
  const top = (m: string | null) => (m ? `${m}:00Z` : sinceMinute);
  w.firstSeen = s.firstSeen >= top(first) ? s.firstSeen : top(first);
  if (w.v1 > 0) {
    const f = all.firstV1 ?? s.firstSeen;
    w.firstV1 = f >= top(firstV1) ? f : top(firstV1);
  } else w.lastV1 = null;
  if (w.v1Rejected === 0) w.brokenNow = false;
  return w;
}
