/** Shared helpers for the replay tests: load captures with labels, compare events, read counters. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';

export interface LabelFile {
  description: string;
  expect: {
    exitCode: number;
    error?: string;
    alsoAccepted?: string[];
    packetsRead?: number;
    skip?: { counter: string; reasonHint?: string };
  };
  events: Array<Record<string, unknown>>;
  tsharkExcluded?: string;
}

export interface LabeledCapture {
  name: string;
  path: string;
  labels: LabelFile;
}

export function loadCaptures(dir: string): LabeledCapture[] {
  return readdirSync(dir)
    .filter((f) => /\.(pcap|pcapng)$/.test(f))
    .sort()
    .map((f) => {
      const name = f.replace(/\.(pcap|pcapng)$/, '');
      return { name, path: join(dir, f), labels: JSON.parse(readFileSync(join(dir, `${name}.labels.json`), 'utf8')) as LabelFile };
    });
}

const CORE = ['version', 'method', 'path', 'status', 'client'];

function pick(e: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => k in e).map((k) => [k, e[k]]));
}

/** Compare events with labels: same count and order; every field present in a label must match. */
export function expectEventsMatch(actual: Array<Record<string, unknown>>, labels: LabelFile['events'], what: string): void {
  const want = labels.map((l) => pick(l, CORE));
  const got = actual.map((a, i) => pick(a, want[i] ? Object.keys(want[i]) : CORE));
  expect(got, `${what}: events`).toEqual(want);
  labels.forEach((l, i) => {
    const a = actual[i];
    for (const key of ['userAgent', 'reason']) {
      if (key in l) expect(a[key], `${what}: event ${i} ${key}`).toEqual(l[key]);
    }
    if (typeof l.ts === 'string') {
      // labels carry millisecond precision; the event may carry more
      expect(Math.floor(Date.parse(String(a.ts))), `${what}: event ${i} ts ${String(a.ts)}`).toBe(Date.parse(l.ts));
    }
  });
}

/** Sum of a counter path in the stats ("decode.skipped" sums a reason map). Undefined when the path does not exist. */
export function counterValue(stats: unknown, path: string): number | undefined {
  let cur: unknown = stats;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || !(part in (cur as object))) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  if (typeof cur === 'number') return cur;
  if (cur && typeof cur === 'object') return Object.values(cur as Record<string, number>).reduce((a, b) => a + (typeof b === 'number' ? b : 0), 0);
  return undefined;
}
