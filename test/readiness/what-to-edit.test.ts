import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadReportInput } from '../../src/readiness/inputs.js';
import { computeReadiness } from '../../src/readiness/readiness.js';
import { formatReadinessMarkdown, formatReadinessText } from '../../src/readiness/readiness-format.js';
import { formatReadinessHtml } from '../../src/readiness/readiness-html.js';
import { md } from '../../src/text/sanitize.js';
import { originOf, scriptInCommand, scriptOf } from '../../src/ledger/what-ran.js';
import { emptyState, recordEvent } from '../../src/sinks/state-store.js';
import { webHostLog } from './fixtures/make-web-1.js';
import { ev } from '../helpers/events.js';

const NOW = '2026-11-29T12:00:00.000Z';

function fixtureReport(since: string | null = null) {
  const dir = mkdtempSync(join(tmpdir(), 'imdswatch-report-'));
  const file = join(dir, 'web-1.ndjson');
  writeFileSync(file, webHostLog());
  return computeReadiness([loadReportInput(file, since)], { minHours: 24, since, now: NOW });
}

describe('what to edit (#11): commands, scripts, users, cron jobs and sessions', () => {
  const r = fixtureReport();
  const byUnit = (u: string) => r.findings.find((f) => f.unit === u)!;

  it("root's cron script and alice's crontab are findings of their own, each with its user, script and command paired (docs/design.md#jobs)", () => {
    const cron = r.findings.filter((f) => f.unit === 'cron.service');
    expect(cron).toHaveLength(2);
    const root = cron.find((f) => f.job?.user === 'root')!;
    const alice = cron.find((f) => f.job?.user === 'alice')!;
    expect(root.scripts).toEqual(['/usr/local/bin/tag-volumes.sh']);
    expect(root.users).toEqual(['root']);
    expect(root.commands).toEqual(['curl -s http://169.254.169.254/latest/meta-data/instance-id']);
    expect(root.job?.command).toBe('/usr/local/bin/tag-volumes.sh');
    expect(alice.scripts).toEqual([]);
    expect(alice.users).toEqual(['alice']);
    expect(alice.job?.command).toBe('curl -s http://169.254.169.254/latest/meta-data/placement/availability-zone > ~/az');
    expect(alice.origins.join()).toMatch(/crontab -l -u alice/);
  });

  it("names the Python agent's script, the ssh session's user and both containers", () => {
    expect(byUnit('legacy-metrics.service').scripts).toEqual(['/opt/legacy/metrics-agent.py']);
    expect(byUnit('legacy-metrics.service').users).toEqual(['metrics']);
    const shell = r.findings.find((f) => f.job?.kind === 'interactive')!;
    expect(shell.software).toBe('interactive use by alice (ssh, 1 session)');
    expect(shell.origins).toEqual(['ssh session c1 of alice']);
    expect(r.findings.map((f) => f.container).filter(Boolean).sort()).toEqual(['billing-export', 'web']);
    expect(r.findings.find((f) => f.container === 'web')!.scripts).toEqual(['/app/server.js']);
  });

  it('every format carries them', () => {
    const text = formatReadinessText(r);
    const mdText = formatReadinessMarkdown(r);
    const html = formatReadinessHtml(r);
    const json = JSON.stringify(r);
    for (const out of [text, mdText, html, json]) {
      for (const s of ['/usr/local/bin/tag-volumes.sh', '/opt/legacy/metrics-agent.py', 'interactive use by alice (ssh, 1 session)', 'billing-export', 'alice', 'metrics-agent.py --interval 600']) expect(out).toContain(s);
    }
  });

  it('already-on-IMDSv2 entries carry no fix; the doctor probe is nowhere', () => {
    expect(r.clean.map((f) => f.unit)).toEqual(['backup.service']);
    for (const f of r.clean) expect(f).not.toHaveProperty('fix');
    for (const f of r.findings) expect(f.fix).toBeTruthy();
    const json = JSON.stringify(r);
    expect(json).not.toContain('imdswatch-doctor');
    expect(json).not.toContain('main.js doctor');
  });

  it('"(broken now)" clears once 401s stop', () => {
    const billing = r.findings.find((f) => f.container === 'billing-export')!;
    expect(billing.v1Rejected).toBe(1);
    expect(billing.brokenNow).toBe(false);
    expect(formatReadinessText(r)).not.toContain('broken now');
    const s = emptyState('h', null);
    const p = { pid: 1, exe: '/opt/a', cmdline: '/opt/a', uid: 0, user: 'root', unit: 'a.service', container: null, ancestors: [] };
    recordEvent(s, ev({ process: p, attribution: 'gate', ts: '2026-11-28T10:00:00.000Z' }));
    recordEvent(s, ev({ process: p, attribution: 'gate', status: 401, ts: '2026-11-28T11:00:00.000Z' }));
    const broken = computeReadiness([{ host: 'h', state: s }], { minHours: 0, since: null, now: NOW });
    expect(broken.findings[0].brokenNow).toBe(true);
    expect(formatReadinessText(broken)).toMatch(/1 REJECTED with 401 \(broken now\)/);
  });

  it("a program's first/last seen for IMDSv1 are its IMDSv1 calls", () => {
    const s = emptyState('h', null);
    const p = { pid: 1, exe: '/opt/b', cmdline: '/opt/b', uid: 0, user: 'root', unit: 'b.service', container: null, ancestors: [] };
    recordEvent(s, ev({ version: 'v2', reason: null, process: p, attribution: 'gate', ts: '2026-11-28T01:00:00.000Z' }));
    recordEvent(s, ev({ process: p, attribution: 'gate', ts: '2026-11-28T05:00:00.000Z' }));
    recordEvent(s, ev({ version: 'v2', reason: null, process: p, attribution: 'gate', ts: '2026-11-28T09:00:00.000Z' }));
    const f = computeReadiness([{ host: 'h', state: s }], { minHours: 0, since: null, now: NOW }).findings[0];
    expect([f.firstSeen, f.lastSeen]).toEqual(['2026-11-28T05:00:00.000Z', '2026-11-28T05:00:00.000Z']);
  });
});

describe('script and origin of a process', () => {
  const p = (over: object) => ({ pid: 2, exe: '/usr/bin/curl', cmdline: 'curl x', uid: 0, user: 'root', unit: null, container: null, ancestors: [], ...over });
  it('finds the script argument of an interpreter, not of sh -c, and python -m', () => {
    expect(scriptInCommand('/usr/bin/python3.11', '/usr/bin/python3 -u /opt/x.py --a')).toBe('/opt/x.py');
    expect(scriptInCommand('/usr/bin/python3.11', 'python3 -m pkg.agent')).toBe('-m pkg.agent');
    expect(scriptInCommand('/usr/bin/dash', '/bin/sh -c curl http://x')).toBeNull();
    expect(scriptInCommand('/usr/bin/curl', 'curl /tmp/a.sh')).toBeNull();
    expect(scriptInCommand('/usr/bin/perl', 'perl -I lib run.pl')).toBe('run.pl');
  });
  it('falls back to the nearest script ancestor (its command line, else its name)', () => {
    expect(scriptOf(p({ ancestors: [{ pid: 3, exe: '/usr/bin/bash', comm: 'backup.sh', cmdline: '/bin/bash /root/backup.sh' }] }))).toBe('/root/backup.sh');
    expect(scriptOf(p({ ancestors: [{ pid: 3, exe: '/usr/bin/bash', comm: 'backup.sh' }] }))).toBe('backup.sh');
    expect(scriptOf(p({ ancestors: [{ pid: 3, exe: '/usr/sbin/cron', comm: 'cron' }, { pid: 4, exe: '/usr/bin/bash', comm: 'x.sh', cmdline: 'bash /x.sh' }] }))).toBeNull();
  });
  it('names cron jobs and sessions by user', () => {
    expect(originOf(p({ unit: 'cron.service', user: 'bob' }))).toMatch(/cron job of bob \(crontab -l -u bob/);
    expect(originOf(p({ unit: 'session-4.scope', user: 'bob' }))).toBe('login session 4 of bob');
    expect(originOf(p({ unit: 'nginx.service' }))).toBeNull();
  });
});

describe('Markdown report (#11 item 6)', () => {
  it('keeps × and the whole fix command; escapes Markdown and control characters only', () => {
    expect(md('why ×3 → a|b')).toBe('why ×3 → a\\|b');
    expect(md('a\x1bb')).toBe('a\\x1bb');
    const r = fixtureReport();
    const out = formatReadinessMarkdown(r);
    expect(out).not.toContain('\\xd7');
    const web = r.findings.find((f) => f.container === 'web')!;
    expect(web.fix!.length).toBeGreaterThan(200);
    expect(out).toContain(md(web.fix!));
  });
});
