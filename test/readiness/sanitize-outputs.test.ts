import { describe, expect, it } from 'vitest';
import { emptyState, recordEvent } from '../../src/ledger/ledger.js';
import { computeReadiness } from '../../src/readiness/readiness.js';
import { formatReadinessMarkdown, formatReadinessText } from '../../src/readiness/readiness-format.js';
import { formatReadinessHtml } from '../../src/readiness/readiness-html.js';
import { CaptureSummaryBuilder } from '../../src/sinks/capture-summary.js';
import { formatCaptureSummaryText } from '../../src/sinks/capture-summary-text.js';
import { Metrics } from '../../src/sinks/metrics.js';
import { EventLog, eventMessage } from '../../src/sinks/event-log.js';
import { cutMark, html, labelValue, md, printable, visible } from '../../src/text/sanitize.js';
import { ev } from '../helpers/events.js';

/** docs/design.md#sanitizer: one sanitizer for every human-facing output */
// ESC [ 2 J (clear screen), BEL, C1 CSI (U+009B) and OSC (U+009D), a right-to-left override, DEL, NUL
const NASTY = '/tmp/\x1b[2J\x07x\u009b31m\u009d0;pwned\u0007\u202egnp.exe\x7f\x00';
const LONG = `/opt/${'a'.repeat(7000)}/bin/agent`;
const RAW = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

const proc = (exe: string) => ({ pid: 7, exe, cmdline: `${exe} --flag`, uid: 0, user: 'root', unit: `evil\x1b]0;title\x07.service`, container: null, ancestors: [] });

function readiness() {
  const s = emptyState('web-1', null);
  s.windows.push({ start: '2026-11-27T00:00:00.000Z', end: '2026-11-29T00:00:00.000Z', bootId: null });
  recordEvent(s, ev({ process: proc(NASTY), attribution: 'gate', path: '/latest/meta-data/\u009b6n', userAgent: 'ua\u202e' }));
  recordEvent(s, ev({ process: proc(LONG), attribution: 'gate' }));
  return computeReadiness([{ host: 'web-1', state: s }], { minHours: 24, since: null, now: '2026-11-29T00:00:00.000Z' });
}

describe('the sanitizer', () => {
  it('makes C0, DEL, C1 and bidi controls visible and marks a cut with what was left', () => {
    expect(visible('a\x1bb\u009bc\u202ed\x7f')).toBe('a\\x1bb\\x9bc\\u202ed\\x7f');
    expect(visible('naïve × 日本')).toBe('naïve × 日本');
    expect(printable('naïve')).toBe('na\\xefve');
    expect(visible('x'.repeat(7000), 88)).toBe(`${'x'.repeat(88)}…(+6 912 chars)`);
    expect(cutMark(1234567)).toBe('…(+1 234 567 chars)');
    expect(md('a|b\u0085')).toBe('a\\|b\\x85');
    expect(html('<b>\x1b')).toBe('&#60;b&#62;\\x1b');
    expect(labelValue(LONG).length).toBeLessThanOrEqual(128);
    expect(labelValue(LONG)).toMatch(/…\(\+[\d ]+ chars\)$/);
  });
});

describe('every human-facing output goes through it', () => {
  it('text report', () => {
    const text = formatReadinessText(readiness());
    expect(text).not.toMatch(RAW);
    expect(text).toContain('\\x1b[2J');
    expect(text).not.toContain('a'.repeat(300));
    expect(text).toMatch(/…\(\+[\d ]+ chars\)/);
  });

  it('Markdown', () => {
    const out = formatReadinessMarkdown(readiness());
    expect(out).not.toMatch(RAW);
    expect(out).toContain('\\x9b31m');
    expect(out).toContain('\\u202egnp.exe');
    expect(out).not.toContain('a'.repeat(400));
    expect(out).toMatch(/…\(\+[\d ]+ chars\)/);
  });

  it('HTML: a 7 KB path is not shown whole, controls are visible, markup stays escaped', () => {
    const out = formatReadinessHtml(readiness());
    expect(out).not.toMatch(RAW);
    expect(out).not.toContain('a'.repeat(400));
    expect(out).toMatch(/…\(\+[\d ]+ chars\)/);
    expect(out).toContain('\\x1b[2J');
    expect(out.length).toBeLessThan(30_000);
  });

  it('replay/scan summary text', () => {
    const b = new CaptureSummaryBuilder();
    b.add(ev({ process: proc(NASTY), attribution: 'gate', method: 'G\x1bET' }));
    b.add(ev({ process: proc(LONG), attribution: 'gate' }));
    const out = formatCaptureSummaryText(b.build(), { sources: ['x.pcap'], packets: 2, imdsSegments: 2, skipped: {}, unclassified: 0, errors: [] });
    expect(out).not.toMatch(RAW);
    expect(out).not.toContain('a'.repeat(300));
  });

  it('Prometheus label values: no raw ESC, BEL or C1 (curl /metrics in a terminal), cut and marked', async () => {
    const m = new Metrics();
    m.event(ev({ process: proc(NASTY), attribution: 'gate' }));
    m.event(ev({ process: proc(LONG), attribution: 'gate' }));
    const text = await m.registry.metrics();
    const lines = text.split('\n').filter((l) => l.startsWith('imdswatch_v1_calls_total{'));
    expect(lines).toHaveLength(2);
    for (const l of lines) {
      expect(l).not.toMatch(RAW);
      expect(l.length).toBeLessThan(400);
    }
    expect(lines.join('\n')).toContain('\\\\x1b[2J');
    expect(lines.join('\n')).toMatch(/…\(\+[\d ]+ chars\)/);
  });

  it('journald msg', () => {
    const msg = eventMessage(ev({ process: proc(NASTY), attribution: 'gate', path: '/latest/\u009b6n' }));
    expect(msg).not.toMatch(RAW);
    expect(msg).toContain('\\x1b[2J');
    const long = eventMessage(ev({ process: proc(LONG), attribution: 'gate' }));
    expect(long.length).toBeLessThan(400);
    expect(long).toMatch(/…\(\+[\d ]+ chars\)/);
    const lines: string[] = [];
    const log = new EventLog({ file: null, maxBytes: 0, maxFiles: 0, stdout: true, journald: true, writeStdout: (s) => lines.push(s), host: { name: 'h', instanceId: null } });
    log.event(ev({ process: proc(NASTY), attribution: 'gate' }));
    const parsed = JSON.parse(lines[0].slice(3)) as { msg: string };
    expect(parsed.msg).not.toMatch(RAW);
  });
});
