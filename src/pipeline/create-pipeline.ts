import type { Frame } from '../source/frame.js';
import type { TcpSegment } from '../decode/packet.js';
import { Decoder } from '../decode/decoder.js';
import { FlowTable } from '../tcp/flow-table.js';
import type { FlowInfo } from '../tcp/stream.js';
import type { MemoryAccount } from '../tcp/memory-budget.js';
import { HttpExchange } from '../http/exchange.js';
import { emptyHttpStats } from '../http/message.js';
import { ImdsStage } from '../imds/imds-stage.js';
import { Enricher, NO_ATTRIBUTION, type FlowAttribution } from '../enrich/enricher.js';
import type { Pipeline, PipelineOptions, PipelineStats } from './pipeline.js';
import { LazyConsumers } from './lazy-consumers.js';
import { ClientOrder, type Slot } from './client-order.js';
import type { ExchangeCallbacks } from '../http/exchange.js';
import type { HttpRequest } from '../http/message.js';
import type { ImdsEvent } from '../imds/event.js';

/**
 * The stages wired in README order: decode → tcp → http → imds → enrich → onEvent.
 * One object per input (a replay file or a live capture).
 */
export function createPipeline(opts: PipelineOptions): Pipeline {
  const obs = opts.observer;
  const ordered = opts.ordered !== false;
  // enrich: sdk, process, attribution, reason; each client's events in capture order
  const enricher = new Enricher();
  const enrich = ([ev, who]: [ImdsEvent, FlowAttribution]): void => opts.onEvent(enricher.enrich(ev, who));
  // live: events leave as they complete, but a client's wait for its earlier requests (the
  // v1 reasons follow each client's sequence; src/pipeline/client-order.ts)
  const clients = ordered ? null : new ClientOrder<[ImdsEvent, FlowAttribution]>(enrich);
  let slot: Slot<[ImdsEvent, FlowAttribution]> | undefined;
  // imds: exchanges → events (filtered, classified, ordered)
  const imds = new ImdsStage<FlowAttribution>({
    ordered,
    emit: (ev, who) => (slot ? clients!.resolve(slot, [ev, who]) : enrich([ev, who])),
  });
  /** live: each request takes its place in its client's order when its head is parsed */
  const inClientOrder = (flow: FlowInfo, cb: ExchangeCallbacks): ExchangeCallbacks => {
    if (!clients) return cb;
    const slots: Array<Slot<[ImdsEvent, FlowAttribution]>> = [];
    return {
      onRequest(req) {
        slots.push(clients.open(clientKey(flow, req), req.sec));
        cb.onRequest?.(req);
      },
      onExchange(req, res) {
        const s = slots.shift();
        slot = s;
        try {
          cb.onExchange(req, res);
        } finally {
          slot = undefined;
        }
        // no event built (not IMDS by the rules): the request only stops blocking
        if (s && !s.resolved) clients.resolve(s, null);
      },
    };
  };
  // http: one exchange per flow, all counting into one stats object
  const httpStats = emptyHttpStats();
  // what an exchange holds is charged to its flow's account in the tcp stage's byte budget
  const httpFor = (flow: FlowInfo, memory: MemoryAccount) => {
    obs?.firstByte?.(flow);
    const who: FlowAttribution = obs?.who ? { settle: () => obs.who!(flow) } : NO_ATTRIBUTION;
    const exchange = new HttpExchange(inClientOrder(flow, imds.exchangeFor(flow, who)), opts.httpLimits, {
      stats: httpStats,
      midstream: !flow.sawSyn,
      memory,
      // the IMDS stage reads the token, TTL and User-Agent headers only (classify, clientKey)
      imdsHeadersOnly: true,
    });
    return exchange; // its toServer and toClient are the flow's consumers
  };
  // tcp: segments → ordered byte streams. The HTTP parsers and the process lookup wait for
  // a flow's first byte: data-less flows (a SYN flood's half-open connections) stay small
  const flows = new FlowTable(
    {
      onFlow(flow: FlowInfo, memory: MemoryAccount) {
        obs?.flowStarted?.(flow);
        return new LazyConsumers(() => httpFor(flow, memory));
      },
    },
    opts.flowLimits,
  );
  // decode: frames → IMDS TCP segments
  // one segment object, refilled per frame: no stage keeps a segment past its push
  const decoder = new Decoder({ reuseSegment: true });

  let nowSec = 0;
  const advance = (sec: number): void => {
    if (sec <= nowSec) return;
    nowSec = sec;
    flows.tick(nowSec);
    imds.tick(nowSec);
    clients?.tick(nowSec);
  };
  const accept = obs?.acceptSegment ? (seg: TcpSegment) => obs.acceptSegment!(seg) : undefined;

  return {
    pushFrame(frame: Frame) {
      const seg: TcpSegment | null = decoder.decode(frame);
      if (seg === null || (accept && !accept(seg))) return;
      advance(seg.sec);
      flows.push(seg);
    },
    tick(sec: number) {
      if (sec > nowSec) nowSec = sec;
      flows.tick(nowSec);
      imds.tick(nowSec);
      clients?.tick(nowSec);
    },
    endHalfClosed(nowSec: number) {
      flows.endHalfClosed(nowSec);
    },
    finish() {
      flows.finish();
      imds.finish();
      clients?.finish();
    },
    stats(): PipelineStats {
      return {
        frames: decoder.stats.frames,
        decode: { ...decoder.stats, skipped: { ...decoder.stats.skipped }, unknownLinkTypes: { ...decoder.stats.unknownLinkTypes } },
        tcp: flows.snapshot(),
        http: { ...httpStats, errors: { ...httpStats.errors } },
        imds: imds.stats(),
        enrich: enricher.stats(),
      };
    },
  };
}

/**
 * Whose order a request keeps (src/pipeline/client-order.ts): its address and User-Agent, as
 * the v1-reason tracker keys a client. Every local process shares the host's address: keyed
 * by address alone, one unanswered request (or a flood) held every other program's events.
 */
function clientKey(flow: FlowInfo, req: HttpRequest): string {
  for (const [name, value] of req.headers) if (name.length === 10 && name.toLowerCase() === 'user-agent') return `${flow.client.ip}|${value.slice(0, 256)}`;
  return `${flow.client.ip}|`;
}
