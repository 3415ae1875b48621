import type { SdkInfo, V1Reason } from '../imds/event.js';
import type { SoftwareEntry } from '../ledger/ledger.js';
import { fixFor } from '../enrich/sdk/fix.js';
import { findCronLines, findTimer, type HostFile, type Place } from './job-files.js';

/**
 * A finding's job (docs/design.md#jobs): which cron line, timer or person's shell made the
 * calls. Cron findings are one per program, user and cron line; a person's shells are one
 * finding per person (all programs, all sessions), with words for a person, not for a script.
 */
export interface FindingJob {
  kind: 'cron' | 'interactive' | 'timer';
  /** cron: whose job, which scheduler, its command (redacted), the run-parts file */
  user?: string;
  runner?: 'cron' | 'anacron';
  command?: string | null;
  part?: string | null;
  /** cron: the lines defining it on this host (none when the report did not read this host's files, or no line matched) */
  places?: Place[];
  /** the report read this host's cron files (false: the lines could not be looked up) */
  looked?: boolean;
  /** interactive: who, how, how many sessions, which programs */
  person?: string;
  via?: 'ssh' | 'console' | 'session';
  terminal?: boolean;
  sessions?: number;
  sessionsMore?: boolean;
  programs?: string[];
  /** timer: the timer unit starting this service, its file and schedule line */
  timer?: Place & { timer: string };
}

interface Finding {
  software: string;
  exe: string | null;
  unit: string | null;
  scripts: string[];
  fix?: string;
  job?: FindingJob;
}

/** what a finding's key adds for a job: cron: the job; interactive: the person (not the program) */
export function jobKeyPart(s: SoftwareEntry): { key: string; interactive: boolean } | null {
  const j = s.job;
  if (!j) return null;
  if (j.kind === 'cron') return { key: JSON.stringify(['cron', j.runner, j.user, j.command, j.part]), interactive: false };
  return { key: JSON.stringify(['interactive', j.person, j.via, j.terminal]), interactive: true };
}

const sessionSets = new WeakMap<FindingJob, Set<string>>();
const MAX_PROGRAMS = 8;

/** a new finding's job from its first entry */
export function newFindingJob(s: SoftwareEntry): FindingJob | undefined {
  const j = s.job;
  if (!j) return undefined;
  if (j.kind === 'cron') return { kind: 'cron', user: j.user, runner: j.runner, command: j.command, part: j.part };
  return { kind: 'interactive', person: j.person, via: j.via, terminal: j.terminal, sessions: 0, programs: [] };
}

/** an entry (of `host`) folded into its finding's job */
export function mergeJob(job: FindingJob | undefined, s: SoftwareEntry, host: string, programName: string, v1InWindow: number): void {
  if (job?.kind !== 'interactive') return;
  const set = sessionSets.get(job) ?? sessionSets.set(job, new Set()).get(job)!;
  for (const id of s.sessions ?? []) set.add(`${host}\0${id}`);
  job.sessions = set.size;
  if (s.sessionsMore) job.sessionsMore = true;
  // the programs that called without a token (a person's IMDSv2 calls need nothing)
  if (v1InWindow > 0 && job.programs!.length < MAX_PROGRAMS && !job.programs!.includes(programName)) job.programs!.push(programName);
}

const VIA = { ssh: 'ssh', console: 'console login', session: 'login session' } as const;

/** "interactive use by alice (ssh, 3 sessions)" */
export function interactiveName(j: FindingJob): string {
  const n = j.sessions ?? 0;
  const how = j.via === 'ssh' && j.terminal === false ? 'ssh without a terminal' : VIA[j.via ?? 'session'];
  return `${j.terminal === false ? 'commands over ssh' : 'interactive use'} by ${j.person} (${how}${n ? `, ${n}${j.sessionsMore ? '+' : ''} session${n === 1 ? '' : 's'}` : ''})`;
}

const TOKEN_CURL = 'TOKEN=$(curl -sX PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 300" http://169.254.169.254/latest/api/token), then curl -H "X-aws-ec2-metadata-token: $TOKEN" http://169.254.169.254/latest/meta-data/...';
const TOKEN_WGET = 'TOKEN=$(wget -qO- --method=PUT --header="X-aws-ec2-metadata-token-ttl-seconds: 300" http://169.254.169.254/latest/api/token), then wget -qO- --header="X-aws-ec2-metadata-token: $TOKEN" http://169.254.169.254/latest/meta-data/...';

/** the fix, in words for the job: a person is told what to type; a cron line without a script is "the cron line", not "this script" */
export function jobFix(f: Finding, sdk: SdkInfo | null, reason: V1Reason | null): string {
  const fix = fixFor(sdk, reason);
  const j = f.job;
  if (!j) return fix;
  if (j.kind === 'cron') return f.scripts.length || j.part ? fix : fix.replace(/\bthis script\b/g, "this cron job's command (the cron line above; or move it into a script)");
  if (j.kind !== 'interactive') return fix;
  const who = `someone (${j.person}${j.via === 'ssh' ? ', over ssh' : ''})`;
  if (f.scripts.length) return `${who} ran ${f.scripts.length === 1 ? 'the script' : 'the scripts'} ${f.scripts.slice(0, 3).join(', ')} by hand: ${fix}`;
  const generic = !sdk || sdk.kind === 'http-client' || sdk.kind === 'unknown';
  const prog = sdk && sdk.name !== 'unknown' ? sdk.name : (j.programs ?? []).map((p) => p.slice(p.lastIndexOf('/') + 1)).join(', ') || 'a program';
  if (generic && (reason === 'no-token-attempt' || reason === null)) {
    const eg = /wget/i.test(prog) ? TOKEN_WGET : TOKEN_CURL;
    return `${who} ran ${prog} by hand in a shell: tell them to ask for a token first, e.g. ${eg} (ec2-metadata >= 2.0 from amazon-ec2-utils does this for them)`;
  }
  return `${who} ran ${prog} by hand in a shell: tell them ${fix}`;
}

/** the finding's name and program once every entry is in */
export function finishJob(f: Finding): void {
  const j = f.job;
  if (j?.kind === 'cron') f.software = `${f.software} (${cronWho(j)})`;
  if (j?.kind !== 'interactive') return;
  f.software = interactiveName(j);
  const programs = j.programs ?? [];
  if (programs.length === 1) f.exe = programs[0];
  else if (programs.length > 1) f.exe = null;
}

/**
 * The lines and timers defining each job, from this host's files (report at the edge reads
 * them: src/readiness/host-files.ts). A service started by a timer gets the timer as its job.
 */
export function placeJobs(findings: Finding[], files: HostFile[]): void {
  for (const f of findings) {
    const j = f.job;
    if (j?.kind === 'cron') {
      j.looked = true;
      j.places = findCronLines({ runner: j.runner!, user: j.user!, command: j.command ?? null }, files);
      const p = j.places[0];
      if (p && j.places.length === 1) f.software = f.software.replace(/ \((ana)?cron job of [^()]*\)$/, ` (${cronWho(j)}, ${p.file} line ${p.line})`);
    } else if (!j && f.unit) {
      const t = findTimer(f.unit, files);
      if (t) f.job = { kind: 'timer', timer: t };
    }
  }
}

/** "cron job of alice", "anacron job of root: /etc/cron.daily/x" */
const cronWho = (j: FindingJob) => `${j.runner === 'anacron' ? 'anacron' : 'cron'} job of ${j.user}${j.part ? `: ${j.part}` : ''}`;

/** where a cron job's user looks when its line is not known */
function cronHint(j: FindingJob): string {
  if (j.runner === 'anacron') return '/etc/anacrontab';
  return j.user === 'root' ? '/etc/crontab, /etc/cron.d/*, crontab -l -u root' : `crontab -l -u ${j.user}, or a line for ${j.user} in /etc/crontab or /etc/cron.d/*`;
}

/** plain-text lines (label, value) naming the job; each output sanitizes them */
export function jobLines(j: FindingJob | undefined): Array<[string, string]> {
  if (!j) return [];
  if (j.kind === 'timer' && j.timer) return [['timer', `${j.timer.timer} (${j.timer.file} line ${j.timer.line}: ${j.timer.text})`]];
  if (j.kind === 'interactive') return [['programs', (j.programs ?? []).join(', ')]];
  const out: Array<[string, string]> = [];
  const who = `${j.runner === 'anacron' ? 'anacron' : 'cron'} job of ${j.user}`;
  for (const p of j.places ?? []) out.push(['cron', `${p.file} line ${p.line} (${who}${p.file.includes('/spool/cron/') ? `: crontab -e -u ${j.user}` : ''}): ${p.text}`]);
  if (!(j.places ?? []).length) {
    const what = j.command ? `: ${j.command}` : '';
    out.push(['cron', `${who}${what} (${j.looked ? 'no line of the cron files read matches it: was it changed? ' : ''}look in ${cronHint(j)})`]);
  }
  if (j.part) out.push(['run by', `run-parts: ${j.part}`]);
  return out;
}
