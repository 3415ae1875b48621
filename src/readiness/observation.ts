import type { ObservationWindow } from '../ledger/ledger.js';

/**
 * How long a host was observed inside the report's window, and the gaps: time between
 * observation windows (the daemon was stopped, the host was down, capture was not
 * running) and, for a state file, since the daemon last extended its window. The daemon
 * extends its window every few seconds, so anything under GAP_MIN_MS is not a gap.
 */
export const GAP_MIN_MS = 5 * 60_000;

export interface Gap {
  start: string;
  end: string;
  hours: number;
  /** 'stopped': between two windows; 'not-running': from the last window to now */
  kind: 'stopped' | 'not-running';
}

export interface Observation {
  ms: number;
  since: string | null;
  gaps: Gap[];
}

const gap = (start: string, end: string, kind: Gap['kind']): Gap => ({ start, end, hours: Math.round(((Date.parse(end) - Date.parse(start)) / 3_600_000) * 100) / 100, kind });

/** `trailing`: a state file (the daemon should still be extending it); event files end at their last event */
export function observationOf(windows: ObservationWindow[], since: string | null, now: string, trailing: boolean): Observation {
  const ws = windows
    .map((w) => ({ start: since && w.start < since ? since : w.start, end: w.end > now ? now : w.end }))
    .filter((w) => w.end > w.start || (w.end === w.start && (!since || w.start >= since)))
    .sort((a, b) => a.start.localeCompare(b.start));
  let ms = 0;
  let first: string | null = null;
  const gaps: Gap[] = [];
  let prevEnd: string | null = null;
  for (const w of ws) {
    // overlapping windows (two boots' clocks, a copied state) count once
    const start = prevEnd && w.start < prevEnd ? prevEnd : w.start;
    if (w.end > start) ms += Date.parse(w.end) - Date.parse(start);
    if (first === null) first = w.start;
    if (prevEnd && Date.parse(w.start) - Date.parse(prevEnd) >= GAP_MIN_MS) gaps.push(gap(prevEnd, w.start, 'stopped'));
    if (!prevEnd || w.end > prevEnd) prevEnd = w.end;
  }
  if (trailing && prevEnd && Date.parse(now) - Date.parse(prevEnd) >= GAP_MIN_MS) gaps.push(gap(prevEnd, now, 'not-running'));
  return { ms, since: first, gaps };
}
