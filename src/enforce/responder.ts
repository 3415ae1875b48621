import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { IMDS_PORT, IMDS_V4_TEXT, IMDS_V6_TEXT } from '../domain/endpoint.js';
import { parseRequestHead, rejectedUnderRequired, unauthorizedResponse } from './request-head.js';

/**
 * The enforce responder (docs/design.md#enforce): the selected workload's connections to IMDS
 * are redirected here (owned-table.ts). Each request head is read; a token-less GET or HEAD
 * is answered 401 as IMDS answers it under HttpTokens=required (request-head.ts) and the
 * connection closed; everything else — token PUTs, requests with a token, other methods — is
 * sent on unchanged, byte for byte, to IMDS over a connection this process opens from the
 * same network namespace. So the answer takes the same path back as it would to the
 * workload: a token PUT answer with IP TTL / hop limit 1 that would not reach a container
 * does not reach the responder either, and the container's PUT goes unanswered as under the
 * real switch. With dryRun every request is sent on and the would-be rejections reported.
 *
 * Only method, path (no query) and "has a token" are read into a decision; header values and
 * bodies pass through buffers and are never logged.
 */
export type Verdict = 'rejected' | 'would-reject' | 'passed';

export interface Decision {
  verdict: Verdict;
  method: string;
  path: string;
  hasToken: boolean;
  family: 4 | 6;
  /** the client's socket (its local address and port): for the owner lookup */
  clientIp: string;
  clientPort: number;
}

export interface ResponderOptions {
  dryRun: boolean;
  /** where requests that pass go; default IMDS port 80 of each family */
  upstream?: { 4: { host: string; port: number }; 6: { host: string; port: number } };
  onDecision: (d: Decision, socket: Socket) => void;
  /** a connection on to IMDS is open: its local address, for the daemon's owner hint (owner-hints.ts) */
  onUpstream?: (u: UpstreamOpened) => void;
  /** longest wait for IMDS to finish earlier answers on a connection before a 401 (ms) */
  drainMs?: number;
}

export interface UpstreamOpened {
  family: 4 | 6;
  /** the client's socket, as in Decision */
  clientIp: string;
  clientPort: number;
  /** this process's socket to IMDS */
  localIp: string;
  localPort: number;
}

export interface ResponderStats {
  connections: number;
  rejected: number;
  wouldReject: number;
  passed: number;
  upstreamErrors: number;
}

const DEFAULT_UPSTREAM = { 4: { host: IMDS_V4_TEXT, port: IMDS_PORT }, 6: { host: IMDS_V6_TEXT, port: IMDS_PORT } };

function listen(server: Server, host: string): Promise<number | null> {
  return new Promise((resolve) => {
    server.once('error', () => resolve(null));
    server.listen({ host, port: 0, ipv6Only: host.includes(':') }, () => {
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : null);
    });
  });
}

export class Responder {
  private readonly servers: Server[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly counters: ResponderStats = { connections: 0, rejected: 0, wouldReject: 0, passed: 0, upstreamErrors: 0 };
  private readonly upstream: NonNullable<ResponderOptions['upstream']>;

  constructor(private readonly opts: ResponderOptions) {
    this.upstream = opts.upstream ?? DEFAULT_UPSTREAM;
  }

  /** listen on loopback of each family; a family whose loopback is missing gets null */
  async listen(): Promise<{ port4: number | null; port6: number | null }> {
    const ports: Array<number | null> = [];
    for (const [host, family] of [['127.0.0.1', 4], ['::1', 6]] as const) {
      const server = createServer({ allowHalfOpen: true }, (s) => this.onConnection(s, family));
      const port = await listen(server, host);
      if (port !== null) this.servers.push(server);
      else server.close();
      ports.push(port);
    }
    return { port4: ports[0]!, port6: ports[1]! };
  }

  stats(): ResponderStats {
    return { ...this.counters };
  }

  /** stop listening; connections under way get `graceMs` to finish, then are closed */
  async close(graceMs = 2_000): Promise<void> {
    const closed = this.servers.map((s) => new Promise<void>((r) => s.close(() => r())));
    const timer = setTimeout(() => {
      for (const s of this.sockets) s.destroy();
    }, graceMs);
    await Promise.all(closed);
    clearTimeout(timer);
  }

  private onConnection(client: Socket, family: 4 | 6): void {
    this.counters.connections++;
    this.sockets.add(client);
    let buf: Buffer = Buffer.alloc(0);
    let upstream: Socket | null = null;
    let upstreamClosed = false;
    /** body bytes still to forward before the next head */
    let body = 0;
    /** stop reading heads: forward the rest as is */
    let opaque = false;
    let rejecting = false;
    const clientIp = client.remoteAddress ?? '';
    const clientPort = client.remotePort ?? 0;

    const toUpstream = (chunk: Buffer): void => {
      if (!upstream) {
        const target = this.upstream[family];
        const up = createConnection({ host: target.host, port: target.port, allowHalfOpen: true });
        upstream = up;
        // before the first write: the hint is in place before the request leaves (a captured
        // answer can only come after it)
        up.once('connect', () => {
          if (up.localAddress && up.localPort) this.opts.onUpstream?.({ family, clientIp, clientPort, localIp: up.localAddress, localPort: up.localPort });
        });
        up.on('data', (d: Buffer) => client.write(d));
        up.on('end', () => {
          if (!rejecting) client.end();
        });
        up.on('error', () => {
          this.counters.upstreamErrors++;
        });
        up.on('close', () => {
          upstreamClosed = true;
          // IMDS unreachable or gone: the client sees its connection end, as it would
          if (!rejecting) client.destroy();
        });
      }
      upstream.write(chunk);
    };

    const reject = (): void => {
      rejecting = true;
      client.pause();
      const answer = (): void => {
        if (!client.destroyed) client.end(unauthorizedResponse());
      };
      if (!upstream || upstreamClosed) return answer();
      // earlier requests on this connection were sent on: let IMDS finish their answers
      // (it closes when we end our side), then answer this one and close
      const up: Socket = upstream;
      const timer = setTimeout(() => up.destroy(), this.opts.drainMs ?? 2_000);
      up.once('close', () => {
        clearTimeout(timer);
        answer();
      });
      up.end();
    };

    const decide = (method: string, path: string, hasToken: boolean): Verdict => {
      const refuse = rejectedUnderRequired({ method, hasToken });
      const verdict: Verdict = !refuse ? 'passed' : this.opts.dryRun ? 'would-reject' : 'rejected';
      this.counters[verdict === 'passed' ? 'passed' : verdict === 'rejected' ? 'rejected' : 'wouldReject']++;
      this.opts.onDecision({ verdict, method, path, hasToken, family, clientIp, clientPort }, client);
      return verdict;
    };

    const pump = (): void => {
      while (buf.length > 0 && !rejecting) {
        if (opaque) {
          toUpstream(buf);
          buf = Buffer.alloc(0);
          return;
        }
        if (body > 0) {
          const n = Math.min(body, buf.length);
          toUpstream(buf.subarray(0, n));
          buf = buf.subarray(n);
          body -= n;
          continue;
        }
        const head = parseRequestHead(buf);
        if (head === null) return;
        if (head === 'too-large' || head === 'bad') {
          // not a request IMDS would answer either way: pass it on unread
          opaque = true;
          continue;
        }
        if (decide(head.method, head.path, head.hasToken) === 'rejected') {
          buf = Buffer.alloc(0);
          return reject();
        }
        toUpstream(buf.subarray(0, head.headLength));
        buf = buf.subarray(head.headLength);
        if (head.bodyLength < 0) opaque = true;
        else body = head.bodyLength;
      }
    };

    client.on('data', (d: Buffer) => {
      if (rejecting) return;
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      pump();
    });
    client.on('end', () => {
      if (rejecting) return;
      if (upstream) upstream.end();
      else client.end();
    });
    client.on('error', () => undefined);
    client.on('close', () => {
      this.sockets.delete(client);
      (upstream as Socket | null)?.destroy();
    });
  }
}
