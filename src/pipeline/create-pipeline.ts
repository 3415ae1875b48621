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

/**
 * The stages wired in README order: decode → tcp → http → imds → enrich → onEvent.
 * One object per input (a replay file or a live capture).
 */
export function createPipeline(opts: PipelineOptions): Pipeline {
  // enrich: sdk, process, attribution, reason; in capture order
  const enricher = new Enricher();
  // imds: exchanges → events (filtered, classified, ordered)
  const imds = new ImdsStage<FlowAttribution>({
    ordered: opts.ordered !== false,
    emit: (ev, who) => opts.onEvent(enricher.enrich(ev, who)),
  });
  // http: one exchange per flow, all counting into one stats object
  const httpStats = emptyHttpStats();
  // what an exchange holds is charged to its flow's account in the tcp stage's byte budget
  const httpFor = (flow: FlowInfo, memory: MemoryAccount) => {
    const who = opts.attribute ? opts.attribute(flow) : NO_ATTRIBUTION;
    const exchange = new HttpExchange(imds.exchangeFor(flow, who), opts.httpLimits, { stats: httpStats, midstream: !flow.sawSyn, memory });
    return { toServer: exchange.toServer, toClient: exchange.toClient };
  };
  // tcp: segments → ordered byte streams. The HTTP parsers and the process lookup wait for
  // a flow's first byte: data-less flows (a SYN flood's half-open connections) stay small
  const flows = new FlowTable(
    {
      onFlow(flow: FlowInfo, memory: MemoryAccount) {
        opts.onFlowStart?.(flow);
        return new LazyConsumers(() => httpFor(flow, memory));
      },
    },
    opts.flowLimits,
  );
  // decode: frames → IMDS TCP segments
  const decoder = new Decoder();

  let nowSec = 0;
  const advance = (sec: number): void => {
    if (sec <= nowSec) return;
    nowSec = sec;
    flows.tick(nowSec);
    imds.tick(nowSec);
  };
  const accept = opts.acceptSegment;

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
    },
    finish() {
      flows.finish();
      imds.finish();
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
