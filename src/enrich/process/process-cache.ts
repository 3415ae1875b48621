import type { ProcessInfo } from '../../imds/event.js';
import { containerdTaskCandidate, parseCgroup, type CgroupInfo } from './cgroup.js';
import { TextMemo } from './text-memo.js';
import { ContainerUsers } from './container-users.js';
import { mtimeMs, nsInodeOfLink, readLink, readPidFile, readText } from './proc-fs.js';
import { existsSync } from 'node:fs';
import { parseCmdline, redactArgv } from './redact.js';
import { exeMismatch, hostView, MISMATCH_SUFFIX } from './exe-identity.js';
import { loadProcRead, PF, readPidFilesJs, type PidFiles, type ProcRead } from './proc-read.js';
import { parsePasswd, parseStat, parseStatus } from './status.js';

/**
 * ProcessInfo built from /proc, cached by (pid, starttime) so a reused pid is never confused
 * with the process that had it, and rebuilt when the comm in /proc/PID/stat changed: execve()
 * keeps the pid and the start time but names the new program (a wrapper that execs the client). An entry whose process has exited stays available for
 * `graceMs` (events for a connection can arrive after its client exited), then is dropped.
 * The cache holds at most `maxEntries` processes (least recently used dropped first).
 */
export interface ProcessCacheOptions {
  procRoot: string;
  passwdPath: string;
  graceMs: number;
  maxEntries: number;
  /** longest parent chain recorded */
  maxAncestors: number;
  now: () => number;
  /** containerd's task directory: confirms a free-form "/<namespace>/<id>" cgroup */
  containerdTaskDir?: string;
  /** a pid's files in one call (proc-read.ts); default: the addon when built; null: from JS */
  procRead?: ProcRead | null;
}

interface Entry {
  info: ProcessInfo;
  startTime: number;
  /** the comm the entry was built with (an exec since changes it) */
  comm: string;
  lastAliveMs: number;
  /** performance.now() when /proc/PID/stat last showed this process (startTime) */
  checkedAt: number;
}

/**
 * A caller that has just seen the pid hold a socket (an fd link read a moment ago) knows the
 * pid is alive; if the cached entry was checked against /proc/PID/stat less than this long
 * ago, it is still the same process: the kernel hands out pids cyclically, so the pid can only
 * have been reused after every other free pid was used (pid_max is at least 32 768: over
 * 100 000 forks a second). Saves reading stat on every call of a long-lived client.
 */
export const OWNER_RECHECK_MS = 250;

interface Ancestor {
  startTime: number;
  /** when the entry was last checked against /proc/PID/stat */
  checkedMs: number;
  ppid: number;
  exe: string | null;
  comm: string;
  /** redacted argv: names the script a shell or interpreter parent ran */
  cmdline: string | null;
  /** when a chain last named it (refreshAncestors re-checks only those named lately) */
  usedMs: number;
  /** refreshAncestors found it gone or another process: left to expire and be read on next use */
  stale?: true;
}

/** (uid_t)-1 / (unsigned)-1: the audit loginuid or sessionid was never set (no login) */
const AUDIT_UNSET = 4294967295;

/** a /proc/PID/loginuid or sessionid value, or null when unset, missing (no CONFIG_AUDIT) or not a number */
export function auditId(text: string | null): number | null {
  const t = text?.trim();
  if (!t || !/^\d{1,10}$/.test(t)) return null;
  const n = Number(t);
  return n >= AUDIT_UNSET ? null : n;
}

export class ProcessCache {
  private readonly entries = new Map<number, Entry>();
  private readonly ancestors = new Map<number, Ancestor>();
  private users: Map<number, string> = new Map();
  private passwdMtime: number | null = -1;
  private usersCheckedMs = -Infinity;
  readonly counters = { built: 0, hits: 0, graceHits: 0, evicted: 0 };
  private readonly containerUsers: ContainerUsers;
  /** earliest time (opts.now) an ancestor named lately is due for refreshAncestors */
  private nextAncestorDue = Infinity;

  private readonly read: ProcRead;
  /** parsed cgroup files by their text (pure; docs/design.md#hold-read) */
  private readonly cgroups = new TextMemo(parseCgroup);

  constructor(private readonly opts: ProcessCacheOptions) {
    this.containerUsers = new ContainerUsers(opts.procRoot, opts.now);
    this.read = (opts.procRead === undefined ? loadProcRead() : opts.procRead) ?? readPidFilesJs;
  }

  /**
   * Info for a live pid (built or refreshed), or the cached info of a recently dead one.
   * `seenAlive`: the caller saw this pid hold a socket just now (see OWNER_RECHECK_MS).
   */
  get(pid: number, uidHint: number | null = null, seenAlive = false): ProcessInfo | null {
    const p = this.opts.procRoot;
    const cached = this.entries.get(pid);
    if (seenAlive && cached && performance.now() - cached.checkedAt < OWNER_RECHECK_MS) {
      cached.lastAliveMs = this.opts.now();
      this.entries.delete(pid);
      this.entries.set(pid, cached); // LRU order
      this.counters.hits++;
      return cached.info;
    }
    // a pid not cached is built: its stat and the rest in one read (docs/design.md#hold-read)
    // a socket's owner (seenAlive): its /proc directory stays open for the next lookups' probes (docs/design.md#owner-dirs)
    const files = cached ? null : this.readFiles(pid, PF.stat | this.buildMask(uidHint) | (seenAlive ? PF.keepDir : 0));
    const stat = parseStatOf(files ? files.stat ?? null : readPidFile(`${p}/${pid}/stat`));
    if (!stat) {
      if (cached && this.opts.now() - cached.lastAliveMs <= this.opts.graceMs) {
        this.counters.graceHits++;
        return cached.info;
      }
      return null;
    }
    if (cached && cached.startTime === stat.startTime && cached.comm === stat.comm) {
      cached.lastAliveMs = this.opts.now();
      cached.checkedAt = performance.now();
      this.entries.delete(pid);
      this.entries.set(pid, cached); // LRU order
      this.counters.hits++;
      return cached.info;
    }
    const info = this.build(pid, stat, uidHint, files ?? this.readFiles(pid, this.buildMask(uidHint)));
    if (!info) return null;
    this.entries.delete(pid);
    this.entries.set(pid, { info, startTime: stat.startTime, comm: stat.comm, lastAliveMs: this.opts.now(), checkedAt: performance.now() });
    this.counters.built++;
    this.trim();
    return info;
  }

  /** ancestors named lately are due for their re-check (refreshAncestors, outside holds) */
  ancestorsDue(): boolean {
    return this.opts.now() >= this.nextAncestorDue;
  }

  /**
   * Re-check, outside the SYN gate's holds, the parent-chain entries named lately that are
   * close to ANCESTOR_RECHECK_MS old (docs/design.md#hold-work): the check a hold would make
   * when an entry expires (stat read, same start time), made ahead, so a client's calls under
   * sustained traffic do not pay a chain of stat reads every 2 s inside the hold. An entry
   * still names a process checked within ANCESTOR_RECHECK_MS, as before; one found gone or
   * changed is left as it is, to expire and be read again when next used (as before).
   */
  refreshAncestors(deadline: number): void {
    const now = this.opts.now();
    let next = Infinity;
    for (const [pid, a] of this.ancestors) {
      if (a.stale || now - a.usedMs > ANCESTOR_WARM_MS) continue;
      if (now - a.checkedMs >= ANCESTOR_RECHECK_MS - ANCESTOR_AHEAD_MS) {
        if (performance.now() > deadline) {
          next = now;
          break;
        }
        const stat = parseStatOf(readPidFile(`${this.opts.procRoot}/${pid}/stat`));
        if (!stat || stat.startTime !== a.startTime) {
          a.stale = true;
          continue;
        }
        a.checkedMs = now;
      }
      next = Math.min(next, a.checkedMs + ANCESTOR_RECHECK_MS - ANCESTOR_AHEAD_MS);
    }
    this.nextAncestorDue = next;
  }

  /** Drop entries dead for longer than the grace period (call now and then). */
  sweep(alivePids: ReadonlySet<number>): void {
    const now = this.opts.now();
    for (const [pid, e] of this.entries) {
      if (alivePids.has(pid)) e.lastAliveMs = now;
      else if (now - e.lastAliveMs > this.opts.graceMs) {
        this.entries.delete(pid);
        this.counters.evicted++;
      }
    }
    for (const pid of this.ancestors.keys()) if (!alivePids.has(pid)) this.ancestors.delete(pid);
  }

  size(): number {
    return this.entries.size;
  }

  userName(uid: number | null): string | null {
    if (uid === null) return null;
    const now = this.opts.now();
    if (now - this.usersCheckedMs > 5_000) {
      this.usersCheckedMs = now;
      const m = mtimeMs(this.opts.passwdPath);
      if (m !== this.passwdMtime) {
        this.passwdMtime = m;
        const text = readText(this.opts.passwdPath);
        this.users = text ? parsePasswd(text) : new Map();
      }
    }
    return this.users.get(uid) ?? null;
  }

  /** user name of a host uid inside a container: mapped through the process's uid_map, then its /etc/passwd */
  userInContainer(pid: number, hostUid: number | null): string | null {
    const p = `${this.opts.procRoot}/${pid}`;
    const inside = uidInside(readText(`${p}/uid_map`) ?? '', hostUid);
    return this.containerUsers.nameOf(pid, inside, readLink(`${p}/ns/mnt`) ?? `pid:${pid}`);
  }

  /** the files build() reads (status only without the socket's uid) */
  private buildMask(uidHint: number | null): number {
    return PF.loginuid | PF.sessionid | PF.exe | PF.cmdline | PF.cgroup | (uidHint === null ? PF.status : 0) | PF.nsNet | PF.nsMnt | PF.exeDevIno | PF.hostDevIno;
  }

  private readFiles(pid: number, mask: number): PidFiles {
    return this.read(this.opts.procRoot, pid, mask, hostView(this.opts.procRoot)) ?? {};
  }

  /**
   * `uidHint`: the socket owner's uid from /proc/net/tcp saves reading status while a SYN is held.
   * `f`: the process's files, read in that order in one call (proc-read.ts): first the login,
   * then the exe: a one-shot caller may exit while it is read (its /proc files go all at once),
   * and these two name it best; the login is then there whenever the exe is
   */
  private build(pid: number, stat: { comm: string; ppid: number; startTime: number }, uidHint: number | null, f: PidFiles): ProcessInfo | null {
    const p = `${this.opts.procRoot}/${pid}`;
    const login = this.login(f);
    const exe = exeOf(f.exe ?? null);
    const cmdlineRaw = f.cmdline ?? null;
    const cgroupText = f.cgroup ?? null;
    const cg = cgroupText ? ownCopy(this.cgroups.get(cgroupText)) : null;
    let container = cg?.container ?? null;
    if (!container && cg) {
      const task = containerdTaskCandidate(cg.path);
      const dir = this.opts.containerdTaskDir ?? '/run/containerd/io.containerd.runtime.v2.task';
      if (task && existsSync(`${dir}/${task.namespace}/${task.id}`)) container = { runtime: 'containerd', id: task.id };
    }
    const uid = uidHint ?? parseStatus(f.status ?? '').uid;
    // in a container the uid is the container's: its name comes from the container's /etc/passwd
    const mntKey = container ? f.nsMnt ?? `pid:${pid}` : null;
    // a borrowed name (another file mounted at the path, in a mount namespace of the caller's own)
    const mismatch = container ? null : exeMismatch(this.opts.procRoot, exe, { nsMnt: f.nsMnt ?? null, exeDevIno: f.exeDevIno ?? null, hostDevIno: f.hostDevIno ?? null });
    return {
      pid,
      exe: mismatch ? `${exe}${MISMATCH_SUFFIX}` : exe,
      cmdline: cmdlineRaw ? redactArgv(parseCmdline(cmdlineRaw)) : null,
      uid,
      user: mntKey ? this.containerUsers.nameOf(pid, uidInside(readText(`${p}/uid_map`) ?? '', uid), mntKey) : this.userName(uid),
      unit: cg?.unit ?? null,
      container,
      ancestors: this.chain(stat.ppid),
      netns: nsInodeOfLink(f.nsNet ?? null),
      ...(mismatch ? { exeMismatch: mismatch } : {}),
      ...login,
    };
  }

  /** the login session (audit loginuid, sessionid): only for a process started in one; its user named by the host's passwd (the login happened on the host) */
  private login(f: PidFiles): Pick<ProcessInfo, 'login'> {
    const uid = auditId(f.loginuid ?? null);
    if (uid === null) return {};
    return { login: { uid, user: this.userName(uid), session: auditId(f.sessionid ?? null) } };
  }

  private chain(ppid: number): ProcessInfo['ancestors'] {
    const out: ProcessInfo['ancestors'] = [];
    let pid = ppid;
    const seen = new Set<number>();
    while (pid > 0 && out.length < this.opts.maxAncestors && !seen.has(pid)) {
      seen.add(pid);
      const a = this.ancestor(pid);
      if (!a) {
        out.push({ pid, exe: null, comm: null });
        break;
      }
      out.push({ pid, exe: a.exe, comm: a.comm, cmdline: a.cmdline });
      if (pid === 1) break;
      pid = a.ppid;
    }
    return out;
  }

  /** parent chain entries are re-checked at most every ANCESTOR_RECHECK_MS (a parent outlives its child's SYN) */
  private ancestor(pid: number): Ancestor | null {
    const now = this.opts.now();
    const c = this.ancestors.get(pid);
    if (c && now - c.checkedMs < ANCESTOR_RECHECK_MS) {
      c.usedMs = now;
      return c;
    }
    // a pid not known yet: its stat, exe and command line in one read (docs/design.md#hold-read)
    const files = c ? null : this.read(this.opts.procRoot, pid, PF.stat | PF.exe | PF.cmdline, null);
    const stat = parseStatOf(files ? files.stat ?? null : readPidFile(`${this.opts.procRoot}/${pid}/stat`));
    if (!stat) return null;
    if (c && c.startTime === stat.startTime) {
      c.checkedMs = now;
      c.usedMs = now;
      delete c.stale;
      this.dueAt(now);
      return c;
    }
    const a: Ancestor = {
      startTime: stat.startTime,
      checkedMs: now,
      ppid: stat.ppid,
      comm: stat.comm,
      exe: exeOf(files ? files.exe ?? null : readLink(`${this.opts.procRoot}/${pid}/exe`)),
      // the parent's command line names the cron script / agent script
      cmdline: ancestorCmdline(files ? files.cmdline ?? null : readPidFile(`${this.opts.procRoot}/${pid}/cmdline`)),
      usedMs: now,
    };
    this.ancestors.set(pid, a);
    this.dueAt(now);
    return a;
  }

  private dueAt(checkedMs: number): void {
    this.nextAncestorDue = Math.min(this.nextAncestorDue, checkedMs + ANCESTOR_RECHECK_MS - ANCESTOR_AHEAD_MS);
  }

  private trim(): void {
    while (this.entries.size > this.opts.maxEntries) {
      const oldest = this.entries.keys().next().value as number;
      this.entries.delete(oldest);
      this.counters.evicted++;
    }
    if (this.ancestors.size > this.opts.maxEntries * 2) this.ancestors.clear();
  }
}

const ANCESTOR_RECHECK_MS = 2_000;
/** refreshAncestors re-checks an entry this long before it would expire */
const ANCESTOR_AHEAD_MS = 500;
/** and only entries a chain named within this long (a host's agents and their shells) */
const ANCESTOR_WARM_MS = 10_000;
/** an ancestor's redacted command line, cut to this many characters */
const MAX_ANCESTOR_CMDLINE = 300;

function ancestorCmdline(raw: string | null): string | null {
  if (!raw) return null;
  const c = redactArgv(parseCmdline(raw));
  return c.length > MAX_ANCESTOR_CMDLINE ? c.slice(0, MAX_ANCESTOR_CMDLINE) : c;
}

/** a memo's CgroupInfo with its container copied (the ProcessInfo owns what it carries) */
function ownCopy(cg: CgroupInfo): CgroupInfo {
  const c = cg.container;
  return c ? { ...cg, container: { ...c, ...(c.pod ? { pod: { ...c.pod } } : {}) } } : cg;
}

function parseStatOf(text: string | null) {
  return text ? parseStat(text) : null;
}

/** readlink of /proc/PID/exe; " (deleted)" suffix kept off the path */
function exeOf(link: string | null): string | null {
  if (!link) return null;
  return link.endsWith(' (deleted)') ? link.slice(0, -10) : link;
}


/**
 * A host uid as seen inside the process's user namespace (uid_map lines "inside outside
 * count"); the uid itself when no line maps it (no user namespace: "0 0 4294967295").
 */
export function uidInside(uidMap: string, hostUid: number | null): number | null {
  if (hostUid === null) return null;
  for (const line of uidMap.split('\n')) {
    const [inside, outside, count] = line.trim().split(/\s+/).map(Number);
    if (inside === undefined || outside === undefined || count === undefined || !Number.isFinite(count)) continue;
    if (hostUid >= outside && hostUid < outside + count) return inside + (hostUid - outside);
  }
  return hostUid;
}
