import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readHostFiles } from '../../src/readiness/host-files.js';
import { jobEvents, JOB_FILES } from './fixtures/jobs.js';

/** docs/design.md#jobs: `imdswatch report` reads this host's cron and timer files at its edge and names each job's line */
const CLI = join(process.cwd(), 'dist/cli/main.js');
const dir = mkdtempSync(join(tmpdir(), 'imdswatch-jobs-'));
const root = join(dir, 'root');
for (const f of JOB_FILES) {
  const p = join(root, f.path);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, f.text);
}
// a symlink in cron.d is not read (regular files only)
symlinkSync('/etc/passwd', join(root, 'etc/cron.d/link'));
const log = join(dir, 'web-2.ndjson');
writeFileSync(log, jobEvents().map((event) => JSON.stringify({ level: 'warn', app: 'imdswatch', kind: 'imds-request', host: { name: 'web-2', instanceId: null }, event })).join('\n') + '\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('report: the cron and timer files of this host', () => {
  it('readHostFiles reads the crontabs, anacrontab and timers under a root, regular files only', () => {
    const files = readHostFiles(root);
    expect(files.map((f) => `${f.kind} ${f.path}${f.user ? ` ${f.user}` : ''}`).sort()).toEqual([
      'anacron /etc/anacrontab',
      'system /etc/cron.d/backup',
      'system /etc/crontab',
      'timer /etc/systemd/system/inventory.timer',
      'user /var/spool/cron/crontabs/alice alice',
    ]);
  });

  it.skipIf(!existsSync(CLI))('imdswatch report --host-root names each line, in text and JSON; --no-host-files does not', () => {
    const run = (...args: string[]) => spawnSync(process.execPath, [CLI, 'report', '--min-hours', '0', ...args, log], { encoding: 'utf8' });
    const text = run('--host-root', root);
    expect(text.stderr).toBe('');
    for (const p of ['/etc/cron.d/backup line 4 (cron job of root)', '/etc/cron.d/backup line 5 (cron job of alice)', '/var/spool/cron/crontabs/alice line 2', '/etc/anacrontab line 3', 'inventory.timer', 'interactive use by alice (ssh, 3 sessions)'])
      expect(text.stdout).toContain(p);
    expect(text.stdout).toMatch(/NOT READY: 6 program\(s\) still call IMDSv1: interactive use by alice \(ssh, 3 sessions\), \/usr\/bin\/curl \(cron job of alice, \/etc\/cron\.d\/backup line 5\)/);
    const json = JSON.parse(run('--host-root', root, '--format', 'json').stdout);
    expect(json.findings.filter((f: { job?: { places?: unknown[] } }) => f.job?.places?.length).length).toBe(4);
    const off = run('--host-root', root, '--no-host-files');
    expect(off.stdout).not.toContain('/etc/cron.d/backup line');
    expect(off.stdout).toContain('interactive use by alice (ssh, 3 sessions)');
  });
});
