import { describe, expect, it } from 'vitest';
import { emptyState, recordEvent } from '../../src/ledger/ledger.js';
import { computeReadiness } from '../../src/readiness/readiness.js';
import { formatReadinessMarkdown, formatReadinessText } from '../../src/readiness/readiness-format.js';
import { EventLog } from '../../src/sinks/event-log.js';
import { ev } from '../helpers/events.js';

/**
 * README "Security", what held: a user controls its own argv, newlines included. A command
 * line with a newline must stay inside one JSON string of one log line, and inside one line
 * of the report: a forged second line ("IMDSv2 only, READY") must never appear as a line.
 */
const FORGED = 'READY: no program calls IMDSv1';
const proc = { pid: 9, exe: '/usr/bin/python3', cmdline: `python3 -c x\n${FORGED}\r\n{"level":"info"}`, uid: 1000, user: 'alice', unit: 'cron.service', container: null, ancestors: [] };

describe('newlines in argv stay inside one string', () => {
  it('in the event log: one line per event, which parses back to the same command line', () => {
    const lines: string[] = [];
    const log = new EventLog({ file: null, maxBytes: 0, maxFiles: 0, stdout: true, journald: true, writeStdout: (s) => lines.push(s), host: { name: 'h', instanceId: null } });
    log.event(ev({ process: proc, attribution: 'gate' }));
    const out = lines.join('');
    expect(out.split('\n').filter(Boolean)).toHaveLength(1);
    const parsed = JSON.parse(out.replace(/^<\d>/, '')) as { event: { process: { cmdline: string } } };
    expect(parsed.event.process.cmdline).toContain(FORGED);
    expect(out).not.toMatch(new RegExp(`\\n${FORGED}`));
  });

  it('in the text and Markdown report: no line of its own for the forged text', () => {
    const s = emptyState('h', null);
    s.windows.push({ start: '2026-11-27T00:00:00.000Z', end: '2026-11-29T00:00:00.000Z', bootId: null });
    recordEvent(s, ev({ process: proc, attribution: 'gate' }));
    const r = computeReadiness([{ host: 'h', state: s }], { minHours: 24, since: null, now: '2026-11-29T00:00:00.000Z' });
    for (const out of [formatReadinessText(r), formatReadinessMarkdown(r)]) {
      expect(out).toContain('python3 -c x'); // the command line is shown…
      expect(out.split('\n').some((l) => l.trim().startsWith(FORGED))).toBe(false); // …but its newline starts no line
      expect(out).not.toContain('\r');
    }
  });
});
