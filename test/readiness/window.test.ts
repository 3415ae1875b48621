import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadReportInput } from '../../src/readiness/inputs.js';
import { computeReadiness } from '../../src/readiness/readiness.js';
import { formatReadinessText } from '../../src/readiness/readiness-format.js';
import { emptyState, recordEvent, touchWindow } from '../../src/sinks/state-store.js';
import { webHostEvents, webHostLog } from './fixtures/make-web-1.js';
import { ev } from '../helpers/events.js';

const NOW = '2026-11-29T12:00:00.000Z';
const proc = (exe: string) => ({ pid: 7, exe, cmdline: exe, uid: 0, user: 'root', unit: 'app.service', container: null, ancestors: [] });

function fixtureFile(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'imdswatch-window-')), 'web-1.ndjson');
  writeFileSync(file, webHostLog());
  return file;
}

describe('--since windows every count (#11 item 4)', () => {
  it('event files: counts, first/last seen, totals and timeline are exactly the window', () => {
    const since = '2026-11-29T10:30:00.000Z';
    const r = computeReadiness([loadReportInput(fixtureFile(), since)], { minHours: 0, since, now: NOW });
    const inWindow = webHostEvents().filter((e) => e.ts >= since && e.userAgent !== 'imdswatch-doctor/1');
    expect(r.totals.v1).toBe(inWindow.filter((e) => e.version === 'v1').length);
    expect(r.totals.v2).toBe(inWindow.filter((e) => e.version === 'v2').length);
    expect(r.windowPrecision).toBe('exact');
    for (const f of [...r.findings, ...r.clean]) expect(f.firstSeen >= since).toBe(true);
    // root's and alice's cron jobs are findings of their own (docs/design.md#jobs)
    const cron = r.findings.filter((f) => f.unit === 'cron.service');
    expect(cron.map((f) => f.users.join()).sort()).toEqual(['alice', 'root']);
    expect(cron.reduce((n, f) => n + f.v1, 0)).toBe(inWindow.filter((e) => e.process?.unit === 'cron.service').length);
    // the ssh shell's two calls were the day before: not in the window
    expect(r.findings.find((f) => f.job?.kind === 'interactive')).toBeUndefined();
    expect(r.timeline.reduce((n, t) => n + t.v1, 0)).toBe(r.totals.v1);
    expect(r.hosts[0].v1).toBe(r.totals.v1);
  });

  it('a window after the last IMDSv1 call is no longer NOT READY (confirming a fix)', () => {
    const since = '2026-11-29T11:59:00.000Z';
    const r = computeReadiness([loadReportInput(fixtureFile(), since)], { minHours: 0, since, now: NOW });
    expect(r.totals.v1).toBe(0);
    expect(r.verdict).not.toBe('NOT READY');
  });

  it('under an hour, an event file charts per minute', () => {
    const since = '2026-11-29T11:20:00.000Z';
    const r = computeReadiness([loadReportInput(fixtureFile(), since)], { minHours: 0, since, now: NOW });
    expect(r.timelineStep).toBe('minute');
    expect(r.timeline.every((t) => /T11:\d\d:00Z$/.test(t.hour))).toBe(true);
  });

  it('state files answer to the hour from per-program hourly counts, and say so', () => {
    const s = emptyState('h', null);
    s.windows.push({ start: '2026-11-28T00:00:00.000Z', end: NOW, bootId: null });
    for (let i = 0; i < 5; i++) recordEvent(s, ev({ process: proc('/usr/bin/curl'), attribution: 'gate', ts: '2026-11-28T10:15:00.000Z' }));
    for (let i = 0; i < 2; i++) recordEvent(s, ev({ process: proc('/usr/bin/curl'), attribution: 'gate', ts: '2026-11-29T09:15:00.000Z' }));
    // a state from before the per-minute counts (docs/design.md#since-windows)
    for (const e of Object.values(s.software)) {
      delete e.minutes;
      delete e.minutesFrom;
    }
    const since = '2026-11-29T09:40:00.000Z';
    const r = computeReadiness([{ host: 'h', state: s }], { minHours: 0, since, now: NOW });
    expect(r.totals.v1).toBe(2); // the 09:00 hour counts whole
    expect(r.findings[0].v1).toBe(2);
    expect(r.findings[0].firstSeen).toBe('2026-11-29T09:00:00Z');
    expect(r.findings[0].lastSeen).toBe('2026-11-29T09:15:00.000Z');
    expect(r.windowPrecision).toBe('hour');
    expect(formatReadinessText(r)).toMatch(/counted to the hour/);
    const later = computeReadiness([{ host: 'h', state: s }], { minHours: 0, since: '2026-11-29T10:00:00.000Z', now: NOW });
    expect(later.totals.v1).toBe(0);
    expect(later.findings).toHaveLength(0);
  });
});

describe('--since over a state file, to the minute (docs/design.md#since-windows)', () => {
  function curlState() {
    const s = emptyState('h', null);
    s.windows.push({ start: '2026-11-28T00:00:00.000Z', end: NOW, bootId: null });
    for (let i = 0; i < 5; i++) recordEvent(s, ev({ process: proc('/usr/bin/curl'), attribution: 'gate', ts: '2026-11-28T10:15:00.000Z' }));
    for (let i = 0; i < 2; i++) recordEvent(s, ev({ process: proc('/usr/bin/curl'), attribution: 'gate', ts: '2026-11-29T09:15:20.000Z' }));
    return s;
  }

  it('a finding from 25 minutes before --since is not listed; one inside it is, with its exact first call', () => {
    const s = curlState();
    const after = computeReadiness([{ host: 'h', state: s }], { minHours: 0, since: '2026-11-29T09:40:00.000Z', now: NOW });
    expect(after.totals.v1).toBe(0);
    expect(after.findings).toHaveLength(0);
    expect(after.windowPrecision).toBe('minute');
    expect(formatReadinessText(after)).toMatch(/counted to the minute/);
    const inside = computeReadiness([{ host: 'h', state: s }], { minHours: 0, since: '2026-11-29T09:10:00.000Z', now: NOW });
    expect(inside.totals.v1).toBe(2);
    expect(inside.findings[0].firstSeen).toBe('2026-11-29T09:15:00Z');
    expect(inside.findings[0].lastSeen).toBe('2026-11-29T09:15:20.000Z');
  });

  it('past the minutes kept, the hour counts answer (and the report says so)', () => {
    const s = emptyState('h', null);
    s.windows.push({ start: '2026-11-28T00:00:00.000Z', end: NOW, bootId: null });
    const t0 = Date.parse('2026-11-29T06:00:00.000Z');
    for (let i = 0; i < 130; i++) recordEvent(s, ev({ process: proc('/usr/bin/curl'), attribution: 'gate', ts: new Date(t0 + i * 60_000).toISOString() }));
    const e = Object.values(s.software)[0];
    expect(Object.keys(e.minutes!)).toHaveLength(120);
    expect(e.minutesFrom).toBe('2026-11-29T06:10');
    const early = computeReadiness([{ host: 'h', state: s }], { minHours: 0, since: '2026-11-29T06:05:00.000Z', now: NOW });
    expect(early.windowPrecision).toBe('hour');
    expect(early.totals.v1).toBe(130);
    const late = computeReadiness([{ host: 'h', state: s }], { minHours: 0, since: '2026-11-29T08:00:00.000Z', now: NOW });
    expect(late.windowPrecision).toBe('minute');
    expect(late.totals.v1).toBe(10);
  });
});

describe('gaps in observation (#11)', () => {
  it('a stopped daemon between two windows is shown and keeps the verdict from READY', () => {
    const s = emptyState('h', null);
    s.windows.push({ start: '2026-11-27T00:00:00.000Z', end: '2026-11-28T00:00:00.000Z', bootId: null });
    s.windows.push({ start: '2026-11-28T03:00:00.000Z', end: NOW, bootId: null });
    recordEvent(s, ev({ version: 'v2', reason: null, process: proc('/usr/bin/aws'), attribution: 'gate' }));
    const r = computeReadiness([{ host: 'h', state: s }], { minHours: 24, since: null, now: NOW });
    expect(r.gaps).toHaveLength(1);
    expect(r.gaps[0]).toMatchObject({ start: '2026-11-28T00:00:00.000Z', end: '2026-11-28T03:00:00.000Z', hours: 3 });
    expect(r.verdict).toBe('UNKNOWN');
    expect(formatReadinessText(r)).toMatch(/Gaps in observation/);
    // a window after the gap is READY again
    expect(computeReadiness([{ host: 'h', state: s }], { minHours: 24, since: '2026-11-28T04:00:00.000Z', now: NOW }).verdict).toBe('READY');
  });

  it("the running daemon's own state that stopped being extended is a gap up to now", () => {
    const s = emptyState('h', null);
    touchWindow(s, '2026-11-27T00:00:00.000Z', true);
    touchWindow(s, '2026-11-29T06:00:00.000Z', false);
    const live = computeReadiness([{ host: 'h', state: s, live: true }], { minHours: 24, since: null, now: NOW });
    expect(live.gaps.map((g) => g.kind)).toEqual(['not-running']);
    expect(live.verdict).toBe('UNKNOWN');
    // a collected copy (not live) is judged on what it holds
    expect(computeReadiness([{ host: 'h', state: s }], { minHours: 24, since: null, now: NOW }).verdict).toBe('READY');
  });
});

describe('bad input (#11)', () => {
  it('odd field types in an event file are counted or normalised, never a crash', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'imdswatch-bad-')), 'odd.ndjson');
    const base = { ts: '2026-11-28T10:00:00.000Z', version: 'v1', client: { ip: '10.0.0.1', port: 1 } };
    const lines = [
      { ...base, process: { exe: 5, cmdline: ['a'], ancestors: { x: 1 }, container: 'docker', user: 7 } },
      { ...base, process: { exe: '/usr/bin/python3', cmdline: 'python3 /x.py', ancestors: [null, 3, { comm: 5, exe: '/bin/sh', cmdline: 9 }], container: { pod: 'p' } } },
      { ...base, process: 'curl', path: 42, method: null },
      { event: { ...base, version: 'v9' } },
      'not json',
    ].map((l) => (typeof l === 'string' ? l : JSON.stringify(l)));
    writeFileSync(file, `${lines.join('\n')}\n`);
    const input = loadReportInput(file);
    expect(input.skippedLines).toBe(2);
    const r = computeReadiness([input], { minHours: 0, since: null, now: NOW });
    expect(r.totals.v1).toBe(3);
    expect(r.findings.find((f) => f.exe === '/usr/bin/python3')!.scripts).toEqual(['/x.py']);
    expect(() => formatReadinessText(r)).not.toThrow();
  });
});

describe('the daemon log as a report input (docs/design.md#since-windows)', () => {
  it("the daemon's own lines (start, loss, metrics) are not reported as skipped; a broken line still is", async () => {
    const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'imdswatch-daemonlog-'));
    try {
      const path = join(dir, 'events.log');
      const line = (o: object) => JSON.stringify({ level: 'info', time: '2026-11-29T11:00:00.000Z', app: 'imdswatch', ...o });
      const e = ev({ process: proc('/usr/bin/curl'), attribution: 'gate', ts: '2026-11-29T11:00:01.000Z' });
      writeFileSync(
        path,
        [
          line({ kind: 'daemon', msg: 'capturing on eth0 with the SYN gate' }),
          line({ kind: 'metrics', port: 16954, msg: 'metrics on http://127.0.0.1:16954/metrics' }),
          line({ kind: 'imds-request', host: { name: 'web-1', instanceId: null }, event: e, msg: 'IMDSv1 GET' }),
          line({ kind: 'capture', missedSyns: 0, msg: 'x' }),
          line({ kind: 'daemon', signal: 'SIGTERM', msg: 'stopping' }),
        ].join('\n') + '\n',
      );
      const input = loadReportInput(path);
      expect(input.skippedLines).toBe(0);
      expect(input.daemonLines).toBe(4);
      expect(input.state.software[Object.keys(input.state.software)[0]].v1).toBe(1);
      // with no loss line the log is READY material; a loss line makes it UNKNOWN, as the state would be
      expect(computeReadiness([input], { minHours: 0, since: null, now: NOW }).verdict).toBe('NOT READY');
      const clean = [line({ kind: 'daemon', msg: 'capturing' }), line({ kind: 'imds-request', event: { ...e, version: 'v2', reason: null }, msg: 'IMDSv2' })];
      writeFileSync(path, clean.join('\n') + '\n');
      expect(computeReadiness([loadReportInput(path)], { minHours: 0, since: null, now: NOW }).verdict).toBe('READY');
      writeFileSync(path, [...clean, line({ level: 'error', kind: 'capture', missedSyns: 3, msg: 'the capture missed connections' })].join('\n') + '\n');
      const lossy = computeReadiness([loadReportInput(path)], { minHours: 0, since: null, now: NOW });
      expect(lossy.verdict).toBe('UNKNOWN');
      expect(lossy.why.join(' ')).toMatch(/dropped 3 packet/);
      writeFileSync(path, `${line({ kind: 'imds-request', event: { ts: 'yesterday' } })}\nnot json\n`);
      expect(loadReportInput(path).skippedLines).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
