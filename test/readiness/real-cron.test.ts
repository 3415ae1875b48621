import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ProcessCache } from '../../src/enrich/process/process-cache.js';
import { emptyState, recordEvent } from '../../src/ledger/ledger.js';
import { computeReadiness } from '../../src/readiness/readiness.js';
import { formatReadinessText } from '../../src/readiness/readiness-format.js';
import { placeJobs } from '../../src/readiness/job-finding.js';
import { readHostFiles } from '../../src/readiness/host-files.js';
import { ev } from '../helpers/events.js';

/**
 * docs/design.md#jobs with a real cron (Debian's cron 3.0pl1: `apt-get install cron`, or its
 * binary in IMDSWATCH_CRON_BIN) in a private mount namespace (its own /etc/cron.d over an
 * overlay, its own spool on a tmpfs: the host's cron files are not touched), and the real
 * enricher reading /proc: each job's process is found, grouped by user and line, and named
 * by file and line. Root only; run under the root-test lock.
 */
const CRON = process.env.IMDSWATCH_CRON_BIN ?? '/usr/sbin/cron';
const ready = process.getuid?.() === 0 && existsSync(CRON);
const dir = mkdtempSync(join(tmpdir(), 'imdswatch-cron-'));
let cron: ChildProcess | null = null;
const started: number[] = [];
afterAll(() => {
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
  if (cron?.pid) process.kill(cron.pid, 'SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

const pidOf = (cmd: string) => Number(spawnSync('pgrep', ['-xf', cmd], { encoding: 'utf8' }).stdout.trim().split('\n')[0] || 0);

describe.skipIf(!ready)('a real cron job is named by its file and line', () => {
  it('root and nobody in /etc/cron.d/backup, root\'s crontab: three findings, each with its line', { timeout: 120_000 }, async () => {
    writeFileSync(join(dir, 'tag.sh'), '#!/bin/sh\nsleep 4173\n', { mode: 0o755 });
    writeFileSync(
      join(dir, 'ns.sh'),
      `set -e
mount --make-rprivate /
mkdir -p ${dir}/up ${dir}/work
mount -t overlay overlay -o lowerdir=/etc,upperdir=${dir}/up,workdir=${dir}/work /etc
rm -rf /etc/cron.d /etc/crontab; mkdir /etc/cron.d
mount -t tmpfs tmpfs /var/spool
mkdir -p /var/spool/cron/crontabs; chmod 1730 /var/spool/cron/crontabs
printf 'MAILTO=""\\n* * * * * root ${dir}/tag.sh --all\\n* * * * * nobody sleep 4171 > /dev/null\\n' > /etc/cron.d/backup
printf '# root\\n* * * * * true; sleep 4172\\n' > /var/spool/cron/crontabs/root; chmod 600 /var/spool/cron/crontabs/root
exec ${CRON} -f
`,
    );
    cron = spawn('unshare', ['-m', '--propagation', 'private', 'sh', join(dir, 'ns.sh')], { stdio: 'ignore' });
    // cron starts jobs on the minute: wait for the three (an event, not a time: up to 70 s)
    const want = ['sleep 4171', 'sleep 4172', 'sleep 4173'];
    let pids = [0, 0, 0];
    for (let i = 0; i < 140 && !pids.every(Boolean); i++) {
      await new Promise((r) => setTimeout(r, 500));
      pids = want.map(pidOf);
    }
    started.push(...pids.filter(Boolean));
    expect(pids.every(Boolean), 'cron ran the three jobs').toBe(true);
    const pc = new ProcessCache({ procRoot: '/proc', passwdPath: '/etc/passwd', graceMs: 1000, maxEntries: 100, maxAncestors: 12, now: () => Date.now() });
    const s = emptyState('h', null);
    s.windows.push({ start: '2026-11-28T00:00:00.000Z', end: '2026-11-28T01:00:00.000Z', bootId: null });
    for (const pid of pids) recordEvent(s, ev({ process: pc.get(pid)!, attribution: 'gate' }));
    const r = computeReadiness([{ host: 'h', state: s }], { minHours: 0, since: null, now: '2026-11-28T01:00:00.000Z' });
    placeJobs(r.findings, readHostFiles(`/proc/${cron.pid}/root`));
    const where = r.findings.map((f) => `${f.job?.user} ${(f.job?.places ?? []).map((p) => `${p.file}:${p.line}`).join()}`).sort();
    expect(where).toEqual(['nobody /etc/cron.d/backup:3', 'root /etc/cron.d/backup:2', 'root /var/spool/cron/crontabs/root:2']);
    expect(formatReadinessText(r)).toContain(`/etc/cron.d/backup line 2 (cron job of root): * * * * * root ${dir}/tag.sh --all`);
    expect(r.findings.find((f) => f.job?.places?.[0]?.line === 2 && f.job.user === 'root' && f.job.places[0].file === '/etc/cron.d/backup')!.scripts).toEqual([`${dir}/tag.sh`]);
  });
});
