import { looksLikeRequestLine, parseRequestLine } from './head-parser.js';
import type { HttpErrorCode, HttpLimits, HttpRequest } from './message.js';
import { MessageParser } from './message-parser.js';
import type { MemoryAccount } from '../tcp/memory-budget.js';
import type { BodyFraming } from './parser-state.js';

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
export class HttpRequestParser extends MessageParser {
  private current: HttpRequest | null = null;

  constructor(
    private readonly cb: RequestParserCallbacks,
    limits?: Partial<HttpLimits>,
    /** the flow's account in the byte budget (src/tcp/memory-budget.ts) */
    memory?: MemoryAccount,
  ) {
    super(limits, (code) => cb.onError(code), memory);
  }

  protected beginMessage(line: string, sec: number, nsec: number): boolean {
    const rl = parseRequestLine(line);
    if (rl === null) return false;
    this.current = { method: rl.method, target: rl.target, httpVersion: rl.httpVersion, headers: this.headers, bodyLength: 0, sec, nsec };
    // HTTP/0.9 style: no headers, no body
    if (rl.httpVersion === '') {
      this.immediate = true;
      this.cb.onRequestHead?.(this.current);
    }
    return true;
  }

  protected looksLikeStart(line: string): boolean {
    return looksLikeRequestLine(line);
  }

  protected bodyFraming(): BodyFraming {
    const req = this.current!;
    req.headers = this.headers;
    this.cb.onRequestHead?.(req);
    const f = this.framing;
    if (f.hasTransferEncoding) {
      // a request body of unknown length cannot be delimited (RFC 9112 6.3)
      return f.chunked ? { kind: 'chunked' } : { kind: 'error', code: 'E_HTTP_BAD_HEADER' };
    }
    if (f.contentLength === -2) return { kind: 'error', code: 'E_HTTP_BAD_CONTENT_LENGTH' };
    if (f.contentLength > 0) return { kind: 'length', length: f.contentLength };
    return { kind: 'none' };
  }

  protected emit(truncated: 'head' | 'body' | undefined): void {
    const req = this.current;
    if (req === null) return;
    this.current = null;
    req.headers = this.headers;
    req.bodyLength = this.bodyLength;
    if (truncated !== undefined) {
      req.truncated = truncated;
      // the head was cut: the pairing layer has not heard of this request yet
      if (truncated === 'head') this.cb.onRequestHead?.(req);
    }
    this.cb.onRequest(req);
  }

  protected discard(): void {
    this.current = null;
  }
}
