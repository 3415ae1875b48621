import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emptyState, loadState, recordEvent, saveState, StateSaver, STATE_LIMITS, touchWindow, type DaemonState } from '../../src/sinks/state-store.js';
import { refreshEntryTexts, stateText } from '../../src/ledger/state-text.js';
import type { ImdsEvent } from '../../src/imds/event.js';
import { ev } from '../helpers/events.js';

/** a deterministic pseudo-random sequence (no Math.random: a failure must replay) */
function rng(seed: number) {
  let x = seed >>> 0;
  return () => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

const versions = ['v1', 'v2', 'token'] as const;

/** events of many programs and owners, enough to fill the program table and its overflow buckets */
function randomEvent(r: () => number, i: number): ImdsEvent {
  const uid = Math.floor(r() * 4) * 1000;
  const version = versions[Math.floor(r() * 3)];
  const ts = new Date(Date.parse('2026-11-28T10:00:00.000Z') + i * 37_000).toISOString();
  const attributed = r() < 0.9;
  return ev({
    ts,
    version,
    reason: version === 'v1' ? 'no-token-attempt' : null,
    status: r() < 0.1 ? 401 : 200,
    path: `/latest/meta-data/p${Math.floor(r() * 30)}`,
    userAgent: `agent/${Math.floor(r() * 5)}`,
    process: attributed ? { pid: 100 + i, exe: `/bin/u${uid}-p${Math.floor(r() * 700)}`, cmdline: `/bin/p x${Math.floor(r() * 12)}`, uid, user: `u${uid}`, unit: 'x.service', container: null, ancestors: [] } : null,
    attribution: attributed ? 'gate' : 'none',
  });
}

const tmp = () => mkdtempSync(join(tmpdir(), 'imdswatch-saver-'));

describe('state text re-uses unchanged entries', () => {
  it('is JSON.stringify(state) byte for byte after every step of a random event sequence (program table full, buckets, displacements)', () => {
    const r = rng(7);
    const s = emptyState('h1', 'boot-a');
    touchWindow(s, '2026-11-28T10:00:00.000Z', true);
    for (let i = 0; i < 5_000; i++) {
      recordEvent(s, randomEvent(r, i));
      if (i % 97 === 0) s.drops.pcap++;
      if (i % 61 === 0 || i > 4_990) expect(stateText(s)).toBe(JSON.stringify(s));
    }
    expect(Object.keys(s.software).length).toBeGreaterThan(STATE_LIMITS.maxSoftwarePerOwner);
    expect(Object.keys(s.overflow ?? {}).length).toBeGreaterThan(0);
  });

  it('is JSON.stringify of a loaded state (older fields absent, instanceId undefined), before and after new events', () => {
    const dir = tmp();
    try {
      const path = join(dir, 'state.json');
      const old = emptyState('h1', 'boot-a');
      const r = rng(3);
      for (let i = 0; i < 300; i++) recordEvent(old, randomEvent(r, i));
      // an older state: entries without the additive fields
      for (const e of Object.values(old.software)) {
        delete e.minutes;
        delete e.minutesFrom;
        delete e.owner;
      }
      writeFileSync(path, JSON.stringify(old));
      const { state } = loadState(path, 'h1', 'boot-b', '2026-11-28T12:00:00Z', () => ({ name: 'h1', instanceId: undefined as unknown as null }));
      expect(stateText(state)).toBe(JSON.stringify(state));
      for (let i = 300; i < 400; i++) recordEvent(state, randomEvent(r, i));
      expect(stateText(state)).toBe(JSON.stringify(state));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serialises stale entries in bounded slices (a clock past its budget stops the slice)', () => {
    const s = emptyState('h1', null);
    const r = rng(11);
    for (let i = 0; i < 2_000; i++) recordEvent(s, randomEvent(r, i));
    let t = 0;
    const clock = () => (t += 1);
    let slices = 1;
    while (!refreshEntryTexts(s, 5, clock)) slices++;
    expect(slices).toBeGreaterThan(10);
    // nothing stale left: a second pass does nothing
    expect(refreshEntryTexts(s, 0, () => 1e9)).toBe(true);
    expect(stateText(s)).toBe(JSON.stringify(s));
  });
});

describe('StateSaver', () => {
  const stateWith = (n: number): DaemonState => {
    const s = emptyState('h1', 'boot-a');
    touchWindow(s, '2026-11-28T10:00:00.000Z', true);
    const r = rng(5);
    for (let i = 0; i < n; i++) recordEvent(s, randomEvent(r, i));
    return s;
  };

  it('saves a file that loads back equal, 0600, no temporary file left, same text as saveState', async () => {
    const dir = tmp();
    try {
      const path = join(dir, 'sub', 'state.json');
      const s = stateWith(1_500);
      const errors: unknown[] = [];
      const saver = new StateSaver(path, s, (e) => errors.push(e));
      saver.request();
      await saver.flush();
      expect(errors).toEqual([]);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(readdirSync(join(dir, 'sub'))).toEqual(['state.json']);
      const text = readFileSync(path, 'utf8');
      saveState(join(dir, 'plain.json'), s);
      expect(text).toBe(readFileSync(join(dir, 'plain.json'), 'utf8'));
      const back = loadState(path, 'h1', 'boot-a', '2026-11-28T12:00:00Z', () => ({ name: 'h1', instanceId: null }));
      expect(back.note).toBeNull();
      expect(back.state.software).toEqual(s.software);
      expect(back.state.overflow).toEqual(s.overflow);
      expect(back.state.windows).toEqual(s.windows);
      expect(back.state.hourly).toEqual(s.hourly);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lets the event loop run during a save, and the file holds what was folded in meanwhile', async () => {
    const dir = tmp();
    try {
      const path = join(dir, 'state.json');
      const s = stateWith(2_000);
      const saver = new StateSaver(path, s, (e) => {
        throw e;
      }, 0);
      let foldedDuringSave = false;
      saver.request();
      // runs only if the save gives the event loop a turn before it takes its snapshot
      setImmediate(() => {
        recordEvent(s, ev({ ts: '2026-11-29T00:00:00.000Z', process: { pid: 9, exe: '/usr/bin/late', cmdline: 'late', uid: 0, user: 'root', unit: null, container: null, ancestors: [] }, attribution: 'gate' }));
        foldedDuringSave = true;
      });
      await saver.flush();
      expect(foldedDuringSave).toBe(true);
      const saved = JSON.parse(readFileSync(path, 'utf8')) as DaemonState;
      expect(Object.values(saved.software).some((e) => e.exe === '/usr/bin/late')).toBe(true);
      expect(readFileSync(path, 'utf8')).toBe(`${JSON.stringify(s)}\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a request while a save runs makes one more save with the latest state; close() writes the last one', async () => {
    const dir = tmp();
    try {
      const path = join(dir, 'state.json');
      const s = stateWith(800);
      const saver = new StateSaver(path, s, (e) => {
        throw e;
      });
      saver.request();
      recordEvent(s, ev({ ts: '2026-11-30T00:00:00.000Z' }));
      saver.request();
      saver.request();
      await saver.flush();
      expect(readFileSync(path, 'utf8')).toBe(`${JSON.stringify(s)}\n`);
      recordEvent(s, ev({ ts: '2026-11-30T01:00:00.000Z', version: 'v2', reason: null }));
      saver.request();
      await saver.close();
      expect(readFileSync(path, 'utf8')).toBe(`${JSON.stringify(s)}\n`);
      saver.request(); // after close: nothing more
      await saver.flush();
      expect(readdirSync(dir)).toEqual(['state.json']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a failed save leaves the previous file whole and no temporary file, and reports the error', async () => {
    const dir = tmp();
    try {
      const path = join(dir, 'state.json');
      const s = stateWith(300);
      const errors: unknown[] = [];
      const saver = new StateSaver(path, s, (e) => errors.push(e));
      saver.request();
      await saver.flush();
      const before = readFileSync(path, 'utf8');
      // the rename fails: a directory now stands where the file goes
      rmSync(path);
      mkdirSync(path);
      writeFileSync(join(path, 'keep'), 'x');
      recordEvent(s, ev({ ts: '2026-11-30T00:00:00.000Z' }));
      saver.request();
      await saver.flush();
      expect(errors).toHaveLength(1);
      expect(readdirSync(dir)).toEqual(['state.json']);
      // back to a file: the next save works and holds the new event
      rmSync(path, { recursive: true });
      writeFileSync(path, before);
      saver.request();
      await saver.flush();
      expect(errors).toHaveLength(1);
      expect(readFileSync(path, 'utf8')).toBe(`${JSON.stringify(s)}\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
