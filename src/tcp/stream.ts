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
  onFlow(flow: FlowInfo): { toServer: StreamConsumer; toClient: StreamConsumer };
}

export interface FlowLimits {
  /** most flows tracked at once; beyond it the least recently active is evicted */
  maxFlows: number;
  /** most out-of-order bytes buffered per direction; beyond it the hole is declared a gap */
  maxBufferedBytesPerDirection: number;
  /** most out-of-order bytes buffered over all flows */
  maxBufferedBytesTotal: number;
  /** seconds of packet time without a packet after which a flow ends with 'idle' */
  idleTimeoutSec: number;
  /** most out-of-order segments (pieces) buffered per direction; beyond it the hole is declared a gap */
  maxBufferedSegmentsPerDirection: number;
}

export const DEFAULT_FLOW_LIMITS: FlowLimits = {
  // ~3 KB of heap per active flow (measured): 16 384 flows stay under ~50 MB
  maxFlows: 16_384,
  maxBufferedBytesPerDirection: 256 * 1024,
  maxBufferedBytesTotal: 64 * 1024 * 1024,
  idleTimeoutSec: 120,
  maxBufferedSegmentsPerDirection: 4096,
};

export interface FlowStats {
  flows: number;
  activeFlows: number;
  evictedFlows: number;
  idleFlows: number;
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
}
