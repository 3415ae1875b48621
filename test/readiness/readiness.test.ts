import { describe, expect, it } from 'vitest';
import { emptyState, recordEvent, touchWindow } from '../../src/sinks/state-store.js';
import { computeReadiness } from '../../src/readiness/readiness.js';
import { formatReadinessMarkdown, formatReadinessText } from '../../src/readiness/readiness-format.js';
import { formatReadinessHtml } from '../../src/readiness/readiness-html.js';
import { ev } from '../helpers/events.js';

const opts = { minHours: 24, since: null, now: '2026-11-30T00:00:00.000Z' };
const proc = (exe: string) => ({ pid: 7, exe, cmdline: exe, uid: 0, user: 'root', unit: 'app.service', container: null, ancestors: [] });

function observed(hours: number) {
  const s = emptyState('web-1', null);
  s.windows.push({ start: '2026-11-28T00:00:00.000Z', end: new Date(Date.parse('2026-11-28T00:00:00.000Z') + hours * 3600_000).toISOString(), bootId: null });
  return s;
}

describe('readiness verdict', () => {
  it('READY after enough clean observation', () => {
    const s = observed(30);
    recordEvent(s, ev({ version: 'v2', reason: null, process: proc('/usr/bin/aws'), attribution: 'gate' }));
    const r = computeReadiness([{ host: 'web-1', state: s }], opts);
    expect(r.verdict).toBe('READY');
    expect(r.observedHours).toBeCloseTo(30);
    expect(r.why[0]).toMatch(/no IMDSv1 call in 30\.0 h/);
  });

  it('UNKNOWN with too little observation or capture drops', () => {
    expect(computeReadiness([{ host: 'a', state: observed(2) }], opts).verdict).toBe('UNKNOWN');
    const dropped = observed(48);
    dropped.drops.pcap = 3;
    const r = computeReadiness([{ host: 'a', state: dropped }], opts);
    expect(r.verdict).toBe('UNKNOWN');
    expect(r.why.join(' ')).toMatch(/dropped 3 packet/);
  });

  it('UNKNOWN, not READY, when the daemon could not read IMDS packets (fragments, link type: #16)', () => {
    const s = observed(48);
    expect(computeReadiness([{ host: 'a', state: s }], opts).verdict).toBe('READY');
    s.drops.imdsUnread = 4;
    const r = computeReadiness([{ host: 'a', state: s }], opts);
    expect(r.verdict).toBe('UNKNOWN');
    expect(r.why.join(' ')).toMatch(/4 IMDS packet\(s\) could not be read/);
    expect(r.losses.imdsUnread).toBe(4);
  });

  it('UNKNOWN, not READY, when request bytes inside IMDS connections were not captured', () => {
    const s = observed(48);
    s.drops.requestGapBytes = 0;
    expect(computeReadiness([{ host: 'a', state: s }], opts).verdict).toBe('READY');
    s.drops.requestGapBytes = 120;
    const r = computeReadiness([{ host: 'a', state: s }], opts);
    expect(r.verdict).toBe('UNKNOWN');
    expect(r.why.join(' ')).toMatch(/120 byte\(s\) sent to IMDS were not captured/);
    expect(r.losses.requestGapBytes).toBe(120);
  });

  it('NOT READY lists software, rejected first, each with a fix', () => {
    const s = observed(48);
    for (let i = 0; i < 5; i++) recordEvent(s, ev({ process: proc('/usr/bin/curl'), attribution: 'gate' }));
    recordEvent(s, ev({ process: proc('/opt/old/agent'), attribution: 'gate', status: 401 }));
    const r = computeReadiness([{ host: 'web-1', state: s }], opts);
    expect(r.verdict).toBe('NOT READY');
    expect(r.findings.map((f) => f.exe)).toEqual(['/opt/old/agent', '/usr/bin/curl']);
    for (const f of r.findings) expect(f.fix.length).toBeGreaterThan(10);
    const text = formatReadinessText(r);
    expect(text).toMatch(/VERDICT: NOT READY/);
    expect(text).toMatch(/REJECTED with 401/);
    expect(formatReadinessMarkdown(r)).toMatch(/^# IMDSv2 readiness: NOT READY/);
  });

  it('fleet: one row per software with its hosts; the least-observed host bounds the fleet', () => {
    const a = observed(48);
    const b = observed(10);
    recordEvent(a, ev({ process: proc('/usr/bin/curl'), attribution: 'gate' }));
    recordEvent(b, ev({ process: proc('/usr/bin/curl'), attribution: 'gate' }));
    const r = computeReadiness([{ host: 'a', state: a }, { host: 'b', state: b }], opts);
    expect(r.findings).toHaveLength(1);
    expect(r.findings[0].hosts).toEqual(['a', 'b']);
    expect(r.observedHours).toBeCloseTo(10);
  });

  it('probes for another cloud\'s metadata do not make a host NOT READY', () => {
    const s = observed(48);
    recordEvent(s, ev({ path: '/computeMetadata/v1/', reason: 'foreign-cloud-probe', process: proc('/usr/bin/prober'), attribution: 'gate' }));
    const r = computeReadiness([{ host: 'h', state: s }], opts);
    expect(r.verdict).toBe('READY');
    expect(r.findings).toHaveLength(0);
    expect(r.why.join(' ')).toMatch(/1 token-less probe/);
  });

  it('the HTML page is self-contained and escapes untrusted text', () => {
    const s = observed(48);
    recordEvent(s, ev({ userAgent: '<script>alert(1)</script>' }));
    touchWindow(s, '2026-11-29T00:00:00.000Z', false);
    const html = formatReadinessHtml(computeReadiness([{ host: 'h', state: s }], opts));
    expect(html).not.toContain('<script');
    expect(html).toContain('<svg');
    expect(html).not.toMatch(/src=|href=/);
  });
});
