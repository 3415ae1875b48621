/**
 * The lab's load tool: hostile and heavy IMDS client traffic for the robustness tests,
 * always bounded in count and in time. Run it inside a lab namespace (see
 * load-tool-main.ts); it never picks a destination itself: `target` is the caller's.
 *
 * - `synFlood`: `count` connection attempts that are meant never to complete. Each
 *   attempt is a non-blocking connect() held for `holdMs`, then dropped (closing a socket
 *   in SYN_SENT sends nothing), at most `concurrency` at once. The SYN-ACK must be lost on
 *   the way (the caller drops the flood's source address in the IMDS namespace), so an
 *   observer sees only SYNs: half-open flows. `sources` spreads the attempts over several
 *   local addresses, each attempt on its own port (distinct 4-tuples).
 * - `shortConnections`: `count` one-shot `GET` requests with `Connection: close`, at most
 *   `concurrency` at once, each its own TCP connection — the pattern of one-shot clients.
 * - `endlessHeader`: one connection that sends `GET / HTTP/1.1\r\nX: ` and then header
 *   bytes at `bytesPerSec` until `seconds` have passed; the header never ends.
 *
 * Results are plain counters; nothing the server answers is kept or printed.
 */
import { connect, type Socket } from 'node:net';

export const LOAD_MODES = ['syn-flood', 'short-conns', 'endless-header'] as const;
export type LoadMode = (typeof LOAD_MODES)[number];

export interface LoadCommon {
  /** IMDS address (v4 or v6) */
  target: string;
  port?: number;
  /** hard time bound: the run stops after this many seconds whatever is left */
  seconds: number;
}

export interface SynFloodOptions extends LoadCommon {
  count: number;
  /** most attempts in flight at once (default 1000) */
  concurrency?: number;
  /** how long each attempt is held before it is dropped (default 300 ms) */
  holdMs?: number;
  /**
   * local addresses to bind, round-robin, each with explicit ports 1024, 1025, … so that
   * every attempt is a new 4-tuple for up to 64 512 attempts per address (with port 0 the
   * kernel hands a just-freed port out again at once). Default: the kernel chooses both.
   */
  sources?: string[];
}

export interface SynFloodResult {
  mode: 'syn-flood';
  attempted: number;
  /** attempts that completed the handshake (the SYN-ACK was not dropped: not a half-open flood) */
  connected: number;
  /** connect errors (EADDRNOTAVAIL, ENETUNREACH, ...) by code */
  errors: Record<string, number>;
  elapsedMs: number;
  timedOut: boolean;
}

export interface ShortConnectionsOptions extends LoadCommon {
  count: number;
  /** most connections at once (default 50) */
  concurrency?: number;
  /** request path (default /latest/meta-data/instance-id); `{i}` is replaced by the request number */
  path?: string;
  userAgent?: string;
  /** per-connection time bound (default 5000 ms) */
  timeoutMs?: number;
}

export interface ShortConnectionsResult {
  mode: 'short-conns';
  attempted: number;
  /** connections that got a status line back */
  answered: number;
  /** answers by status code */
  statuses: Record<string, number>;
  errors: Record<string, number>;
  elapsedMs: number;
  timedOut: boolean;
}

export interface EndlessHeaderOptions extends LoadCommon {
  /** header bytes per second (default 1 MiB/s) */
  bytesPerSec?: number;
}

export interface EndlessHeaderResult {
  mode: 'endless-header';
  /** header bytes written after the request line */
  headerBytes: number;
  /** the server closed or reset the connection before `seconds` were over */
  closedByServer: boolean;
  /** first status code the server sent back, if any */
  status: number | null;
  error: string | null;
  elapsedMs: number;
}

export type LoadResult = SynFloodResult | ShortConnectionsResult | EndlessHeaderResult;

function bump(m: Record<string, number>, k: string): void {
  m[k] = (m[k] ?? 0) + 1;
}

function errCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? 'error';
}

function positive(name: string, n: number): number {
  if (!Number.isFinite(n) || n <= 0) throw new RangeError(`${name} must be a positive number, not ${n}`);
  return n;
}

/** Run `count` jobs with at most `concurrency` at once, until done or `deadline` (Date.now() ms). */
async function pool(count: number, concurrency: number, deadline: number, job: (i: number) => Promise<void>): Promise<{ started: number; timedOut: boolean }> {
  let next = 0;
  let timedOut = false;
  const worker = async (): Promise<void> => {
    while (next < count) {
      if (Date.now() >= deadline) {
        timedOut = true;
        return;
      }
      await job(next++);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { started: next, timedOut };
}

export async function synFlood(o: SynFloodOptions): Promise<SynFloodResult> {
  const count = positive('count', o.count);
  const holdMs = o.holdMs ?? 300;
  const sources = o.sources?.filter(Boolean) ?? [];
  const t0 = Date.now();
  const deadline = t0 + positive('seconds', o.seconds) * 1000;
  const errors: Record<string, number> = {};
  let connected = 0;
  const { started, timedOut } = await pool(count, o.concurrency ?? 1000, deadline, (i) =>
    new Promise<void>((resolve) => {
      const local = sources.length > 0 ? { localAddress: sources[i % sources.length], localPort: 1024 + (Math.floor(i / sources.length) % 64_512) } : {};
      const sock: Socket = connect({ host: o.target, port: o.port ?? 80, ...local });
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        sock.destroy();
        resolve();
      };
      const timer = setTimeout(finish, Math.max(0, Math.min(holdMs, deadline - Date.now())));
      sock.once('connect', () => {
        connected++;
        finish();
      });
      sock.once('error', (err) => {
        bump(errors, errCode(err));
        finish();
      });
    }),
  );
  return { mode: 'syn-flood', attempted: started, connected, errors, elapsedMs: Date.now() - t0, timedOut };
}

export async function shortConnections(o: ShortConnectionsOptions): Promise<ShortConnectionsResult> {
  const count = positive('count', o.count);
  const t0 = Date.now();
  const deadline = t0 + positive('seconds', o.seconds) * 1000;
  const host = o.target.includes(':') ? `[${o.target}]` : o.target;
  const statuses: Record<string, number> = {};
  const errors: Record<string, number> = {};
  let answered = 0;
  const { started, timedOut } = await pool(count, o.concurrency ?? 50, deadline, (i) =>
    new Promise<void>((resolve) => {
      const path = (o.path ?? '/latest/meta-data/instance-id').replace('{i}', String(i));
      const request =
        `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: ${o.userAgent ?? 'imdswatch-load/1'}\r\n` + 'Accept: */*\r\nConnection: close\r\n\r\n';
      const sock = connect({ host: o.target, port: o.port ?? 80 });
      let head = '';
      let got = false;
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        sock.destroy();
        resolve();
      };
      const timer = setTimeout(() => {
        bump(errors, 'timeout');
        finish();
      }, Math.max(0, Math.min(o.timeoutMs ?? 5000, deadline - Date.now())));
      sock.once('connect', () => sock.write(request));
      sock.on('data', (d: Buffer) => {
        if (got) return;
        // only the status code is looked at; the body is discarded unread
        head += d.subarray(0, 32).toString('latin1');
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
        if (m) {
          got = true;
          answered++;
          bump(statuses, m[1]!);
        } else if (head.length >= 32) {
          got = true;
          bump(errors, 'bad-status-line');
        }
      });
      sock.once('end', finish);
      sock.once('close', finish);
      sock.once('error', (err) => {
        bump(errors, errCode(err));
        finish();
      });
    }),
  );
  return { mode: 'short-conns', attempted: started, answered, statuses, errors, elapsedMs: Date.now() - t0, timedOut };
}

export function endlessHeader(o: EndlessHeaderOptions): Promise<EndlessHeaderResult> {
  const rate = positive('bytesPerSec', o.bytesPerSec ?? 1024 * 1024);
  const t0 = Date.now();
  const deadline = t0 + positive('seconds', o.seconds) * 1000;
  const TICK_MS = 50;
  const chunk = Buffer.alloc(Math.max(1, Math.round((rate * TICK_MS) / 1000)), 'a');
  return new Promise((resolve) => {
    let headerBytes = 0;
    let status: number | null = null;
    let error: string | null = null;
    let closedByServer = false;
    let done = false;
    let interval: NodeJS.Timeout | null = null;
    const sock = connect({ host: o.target, port: o.port ?? 80 });
    const finish = (): void => {
      if (done) return;
      done = true;
      if (interval) clearInterval(interval);
      clearTimeout(stopTimer);
      sock.destroy();
      resolve({ mode: 'endless-header', headerBytes, closedByServer, status, error, elapsedMs: Date.now() - t0 });
    };
    const stopTimer = setTimeout(finish, deadline - t0);
    sock.once('connect', () => {
      sock.write('GET / HTTP/1.1\r\nX: ');
      interval = setInterval(() => {
        // do not queue without bound when the peer stops reading
        if (sock.writableLength > chunk.length * 4) return;
        sock.write(chunk);
        headerBytes += chunk.length;
      }, TICK_MS);
    });
    sock.on('data', (d: Buffer) => {
      if (status !== null) return;
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(d.subarray(0, 16).toString('latin1'));
      if (m) status = Number(m[1]);
    });
    sock.once('end', () => {
      closedByServer = true;
      finish();
    });
    sock.once('error', (err) => {
      error = errCode(err);
      closedByServer = true;
      finish();
    });
  });
}
