import { describe, expect, it } from 'vitest';
import { eventOf } from '../../src/readiness/event-line.js';

/** One reader of an event line for report and scan-follow (src/readiness/event-line.ts). */
describe('eventOf', () => {
  const base = { ts: '2030-01-01T00:00:01.000Z', version: 'v1', client: { ip: '10.0.0.2', port: 4000 }, path: '/latest/meta-data/' };

  it('keeps the contract fields typed, the login session and exe mismatch, and nothing else of the process', () => {
    const ev = eventOf({ ...base, process: { pid: 7, exe: '/usr/bin/wget (not the host\'s file)', uid: 1000, user: 'alice', unit: null, container: null, ancestors: [], exeMismatch: 'other-file', login: { uid: 1000, user: 'alice', session: 3 }, secret: 'x' } });
    expect(ev?.process).toEqual({ pid: 7, exe: "/usr/bin/wget (not the host's file)", cmdline: null, uid: 1000, user: 'alice', unit: null, container: null, ancestors: [], exeMismatch: 'other-file', login: { uid: 1000, user: 'alice', session: 3 } });
  });

  it('a malformed login or mismatch is left out; a line that is not an event is null', () => {
    const ev = eventOf({ ...base, process: { pid: 1, login: { uid: 'root' }, exeMismatch: 'maybe' } });
    expect(ev?.process).not.toHaveProperty('login');
    expect(ev?.process).not.toHaveProperty('exeMismatch');
    expect(eventOf({ ...base, version: 'v9' })).toBeNull();
    expect(eventOf({ ...base, ts: 'yesterday' })).toBeNull();
    expect(eventOf({ ...base, client: { port: 1 } })).toBeNull();
    expect(eventOf('{"ts"}')).toBeNull();
  });
});
