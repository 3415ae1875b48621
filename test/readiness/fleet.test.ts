import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { computeReadiness } from '../../src/readiness/readiness.js';
import { formatReadinessMarkdown, formatReadinessText } from '../../src/readiness/readiness-format.js';
import { formatReadinessHtml } from '../../src/readiness/readiness-html.js';
import { instanceIdFromAssetTag, readHostIdentity } from '../../src/readiness/host-identity.js';
import { loadReportInput } from '../../src/readiness/inputs.js';
import { emptyState, loadState, recordEvent } from '../../src/sinks/state-store.js';
import { EventLog } from '../../src/sinks/event-log.js';
import { ev } from '../helpers/events.js';

const NOW = '2026-11-30T00:00:00.000Z';
const proc = (exe: string) => ({ pid: 7, exe, cmdline: exe, uid: 0, user: 'root', unit: 'app.service', container: null, ancestors: [] });

function host(name: string, v1: number, hours = 48, instanceId: string | null = null) {
  const s = emptyState(name, null);
  s.instanceId = instanceId;
  s.windows.push({ start: new Date(Date.parse(NOW) - hours * 3600_000).toISOString(), end: NOW, bootId: null });
  for (let i = 0; i < v1; i++) recordEvent(s, ev({ process: proc('/usr/bin/curl'), attribution: 'gate', ts: '2026-11-29T10:00:00.000Z' }));
  recordEvent(s, ev({ version: 'v2', reason: null, process: proc('/usr/bin/aws'), attribution: 'gate', ts: '2026-11-29T10:00:00.000Z' }));
  return { host: name, state: s };
}

describe('fleet report: every host its own verdict (#11)', () => {
  it('gives hosts [{name, instanceId, verdict, observedHours, observedSince, v1, v1Rejected}] and derives the fleet verdict', () => {
    const r = computeReadiness([host('a', 3, 48, 'i-0123456789abcdef0'), host('b', 0, 48), host('c', 0, 2)], { minHours: 24, since: null, now: NOW });
    expect(r.hosts.map((h) => [h.name, h.instanceId, h.verdict, h.v1])).toEqual([
      ['a', 'i-0123456789abcdef0', 'NOT READY', 3],
      ['b', null, 'READY', 0],
      ['c', null, 'UNKNOWN', 0],
    ]);
    for (const h of r.hosts) expect(Object.keys(h)).toEqual(expect.arrayContaining(['name', 'instanceId', 'verdict', 'observedHours', 'observedSince', 'v1', 'v1Rejected']));
    expect(r.hosts[0].observedHours).toBeCloseTo(48);
    expect(r.verdict).toBe('NOT READY');
    expect(r.why[0]).toMatch(/1 of 3 host\(s\) NOT READY/);
    expect(computeReadiness([host('b', 0), host('d', 0)], { minHours: 24, since: null, now: NOW }).verdict).toBe('READY');
    expect(computeReadiness([host('b', 0), host('c', 0, 2)], { minHours: 24, since: null, now: NOW }).verdict).toBe('UNKNOWN');
    for (const out of [formatReadinessText(r), formatReadinessMarkdown(r), formatReadinessHtml(r)]) {
      expect(out).toContain('i-0123456789abcdef0');
      // an UNKNOWN host says why
      expect(out).toMatch(/c: observed 2\.0 h, less than the 24 h/);
    }
  });

  it('500 hosts stay a readable table: one row per host, no long line', () => {
    const hosts = Array.from({ length: 500 }, (_, i) => host(`ip-10-0-${Math.floor(i / 250)}-${i % 250}.eu-west-1.compute.internal`, i % 7 === 0 ? 1 : 0, 48, `i-${(1e16 + i).toString(16).padStart(17, '0')}`));
    const text = formatReadinessText(computeReadiness(hosts, { minHours: 24, since: null, now: NOW }));
    const lines = text.split('\n');
    expect(Math.max(...lines.filter((l) => !/^\s+fix:/.test(l)).map((l) => l.length))).toBeLessThan(200);
    expect(lines.filter((l) => /^\s+ip-10-0-\S+\s+i-[0-9a-f]{17}\s+(READY|NOT READY|UNKNOWN)\s/.test(l))).toHaveLength(500);
    // NOT READY hosts come first
    expect(lines.find((l) => /^\s+ip-10-0-/.test(l))).toMatch(/NOT READY/);
    expect(text).toMatch(/hosts \(72\): .* and 69 more/);
  });
});

describe('host identity on events and state (#11)', () => {
  it('reads the instance id from the DMI board asset tag only when it is one', () => {
    expect(instanceIdFromAssetTag('i-0a1b2c3d4e5f60718\n')).toBe('i-0a1b2c3d4e5f60718');
    expect(instanceIdFromAssetTag('i-12345678')).toBe('i-12345678');
    expect(instanceIdFromAssetTag('Default string')).toBeNull();
    expect(instanceIdFromAssetTag(null)).toBeNull();
    const dir = mkdtempSync(join(tmpdir(), 'imdswatch-dmi-'));
    writeFileSync(join(dir, 'board_asset_tag'), 'i-0a1b2c3d4e5f60718\n');
    expect(readHostIdentity(join(dir, 'board_asset_tag'), 'web-1')).toEqual({ name: 'web-1', instanceId: 'i-0a1b2c3d4e5f60718' });
    expect(readHostIdentity(join(dir, 'absent'), 'web-1')).toEqual({ name: 'web-1', instanceId: null });
  });

  it('every daemon log line of an event carries host {name, instanceId}; report reads it back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'imdswatch-evlog-'));
    const file = join(dir, 'imdswatch.log');
    const log = new EventLog({ file, maxBytes: 1e6, maxFiles: 2, stdout: false, host: { name: 'db-7', instanceId: 'i-0123456789abcdef0' } });
    log.event(ev({ process: proc('/usr/bin/curl'), attribution: 'gate' }));
    log.event(ev({ version: 'v2', reason: null, process: proc('/usr/bin/aws'), attribution: 'gate' }));
    log.close();
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l.host).toEqual({ name: 'db-7', instanceId: 'i-0123456789abcdef0' });
    const r = computeReadiness([loadReportInput(file)], { minHours: 0, since: null, now: NOW });
    expect(r.hosts[0]).toMatchObject({ name: 'db-7', instanceId: 'i-0123456789abcdef0', v1: 1 });
  });

  it('the state records the instance id when loaded by the daemon', () => {
    const dir = mkdtempSync(join(tmpdir(), 'imdswatch-state-'));
    const { state } = loadState(join(dir, 'state.json'), 'web-1', null, NOW, () => ({ name: 'web-1', instanceId: 'i-0123456789abcdef0' }));
    expect([state.host, state.instanceId]).toEqual(['web-1', 'i-0123456789abcdef0']);
  });
});
