import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emptyState, loadState, recordEvent, saveState, STATE_LIMITS, type DaemonState } from '../../src/sinks/state-store.js';
import { loadReportInput } from '../../src/readiness/inputs.js';
import { computeReadiness } from '../../src/readiness/readiness.js';
import { formatReadinessText } from '../../src/readiness/readiness-format.js';
import type { ImdsEvent } from '../../src/imds/event.js';
import { ev } from '../helpers/events.js';

/** docs/design.md#program-table: no bound of the program table drops an IMDSv1 call */
const proc = (exe: string, uid: number, user: string) => ({ pid: 4000, exe, cmdline: exe, uid, user, unit: uid === 0 ? 'cron.service' : 'session-3.scope', container: null, ancestors: [] });
const at = (i: number) => new Date(Date.parse('2026-11-28T10:00:00.000Z') + i * 100).toISOString();

/** an unprivileged user's 2 400 distinct executables (memfd copies), one token PUT each, then root's curl: 3 IMDSv1 calls */
function floodThenCurl(flooderVersion: 'token' | 'v1' = 'token'): ImdsEvent[] {
  const out: ImdsEvent[] = [];
  for (let i = 0; i < 2400; i++) {
    const token = flooderVersion === 'token';
    out.push(ev({ ts: at(i), version: flooderVersion, method: token ? 'PUT' : 'GET', path: token ? '/latest/api/token' : '/latest/meta-data/', reason: token ? null : 'no-token-attempt', process: proc(`/memfd:client-${i} (deleted)`, 1000, 'mallory'), attribution: 'gate' }));
  }
  for (let i = 0; i < 3; i++) out.push(ev({ ts: at(2400 + i), process: proc('/usr/bin/curl', 0, 'root'), attribution: 'gate' }));
  return out;
}

const opts = { minHours: 0, since: null, now: '2026-11-28T12:00:00.000Z' };

function observedState(events: ImdsEvent[]): DaemonState {
  const s = emptyState('web-1', 'boot-a');
  s.windows.push({ start: '2026-11-28T09:00:00.000Z', end: '2026-11-28T12:00:00.000Z', bootId: 'boot-a' });
  for (const e of events) recordEvent(s, e);
  return s;
}

describe('program-table overflow never drops IMDSv1 evidence', () => {
  it('over the state file: 2 400 programs of one user, then root curl IMDSv1 x3 → NOT READY naming curl', () => {
    const dir = mkdtempSync(join(tmpdir(), 'imdswatch-overflow-'));
    try {
      const path = join(dir, 'state.json');
      saveState(path, observedState(floodThenCurl()));
      const { state } = loadState(path, 'web-1', 'boot-a', opts.now, () => ({ name: 'web-1', instanceId: null }));
      const r = computeReadiness([{ host: 'web-1', state }], opts);
      expect(r.verdict).toBe('NOT READY');
      expect(r.findings.map((f) => f.exe)).toEqual(['/usr/bin/curl']);
      expect(r.findings[0].v1).toBe(3);
      expect(formatReadinessText(r)).toMatch(/1\. \/usr\/bin\/curl/);
      // the flood is aggregated with its counts, per uid
      const bucket = r.clean.find((f) => f.overflow);
      expect(bucket?.overflow?.owner).toBe('uid 1000');
      expect(r.totals.token).toBe(2400);
      expect(Object.keys(state.software).length).toBeLessThanOrEqual(STATE_LIMITS.maxSoftware);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('over the NDJSON event log: the same flood, then curl → NOT READY naming curl', () => {
    const dir = mkdtempSync(join(tmpdir(), 'imdswatch-overflow-'));
    try {
      const path = join(dir, 'web-1.ndjson');
      writeFileSync(path, floodThenCurl().map((e) => JSON.stringify({ level: 'info', kind: 'imds-request', host: { name: 'web-1', instanceId: null }, event: e })).join('\n') + '\n');
      const input = loadReportInput(path, null);
      const r = computeReadiness([input], opts);
      expect(r.verdict).toBe('NOT READY');
      expect(r.findings.map((f) => f.exe)).toEqual(['/usr/bin/curl']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a flood of distinct IMDSv1 callers: the ones past the share stay counted as a finding, NOT READY, named by uid', () => {
    const s = observedState(floodThenCurl('v1'));
    const r = computeReadiness([{ host: 'web-1', state: s }], opts);
    expect(r.verdict).toBe('NOT READY');
    expect(r.totals.v1).toBe(2403);
    expect(r.findings.find((f) => f.exe === '/usr/bin/curl')?.v1).toBe(3);
    const bucket = r.findings.find((f) => f.overflow);
    expect(bucket?.software).toBe('programs of uid 1000 past its share of the program table');
    expect(bucket?.v1).toBe(2400 - STATE_LIMITS.maxSoftwarePerOwner);
    expect(bucket?.overflow?.examples.length).toBeGreaterThan(0);
    expect(bucket?.fix).toMatch(/event log/);
    const text = formatReadinessText(r);
    expect(text).toMatch(/programs of uid 1000 past its share/);
    expect(text).toMatch(/programs: kept only as counts, e\.g\. \/memfd:client-/);
  });

  it("one uid cannot push other users' programs out: root's programs stay after the flood", () => {
    const before: ImdsEvent[] = [];
    for (let i = 0; i < 20; i++) before.push(ev({ version: 'v2', reason: null, process: proc(`/usr/local/bin/agent-${i}`, 0, 'root'), attribution: 'gate' }));
    const s = observedState([...before, ...floodThenCurl()]);
    const exes = Object.values(s.software).map((e) => e.exe);
    for (let i = 0; i < 20; i++) expect(exes).toContain(`/usr/local/bin/agent-${i}`);
    expect(exes.filter((e) => e?.startsWith('/memfd:')).length).toBe(STATE_LIMITS.maxSoftwarePerOwner);
  });

  it("an IMDSv1 caller of an owner at its share displaces one of the owner's programs that never used IMDSv1", () => {
    const events = floodThenCurl().slice(0, 2400);
    events.push(ev({ ts: at(3000), process: proc('/home/mallory/bin/legacy', 1000, 'mallory'), attribution: 'gate' }));
    const s = observedState(events);
    const r = computeReadiness([{ host: 'web-1', state: s }], opts);
    expect(r.findings.map((f) => f.exe)).toEqual(['/home/mallory/bin/legacy']);
    expect(s.overflow?.['uid 1000'].displaced).toBe(1);
    expect(Object.values(s.software).filter((e) => e.owner === 'uid 1000').length).toBe(STATE_LIMITS.maxSoftwarePerOwner);
  });

  it('memory stays bounded: many owners fill the table, the largest gives way, buckets are capped', () => {
    const events: ImdsEvent[] = [];
    for (let u = 0; u < 150; u++) for (let i = 0; i < 20; i++) events.push(ev({ version: 'v2', reason: null, process: proc(`/opt/u${u}/p${i}`, 2000 + u, `u${u}`), attribution: 'gate' }));
    events.push(ev({ process: proc('/usr/bin/curl', 0, 'root'), attribution: 'gate' }));
    const s = observedState(events);
    expect(Object.keys(s.software).length).toBeLessThanOrEqual(STATE_LIMITS.maxSoftware);
    expect(Object.keys(s.overflow ?? {}).length).toBeLessThanOrEqual(STATE_LIMITS.maxOverflowOwners + 1);
    expect(Object.values(s.software).some((e) => e.exe === '/usr/bin/curl')).toBe(true);
    const all = [...Object.values(s.software), ...Object.values(s.overflow ?? {})];
    expect(all.reduce((n, e) => n + e.v2, 0)).toBe(3000);
  });
});
