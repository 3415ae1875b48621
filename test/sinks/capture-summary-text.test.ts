import { describe, expect, it } from 'vitest';
import { CaptureSummaryBuilder } from '../../src/sinks/capture-summary.js';
import { formatCaptureSummaryText } from '../../src/sinks/capture-summary-text.js';
import type { ImdsEvent, ProcessInfo } from '../../src/imds/event.js';

function v1(port: number, proc: ProcessInfo | null): ImdsEvent {
  return {
    ts: `2026-12-01T10:00:0${port % 10}.000000Z`,
    version: 'v1',
    method: 'GET',
    path: '/latest/meta-data/instance-id',
    status: 200,
    client: { ip: '10.0.0.5', port },
    userAgent: 'curl/7.88.1',
    sdk: null,
    process: proc,
    attribution: proc ? 'gate' : 'none',
    reason: 'no-token-attempt',
  } as ImdsEvent;
}

const curl: ProcessInfo = { pid: 4242, exe: '/usr/bin/curl', cmdline: 'curl', uid: 0, user: 'root', unit: 'cron.service', container: null, ancestors: [] };
const input = { sources: ['live'], packets: 10, imdsSegments: 10, skipped: {}, unclassified: 0, errors: [] };

describe('text report', () => {
  // issue #11 item 1: `scan` crashed ("reading 'length'") when some v1 calls had a pid and some not
  it('lists attributed and unattributed IMDSv1 calls in one table', () => {
    const b = new CaptureSummaryBuilder();
    b.add(v1(40001, curl));
    b.add(v1(40002, null));
    const text = formatCaptureSummaryText(b.build(), input);
    const lines = text.split('\n');
    const withPid = lines.find((l) => l.includes('40001'));
    const without = lines.find((l) => l.includes('40002'));
    expect(withPid).toContain('4242 /usr/bin/curl');
    expect(without).toBeDefined();
    // the unattributed row keeps the columns: its path sits under the same header column
    const header = lines.find((l) => /\btime\b.*\bprocess\b.*\bpath\b/.test(l))!;
    expect(header).toBeDefined();
    expect(without!.indexOf('/latest/meta-data/instance-id')).toBe(header.indexOf('path'));
    expect(withPid!.indexOf('/latest/meta-data/instance-id')).toBe(header.indexOf('path'));
  });
});

describe('scan/replay summary parity with report (#11, #10 item 4)', () => {
  const inContainer = (name: string, exe: string): ProcessInfo => ({
    pid: 77,
    exe,
    cmdline: `${exe} /app/main.py`,
    uid: 0,
    user: 'root',
    unit: `docker-${name}.scope`,
    container: { runtime: 'docker', id: `${name}0123456789`, name },
    ancestors: [],
  });

  it('shows a container column, the same findings and fix lines as report, and its verdict', async () => {
    const { computeReadiness } = await import('../../src/readiness/readiness.js');
    const { findingLines } = await import('../../src/readiness/readiness-format.js');
    const { emptyState, recordEvent } = await import('../../src/sinks/state-store.js');
    const b = new CaptureSummaryBuilder();
    const s = emptyState('-', null);
    const evs = [v1(40001, inContainer('web', '/usr/bin/python3.11')), v1(40002, inContainer('billing', '/usr/local/bin/node')), v1(40003, curl), v1(40004, null)];
    for (const e of evs) {
      b.add(e);
      recordEvent(s, e);
    }
    const built = b.build();
    const text = formatCaptureSummaryText(built, input);
    const header = text.split('\n').find((l) => /^\s+client\s/.test(l))!;
    expect(header).toMatch(/\bcontainer\b/);
    expect(text.split('\n').filter((l) => /^\s+10\.0\.0\.5\s/.test(l) && /\b(web|billing)\b/.test(l))).toHaveLength(2);
    s.windows.push({ start: built.firstSeen!, end: built.lastSeen!, bootId: null });
    const r = computeReadiness([{ host: '-', state: s, fromEvents: true }], { minHours: 0, since: null, now: built.lastSeen! });
    expect(built.readiness.findings).toEqual(r.findings);
    for (const [i, f] of r.findings.entries()) for (const l of findingLines(f, i, false)) expect(text).toContain(l);
    expect(text).toMatch(/fix: +\S/);
    expect(text).toMatch(/^Result: NOT READY — 4 IMDSv1 call\(s\) from 4 program\(s\)/m);
  });
});
