import type { Frame } from '../source/frame.js';
import { Decoder } from '../decode/decoder.js';
import { FlowTable } from '../tcp/flow-table.js';
import type { FlowInfo, StreamConsumer } from '../tcp/stream.js';
import { HttpExchange } from '../http/exchange.js';
import type { HttpErrorCode, HttpRequest, HttpResponse } from '../http/message.js';
import { classifyRequest } from '../imds/classify.js';
import { isoTime } from '../imds/time.js';
import { OrderedEmitter, type Ticket } from '../imds/ordered-emitter.js';
import type { Attribution, ImdsEvent, ProcessInfo } from '../imds/event.js';
import { identifySdk } from '../enrich/sdk/user-agent.js';
import { V1ReasonTracker } from '../enrich/reason/v1-reasons.js';
import type { Pipeline, PipelineOptions, PipelineStats } from './pipeline.js';
import { LazyConsumers } from './lazy-consumers.js';

/**
 * Wires the stages: decode → tcp → http → imds → enrich, and hands finished events to
 * `onEvent` in capture order. One object per input (a replay run or a live capture).
 */
export function createPipeline(opts: PipelineOptions & { ordered?: boolean }): Pipeline {
  const decoder = new Decoder();
  const http = { requests: 0, responses: 0, errors: {} as Record<string, number> };
  const events = { v1: 0, v2: 0, token: 0 };
  const reasons = new V1ReasonTracker();
  const sdkCache = new Map<string, ReturnType<typeof identifySdk>>();
  let nowSec = 0;

  const deliver = (ev: ImdsEvent): void => {
    ev.reason = reasons.observe(ev);
    events[ev.version]++;
    opts.onEvent(ev);
  };
  const ordered = opts.ordered !== false;
  const emitter = new OrderedEmitter<ImdsEvent>(deliver);

  const sdkFor = (ua: string | null) => {
    if (ua === null) return null;
    let s = sdkCache.get(ua);
    if (s === undefined) {
      s = identifySdk(ua);
      if (sdkCache.size > 4096) sdkCache.clear();
      sdkCache.set(ua, s);
    }
    return s;
  };

  const toEvent = (
    flow: FlowInfo,
    who: { process: ProcessInfo | null; attribution: Attribution },
    req: HttpRequest,
    res: HttpResponse | null,
  ): ImdsEvent | null => {
    // an HTTP/0.9-style request line or a target with control bytes is not a request IMDS serves
    if (req.httpVersion === '') {
      http.errors['request-without-version'] = (http.errors['request-without-version'] ?? 0) + 1;
      return null;
    }
    if (/[\x00-\x20\x7f]/.test(req.target)) {
      http.errors['request-target-invalid'] = (http.errors['request-target-invalid'] ?? 0) + 1;
      return null;
    }
    const c = classifyRequest(req);
    if (c.version === null) {
      http.errors['not-imds-method'] = (http.errors['not-imds-method'] ?? 0) + 1;
      return null;
    }
    // a head cut short (snaplen, gap) may have lost its token header: never call that v1
    if (c.version === 'v1' && req.truncated === 'head') {
      http.errors['unclassifiable-truncated-head'] = (http.errors['unclassifiable-truncated-head'] ?? 0) + 1;
      return null;
    }
    const ev: ImdsEvent = {
      ts: isoTime(req.sec, req.nsec),
      version: c.version,
      method: req.method,
      path: c.path,
      status: res ? res.status : null,
      client: flow.client,
      server: flow.server,
      userAgent: c.userAgent,
      sdk: sdkFor(c.userAgent),
      process: who.process,
      attribution: who.attribution,
      reason: null,
      httpVersion: req.httpVersion,
    };
    if (c.version === 'token') ev.tokenTtl = c.tokenTtl;
    if (c.emptyTokenHeader) ev.emptyTokenHeader = true;
    return ev;
  };

  const countError = (code: HttpErrorCode) => {
    http.errors[code] = (http.errors[code] ?? 0) + 1;
  };

  const flows = new FlowTable(
    {
      onFlow(flow: FlowInfo) {
        opts.onFlowStart?.(flow);
        // the HTTP parsers and the process lookup wait for the flow's first byte: data-less
        // flows (a SYN flood's half-open connections) stay small and cost no /proc lookup
        return new LazyConsumers(() => httpFor(flow, opts.resolveProcess ? opts.resolveProcess(flow) : { process: null, attribution: 'none' }));
      },
    },
    opts.flowLimits,
  );

  function httpFor(flow: FlowInfo, who: { process: ProcessInfo | null; attribution: Attribution }): { toServer: StreamConsumer; toClient: StreamConsumer } {
    const tickets: Ticket<ImdsEvent>[] = [];
    const exchange = new HttpExchange(
      {
        onRequest(req: HttpRequest) {
          http.requests++;
          if (ordered) tickets.push(emitter.open(req.sec, req.nsec));
        },
        onExchange(req: HttpRequest, res: HttpResponse | null) {
          if (res) http.responses++;
          const ev = toEvent(flow, who, req, res);
          if (ordered) {
            const t = tickets.shift();
            if (t) emitter.resolve(t, ev);
            else if (ev) deliver(ev);
          } else if (ev) deliver(ev);
        },
        onError: countError,
      },
      opts.httpLimits,
      { midstream: !flow.sawSyn },
    );
    return { toServer: exchange.toServer, toClient: exchange.toClient };
  }

  return {
    pushFrame(frame: Frame) {
      const seg = decoder.decode(frame);
      if (seg === null) return;
      if (frame.sec > nowSec) {
        nowSec = frame.sec;
        flows.tick(nowSec);
        if (ordered) emitter.release(nowSec);
      }
      flows.push(seg);
    },
    tick(sec: number) {
      if (sec > nowSec) nowSec = sec;
      flows.tick(nowSec);
      if (ordered) emitter.release(nowSec);
    },
    finish() {
      flows.finish();
      if (ordered) emitter.drain();
    },
    stats(): PipelineStats {
      return {
        frames: decoder.stats.frames,
        decode: decoder.stats,
        tcp: flows.stats,
        http: { ...http, errors: { ...http.errors } },
        events: { ...events },
      };
    },
  };
}
