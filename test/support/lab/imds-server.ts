import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_IDENTITY, createMetadataLookup, type InstanceIdentity } from './imds-tree.js';
import { TokenStore } from './imds-tokens.js';

/**
 * A faithful-enough EC2 Instance Metadata Service for the lab (see docs/imds-facts.md#status-codes):
 *
 * - `PUT /latest/api/token` with `X-aws-ec2-metadata-token-ttl-seconds` 1..21600 → 200,
 *   an opaque token, the TTL echoed in `X-aws-ec2-metadata-token-ttl-seconds`;
 *   missing/invalid TTL → 400; any `X-Forwarded-For` → 403; PUT to a versioned token
 *   path (`/2021-03-23/api/token`) → 403; PUT anywhere else → 405.
 * - GET/HEAD over the metadata tree (imds-tree.ts) → 200 or 404. A request carrying a
 *   non-empty `X-aws-ec2-metadata-token` must carry a valid, unexpired token, else 401
 *   (in both modes); its 200 carries `X-Aws-Ec2-Metadata-Token-Ttl-Seconds` = remaining
 *   lifetime. In `required` mode a token-less (or empty-token) request → 401.
 * - Any other method → 405. Every response: `Server: EC2ws`.
 * - HTTP/1.1 keep-alive (default) or, like real IMDS, `Connection: close` per answer.
 *
 * It logs method, path (no query) and status only: never a token, header or body.
 */

export type TokenMode = 'optional' | 'required';

export interface ImdsServerOptions {
  /** addresses to listen on; default 169.254.169.254 and fd00:ec2::254 */
  hosts?: string[];
  /** port; default 80; 0 = any free port (per host) */
  port?: number;
  tokens?: TokenMode;
  /** 'keep-alive' (default) or 'close' (one answer per connection, as real IMDS) */
  connection?: 'keep-alive' | 'close';
  /**
   * true: treat every request as if a transparent proxy in the path (kube2iam, kiam, an
   * intercepting HTTP proxy) had added `X-Forwarded-For`, so every token PUT gets 403.
   * For clients that ignore HTTP_PROXY (Node, Ruby Net::HTTP with a nil proxy), which
   * the lab's explicit xff-proxy cannot reach. Default false.
   */
  forwardedFor?: boolean;
  /**
   * true: answer every token PUT 404, as something that is not IMDS does (an old emulator,
   * a metadata proxy without tokens, another cloud's metadata service). Default false.
   */
  tokenPut404?: boolean;
  identity?: Partial<InstanceIdentity>;
  /** one line per request: "METHOD PATH STATUS" */
  log?: (line: string) => void;
  now?: () => number;
}

export interface ImdsServerStats {
  requests: number;
  byStatus: Record<number, number>;
  tokensIssued: number;
}

export interface ImdsServer {
  /** port of the first listener */
  port: number;
  addresses: AddressInfo[];
  tokens: TokenMode;
  stats(): ImdsServerStats;
  close(): Promise<void>;
}

export const IMDS_IPV4 = '169.254.169.254';
export const IMDS_IPV6 = 'fd00:ec2::254';
export const TOKEN_PATH = '/latest/api/token';
export const MAX_TOKEN_TTL = 21600;

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
};

function errorPage(status: number): string {
  const title = `${status} - ${REASONS[status] ?? 'Error'}`;
  return (
    '<?xml version="1.0" encoding="iso-8859-1"?>\n' +
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n' +
    '\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n' +
    '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n' +
    ` <head>\n  <title>${title}</title>\n </head>\n <body>\n  <h1>${title}</h1>\n </body>\n</html>\n`
  );
}

/** parse the TTL request header: an integer 1..21600, else null */
export function parseTtl(value: string | string[] | undefined): number | null {
  if (typeof value !== 'string') return null;
  const text = value.trim();
  if (!/^\d{1,6}$/.test(text)) return null;
  const n = Number(text);
  return n >= 1 && n <= MAX_TOKEN_TTL ? n : null;
}

/** printable, bounded path for the log line */
function logPath(path: string): string {
  const clean = path.replace(/[^\x21-\x7e]/g, '?');
  return clean.length > 200 ? `${clean.slice(0, 200)}…` : clean;
}

export function createImdsHandler(opts: ImdsServerOptions = {}): {
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  stats: () => ImdsServerStats;
} {
  const now = opts.now ?? Date.now;
  const mode: TokenMode = opts.tokens ?? 'optional';
  const close = opts.connection === 'close';
  const lookup = createMetadataLookup({ ...DEFAULT_IDENTITY, ...opts.identity }, now);
  const tokens = new TokenStore(now);
  const stats: ImdsServerStats = { requests: 0, byStatus: {}, tokensIssued: 0 };

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const method = req.method ?? '';
    const path = (req.url ?? '/').split('?')[0] || '/';
    const send = (status: number, body: string, headers: Record<string, string> = {}): void => {
      stats.requests++;
      stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1;
      res.statusCode = status;
      res.setHeader('Server', 'EC2ws');
      if (close) res.setHeader('Connection', 'close');
      for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
      if (status === 401) {
        res.setHeader('Content-Type', 'text/plain');
        res.setHeader('Content-Length', '0');
        res.end();
      } else {
        const type = status >= 400 ? 'text/html' : 'text/plain';
        res.setHeader('Content-Type', type);
        res.setHeader('Content-Length', String(Buffer.byteLength(body)));
        res.end(body);
      }
      opts.log?.(`${method} ${logPath(path)} ${status}`);
    };
    // Drain any request body; IMDS requests have none that matter.
    req.resume();

    if (method === 'PUT') {
      if (path !== TOKEN_PATH) {
        // AWS: a PUT to a version-specific token path is refused with 403.
        return /^\/[^/]+\/api\/token\/?$/.test(path)
          ? send(403, errorPage(403))
          : send(405, errorPage(405), { Allow: 'GET, HEAD' });
      }
      if (opts.tokenPut404) return send(404, errorPage(404));
      if (req.headers['x-forwarded-for'] !== undefined || opts.forwardedFor) return send(403, errorPage(403));
      const ttl = parseTtl(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
      if (ttl === null) return send(400, errorPage(400));
      stats.tokensIssued++;
      // This exact casing marks the PUT answer; the harness' hop-limit rule matches it.
      return send(200, tokens.issue(ttl), { 'X-aws-ec2-metadata-token-ttl-seconds': String(ttl) });
    }
    if (method !== 'GET' && method !== 'HEAD') {
      return send(405, errorPage(405), { Allow: path === TOKEN_PATH ? 'PUT' : 'GET, HEAD' });
    }
    if (path === TOKEN_PATH) return send(405, errorPage(405), { Allow: 'PUT' });

    const raw = req.headers['x-aws-ec2-metadata-token'];
    const token = typeof raw === 'string' ? raw.trim() : '';
    let remaining: number | null = null;
    if (token !== '') {
      remaining = tokens.remainingSeconds(token);
      if (remaining === null) return send(401, '');
    } else if (mode === 'required') {
      return send(401, '');
    }
    const body = lookup(path);
    if (body === null) return send(404, errorPage(404));
    return send(
      200,
      body,
      remaining === null ? {} : { 'X-Aws-Ec2-Metadata-Token-Ttl-Seconds': String(remaining) },
    );
  };
  return { handler, stats: () => ({ ...stats, byStatus: { ...stats.byStatus } }) };
}

function listen(server: Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen({ host, port, ipv6Only: host.includes(':') }, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** start listeners on every host; resolves once all listen, rejects (closing any) if one fails */
export async function startImdsServer(opts: ImdsServerOptions = {}): Promise<ImdsServer> {
  const hosts = opts.hosts ?? [IMDS_IPV4, IMDS_IPV6];
  const port = opts.port ?? 80;
  const { handler, stats } = createImdsHandler(opts);
  const servers: Server[] = [];
  const addresses: AddressInfo[] = [];
  const closeAll = async (): Promise<void> => {
    await Promise.all(
      servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
  };
  try {
    for (const host of hosts) {
      const server = createServer({ requireHostHeader: false, keepAliveTimeout: 5000 }, handler);
      // Unparseable requests: a 400 that still says EC2ws, then close (Node's default has no Server).
      server.on('clientError', (_err, socket) => {
        if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nServer: EC2ws\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        else socket.destroy();
      });
      servers.push(server);
      addresses.push(await listen(server, host, port));
    }
  } catch (err) {
    await closeAll();
    throw err;
  }
  return {
    port: addresses[0]?.port ?? port,
    addresses,
    tokens: opts.tokens ?? 'optional',
    stats,
    close: closeAll,
  };
}
