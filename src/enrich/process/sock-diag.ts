import { createRequire } from 'node:module';
import { isV4Mapped, parseIpText } from '../../domain/address.js';
import { findAddonPath } from './addon-path.js';

export { ADDON_RELATIVE_PATH, findAddonPath } from './addon-path.js';

/**
 * The socket row for a 4-tuple through the kernel's NETLINK_SOCK_DIAG (native/sockdiag), in
 * microseconds whatever the number of sockets: the kernel looks the tuple up in its
 * established hash, where reading /proc/net/tcp walks every socket (126–170 ms with 10 000
 * idle connections). Synchronous, for the SYN gate's NFQUEUE callback.
 *
 * Results: a row; `null` when the kernel has no such socket; `undefined` when this path cannot
 * answer (addon error, namespace not enterable) — the caller then reads /proc instead.
 *
 * Other network namespaces: a netlink socket answers for the namespace it was created in; the
 * addon creates one inside /proc/PID/ns/net on a short-lived thread (setns needs CAP_SYS_ADMIN;
 * without it the namespace is marked unenterable and the caller keeps reading
 * /proc/PID/net/tcp). One socket per namespace, closed by `retainNetns` when it is gone (the
 * socket would otherwise keep a dead namespace alive).
 */

export interface SockDiagTuple {
  /** the socket's local address and port (the client's side of a SYN to IMDS) */
  srcIp: string;
  srcPort: number;
  dstIp: string;
  dstPort: number;
}

export interface SockDiagRow {
  inode: number;
  uid: number;
  /** TCP state, numbered as in /proc/net/tcp (2 = SYN_SENT) */
  state: number;
}

export interface SockDiagStats {
  queries: number;
  found: number;
  notFound: number;
  errors: number;
  /** errno of the last failed query or namespace entry, 0 if none */
  lastErrno: number;
  netnsOpen: number;
  netnsDenied: number;
}

export interface SockDiag {
  /** exact lookup in the daemon's own network namespace */
  lookup(tuple: SockDiagTuple): SockDiagRow | null | undefined;
  /**
   * the kernel walks its sockets in `states` (default SYN_SENT) and the tuple is matched here:
   * finds a socket bound to a device (SO_BINDTODEVICE), which the exact lookup misses; costs
   * about a walk of the established hash (~1.5 ms on a 256 K-bucket host)
   */
  scan(tuple: SockDiagTuple, states?: number): SockDiagRow | null | undefined;
  /** exact lookup in the network namespace `netnsInode`, entered through /proc/`pid`/ns/net */
  lookupInNetns(netnsInode: number, pid: number, tuple: SockDiagTuple): SockDiagRow | null | undefined;
  /** close the sockets of namespaces not in `alive` (and forget which ones were denied) */
  retainNetns(alive: ReadonlySet<number>): void;
  stats(): SockDiagStats;
  close(): void;
}

/** what native/sockdiag exports (see native/sockdiag/src/sockdiag.c) */
export interface SockDiagAddon {
  open(): number;
  openIn(nsPath: string, nsInode?: number): number;
  query(fd: number, family: 4 | 6, src: Buffer, sport: number, dst: Buffer, dport: number, dump?: boolean, states?: number): [number, number, number] | null | number;
  close(fd: number): void;
}

const SYN_SENT_MASK = 1 << 2;
const EPERM = 1;
const EACCES = 13;

/**
 * Load the addon and open a sock_diag socket in the current network namespace; null when the
 * addon is not built, fails to load, or the kernel refuses (then use /proc). Set
 * IMDSWATCH_SOCK_DIAG=0 to force the /proc path.
 */
export function loadSockDiag(opts: { addonPath?: string | null; procRoot?: string } = {}): SockDiag | null {
  if (process.env.IMDSWATCH_SOCK_DIAG === '0') return null;
  if (process.platform !== 'linux') return null;
  const path = opts.addonPath === undefined ? findAddonPath() : opts.addonPath;
  if (!path) return null;
  let addon: SockDiagAddon;
  try {
    addon = createRequire(import.meta.url)(path) as SockDiagAddon;
  } catch {
    return null;
  }
  return createSockDiag(addon, opts.procRoot ?? '/proc');
}

/** a SockDiag over a loaded addon (or a stand-in); null when no socket can be opened */
export function createSockDiag(addon: SockDiagAddon, procRoot = '/proc'): SockDiag | null {
  const own = addon.open();
  if (own < 0) return null;
  // without the kernel's tcp_diag handler an exact lookup says ENOENT, like "no such socket":
  // a dump of listeners for a tuple no socket has must end cleanly (null), or this path is off
  if (addon.query(own, 4, Buffer.alloc(4), 0, Buffer.alloc(4), 0, true, 1 << 10) !== null) {
    addon.close(own);
    return null;
  }
  const counters: SockDiagStats = { queries: 0, found: 0, notFound: 0, errors: 0, lastErrno: 0, netnsOpen: 0, netnsDenied: 0 };
  /** netns inode → socket fd, or a negative errno when it could not be entered */
  const netns = new Map<number, number>();
  let ownFd = own;

  const ask = (fd: number, tuple: SockDiagTuple, dump: boolean, states: number): SockDiagRow | null | undefined => {
    const a = addressPair(tuple.srcIp, tuple.dstIp);
    if (!a || !validPort(tuple.srcPort) || !validPort(tuple.dstPort)) return undefined;
    counters.queries++;
    const r = addon.query(fd, a.family, a.src, tuple.srcPort, a.dst, tuple.dstPort, dump, states);
    if (r === null) {
      counters.notFound++;
      return null;
    }
    if (typeof r === 'number') {
      counters.errors++;
      counters.lastErrno = r;
      return undefined;
    }
    counters.found++;
    return { inode: r[0], uid: r[1], state: r[2] };
  };

  return {
    lookup: (tuple) => (ownFd < 0 ? undefined : ask(ownFd, tuple, false, 0)),
    scan: (tuple, states = SYN_SENT_MASK) => (ownFd < 0 ? undefined : ask(ownFd, tuple, true, states)),
    lookupInNetns(netnsInode, pid, tuple) {
      let fd = netns.get(netnsInode);
      if (fd === undefined) {
        fd = addon.openIn(`${procRoot}/${pid}/ns/net`, netnsInode);
        // EPERM/EACCES (no CAP_SYS_ADMIN) stays denied until retainNetns; anything else
        // (the pid died, ESTALE) is retried with the next pid asked about
        if (fd >= 0 || fd === -EPERM || fd === -EACCES) netns.set(netnsInode, fd);
        if (fd >= 0) counters.netnsOpen++;
        else {
          counters.netnsDenied++;
          counters.lastErrno = -fd;
        }
      }
      return fd < 0 ? undefined : ask(fd, tuple, false, 0);
    },
    retainNetns(alive) {
      for (const [inode, fd] of netns) {
        if (alive.has(inode)) continue;
        if (fd >= 0) {
          addon.close(fd);
          counters.netnsOpen--;
        }
        netns.delete(inode);
      }
    },
    stats: () => ({ ...counters }),
    close() {
      for (const fd of netns.values()) if (fd >= 0) addon.close(fd);
      netns.clear();
      counters.netnsOpen = 0;
      if (ownFd >= 0) addon.close(ownFd);
      ownFd = -1;
    },
  };
}

function validPort(p: number): boolean {
  return Number.isInteger(p) && p >= 0 && p <= 65535;
}

/** both addresses as bytes of one family; a v4-mapped pair is asked as IPv4 (the kernel does the same) */
function addressPair(srcText: string, dstText: string): { family: 4 | 6; src: Buffer; dst: Buffer } | null {
  const src = asked(srcText);
  const dst = asked(dstText);
  if (!src || !dst || src.length !== dst.length) return null;
  return { family: src.length === 4 ? 4 : 6, src, dst };
}

/** address text → the bytes asked (Buffers only read by the addon: shared); the few texts a host uses are kept */
const askedBytes = new Map<string, Buffer | null>();

function asked(text: string): Buffer | null {
  let a = askedBytes.get(text);
  if (a === undefined) {
    const b = parseIpText(text);
    const v = b && b.length === 16 && isV4Mapped(b) ? b.subarray(12) : b;
    a = v ? Buffer.from(v) : null;
    if (askedBytes.size >= 256) askedBytes.clear();
    askedBytes.set(text, a);
  }
  return a;
}
