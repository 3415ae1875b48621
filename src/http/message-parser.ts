import type { HeaderSelection, HttpErrorCode, HttpLimits } from './message.js';
import { LineBuffer } from './line-buffer.js';
import type { MemoryAccount } from '../tcp/memory-budget.js';
import { S } from './parser-state.js';
import { MessageState } from './message-state.js';

/** bytes of an over-long header line looked at for its name */
const JUNK_PEEK = 32;

/**
 * The state machine shared by the request and response parsers: incremental, fed any
 * split of the stream. Only the unfinished line is buffered (bounded by maxHeaderBytes);
 * bytes already parsed are never scanned again; body bytes are counted, never kept.
 * This class splits the stream into lines (and counts body bytes); what a line means is
 * MessageState's (message-state.ts).
 */
export abstract class MessageParser extends MessageState {
  /** the unfinished line */
  private readonly partial: LineBuffer;
  /** the current line is being discarded (too long while resynchronising) */
  private junkLine = false;

  protected constructor(limits: Partial<HttpLimits> | undefined, reportError: (code: HttpErrorCode) => void, memory?: MemoryAccount, keep?: HeaderSelection) {
    super(limits, reportError, memory, keep);
    this.partial = new LineBuffer(this.limits.maxHeaderBytes, this.memory);
  }

  push(data: Buffer, sec: number, nsec: number): void {
    let pos = 0;
    const len = data.length;
    while (pos < len) {
      switch (this.state) {
        case S.Dead:
          this.ignoredBytes += len - pos;
          return;
        case S.BodyEof:
          this.bodyLength += len - pos;
          return;
        case S.BodyLength:
        case S.ChunkData: {
          const n = this.remaining < len - pos ? this.remaining : len - pos;
          this.bodyLength += n;
          this.remaining -= n;
          pos += n;
          if (this.remaining === 0) {
            if (this.state === S.BodyLength) this.finish(undefined);
            else this.state = S.ChunkEnd;
          }
          break;
        }
        default: {
          if (this.partial.length === 0 && !this.junkLine) {
            this.lineSec = sec;
            this.lineNsec = nsec;
          }
          const lf = data.indexOf(10, pos);
          const stop = lf < 0 ? len : lf;
          // the line with its LF (when seen) must fit what is left of the budget
          if (!this.junkLine && this.partial.length + (stop - pos) + (lf < 0 ? 0 : 1) > this.lineLimit()) {
            if (this.state === S.Headers) {
              if (this.overLimit === null) {
                // the head passed its budget: read on, each line within its own (docs/design.md#unfinished-requests)
                this.passLimit('E_HTTP_HEADERS_TOO_LARGE');
                continue;
              }
              this.junkHeader(this.partial.peek(JUNK_PEEK) + data.toString('latin1', pos, Math.min(stop, pos + JUNK_PEEK)));
            }
            this.ignoredBytes += stop - pos + (lf < 0 ? 0 : 1);
            this.overLongLine();
            if (lf < 0) return;
            pos = lf + 1;
            this.junkLine = false;
            break;
          }
          if (lf < 0) {
            if (!this.junkLine) {
              this.partial.append(data, pos, len);
            } else this.ignoredBytes += len - pos;
            return;
          }
          // the line is [from, to) of `line`: the packet itself when whole (no view made per line)
          let line = data;
          let from = pos;
          let to = lf;
          if (this.partial.length !== 0) {
            this.partial.append(data, pos, lf);
            line = this.partial.take();
            from = 0;
            to = line.length;
          }
          pos = lf + 1;
          const lineLength = to - from;
          if (this.junkLine) {
            this.junkLine = false;
            this.ignoredBytes += lineLength + 1;
            break;
          }
          this.headBytes += lineLength + 1;
          const end = lineLength > 0 && line[to - 1] === 13 ? to - 1 : to;
          // selective mode: a header line not kept is read in place, never made text
          if (this.state === S.Headers && this.keepOnly !== null && this.unkeptHeaderLine(line, from, end)) break;
          this.onLine(line.toString('latin1', from, end), lineLength + 1);
        }
      }
    }
  }

  /**
   * The stream is joined mid-way (capture started inside a connection): skip to the
   * first line that looks like a start line, without reporting the partial message.
   * Call before the first push.
   */
  startMidstream(): void {
    if (this.state === S.Start && this.partial.length === 0) this.state = S.Resync;
  }

  /** bytes of the unfinished line held right now (never more than maxHeaderBytes) */
  get bufferedBytes(): number {
    return this.partial.length;
  }

  /** `bytes` of the stream are missing here */
  gap(bytes: number): void {
    if (this.state === S.Dead) {
      this.ignoredBytes += bytes;
      return;
    }
    this.reportError('E_HTTP_GAP');
    switch (this.state) {
      case S.BodyEof:
        this.bodyLength += bytes;
        this.bodyLost = true;
        return;
      case S.BodyLength:
      case S.ChunkData:
        this.bodyLost = true;
        if (bytes < this.remaining) {
          // still in sync: the gap is inside the body
          this.remaining -= bytes;
          this.bodyLength += bytes;
          return;
        }
        this.bodyLength += this.remaining;
        if (bytes === this.remaining && this.state === S.BodyLength) {
          this.remaining = 0;
          this.finish('body');
          return;
        }
        this.finish('body');
        break;
      case S.Headers:
        this.finish('head');
        break;
      case S.ChunkSize:
      case S.ChunkEnd:
      case S.Trailers:
        this.finish('body');
        break;
      default:
        break;
    }
    this.dropLine();
    // the next bytes may start a line or not; a partial line rarely looks like a start line
    this.state = S.Resync;
    this.junkLine = false;
  }

  /** end of stream: a message whose head was seen is emitted (body as far as seen) */
  end(): void {
    switch (this.state) {
      case S.BodyEof:
        this.finish(undefined);
        break;
      case S.BodyLength:
      case S.ChunkData:
      case S.ChunkSize:
      case S.ChunkEnd:
      case S.Trailers:
        this.finish('body');
        break;
      case S.Headers:
        this.dropMessage();
        break;
      default:
        break;
    }
    this.releaseHead();
    this.dropLine();
    this.state = S.Dead;
  }

  protected override abandon(code: HttpErrorCode | null): void {
    if (code !== null) this.reportError(code);
    if (this.state === S.Headers) this.dropMessage();
    else if (this.state === S.Trailers) this.finish('body');
    this.releaseHead();
    this.dropLine();
    this.state = S.Dead;
  }


  private dropLine(): void {
    this.ignoredBytes += this.partial.clear();
  }

  private lineLimit(): number {
    // head and trailer lines share the section budget; other lines (and head lines past the
    // head's limit) get a full budget each
    switch (this.state) {
      case S.Headers:
        return this.overLimit === null ? this.limits.maxHeaderBytes - this.headBytes : this.limits.maxHeaderBytes;
      case S.Start:
      case S.Trailers:
        return this.limits.maxHeaderBytes - this.headBytes;
      default:
        return this.limits.maxHeaderBytes;
    }
  }

  private overLongLine(): void {
    this.ignoredBytes += this.partial.clear();
    switch (this.state) {
      case S.Resync:
        this.junkLine = true;
        return;
      case S.ChunkSize:
      case S.ChunkEnd:
        this.reportError('E_HTTP_BAD_CHUNK');
        this.finish('body');
        this.state = S.Resync;
        this.junkLine = true;
        return;
      case S.Headers:
        // a header line longer than a whole head, past the limit: skipped to its end
        this.lastKept = false;
        this.junkLine = true;
        return;
      case S.Start:
        // a request line longer than a whole head: a request that cannot be read; skip to
        // the next line that looks like a start line
        this.reportError('E_HTTP_HEADERS_TOO_LARGE');
        this.unreadable('E_HTTP_HEADERS_TOO_LARGE', this.lineSec, this.lineNsec);
        this.state = S.Resync;
        this.junkLine = true;
        return;
      default:
        // trailers: the message is emitted, the rest of the stream can't be bounded
        this.abandon('E_HTTP_HEADERS_TOO_LARGE');
        this.junkLine = true;
    }
  }

}
