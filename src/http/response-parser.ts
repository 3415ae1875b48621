import { looksLikeStatusLine, parseStatusLine } from './head-parser.js';
import type { HeaderSelection, HttpErrorCode, HttpLimits, HttpResponse } from './message.js';
import { MessageParser } from './message-parser.js';
import type { MemoryAccount } from '../tcp/memory-budget.js';
import { FRAMING_CHUNKED, FRAMING_EOF, FRAMING_INTERIM, FRAMING_NONE, FRAMING_OPAQUE, type BodyFraming } from './parser-state.js';

export interface ResponseParserCallbacks {
  /** a final response is complete (interim 1xx responses other than 101 are not reported) */
  onResponse(res: HttpResponse): void;
  onError(code: HttpErrorCode): void;
}

/**
 * Incremental HTTP/1.0 and 1.1 response parser for the server → client direction.
 * Tell it the method of each request in order (`expectResponseTo`) so that responses to
 * HEAD are read without a body; a response with no known request is read as one to GET.
 */
export class HttpResponseParser extends MessageParser {
  private current: HttpResponse | null = null;
  private readonly methods: string[] = [];
  private methodHead = 0;

  constructor(
    private readonly cb: ResponseParserCallbacks,
    limits?: Partial<HttpLimits>,
    /** the flow's account in the byte budget (src/tcp/memory-budget.ts) */
    memory?: MemoryAccount,
    /** the headers kept in `headers` (HeaderSelection); every one by default */
    keep?: HeaderSelection,
  ) {
    super(limits, (code) => cb.onError(code), memory, keep);
  }

  /** the next response (in order) answers a request with this method */
  expectResponseTo(method: string): void {
    this.methods.push(method);
  }

  /** requests announced with expectResponseTo and not answered yet */
  get pendingRequests(): number {
    return this.methods.length - this.methodHead;
  }

  protected beginMessage(line: string, sec: number, nsec: number): boolean {
    const sl = parseStatusLine(line);
    if (sl === null) return false;
    this.current = { status: sl.status, headers: this.headers, bodyLength: 0, sec, nsec };
    return true;
  }

  protected looksLikeStart(line: string): boolean {
    return looksLikeStatusLine(line);
  }

  protected bodyFraming(): BodyFraming {
    const status = this.current!.status;
    if (status >= 100 && status < 200 && status !== 101) return FRAMING_INTERIM;
    const method = this.nextMethod();
    if (status === 101) return FRAMING_OPAQUE;
    if (method === 'HEAD' || status === 204 || status === 304 || (method === 'CONNECT' && status < 300 && status >= 200)) {
      return FRAMING_NONE;
    }
    const f = this.framing;
    if (f.hasTransferEncoding) return f.chunked ? FRAMING_CHUNKED : FRAMING_EOF;
    if (f.contentLength === -2) return { kind: 'error', code: 'E_HTTP_BAD_CONTENT_LENGTH' };
    if (f.contentLength >= 0) return this.framedBy(f.contentLength);
    return FRAMING_EOF;
  }

  protected emit(truncated: 'head' | 'body' | undefined): void {
    const res = this.current;
    if (res === null) return;
    this.current = null;
    res.headers = this.headers;
    if (this.keepOnly !== null) res.unkeptHeaderCost = this.unkeptCost;
    res.bodyLength = this.bodyLength;
    if (truncated === 'head') this.nextMethod(); // its head never reached bodyFraming
    if (truncated !== undefined) res.truncated = truncated;
    if (this.overLimit !== null) res.headOverLimit = this.overLimit;
    this.cb.onResponse(res);
  }

  protected discard(): void {
    this.current = null;
  }

  private nextMethod(): string {
    if (this.methodHead >= this.methods.length) return 'GET';
    const m = this.methods[this.methodHead++];
    if (this.methodHead > 64 && this.methodHead * 2 > this.methods.length) {
      this.methods.splice(0, this.methodHead);
      this.methodHead = 0;
    }
    return m;
  }
}
