/**
 * IPv4 and IPv6 fragments of a whole packet, for edge captures and tests: any byte range,
 * any order (the caller orders, duplicates or alters them), correct IPv4 header checksums.
 */
import { internetChecksum } from './packet-builders.js';

/**
 * One IPv4 fragment of `packet` (an unfragmented IPv4 packet): its data bytes [start, end)
 * after the header, offset `start` (a multiple of 8 except to write hostile files), MF set
 * unless it reaches the end (or as `more` says), header checksum correct.
 */
export function ipv4Fragment(packet: Buffer, start: number, end: number, more?: boolean): Buffer {
  const ihl = (packet[0] & 0x0f) * 4;
  const body = packet.subarray(ihl);
  const part = body.subarray(start, Math.min(end, body.length));
  const h = Buffer.from(packet.subarray(0, ihl));
  h.writeUInt16BE(ihl + part.length, 2);
  const mf = (more ?? end < body.length) ? 0x2000 : 0;
  h.writeUInt16BE(mf | (start >> 3), 6);
  h.writeUInt16BE(0, 10);
  h.writeUInt16BE(internetChecksum(h), 10);
  return Buffer.concat([h, part]);
}

export interface Ipv6FragmentOptions {
  /** fragment identification (default 0x1234abcd) */
  id?: number;
  /** extension headers of `packet` that stay in the unfragmentable part, before the fragment header (default 0) */
  unfragmentable?: number;
  /** M flag (default: set unless the fragment reaches the end) */
  more?: boolean;
}

/** Where the fragmentable part of an IPv6 packet starts, after `n` extension headers, and the offset of the next-header byte before it. */
function ipv6Split(packet: Buffer, n: number): { at: number; nhAt: number } {
  let at = 40;
  let nhAt = 6;
  for (let i = 0; i < n; i++) {
    nhAt = at;
    at += (packet[at + 1] + 1) * 8;
  }
  return { at, nhAt };
}

/** One IPv6 fragment of `packet` (unfragmented): fragmentable bytes [start, end) behind a fragment header. */
export function ipv6Fragment(packet: Buffer, start: number, end: number, o: Ipv6FragmentOptions = {}): Buffer {
  const { at, nhAt } = ipv6Split(packet, o.unfragmentable ?? 0);
  const body = packet.subarray(at);
  const part = body.subarray(start, Math.min(end, body.length));
  const h = Buffer.from(packet.subarray(0, at));
  const inner = h[nhAt];
  h[nhAt] = 44;
  const fh = Buffer.alloc(8);
  fh[0] = inner;
  const more = (o.more ?? end < body.length) ? 1 : 0;
  fh.writeUInt16BE((start & 0xfff8) | more, 2);
  fh.writeUInt32BE((o.id ?? 0x1234abcd) >>> 0, 4);
  h.writeUInt16BE(h.length - 40 + 8 + part.length, 4);
  return Buffer.concat([h, fh, part]);
}

/** Cut an IPv4 or IPv6 packet into fragments of `fragSize` data bytes (a multiple of 8), in order. */
export function fragmentIp(packet: Buffer, fragSize: number, o: Ipv6FragmentOptions = {}): Buffer[] {
  const v6 = packet[0] >> 4 === 6;
  const bodyLen = v6 ? packet.length - ipv6Split(packet, o.unfragmentable ?? 0).at : packet.length - (packet[0] & 0x0f) * 4;
  const out: Buffer[] = [];
  for (let s = 0; s < bodyLen; s += fragSize) out.push(v6 ? ipv6Fragment(packet, s, s + fragSize, o) : ipv4Fragment(packet, s, s + fragSize));
  return out;
}
