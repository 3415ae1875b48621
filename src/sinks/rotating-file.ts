import { closeSync, existsSync, renameSync, rmSync, writeSync } from 'node:fs';
import { openAppend, UnsafePathError } from '../files/safe-file.js';

/**
 * An append-only log file with size-based rotation (`log`, `log.1` … `log.N`), mode
 * 0600 in a 0700 directory. Lines are batched: written (synchronously, one write() per
 * batch) at most `flushMs` after the first one of a batch, or at once when a batch reaches
 * FLUSH_BYTES; `flush()`, `reopen()` and `close()` write what is pending, so SIGTERM loses
 * nothing. At a few calls a second one write per line was a measurable share of the live
 * daemon's CPU. A write error (disk full, directory gone) stops file logging with one
 * reported error instead of crashing, and counts the lines not written as dropped;
 * `reopen()` (SIGHUP, after logrotate moved the file) tries again. Every open goes through
 * src/files/safe-file.ts: never through a symlink, never in a directory another user can
 * write (a planted link or FIFO is refused with one error; capture goes on).
 */
export interface RotatingFileOptions {
  path: string;
  maxBytes: number;
  /** rotated files kept besides the live one */
  maxFiles: number;
  onError: (message: string) => void;
  /** longest a line waits for the batch's write (default FLUSH_MS; 0: written by write() itself) */
  flushMs?: number;
}

export const FLUSH_MS = 50;
export const FLUSH_BYTES = 64 * 1024;

export class RotatingFile {
  private fd: number | null = null;
  private size = 0;
  private failed = false;
  /** lines not written because file logging is stopped */
  dropped = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: RotatingFileOptions) {
    this.open();
  }

  write(line: string): void {
    if (this.fd === null) {
      this.dropped++;
      return;
    }
    const buf = Buffer.from(line);
    this.pending.push(buf);
    this.pendingBytes += buf.length;
    const delay = this.opts.flushMs ?? FLUSH_MS;
    if (delay <= 0 || this.pendingBytes >= FLUSH_BYTES) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), delay);
      this.timer.unref();
    }
  }

  /** write the pending lines (one write() per batch; the file rotates between lines, as before) */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const lines = this.pending;
    if (lines.length === 0) return;
    this.pending = [];
    this.pendingBytes = 0;
    let i = 0;
    while (i < lines.length) {
      if (this.size + lines[i]!.length > this.opts.maxBytes && this.size > 0) this.rotate();
      if (this.fd === null) {
        this.dropped += lines.length - i;
        return;
      }
      // as many lines as fit before the size limit (at least one: a line longer than the limit goes alone)
      let j = i + 1;
      let bytes = lines[i]!.length;
      while (j < lines.length && this.size + bytes + lines[j]!.length <= this.opts.maxBytes) bytes += lines[j++]!.length;
      const chunk = j - i === 1 ? lines[i]! : Buffer.concat(lines.slice(i, j), bytes);
      let off = 0;
      try {
        while (off < chunk.length) off += writeSync(this.fd, chunk, off);
        this.size += chunk.length;
      } catch (err) {
        this.fail(`cannot write ${this.opts.path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}; file logging stopped until SIGHUP or restart (events still go to stdout and metrics)`);
        // lines not wholly written, this batch's and the rest
        let end = 0;
        for (let k = i; k < lines.length; k++) {
          end += lines[k]!.length;
          if (k >= j || end > off) this.dropped++;
        }
        return;
      }
      i = j;
    }
  }

  /** SIGHUP: close and open the path again (logrotate moved the file) */
  reopen(): void {
    this.flush();
    this.close();
    this.failed = false;
    this.open();
  }

  close(): void {
    this.flush();
    if (this.fd !== null) {
      try {
        closeSync(this.fd);
      } catch {
        /* nothing to do */
      }
      this.fd = null;
    }
  }

  private open(): void {
    try {
      const { fd, size } = openAppend(this.opts.path);
      this.fd = fd;
      this.size = size;
    } catch (err) {
      this.fd = null;
      if (err instanceof UnsafePathError) this.fail(`${err.message}; file logging stopped (events still go to stdout and metrics)`);
      else this.fail(`cannot open ${this.opts.path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}; check the directory exists and is writable by this user (imdswatch doctor)`);
    }
  }

  private rotate(): void {
    this.close();
    const p = this.opts.path;
    try {
      if (this.opts.maxFiles <= 0) rmSync(p, { force: true });
      else {
        rmSync(`${p}.${this.opts.maxFiles}`, { force: true });
        for (let i = this.opts.maxFiles - 1; i >= 1; i--) {
          if (existsSync(`${p}.${i}`)) renameSync(`${p}.${i}`, `${p}.${i + 1}`);
        }
        renameSync(p, `${p}.1`);
      }
    } catch (err) {
      this.fail(`cannot rotate ${p}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    this.open();
  }

  private fail(message: string): void {
    this.close();
    if (!this.failed) {
      this.failed = true;
      this.opts.onError(message);
    }
  }
}
