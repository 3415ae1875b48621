import type { ContainerInfo } from '../../imds/event.js';
import { listDir, listPids, nsInodeOfLink, readLink, readText, socketInodeOfLink } from './proc-fs.js';
import { parseProcNetTcp, TCP_ESTABLISHED, TCP_SYN_SENT } from './proc-net-tcp.js';
import { parseCmdline } from './redact.js';
import { parseStatus } from './status.js';

/**
 * Rootless containers' user-mode networking. Rootless Podman's network is
 * slirp4netns: a process in the HOST network namespace that terminates the container's TCP
 * connections on a tap device inside the container's namespace and opens new ones from the
 * host. The gate therefore holds a SYN whose socket belongs to /usr/bin/slirp4netns, which is
 * not the software to fix.
 *
 * From outside, slirp4netns's command line names the container's namespace by a path that is
 * only bound inside the rootless user's mount namespace, so it cannot be opened from here. The
 * container's namespace is found instead by what it must look like while the call is held: a
 * network namespace (1) whose user namespace maps uid 0 to slirp4netns's own uid (uid_map),
 * (2) that has the tap device named on slirp4netns's command line, and (3) whose socket table
 * has a connection in SYN_SENT (or just ESTABLISHED) to the same IMDS address and port. One
 * such socket: its owner is the caller. The container's id and name come from its conmon
 * parent's command line (`-c <id>`, `-n <name>`). Several candidates: the container is named
 * when they all belong to one, the process is not guessed.
 *
 * Bounded: at most MAX_PROXY_SCAN_PIDS pids read, the caller's deadline checked per pid.
 */
export const USER_MODE_PROXIES = new Set(['slirp4netns']);
export const MAX_PROXY_SCAN_PIDS = 20_000;
/** time the search behind a proxy may take on top of an exhausted lookup budget */
export const PROXY_LOOKUP_BUDGET_MS = 100;
const MAX_CONMON_HOPS = 16;

export function isUserModeNetProxy(exe: string | null): boolean {
  if (!exe) return false;
  const base = exe.slice(exe.lastIndexOf('/') + 1);
  return USER_MODE_PROXIES.has(base);
}

/** slirp4netns [OPTION]... PID|PATH [TAPNAME]: the tap device's name (default tap0) */
export function slirpTapName(argv: readonly string[]): string {
  const withValue = new Set(['-e', '-r', '-m', '-a', '--exit-fd', '--ready-fd', '--mtu', '--api-socket', '--cidr', '--netns-type', '--userns-path', '--outbound-addr', '--outbound-addr6', '--macaddress']);
  const positional: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('-')) {
      if (withValue.has(a)) i++;
      continue;
    }
    positional.push(a);
  }
  const tap = positional[1];
  return tap && /^[A-Za-z0-9_.-]{1,15}$/.test(tap) ? tap : 'tap0';
}

/** conmon's command line: the container's id (-c) and name (-n) */
export function conmonContainer(argv: readonly string[]): { id: string; name: string | null } | null {
  let id: string | null = null;
  let name: string | null = null;
  for (let i = 1; i < argv.length - 1; i++) {
    if (argv[i] === '-c' || argv[i] === '--cid') id = argv[i + 1]!;
    if (argv[i] === '-n' || argv[i] === '--name') name = argv[i + 1]!;
  }
  if (!id || !/^[0-9a-f]{64}$/.test(id)) return null;
  return { id, name: name && name.length <= 253 ? name.replace(/[\x00-\x1f\x7f]/g, '') : null };
}

/** true when a uid_map maps some inside range onto `outsideUid` (the user namespace's owner) */
export function uidMapOwnedBy(uidMap: string, outsideUid: number): boolean {
  for (const line of uidMap.split('\n')) {
    const [inside, outside, count] = line.trim().split(/\s+/).map(Number);
    if (inside === undefined || outside === undefined || count === undefined || !Number.isFinite(count)) continue;
    if (count < 4294967295 && outsideUid >= outside && outsideUid < outside + count) return true;
  }
  return false;
}

export interface ProxyTarget {
  /** pid of the process inside the container that made the call, when it is one socket */
  pid: number | null;
  container: ContainerInfo | null;
  /** candidate sockets found (0: nothing matched; >1: the process is not guessed) */
  candidates: number;
}

export function findBehindProxy(procRoot: string, proxyPid: number, remote: { ip: string; port: number }, deadline: number): ProxyTarget {
  const none: ProxyTarget = { pid: null, container: null, candidates: 0 };
  const proxyUid = parseStatus(readText(`${procRoot}/${proxyPid}/status`) ?? '').uid;
  const ownNetns = nsInodeOfLink(readLink(`${procRoot}/${proxyPid}/ns/net`));
  if (proxyUid === null) return none;
  const tap = slirpTapName(parseCmdline(readText(`${procRoot}/${proxyPid}/cmdline`) ?? ''));
  // network namespaces of processes owned (through their user namespace) by the proxy's user
  const byNetns = new Map<number, number[]>();
  let scanned = 0;
  for (const pid of listPids(procRoot)) {
    if (++scanned > MAX_PROXY_SCAN_PIDS || performance.now() > deadline) break;
    if (pid === proxyPid) continue;
    const ns = nsInodeOfLink(readLink(`${procRoot}/${pid}/ns/net`));
    if (ns === null || ns === ownNetns) continue;
    const list = byNetns.get(ns);
    if (list) {
      list.push(pid);
      continue;
    }
    if (!uidMapOwnedBy(readText(`${procRoot}/${pid}/uid_map`) ?? '', proxyUid)) continue;
    byNetns.set(ns, [pid]);
  }
  const sockets: Array<{ inode: number; pids: number[] }> = [];
  for (const pids of byNetns.values()) {
    const rep = pids[0]!;
    if (!(readText(`${procRoot}/${rep}/net/dev`) ?? '').includes(`${tap}:`)) continue;
    for (const [file, v6] of [['tcp', false], ['tcp6', true]] as const) {
      const rows = parseProcNetTcp(readText(`${procRoot}/${rep}/net/${file}`) ?? '', v6);
      for (const r of rows) {
        if (r.remoteIp === remote.ip && r.remotePort === remote.port && (r.state === TCP_SYN_SENT || r.state === TCP_ESTABLISHED) && r.inode > 0) sockets.push({ inode: r.inode, pids });
      }
    }
  }
  if (sockets.length === 0) return none;
  const sameNetns = sockets.every((s) => s.pids === sockets[0]!.pids);
  let pid: number | null = null;
  if (sockets.length === 1) {
    const want = sockets[0]!.inode;
    for (const p of sockets[0]!.pids) {
      if (performance.now() > deadline) break;
      for (const fd of listDir(`${procRoot}/${p}/fd`) ?? []) {
        if (socketInodeOfLink(readLink(`${procRoot}/${p}/fd/${fd}`) ?? '') === want) pid = p;
      }
      if (pid !== null) break;
    }
  }
  const container = sameNetns ? conmonOf(procRoot, pid ?? sockets[0]!.pids[0]!) : null;
  return { pid, container, candidates: sockets.length };
}

/** the container of a process, from its nearest conmon ancestor */
function conmonOf(procRoot: string, pid: number): ContainerInfo | null {
  let p = pid;
  for (let hop = 0; hop < MAX_CONMON_HOPS && p > 1; hop++) {
    const stat = readText(`${procRoot}/${p}/stat`) ?? '';
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    if (comm === 'conmon') {
      const c = conmonContainer(parseCmdline(readText(`${procRoot}/${p}/cmdline`) ?? ''));
      return c ? { runtime: 'podman', id: c.id, ...(c.name ? { name: c.name } : {}) } : null;
    }
    p = Number(stat.slice(close + 2).split(' ')[1]);
    if (!Number.isFinite(p)) break;
  }
  return null;
}
