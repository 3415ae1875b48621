import { describe, expect, it } from 'vitest';
import { ReportBuilder } from '../../src/sinks/report.js';
import { formatTextReport } from '../../src/sinks/report-text.js';
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
    const b = new ReportBuilder();
    b.add(v1(40001, curl));
    b.add(v1(40002, null));
    const text = formatTextReport(b.build(), input);
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
