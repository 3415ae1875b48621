import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emptyState, loadState, recordEvent, saveState, STATE_LIMITS, touchWindow } from '../../src/sinks/state-store.js';
import { ev } from '../helpers/events.js';

const proc = (exe: string, pid = 42) => ({ pid, exe, cmdline: exe, uid: 0, user: 'root', unit: 'x.service', container: null, ancestors: [] });

describe('state store', () => {
  it('folds events per software, with counts, paths, reasons and an hourly timeline', () => {
    const s = emptyState('h1', null);
    recordEvent(s, ev({ process: proc('/usr/bin/curl'), attribution: 'gate' }));
    recordEvent(s, ev({ process: proc('/usr/bin/curl'), attribution: 'gate', path: '/latest/user-data', ts: '2026-11-28T11:30:00.000000Z', status: 401 }));
    recordEvent(s, ev({ version: 'v2', reason: null, process: proc('/usr/bin/python3'), attribution: 'gate' }));
    const entries = Object.values(s.software);
    expect(entries).toHaveLength(2);
    const curl = entries.find((e) => e.exe === '/usr/bin/curl')!;
    expect(curl.v1).toBe(2);
    expect(curl.v1Rejected).toBe(1);
    expect(curl.v1Paths).toEqual(['/latest/meta-data/', '/latest/user-data']);
    expect(curl.reasons['no-token-attempt']).toBe(2);
    expect(curl.lastSeen).toBe('2026-11-28T11:30:00.000000Z');
    expect(s.hourly['2026-11-28T10:00:00Z']).toEqual({ v1: 1, v2: 1, token: 0 });
    expect(s.hourly['2026-11-28T11:00:00Z']).toEqual({ v1: 1, v2: 0, token: 0 });
  });

  it('caps the number of software entries per owner; the calls past it are counted in the owner\'s bucket, not dropped', () => {
    const s = emptyState('h1', null);
    const n = STATE_LIMITS.maxSoftware + 5;
    for (let i = 0; i < n; i++) recordEvent(s, ev({ process: proc(`/bin/p${i}`), attribution: 'gate' }));
    expect(Object.keys(s.software)).toHaveLength(STATE_LIMITS.maxSoftwarePerOwner);
    expect(s.softwareOverflow).toBe(n - STATE_LIMITS.maxSoftwarePerOwner);
    expect(s.overflow?.['uid 0'].v1).toBe(n - STATE_LIMITS.maxSoftwarePerOwner);
  });

  it('saves atomically with mode 0600 and loads back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'imdswatch-state-'));
    const path = join(dir, 'sub', 'state.json');
    const s = emptyState('h1', 'boot-a');
    touchWindow(s, '2026-11-28T10:00:00Z', true);
    recordEvent(s, ev());
    saveState(path, s);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(dir, 'sub'))).toEqual(['state.json']);
    const back = loadState(path, 'h1', 'boot-b', '2026-11-28T12:00:00Z');
    expect(back.note).toBeNull();
    expect(back.state.software).toEqual(s.software);
    expect(back.state.bootId).toBe('boot-b');
  });

  it('moves a corrupt state file aside and starts again', () => {
    const dir = mkdtempSync(join(tmpdir(), 'imdswatch-state-'));
    const path = join(dir, 'state.json');
    writeFileSync(path, '{"format":"imdswatch-state/1", "software": {tru');
    const r = loadState(path, 'h1', null, '2026-11-28T12:00:00.000Z');
    expect(r.note).toMatch(/corrupt; moved to .*state\.json\.corrupt-/);
    expect(Object.keys(r.state.software)).toHaveLength(0);
    const files = readdirSync(dir);
    expect(files.some((f) => f.startsWith('state.json.corrupt-'))).toBe(true);
    expect(readFileSync(join(dir, files.find((f) => f.startsWith('state.json.corrupt-'))!), 'utf8')).toContain('{tru');
  });
});

describe('state of the wrong shape (#11)', () => {
  it('drops malformed entries and windows instead of crashing the report', async () => {
    const { parseState } = await import('../../src/sinks/state-store.js');
    const { computeReadiness } = await import('../../src/readiness/readiness.js');
    const s = parseState(
      JSON.stringify({
        format: 'imdswatch-state/1',
        host: 'h',
        windows: [{ start: '2026-11-28T00:00:00Z', end: '2026-11-29T00:00:00Z' }, null, { start: 3 }],
        software: {
          a: { exe: '/a', v1: 2, v2: 0, token: 0, v1Rejected: 0, firstSeen: '2026-11-28T01:00:00Z', lastSeen: '2026-11-28T02:00:00Z', v1Paths: 'x', reasons: null, commands: 'y', hours: 5 },
          b: { exe: '/b', v1: 'many' },
          c: null,
        },
      }),
    )!;
    expect(Object.keys(s.software)).toEqual(['a']);
    expect(s.windows).toHaveLength(1);
    const r = computeReadiness([{ host: 'h', state: s }], { minHours: 0, since: '2026-11-28T00:30:00Z', now: '2026-11-29T00:00:00Z' });
    expect(r.totals.v1).toBe(2);
  });
});
