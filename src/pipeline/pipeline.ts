import type { Frame } from '../source/frame.js';
import type { FlowInfo, FlowLimits } from '../tcp/stream.js';
import type { HttpLimits } from '../http/message.js';
import type { Attribution, ImdsEvent, ProcessInfo } from '../imds/event.js';

/**
 * The whole offline chain in one object: frames in, IMDS events out, in capture order
 * (order of each request's first byte). Live capture feeds the same object.
 */
export interface PipelineOptions {
  onEvent: (event: ImdsEvent) => void;
  flowLimits?: Partial<FlowLimits>;
  httpLimits?: Partial<HttpLimits>;
  /**
   * Process attribution hook (live only): called once per flow when the flow carries its
   * first byte (a flow that never does — a half-open SYN of a flood — is never looked up);
   * the answer is attached to every event of that flow. Its two fields are read
   * when each event is made, so a hook may return getters that settle late (live: a
   * forwarded SYN reaches the capture before the SYN gate has held it).
   */
  resolveProcess?: (flow: FlowInfo) => { process: ProcessInfo | null; attribution: Attribution };
  /** optional: called once per flow when it is first seen (cheap bookkeeping only: it runs for every SYN of a flood) */
  onFlowStart?: (flow: FlowInfo) => void;
}

export interface PipelineStats {
  frames: number;
  decode: import('../decode/packet.js').DecodeStats;
  tcp: import('../tcp/stream.js').FlowStats;
  http: { requests: number; responses: number; errors: Record<string, number> };
  events: { v1: number; v2: number; token: number };
}

export interface Pipeline {
  pushFrame(frame: Frame): void;
  /** end of input: close every flow ('eof') and emit what is pending */
  finish(): void;
  /** packet-time housekeeping for live capture (idle flows) */
  tick(nowSec: number): void;
  stats(): PipelineStats;
}
