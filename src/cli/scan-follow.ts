import { closeSync, constants, fstatSync, lstatSync, openSync, readSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { ImdsEvent } from '../imds/event.js';
import { eventOf } from '../readiness/event-line.js';
import { checkDirectory, type Identity, UnsafePathError } from '../files/safe-file.js';

/**
 * `scan` while the daemon runs: the daemon owns the SYN gate and its queue, so a scan does not
 * capture a second time — it follows the daemon's event log from its current end for the
 * scan's duration, and reports the events the daemon's gate attributed.
 *
 * The log is root's (or the daemon user's) file: its directory is checked as every file the
 * daemon writes is (src/files/safe-file.ts, with the daemon's uid as the owner allowed), the
 * file is opened without following a symlink, without blocking on a FIFO, and must be a
 * regular file. Rotation (src/sinks/rotating-file.ts renames `log` to `log.1`, `log.1` to
 * `log.2`…, and opens a new `log`) is followed by inode: each poll reads every file of the
 * log, oldest first, from where it was left, and a file it never saw from its start, so no
 * line is lost to any number of rotations between two polls (only to a file rotated out of
 * the kept ones before it was read). A file cut shorter (copytruncate) is read again from
 * its start. logrotate's dated names are not looked for: the daemon rotates itself.
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
  /** files the log rotated to while following (each read from its start) */
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

/** what was read of one file of the log (the live file or a rotated one), by inode */
interface Seen {
  offset: number;
  rest: string;
  dropping: boolean;
}

/** rotated files looked at past the live one: `log.1` … up to the first missing (src/sinks/rotating-file.ts) */
const MAX_ROTATED = 100;

export class LogFollower {
  private readonly seen = new Map<string, Seen>();
  private readonly st: FollowStats = { events: 0, skippedLines: 0, rotations: 0, lossLines: 0 };
  private until: string | null = null;
  private readonly path: string;
  private closed = false;

  /** open the log at its current end; FollowError with a one-line reason when it cannot be followed */
  constructor(private readonly opts: FollowOptions) {
    try {
      const dir = checkDirectory(dirname(opts.path), opts.owner);
      this.path = join(dir.path, basename(opts.path));
      const f = openLog(this.path);
      try {
        this.seen.set(`${f.dev}:${f.ino}`, { offset: fstatSync(f.fd).size, rest: '', dropping: false });
      } finally {
        closeSync(f.fd);
      }
    } catch (err) {
      if (err instanceof UnsafePathError) throw new FollowError(err.message);
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new FollowError(
        code === 'EACCES' || code === 'EPERM' ? `cannot read its event log ${opts.path}: permission denied (run as root or as the daemon's user)` : `cannot read its event log ${opts.path} (${code})`,
      );
    }
    // what was rotated before the scan is not the scan's
    for (const f of this.rotated()) {
      try {
        const o = openLog(f);
        const st = fstatSync(o.fd);
        closeSync(o.fd);
        this.seen.set(`${st.dev}:${st.ino}`, { offset: st.size, rest: '', dropping: false });
      } catch {
        /* gone meanwhile */
      }
    }
  }

  /**
   * Read what was appended since the last poll: the files of the log, oldest first (`log.N` …
   * `log.1`, then `log`), each by inode from where it was left, a file not seen before from
   * its start — so lines survive any number of rotations between two polls.
   */
  poll(): void {
    if (this.closed) return;
    for (const f of [...this.rotated().reverse(), this.path]) this.readFile(f);
  }

  /** the last poll: events up to `until` (the scan's end) */
  finish(until: string): FollowStats {
    this.until = until;
    this.poll();
    this.closed = true;
    for (const s of this.seen.values()) if (s.rest || s.dropping) this.st.skippedLines++;
    return this.stats();
  }

  stats(): FollowStats {
    return { ...this.st };
  }

  /** the rotated files there now, newest first */
  private rotated(): string[] {
    const out: string[] = [];
    for (let i = 1; i <= MAX_ROTATED; i++) {
      const p = `${this.path}.${i}`;
      try {
        lstatSync(p);
      } catch {
        break;
      }
      out.push(p);
    }
    return out;
  }

  private readFile(path: string): void {
    let f;
    try {
      f = openLog(path);
    } catch {
      return; // gone between the listing and the open (rotated on: read at its new name), or not a file
    }
    try {
      const id = `${f.dev}:${f.ino}`;
      let s = this.seen.get(id);
      if (!s) {
        // a file the log rotated to since the scan started
        s = { offset: 0, rest: '', dropping: false };
        this.seen.set(id, s);
        this.st.rotations++;
      }
      const size = fstatSync(f.fd).size;
      if (size < s.offset) {
        // cut shorter in place (copytruncate): read it again from the start; a partial line is no line
        if (s.rest || s.dropping) this.st.skippedLines++;
        s.offset = 0;
        s.rest = '';
        s.dropping = false;
      }
      const buf = Buffer.allocUnsafe(CHUNK);
      for (;;) {
        const n = readSync(f.fd, buf, 0, CHUNK, s.offset);
        if (n <= 0) break;
        s.offset += n;
        this.take(s, buf.toString('utf8', 0, n));
      }
    } finally {
      closeSync(f.fd);
    }
  }

  private take(s: Seen, text: string): void {
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) {
        if (!s.dropping) s.rest += text.slice(start);
        if (s.rest.length > MAX_LINE) {
          s.rest = '';
          s.dropping = true;
        }
        return;
      }
      const line = s.rest + text.slice(start, nl);
      s.rest = '';
      if (s.dropping) {
        s.dropping = false;
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
