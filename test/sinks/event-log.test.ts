import { describe, expect, it } from 'vitest';
import { EventLog, eventMessage, journalPriority, withJournalPrefix } from '../../src/sinks/event-log.js';
import { ev } from '../helpers/events.js';

const alice = { pid: 9, exe: '/usr/bin/curl', cmdline: 'curl http://169.254.169.254/latest/meta-data/', uid: 1000, user: 'alice', unit: 'cron.service', container: null, ancestors: [] };

function capture(journald: boolean) {
  const lines: string[] = [];
  const log = new EventLog({ file: null, maxBytes: 0, maxFiles: 0, stdout: true, journald, writeStdout: (s) => lines.push(s), host: { name: 'h', instanceId: null } });
  return { log, lines };
}

describe('journald (#11 item 8)', () => {
  it('maps pino levels to syslog priorities', () => {
    expect([10, 20, 30, 40, 50, 60].map(journalPriority)).toEqual([7, 7, 6, 4, 3, 2]);
    expect(withJournalPrefix('{"level":"warn","msg":"x"}\n')).toBe('<4>{"level":"warn","msg":"x"}\n');
  });

  it('under systemd, an IMDSv1 call is a warning line (<4>), an IMDSv2 call info (<6>), an unattributed call an error (<3>)', () => {
    const { log, lines } = capture(true);
    log.event(ev({ process: alice, attribution: 'gate' }));
    log.event(ev({ version: 'v2', reason: null, process: alice, attribution: 'gate' }));
    log.event(ev({ attribution: 'none' }));
    expect(lines.map((l) => l.slice(0, 3))).toEqual(['<4>', '<6>', '<3>']);
    for (const l of lines) expect(() => JSON.parse(l.slice(3))).not.toThrow();
  });

  it('without JOURNAL_STREAM the lines stay plain JSON', () => {
    const { log, lines } = capture(false);
    log.event(ev({ process: alice, attribution: 'gate' }));
    expect(lines[0].startsWith('{')).toBe(true);
  });

  it('msg says who did what, and carries no token, query or body', () => {
    expect(eventMessage(ev({ process: alice, attribution: 'gate' }))).toBe('IMDSv1 GET /latest/meta-data/ by /usr/bin/curl (cron.service, user alice)');
    expect(eventMessage(ev({ status: 401, process: alice, attribution: 'gate' }))).toMatch(/^IMDSv1 GET \/latest\/meta-data\/ rejected with 401/);
    expect(eventMessage(ev({ path: '/latest/meta-data/?token=AQAAsecret' }))).toBe('IMDSv1 GET /latest/meta-data/ by 10.0.0.2 (process not attributed, User-Agent curl/7.88.1)');
    expect(eventMessage(ev({ version: 'token', method: 'PUT', path: '/latest/api/token', reason: null, process: alice, attribution: 'gate' }))).toBe('IMDSv2 token request by /usr/bin/curl (cron.service, user alice)');
    const docker = { ...alice, unit: null, container: { runtime: 'docker' as const, id: 'abc', name: 'web' } };
    expect(eventMessage(ev({ process: docker, attribution: 'gate' }))).toBe('IMDSv1 GET /latest/meta-data/ by /usr/bin/curl (container web, user alice)');
  });
});
