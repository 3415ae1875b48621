import type { FlowInfo } from '../tcp/stream.js';
import type { ExchangeCallbacks } from '../http/exchange.js';
import type { HttpRequest, HttpResponse } from '../http/message.js';
import { classifyRequest } from './classify.js';
import { isoTime } from './time.js';
import { OrderedEmitter, type Ticket } from './ordered-emitter.js';
import type { ImdsEvent } from './event.js';
import type { ImdsSkipReason } from '../errors/catalogue.js';

/**
 * The IMDS stage: HTTP exchanges in, IMDS events out. Its one entry point, `exchangeFor`,
 * gives the HttpExchange of a flow its callbacks; the stage filters what IMDS would not
 * serve (counted by reason), classifies the rest (v1, v2, token; docs/imds-facts.md#classification)
 * and builds the event with the enrichment fields empty. Events leave through `emit` in
 * capture order (the order of each request's first byte, `ordered`, for replay) or as each
 * exchange completes (live), each with the context of its flow (`C`: the enricher's handle).
 */
export interface ImdsStats {
  /** events built, by version */
  events: { v1: number; v2: number; token: number };
  /**
   * requests that made no event, by reason: `request-without-version` (HTTP/0.9 style),
   * `request-unreadable` (a request line that is not one, or longer than the head limit:
   * IMDS traffic that could not be read), `not-imds-method` (IMDS serves GET/HEAD/PUT only),
   * `unclassifiable-truncated-head` (a head cut short may have lost its token header: never
   * called v1). The first, second and last keep the verdict from READY
   * (docs/design.md#unfinished-requests).
   */
  skipped: Record<ImdsSkipReason, number>;
}

/** the IMDS stage's reasons, from the one catalogue (docs/errors.md#skip-reasons) */
export type { ImdsSkipReason } from '../errors/catalogue.js';

export interface ImdsStageOptions<C> {
  /** release events in capture order (replay); false: as each exchange completes (live) */
  ordered: boolean;
  emit: (event: ImdsEvent, context: C) => void;
}

export class ImdsStage<C> {
  private readonly counters: ImdsStats = {
    events: { v1: 0, v2: 0, token: 0 },
    skipped: { 'request-without-version': 0, 'request-unreadable': 0, 'not-imds-method': 0, 'unclassifiable-truncated-head': 0 },
  };
  private readonly emitter: OrderedEmitter<ImdsEvent, C>;
  private readonly ordered: boolean;
  private readonly emit: (event: ImdsEvent, context: C) => void;

  constructor(opts: ImdsStageOptions<C>) {
    this.ordered = opts.ordered;
    this.emit = opts.emit;
    // a waiting event gets its time text when it leaves (docs/design.md#pending-events)
    this.emitter = new OrderedEmitter<ImdsEvent, C>((ev, c, sec, nsec) => {
      ev.ts = isoTime(sec, nsec);
      this.emit(ev, c);
    });
  }

  /** the callbacks for one flow's HttpExchange; `context` travels with each of its events */
  exchangeFor(flow: FlowInfo, context: C): ExchangeCallbacks {
    // one small object per flow (not two closures and their context)
    return new FlowExchanges(this, flow, context);
  }

  /** a flow's request head was parsed (FlowExchanges): its event's place in capture order */
  openTicket(req: HttpRequest): Ticket<ImdsEvent, C> | null {
    return this.ordered ? this.emitter.open(req.sec, req.nsec) : null;
  }

  /** a flow's exchange completed (FlowExchanges) */
  exchangeDone(flow: FlowInfo, context: C, req: HttpRequest, res: HttpResponse | null, t: Ticket<ImdsEvent, C> | undefined): void {
    const ev = this.toEvent(flow, req, res, t === undefined);
    if (t) this.emitter.resolve(t, ev, context);
    else if (ev) this.emit(ev, context);
  }

  /** packet time moved on: release the ordered events that are due */
  tick(sec: number): void {
    if (this.ordered) this.emitter.release(sec);
  }

  /** end of input: release everything pending */
  finish(): void {
    if (this.ordered) this.emitter.drain();
  }

  stats(): ImdsStats {
    return { events: { ...this.counters.events }, skipped: { ...this.counters.skipped } };
  }

  private skip(reason: ImdsSkipReason): null {
    this.counters.skipped[reason]++;
    return null;
  }

  /** `withTime` false: the event waits for its turn, and its `ts` is made when it leaves (the ticket holds the same time) */
  private toEvent(flow: FlowInfo, req: HttpRequest, res: HttpResponse | null, withTime: boolean): ImdsEvent | null {
    // a request line that could not be read, or an HTTP/0.9-style one: no method or path to
    // report, but IMDS traffic all the same (the verdict is UNKNOWN, never READY)
    if (req.unreadable !== undefined) return this.skip('request-unreadable');
    if (req.httpVersion === '') return this.skip('request-without-version');
    // a target with control bytes is still a request (a server may read it): its path is percent-encoded
    const c = classifyRequest(req);
    if (c.version === null) return this.skip('not-imds-method');
    // a head cut short (snaplen, gap) may have lost its token header: never call that v1
    if (c.version === 'v1' && req.truncated === 'head') return this.skip('unclassifiable-truncated-head');
    this.counters.events[c.version]++;
    // field order is the order of the ndjson line (docs/design.md#event-contract); the
    // enricher fills sdk, process, attribution and reason in place
    const ev: ImdsEvent = {
      ts: withTime ? isoTime(req.sec, req.nsec) : '',
      version: c.version,
      method: req.method,
      path: c.path,
      status: res ? res.status : null,
      client: flow.client,
      server: flow.server,
      userAgent: c.userAgent,
      sdk: null,
      process: null,
      attribution: 'none',
      reason: null,
      httpVersion: req.httpVersion,
    };
    if (c.version === 'token') ev.tokenTtl = c.tokenTtl;
    if (c.emptyTokenHeader) ev.emptyTokenHeader = true;
    if (req.headOverLimit !== undefined) ev.headOverLimit = req.headOverLimit;
    return ev;
  }
}

/** the IMDS stage's callbacks for one flow's HttpExchange */
class FlowExchanges<C> implements ExchangeCallbacks {
  private readonly tickets: Ticket<ImdsEvent, C>[] = [];
  constructor(
    private readonly stage: ImdsStage<C>,
    private readonly flow: FlowInfo,
    private readonly context: C,
  ) {}
  onRequest(req: HttpRequest): void {
    const t = this.stage.openTicket(req);
    if (t !== null) this.tickets.push(t);
  }
  onExchange(req: HttpRequest, res: HttpResponse | null): void {
    this.stage.exchangeDone(this.flow, this.context, req, res, this.tickets.shift());
  }
}
