import type { ObservationWindow, UnwatchedConnections } from '../ledger/ledger.js';

/**
 * How long a host was observed inside the report's window, its gaps, its boots and the IMDS
 * connections made while nothing watched (docs/design.md#observation-gaps).
 *
 * - A boot's unwatched interval (kernel start to the window's start) and every daemon
 *   restart is a gap whatever its length: a call made 25 ms before the daemon started is
 *   still a call nobody saw. It does not hold the verdict back when the window says it was
 *   accounted for (`fromBoot`: an early rule counted every IMDS connection from the kernel's
 *   start; what it counted is in `unwatched`).
 * - Other time between windows (the host down, the daemon stopped without a restart
 *   record) and, for a state file, since the daemon last extended its window, is a gap from
 *   GAP_MIN_MS on: the daemon extends its window every few seconds.
 * - Windows of older states carry no `startKind`: the first window of a boot id is a boot,
 *   a later one of the same boot id a restart (without boot ids: only the time rule).
 */
export const GAP_MIN_MS = 5 * 60_000;

export interface Gap {
  start: string;
  end: string;
  hours: number;
  /**
   * 'stopped': between two windows; 'not-running': from the last window to now; 'boot': a
   * boot's unwatched interval (kernel start, or the last window's end when the boot's start
   * is not known, to the window's start); 'restart': the daemon restarted within a boot
   */
  kind: 'stopped' | 'not-running' | 'boot' | 'restart';
  /** (boot, restart) an early rule counted every IMDS connection in it: listed, but not a reason for UNKNOWN */
  accounted?: boolean;
  /** (boot) the boot's start is not known: the gap runs from the daemon's last record (shutdown and downtime included) */
  bootStartUnknown?: boolean;
}

/** IMDS connections counted before a window began, with the window they belong to */
export interface Unwatched extends UnwatchedConnections {
  /** the window the daemon opened after them */
  windowStart: string;
  kind: 'boot' | 'restart' | null;
}

export interface Observation {
  ms: number;
  since: string | null;
  gaps: Gap[];
  /** boots whose first window lies in the report's window, and of those the ones watched from their start (fromBoot) */
  boots: { total: number; watchedFromStart: number };
  unwatched: Unwatched[];
}

const gap = (start: string, end: string, kind: Gap['kind'], accounted?: boolean): Gap => ({
  start,
  end,
  hours: Math.round(((Date.parse(end) - Date.parse(start)) / 3_600_000) * 100) / 100,
  kind,
  ...(accounted !== undefined ? { accounted } : {}),
});

/** why a window began: as written by the daemon, else from the boot ids of the window before it */
export function startKindOf(w: ObservationWindow, prev: ObservationWindow | null): 'boot' | 'restart' | null {
  if (w.startKind === 'boot' || w.startKind === 'restart') return w.startKind;
  if (!w.bootId) return null;
  return prev && prev.bootId === w.bootId ? 'restart' : 'boot';
}

/** `trailing`: a state file (the daemon should still be extending it); event files end at their last event */
export function observationOf(windows: ObservationWindow[], since: string | null, now: string, trailing: boolean): Observation {
  const sorted = windows.filter((w) => w.start <= now).sort((a, b) => a.start.localeCompare(b.start));
  let ms = 0;
  let first: string | null = null;
  const gaps: Gap[] = [];
  const boots = { total: 0, watchedFromStart: 0 };
  const unwatched: Unwatched[] = [];
  let prevEnd: string | null = null;
  let prev: ObservationWindow | null = null;
  const inWindow = (t: string) => !since || t >= since;
  const clip = (t: string) => (since && t < since ? since : t);
  for (const w of sorted) {
    const kind = startKindOf(w, prev);
    const accounted = w.fromBoot === true;
    const start = clip(w.start);
    const end = w.end > now ? now : w.end;
    if (inWindow(w.start)) {
      if (kind === 'boot') {
        boots.total++;
        if (accounted) boots.watchedFromStart++;
      }
      if (w.unwatched && w.unwatched.count > 0) unwatched.push({ ...w.unwatched, windowStart: w.start, kind });
    }
    if (end > start || (end === start && inWindow(w.start))) {
      // overlapping windows (two boots' clocks, a copied state) count once
      const from = prevEnd && start < prevEnd ? prevEnd : start;
      if (end > from) ms += Date.parse(end) - Date.parse(from);
      if (first === null) first = start;
    }
    // a boot or a restart is a gap even when it took no measurable time
    if (prevEnd && inWindow(w.start) && (kind ? w.start >= prevEnd : w.start > prevEnd)) {
      // time between the last window and this one
      if (kind === 'restart') gaps.push(gap(prevEnd, w.start, 'restart', accounted));
      else if (kind === 'boot') {
        const boot = w.bootStart && w.bootStart > prevEnd && w.bootStart <= w.start ? w.bootStart : null;
        if (boot && Date.parse(boot) - Date.parse(prevEnd) >= GAP_MIN_MS) gaps.push(gap(prevEnd, boot, 'stopped'));
        gaps.push({ ...gap(clip(boot ?? prevEnd), w.start, 'boot', accounted), ...(boot ? {} : { bootStartUnknown: true }) });
      } else if (Date.parse(w.start) - Date.parse(prevEnd) >= GAP_MIN_MS) gaps.push(gap(prevEnd, w.start, 'stopped'));
    }
    if (end >= start && (!prevEnd || end > prevEnd)) prevEnd = end;
    prev = w;
  }
  if (trailing && prevEnd && Date.parse(now) - Date.parse(prevEnd) >= GAP_MIN_MS) gaps.push(gap(prevEnd, now, 'not-running'));
  return { ms, since: first, gaps, boots, unwatched };
}
