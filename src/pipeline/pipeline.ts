import type { Frame } from '../source/frame.js';
import type { TcpSegment } from '../decode/packet.js';
import type { FlowInfo, FlowLimits } from '../tcp/stream.js';
import type { HttpLimits } from '../http/message.js';
import type { ImdsEvent } from '../imds/event.js';
import type { FlowAttribution } from '../enrich/enricher.js';
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
  /**
   * Process attribution (live only): called once per flow when the flow carries its first
   * byte (a flow that never does — a half-open SYN of a flood — is never looked up); the
   * answer is settled, as a plain value, when each of the flow's events is built.
   */
  attribute?: (flow: FlowInfo) => FlowAttribution;
  /**
   * optional, between decode and tcp: false drops the segment (live: a copy of a packet
   * already seen on another interface, see src/live/dedupe.ts)
   */
  acceptSegment?: (segment: TcpSegment) => boolean;
  /** optional: called once per flow when it is first seen (cheap bookkeeping only: it runs for every SYN of a flood) */
  onFlowStart?: (flow: FlowInfo) => void;
}

export interface Pipeline {
  /** a captured frame: decoded, then on through the stages */
  pushFrame(frame: Frame): void;
  /** end of input: close every flow ('eof') and emit what is pending */
  finish(): void;
  /** packet-time housekeeping for live capture (idle flows) */
  tick(nowSec: number): void;
  stats(): PipelineStats;
}
