import { closeSync, existsSync, fstatSync, mkdirSync, openSync, renameSync, rmSync, writeSync, chmodSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * An append-only log file with size-based rotation (`log`, `log.1` … `log.N`), mode
 * 0600 in a 0700 directory. Writes are synchronous (a line is on disk-cache when
 * write() returns, so SIGTERM loses nothing). A write error (disk full, directory
 * gone) stops file logging with one reported error instead of crashing; `reopen()`
 * (SIGHUP, after logrotate moved the file) tries again.
 */
export interface RotatingFileOptions {
  path: string;
  maxBytes: number;
  /** rotated files kept besides the live one */
  maxFiles: number;
  onError: (message: string) => void;
}

export class RotatingFile {
  private fd: number | null = null;
  private size = 0;
  private failed = false;
  /** lines not written because file logging is stopped */
  dropped = 0;

  constructor(private readonly opts: RotatingFileOptions) {
    this.open();
  }

  write(line: string): void {
    if (this.fd === null) {
      this.dropped++;
      return;
    }
    const buf = Buffer.from(line);
    if (this.size + buf.length > this.opts.maxBytes && this.size > 0) this.rotate();
    if (this.fd === null) {
      this.dropped++;
      return;
    }
    try {
      let off = 0;
      while (off < buf.length) off += writeSync(this.fd, buf, off);
      this.size += buf.length;
    } catch (err) {
      this.fail(`cannot write ${this.opts.path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}; file logging stopped until SIGHUP or restart (events still go to stdout and metrics)`);
      this.dropped++;
    }
  }

  /** SIGHUP: close and open the path again (logrotate moved the file) */
  reopen(): void {
    this.close();
    this.failed = false;
    this.open();
  }

  close(): void {
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
      const dir = dirname(this.opts.path);
      if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
      this.fd = openSync(this.opts.path, 'a', 0o600);
      chmodSync(this.opts.path, 0o600);
      this.size = fstatSync(this.fd).size;
    } catch (err) {
      this.fd = null;
      this.fail(`cannot open ${this.opts.path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}; check the directory exists and is writable by this user (imdswatch doctor)`);
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
