import { Framing, isObsFold, parseChunkSize, parseHeaderLine } from './head-parser.js';
import type { HeadLimitCode, HttpErrorCode, HttpLimits } from './message.js';
import { LineBuffer } from './line-buffer.js';
import { HEADER_COST, MESSAGE_COST, UNCOUNTED, type MemoryAccount } from '../tcp/memory-budget.js';
import { S, resolveHttpLimits, type BodyFraming } from './parser-state.js';

const NO_HEADERS: Array<[string, string]> = [];
/** bytes of an over-long header line looked at for its name */
const JUNK_PEEK = 32;

/**
 * The state machine shared by the request and response parsers: incremental, fed any
 * split of the stream. Only the unfinished line is buffered (bounded by maxHeaderBytes);
 * bytes already parsed are never scanned again; body bytes are counted, never kept.
 */
export abstract class MessageParser {
  protected readonly limits: HttpLimits;
  protected readonly framing = new Framing();
  /** headers of the message being parsed */
  protected headers: Array<[string, string]> = NO_HEADERS;
  protected bodyLength = 0;
  /** time of the current message's first byte */
  protected msgSec = 0;
  protected msgNsec = 0;
  /** bytes not parsed (abandoned stream, resync) */
  ignoredBytes = 0;
  /**
   * the current head went past a limit: its later header lines are read one by one (each
   * within the line limit), for framing and what `keepPastLimit` asks for, and not kept
   * (docs/design.md#unfinished-requests)
   */
  protected overLimit: HeadLimitCode | null = null;

  private state: S = S.Start;
  /** the unfinished line */
  private readonly partial: LineBuffer;
  /** the current line is being discarded (too long while resynchronising) */
  private junkLine = false;
  private lineSec = 0;
  private lineNsec = 0;
  /** bytes of the current head or trailer section in complete lines */
  private headBytes = 0;
  private headerCount = 0;
  private remaining = 0;
  /** a gap hit the body of the current message */
  private bodyLost = false;
  /** charged to the memory account for the current message's head (start line, kept headers) */
  private headCharge = 0;
  /** the last header line was kept (an obs-fold continues it) */
  private lastKept = false;

  protected constructor(
    limits: Partial<HttpLimits> | undefined,
    private readonly reportError: (code: HttpErrorCode) => void,
    private readonly memory: MemoryAccount = UNCOUNTED,
  ) {
    this.limits = resolveHttpLimits(limits);
    this.partial = new LineBuffer(this.limits.maxHeaderBytes, memory);
  }

  /** parse a start line and begin a message; false when it is not one */
  protected abstract beginMessage(line: string, sec: number, nsec: number): boolean;
  /** the line looks like a start line (used to resynchronise after a gap) */
  protected abstract looksLikeStart(line: string): boolean;
  /** the head ended: how is the body framed? */
  protected abstract bodyFraming(): BodyFraming;
  /** the message is complete (or finished as best possible) */
  protected abstract emit(truncated: 'head' | 'body' | undefined): void;
  /** a message head that will never be emitted (interim response, stream ended inside it) */
  protected abstract discard(): void;
  /** the message has no headers and ends with its start line (HTTP/0.9 request) */
  protected immediate = false;
  /** a header line past the head limit: keep it? (bounded by the subclass: a few names, once each) */
  protected keepPastLimit(_name: string, _value: string): boolean {
    return false;
  }
  /** a header line too long to read, past the head limit: `start` is its first bytes */
  protected unreadHeader(_start: string): void {}
  /** a start line that cannot be read where a message must start (request side: still a request) */
  protected unreadable(_code: 'E_HTTP_BAD_START_LINE' | 'E_HTTP_HEADERS_TOO_LARGE', _sec: number, _nsec: number): void {}

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
          let line: Buffer;
          if (this.partial.length === 0) line = data.subarray(pos, lf);
          else {
            this.partial.append(data, pos, lf);
            line = this.partial.take();
          }
          pos = lf + 1;
          if (this.junkLine) {
            this.junkLine = false;
            this.ignoredBytes += line.length + 1;
            break;
          }
          this.headBytes += line.length + 1;
          const end = line.length > 0 && line[line.length - 1] === 13 ? line.length - 1 : line.length;
          this.onLine(line.toString('latin1', 0, end), line.length + 1);
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

  /** abandon the stream: later bytes are ignored and counted (a message past its head is still emitted) */
  protected abandon(code: HttpErrorCode | null): void {
    if (code !== null) this.reportError(code);
    if (this.state === S.Headers) this.dropMessage();
    else if (this.state === S.Trailers) this.finish('body');
    this.releaseHead();
    this.dropLine();
    this.state = S.Dead;
  }

  /** the current message will never be emitted */
  private dropMessage(): void {
    this.releaseHead();
    this.discard();
  }

  /** the current message left the parser (emitted or dropped): its head is no longer held here */
  private releaseHead(): void {
    this.memory.release(this.headCharge);
    this.headCharge = 0;
  }

  private holdHead(bytes: number): void {
    this.headCharge += bytes;
    this.memory.charge(bytes);
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

  /** the head went past a limit: read on without keeping (docs/design.md#unfinished-requests) */
  private passLimit(code: HeadLimitCode): void {
    this.reportError(code);
    this.overLimit = code;
  }

  /** a header line too long to read: framing named there is unknown, the subclass looks at its name */
  private junkHeader(start: string): void {
    const lower = start.toLowerCase();
    if (lower.startsWith('content-length:')) this.framing.see('Content-Length', 'unreadable');
    else if (lower.startsWith('transfer-encoding:')) this.framing.see('Transfer-Encoding', 'unreadable');
    this.unreadHeader(start);
  }

  /** `raw`: the line's length on the wire, with its line ending */
  private onLine(line: string, raw: number): void {
    switch (this.state) {
      case S.Start:
        if (line.length === 0) return; // empty lines before a start line are tolerated
        this.startMessage(line, raw, true);
        return;
      case S.Resync:
        if (this.looksLikeStart(line)) this.startMessage(line, raw, false);
        else this.ignoredBytes += raw;
        return;
      case S.Headers:
        this.headerLine(line, true);
        return;
      case S.Trailers:
        if (line.length === 0) this.finish(undefined);
        else this.headerLine(line, false);
        return;
      case S.ChunkSize: {
        const size = parseChunkSize(line);
        if (size < 0) {
          this.reportError('E_HTTP_BAD_CHUNK');
          this.finish('body');
          this.state = S.Resync;
        } else if (size === 0) {
          this.state = S.Trailers;
          this.headBytes = 0;
          this.headerCount = 0;
        } else {
          this.remaining = size;
          this.state = S.ChunkData;
        }
        return;
      }
      case S.ChunkEnd:
        if (line.length === 0) this.state = S.ChunkSize;
        else {
          this.reportError('E_HTTP_BAD_CHUNK');
          this.finish('body');
          this.state = S.Resync;
        }
        return;
      default:
        return;
    }
  }

  private startMessage(line: string, raw: number, reportBad: boolean): void {
    const sec = this.lineSec;
    const nsec = this.lineNsec;
    this.headers = [];
    this.bodyLength = 0;
    this.bodyLost = false;
    this.framing.reset();
    this.headerCount = 0;
    this.headBytes = raw;
    this.immediate = false;
    this.overLimit = null;
    this.lastKept = false;
    if (!this.beginMessage(line, sec, nsec)) {
      if (reportBad) {
        this.reportError('E_HTTP_BAD_START_LINE');
        this.unreadable('E_HTTP_BAD_START_LINE', sec, nsec);
      }
      this.ignoredBytes += raw;
      this.state = S.Resync;
      return;
    }
    this.msgSec = sec;
    this.msgNsec = nsec;
    this.releaseHead();
    this.holdHead(MESSAGE_COST + line.length);
    if (this.immediate) {
      this.finish(undefined);
      return;
    }
    this.state = S.Headers;
  }

  private headerLine(line: string, keep: boolean): void {
    if (line.length === 0) {
      this.headEnd();
      return;
    }
    if (isObsFold(line)) {
      // obs-fold: tolerated, the continuation joins the previous value with one space
      const last = this.headers[this.headers.length - 1];
      const more = line.trim();
      if (!keep) return;
      // past the head limit: only the continuation of a kept line is kept
      if (this.overLimit !== null && !this.lastKept) return;
      if (last === undefined) {
        this.reportError('E_HTTP_BAD_HEADER');
        return;
      }
      last[1] = more.length === 0 ? last[1] : last[1].length === 0 ? more : `${last[1]} ${more}`;
      this.holdHead(more.length + 1);
      this.framing.see(last[0], last[1]);
      return;
    }
    if (++this.headerCount > this.limits.maxHeaders && this.overLimit === null) {
      if (!keep) {
        this.abandon('E_HTTP_TOO_MANY_HEADERS');
        return;
      }
      this.passLimit('E_HTTP_TOO_MANY_HEADERS');
    }
    const h = parseHeaderLine(line);
    if (h === null) {
      this.reportError('E_HTTP_BAD_HEADER');
      return;
    }
    if (keep) {
      this.lastKept = this.overLimit === null || this.keepPastLimit(h[0], h[1]);
      if (this.lastKept) {
        this.headers.push(h);
        this.holdHead(line.length + HEADER_COST);
      }
      this.framing.see(h[0], h[1]);
    }
  }

  private headEnd(): void {
    this.headBytes = 0;
    const f = this.bodyFraming();
    switch (f.kind) {
      case 'none':
        this.finish(undefined);
        return;
      case 'length':
        if (f.length === 0) this.finish(undefined);
        else {
          this.remaining = f.length;
          this.state = S.BodyLength;
        }
        return;
      case 'chunked':
        this.state = S.ChunkSize;
        return;
      case 'eof':
        this.state = S.BodyEof;
        return;
      case 'interim':
        this.dropMessage();
        this.state = S.Start;
        return;
      case 'opaque':
        this.finish(undefined);
        this.state = S.Dead;
        return;
      case 'error':
        this.reportError(f.code);
        this.finish(undefined);
        this.state = S.Resync;
        return;
    }
  }

  /** emit the current message and wait for the next one */
  private finish(truncated: 'head' | 'body' | undefined): void {
    this.state = S.Start;
    this.headBytes = 0;
    this.headerCount = 0;
    this.releaseHead();
    this.emit(truncated ?? (this.bodyLost ? 'body' : undefined));
  }
}
