import type { ProcessInfo } from '../imds/event.js';

/**
 * "What to edit": from the process an IMDS call came from, the script an interpreter
 * or shell ran and whose cron job or login session it was. Pure functions of the
 * event's process fields (cmdline is already redacted by the enricher).
 */

/** interpreters and shells whose first non-option argument is the program that really runs */
const INTERPRETER = /^(python[\d.]*|pypy[\d.]*|perl[\d.]*|ruby[\d.]*|node|nodejs|bun|deno|php[\d.]*|lua[\d.]*|Rscript|tclsh[\d.]*|bash|sh|dash|zsh|ksh|mksh|busybox|ash|fish|csh|tcsh)$/;
const SHELL = /^(bash|sh|dash|zsh|ksh|mksh|busybox|ash|fish|csh|tcsh)$/;
/** options of interpreters that take a value (the value is not the script) */
const OPTION_WITH_VALUE = new Set(['-W', '-X', '-I', '-r', '--require', '-e', '-E', '--eval', '-o', '-O', '--rcfile', '--init-file']);
const SCRIPT_EXT = /\.(sh|bash|py|pl|pm|rb|js|mjs|cjs|ts|php|lua|R|tcl|ksh|zsh)$/;

const base = (p: string | null | undefined) => (p ? p.slice(p.lastIndexOf('/') + 1) : '');

/**
 * The script behind an interpreter's or a shell's command line: `python3 /opt/x.py` →
 * `/opt/x.py`, `python3 -m pkg.mod` → `-m pkg.mod`; `sh -c '...'` has no script file.
 * null when the command is not an interpreter or names no script.
 */
export function scriptInCommand(exe: string | null, cmdline: string | null): string | null {
  if (!cmdline) return null;
  const argv = cmdline.split(/\s+/).filter(Boolean);
  if (argv.length < 2) return null;
  const name = base(exe) || base(argv[0]);
  if (!INTERPRETER.test(name)) return null;
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-c' || a === '--command') return null; // inline program, no file
    if (a === '-m' && argv[i + 1] && !SHELL.test(name)) return `-m ${argv[i + 1]}`;
    if (a === '--') continue;
    if (a.startsWith('-')) {
      if (OPTION_WITH_VALUE.has(a)) i++;
      continue;
    }
    if (a.includes('/') || SCRIPT_EXT.test(a)) return a;
    return null;
  }
  return null;
}

/**
 * The script that ran this call: the process's own script argument, else the nearest
 * ancestor that is a script (its command line when the enricher gave one, else the
 * name the kernel shows for it, e.g. comm "tag-volumes.sh" under /usr/bin/dash).
 */
export function scriptOf(p: ProcessInfo): string | null {
  const own = scriptInCommand(p.exe, p.cmdline);
  if (own) return own;
  for (const a of p.ancestors ?? []) {
    const cmd = (a as { cmdline?: string | null }).cmdline ?? null;
    const fromCmd = scriptInCommand(a.exe, cmd);
    if (fromCmd) return fromCmd;
    const exeName = base(a.exe);
    if (a.comm && exeName && INTERPRETER.test(exeName) && a.comm !== exeName && !INTERPRETER.test(a.comm) && SCRIPT_EXT.test(a.comm)) return a.comm;
    // stop at the thing that started the job: cron, a login, systemd
    if (/^(cron|crond|anacron|sshd|login|systemd|containerd-shim.*|runc|conmon|init)$/.test(a.comm ?? base(a.exe))) break;
  }
  return null;
}

/**
 * Whose cron job or login session made the call (the unit alone says "cron.service"
 * for root's /etc/cron.d and alice's crontab alike): a short line naming the user and
 * where the job is defined. null for services and containers (the unit says it).
 */
export function originOf(p: ProcessInfo): string | null {
  const user = p.user ?? (p.uid !== null ? `uid ${p.uid}` : 'an unknown user');
  const unit = p.unit ?? '';
  const viaCron = /^(cron|crond|cronie)\.service$/.test(unit) || (!unit && (p.ancestors ?? []).some((a) => /^(cron|crond)$/.test(a.comm ?? '')));
  if (viaCron) {
    return user === 'root'
      ? 'cron job of root (/etc/crontab, /etc/cron.d/*, /etc/cron.{hourly,daily,...} or crontab -l -u root)'
      : `cron job of ${user} (crontab -l -u ${user}, or a line for ${user} in /etc/crontab or /etc/cron.d/*)`;
  }
  const session = /^session-([A-Za-z0-9]+)\.scope$/.exec(unit);
  if (session) {
    const ssh = (p.ancestors ?? []).some((a) => a.comm === 'sshd' || base(a.exe) === 'sshd');
    return `${ssh ? 'ssh' : 'login'} session ${session[1]} of ${user}`;
  }
  if (/^user@\d+\.service$/.test(unit) || /^app-.*\.scope$/.test(unit)) return `user manager of ${user} (systemctl --user, user timers)`;
  if (/^run-.*\.scope$/.test(unit)) return `transient scope of ${user} (systemd-run)`;
  return null;
}
