import { existsSync } from 'node:fs';
import { listDir, listPids, readLink, readPidFile, socketInodeOfLink } from './proc-fs.js';
import type { ProcScan } from './proc-scan.js';
import { parseStatus } from './status.js';
import { isWaiting, waitingFirst } from './waiting-first.js';
import { pidsSince } from './new-pids.js';

/**
 * Second half of the correlator (docs/design.md#attribution): socket inode → the pid holding
 * `socket:[inode]`. Search order: inode cache (verified with one readlink), then the
 * descriptors where recent owners held their sockets (one readlink each: a long-lived client
 * making one-shot calls gets the lowest free fd, so the same few numbers), then the recent
 * owners' whole fd tables (a client with many connections at once: its new socket is at a
 * descriptor none of its recent sockets had; read before /proc is even listed), then the
 * processes started since the last look, found without listing /proc when they are few
 * (newPids, docs/design.md#hold-work; waiting ones first), then pids not seen before (highest first:
 * the one-shot client is usually the newest process; the waiting ones before the others,
 * waiting-first.ts), then processes of the socket's uid, then the rest — until the time budget
 * is spent. Kernel threads are skipped. Every answer is a pid whose fd links to the socket's inode at the
 * time of the lookup; the order only decides how soon it is found. The fd tables are read
 * by the native scanner (proc-scan.ts) when the addon is built, else from JS.
 */
interface PidState {
  uid: number | null;
  kthread: boolean;
  /** false while only the fd table was read (status is filled in by catchUp) */
  complete: boolean;
}

/** recent socket owners remembered, recent descriptors kept per owner, and descriptor probes per lookup */
const OWNER_HINTS = 4;
const FDS_PER_OWNER = 16;
const MAX_HINT_PROBES = 16;
/** longest the recent owners' whole fd tables are read before /proc is listed (ms) */
const RECENT_TABLES_BUDGET_MS = 1;
/** most pids started since the last look that are read without listing /proc (more: list it) */
const NEW_PID_PROBES = 16;
/** socket inodes whose owner is remembered outside prime(), oldest forgotten first (docs/design.md#soak-memory) */
export const MAX_CACHED_INODES = 16_384;

interface RecentOwner {
  pid: number;
  fds: string[];
  /**
   * its last socket was found at the descriptor after its previous one (a burst): the next
   * lookup probes that descriptor first; false (one call at a time: the kernel hands out the
   * same lowest free descriptor again), its recent descriptors first
   */
  nextFirst: boolean;
}

export interface OwnerSearchCounters {
  fdDirsScanned: number;
  inodeCacheHits: number;
  /** owners found at a recent owner's recent descriptor (no fd table read) */
  ownerHintHits: number;
  /** owners found in a recent owner's fd table, before /proc was listed */
  recentOwnerHits: number;
  /** descriptor links read by the recent-owner hints */
  hintLinksRead: number;
  /** owners found among the pids started since the last look, without listing /proc */
  newPidHits: number;
}

export class OwnerSearch {
  private readonly pids = new Map<number, PidState>();
  private readonly inodeOwner = new Map<number, { pid: number; fd: string }>();
  /** recent socket owners, most recent first, each with the descriptors of its recent sockets (most recent first) */
  private readonly owners: RecentOwner[] = [];
  /** a pid became a recent owner since catchUp() last looked for owners that have exited */
  private ownersAdded = false;
  private readonly hintPids = new Int32Array(MAX_HINT_PROBES);
  private readonly hintFds = new Int32Array(MAX_HINT_PROBES);
  /** probeFds sets 1 for the probes of an owner whose process is gone */
  private readonly hintGone = new Int32Array(MAX_HINT_PROBES);
  /** index of the most recent owner's "next descriptor" probe in this lookup (-1: none) */
  private nextProbed = -1;
  /** candidate pids for the native scan (reused) */
  private candidates = new Int32Array(1024);
  /** pids remembered with complete: false since catchUp() last went through all of them (an upper bound) */
  private incomplete = 0;
  readonly counters: OwnerSearchCounters = { fdDirsScanned: 0, inodeCacheHits: 0, ownerHintHits: 0, recentOwnerHits: 0, hintLinksRead: 0, newPidHits: 0 };
  /** the kernel's last pid when the search last looked (pidsSince; null: not known) */
  private lastPid: number | null = null;
  private priming = false; // prime() reads every fd table: the inode cache may hold up to 4 x maxCachedPids meanwhile

  constructor(
    private readonly procRoot: string,
    private readonly procScan: ProcScan | null,
    private readonly maxCachedPids: number,
    /** called with the pids alive whenever dead ones are forgotten (the process cache sweeps) */
    private readonly onForget: (alive: ReadonlySet<number>) => void,
    /** the recent owners' tables' share of a search (tests pass 0: straight to the listing) */
    private readonly recentTablesBudgetMs = RECENT_TABLES_BUDGET_MS,
    private readonly maxInodes = MAX_CACHED_INODES,
  ) {}

  /** every process's sockets, read once outside any hold */
  prime(): void {
    const alive = new Set<number>();
    this.lastPid = pidsSince(this.procRoot, this.procScan, null, 0).last;
    this.priming = true;
    for (const pid of listPids(this.procRoot)) {
      alive.add(pid);
      const st = this.pidState(pid);
      if (st && !st.kthread) this.scanFds(pid, -1);
    }
    this.priming = false;
    this.forgetDead(alive);
  }

  /** the owner remembered for an inode (openConnections: no fd read) */
  ownerOf(inode: number): { pid: number; fd: string } | undefined {
    return this.inodeOwner.get(inode);
  }

  get cachedOwners(): number {
    return this.inodeOwner.size;
  }

  /** the recent owners' pids, most recent first (tests) */
  get recentOwnerPids(): number[] { return this.owners.map((o) => o.pid); }

  find(inode: number, uid: number, deadline: number): number | null | 'budget' {
    const root = this.procRoot;
    const cached = this.inodeOwner.get(inode);
    if (cached && socketInodeOfLink(readLink(`${root}/${cached.pid}/fd/${cached.fd}`) ?? '') === inode) {
      this.counters.inodeCacheHits++;
      this.noteOwner(cached.pid, cached.fd);
      return cached.pid;
    }
    const hint = this.probeOwnerHints(inode);
    if (hint) {
      this.counters.ownerHintHits++;
      return this.found(inode, hint.pid, hint.fd);
    }
    // the recent owners' whole tables (dead ones cost a failed open), before listing /proc;
    // within RECENT_TABLES_BUDGET_MS: past it (a recent owner with a huge fd table, while a
    // new one-shot client waits) the search goes on in the order new pids, recent owners, ...
    const recent = this.owners.map((o) => o.pid);
    const none: ReadonlySet<number> = new Set();
    const soon = Math.min(deadline, performance.now() + this.recentTablesBudgetMs);
    const inRecent = recent.length === 0 ? null : this.procScan ? this.scanNative(inode, soon, recent, none) : this.scanJs(inode, soon, recent, none);
    if (typeof inRecent === 'number') this.counters.recentOwnerHits++;
    if (typeof inRecent === 'number' || (inRecent === 'budget' && soon >= deadline)) return inRecent;
    const recentRead = inRecent === null;
    // the processes started since the last look, without listing /proc (docs/design.md#hold-work)
    const started = this.newPids();
    if (started) {
      const inNew = this.procScan ? this.scanNative(inode, deadline, started, new Set(started)) : this.scanJs(inode, deadline, started, new Set(started));
      if (typeof inNew === 'number') this.counters.newPidHits++;
      if (inNew !== null) return inNew;
    }
    const all = this.procScan ? this.procScan.pids(root) : listPids(root);
    const fresh: number[] = [];
    const again: number[] = [];
    const sameUid: number[] = [];
    const rest: number[] = [];
    for (const pid of all) {
      const st = this.pids.get(pid);
      if (!st) fresh.push(pid);
      else if (st.kthread) continue;
      else if (this.isRecentOwner(pid)) {
        if (!recentRead) again.push(pid);
      } else if (st.uid === uid) sameUid.push(pid);
      else rest.push(pid);
    }
    // the caller waits in connect(): among the new pids, the waiting ones go first (a pid in
    // exec() would make the read wait). New pids: read the fd table only; their status is
    // read later by catchUp(), outside the hold
    const ordered = waitingFirst(root, fresh).concat(again, sameUid, rest);
    const isFresh = new Set(fresh);
    const r = this.procScan ? this.scanNative(inode, deadline, ordered, isFresh) : this.scanJs(inode, deadline, ordered, isFresh);
    if (r !== null) return r;
    if (this.pids.size > all.length * 2) this.forgetDead(new Set(all));
    return null;
  }

  /**
   * The pids started since the last look, found without listing /proc (a `getdents64` of
   * /proc is the dearest system call of a hold, ~120 µs on the lab VM): the kernel's last pid
   * (the last field of /proc/loadavg, in the reader's pid namespace) and every pid above the
   * last one seen. Each one's stat is read, as the waiting-first order does (waiting-first.ts):
   * a pid that does not exist (or a thread's id, exit_signal -1: its process is read by its own
   * pid) is left out; the waiting ones (S, I) come first, then the others (running, in exec(),
   * exiting), each group newest first — the order the listing gives the same pids
   * (docs/design.md#new-pids-running). A client that connects without blocking (curl, Node, Go)
   * is often still running when its SYN is held. null: list /proc (no last pid yet, pids
   * wrapped, more than NEW_PID_PROBES new pids, or none new).
   */
  private newPids(): number[] | null {
    const from = this.lastPid;
    const { last, pids } = pidsSince(this.procRoot, this.procScan, from, NEW_PID_PROBES);
    this.lastPid = last;
    if (from === null || last === null || last <= from || last - from > NEW_PID_PROBES) return null;
    const out: number[] = [];
    let others: number[] | null = null;
    for (const p of pids) {
      if (this.pids.has(p.pid) || p.thread) continue;
      if (isWaiting(p.state)) out.push(p.pid);
      else (others ??= []).push(p.pid);
    }
    if (others) for (const pid of others) out.push(pid);
    return out.length > 0 ? out : null;
  }

  /** Fill in status (uid, kernel thread) of pids first seen during a hold. Cheap to call often; stops after `budgetMs`. */
  catchUp(budgetMs = 5): void {
    if (this.ownersAdded) this.dropExitedOwners();
    if (this.incomplete === 0) return;
    const deadline = performance.now() + budgetMs;
    for (const [pid, st] of this.pids) {
      if (st.complete) continue;
      if (performance.now() > deadline) return;
      this.pids.delete(pid);
      this.pidState(pid);
    }
    this.incomplete = 0;
  }

  get needsCatchUp(): boolean {
    return this.incomplete > 0 || this.ownersAdded;
  }

  /**
   * Outside holds, after a new pid became a recent owner: the recent owners that have exited
   * since are forgotten (docs/design.md#hold-work), so the next hold does not probe their
   * descriptors and open their fd tables only to fail (a one-shot client's owner is gone by
   * the next call: 4 dead owners cost ~9 failed system calls per hold). The newest owner was
   * found a moment ago and is not checked. An exited pid holds no socket: the search finds
   * the same owner either way.
   */
  private dropExitedOwners(): void {
    this.ownersAdded = false;
    for (let i = this.owners.length - 1; i >= 1; i--) {
      if (!existsSync(`${this.procRoot}/${this.owners[i]!.pid}`)) this.owners.splice(i, 1);
    }
  }

  forgetDead(alive: ReadonlySet<number>): void {
    for (const pid of this.pids.keys()) if (!alive.has(pid)) this.pids.delete(pid);
    for (let i = this.owners.length - 1; i >= 0; i--) if (!alive.has(this.owners[i]!.pid)) this.owners.splice(i, 1);
    for (const [inode, o] of this.inodeOwner) if (!alive.has(o.pid)) this.inodeOwner.delete(inode);
    this.onForget(alive);
  }

  private scanJs(inode: number, deadline: number, pids: number[], fresh: ReadonlySet<number>): number | 'budget' | null {
    for (const pid of pids) {
      if (performance.now() > deadline) return 'budget';
      if (fresh.has(pid)) this.remember(pid, { uid: null, kthread: false, complete: false });
      const fd = this.scanFds(pid, inode);
      if (fd !== null) return this.found(inode, pid, fd);
    }
    return null;
  }

  /** the same search as scanJs, in one call of the native scanner */
  private scanNative(inode: number, deadline: number, pids: number[], fresh: ReadonlySet<number>): number | 'budget' | null {
    const count = pids.length;
    if (this.candidates.length < count) this.candidates = new Int32Array(count * 2);
    const c = this.candidates;
    for (let i = 0; i < count; i++) c[i] = pids[i]!;
    const r = this.procScan!.findSocket(this.procRoot, c, count, inode, (deadline - performance.now()) * 1000);
    const read = typeof r === 'number' ? r : r.index + 1;
    this.counters.fdDirsScanned += read;
    for (let k = 0; k < read; k++) if (fresh.has(pids[k]!)) this.remember(pids[k]!, { uid: null, kthread: false, complete: false });
    if (typeof r !== 'number') return this.found(inode, c[r.index]!, String(r.fd));
    return r < count ? 'budget' : null;
  }

  /**
   * The recent owners' recent descriptors (at most MAX_HINT_PROBES links read), each owner's
   * lowest first: the kernel gives a new socket the lowest free descriptor, so with several
   * connections in flight it is the lowest of the recent ones that was closed since, and the
   * ones still in use are higher or lower by turns (most recent first missed half of the
   * time at 500 calls/s from one process). Before them, the descriptor after the most recent
   * owner's last one: a client that opens connections faster than they end (a burst, or SYNs
   * held back to back) has every lower descriptor in use, and its sockets are looked up in
   * the order it opened them.
   */
  private probeOwnerHints(inode: number): { pid: number; fd: string } | null {
    const root = this.procRoot;
    const scan = this.procScan;
    let n = 0;
    this.nextProbed = -1;
    for (const o of this.owners) {
      const first = o === this.owners[0] && o.fds.length > 0;
      const next = first ? [String(Number(o.fds[0]) + 1)] : [];
      const fds = next.concat(o.fds.length > 1 ? o.fds.slice().sort((a, b) => Number(a) - Number(b)) : o.fds);
      if (fds.length > MAX_HINT_PROBES - n) fds.length = MAX_HINT_PROBES - n;
      // the same descriptors either way; a one-at-a-time client's socket is at its recent one
      if (first && !o.nextFirst && fds.length > 1) fds.push(fds.shift()!);
      if (first) this.nextProbed = o.nextFirst || fds.length === 1 ? n : n + fds.length - 1;
      for (const fd of fds) {
        if (scan) {
          this.hintPids[n] = o.pid;
          this.hintFds[n] = Number(fd);
        } else {
          this.counters.hintLinksRead++;
          if (socketInodeOfLink(readLink(`${root}/${o.pid}/fd/${fd}`) ?? '') === inode) return this.hintHit(n, o, fd);
        }
        n++;
      }
    }
    if (!scan || n === 0) return null;
    const gone = this.hintGone.fill(0, 0, n);
    const i = scan.probeFds(root, this.hintPids, this.hintFds, n, inode, gone);
    this.counters.hintLinksRead += i >= 0 ? i + 1 : n;
    const hit = i >= 0 ? this.hintHit(i, this.owners.find((o) => o.pid === this.hintPids[i])!, String(this.hintFds[i])) : null;
    // an owner whose process is gone (its kept directory said so: docs/design.md#owner-dirs) holds no socket:
    // forgotten now, so the recent owners' tables are not opened for it either
    for (let k = 0; k < (i >= 0 ? i : n); k++) {
      const at = gone[k] === 1 ? this.owners.findIndex((o) => o.pid === this.hintPids[k]) : -1;
      if (at >= 0) this.owners.splice(at, 1);
    }
    return hit;
  }

  /** a hint hit at probe `i`: the most recent owner's order for its next lookup follows where this one was */
  private hintHit(i: number, o: RecentOwner, fd: string): { pid: number; fd: string } {
    if (o === this.owners[0] && this.nextProbed >= 0) o.nextFirst = i === this.nextProbed;
    return { pid: o.pid, fd };
  }

  /** the owner of `inode` is `pid` (descriptor `fd`): cached, and remembered as a recent owner */
  private found(inode: number, pid: number, fd: string): number {
    this.cacheInode(inode, pid, fd);
    this.noteOwner(pid, fd);
    return pid;
  }

  private noteOwner(pid: number, fd: string): void {
    const at = this.owners.findIndex((o) => o.pid === pid);
    const o = at >= 0 ? this.owners.splice(at, 1)[0]! : { pid, fds: [], nextFirst: true };
    if (at < 0) this.ownersAdded = true;
    const j = o.fds.indexOf(fd);
    if (j >= 0) o.fds.splice(j, 1);
    o.fds.unshift(fd);
    if (o.fds.length > FDS_PER_OWNER) o.fds.length = FDS_PER_OWNER;
    this.owners.unshift(o);
    if (this.owners.length > OWNER_HINTS) this.owners.length = OWNER_HINTS;
  }

  private isRecentOwner(pid: number): boolean {
    for (const o of this.owners) if (o.pid === pid) return true;
    return false;
  }

  private pidState(pid: number): PidState | null {
    const known = this.pids.get(pid);
    if (known?.complete) return known;
    const text = readPidFile(`${this.procRoot}/${pid}/status`);
    if (!text) {
      this.pids.delete(pid);
      return null;
    }
    const s = parseStatus(text);
    const st: PidState = { uid: s.uid, kthread: s.kthread, complete: true };
    this.remember(pid, st);
    return st;
  }

  private remember(pid: number, st: PidState): void {
    if (!st.complete) this.incomplete++;
    if (this.pids.size >= this.maxCachedPids) this.pids.delete(this.pids.keys().next().value as number);
    this.pids.set(pid, st);
  }

  /** remember an inode's owner: past maxInodes (outside prime) the oldest are forgotten */
  private cacheInode(inode: number, pid: number, fd: string): void {
    const m = this.inodeOwner;
    if (m.size >= this.maxCachedPids * 4) m.clear();
    else if (!this.priming) while (m.size >= this.maxInodes) m.delete(m.keys().next().value as number);
    m.set(inode, { pid, fd });
  }

  /** read a pid's fd table, remember its socket inodes; the descriptor holding `want`, if any */
  private scanFds(pid: number, want: number): string | null {
    const dir = `${this.procRoot}/${pid}/fd`;
    const fds = listDir(dir);
    this.counters.fdDirsScanned++;
    if (!fds) return null;
    let hit: string | null = null;
    for (const fd of fds) {
      const link = readLink(`${dir}/${fd}`);
      if (!link) continue;
      const inode = socketInodeOfLink(link);
      if (inode === null) continue;
      if (!this.inodeOwner.has(inode) || inode === want) this.cacheInode(inode, pid, fd);
      if (inode === want) {
        hit = fd;
        break;
      }
    }
    return hit;
  }
}
