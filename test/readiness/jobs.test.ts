import { describe, expect, it } from 'vitest';
import { computeReadiness } from '../../src/readiness/readiness.js';
import { formatReadinessMarkdown, formatReadinessText } from '../../src/readiness/readiness-format.js';
import { formatReadinessHtml } from '../../src/readiness/readiness-html.js';
import { placeJobs } from '../../src/readiness/job-finding.js';
import { findCronLines } from '../../src/readiness/job-files.js';
import { emptyState, recordEvent } from '../../src/ledger/ledger.js';
import { jobEvents, JOB_FILES } from './fixtures/jobs.js';

/** docs/design.md#jobs: one finding per user and cron line, the file and line named; a person's shells grouped */
function report(files = JOB_FILES) {
  const s = emptyState('web-2', null);
  s.windows.push({ start: '2026-11-28T00:00:00.000Z', end: '2026-11-28T04:00:00.000Z', bootId: null });
  for (const e of jobEvents()) recordEvent(s, e);
  const r = computeReadiness([{ host: 'web-2', state: s }], { minHours: 0, since: null, now: '2026-11-28T05:00:00.000Z' });
  placeJobs(r.findings, files);
  return r;
}

const PLACES = [
  '/etc/cron.d/backup line 4',
  '/etc/cron.d/backup line 5',
  '/var/spool/cron/crontabs/alice line 2',
  '/etc/anacrontab line 3',
  '/etc/systemd/system/inventory.timer line 5',
];

describe('cron jobs, timers and interactive use', () => {
  it('one finding per user and cron source, each naming its file and line', () => {
    const r = report();
    const cron = r.findings.filter((f) => f.job?.kind === 'cron');
    expect(cron).toHaveLength(4);
    const where = cron.map((f) => `${f.job!.user} ${f.job!.places!.map((p) => `${p.file}:${p.line}`).join()}`).sort();
    expect(where).toEqual(['alice /etc/cron.d/backup:5', 'alice /var/spool/cron/crontabs/alice:2', 'root /etc/anacrontab:3', 'root /etc/cron.d/backup:4']);
    for (const f of cron) expect(f.users).toHaveLength(1);
    const root = cron.find((f) => f.job!.places![0].line === 4)!;
    expect(root.scripts).toEqual(['/usr/local/bin/tag-volumes.sh']);
    expect(root.software).toBe('/usr/bin/curl (cron job of root, /etc/cron.d/backup line 4)');
    expect(cron.find((f) => f.job!.runner === 'anacron')!.job!.part).toBe('/etc/cron.daily/aws-inventory');
    // an inline crontab command is "the cron line", not "this script"
    const inline = cron.find((f) => f.job!.places![0].file === '/var/spool/cron/crontabs/alice')!;
    expect(inline.fix).not.toMatch(/this script/);
    expect(inline.fix).toMatch(/cron line/);
  });

  it('a systemd timer names its timer unit', () => {
    const t = report().findings.find((f) => f.unit === 'inventory.service')!;
    expect(t.job).toMatchObject({ kind: 'timer', timer: { timer: 'inventory.timer', file: '/etc/systemd/system/inventory.timer', line: 5, text: 'OnCalendar=hourly' } });
  });

  it('three ssh sessions of one person are one finding of interactive use, with words for a person', () => {
    const r = report();
    const shells = r.findings.filter((f) => f.job?.kind === 'interactive');
    expect(shells).toHaveLength(1);
    expect(shells[0].software).toBe('interactive use by alice (ssh, 3 sessions)');
    expect(shells[0].v1).toBe(4);
    expect(shells[0].fix).toMatch(/^someone \(alice, over ssh\) ran curl by hand in a shell: tell them to ask for a token first, e\.g\. TOKEN=\$\(curl -sX PUT/);
    expect(shells[0].fix).not.toMatch(/script/);
    expect(r.findings).toHaveLength(6);
    expect(r.why[0]).toMatch(/from 6 program/);
  });

  it('every format names the lines, the timer and the interactive use', () => {
    const r = report();
    const outs = { text: formatReadinessText(r), markdown: formatReadinessMarkdown(r), html: formatReadinessHtml(r), json: JSON.stringify(r) };
    for (const [name, out] of Object.entries(outs)) {
      for (const p of PLACES.slice(0, 4)) expect(out, `${name}: ${p}`).toContain(name === 'json' ? `"file":"${p.split(' line ')[0]}","line":${p.split(' line ')[1]}` : p);
      expect(out, name).toContain('inventory.timer');
      expect(out, name).toContain('interactive use by alice (ssh, 3 sessions)');
      expect(out, name).toContain(name === 'json' ? '"part":"/etc/cron.daily/aws-inventory"' : 'run-parts: /etc/cron.daily/aws-inventory');
      // a secret in a cron file is never printed (the env line is not shown; a command is redacted)
      expect(out, name).not.toContain('wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY');
    }
    expect(outs.text).toMatch(/cron: +\/etc\/cron\.d\/backup line 5 \(cron job of alice\): 10 \* \* \* \* alice curl -s http:\/\/169\.254\.169\.254\/latest\/meta-data\/placement\/availability-zone > \/tmp\/az/);
    expect(outs.text).toMatch(/crontab -e -u alice/);
  });

  it('without the host\'s files: the job and where to look, no line', () => {
    const r = report([]);
    const alice = r.findings.find((f) => f.job?.kind === 'cron' && f.job.user === 'alice' && /az/.test(f.job.command ?? ''))!;
    expect(alice.job!.places).toEqual([]);
    expect(formatReadinessText(r)).toMatch(/cron job of alice: curl -s .*availability-zone > \/tmp\/az \(no line of the cron files read matches it: was it changed\? look in crontab -l -u alice/);
  });

  it('a hostile login name or cron line comes out escaped in every format', () => {
    const s = emptyState('h', null);
    const [e] = jobEvents().filter((x) => x.process?.unit === 'session-3.scope');
    const anc = e.process!.ancestors.map((a) => (a.cmdline === 'sshd: alice@pts/0' ? { ...a, cmdline: 'sshd: \x1b]0;pwn\x07<b>@pts/0' } : a));
    recordEvent(s, { ...e, process: { ...e.process!, ancestors: anc } });
    const [c] = jobEvents();
    recordEvent(s, c);
    const r = computeReadiness([{ host: 'h', state: s }], { minHours: 0, since: null, now: '2026-11-28T05:00:00.000Z' });
    placeJobs(r.findings, [{ path: '/etc/cron.d/backup', kind: 'system', text: '5\x1b[2J<script> * * * * root /usr/local/bin/tag-volumes.sh --all\n' }]);
    expect(r.findings.find((f) => f.job?.kind === 'cron')!.job!.places).toHaveLength(1);
    for (const [name, out] of Object.entries({ text: formatReadinessText(r), markdown: formatReadinessMarkdown(r), html: formatReadinessHtml(r) })) {
      expect(out).not.toContain('\x1b]0;');
      expect(out).not.toContain('\x1b[2J');
      expect(out).not.toContain('\x07');
      // markup is data in Markdown and HTML (a terminal shows "<" as it is)
      if (name !== 'text') expect(out).not.toContain('<script>');
      if (name !== 'text') expect(out).not.toContain('<b>@');
    }
  });

  it('matching: user must match, cut commands match by prefix, secrets on a line are redacted', () => {
    const cmd = 'curl -s http://169.254.169.254/latest/meta-data/placement/availability-zone > /tmp/az';
    expect(findCronLines({ runner: 'cron', user: 'bob', command: cmd }, JOB_FILES)).toEqual([]);
    expect(findCronLines({ runner: 'cron', user: 'alice', command: `${cmd.slice(0, 40)}…` }, JOB_FILES).map((p) => p.line)).toEqual([5]);
    const files = [{ path: '/etc/cron.d/x', kind: 'system' as const, text: '* * * * * root AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY aws s3 ls\n' }];
    const recorded = 'AWS_SECRET_ACCESS_KEY=[REDACTED]';
    const [pl] = findCronLines({ runner: 'cron', user: 'root', command: recorded }, files);
    expect(pl.text).not.toContain('wJalr');
  });
});
