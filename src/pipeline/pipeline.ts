import type { Frame } from '../source/frame.js';
import type { TcpSegment } from '../decode/packet.js';
import type { FlowInfo, FlowLimits } from '../tcp/stream.js';
import type { HttpLimits } from '../http/message.js';
import type { ImdsEvent } from '../imds/event.js';
import type { Who } from '../enrich/enricher.js';
import type { PipelineStats } from './stats.js';

export type { PipelineStats };

/**
 * The whole chain in one object: frames in, IMDS events out. Replay feeds it frames from
 * files, the live session frames of the capture (deduplicated after the one decode).
 */
export interface PipelineOptions {
  onEvent: (event: ImdsEvent) => void;
  /** release events in capture order (replay, default) or as each exchange completes (live: false) */
  ordered?: boolean;
  flowLimits?: Partial<FlowLimits>;
  httpLimits?: Partial<HttpLimits>;
  /** the live session's one observer (live only; replay passes none): see LiveObserver */
  observer?: LiveObserver;
}

/**
 * What the live session sees of the pipeline: one object, its methods called in this order
 * (docs/design.md#live-session). Every method is optional.
 *
 * 1. `acceptSegment(seg)` — every decoded segment, before the TCP stage; false drops it (a
 *    copy of a packet already seen on another interface, src/live/dedupe.ts).
 * 2. `flowStarted(flow)` — once per flow, when the TCP stage first sees it; cheap bookkeeping
 *    only: it runs for every SYN of a flood (src/live/capture-loss.ts).
 * 3. `firstByte(flow)` — once per flow, at its first byte (or gap), before its HTTP parsers
 *    exist: the passive /proc lookup must run while the socket still exists. A flow that never
 *    carries a byte (a half-open SYN) is never looked up.
 * 4. `who(flow)` — when each of the flow's events is built (in the order the enricher sees
 *    them), always after 3: who made the call, as a plain value.
 *
 * Events then go to `onEvent`. For one flow the order is 1 → 2 → 1… → 3 → (1… → 4)…; flows
 * interleave.
 */
export interface LiveObserver {
  acceptSegment?(segment: TcpSegment): boolean;
  flowStarted?(flow: FlowInfo): void;
  firstByte?(flow: FlowInfo): void;
  who?(flow: FlowInfo): Who;
}

export interface Pipeline {
  /** a captured frame: decoded, then on through the stages */
  pushFrame(frame: Frame): void;
  /** end of input: close every flow ('eof') and emit what is pending */
  finish(): void;
  /** packet-time housekeeping for live capture (idle flows) */
  tick(nowSec: number): void;
  /** live, with the capture read up to date: end flows the client closed and the server left silent (FlowLimits.halfClosedTimeoutSec) */
  endHalfClosed(nowSec: number): void;
  stats(): PipelineStats;
}
