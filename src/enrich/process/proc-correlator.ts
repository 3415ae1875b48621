import type { ContainerInfo, ProcessInfo } from '../../imds/event.js';
import { findBehindProxy, isUserModeNetProxy, PROXY_LOOKUP_BUDGET_MS } from './netproxy.js';
import { ContainerResolver, type ContainerResolverStats } from '../container/container-resolver.js';
import { canonicalIp } from '../../domain/address.js';
import { ProcessCache } from './process-cache.js';
import { nsInodeOfLink, readLink, readText } from './proc-fs.js';
import { parseProcNetTcp, TCP_ESTABLISHED, type ProcNetTcpEntry } from './proc-net-tcp.js';
import { loadSockDiag, type SockDiag, type SockDiagStats } from './sock-diag.js';
import { loadProcScan, type ProcScan } from './proc-scan.js';
import { NetnsIndex } from './netns-index.js';
import { OwnerSearch } from './owner-search.js';
import { SocketRows, type Endpoint } from './socket-rows.js';
import { inContainer } from './exe-identity.js';

/**
 * The /proc correlator (docs/design.md#attribution): 4-tuple → socket row and its network
 * namespace (socket-rows.ts, namespaces from netns-index.ts) → the pid holding
 * `socket:[inode]` (owner-search.ts) → ProcessInfo (process-cache.ts; containers named,
 * user-mode network proxies looked behind). Synchronous on purpose: the SYN gate runs it
 * inside the NFQUEUE callback while the client waits in connect().
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
  /** owners found in a recent owner's fd table, before /proc was listed */
  recentOwnerHits: number;
  /** descriptor links read by the recent-owner hints */
  hintLinksRead: number;
  processCache: ProcessCache['counters'];
  /** container name lookups (src/enrich/container), when the resolver counts them */
  containers?: ContainerResolverStats;
  /** netlink sock_diag queries, when the addon is in use */
  sockDiag?: SockDiagStats;
}

/** namespaces are re-read outside holds at most this often (dead ones let go) */
const NETNS_SWEEP_MS = 2_000;

export class ProcCorrelator {
  private readonly opts: CorrelatorOptions;
  private readonly processes: ProcessCache;
  private readonly ownNetns: number | null;
  private readonly containers: ContainerNamer | null;
  private readonly sockDiag: SockDiag | null;
  private readonly netns: NetnsIndex;
  private readonly rows: SocketRows;
  private readonly owners: OwnerSearch;
  private readonly counters = { lookups: 0, found: 0, noSocket: 0, noOwner: 0, budgetExceeded: 0 };

  constructor(opts: Partial<CorrelatorOptions> = {}) {
    this.opts = { ...DEFAULT_CORRELATOR_OPTIONS, ...opts };
    const root = this.opts.procRoot;
    this.processes = new ProcessCache({
      procRoot: root,
      passwdPath: this.opts.passwdPath,
      graceMs: this.opts.graceMs,
      maxEntries: this.opts.maxCachedProcesses,
      maxAncestors: 64,
      now: () => Date.now(),
    });
    this.ownNetns = nsInodeOfLink(readLink(`${root}/self/ns/net`));
    this.containers = this.opts.containerResolver === undefined ? new ContainerResolver() : this.opts.containerResolver;
    this.sockDiag = this.opts.sockDiag !== undefined ? this.opts.sockDiag : root === '/proc' ? loadSockDiag() : null;
    const procScan = this.opts.procScan !== undefined ? this.opts.procScan : loadProcScan();
    this.netns = new NetnsIndex(root, this.ownNetns, this.opts.maxCachedPids);
    this.rows = new SocketRows(root, this.sockDiag, this.netns);
    this.owners = new OwnerSearch(root, procScan, this.opts.maxCachedPids, (alive) => this.processes.sweep(alive));
  }

  /**
   * Snapshot every process's sockets and network namespace once (call at start, outside any
   * hold), so later lookups know which pids are new and which inodes belong to whom.
   */
  prime(): void {
    this.owners.prime();
    this.refreshNetns();
  }

  /**
   * The SYN's socket in the daemon's own network namespace, through sock_diag alone (no /proc
   * read): its uid is the gate's fairness key before any search. Hand the answer back to
   * findSocketOwner so the same socket is not asked for twice. undefined: no sock_diag addon.
   */
  ownSocket(tuple: SocketTuple): ProcNetTcpEntry | null | undefined {
    return this.rows.ownDiagRow({ ip: this.rows.canonical(tuple.srcIp), port: tuple.srcPort }, { ip: this.rows.canonical(tuple.dstIp), port: tuple.dstPort });
  }

  /** `own`: what ownSocket answered for this tuple (undefined: ask again) */
  findSocketOwner(tuple: SocketTuple, budgetMs = 50, own?: ProcNetTcpEntry | null): OwnerLookup {
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

    const local = { ip: this.rows.canonical(tuple.srcIp), port: tuple.srcPort };
    const remote = { ip: this.rows.canonical(tuple.dstIp), port: tuple.dstPort };
    const r = this.rows.find(tuple.ipVersion, local, remote, deadline, own);
    if (r === 'budget') return done('budget', null, null, null);
    if (r === null) return done('no-socket', null, null, null);
    const { row, netns } = r;
    const pid = this.owners.find(row.inode, row.uid, deadline);
    if (pid === 'budget') return done('budget', null, netns, row);
    if (pid === null) return done('no-owner', null, netns, row);
    // the fd link was read just now: the pid is alive (ProcessCache.get's seenAlive)
    const info = this.describe(pid, row.uid, remote, netns, deadline, true);
    return info ? done('found', info, netns, row) : done('no-owner', null, netns, row);
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
    if (this.owners.cachedOwners === 0) this.prime();
    else this.refreshNetns();
    const dirs: Array<{ dir: string; netns: number | null }> = [{ dir: `${this.opts.procRoot}/net`, netns: this.ownNetns }];
    for (const [netns, pid] of this.netns.known()) dirs.push({ dir: `${this.opts.procRoot}/${pid}/net`, netns });
    const out: Array<{ tuple: SocketTuple; process: ProcessInfo }> = [];
    for (const { dir, netns } of dirs) {
      for (const ipv6 of [false, true]) {
        if (performance.now() > deadline || out.length >= max) return out;
        const text = readText(`${dir}/${ipv6 ? 'tcp6' : 'tcp'}`);
        if (!text) continue;
        for (const row of parseProcNetTcp(text, ipv6)) {
          if (row.state !== TCP_ESTABLISHED || row.inode === 0 || !wanted(row.remoteIp, row.remotePort)) continue;
          const owner = this.owners.ownerOf(row.inode);
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
  private describe(pid: number, uid: number, remote: Endpoint, netns: number | null, deadline: number, seenAlive = false): ProcessInfo | null {
    const info = this.processes.get(pid, uid, seenAlive);
    if (!info) return null;
    // rootless containers' user-mode networking: look behind slirp4netns
    if (isUserModeNetProxy(info.exe)) return this.behindProxy(info, remote, deadline);
    const container = info.container && this.containers ? this.containers.resolve(info.container) : info.container;
    return { ...info, netns: info.netns ?? netns, container };
  }

  /** the process (or at least the container) behind a user-mode network proxy; the proxy stays in `via` */
  private behindProxy(proxy: ProcessInfo, remote: Endpoint, deadline: number): ProcessInfo {
    const via = { kind: 'rootless-network-proxy' as const, pid: proxy.pid, exe: proxy.exe };
    // its own small budget: the proxy's socket lookup may have used the caller's (a rootless call is rare)
    const t = findBehindProxy(this.opts.procRoot, proxy.pid, remote, Math.max(deadline, performance.now() + PROXY_LOOKUP_BUDGET_MS));
    const found = t.pid !== null ? this.processes.get(t.pid) : null;
    const inner = found && t.container ? inContainer(found) : found;
    if (!inner) return { ...proxy, container: t.container ?? proxy.container, via };
    const user = t.container ? this.processes.userInContainer(inner.pid, inner.uid) : inner.user;
    return { ...inner, user, container: t.container ?? inner.container, via };
  }

  stats(): CorrelatorStats {
    const containers = this.containers?.stats?.();
    const sockDiag = this.sockDiag?.stats();
    return {
      ...this.counters,
      ...this.owners.counters,
      processCache: { ...this.processes.counters },
      ...(containers ? { containers } : {}),
      ...(sockDiag ? { sockDiag } : {}),
    };
  }

  /**
   * Work left from holds, done outside them: the status of pids first seen during a hold,
   * and now and then a re-read of the network namespaces (dead ones let go). Cheap to call
   * often; stops after `budgetMs`. The gate calls it right after each verdict.
   */
  catchUp(budgetMs = 5): void {
    const deadline = performance.now() + budgetMs;
    this.owners.catchUp(budgetMs);
    if (this.processes.ancestorsDue()) this.processes.refreshAncestors(deadline);
    if (this.netns.sweepDue(NETNS_SWEEP_MS)) this.refreshNetns();
  }

  /** work waits for catchUp() (false: nothing to do) */
  get needsCatchUp(): boolean {
    return this.owners.needsCatchUp || this.netns.sweepDue(NETNS_SWEEP_MS) || this.processes.ancestorsDue();
  }

  private refreshNetns(): void {
    const alive = this.netns.refresh();
    this.sockDiag?.retainNetns(this.netns.namespaces());
    this.owners.forgetDead(alive);
  }
}
