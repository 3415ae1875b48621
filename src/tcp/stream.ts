import type { MemoryAccount } from './memory-budget.js';

/**
 * The tcp stage's contract. For each IMDS flow the table asks the handler for two
 * consumers, one per direction. Each consumer then receives, in this order:
 * zero or more onData / onGap calls in stream order, then exactly one onEnd.
 */
export interface Endpoint {
  ip: string;
  port: number;
}

export interface FlowInfo {
  /** "clientIp|clientPort|serverIp|serverPort" */
  key: string;
  client: Endpoint;
  server: Endpoint;
  ipVersion: 4 | 6;
  /** true when the capture saw the client's SYN (false: the capture started mid-connection) */
  sawSyn: boolean;
  /**
   * the client's initial sequence number, when its SYN was seen: with the 4-tuple it names
   * one connection exactly, though a busy host reuses the tuple within seconds (the SYN
   * gate's records are joined by both: docs/design.md#syn-gate)
   */
  clientIsn?: number;
  /** time of the first packet seen on the flow */
  sec: number;
  nsec: number;
}

export type EndReason = 'fin' | 'rst' | 'idle' | 'evicted' | 'eof';

export interface StreamConsumer {
  /** in-order bytes; `sec/nsec` is the time of the segment that carried the first of them */
  onData(data: Buffer, sec: number, nsec: number): void;
  /** `bytes` of the stream are missing here (lost in capture, snaplen cut, or evicted) */
  onGap(bytes: number, sec: number, nsec: number): void;
  onEnd(reason: EndReason, sec: number, nsec: number): void;
}

export interface FlowHandler {
  /**
   * `memory`: the flow's account in the table's byte budget — charge what the consumers
   * hold for this flow (and release it by their onEnd); see src/tcp/memory-budget.ts
   */
  onFlow(flow: FlowInfo, memory: MemoryAccount): { toServer: StreamConsumer; toClient: StreamConsumer };
}

export interface FlowLimits {
  /** most flows tracked at once; beyond it the least recently active is evicted */
  maxFlows: number;
  /** most out-of-order bytes buffered per direction; beyond it the hole is declared a gap */
  maxBufferedBytesPerDirection: number;
  /**
   * one byte budget over all flows for what the chain holds while it waits (out-of-order
   * data, HTTP heads, requests waiting for a response, HTTP parsers): past it the least
   * recently active flows holding anything are evicted (src/tcp/memory-budget.ts)
   */
  memoryBudgetBytes: number;
  /** seconds of packet time without a packet after which a flow ends with 'idle' */
  idleTimeoutSec: number;
  /** most out-of-order segments (pieces) buffered per direction; beyond it the hole is declared a gap */
  maxBufferedSegmentsPerDirection: number;
  /**
   * live only (Infinity: off): seconds without a packet after the client's FIN past which
   * `endHalfClosed` ends a flow ('idle', counted in `halfClosedFlows`): the server's answer
   * was lost to the capture (a full ring) or never came, and the client's calls are whole
   * (docs/design.md#half-closed-flows)
   */
  halfClosedTimeoutSec: number;
}

/**
 * The budget of every flow's held bytes (docs/design.md#bounds): with a full table of
 * data-less flows (~25 MiB of heap) and V8's headroom (src/cli/memory-tuning.ts), what
 * replay or the daemon can hold stays under 128 MiB RSS.
 */
export const DEFAULT_MEMORY_BUDGET_BYTES = 8 * 1024 * 1024;

export const DEFAULT_FLOW_LIMITS: FlowLimits = {
  // ~1.2 KB of heap per data-less flow (measured), more for a flow with data (charged to the budget)
  maxFlows: 16_384,
  maxBufferedBytesPerDirection: 256 * 1024,
  memoryBudgetBytes: DEFAULT_MEMORY_BUDGET_BYTES,
  idleTimeoutSec: 120,
  maxBufferedSegmentsPerDirection: 4096,
  halfClosedTimeoutSec: Infinity,
};

export interface FlowStats {
  flows: number;
  activeFlows: number;
  evictedFlows: number;
  idleFlows: number;
  /** flows ended by `endHalfClosed`: the client had closed, the server stayed silent (live) */
  halfClosedFlows: number;
  /** bytes of segments that repeated stream bytes already delivered (dropped) */
  retransmittedBytes: number;
  /** bytes of segments that covered out-of-order bytes already buffered (the buffered copy is kept) */
  overlapBytes: number;
  /** overlapping bytes whose content differed from the first copy (first copy kept) */
  overlapConflictBytes: number;
  /** stream bytes reported to consumers as gaps (lost in capture, snaplen cut, or a hole given up at a buffer limit) */
  gapBytes: number;
  /**
   * the part of `gapBytes` missing from the server's side (responses): it cannot hide a
   * request, only the answer to one (e.g. a token PUT's reply dropped by the hop limit)
   */
  responseGapBytes: number;
  midstreamFlows: number;
  /**
   * segments that could not start a flow and belong to none: pure ACK/FIN/RST of an
   * unknown 4-tuple, or late segments of a recently closed flow
   */
  ignoredSegments: number;
  /** flows ended because a new SYN reused their 4-tuple before they ended (ended with 'eof') */
  reusedFlows: number;
  /**
   * of `evictedFlows`: flows evicted because the byte budget was full (least recently
   * active first), and the bytes they held
   */
  budgetEvictedFlows: number;
  budgetEvictedBytes: number;
  /** gauge: bytes charged to the budget right now, and the most at once */
  heldBytes: number;
  heldBytesPeak: number;
}
