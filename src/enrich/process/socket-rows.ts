import { canonicalIp } from '../../domain/address.js';
import type { NetnsIndex } from './netns-index.js';
import { readText } from './proc-fs.js';
import { encodeProcNetAddress, findProcNetTcpRow, type ProcNetTcpEntry } from './proc-net-tcp.js';
import type { SockDiag, SockDiagRow } from './sock-diag.js';

/**
 * First half of the correlator (docs/design.md#attribution): 4-tuple → socket row (inode,
 * uid, state) and the network namespace it is in. The daemon's own namespace first
 * (sock_diag, else /proc/net/tcp{,6}); then the namespaces known, most recently useful first
 * (sock_diag inside the namespace when it can be entered, else /proc/PID/net/tcp{,6} of a
 * process in it); then namespaces not known yet (NetnsIndex.discover); last, a walk of the
 * own namespace's SYN_SENT sockets for one bound to a device (SO_BINDTODEVICE), which the
 * exact lookup misses.
 */
export interface Endpoint {
  ip: string;
  port: number;
}

export type RowFind = { row: ProcNetTcpEntry; netns: number | null } | null | 'budget';

export class SocketRows {
  /** canonicalIp of the few address texts a host's IMDS calls use (bounded) */
  private readonly canonicalText = new Map<string, string>();

  constructor(
    private readonly procRoot: string,
    private readonly sockDiag: SockDiag | null,
    private readonly netns: NetnsIndex,
  ) {}

  canonical(text: string): string {
    let c = this.canonicalText.get(text);
    if (c === undefined) {
      if (this.canonicalText.size >= 256) this.canonicalText.clear();
      c = canonicalIp(text);
      this.canonicalText.set(text, c);
    }
    return c;
  }

  /** `own`: the daemon's own namespace's answer when the caller already asked sock_diag (ownDiagRow) */
  find(ipVersion: 4 | 6, local: Endpoint, remote: Endpoint, deadline: number, own: ProcNetTcpEntry | null | undefined = this.ownRow(ipVersion, local, remote)): RowFind {
    if (own) return { row: own, netns: this.netns.own };
    let found: { row: ProcNetTcpEntry; netns: number } | null = null;
    const tried = new Set<number>();
    const tryNs = (netns: number, pid: number): boolean => {
      const row = this.rowIn(netns, pid, ipVersion, local, remote);
      if (row === undefined) tried.delete(netns); // could not be read through this pid: another may do
      if (!row) return false;
      found = { row, netns };
      return true;
    };
    for (const [netns, pid] of this.netns.known()) {
      if (performance.now() > deadline) return 'budget';
      tried.add(netns);
      if (tryNs(netns, pid)) break;
    }
    if (!found) {
      const d = this.netns.discover(tried, tryNs, deadline);
      if (d === 'budget') return 'budget';
    }
    if (found) {
      this.netns.hit((found as { netns: number }).netns);
      return found;
    }
    if (this.sockDiag && performance.now() < deadline) {
      const r = this.sockDiag.scan({ srcIp: local.ip, srcPort: local.port, dstIp: remote.ip, dstPort: remote.port });
      if (r) return { row: diagEntry(r, local, remote), netns: this.netns.own };
    }
    return performance.now() > deadline ? 'budget' : null;
  }

  /** the row in the daemon's own netns: sock_diag (O(1)), or /proc/net/tcp{,6} when it cannot answer */
  /** the socket in the daemon's own namespace through sock_diag alone: microseconds; undefined without the addon */
  ownDiagRow(local: Endpoint, remote: Endpoint): ProcNetTcpEntry | null | undefined {
    const r = this.sockDiag?.lookup({ srcIp: local.ip, srcPort: local.port, dstIp: remote.ip, dstPort: remote.port });
    return r === undefined ? undefined : r && diagEntry(r, local, remote);
  }

  private ownRow(ipVersion: 4 | 6, local: Endpoint, remote: Endpoint): ProcNetTcpEntry | null {
    const r = this.sockDiag?.lookup({ srcIp: local.ip, srcPort: local.port, dstIp: remote.ip, dstPort: remote.port });
    if (r !== undefined) return r ? diagEntry(r, local, remote) : null;
    return this.procRow(`${this.procRoot}/net`, ipVersion, local, remote) ?? null;
  }

  /** the row in another namespace: null when it has none, undefined when it could not be read through `pid` */
  private rowIn(netns: number, pid: number, ipVersion: 4 | 6, local: Endpoint, remote: Endpoint): ProcNetTcpEntry | null | undefined {
    const r = this.sockDiag?.lookupInNetns(netns, pid, { srcIp: local.ip, srcPort: local.port, dstIp: remote.ip, dstPort: remote.port });
    if (r !== undefined) return r && diagEntry(r, local, remote);
    return this.procRow(`${this.procRoot}/${pid}/net`, ipVersion, local, remote);
  }

  private procRow(netDir: string, ipVersion: 4 | 6, local: Endpoint, remote: Endpoint): ProcNetTcpEntry | null | undefined {
    let read = false;
    if (ipVersion === 4) {
      const t4 = readText(`${netDir}/tcp`, rowNeedle(local, remote, false));
      read = t4 !== null;
      const r4 = t4 ? findProcNetTcpRow(t4, false, local, remote) : null;
      if (r4) return r4;
    }
    // IPv6, or IPv4 through a dual-stack AF_INET6 socket (v4-mapped in tcp6)
    const t6 = readText(`${netDir}/tcp6`, rowNeedle(local, remote, true));
    if (t6 === null) return read ? null : undefined;
    return findProcNetTcpRow(t6, true, local, remote);
  }
}

function rowNeedle(local: Endpoint, remote: Endpoint, ipv6: boolean): string | undefined {
  const l = encodeProcNetAddress(local.ip, local.port, ipv6);
  const r = encodeProcNetAddress(remote.ip, remote.port, ipv6);
  return l && r ? `${l} ${r}` : undefined;
}

export function diagEntry(r: SockDiagRow, local: Endpoint, remote: Endpoint): ProcNetTcpEntry {
  return { localIp: local.ip, localPort: local.port, remoteIp: remote.ip, remotePort: remote.port, state: r.state, uid: r.uid, inode: r.inode, v4Mapped: false };
}
