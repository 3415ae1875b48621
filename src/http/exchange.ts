import type { EndReason, StreamConsumer } from '../tcp/stream.js';
import {
  DEFAULT_HTTP_LIMITS,
  IMDS_REQUEST_HEADERS,
  emptyHttpStats,
  type HttpErrorCode,
  type HttpLimits,
  type HttpRequest,
  type HttpResponse,
  type HttpStats,
} from './message.js';
import { HttpRequestParser } from './request-parser.js';
import { HttpResponseParser } from './response-parser.js';
import { EXCHANGE_COST, HEADER_COST, MESSAGE_COST, UNCOUNTED, type MemoryAccount } from '../tcp/memory-budget.js';

export interface ExchangeCallbacks {
  /**
   * One call per request, in request order: when its response is complete, or with
   * `null` when the flow ends (or the server direction ended) before a response.
   */
  onExchange(req: HttpRequest, res: HttpResponse | null): void;
  /**
   * optional: a request's head was parsed (its body may still be arriving). Called in
   * request order, exactly once per request, always before that request's onExchange —
   * e.g. to reserve the request's place in capture order. `req` is the object later
   * passed to onExchange (bodyLength still growing).
   */
  onRequest?(req: HttpRequest): void;
  /** optional: every parser error, with the direction it happened in */
  onError?(code: HttpErrorCode, direction: 'toServer' | 'toClient'): void;
}

export interface ExchangeOptions {
  /** counters to add to (share one object between all flows); a private one by default */
  stats?: HttpStats;
  /**
   * the flow was joined mid-connection (FlowInfo.sawSyn false): both parsers skip to the
   * first line that looks like a request/status line, without an error for the partial message
   */
  midstream?: boolean;
  /**
   * the flow's account in the byte budget (src/tcp/memory-budget.ts): charged with the
   * exchange's own cost until both directions end, the heads being parsed, and the
   * requests (and responses) waiting to be paired
   */
  memory?: MemoryAccount;
  /**
   * keep only the request headers the IMDS stage reads (IMDS_REQUEST_HEADERS) and no response
   * header: the others are read in place, never made text. Classification, framing, errors and
   * the byte budget are the same as with every header kept (test/http/header-selection.test.ts).
   */
  imdsHeadersOnly?: boolean;
}

interface Slot {
  req: HttpRequest;
  /** onRequest seen: the request is complete (or finished as best possible) */
  done: boolean;
  res: HttpResponse | null;
  /** charged to the memory account while the slot waits */
  charge: number;
}

const NO_HEADER_KEPT: readonly string[] = [];

/** estimated heap of a parsed message held by the exchange (as if every header were kept) */
function messageCost(m: HttpRequest | HttpResponse, extra: number): number {
  let n = MESSAGE_COST + extra + (m.unkeptHeaderCost ?? 0);
  const h = m.headers;
  for (let i = 0; i < h.length; i++) n += h[i][0].length + h[i][1].length + HEADER_COST;
  return n;
}

/**
 * The http stage for one flow: a request parser on the client → server bytes, a
 * response parser on the server → client bytes, and in-order pairing of responses to
 * requests (HTTP/1.x answers in request order). `toServer` and `toClient` are the
 * StreamConsumers to hand to the FlowTable.
 */
export class HttpExchange {
  readonly toServer: StreamConsumer;
  readonly toClient: StreamConsumer;
  readonly stats: HttpStats;
  private readonly requests: HttpRequestParser;
  private readonly responses: HttpResponseParser;
  private readonly slots: Slot[] = [];
  private slotHead = 0;
  private serverEnded = false;
  private clientEnded = false;
  /** pairing given up (too many pending requests): every later request gets null */
  private unpaired = false;
  private readonly maxPending: number;
  private readonly memory: MemoryAccount;
  /** EXCHANGE_COST still charged (until both directions ended) */
  private charged = true;

  constructor(
    private readonly cb: ExchangeCallbacks,
    limits?: Partial<HttpLimits>,
    opts: ExchangeOptions = {},
  ) {
    this.stats = opts.stats ?? emptyHttpStats();
    this.memory = opts.memory ?? UNCOUNTED;
    this.memory.charge(EXCHANGE_COST);
    this.maxPending = limits?.maxPendingRequests ?? DEFAULT_HTTP_LIMITS.maxPendingRequests;
    // callbacks and stream consumers are small objects over this exchange, not closures:
    // fewer objects per connection (each one is young-generation work in a long replay)
    const only = opts.imdsHeadersOnly === true;
    this.requests = new HttpRequestParser(new RequestSide(this), limits, this.memory, only ? IMDS_REQUEST_HEADERS : undefined);
    this.responses = new HttpResponseParser(new ResponseSide(this), limits, this.memory, only ? NO_HEADER_KEPT : undefined);
    if (opts.midstream === true) {
      this.requests.startMidstream();
      this.responses.startMidstream();
    }
    this.toServer = new ExchangeDirection(this, this.requests, true);
    this.toClient = new ExchangeDirection(this, this.responses, false);
  }

  /** a direction's stream ended (ExchangeDirection): count what its parser ignored, pair what is settled */
  directionEnded(parser: HttpRequestParser | HttpResponseParser, toServer: boolean): void {
    parser.end();
    this.stats.ignoredBytes += parser.ignoredBytes;
    if (toServer) this.clientEnded = true;
    else this.serverEnded = true;
    this.flush();
    if (this.clientEnded && this.serverEnded && this.charged) {
      this.charged = false;
      this.memory.release(EXCHANGE_COST);
    }
  }

  /** the request parser read a head (RequestSide) */
  requestHead(req: HttpRequest): void {
    this.cb.onRequest?.(req);
    const charge = messageCost(req, req.method.length + req.target.length);
    this.memory.charge(charge);
    if (this.unpaired) {
      this.slots.push({ req, done: false, res: null, charge });
      return;
    }
    if (this.slots.length - this.slotHead >= this.maxPending) {
      this.error('E_HTTP_TOO_MANY_PENDING', 'toServer');
      this.unpaired = true;
    }
    this.slots.push({ req, done: false, res: null, charge });
    if (!this.unpaired) this.responses.expectResponseTo(req.method);
  }

  /** the request parser finished a request (RequestSide) */
  requestDone(): void {
    this.stats.requests++;
    // requests complete in order: the first slot not done is this one
    for (let i = this.slotHead; i < this.slots.length; i++) {
      if (!this.slots[i].done) {
        this.slots[i].done = true;
        break;
      }
    }
    this.flush();
  }

  /** the response parser finished a response (ResponseSide) */
  response(res: HttpResponse): void {
    this.stats.responses++;
    if (!this.unpaired) {
      for (let i = this.slotHead; i < this.slots.length; i++) {
        const s = this.slots[i];
        if (s.res === null) {
          s.res = res;
          const c = messageCost(res, 0);
          s.charge += c;
          this.memory.charge(c);
          this.flush();
          return;
        }
      }
    }
    this.stats.unpairedResponses++;
  }

  /** a parser error (RequestSide, ResponseSide) */
  error(code: HttpErrorCode, direction: 'toServer' | 'toClient'): void {
    this.stats.errors[code] = (this.stats.errors[code] ?? 0) + 1;
    this.cb.onError?.(code, direction);
  }

  /** fire the exchanges at the head of the queue that are settled */
  private flush(): void {
    const slots = this.slots;
    const noMoreResponses = this.serverEnded || this.unpaired;
    while (this.slotHead < slots.length) {
      const s = slots[this.slotHead];
      if (!s.done) {
        if (!this.clientEnded) break;
        s.done = true; // cannot happen after the request parser ended; kept for safety
      }
      if (s.res === null && !noMoreResponses) break;
      this.slotHead++;
      this.memory.release(s.charge);
      s.charge = 0;
      this.cb.onExchange(s.req, s.res);
    }
    if (this.slotHead > 64 && this.slotHead * 2 > slots.length) {
      slots.splice(0, this.slotHead);
      this.slotHead = 0;
    }
  }
}

class RequestSide {
  constructor(private readonly x: HttpExchange) {}
  onRequestHead(req: HttpRequest): void {
    this.x.requestHead(req);
  }
  onRequest(): void {
    this.x.requestDone();
  }
  onError(code: HttpErrorCode): void {
    this.x.error(code, 'toServer');
  }
}

class ResponseSide {
  constructor(private readonly x: HttpExchange) {}
  onResponse(res: HttpResponse): void {
    this.x.response(res);
  }
  onError(code: HttpErrorCode): void {
    this.x.error(code, 'toClient');
  }
}

/** one direction's StreamConsumer: feeds its parser until the stream ends */
class ExchangeDirection implements StreamConsumer {
  private done = false;
  constructor(
    private readonly x: HttpExchange,
    private readonly parser: HttpRequestParser | HttpResponseParser,
    private readonly toServer: boolean,
  ) {}
  onData(data: Buffer, sec: number, nsec: number): void {
    if (!this.done) this.parser.push(data, sec, nsec);
  }
  onGap(bytes: number): void {
    if (!this.done) this.parser.gap(bytes);
  }
  onEnd(_reason: EndReason): void {
    if (this.done) return;
    this.done = true;
    this.x.directionEnded(this.parser, this.toServer);
  }
}
