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
  /** lines waiting for the batch's write, as given (docs/design.md#log-batch) */
  private pending: string[] = [];
  private pendingChars = 0;
  /** one timer for every batch, re-armed with refresh() (a new Timeout and timer list per batch cost ~10 µs of a call at 100 calls/s) */
  private timer: NodeJS.Timeout | null = null;
  private timerArmed = false;

  constructor(private readonly opts: RotatingFileOptions) {
    this.open();
  }

  write(line: string): void {
    if (this.fd === null) {
      this.dropped++;
      return;
    }
    this.pending.push(line);
    // characters, not bytes: a bound on the batch, not on the file (its size is counted in bytes when written)
    this.pendingChars += line.length;
    const delay = this.opts.flushMs ?? FLUSH_MS;
    if (delay <= 0 || this.pendingChars >= FLUSH_BYTES) this.flush();
    else if (!this.timerArmed) {
      // an armed timer stays armed when a batch is written early: it then writes the lines that came after, sooner than flushMs
      this.timerArmed = true;
      if (this.timer) this.timer.refresh();
      else {
        this.timer = setTimeout(this.onTimer, delay);
        this.timer.unref();
      }
    }
  }

  private readonly onTimer = (): void => {
    this.timerArmed = false;
    this.flush();
  };

  /** write the pending lines (one write() per batch; the file rotates between lines, as before) */
  flush(): void {
    const lines = this.pending;
    if (lines.length === 0) return;
    this.pending = [];
    this.pendingChars = 0;
    if (this.fd === null) {
      this.dropped += lines.length;
      return;
    }
    // the batch as one buffer: written whole unless the file must rotate within it
    const all = Buffer.from(lines.length === 1 ? lines[0]! : lines.join(''));
    if (this.size + all.length <= this.opts.maxBytes) this.writeChunk(all, lines, 0, lines.length);
    else this.writeRotating(lines.map((l) => Buffer.from(l)));
  }

  /** lines[i..j), `chunk` their bytes: one write; false when it failed (the lines not wholly written are dropped) */
  private writeChunk(chunk: Buffer, lines: ReadonlyArray<string | Buffer>, i: number, j: number): boolean {
    let off = 0;
    try {
      while (off < chunk.length) off += writeSync(this.fd!, chunk, off);
      this.size += chunk.length;
      return true;
    } catch (err) {
      this.fail(`cannot write ${this.opts.path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}; file logging stopped until SIGHUP or restart (events still go to stdout and metrics)`);
      // lines not wholly written, this batch's and the rest
      let end = 0;
      for (let k = i; k < lines.length; k++) {
        const l = lines[k]!;
        end += typeof l === 'string' ? Buffer.byteLength(l) : l.length;
        if (k >= j || end > off) this.dropped++;
      }
      return false;
    }
  }

  /** a batch the file rotates within: as many lines per write as fit before the size limit */
  private writeRotating(lines: Buffer[]): void {
    let i = 0;
    while (i < lines.length) {
      if (this.size + lines[i]!.length > this.opts.maxBytes && this.size > 0) this.rotate();
      if (this.fd === null) {
        this.dropped += lines.length - i;
        return;
      }
      // at least one line: a line longer than the limit goes alone
      let j = i + 1;
      let bytes = lines[i]!.length;
      while (j < lines.length && this.size + bytes + lines[j]!.length <= this.opts.maxBytes) bytes += lines[j++]!.length;
      const chunk = j - i === 1 ? lines[i]! : Buffer.concat(lines.slice(i, j), bytes);
      if (!this.writeChunk(chunk, lines, i, j)) return;
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
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
      this.timerArmed = false;
    }
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
