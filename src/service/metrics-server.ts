import { chmodSync, lchownSync, lstatSync, readFileSync, unlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { Metrics } from '../sinks/metrics.js';
import { checkedPath, UnsafePathError } from '../files/safe-file.js';

/**
 * Where the daemon serves its metrics (docs/design.md#security), and why capture never waits
 * for it: any local user can bind 127.0.0.1:PORT before the daemon does (at boot, or during a
 * restart). The daemon then warns once, counts (imdswatch_metrics_listen_failures_total) and
 * tries again in the background — 1 s, doubling to every 30 s — while it captures; the squatter
 * can meanwhile serve Prometheus what it likes. A unix socket (metricsSocket) in a directory
 * only root or the daemon can write, mode 0660 and group `imdswatch-metrics`, cannot be taken
 * and is reachable only by root, the daemon's user and that group's members.
 */
export const DEFAULT_METRICS_GROUP = 'imdswatch-metrics';
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30_000;

export interface MetricsServerLog {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
}

/** a group's gid from its name or number (/etc/group), null when there is no such group */
export function groupId(group: string, groupFile = '/etc/group'): number | null {
  if (/^\d+$/.test(group)) return Number(group);
  let text: string;
  try {
    text = readFileSync(groupFile, 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === group && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  return null;
}

export class MetricsServer {
  private tcp: Server | null = null;
  private unix: Server | null = null;
  private unixPath: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly metrics: Metrics,
    private readonly log: MetricsServerLog,
    private readonly retryFirstMs = RETRY_FIRST_MS,
  ) {}

  /** listen on host:port; resolves after the first attempt, whatever came of it (a failed one is retried in the background) */
  startTcp(port: number, host: string): Promise<void> {
    let delay = this.retryFirstMs;
    let failures = 0;
    return new Promise((resolveFirst) => {
      const attempt = () => {
        this.timer = null;
        if (this.closed) return resolveFirst();
        const server = createServer(this.metrics.handle);
        server.once('error', (err: NodeJS.ErrnoException) => {
          server.close();
          this.metrics.countListenFailure('tcp');
          if (++failures === 1) {
            this.log.warn(
              { kind: 'metrics', listener: 'tcp', code: err.code ?? 'error' },
              `cannot serve metrics on ${host}:${port} (${err.code ?? 'error'}): capture goes on; trying again every ≤${RETRY_MAX_MS / 1000} s` +
                (err.code === 'EADDRINUSE' ? '. Another program holds the port — any local user can bind it and serve Prometheus what it likes; metricsSocket cannot be taken (README "Security")' : ''),
            );
          }
          if (!this.closed) {
            this.timer = setTimeout(attempt, delay);
            this.timer.unref();
            delay = Math.min(delay * 2, RETRY_MAX_MS);
          }
          resolveFirst();
        });
        server.listen(port, host, () => {
          if (this.closed) {
            server.close();
            return resolveFirst();
          }
          this.tcp = server;
          const a = server.address();
          const bound = typeof a === 'object' && a ? a.port : port;
          this.log.info({ kind: 'metrics', port: bound, failures }, `metrics on http://${host}:${bound}/metrics${failures ? ` (after ${failures} failed attempts)` : ''}`);
          resolveFirst();
        });
      };
      attempt();
    });
  }

  /**
   * Listen on a unix socket: mode 0660, group `group` (a name or gid). The directory is checked
   * like every path the daemon writes (UnsafePathError); a socket of ours left at the path by an
   * earlier run is replaced, anything else there is refused. Other failures warn and count.
   */
  async startUnix(path: string, group: string): Promise<void> {
    const c = checkedPath(path);
    try {
      const st = lstatSync(c.path);
      if (!st.isSocket() || st.uid !== (process.geteuid?.() ?? 0)) throw new UnsafePathError(path, 'something other than a socket of ours is there');
      unlinkSync(c.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const server = createServer(this.metrics.handle);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ path: c.path }, () => resolve());
      });
    } catch (err) {
      this.metrics.countListenFailure('unix');
      this.log.warn({ kind: 'metrics', listener: 'unix', code: (err as NodeJS.ErrnoException).code ?? 'error' }, `cannot serve metrics on ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'}); capture goes on`);
      return;
    }
    this.unix = server;
    this.unixPath = c.path;
    // the directory is ours alone (checked above): nobody can swap the socket for a link meanwhile
    chmodSync(c.path, 0o660);
    const gid = groupId(group);
    let note = `group ${group}`;
    try {
      if (gid === null) throw new Error('no such group');
      lchownSync(c.path, process.geteuid?.() ?? 0, gid);
    } catch (err) {
      note = `the daemon's own group: cannot give it to group ${group} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
      this.log.warn({ kind: 'metrics', listener: 'unix', group }, `metrics socket ${path}: ${note}`);
    }
    this.log.info({ kind: 'metrics', socket: path }, `metrics on unix:${path} (mode 0660, ${note})`);
  }

  close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    const closing = [this.tcp, this.unix].map(
      (s) =>
        new Promise<void>((r) => {
          if (!s) return r();
          s.close(() => r());
          // a scraper's keep-alive connection must not hold the shutdown
          s.closeAllConnections();
        }),
    );
    return Promise.all(closing).then(() => {
      // net.Server unlinks its unix socket on close; make sure
      if (this.unixPath) {
        try {
          unlinkSync(this.unixPath);
        } catch {
          /* gone */
        }
      }
    });
  }
}
