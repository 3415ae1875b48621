import { describe, expect, it } from 'vitest';
import { jobOf } from '../../src/ledger/job.js';
import { emptyState, parseState, recordEvent } from '../../src/ledger/ledger.js';
import { jobEvents } from '../readiness/fixtures/jobs.js';
import type { ProcessInfo } from '../../src/imds/event.js';
import { ev } from '../helpers/events.js';

/** docs/design.md#jobs: which cron job or person's shell made a call, from the process's ancestors */
const SYSTEMD = { pid: 1, exe: '/usr/lib/systemd/systemd', comm: 'systemd', cmdline: '/sbin/init' };
const p = (over: Partial<ProcessInfo>): ProcessInfo => ({ pid: 9, exe: '/usr/bin/curl', cmdline: 'curl x', uid: 0, user: 'root', unit: null, container: null, ancestors: [SYSTEMD], ...over });
const procs = () => jobEvents().map((e) => e.process!);

describe('jobOf', () => {
  it("names a cron job's user and the shell's -c command, per line", () => {
    const [root, alice, aliceTab] = procs();
    expect(jobOf(root)).toEqual({ kind: 'cron', runner: 'cron', user: 'root', command: '/usr/local/bin/tag-volumes.sh --all', part: null });
    expect(jobOf(alice)).toMatchObject({ kind: 'cron', user: 'alice', command: 'curl -s http://169.254.169.254/latest/meta-data/placement/availability-zone > /tmp/az' });
    // the shell exec'd the command (bash -c): the process's own command line is the job's
    expect(jobOf(aliceTab)).toMatchObject({ kind: 'cron', user: 'alice', command: 'curl -s -H Accept: text/plain http://169.254.169.254/latest/meta-data/instance-id' });
  });

  it('an anacron job run by run-parts names the file run-parts ran', () => {
    const ana = procs().find((x) => x.unit === 'anacron.service')!;
    expect(jobOf(ana)).toEqual({ kind: 'cron', runner: 'anacron', user: 'root', command: 'run-parts --report /etc/cron.daily', part: '/etc/cron.daily/aws-inventory' });
  });

  it('ssh sessions are interactive use by the person who logged in (also after sudo), not a program', () => {
    const s = procs().find((x) => x.unit === 'session-5.scope')!;
    expect(jobOf(s)).toEqual({ kind: 'interactive', person: 'alice', via: 'ssh', terminal: true, session: '5' });
    expect(jobOf({ ...s, uid: 0, user: 'root' })).toMatchObject({ person: 'alice' });
    const notty = { ...s, ancestors: [{ pid: 5, exe: '/usr/sbin/sshd', comm: 'sshd', cmdline: 'sshd: deploy@notty' }, SYSTEMD] };
    expect(jobOf(notty)).toMatchObject({ person: 'deploy', terminal: false });
    expect(jobOf(p({ unit: 'session-4.scope', ancestors: [{ pid: 3, exe: '/usr/bin/login', comm: 'login', cmdline: 'login -- bob' }, SYSTEMD] }))).toMatchObject({ via: 'console', session: '4' });
  });

  it('a cron job in a session scope (pam_systemd in cron\'s PAM stack, RHEL) is a cron job', () => {
    expect(jobOf(p({ unit: 'session-77.scope', ancestors: [{ pid: 3, exe: '/usr/sbin/crond', comm: 'crond', cmdline: '/usr/sbin/crond -n' }, SYSTEMD] }))).toMatchObject({ kind: 'cron', runner: 'cron' });
  });

  it('a cron job in a new session scope each run stays one entry', () => {
    const s = emptyState('h', null);
    for (const sid of ['77', '78', '79']) recordEvent(s, ev({ process: p({ unit: `session-${sid}.scope`, ancestors: [{ pid: 4, exe: '/usr/bin/bash', comm: 'bash', cmdline: '/bin/bash -c curl x' }, { pid: 3, exe: '/usr/sbin/crond', comm: 'crond', cmdline: '/usr/sbin/crond -n' }, SYSTEMD] }), attribution: 'gate' }));
    expect(Object.values(s.software)).toHaveLength(1);
    expect(Object.values(s.software)[0]).toMatchObject({ unit: null, v1: 3 });
  });

  it('services and containers have no job', () => {
    expect(jobOf(p({ unit: 'nginx.service' }))).toBeNull();
    expect(jobOf(p({ unit: 'session-4.scope', container: { runtime: 'docker', id: 'x' } }))).toBeNull();
  });
});

describe('the ledger keys programs by job', () => {
  it("root's and alice's cron jobs and each cron line are separate entries; a person's sessions are one entry", () => {
    const s = emptyState('h', null);
    for (const e of jobEvents()) recordEvent(s, e);
    const entries = Object.values(s.software);
    const cron = entries.filter((e) => e.job?.kind === 'cron' && e.unit === 'cron.service');
    expect(cron.map((e) => e.job?.kind === 'cron' && e.job.user).sort()).toEqual(['alice', 'alice', 'root']);
    const shells = entries.filter((e) => e.job?.kind === 'interactive');
    expect(shells).toHaveLength(1);
    expect(shells[0].sessions).toEqual(['3', '5', '8']);
    expect(shells[0].unit).toBeNull();
    // and it survives a save and load; a malformed job is dropped
    const back = parseState(JSON.stringify(s))!;
    expect(Object.values(back.software).filter((e) => e.job).length).toBe(entries.filter((e) => e.job).length);
    const bad = JSON.parse(JSON.stringify(s));
    for (const e of Object.values(bad.software) as Array<{ job?: unknown }>) if (e.job) e.job = { kind: 'cron', user: 7 };
    expect(Object.values(parseState(JSON.stringify(bad))!.software).some((e) => e.job)).toBe(false);
  });
});
