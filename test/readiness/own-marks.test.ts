import { describe, expect, it } from 'vitest';
import { emptyState, recordEvent } from '../../src/ledger/ledger.js';
import { computeReadiness } from '../../src/readiness/readiness.js';
import { formatReadinessText } from '../../src/readiness/readiness-format.js';
import { ev } from '../helpers/events.js';

/**
 * The sanitizer escapes what came from the wire, never the report's own words: the text
 * report printed "never asked for a token \xd732" (its own × escaped as if it were a
 * program's byte) after the one-sanitizer change.
 */
describe('the text report keeps its own marks', () => {
  it('why: "never asked for a token ×2", with the multiplication sign as such', () => {
    const s = emptyState('h', null);
    s.windows.push({ start: '2026-11-27T00:00:00.000Z', end: '2026-11-29T00:00:00.000Z', bootId: null });
    const proc = { pid: 9, exe: '/usr/bin/curl', cmdline: 'curl x', uid: 0, user: 'root', unit: 'x.service', container: null, ancestors: [] };
    recordEvent(s, ev({ process: proc, attribution: 'gate' }));
    recordEvent(s, ev({ process: proc, attribution: 'gate' }));
    const text = formatReadinessText(computeReadiness([{ host: 'h', state: s }], { minHours: 24, since: null, now: '2026-11-29T00:00:00.000Z' }));
    const why = text.split('\n').find((l) => l.trim().startsWith('why:'));
    expect(why).toMatch(/×2$/);
    expect(text).not.toContain('\\xd7');
  });
});
