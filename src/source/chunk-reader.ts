/**
 * A fixed-size read buffer over a file descriptor, for the capture-file parsers.
 *
 * The parsers read `buf` between `pos` and `end` directly (no copies) and call
 * `fill(n)` when they need `n` contiguous bytes from `pos`. `fill` moves the unread
 * tail to the front of the buffer and reads more, so any view into `buf` handed out
 * earlier is invalid after a `fill` (frames are valid only during their callback).
 * Memory stays at one buffer of `chunkSize` bytes whatever the file size.
 */
import * as fs from 'node:fs';

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** Sleep without spinning (used only when a non-blocking stdin has no data yet). */
function sleepMs(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

export class ReadFailure extends Error {
  constructor(readonly errno: string, message: string) {
    super(message);
  }
}

export class ChunkReader {
  /** the read buffer; replaced only by `grow`, which a parser calls before handing out a frame */
  buf: Buffer;
  /** next unread byte in buf */
  pos = 0;
  /** end of valid data in buf */
  end = 0;
  /** file offset of buf[0] */
  base = 0;
  /** true once the descriptor returned end-of-file */
  eof = false;
  private nextProgress: number;

  constructor(
    private readonly fd: number,
    chunkSize: number,
    private readonly totalBytes: number | null,
    private readonly onProgress?: (bytesRead: number, totalBytes: number | null) => void,
    private readonly progressEvery = 64 * 1024 * 1024,
  ) {
    this.buf = Buffer.allocUnsafe(chunkSize);
    this.nextProgress = progressEvery;
  }

  /** file offset of `pos` */
  get offset(): number {
    return this.base + this.pos;
  }

  /**
   * A buffer of `size` bytes instead (when bigger), the unread bytes moved to its front: for a
   * format that needs larger contiguous blocks than the first buffer holds (pcapng). Views of
   * the old buffer are invalid after it.
   */
  grow(size: number): void {
    if (size <= this.buf.length) return;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, this.pos, this.end);
    this.base += this.pos;
    this.end -= this.pos;
    this.pos = 0;
    this.buf = next;
  }

  /** bytes available from pos */
  get available(): number {
    return this.end - this.pos;
  }

  /**
   * Make at least `need` bytes available from `pos` (need <= buffer size).
   * Returns false when the file ends first; the bytes that exist stay available.
   */
  fill(need: number): boolean {
    if (this.end - this.pos >= need) return true;
    const buf = this.buf;
    if (this.pos + need > buf.length) {
      // compact: move the unread tail to the front
      if (this.pos < this.end) buf.copyWithin(0, this.pos, this.end);
      this.base += this.pos;
      this.end -= this.pos;
      this.pos = 0;
    }
    while (this.end - this.pos < need && !this.eof) {
      const n = this.readSome(this.end, buf.length - this.end);
      if (n === 0) this.eof = true;
      this.end += n;
    }
    const readSoFar = this.base + this.end;
    if (this.onProgress && readSoFar >= this.nextProgress) {
      this.nextProgress = readSoFar + this.progressEvery;
      this.onProgress(readSoFar, this.totalBytes);
    }
    return this.end - this.pos >= need;
  }

  /**
   * Consume `n` bytes from pos, reading through them if they are not buffered
   * (for skipping large blocks without holding them). Returns false at end-of-file.
   */
  skip(n: number): boolean {
    while (n > 0) {
      const have = this.end - this.pos;
      if (have >= n) {
        this.pos += n;
        return true;
      }
      this.pos = this.end;
      n -= have;
      if (!this.fill(Math.min(n, this.buf.length))) {
        const got = Math.min(n, this.end - this.pos);
        this.pos += got;
        return false;
      }
    }
    return true;
  }

  private readSome(at: number, len: number): number {
    for (;;) {
      try {
        return fs.readSync(this.fd, this.buf, at, len, null);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK') {
          sleepMs(2);
          continue;
        }
        if (code === 'EOF') return 0; // Windows pipes
        if (code === 'EINTR') continue;
        throw new ReadFailure(code, (err as Error).message);
      }
    }
  }

  /** Report the final position once at the end. */
  finish(): void {
    if (this.onProgress) this.onProgress(this.base + this.end, this.totalBytes);
  }
}
