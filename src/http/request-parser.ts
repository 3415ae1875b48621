import { looksLikeRequestLine, parseRequestLine } from './head-parser.js';
import { TOKEN_HEADER, TOKEN_TTL_HEADER, type HeaderSelection, type HttpErrorCode, type HttpLimits, type HttpRequest } from './message.js';
import { MessageParser } from './message-parser.js';
import type { MemoryAccount } from '../tcp/memory-budget.js';
import { FRAMING_CHUNKED, FRAMING_NONE, type BodyFraming } from './parser-state.js';

export interface RequestParserCallbacks {
  /** a request is complete (or finished as best possible after a gap / end of stream) */
  onRequest(req: HttpRequest): void;
  onError(code: HttpErrorCode): void;
  /**
   * optional: the request's head is parsed (called before onRequest with the same
   * object, whose bodyLength is still growing) — lets a pairing layer know the method
   * before the body ends
   */
  onRequestHead?(req: HttpRequest): void;
}

/**
 * Incremental HTTP/1.0 and 1.1 request parser for the client → server direction.
 * Feed it any split of the stream with `push`; `gap` when bytes are missing; `end` once.
 */
/** past the head limit, these headers are kept, each at most once (KEPT_* bits): what classifies an IMDS call */
const KEPT_TOKEN = 1;
const KEPT_EMPTY_TOKEN = 2;
const KEPT_TTL = 4;
const KEPT_USER_AGENT = 8;

export class HttpRequestParser extends MessageParser {
  private current: HttpRequest | null = null;
  /** KEPT_* bits of the headers kept past the head limit for the current request */
  private keptPastLimit = 0;
  /** a token header too long to read was seen: v1 or v2 cannot be told */
  private tokenUnread = false;

  constructor(
    private readonly cb: RequestParserCallbacks,
    limits?: Partial<HttpLimits>,
    /** the flow's account in the byte budget (src/tcp/memory-budget.ts) */
    memory?: MemoryAccount,
    /** the headers kept in `headers` (HeaderSelection); every one by default */
    keep?: HeaderSelection,
  ) {
    super(limits, (code) => cb.onError(code), memory, keep);
  }

  protected beginMessage(line: string, sec: number, nsec: number): boolean {
    const rl = parseRequestLine(line);
    if (rl === null) return false;
    this.keptPastLimit = 0;
    this.tokenUnread = false;
    this.current = { method: rl.method, target: rl.target, httpVersion: rl.httpVersion, headers: this.headers, bodyLength: 0, sec, nsec };
    // HTTP/0.9 style: no headers, no body
    if (rl.httpVersion === '') {
      this.immediate = true;
      this.cb.onRequestHead?.(this.current);
    }
    return true;
  }

  /**
   * Past the head limit the headers that classify an IMDS call are still kept, once each:
   * the first token header with a value and the first empty one (an empty value does not
   * make a call v2), the token TTL, the User-Agent (docs/design.md#unfinished-requests).
   */
  protected override keepPastLimit(name: string, value: string): boolean {
    let bit = 0;
    if (name.length === TOKEN_HEADER.length && name.toLowerCase() === TOKEN_HEADER) bit = value.trim() === '' ? KEPT_EMPTY_TOKEN : KEPT_TOKEN;
    else if (name.length === TOKEN_TTL_HEADER.length && name.toLowerCase() === TOKEN_TTL_HEADER) bit = KEPT_TTL;
    else if (name.length === 10 && name.toLowerCase() === 'user-agent') bit = KEPT_USER_AGENT;
    if (bit === 0 || (this.keptPastLimit & bit) !== 0) return false;
    this.keptPastLimit |= bit;
    return true;
  }

  /** a header line too long to read: when it is the token header, its value is unknown */
  protected override unreadHeader(start: string): void {
    if (start.length > TOKEN_HEADER.length && start.slice(0, TOKEN_HEADER.length + 1).toLowerCase() === `${TOKEN_HEADER}:`) this.tokenUnread = true;
  }

  /** a request line that cannot be read is still a request: handed on empty, marked (docs/design.md#unfinished-requests) */
  protected override unreadable(code: 'E_HTTP_BAD_START_LINE' | 'E_HTTP_HEADERS_TOO_LARGE', sec: number, nsec: number): void {
    const req: HttpRequest = { method: '', target: '', httpVersion: '', headers: [], bodyLength: 0, sec, nsec, unreadable: code };
    this.cb.onRequestHead?.(req);
    this.cb.onRequest(req);
  }

  protected looksLikeStart(line: string): boolean {
    return looksLikeRequestLine(line);
  }

  protected bodyFraming(): BodyFraming {
    const req = this.current!;
    req.headers = this.headers;
    if (this.keepOnly !== null) req.unkeptHeaderCost = this.unkeptCost;
    this.cb.onRequestHead?.(req);
    const f = this.framing;
    if (f.hasTransferEncoding) {
      // a request body of unknown length cannot be delimited (RFC 9112 6.3)
      return f.chunked ? FRAMING_CHUNKED : { kind: 'error', code: 'E_HTTP_BAD_HEADER' };
    }
    if (f.contentLength === -2) return { kind: 'error', code: 'E_HTTP_BAD_CONTENT_LENGTH' };
    if (f.contentLength > 0) return this.framedBy(f.contentLength);
    return FRAMING_NONE;
  }

  protected emit(truncated: 'head' | 'body' | undefined): void {
    const req = this.current;
    if (req === null) return;
    this.current = null;
    req.headers = this.headers;
    if (this.keepOnly !== null) req.unkeptHeaderCost = this.unkeptCost;
    req.bodyLength = this.bodyLength;
    if (truncated !== undefined) {
      req.truncated = truncated;
      // the head was cut: the pairing layer has not heard of this request yet
      if (truncated === 'head') this.cb.onRequestHead?.(req);
    }
    if (this.overLimit !== null) req.headOverLimit = this.overLimit;
    // the token header's value was not read: as with a head cut short, no header may be taken as absent
    if (this.tokenUnread) req.truncated = 'head';
    this.cb.onRequest(req);
  }

  protected discard(): void {
    this.current = null;
  }
}
