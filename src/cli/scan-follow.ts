import { closeSync, constants, fstatSync, lstatSync, openSync, readSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { ContainerInfo, ImdsEvent, ProcessInfo } from '../imds/event.js';
import { checkDirectory, type Identity, UnsafePathError } from '../files/safe-file.js';

/**
 * `scan` while the daemon runs: the daemon owns the SYN gate and its queue, so a scan does not
 * capture a second time — it follows the daemon's event log from its current end for the
 * scan's duration, and reports the events the daemon's gate attributed.
 *
 * The log is root's (or the daemon user's) file: its directory is checked as every file the
 * daemon writes is (src/files/safe-file.ts, with the daemon's uid as the owner allowed), the
 * file is opened without following a symlink, without blocking on a FIFO, and must be a
 * regular file. Rotation (src/sinks/rotating-file.ts renames the file to `.1` and opens a
 * new one; logrotate moves it and sends SIGHUP) is seen as another inode at the path: the
 * old file is read to its end first, then the new one from its start. A file cut shorter
 * (copytruncate) is read again from its start. Two rotations between polls would lose the
 * middle file's lines: counted as unreadable, never guessed.
 */
export class FollowError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FollowError';
  }
}

export interface FollowStats {
  events: number;
  /** lines that are not JSON (a foreign writer, a line cut at rotation) */
  skippedLines: number;
  rotations: number;
  /** the daemon's own capture-loss lines seen while following (an IMDSv1 call may hide there) */
  lossLines: number;
}

export interface FollowOptions {
  path: string;
  /** who may own the log's directories besides root: the daemon's user (the owner of its lock socket) */
  owner?: Identity;
  /** events from this ISO time on (the scan's start) */
  since: string;
  onEvent(ev: ImdsEvent): void;
  /** the daemon's capture-loss messages during the scan */
  onLoss?(message: string): void;
}

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = constants;
const CHUNK = 64 * 1024;
/** a line longer than this is no event of ours: skipped, not buffered without bound */
const MAX_LINE = 1024 * 1024;
/** the daemon's capture-loss lines (src/live/daemon-health.ts) */
const LOSS_KINDS = new Set(['flow-table', 'decode', 'capture']);

function openLog(path: string): { fd: number; ino: number; dev: number } {
  let fd: number;
  try {
    fd = openSync(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new UnsafePathError(path, 'it is a symlink');
    throw err;
  }
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    throw new UnsafePathError(path, 'it is not a regular file');
  }
  return { fd, ino: st.ino, dev: st.dev };
}

export class LogFollower {
  private fd: number;
  private ino: number;
  private dev: number;
  private offset: number;
  private rest = '';
  private dropping = false;
  private readonly st: FollowStats = { events: 0, skippedLines: 0, rotations: 0, lossLines: 0 };
  private until: string | null = null;
  private readonly path: string;

  /** open the log at its current end; FollowError with a one-line reason when it cannot be followed */
  constructor(private readonly opts: FollowOptions) {
    try {
      const dir = checkDirectory(dirname(opts.path), opts.owner);
      this.path = join(dir.path, basename(opts.path));
      const f = openLog(this.path);
      this.fd = f.fd;
      this.ino = f.ino;
      this.dev = f.dev;
      this.offset = fstatSync(this.fd).size;
    } catch (err) {
      if (err instanceof UnsafePathError) throw new FollowError(err.message);
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new FollowError(
        code === 'EACCES' || code === 'EPERM' ? `cannot read its event log ${opts.path}: permission denied (run as root or as the daemon's user)` : `cannot read its event log ${opts.path} (${code})`,
      );
    }
  }

  /** read what was appended since the last poll; follows a rotation */
  poll(): void {
    this.drain();
    let st;
    try {
      st = lstatSync(this.path);
    } catch {
      return; // between the rename and the new file: next poll
    }
    if (st.ino === this.ino && st.dev === this.dev) return;
    // rotated: the old file was read to its end above; the new one from its start
    let f;
    try {
      f = openLog(this.path);
    } catch {
      return;
    }
    closeSync(this.fd);
    this.fd = f.fd;
    this.ino = f.ino;
    this.dev = f.dev;
    this.offset = 0;
    this.endLine();
    this.st.rotations++;
    this.drain();
  }

  /** the last poll: events up to `until` (the scan's end); the file is closed */
  finish(until: string): FollowStats {
    this.until = until;
    this.poll();
    closeSync(this.fd);
    this.fd = -1;
    return this.stats();
  }

  stats(): FollowStats {
    return { ...this.st };
  }

  private drain(): void {
    if (this.fd < 0) return;
    const size = fstatSync(this.fd).size;
    if (size < this.offset) {
      // cut shorter in place (copytruncate): read it again from the start
      this.offset = 0;
      this.endLine();
    }
    const buf = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      const n = readSync(this.fd, buf, 0, CHUNK, this.offset);
      if (n <= 0) break;
      this.offset += n;
      this.take(buf.toString('utf8', 0, n));
    }
  }

  /** a partial line left at a rotation or truncation is no line */
  private endLine(): void {
    if (this.rest || this.dropping) this.st.skippedLines++;
    this.rest = '';
    this.dropping = false;
  }

  private take(text: string): void {
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) {
        if (!this.dropping) this.rest += text.slice(start);
        if (this.rest.length > MAX_LINE) {
          this.rest = '';
          this.dropping = true;
        }
        return;
      }
      const line = this.rest + text.slice(start, nl);
      this.rest = '';
      if (this.dropping) {
        this.dropping = false;
        this.st.skippedLines++;
      } else this.line(line);
      start = nl + 1;
    }
  }

  private line(line: string): void {
    if (!line.trim()) return;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      this.st.skippedLines++;
      return;
    }
    if (!o || typeof o !== 'object') return this.skip();
    const time = typeof o.time === 'string' ? o.time : null;
    if (o.kind !== 'imds-request') {
      if (o.app === 'imdswatch' && typeof o.kind === 'string' && LOSS_KINDS.has(o.kind) && o.level === 'error' && (!time || time >= this.opts.since)) {
        this.st.lossLines++;
        if (typeof o.msg === 'string') this.opts.onLoss?.(o.msg.slice(0, 300));
      }
      return;
    }
    // imdswatch doctor's own probe is no call of the host's software (src/sinks/event-log.ts)
    if (o.ownProbe === true) return;
    const ev = eventOf(o.event);
    if (!ev) return this.skip();
    if (ev.ts < this.opts.since || (this.until !== null && ev.ts > this.until)) return;
    this.st.events++;
    this.opts.onEvent(ev);
  }

  private skip(): void {
    this.st.skippedLines++;
  }
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

/** a log line's event, each field of the type it claims (a foreign line must not crash the report), or null */
export function eventOf(v: unknown): ImdsEvent | null {
  if (!v || typeof v !== 'object') return null;
  const e = v as Record<string, unknown>;
  const client = e.client as { ip?: unknown; port?: unknown } | null;
  if (typeof e.ts !== 'string' || !ISO.test(e.ts) || !['v1', 'v2', 'token'].includes(e.version as string)) return null;
  if (!client || typeof client !== 'object' || typeof client.ip !== 'string') return null;
  const ev = { ...e } as unknown as ImdsEvent;
  ev.method = str(e.method) ?? 'GET';
  ev.path = str(e.path) ?? '';
  ev.reason = (str(e.reason) as ImdsEvent['reason']) ?? null;
  ev.attribution = e.attribution === 'gate' || e.attribution === 'passive' ? e.attribution : 'none';
  ev.userAgent = str(e.userAgent);
  ev.sdk = (e.sdk && typeof e.sdk === 'object' ? e.sdk : null) as ImdsEvent['sdk'];
  ev.process = processOf(e.process);
  return ev;
}

function processOf(v: unknown): ProcessInfo | null {
  if (!v || typeof v !== 'object') return null;
  const p = v as Record<string, unknown>;
  const c = p.container && typeof p.container === 'object' ? (p.container as Record<string, unknown>) : null;
  return {
    ...(p as object),
    pid: typeof p.pid === 'number' ? p.pid : 0,
    exe: str(p.exe),
    cmdline: str(p.cmdline),
    uid: typeof p.uid === 'number' ? p.uid : null,
    user: str(p.user),
    unit: str(p.unit),
    container: c ? { ...(c as object), runtime: (str(c.runtime) ?? 'unknown') as ContainerInfo['runtime'], id: str(c.id) } : null,
    ancestors: Array.isArray(p.ancestors)
      ? p.ancestors
          .filter((a): a is Record<string, unknown> => !!a && typeof a === 'object')
          .map((a) => ({ pid: typeof a.pid === 'number' ? a.pid : 0, exe: str(a.exe), comm: str(a.comm), cmdline: str(a.cmdline) }))
      : [],
  } as ProcessInfo;
}
