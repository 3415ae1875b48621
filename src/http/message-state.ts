import { FRAMING_HEADERS, Framing, isObsFold, parseChunkSize, parseHeaderLine, unkeptHeaderAt, unkeptNameLength } from './head-parser.js';
import type { HeaderSelection, HeadLimitCode, HttpErrorCode, HttpLimits } from './message.js';
import { HEADER_COST, MESSAGE_COST, UNCOUNTED, type MemoryAccount } from '../tcp/memory-budget.js';
import { S, resolveHttpLimits, type BodyFraming } from './parser-state.js';

const NO_HEADERS: Array<[string, string]> = [];

const selections = new WeakMap<readonly string[], readonly string[]>();

/** the names a selective parser keeps: the selection and the framing headers (one array per selection: parsers are made per flow) */
function selection(keep: readonly string[]): readonly string[] {
  let names = selections.get(keep);
  if (names === undefined) {
    names = [...FRAMING_HEADERS, ...keep.map((k) => k.toLowerCase())];
    selections.set(keep, names);
  }
  return names;
}

/**
 * The line-level half of the HTTP parsers: what each complete line does to the message being
 * parsed (start line, headers and their limits, body framing, chunk sizes, trailers) and
 * when a message is emitted. The byte-level half (splitting the stream into lines within
 * the line limit, gaps, end of stream) is MessageParser (message-parser.ts), which extends it.
 */
export abstract class MessageState {
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

  protected state: S = S.Start;
  protected lineSec = 0;
  protected lineNsec = 0;
  /** bytes of the current head or trailer section in complete lines */
  protected headBytes = 0;
  protected headerCount = 0;
  protected remaining = 0;
  /** a gap hit the body of the current message */
  protected bodyLost = false;
  /** charged to the memory account for the current message's head (start line, kept headers) */
  private headCharge = 0;
  /** the last header line was kept (an obs-fold continues it) */
  protected lastKept = false;
  /**
   * Selective mode (`keepOnly`, set by the subclass): the lower-case names of the headers kept
   * in `headers` (the framing headers are always added); null keeps every header. Any other
   * header line is read in place in the packet's bytes (checked, counted, charged to the budget
   * exactly as when kept) and never becomes text. It must name every header `keepPastLimit`
   * can keep.
   */
  protected keepOnly: readonly string[] | null = null;
  /**
   * selective mode: the budget cost (name + value + HEADER_COST) of the header lines of the
   * current message that a full parse would have kept and this one did not
   */
  protected unkeptCost = 0;
  /**
   * selective mode: the value length of the last header a full parse would have kept, when it
   * is not in `headers` (an obs-fold continues it); -1 when that header is in `headers` or none
   */
  private unkeptLastLength = -1;

  protected constructor(
    limits: Partial<HttpLimits> | undefined,
    protected readonly reportError: (code: HttpErrorCode) => void,
    protected readonly memory: MemoryAccount = UNCOUNTED,
    keep: HeaderSelection = undefined,
  ) {
    this.limits = resolveHttpLimits(limits);
    if (keep !== undefined) this.keepOnly = selection(keep);
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

  /** abandon the stream: later bytes are ignored and counted (a message past its head is still emitted) */
  protected abstract abandon(code: HttpErrorCode | null): void;

  /** the current message will never be emitted */
  protected dropMessage(): void {
    this.releaseHead();
    this.discard();
  }

  /** the current message left the parser (emitted or dropped): its head is no longer held here */
  protected releaseHead(): void {
    this.memory.release(this.headCharge);
    this.headCharge = 0;
  }

  protected holdHead(bytes: number): void {
    this.headCharge += bytes;
    this.memory.charge(bytes);
  }

  /** the head went past a limit: read on without keeping (docs/design.md#unfinished-requests) */
  protected passLimit(code: HeadLimitCode): void {
    this.reportError(code);
    this.overLimit = code;
  }

  /** a header line too long to read: framing named there is unknown, the subclass looks at its name */
  protected junkHeader(start: string): void {
    const lower = start.toLowerCase();
    if (lower.startsWith('content-length:')) this.framing.see('Content-Length', 'unreadable');
    else if (lower.startsWith('transfer-encoding:')) this.framing.see('Transfer-Encoding', 'unreadable');
    this.unreadHeader(start);
  }

  /** `raw`: the line's length on the wire, with its line ending */
  protected onLine(line: string, raw: number): void {
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

  protected startMessage(line: string, raw: number, reportBad: boolean): void {
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
    this.unkeptCost = 0;
    this.unkeptLastLength = -1;
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

  protected headerLine(line: string, keep: boolean): void {
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
      const unkept = this.unkeptLastLength;
      if (unkept >= 0) {
        // it continues a header read in place (never a framing one): its cost grows as the kept one's would
        const grown = more.length === 0 ? unkept : unkept === 0 ? more.length : unkept + 1 + more.length;
        this.unkeptCost += grown - unkept;
        this.unkeptLastLength = grown;
        this.holdHead(more.length + 1);
        return;
      }
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
        this.unkeptLastLength = -1;
        this.holdHead(line.length + HEADER_COST);
      }
      this.framing.see(h[0], h[1]);
    }
  }

  /**
   * Selective mode, a header line `buf[from, end)` (no CR or LF): when it is a valid field line
   * whose name is not kept, it is read here in place (as `headerLine` would: counted, limits,
   * charged) and true is returned; otherwise (empty, obs-fold, invalid, a kept name) false,
   * and the caller reads it as text.
   */
  protected unkeptHeaderLine(buf: Buffer, from: number, end: number): boolean {
    const valueLength = unkeptHeaderAt(buf, from, end, this.keepOnly!);
    if (valueLength < 0) return false;
    if (++this.headerCount > this.limits.maxHeaders && this.overLimit === null) this.passLimit('E_HTTP_TOO_MANY_HEADERS');
    // past the head limit a full parse keeps only what keepPastLimit asks for, all of it named in keepOnly
    this.lastKept = this.overLimit === null;
    if (this.lastKept) {
      // what a full parse holds for it: the line and the header's name and value
      this.unkeptLastLength = valueLength;
      this.unkeptCost += unkeptNameLength + valueLength + HEADER_COST;
      this.holdHead(end - from + HEADER_COST);
    }
    return true;
  }

  /** the framing 'length' of the head that just ended: one object per parser, read at once by headEnd */
  private readonly byLength: { kind: 'length'; length: number } = { kind: 'length', length: 0 };

  protected framedBy(length: number): BodyFraming {
    this.byLength.length = length;
    return this.byLength;
  }

  protected headEnd(): void {
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
  protected finish(truncated: 'head' | 'body' | undefined): void {
    this.state = S.Start;
    this.headBytes = 0;
    this.headerCount = 0;
    this.releaseHead();
    this.emit(truncated ?? (this.bodyLost ? 'body' : undefined));
  }
}

