import type { ContainerInfo, ProcessInfo } from '../../imds/event.js';
import { findBehindProxy, isUserModeNetProxy, PROXY_LOOKUP_BUDGET_MS } from './netproxy.js';
import { ContainerResolver, type ContainerResolverStats } from '../container/container-resolver.js';
import { canonicalIp } from '../../domain/address.js';
import { ProcessCache } from './process-cache.js';
import { listDir, listPids, nsInodeOfLink, readLink, readText, socketInodeOfLink } from './proc-fs.js';
import { encodeProcNetAddress, findProcNetTcpRow, parseProcNetTcp, TCP_ESTABLISHED, type ProcNetTcpEntry } from './proc-net-tcp.js';
import { loadSockDiag, type SockDiag, type SockDiagRow, type SockDiagStats } from './sock-diag.js';
import { parseStatus } from './status.js';
import { loadProcScan, type ProcScan } from './proc-scan.js';

/**
 * The /proc correlator: 4-tuple → socket row (netlink sock_diag when the native addon is built,
 * else /proc/net/tcp{,6}; in every other network namespace sock_diag when the namespace can be
 * entered, else /proc/PID/net/tcp{,6} of a representative process) → the pid holding
 * `socket:[inode]` → ProcessInfo. Synchronous on purpose: the SYN gate runs it inside the NFQUEUE callback
 * while the client waits in connect().
 *
 * Owner search order: inode cache (verified with one readlink), then the descriptors where
 * recent owners held their sockets (one readlink each: a long-lived client making one-shot
 * calls gets the lowest free fd, so the same few numbers), then pids not seen before (highest
 * first: the one-shot client is usually the newest process), then the recent owners' whole fd
 * tables, then processes of the socket's uid, then the rest — until the time budget is spent.
 * Kernel threads are skipped. Every answer is a pid whose fd links to the socket's inode at
 * the time of the lookup; the order only decides how soon it is found. The fd tables are read
 * by the native scanner (proc-scan.ts) when the addon is built, else from JS.
 */
export interface SocketTuple {
  srcIp: string;
  srcPort: number;
  dstIp: string;
  dstPort: number;
  ipVersion: 4 | 6;
}

export type LookupOutcome = 'found' | 'no-socket' | 'no-owner' | 'budget';

export interface OwnerLookup {
  process: ProcessInfo | null;
  /** network namespace of the socket (inode of /proc/PID/ns/net), when known */
  netnsInode: number | null;
  elapsedMs: number;
  outcome: LookupOutcome;
  socket: { inode: number; uid: number; state: number } | null;
}

export interface CorrelatorOptions {
  procRoot: string;
  passwdPath: string;
  /** how long a dead process's info stays available */
  graceMs: number;
  maxCachedProcesses: number;
  /** most pid → sockets sets kept */
  maxCachedPids: number;
  /**
   * names for a container id / pod uid found in the cgroup (src/enrich/container); default: a
   * ContainerResolver over the host's runtime metadata; null: ids only
   */
  containerResolver?: ContainerNamer | null;
  /**
   * socket rows through netlink sock_diag (src/enrich/process/sock-diag.ts); default: the native
   * addon when procRoot is /proc and it is built; null: /proc/net/tcp only
   */
  sockDiag?: SockDiag | null;
  /** the owner search in C (src/enrich/process/proc-scan.ts); default: the addon when built; null: JS */
  procScan?: ProcScan | null;
}

/** what the correlator needs of a container resolver (ContainerResolver, or a stand-in) */
export interface ContainerNamer {
  resolve(c: ContainerInfo): ContainerInfo;
  stats?(): ContainerResolverStats;
}

export const DEFAULT_CORRELATOR_OPTIONS: CorrelatorOptions = {
  procRoot: '/proc',
  passwdPath: '/etc/passwd',
  graceMs: 30_000,
  maxCachedProcesses: 4_096,
  maxCachedPids: 65_536,
};

export interface CorrelatorStats {
  lookups: number;
  found: number;
  noSocket: number;
  noOwner: number;
  budgetExceeded: number;
  fdDirsScanned: number;
  inodeCacheHits: number;
  /** owners found at a recent owner's recent descriptor (no fd table read) */
  ownerHintHits: number;
  processCache: ProcessCache['counters'];
  /** container name lookups (src/enrich/container), when the resolver counts them */
  containers?: ContainerResolverStats;
  /** netlink sock_diag queries, when the addon is in use */
  sockDiag?: SockDiagStats;
}

interface PidState {
  uid: number | null;
  kthread: boolean;
  netns: number | null;
  /** false while only the fd table was read (status and netns are filled in by catchUp) */
  complete: boolean;
}

const NETNS_REFRESH_MS = 200;
/** recent socket owners remembered, recent descriptors kept per owner, and descriptor probes per lookup */
const OWNER_HINTS = 4;
const FDS_PER_OWNER = 8;
const MAX_HINT_PROBES = 8;

function rowNeedle(local: { ip: string; port: number }, remote: { ip: string; port: number }, ipv6: boolean): string | undefined {
  const l = encodeProcNetAddress(local.ip, local.port, ipv6);
  const r = encodeProcNetAddress(remote.ip, remote.port, ipv6);
  return l && r ? `${l} ${r}` : undefined;
}

function diagEntry(r: SockDiagRow, local: { ip: string; port: number }, remote: { ip: string; port: number }): ProcNetTcpEntry {
  return { localIp: local.ip, localPort: local.port, remoteIp: remote.ip, remotePort: remote.port, state: r.state, uid: r.uid, inode: r.inode, v4Mapped: false };
}

export class ProcCorrelator {
  private readonly opts: CorrelatorOptions;
  private readonly pids = new Map<number, PidState>();
  private readonly inodeOwner = new Map<number, { pid: number; fd: string }>();
  private readonly processes: ProcessCache;
  private readonly ownNetns: number | null;
  private readonly containers: ContainerNamer | null;
  private readonly sockDiag: SockDiag | null;
  /** netns inode → a pid living in it */
  private netnsRep = new Map<number, number>();
  private netnsRefreshedAt = -Infinity;
  private readonly procScan: ProcScan | null;
  /** canonicalIp of the few address texts a host's IMDS calls use (bounded) */
  private readonly canonicalText = new Map<string, string>();
  /** recent socket owners, most recent first, each with the descriptors of its recent sockets (most recent first) */
  private readonly owners: Array<{ pid: number; fds: string[] }> = [];
  private readonly hintPids = new Int32Array(MAX_HINT_PROBES);
  private readonly hintFds = new Int32Array(MAX_HINT_PROBES);
  /** candidate pids for the native scan (reused) */
  private candidates = new Int32Array(1024);
  /** pids remembered with complete: false since catchUp() last went through all of them (an upper bound) */
  private incomplete = 0;
  private readonly counters = { lookups: 0, found: 0, noSocket: 0, noOwner: 0, budgetExceeded: 0, fdDirsScanned: 0, inodeCacheHits: 0, ownerHintHits: 0 };

  constructor(opts: Partial<CorrelatorOptions> = {}) {
    this.opts = { ...DEFAULT_CORRELATOR_OPTIONS, ...opts };
    this.processes = new ProcessCache({
      procRoot: this.opts.procRoot,
      passwdPath: this.opts.passwdPath,
      graceMs: this.opts.graceMs,
      maxEntries: this.opts.maxCachedProcesses,
      maxAncestors: 64,
      now: () => Date.now(),
    });
    this.ownNetns = nsInodeOfLink(readLink(`${this.opts.procRoot}/self/ns/net`));
    this.containers = this.opts.containerResolver === undefined ? new ContainerResolver() : this.opts.containerResolver;
    this.sockDiag = this.opts.sockDiag !== undefined ? this.opts.sockDiag : this.opts.procRoot === '/proc' ? loadSockDiag() : null;
    this.procScan = this.opts.procScan !== undefined ? this.opts.procScan : loadProcScan();
  }

  /**
   * Snapshot every process's sockets once (call at start, outside any hold), so later lookups
   * know which pids are new and which inodes belong to whom.
   */
  prime(): void {
    const alive = new Set<number>();
    for (const pid of listPids(this.opts.procRoot)) {
      alive.add(pid);
      const st = this.pidState(pid);
      if (st && !st.kthread) this.scanFds(pid, -1);
    }
    this.forgetDead(alive);
  }

  findSocketOwner(tuple: SocketTuple, budgetMs = 50): OwnerLookup {
    const t0 = performance.now();
    const deadline = t0 + budgetMs;
    this.counters.lookups++;
    const done = (outcome: LookupOutcome, process: ProcessInfo | null, netns: number | null, row: ProcNetTcpEntry | null): OwnerLookup => {
      const key = outcome === 'found' ? 'found' : outcome === 'no-socket' ? 'noSocket' : outcome === 'no-owner' ? 'noOwner' : 'budgetExceeded';
      this.counters[key]++;
      return {
        process,
        netnsInode: netns,
        elapsedMs: performance.now() - t0,
        outcome,
        socket: row ? { inode: row.inode, uid: row.uid, state: row.state } : null,
      };
    };

    const local = { ip: this.canonical(tuple.srcIp), port: tuple.srcPort };
    const remote = { ip: this.canonical(tuple.dstIp), port: tuple.dstPort };
    let found = this.findOwnRow(tuple.ipVersion, local, remote);
    let netns = this.ownNetns;
    if (!found) {
      const other = this.findRowInOtherNetns(tuple.ipVersion, local, remote, deadline);
      if (other) {
        found = other.row;
        netns = other.netns;
      }
    }
    if (!found && this.sockDiag && performance.now() < deadline) {
      // last resort: a socket bound to a device (SO_BINDTODEVICE) escapes the exact lookup
      const r = this.sockDiag.scan({ srcIp: local.ip, srcPort: local.port, dstIp: remote.ip, dstPort: remote.port });
      if (r) found = diagEntry(r, local, remote);
    }
    if (!found) return done(performance.now() > deadline ? 'budget' : 'no-socket', null, null, null);

    const pid = this.findOwner(found.inode, found.uid, deadline);
    if (pid === 'budget') return done('budget', null, netns, found);
    if (pid === null) return done('no-owner', null, netns, found);
    // the fd link was read just now: the pid is alive (ProcessCache.get's seenAlive)
    const info = this.describe(pid, found.uid, remote, netns, deadline, true);
    return info ? done('found', info, netns, found) : done('no-owner', null, netns, found);
  }

  /**
   * Who holds each connection that is open right now to a peer `wanted` accepts (the daemon
   * passes the IMDS addresses): read once at start, in every network namespace, so a
   * keep-alive connection opened before the daemon is still attributed when its owner exits
   * before the capture's first byte of it is processed (docs/design.md#attribution).
   * Established client sockets only; at most `max` connections; `budgetMs` bounds the whole read.
   */
  openConnections(
    wanted: (remoteIp: string, remotePort: number) => boolean,
    budgetMs = 200,
    max = 4_096,
  ): Array<{ tuple: SocketTuple; process: ProcessInfo }> {
    const deadline = performance.now() + budgetMs;
    if (this.inodeOwner.size === 0) this.prime();
    this.refreshNetns();
    const dirs: Array<{ dir: string; netns: number | null }> = [{ dir: `${this.opts.procRoot}/net`, netns: this.ownNetns }];
    for (const [netns, pid] of this.netnsRep) if (netns !== this.ownNetns) dirs.push({ dir: `${this.opts.procRoot}/${pid}/net`, netns });
    const out: Array<{ tuple: SocketTuple; process: ProcessInfo }> = [];
    for (const { dir, netns } of dirs) {
      for (const ipv6 of [false, true]) {
        if (performance.now() > deadline || out.length >= max) return out;
        const text = readText(`${dir}/${ipv6 ? 'tcp6' : 'tcp'}`);
        if (!text) continue;
        for (const row of parseProcNetTcp(text, ipv6)) {
          if (row.state !== TCP_ESTABLISHED || row.inode === 0 || !wanted(row.remoteIp, row.remotePort)) continue;
          const owner = this.inodeOwner.get(row.inode);
          if (!owner) continue;
          const remote = { ip: row.remoteIp, port: row.remotePort };
          const info = this.describe(owner.pid, row.uid, remote, netns, deadline);
          if (!info) continue;
          const v4 = !ipv6 || row.v4Mapped;
          const tuple: SocketTuple = { srcIp: canonicalIp(row.localIp), srcPort: row.localPort, dstIp: canonicalIp(row.remoteIp), dstPort: row.remotePort, ipVersion: v4 ? 4 : 6 };
          out.push({ tuple, process: info });
          if (out.length >= max) return out;
        }
      }
    }
    return out;
  }

  /** the ProcessInfo of a socket's owner: container named, user-mode network proxy looked behind */
  private describe(pid: number, uid: number, remote: { ip: string; port: number }, netns: number | null, deadline: number, seenAlive = false): ProcessInfo | null {
    const info = this.processes.get(pid, uid, seenAlive);
    if (!info) return null;
    // rootless containers' user-mode networking: look behind slirp4netns (#10 item 3)
    if (isUserModeNetProxy(info.exe)) return this.behindProxy(info, remote, deadline);
    const container = info.container && this.containers ? this.containers.resolve(info.container) : info.container;
    return { ...info, netns: info.netns ?? netns, container };
  }

  /** the process (or at least the container) behind a user-mode network proxy; the proxy stays in `via` */
  private behindProxy(proxy: ProcessInfo, remote: { ip: string; port: number }, deadline: number): ProcessInfo {
    const via = { kind: 'rootless-network-proxy' as const, pid: proxy.pid, exe: proxy.exe };
    // its own small budget: the proxy's socket lookup may have used the caller's (a rootless call is rare)
    const t = findBehindProxy(this.opts.procRoot, proxy.pid, remote, Math.max(deadline, performance.now() + PROXY_LOOKUP_BUDGET_MS));
    const inner = t.pid !== null ? this.processes.get(t.pid) : null;
    if (!inner) return { ...proxy, container: t.container ?? proxy.container, via };
    const user = t.container ? this.processes.userInContainer(inner.pid, inner.uid) : inner.user;
    return { ...inner, user, container: t.container ?? inner.container, via };
  }

  stats(): CorrelatorStats {
    const containers = this.containers?.stats?.();
    const sockDiag = this.sockDiag?.stats();
    return { ...this.counters, processCache: { ...this.processes.counters }, ...(containers ? { containers } : {}), ...(sockDiag ? { sockDiag } : {}) };
  }

  /** the row in the daemon's own netns: sock_diag (O(1)), or /proc/net/tcp{,6} when it cannot answer */
  private findOwnRow(ipVersion: 4 | 6, local: { ip: string; port: number }, remote: { ip: string; port: number }): ProcNetTcpEntry | null {
    const r = this.sockDiag?.lookup({ srcIp: local.ip, srcPort: local.port, dstIp: remote.ip, dstPort: remote.port });
    if (r !== undefined) return r ? diagEntry(r, local, remote) : null;
    return this.findRow(`${this.opts.procRoot}/net`, ipVersion, local, remote);
  }

  private findRow(netDir: string, ipVersion: 4 | 6, local: { ip: string; port: number }, remote: { ip: string; port: number }): ProcNetTcpEntry | null {
    if (ipVersion === 4) {
      const t4 = readText(`${netDir}/tcp`, rowNeedle(local, remote, false));
      const r4 = t4 ? findProcNetTcpRow(t4, false, local, remote) : null;
      if (r4) return r4;
    }
    // IPv6, or IPv4 through a dual-stack AF_INET6 socket (v4-mapped in tcp6)
    const t6 = readText(`${netDir}/tcp6`, rowNeedle(local, remote, true));
    return t6 ? findProcNetTcpRow(t6, true, local, remote) : null;
  }

  private findRowInOtherNetns(ipVersion: 4 | 6, local: { ip: string; port: number }, remote: { ip: string; port: number }, deadline: number) {
    const tried = new Set<number>();
    for (let pass = 0; pass < 2; pass++) {
      if (pass === 1) {
        // a full refresh reads every new pid's status: at most every NETNS_REFRESH_MS
        if (performance.now() - this.netnsRefreshedAt < NETNS_REFRESH_MS) break;
        this.refreshNetns();
      }
      for (const [netns, pid] of this.netnsRep) {
        if (netns === this.ownNetns || tried.has(netns)) continue;
        if (performance.now() > deadline) return null;
        tried.add(netns);
        const r = this.sockDiag?.lookupInNetns(netns, pid, { srcIp: local.ip, srcPort: local.port, dstIp: remote.ip, dstPort: remote.port });
        const row = r !== undefined ? r && diagEntry(r, local, remote) : this.findRow(`${this.opts.procRoot}/${pid}/net`, ipVersion, local, remote);
        if (row) return { row, netns };
      }
    }
    return null;
  }

  /** one representative pid per network namespace (cheap: one readlink per pid, cached per pid) */
  private refreshNetns(): void {
    this.netnsRefreshedAt = performance.now();
    const rep = new Map<number, number>();
    const alive = new Set<number>();
    for (const pid of listPids(this.opts.procRoot)) {
      alive.add(pid);
      const st = this.pidState(pid);
      if (!st || st.kthread || st.netns === null) continue;
      if (!rep.has(st.netns)) rep.set(st.netns, pid);
    }
    this.netnsRep = rep;
    this.sockDiag?.retainNetns(new Set(rep.keys()));
    this.forgetDead(alive);
  }

  private findOwner(inode: number, uid: number, deadline: number): number | null | 'budget' {
    const root = this.opts.procRoot;
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
    const all = this.procScan ? this.procScan.pids(root) : listPids(root);
    const fresh: number[] = [];
    const recent: number[] = [];
    const sameUid: number[] = [];
    const rest: number[] = [];
    for (const pid of all) {
      const st = this.pids.get(pid);
      if (!st) fresh.push(pid);
      else if (st.kthread) continue;
      else if (this.isRecentOwner(pid)) recent.push(pid);
      else if (st.uid === uid) sameUid.push(pid);
      else rest.push(pid);
    }
    // new pids: read the fd table only; their status is read later by catchUp(), outside the hold
    const r = this.procScan ? this.scanNative(inode, deadline, fresh, [recent, sameUid, rest]) : this.scanJs(inode, deadline, fresh, [recent, sameUid, rest]);
    if (r !== null) return r;
    if (this.pids.size > all.length * 2) this.forgetDead(new Set(all));
    return null;
  }

  private scanJs(inode: number, deadline: number, fresh: number[], known: number[][]): number | 'budget' | null {
    for (const pid of fresh) {
      if (performance.now() > deadline) return 'budget';
      this.remember(pid, { uid: null, kthread: false, netns: null, complete: false });
      const fd = this.scanFds(pid, inode);
      if (fd !== null) return this.found(inode, pid, fd);
    }
    for (const list of known) {
      for (const pid of list) {
        if (performance.now() > deadline) return 'budget';
        const fd = this.scanFds(pid, inode);
        if (fd !== null) return this.found(inode, pid, fd);
      }
    }
    return null;
  }

  private canonical(text: string): string {
    let c = this.canonicalText.get(text);
    if (c === undefined) {
      if (this.canonicalText.size >= 256) this.canonicalText.clear();
      c = canonicalIp(text);
      this.canonicalText.set(text, c);
    }
    return c;
  }

  /** the recent owners' recent descriptors (at most MAX_HINT_PROBES links read) */
  private probeOwnerHints(inode: number): { pid: number; fd: string } | null {
    const root = this.opts.procRoot;
    const scan = this.procScan;
    let n = 0;
    for (const o of this.owners) {
      for (const fd of o.fds) {
        if (n >= MAX_HINT_PROBES) break;
        if (scan) {
          this.hintPids[n] = o.pid;
          this.hintFds[n] = Number(fd);
        } else if (socketInodeOfLink(readLink(`${root}/${o.pid}/fd/${fd}`) ?? '') === inode) return { pid: o.pid, fd };
        n++;
      }
    }
    if (!scan || n === 0) return null;
    const i = scan.probeFds(root, this.hintPids, this.hintFds, n, inode);
    return i >= 0 ? { pid: this.hintPids[i]!, fd: String(this.hintFds[i]) } : null;
  }

  /** the same search as scanJs, in one call of the native scanner */
  private scanNative(inode: number, deadline: number, fresh: number[], known: number[][]): number | 'budget' | null {
    const count = fresh.length + known.reduce((n, l) => n + l.length, 0);
    if (this.candidates.length < count) this.candidates = new Int32Array(count * 2);
    const c = this.candidates;
    let i = 0;
    for (const pid of fresh) c[i++] = pid;
    for (const list of known) for (const pid of list) c[i++] = pid;
    const r = this.procScan!.findSocket(this.opts.procRoot, c, count, inode, (deadline - performance.now()) * 1000);
    const read = typeof r === 'number' ? r : r.index + 1;
    this.counters.fdDirsScanned += read;
    for (let k = 0; k < Math.min(read, fresh.length); k++) this.remember(fresh[k]!, { uid: null, kthread: false, netns: null, complete: false });
    if (typeof r !== 'number') return this.found(inode, c[r.index]!, String(r.fd));
    return r < count ? 'budget' : null;
  }

  /** the owner of `inode` is `pid` (descriptor `fd`): cached, and remembered as a recent owner */
  private found(inode: number, pid: number, fd: string): number {
    if (this.inodeOwner.size >= this.opts.maxCachedPids * 4) this.inodeOwner.clear();
    this.inodeOwner.set(inode, { pid, fd });
    this.noteOwner(pid, fd);
    return pid;
  }

  private noteOwner(pid: number, fd: string): void {
    const at = this.owners.findIndex((o) => o.pid === pid);
    const o = at >= 0 ? this.owners.splice(at, 1)[0]! : { pid, fds: [] };
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

  /**
   * Fill in status (uid, kernel thread) and netns of pids first seen during a hold. Cheap to
   * call often; stops after `budgetMs`. The gate calls it right after each verdict.
   */
  catchUp(budgetMs = 5): void {
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

  /** pids first seen during a hold may still wait for catchUp() (false: nothing to do) */
  get needsCatchUp(): boolean {
    return this.incomplete > 0;
  }

  private pidState(pid: number): PidState | null {
    const known = this.pids.get(pid);
    if (known?.complete) return known;
    const text = readText(`${this.opts.procRoot}/${pid}/status`);
    if (!text) {
      this.pids.delete(pid);
      return null;
    }
    const s = parseStatus(text);
    const st: PidState = {
      uid: s.uid,
      kthread: s.kthread,
      netns: s.kthread ? null : nsInodeOfLink(readLink(`${this.opts.procRoot}/${pid}/ns/net`)),
      complete: true,
    };
    this.remember(pid, st);
    return st;
  }

  private remember(pid: number, st: PidState): void {
    if (!st.complete) this.incomplete++;
    if (this.pids.size >= this.opts.maxCachedPids) this.pids.delete(this.pids.keys().next().value as number);
    this.pids.set(pid, st);
  }

  /** read a pid's fd table, remember its socket inodes; the descriptor holding `want`, if any */
  private scanFds(pid: number, want: number): string | null {
    const dir = `${this.opts.procRoot}/${pid}/fd`;
    const fds = listDir(dir);
    this.counters.fdDirsScanned++;
    if (!fds) return null;
    let hit: string | null = null;
    for (const fd of fds) {
      const link = readLink(`${dir}/${fd}`);
      if (!link) continue;
      const inode = socketInodeOfLink(link);
      if (inode === null) continue;
      if (!this.inodeOwner.has(inode) || inode === want) {
        if (this.inodeOwner.size >= this.opts.maxCachedPids * 4) this.inodeOwner.clear();
        this.inodeOwner.set(inode, { pid, fd });
      }
      if (inode === want) {
        hit = fd;
        break;
      }
    }
    return hit;
  }

  private forgetDead(alive: ReadonlySet<number>): void {
    for (const pid of this.pids.keys()) if (!alive.has(pid)) this.pids.delete(pid);
    for (let i = this.owners.length - 1; i >= 0; i--) if (!alive.has(this.owners[i]!.pid)) this.owners.splice(i, 1);
    for (const [inode, o] of this.inodeOwner) if (!alive.has(o.pid)) this.inodeOwner.delete(inode);
    this.processes.sweep(alive);
  }
}
