import { redactArgv } from '../enrich/process/redact.js';

/**
 * Where a cron job or a timer is defined (docs/design.md#jobs): pure functions over the texts
 * of this host's cron and timer files, which `imdswatch report` reads at its edge
 * (src/readiness/host-files.ts). A job's command is matched as the enricher recorded it
 * (redacted, cut), so a line is compared after the same redaction; a line is shown redacted.
 */
export interface HostFile {
  path: string;
  text: string;
  /** system: /etc/crontab, /etc/cron.d/* (a user field); user: a user's crontab (its owner); anacron: /etc/anacrontab; timer: a systemd .timer unit */
  kind: 'system' | 'user' | 'anacron' | 'timer';
  /** a user crontab's owner (its file name) */
  user?: string;
}

export interface Place {
  file: string;
  /** 1-based */
  line: number;
  /** the line as shown: schedule and user fields as written, the command redacted */
  text: string;
}

interface CronLine extends Place {
  user: string;
  command: string;
  anacron: boolean;
}

/** fields before the command: 5 time fields (or @reboot…), then the user in system crontabs; anacrontab: period, delay, job id */
function cronLines(f: HostFile): CronLine[] {
  const out: CronLine[] = [];
  f.text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    // VAR=value lines (never shown: they may carry secrets)
    if (/^[A-Za-z_][A-Za-z0-9_]*\s*=/.test(line)) return;
    const fields = f.kind === 'anacron' ? 3 : (line.startsWith('@') ? 1 : 5) + (f.kind === 'system' ? 1 : 0);
    const m = new RegExp(`^((?:\\S+\\s+){${fields}})([\\s\\S]+)$`).exec(line);
    if (!m) return;
    const head = m[1].trim().split(/\s+/);
    const user = f.kind === 'system' ? head[head.length - 1] : f.kind === 'user' ? (f.user ?? '') : 'root';
    const command = m[2].trim();
    out.push({ file: f.path, line: i + 1, user, command, anacron: f.kind === 'anacron', text: `${head.join(' ')} ${shownCommand(command)}` });
  });
  return out;
}

/** cron: the command up to the first unescaped %, \% read as % (crontab(5)) */
function cronCommand(c: string): string {
  const m = /^((?:[^%\\]|\\[\s\S])*)/.exec(c);
  return (m ? m[1] : c).replace(/\\%/g, '%');
}

/** the command as the report may show it: redacted like a recorded command line */
function shownCommand(c: string): string {
  return redactArgv([c], { maxLength: 600, maxArgLength: 600, maxArgs: 1 });
}

const squash = (s: string) => s.replace(/\s+/g, ' ').trim();

/** shell words of a simple command (quotes removed, redirections dropped); null when it is not one */
function simpleWords(c: string): string[] | null {
  if (/[;&|`$()<>]/.test(c.replace(/\s\d?>>?\s*\S+|\s\d?<\s*\S+|\s\d>&\d/g, ''))) return null;
  const words: string[] = [];
  for (const m of c.replace(/\s\d?>>?\s*\S+|\s\d?<\s*\S+|\s\d>&\d/g, '').matchAll(/'([^']*)'|"((?:[^"\\]|\\.)*)"|(\S+)/g)) words.push(m[1] ?? m[2]?.replace(/\\(.)/g, '$1') ?? m[3]);
  return words;
}

const base = (p: string) => p.slice(p.lastIndexOf('/') + 1);

/** 3: the recorded command is the line's command; 2: it is the line's, cut; 1: the line is a simple command the job exec'd; 0: no */
function score(job: string, line: string): number {
  const cmd = cronCommand(line);
  const shown = squash(redactArgv([cmd]));
  const j = squash(job);
  if (j === shown) return 3;
  const cut = j.endsWith('…') ? j.slice(0, -1) : j.length >= 290 ? j : null;
  if (cut && cut.length >= 20 && shown.startsWith(cut)) return 2;
  // a shell that exec'd a simple command (bash -c): the argv, quotes and redirections gone
  const words = simpleWords(cmd);
  if (!words || !words.length) return 0;
  const argv = squash(redactArgv([base(words[0]), ...words.slice(1)]));
  const jw = j.split(' ');
  const jobArgv = [base(jw[0] ?? ''), ...jw.slice(1)].join(' ');
  return argv === jobArgv ? 1 : 0;
}

/**
 * The lines of `files` that define a cron job of `user` with `command` (as recorded), best
 * match only; several when several lines match equally. anacron jobs are looked up in the
 * anacrontab, cron jobs in the system and users' crontabs.
 */
export function findCronLines(job: { runner: 'cron' | 'anacron'; user: string; command: string | null }, files: HostFile[]): Place[] {
  if (!job.command) return [];
  let best = 0;
  let out: Place[] = [];
  for (const f of files) {
    if (f.kind === 'timer' || (job.runner === 'anacron') !== (f.kind === 'anacron')) continue;
    for (const l of cronLines(f)) {
      if (l.user !== job.user) continue;
      const s = score(job.command, l.command);
      if (s === 0 || s < best) continue;
      if (s > best) (best = s), (out = []);
      out.push({ file: l.file, line: l.line, text: l.text });
    }
  }
  return out.slice(0, 5);
}

/** the timer that starts `service` (its Unit=, else the timer of the same name), with the line of its first schedule */
export function findTimer(service: string, files: HostFile[]): (Place & { timer: string }) | null {
  if (!/\.service$/.test(service)) return null;
  let byName: (Place & { timer: string }) | null = null;
  for (const f of files) {
    if (f.kind !== 'timer') continue;
    const timer = base(f.path);
    const lines = f.text.split('\n');
    const unitAt = lines.findIndex((l) => /^\s*Unit\s*=/.test(l));
    const target = unitAt >= 0 ? lines[unitAt].replace(/^\s*Unit\s*=\s*/, '').trim() : timer.replace(/\.timer$/, '.service');
    if (target !== service) continue;
    const schedAt = lines.findIndex((l) => /^\s*On(Calendar|BootSec|StartupSec|UnitActiveSec|UnitInactiveSec|ActiveSec)\s*=/.test(l));
    const at = schedAt >= 0 ? schedAt : Math.max(unitAt, 0);
    const place = { timer, file: f.path, line: at + 1, text: (lines[at] ?? '').trim().slice(0, 200) };
    if (unitAt >= 0) return place;
    byName ??= place;
  }
  return byName;
}
