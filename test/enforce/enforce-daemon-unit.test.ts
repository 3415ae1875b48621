import { describe, expect, it } from 'vitest';
import { parseEnforceSetting } from '../../src/enforce/daemon-setting.js';
import { OwnerHints } from '../../src/enforce/owner-hints.js';
import { resolveDaemonConfig } from '../../src/cli/daemon-config.js';
import { enforceAccount, enforceCameIntoEffect, enforceEntry, enforceListed, enforceNotInEffect, foldEnforceCall } from '../../src/ledger/enforce-ledger.js';
import { notRunningWhy } from '../../src/enforce/workload-watch.js';
import { enforceLinesOf, enforceLineText } from '../../src/readiness/enforce-lines.js';
import type { ImdsEvent, ProcessInfo } from '../../src/imds/event.js';

/** The daemon's enforce setting, owner hints and report lines, without root (docs/design.md#enforce). */
describe('enforce setting', () => {
  it('reads objects from the config file and words from the environment and flags', () => {
    expect(parseEnforceSetting([{ unit: 'app.service' }, { container: 'web', dryRun: true }])).toEqual([
      { kind: 'unit', name: 'app.service', dryRun: false },
      { kind: 'container', name: 'web', dryRun: true },
    ]);
    expect(parseEnforceSetting('unit:app.service, dry-run:cgroup:/lab/a')).toEqual([
      { kind: 'unit', name: 'app.service', dryRun: false },
      { kind: 'cgroup', name: '/lab/a', dryRun: true },
    ]);
    expect(parseEnforceSetting('off')).toEqual([]);
    for (const bad of ['app.service', 'pod:x', [{ unit: 'a', container: 'b' }], [{ unit: 'a', dry: true }], [{ unit: '' }]]) expect(parseEnforceSetting(bad)).toBeUndefined();
    expect(resolveDaemonConfig({ enforce: ['dry-run:unit:x'] }, { IMDSWATCH_ENFORCE: 'unit:y' }, undefined).enforce).toEqual([{ kind: 'unit', name: 'x', dryRun: true }]);
    expect(() => resolveDaemonConfig({}, { IMDSWATCH_ENFORCE: 'x' }, undefined)).toThrow(/IMDSWATCH_ENFORCE: enforce takes workloads/);
  });
});

describe('owner hints', () => {
  const proc = { pid: 42, exe: '/usr/bin/curl' } as ProcessInfo;
  const ev = (ip: string, port: number, server = '169.254.169.254') => ({ client: { ip, port }, server: { ip: server, port: 80 }, process: { pid: 1, exe: '/usr/bin/node' }, attribution: 'gate' }) as unknown as ImdsEvent;
  it('gives a passed-on call back to the workload process, and nothing else', () => {
    const h = new OwnerHints(1_000, 2);
    h.add({ family: 4, localIp: '::ffff:10.0.0.5', localPort: 5000, workload: 'unit:a.service', process: proc }, 0);
    expect(h.apply(ev('10.0.0.5', 5000), 10)).toMatchObject({ process: { pid: 42 }, attribution: 'passive' });
    expect(h.apply(ev('10.0.0.5', 5001), 10).process?.pid).toBe(1);
    expect(h.apply(ev('10.0.0.5', 5000, '10.9.9.9'), 10).process?.pid).toBe(1);
    expect(h.apply(ev('10.0.0.5', 5000), 5_000).process?.pid).toBe(1); // expired
    h.add({ family: 6, localIp: 'fd00:ec2:0:0::1', localPort: 1, workload: 'w', process: null }, 0);
    expect(h.apply(ev('fd00:ec2::1', 1, 'fd00:ec2::254'), 1)).toMatchObject({ process: null, attribution: 'none' });
  });
});

describe('report lines', () => {
  it('rejected and would-break per workload, with the marks', () => {
    const state = {};
    enforceEntry(state, 'unit:a.service', '/system.slice/a.service', false, '2026-01-01T00:00:00Z');
    foldEnforceCall(state, { workload: 'unit:a.service', verdict: 'rejected', time: '2026-01-01T00:01:00Z', method: 'GET', path: '/latest/meta-data/', exe: '/usr/bin/curl' });
    foldEnforceCall(state, { workload: 'cgroup:/b', verdict: 'would-reject', time: '2026-01-01T00:02:00Z', method: 'HEAD', path: '/', exe: null });
    const lines = enforceLinesOf(state, 'h', null).map((l) => enforceLineText(l, (s) => s, false));
    expect(lines[0]).toMatch(/^unit:a\.service: 1 token-less call\(s\) rejected by imdswatch enforce: GET \/latest\/meta-data\/ by \/usr\/bin\/curl; 0 passed/);
    expect(lines[1]).toMatch(/^cgroup:\/b \(dry run\): would break — 1 token-less call\(s\) would be rejected by imdswatch enforce: HEAD \/ by unknown process/);
    expect(enforceLinesOf(state, 'h', '2026-01-01T00:01:30Z').map((l) => l.workload)).toEqual(['cgroup:/b']);
    expect(enforceLinesOf({ enforce: { x: { workload: 1 } } } as never, 'h', null)).toEqual([]);
  });
});

describe('report lines: listed but not in effect (docs/design.md#enforce-in-effect)', () => {
  const text = (state: object) => enforceLinesOf(state, 'h', null).map((l) => enforceLineText(l, (s) => s, false));
  it('a workload never in effect is "not enforced", never ready', () => {
    const state = {};
    enforceListed(state, 'unit:x.service', false, '2026-01-01T00:00:00.000Z');
    enforceNotInEffect(state, 'unit:x.service', '2026-01-01T00:00:00.000Z', notRunningWhy({ kind: 'unit', name: 'x' }));
    enforceAccount(state, 'unit:x.service', false, 60_000, '2026-01-01T00:01:00.000Z');
    expect(text(state)).toEqual(['unit:x.service: not enforced: unit x.service was not running (listed 2026-01-01T00:00:00.000Z to 2026-01-01T00:01:00.000Z, never in effect: its calls were not checked)']);
  });
  it('a workload in effect for part of the time says since when, and for how long it was not', () => {
    const state = {};
    enforceListed(state, 'cgroup:/a', false, '2026-01-01T00:00:00.000Z');
    enforceNotInEffect(state, 'cgroup:/a', '2026-01-01T00:00:00.000Z', 'cgroup /a was not found');
    enforceAccount(state, 'cgroup:/a', false, 30_000, '2026-01-01T00:00:30.000Z');
    enforceCameIntoEffect(state, 'cgroup:/a', '/a', '2026-01-01T00:00:30.000Z');
    enforceAccount(state, 'cgroup:/a', true, 90_000, '2026-01-01T00:02:00.000Z');
    const [line] = text(state);
    expect(line).toContain('cgroup:/a: no token-less call while in effect; 0 passed; enforced since 2026-01-01T00:00:30.000Z; in effect 1.5 min; not in effect for 30 s of the time listed (last: cgroup /a was not found): calls then were not checked');
    expect(line).not.toContain('ready');
  });
  it('a state written before these fields reads as in effect whenever listed', () => {
    const state = {};
    enforceEntry(state, 'cgroup:/b', '/b', true, '2026-01-01T00:00:00.000Z');
    enforceEntry(state, 'cgroup:/b', '/b', true, '2026-01-01T00:00:10.000Z');
    expect(text(state)[0]).toBe('cgroup:/b (dry run): no token-less call (ready for HttpTokens=required); 0 passed; dry run from 2026-01-01T00:00:00.000Z to 2026-01-01T00:00:10.000Z; in effect 10 s; listed 2026-01-01T00:00:00.000Z to 2026-01-01T00:00:10.000Z');
  });
});
