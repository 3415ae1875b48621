import type { ProcessInfo } from '../imds/event.js';
import { scriptInCommand } from './what-ran.js';

/**
 * Which cron job or which person's shell made a call (docs/design.md#jobs): a pure function
 * of the event's process and its ancestors (command lines already redacted by the enricher).
 * The ledger keys programs by it, so root's and alice's cron jobs, or two cron lines, are
 * separate entries, and every ssh session of one person is one entry per program.
 */
export type Job =
  | {
      kind: 'cron';
      /** the nearest scheduler above the process */
      runner: 'cron' | 'anacron';
      user: string;
      /** the job's command as the scheduler ran it (a shell's -c argument, else the exec'd command line); null when no ancestor showed it */
      command: string | null;
      /** the file run-parts ran (/etc/cron.daily/NAME), when the job is a run-parts line */
      part: string | null;
    }
  | {
      kind: 'interactive';
      /** who logged in (sshd's "USER@pts/0"), else the process's user */
      person: string;
      via: 'ssh' | 'console' | 'session';
      /** false: ssh without a terminal (ssh HOST COMMAND, or a tool over ssh) */
      terminal: boolean;
      /** logind session id, or "sshd PID" without logind */
      session: string | null;
    };

const base = (p: string | null | undefined) => (p ? p.slice(p.lastIndexOf('/') + 1) : '');
const nameOf = (a: { exe: string | null; comm: string | null }) => a.comm || base(a.exe);
const CRON = /^(cron|crond)$/;
const ANACRON = /^anacron$/;
const SSHD = /^sshd(-session)?$/;
/** the per-connection sshd: "sshd: alice@pts/0", "sshd-session: alice@notty" (OpenSSH ≥ 9.8) */
const SSHD_USER = /^sshd(?:-session)?: ([^\s@[\]]{1,64})@(\S+)/;
const SHELL = /^(bash|sh|dash|zsh|ksh|mksh|busybox|ash)$/;

const userOf = (p: ProcessInfo) => p.user ?? (p.uid !== null ? `uid ${p.uid}` : 'an unknown user');

/** `/bin/sh -c CMD` → CMD; null when the command line is not a shell's -c */
export function shellCommand(a: { exe: string | null; comm?: string | null; cmdline?: string | null }): string | null {
  const c = a.cmdline ?? null;
  if (!c) return null;
  const m = /^(\S+)\s+-c\s+([\s\S]*)$/.exec(c);
  if (!m || !(SHELL.test(base(m[1])) || SHELL.test(base(a.exe)))) return null;
  return m[2];
}

export function jobOf(p: ProcessInfo): Job | null {
  if (p.container) return null;
  const chain = [{ pid: p.pid, exe: p.exe, comm: base(p.exe), cmdline: p.cmdline }, ...(p.ancestors ?? [])];
  // cron first: on some systems (pam_systemd in cron's PAM stack) a cron job runs in a session scope
  const ri = chain.findIndex((a, i) => i > 0 && (CRON.test(nameOf(a)) || ANACRON.test(nameOf(a))));
  const unit = p.unit ?? '';
  if (ri > 0 || /^(cron|crond|cronie|anacron)\.service$/.test(unit)) {
    const runner = ri > 0 ? (ANACRON.test(nameOf(chain[ri])) ? 'anacron' : 'cron') : unit.startsWith('anacron') ? 'anacron' : 'cron';
    let command: string | null = null;
    let part: string | null = null;
    if (ri > 0) {
      const top = chain[ri - 1];
      command = shellCommand(top) ?? top.cmdline ?? null;
      const rp = chain.findIndex((a, i) => i < ri && i > 0 && base(a.exe) === 'run-parts');
      if (rp > 0) {
        const child = chain[rp - 1];
        part = scriptInCommand(child.exe, child.cmdline ?? null) ?? (child.cmdline ? child.cmdline.split(/\s+/)[0] : null) ?? child.exe;
      }
    }
    return { kind: 'cron', runner, user: userOf(p), command, part };
  }
  const session = /^session-([A-Za-z0-9]+)\.scope$/.exec(unit);
  const sshdAt = chain.findIndex((a) => SSHD.test(nameOf(a)) || SSHD.test(base(a.exe)));
  if (!session && sshdAt < 0) return null;
  const login = chain.map((a) => SSHD_USER.exec(a.cmdline ?? '')).find(Boolean);
  const via = sshdAt >= 0 ? 'ssh' : chain.some((a) => nameOf(a) === 'login') ? 'console' : 'session';
  const sshdPid = login ? chain.find((a) => SSHD_USER.test(a.cmdline ?? ''))?.pid : undefined;
  return {
    kind: 'interactive',
    person: login ? login[1] : userOf(p),
    via,
    terminal: login ? login[2] !== 'notty' : true,
    session: session ? session[1] : sshdPid !== undefined ? `sshd ${sshdPid}` : null,
  };
}

/** the part of a program's key that the job adds (sessions are not in it: one entry per person and program) */
export function jobKey(j: Job): string {
  return j.kind === 'cron' ? JSON.stringify(['cron', j.runner, j.user, j.command, j.part]) : JSON.stringify(['interactive', j.person, j.via, j.terminal]);
}

/** the unit an entry of this job keeps: none for a person's shells or a cron job in a session scope (a new scope each session or run would make a new entry each time) */
export function entryUnit(unit: string | null, job: Job | null): string | null {
  if (job?.kind === 'interactive' || (job && unit && /^session-[A-Za-z0-9]+\.scope$/.test(unit))) return null;
  return unit;
}
