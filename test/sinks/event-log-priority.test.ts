import { describe, expect, it } from 'vitest';
import { EventLog, withMsgFirst } from '../../src/sinks/event-log.js';
import { Metrics } from '../../src/sinks/metrics.js';
import { DOCTOR_PROBE_USER_AGENT } from '../../src/sinks/state-store.js';
import { ev } from '../helpers/events.js';

// journald: a call IMDS rejected with 401 (broken now) is an error line, and the journal
// shows `msg` first; imdswatch doctor's own probe is marked in the event log and left out
// of imdswatch_requests_total.

const alice = { pid: 9, exe: '/usr/bin/curl', cmdline: 'curl http://169.254.169.254/latest/meta-data/', uid: 1000, user: 'alice', unit: 'cron.service', container: null, ancestors: [] };
const probe = ev({ version: 'token', method: 'PUT', path: '/latest/api/token', reason: null, userAgent: DOCTOR_PROBE_USER_AGENT, attribution: 'none' });

function capture(journald: boolean) {
  const lines: string[] = [];
  const log = new EventLog({ file: null, maxBytes: 0, maxFiles: 0, stdout: true, journald, writeStdout: (s) => lines.push(s), host: { name: 'h', instanceId: null } });
  return { log, lines };
}

describe('journald priority and field order', () => {
  it('a v1 call answered 401 is an error line (<3>), other v1 calls warnings (<4>)', () => {
    const { log, lines } = capture(true);
    log.event(ev({ status: 401, process: alice, attribution: 'gate' }));
    log.event(ev({ status: 200, process: alice, attribution: 'gate' }));
    expect(lines.map((l) => l.slice(0, 3))).toEqual(['<3>', '<4>']);
    expect(JSON.parse(lines[0].slice(3)).level).toBe('error');
  });

  it('journald lines start with msg; the file and plain stdout keep pino order; the JSON is the same', () => {
    const j = capture(true);
    const plain = capture(false);
    const e = ev({ status: 401, process: alice, attribution: 'gate' });
    j.log.event(e);
    plain.log.event(e);
    expect(j.lines[0].startsWith('<3>{"msg":"IMDSv1 GET /latest/meta-data/ rejected with 401')).toBe(true);
    expect(plain.lines[0].startsWith('{"level":"error"')).toBe(true);
    // the same fields but `time`: the two loggers stamp their own clock reading
    const fields = (line: string) => {
      const o = JSON.parse(line) as Record<string, unknown>;
      delete o.time;
      return o;
    };
    expect(fields(j.lines[0].slice(3))).toEqual(fields(plain.lines[0]));
  });

  it('withMsgFirst moves an escaped msg and leaves other text alone', () => {
    expect(withMsgFirst('{"level":"warn","a":1,"msg":"say \\"hi\\" \\\\"}\n')).toBe('{"msg":"say \\"hi\\" \\\\","level":"warn","a":1}\n');
    expect(withMsgFirst('{"level":"warn","a":1}\n')).toBe('{"level":"warn","a":1}\n');
    expect(withMsgFirst('not json')).toBe('not json');
  });
});

describe("imdswatch doctor's own probe", () => {
  it('is marked in the event log, at info', () => {
    const { log, lines } = capture(true);
    log.event(probe);
    expect(lines[0].slice(0, 3)).toBe('<6>');
    const line = JSON.parse(lines[0].slice(3)) as { ownProbe?: boolean; msg: string };
    expect(line.ownProbe).toBe(true);
    expect(line.msg).toMatch(/^imdswatch doctor's own probe: IMDSv2 token request/);
  });

  it('is not counted in imdswatch_requests_total', async () => {
    const m = new Metrics();
    m.event(probe);
    m.event(ev({ version: 'token', method: 'PUT', path: '/latest/api/token', reason: null, attribution: 'none' }));
    const text = await m.registry.metrics();
    expect(text).toMatch(/^imdswatch_requests_total\{version="token",status="200"\} 1$/m);
  });
});
