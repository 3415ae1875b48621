import { describe, expect, it } from 'vitest';
import { computeReadiness } from '../../src/readiness/readiness.js';
import { formatReadinessMarkdown, formatReadinessText } from '../../src/readiness/readiness-format.js';
import { formatReadinessHtml } from '../../src/readiness/readiness-html.js';
import { emptyState, openWindow, parseState, touchWindow } from '../../src/ledger/ledger.js';
import { bootState, EARLY_MAKER, NOW } from './fixtures/boots.js';

/** docs/design.md#observation-gaps: boots, restarts and IMDS connections made before imdswatch watched */
const opts = { minHours: 24, since: null, now: NOW };
const all = (r: ReturnType<typeof computeReadiness>) => ({ text: formatReadinessText(r), md: formatReadinessMarkdown(r), html: formatReadinessHtml(r), json: JSON.stringify(r) });

describe('boots and restarts are gaps whatever their length', () => {
  it('a boot not watched from its start (20 s) keeps the verdict from READY; "2 of 4 boots watched from their start"', () => {
    const r = computeReadiness([{ host: 'web-1', state: bootState([{ fromBoot: false }, { fromBoot: false }, { fromBoot: true }, { fromBoot: true }]) }], opts);
    expect(r.verdict).toBe('UNKNOWN');
    expect(r.boots).toEqual({ total: 4, watchedFromStart: 2 });
    expect(r.gaps.filter((g) => g.kind === 'boot')).toHaveLength(3);
    expect(r.gaps.filter((g) => g.kind === 'boot' && !g.accounted)).toHaveLength(1);
    expect(r.why.join(' ')).toMatch(/1 gap\(s\) in observation .*1 boot\(s\) not watched from their start/);
    const o = all(r);
    expect(o.text).toMatch(/2 of 4 boot\(s\) watched from their start/);
    expect(o.text).toMatch(/20 s, boot: from the kernel's start to imdswatch watching; not watched/);
    expect(o.md).toMatch(/Boots: 2 of 4 boot\(s\) watched from their start/);
    expect(o.html).toMatch(/2 of 4 boot\(s\) watched from their start/);
    expect(o.html).not.toMatch(/no gap in observation/);
    expect(JSON.parse(o.json).boots).toEqual({ total: 4, watchedFromStart: 2 });
  });

  it('every boot watched from its start: READY, the reboots still listed as counted gaps', () => {
    const r = computeReadiness([{ host: 'web-1', state: bootState([{ fromBoot: true }, { fromBoot: true }, { fromBoot: true }, { fromBoot: true }]) }], opts);
    expect(r.verdict).toBe('READY');
    expect(r.gaps.map((g) => [g.kind, g.accounted])).toEqual([['boot', true], ['boot', true], ['boot', true]]);
    const o = all(r);
    expect(o.text).toMatch(/4 of 4 boot\(s\) watched from their start/);
    expect(o.text).toMatch(/every IMDS connection in it was counted by the early rule/);
  });

  it('a daemon restart of 2 s is a gap', () => {
    const r = computeReadiness([{ host: 'web-1', state: bootState([{ fromBoot: true }, { fromBoot: true, restartMs: 2000 }, { fromBoot: true }]) }], { ...opts, now: NOW });
    expect(r.gaps.filter((g) => g.kind === 'restart')).toHaveLength(1);
    expect(r.verdict).toBe('UNKNOWN');
    expect(r.why.join(' ')).toMatch(/1 daemon restart\(s\)/);
    expect(formatReadinessText(r)).toMatch(/2\.0 s, daemon restart; not watched/);
  });

  it('an older state (no startKind): boot ids tell the boots; a 50 s reboot is listed and holds READY back', () => {
    const r = computeReadiness([{ host: 'web-1', state: bootState([{ fields: false }, { fields: false }, { fields: false }, { fields: false }]) }], opts);
    expect(r.boots).toEqual({ total: 4, watchedFromStart: 0 });
    expect(r.gaps.filter((g) => g.kind === 'boot')).toHaveLength(3);
    expect(r.verdict).toBe('UNKNOWN');
    expect(formatReadinessText(r)).toMatch(/50 s, reboot: from the daemon's last record to imdswatch watching \(the boot's start is not known\); not watched/);
  });
});

describe('IMDS connections made before imdswatch watched', () => {
  const unwatched = { count: 2, makers: [EARLY_MAKER], source: 'early-rule' };

  it('keep the verdict from READY (UNKNOWN) and are named with uid, pid, exe and unit in every format', () => {
    const r = computeReadiness([{ host: 'web-1', state: bootState([{ fromBoot: true }, { fromBoot: true }, { fromBoot: true, unwatched }, { fromBoot: true }]) }], opts);
    expect(r.verdict).toBe('UNKNOWN');
    expect(r.why.join(' ')).toMatch(/2 IMDS connection\(s\) were made before imdswatch watched .*may have been IMDSv1 calls; made by uid 0, pid 312, \/usr\/local\/bin\/early-fetch \[early-fetch\.service\] and 1 more not named \(counted by early-rule\)/);
    const o = all(r);
    for (const out of [o.text, o.md, o.html]) {
      expect(out).toMatch(/early-fetch\.service/);
      expect(out).toMatch(/pid 312/);
    }
    expect(o.text).toMatch(/IMDS connections made before imdswatch watched/);
    expect(o.md).toMatch(/## IMDS connections made before imdswatch watched/);
    expect(JSON.parse(o.json).unwatched[0]).toMatchObject({ host: 'web-1', count: 2, source: 'early-rule', makers: [{ uid: 0, pid: 312, unit: 'early-fetch.service' }] });
    expect(r.hosts[0].unwatched).toBe(2);
  });

  it('with IMDSv1 calls seen as well the verdict is NOT READY and the connections are still listed', async () => {
    const { recordEvent } = await import('../../src/ledger/ledger.js');
    const { ev } = await import('../helpers/events.js');
    const s = bootState([{ fromBoot: true }, { fromBoot: true, unwatched }]);
    recordEvent(s, ev({ ts: s.windows[1].start, process: { pid: 5, exe: '/usr/bin/curl', cmdline: 'curl', uid: 0, user: 'root', unit: 'x.service', container: null, ancestors: [] }, attribution: 'gate' }));
    const r = computeReadiness([{ host: 'web-1', state: s }], { ...opts, minHours: 0 });
    expect(r.verdict).toBe('NOT READY');
    expect(r.unwatched).toHaveLength(1);
    expect(formatReadinessText(r)).toMatch(/early-fetch/);
  });

  it('outside the --since window they no longer count', () => {
    const s = bootState([{ fromBoot: true, unwatched }, { fromBoot: true }, { fromBoot: true }]);
    const r = computeReadiness([{ host: 'web-1', state: s }], { minHours: 1, since: s.windows[1].start, now: s.windows[2].end });
    expect(r.unwatched).toHaveLength(0);
    expect(r.verdict).toBe('READY');
  });

  it('a fleet: the host with unwatched connections is UNKNOWN, named in the why', () => {
    const a = bootState([{ fromBoot: true }, { fromBoot: true, unwatched }]);
    const b = bootState([{ fromBoot: true }, { fromBoot: true }]);
    const r = computeReadiness([{ host: 'a', state: a }, { host: 'b', state: b }], { ...opts, minHours: 1 });
    expect(r.hosts.find((h) => h.name === 'a')?.verdict).toBe('UNKNOWN');
    expect(r.hosts.find((h) => h.name === 'b')?.verdict).toBe('READY');
    expect(formatReadinessText(r)).toMatch(/a: .*IMDS connection\(s\) were made before imdswatch watched/);
  });
});

describe('opening a window (the daemon start-up calls it)', () => {
  it('takes startKind, bootStart, fromBoot and unwatched; without startKind tells boot from restart by the boot id', () => {
    const s = emptyState('h', 'boot-a');
    const w1 = openWindow(s, '2026-11-28T00:00:20.000Z', { bootStart: '2026-11-28T00:00:00.000Z', fromBoot: true, unwatched: { count: 1, makers: [EARLY_MAKER], source: 'early-rule' } });
    expect(w1).toMatchObject({ startKind: 'boot', bootStart: '2026-11-28T00:00:00.000Z', fromBoot: true, bootId: 'boot-a' });
    touchWindow(s, '2026-11-28T01:00:00.000Z', false);
    touchWindow(s, '2026-11-28T01:00:02.000Z', true);
    expect(s.windows[1].startKind).toBe('restart');
    const back = parseState(JSON.stringify(s))!;
    expect(back.windows[0].unwatched?.makers[0]).toEqual(EARLY_MAKER);
    expect(back.windows[1].startKind).toBe('restart');
  });

  it('a state with window fields of the wrong type still loads (the fields are dropped)', () => {
    const s = parseState(JSON.stringify({ format: 'imdswatch-state/1', host: 'h', software: {}, windows: [{ start: '2026-11-28T00:00:00Z', end: '2026-11-28T01:00:00Z', bootId: 'x', startKind: 'reboot', bootStart: 5, fromBoot: 'yes', unwatched: { count: 'many' } }] }))!;
    expect(s.windows[0]).toEqual({ start: '2026-11-28T00:00:00Z', end: '2026-11-28T01:00:00Z', bootId: 'x' });
  });
});
