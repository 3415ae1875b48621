/**
 * The decoder's fast path: frames that are plainly not IMDS, read in place in the reader's
 * buffer without a view or an object (most frames on a host). Compared with the full path
 * (Decoder.decode) on random and edge frames in test/decode/fast-path.test.ts.
 */
import { IMDS_V4_WORD, IMDS_V6_WORD0, IMDS_V6_WORD3 } from '../domain/endpoint.js';

const IMDS_V4 = IMDS_V4_WORD;
const IMDS_V6_W0 = IMDS_V6_WORD0;
const IMDS_V6_W3 = IMDS_V6_WORD3;
export const ETH_IPV4 = 0x0800;
export const ETH_IPV6 = 0x86dd;

/** Big-endian 32-bit word at d[o] as an unsigned number (no argument validation, unlike readUInt32BE). */
export function word(d: Buffer, o: number): number {
  return ((d[o] << 24) | (d[o + 1] << 16) | (d[o + 2] << 8) | d[o + 3]) >>> 0;
}

export function isImdsV6(d: Buffer, o: number): boolean {
  return word(d, o + 12) === IMDS_V6_W3 && word(d, o) === IMDS_V6_W0 && (word(d, o + 4) | word(d, o + 8)) === 0;
}

/**
 * True only when `Decoder.decode` would drop this frame as valid traffic that is not IMDS
 * TCP (`notImds`, nothing else counted, nothing kept): an IPv4 or IPv6 packet whose
 * header is whole and neither of whose addresses is IMDS (an IMDS address with another
 * protocol than TCP too, in IPv4), or a frame of another ethertype. It reads the bytes
 * `b[o .. o + len)` in place, making no object. Every other case (VLAN tags, NFLOG, BSD
 * loopback, unknown link types, truncated or malformed headers, IMDS addresses — so every
 * fragment and every extension-header chain to or from IMDS) answers false and takes
 * the full path, which decides and counts. The two paths are compared on random and
 * edge frames in test/decode/fast-path.test.ts.
 */
export function plainNotImds(b: Buffer, o: number, len: number, linkType: number): boolean {
  let off: number;
  let etype: number;
  switch (linkType) {
    case 1: // Ethernet
      if (len < 14) return false;
      etype = (b[o + 12] << 8) | b[o + 13];
      off = 14;
      break;
    case 113: // Linux cooked v1
      if (len < 16) return false;
      etype = (b[o + 14] << 8) | b[o + 15];
      off = 16;
      break;
    case 276: // Linux cooked v2
      if (len < 20) return false;
      etype = (b[o] << 8) | b[o + 1];
      off = 20;
      break;
    case 101: // raw IP (the version nibble says which)
    case 12:
    case 228: // raw IPv4
    case 229: {
      // raw IPv6
      if (len < 1) return false;
      const v = b[o] >> 4;
      if (v === 4 && linkType !== 229) etype = ETH_IPV4;
      else if (v === 6 && linkType !== 228) etype = ETH_IPV6;
      else return false;
      off = 0;
      break;
    }
    default:
      return false;
  }
  if (etype === ETH_IPV4) {
    if (off + 20 > len) return false;
    const vihl = b[o + off];
    const ihl = (vihl & 15) << 2;
    if (vihl >> 4 !== 4 || ihl < 20 || off + ihl > len) return false;
    const a = o + off;
    const imdsAddr = word(b, a + 12) === IMDS_V4 || word(b, a + 16) === IMDS_V4;
    return !imdsAddr || b[a + 9] !== 6;
  }
  if (etype === ETH_IPV6) {
    if (off + 40 > len || b[o + off] >> 4 !== 6) return false;
    return !isImdsV6(b, o + off + 8) && !isImdsV6(b, o + off + 24);
  }
  // VLAN tags: the full path walks them
  return etype !== 0x8100 && etype !== 0x88a8 && etype !== 0x9100;
}
