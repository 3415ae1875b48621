import type { DecodeSkipReason } from '../errors/catalogue.js';

/** The decode stage's contract: TCP segments to or from IMDS, with addresses as text. */
export interface TcpSegment {
  sec: number;
  nsec: number;
  ipVersion: 4 | 6;
  /** source address as text: dotted IPv4 or RFC 5952 IPv6 (e.g. "fd00:ec2::254") */
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  /** sequence and acknowledgement numbers, unsigned 32-bit */
  seq: number;
  ack: number;
  /** TCP flag bits: FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10 */
  flags: number;
  /** IPv4 TTL or IPv6 hop limit */
  ttl: number;
  /** TCP payload as captured (a view; copy to keep) */
  payload: Buffer;
  /** payload bytes the snaplen cut off (payload on the wire = payload.length + missing) */
  missing: number;
  /** true when the destination is IMDS (client → server), false for server → client */
  toImds: boolean;
}

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

/** Counters of what the decoder saw and why it dropped frames. Keys are fixed reasons, never packet content. */
export interface DecodeStats {
  frames: number;
  imdsSegments: number;
  /** frames that are valid but not IMDS TCP (background traffic, DNS, NTP at .123, ...) */
  notImds: number;
  /**
   * fragments to or from IMDS not reassembled (yet): held in a datagram in progress, or of a
   * datagram dropped (timeout, limits, truncated); at the end of a capture, the IMDS fragments
   * that could not be read. Reassembled ones are not counted.
   */
  fragments: number;
  /** IMDS datagrams reassembled from fragments */
  reassembled: number;
  /** bytes the fragment reassembler holds now, and the most it held (src/decode/ip-reassembly.ts bounds) */
  fragmentBytesHeld: number;
  fragmentBytesHeldPeak: number;
  /** malformed or unsupported frames by reason, e.g. 'ipv4-bad-header', 'unknown-linktype' (docs/errors.md#skip-reasons) */
  skipped: Partial<Record<DecodeSkipReason, number>>;
  /** frames of each link type the decoder cannot read ("147" → 5; at most 16 link types) */
  unknownLinkTypes?: Record<string, number>;
}
