/**
 * Frame → TCP segment to or from IMDS (169.254.169.254:80, [fd00:ec2::254]:80).
 *
 * Almost every frame on a host is not IMDS, so the decoder drops those at header
 * level (a file's frames first through plainNotImds, fast-path.ts): it compares raw address bytes as 32-bit words and builds no string and
 * no object for them. Only IMDS segments get an object (with a payload view into
 * the frame's buffer, valid as long as the frame is).
 *
 * Link types: DECODABLE_LINK_TYPES in link-types.ts (Ethernet with 802.1Q/QinQ tags, Linux SLL and SLL2, raw IP,
 * raw IPv4, raw IPv6, BSD null/loop, NFLOG). IPv4 options and IPv6 extension headers are
 * walked. Fragments to or from IMDS are reassembled (ip-reassembly.ts) and the reassembled
 * datagram's segment is handed on as if it had arrived whole, at the time of the fragment
 * that completed it; other fragments are not IMDS. Malformed frames are counted in
 * `stats.skipped` under fixed reason strings, never thrown.
 */
import type { Frame } from '../source/frame.js';
import { AddressTextCache } from './address-text-cache.js';
import { IMDS_PORT, IMDS_V4_TEXT, IMDS_V4_WORD, IMDS_V6_TEXT } from '../domain/endpoint.js';
import type { DecodeStats, TcpSegment } from './packet.js';
import type { DecodeSkipReason } from '../errors/catalogue.js';
import { type FragmentIn, IpReassembler, type ReassemblyLimits } from './ip-reassembly.js';
import { nflogPayload } from './nflog.js';
import { ETH_IPV4, ETH_IPV6, isImdsV6, plainNotImds, word } from './fast-path.js';

const IMDS_V4 = IMDS_V4_WORD;

/** the payload of every segment that carries none (zero length: nothing can be written into it) */
const NO_PAYLOAD = Buffer.alloc(0);

const MAX_VLAN_TAGS = 8;
const MAX_IPV6_EXT_HEADERS = 10;
const MAX_UNKNOWN_LINKTYPES_KEPT = 16;

export interface DecoderOptions {
  reassembly?: Partial<ReassemblyLimits>;
  /**
   * return ONE segment object, refilled by every decode (the pipeline's choice: its stages read
   * a segment during the call and keep none of it); by default each segment is a new object
   */
  reuseSegment?: boolean;
}

function emptySegment(): TcpSegment {
  return { sec: 0, nsec: 0, ipVersion: 4, src: '', dst: '', srcPort: 0, dstPort: 0, seq: 0, ack: 0, flags: 0, ttl: 0, payload: NO_PAYLOAD, missing: 0, toImds: false };
}

function isAfInet6(af: number): boolean {
  return af === 10 || af === 24 || af === 28 || af === 30;
}

export class Decoder {
  readonly stats: DecodeStats = { frames: 0, imdsSegments: 0, notImds: 0, fragments: 0, reassembled: 0, fragmentBytesHeld: 0, fragmentBytesHeldPeak: 0, skipped: {}, unknownLinkTypes: {} };
  /** link types seen that this decoder cannot read (at most 16 kept), for a diagnostic */
  readonly unknownLinkTypes = new Set<number>();
  /** made at the first fragment to or from IMDS */
  private reasm: IpReassembler | null = null;
  private readonly countSkip = (reason: DecodeSkipReason): void => void this.skip(reason);
  /** the one segment handed out (reuseSegment), or null */
  private readonly seg: TcpSegment | null;
  private readonly addrText = new AddressTextCache();

  constructor(private readonly opts: DecoderOptions = {}) {
    this.seg = opts.reuseSegment === true ? emptySegment() : null;
  }

  /** the fragment reassembler's counters (null until a fragment to or from IMDS was seen) */
  get reassembly(): IpReassembler | null {
    return this.reasm;
  }

  decode(frame: Frame): TcpSegment | null {
    this.stats.frames++;
    if (this.reasm !== null && this.reasm.pending > 0) {
      this.reasm.expire(frame.sec);
      this.reassemblyStats(this.reasm);
    }
    // fast path: read the few header bytes in the reader's buffer, without a view
    const chunk = frame.chunk;
    let d: Buffer;
    /** where the frame starts in `d`: offsets below are into `d`, so a file's frames need no view */
    let b: number;
    if (chunk !== undefined && frame.linkType !== 239) {
      if (plainNotImds(chunk, frame.chunkAt!, frame.caplen!, frame.linkType)) {
        this.stats.notImds++;
        return null;
      }
      d = chunk;
      b = frame.chunkAt!;
    } else {
      d = frame.data;
      b = 0;
    }
    const cap = d === chunk ? frame.caplen! : d.length;
    let len = b + cap;
    let frameEnd = b + (frame.origLen > cap ? frame.origLen : cap);
    let off: number;
    let etype: number;

    switch (frame.linkType) {
      case 1: // Ethernet
        if (cap < 14) return this.skip('ethernet-truncated');
        etype = (d[b + 12] << 8) | d[b + 13];
        off = b + 14;
        break;
      case 113: // Linux cooked v1
        if (cap < 16) return this.skip('sll-truncated');
        etype = (d[b + 14] << 8) | d[b + 15];
        off = b + 16;
        break;
      case 276: // Linux cooked v2
        if (cap < 20) return this.skip('sll2-truncated');
        etype = (d[b] << 8) | d[b + 1];
        off = b + 20;
        break;
      case 101: // raw IP
      case 12: {
        if (cap < 1) return this.skip('raw-ip-truncated');
        const v = d[b] >> 4;
        if (v === 4) etype = ETH_IPV4;
        else if (v === 6) etype = ETH_IPV6;
        else return this.skip('raw-ip-bad-version');
        off = b;
        break;
      }
      case 228:
        etype = ETH_IPV4;
        off = b;
        break;
      case 229:
        etype = ETH_IPV6;
        off = b;
        break;
      case 239: {
        // NFLOG (tcpdump -i nflog:N): TLVs up to NFULA_PAYLOAD, which holds the IP packet
        // (read in the frame's own view: b is 0 here)
        const p = nflogPayload(d);
        if (typeof p === 'string') {
          if (p === 'not-ip') {
            this.stats.notImds++;
            return null;
          }
          return this.skip(p);
        }
        const v = d[p.start] >> 4;
        if (v === 4) etype = ETH_IPV4;
        else if (v === 6) etype = ETH_IPV6;
        else {
          this.stats.notImds++;
          return null;
        }
        // the payload TLV bounds the captured packet (what follows it is not IP); the kernel may
        // have copied only part of the packet (nflog copy range), so the IP length says how long
        // it was on the wire, as a snaplen cut would
        off = p.start;
        len = p.end < len ? p.end : len;
        const ipEnd = off + 4 <= len ? (v === 4 ? off + ((d[off + 2] << 8) | d[off + 3]) : off + 40 + ((d[off + 4] << 8) | d[off + 5])) : 0;
        frameEnd = ipEnd > p.end ? ipEnd : p.end;
        break;
      }
      case 0: // BSD null (host byte order)
      case 108: {
        // OpenBSD loop (network byte order); accept either order for both
        if (cap < 4) return this.skip('loopback-truncated');
        const afLe = d.readUInt32LE(b);
        const afBe = d.readUInt32BE(b);
        if (afLe === 2 || afBe === 2) etype = ETH_IPV4;
        else if (isAfInet6(afLe) || isAfInet6(afBe)) etype = ETH_IPV6;
        else {
          this.stats.notImds++;
          return null;
        }
        off = b + 4;
        break;
      }
      default: {
        const lt = frame.linkType;
        if (this.unknownLinkTypes.has(lt) || this.unknownLinkTypes.size < MAX_UNKNOWN_LINKTYPES_KEPT) {
          this.unknownLinkTypes.add(lt);
          const u = this.stats.unknownLinkTypes!;
          u[lt] = (u[lt] ?? 0) + 1;
        }
        return this.skip('unknown-linktype');
      }
    }

    // 802.1Q, 802.1ad (QinQ) and old QinQ tags, possibly stacked
    for (let tags = 0; etype === 0x8100 || etype === 0x88a8 || etype === 0x9100; tags++) {
      if (tags === MAX_VLAN_TAGS) return this.skip('vlan-too-many-tags');
      if (off + 4 > len) return this.skip('vlan-truncated');
      etype = (d[off + 2] << 8) | d[off + 3];
      off += 4;
    }

    if (etype === ETH_IPV4) return this.ipv4(frame, d, off, len, frameEnd);
    if (etype === ETH_IPV6) return this.ipv6(frame, d, off, len, frameEnd, false);
    this.stats.notImds++;
    return null;
  }

  /** `len`: end of the captured bytes of the packet in `d`; `frameEnd`: its end on the wire */
  private ipv4(frame: Frame, d: Buffer, off: number, len: number, frameEnd: number): TcpSegment | null {
    if (off + 20 > len) return this.skip('ipv4-bad-header');
    const vihl = d[off];
    const ihl = (vihl & 15) << 2;
    if (vihl >> 4 !== 4 || ihl < 20 || off + ihl > len) return this.skip('ipv4-bad-header');
    const srcIs = word(d, off + 12) === IMDS_V4;
    const dstIs = word(d, off + 16) === IMDS_V4;
    if (!(srcIs || dstIs) || d[off + 9] !== 6) {
      this.stats.notImds++;
      return null;
    }
    const fragField = ((d[off + 6] << 8) | d[off + 7]) & 0x3fff;
    const totalLen = (d[off + 2] << 8) | d[off + 3];
    let wireEnd: number;
    if (totalLen === 0) {
      wireEnd = frameEnd; // TSO: length left to the NIC
    } else {
      // shorter than its header, or longer than the frame on the wire
      if (totalLen < ihl || off + totalLen > frameEnd) return this.skip('ipv4-bad-total-length');
      wireEnd = off + totalLen;
    }
    const capEnd = wireEnd < len ? wireEnd : len; // drops Ethernet padding
    if (fragField !== 0) {
      // MF set or fragment offset != 0 (never in a reassembled packet: its fields are cleared)
      if (totalLen === 0) return this.skip('ipv4-bad-total-length');
      const key = `4${d.toString('latin1', off + 12, off + 20)}${d.toString('latin1', off + 4, off + 6)}`;
      const frag = { version: 4 as const, key, offset: (fragField & 0x1fff) << 3, more: (fragField & 0x2000) !== 0, data: d.subarray(off + ihl, capEnd), wireLength: wireEnd - off - ihl, header: d.subarray(off, off + ihl), nextHeaderAt: 0, nextHeader: 6 };
      return this.reassembled(frame, frag);
    }
    return this.tcp(frame, d, 4, off, off + ihl, capEnd, wireEnd, srcIs, dstIs, d[off + 8]);
  }

  private ipv6(frame: Frame, d: Buffer, off: number, len: number, frameEnd: number, whole: boolean): TcpSegment | null {
    if (off + 40 > len) return this.skip('ipv6-header-truncated');
    if (d[off] >> 4 !== 6) return this.skip('ipv6-bad-header');
    const srcIs = isImdsV6(d, off + 8);
    const dstIs = isImdsV6(d, off + 24);
    if (!(srcIs || dstIs)) {
      this.stats.notImds++;
      return null;
    }
    const payloadLen = (d[off + 4] << 8) | d[off + 5];
    let nh = d[off + 6];
    let nhAt = off + 6;
    let wireEnd: number;
    if (payloadLen === 0) {
      // a jumbogram (hop-by-hop Jumbo Payload option) or a GSO packet over 64 KiB
      if (nh !== 0 && frameEnd - off - 40 <= 65535) return this.skip('ipv6-bad-payload-length');
      wireEnd = frameEnd;
    } else {
      wireEnd = off + 40 + payloadLen;
      if (wireEnd > frameEnd) return this.skip('ipv6-bad-payload-length');
    }
    const capEnd = wireEnd < len ? wireEnd : len;
    let p = off + 40;
    for (let n = 0; nh !== 6; n++) {
      if (n === MAX_IPV6_EXT_HEADERS) return this.skip('ipv6-too-many-ext-headers');
      if (p + 8 > capEnd) return this.skip('ipv6-ext-header-truncated');
      switch (nh) {
        case 0: // hop-by-hop
        case 43: // routing
        case 60: // destination options
          nh = d[p];
          nhAt = p;
          p += (d[p + 1] + 1) << 3;
          break;
        case 44: {
          // fragment: offset (13 bits) and M flag; offset 0 with M clear is an atomic
          // fragment (RFC 6946), read as it is
          const fo = ((d[p + 2] << 8) | d[p + 3]) & 0xfff9;
          if (fo !== 0) {
            if (whole) return this.skip('ipv6-nested-fragment');
            if (payloadLen === 0) return this.skip('ipv6-bad-payload-length');
            // only TCP (maybe behind more extension headers) can be IMDS
            const inner = d[p];
            if (inner !== 6 && inner !== 0 && inner !== 43 && inner !== 44 && inner !== 60 && inner !== 51) {
              this.stats.notImds++;
              return null;
            }
            const key = `6${d.toString('latin1', off + 8, off + 40)}${d.toString('latin1', p + 4, p + 8)}`;
            const frag = { version: 6 as const, key, offset: fo & 0xfff8, more: (fo & 1) !== 0, data: d.subarray(p + 8, capEnd), wireLength: wireEnd - p - 8, header: d.subarray(off, p), nextHeaderAt: nhAt - off, nextHeader: inner };
            return this.reassembled(frame, frag);
          }
          nh = d[p];
          nhAt = p;
          p += 8;
          break;
        }
        case 51: // authentication header
          nh = d[p];
          nhAt = p;
          p += (d[p + 1] + 2) << 2;
          break;
        default: // UDP, ICMPv6, ESP, no next header, ...
          this.stats.notImds++;
          return null;
      }
    }
    if (p > capEnd) return this.skip('ipv6-ext-header-truncated');
    return this.tcp(frame, d, 6, off, p, capEnd, wireEnd, srcIs, dstIs, d[off + 7]);
  }

  /** hand a fragment to the reassembler; when it completes a datagram, decode that */
  private reassembled(frame: Frame, frag: FragmentIn): TcpSegment | null {
    this.reasm ??= new IpReassembler(this.countSkip, this.opts.reassembly);
    const r = this.reasm;
    const packet = r.add(frag, frame.sec);
    this.reassemblyStats(r);
    if (packet === null) return null;
    return frag.version === 4 ? this.ipv4(frame, packet, 0, packet.length, packet.length) : this.ipv6(frame, packet, 0, packet.length, packet.length, true);
  }

  private tcp(
    frame: Frame,
    d: Buffer,
    ipVersion: 4 | 6,
    ipOff: number,
    t: number,
    capEnd: number,
    wireEnd: number,
    srcIs: boolean,
    dstIs: boolean,
    ttl: number,
  ): TcpSegment | null {
    if (t + 20 > capEnd) return this.skip(t + 20 > wireEnd ? 'tcp-bad-header' : 'tcp-header-truncated');
    const srcPort = (d[t] << 8) | d[t + 1];
    const dstPort = (d[t + 2] << 8) | d[t + 3];
    let toImds: boolean;
    if (dstIs && dstPort === IMDS_PORT) toImds = true;
    else if (srcIs && srcPort === IMDS_PORT) toImds = false;
    else {
      this.stats.notImds++;
      return null;
    }
    const doff = (d[t + 12] >> 4) << 2;
    if (doff < 20 || t + doff > wireEnd) return this.skip('tcp-bad-data-offset');
    if (t + doff > capEnd) return this.skip('tcp-header-truncated');

    let src: string;
    let dst: string;
    if (ipVersion === 4) {
      src = srcIs ? IMDS_V4_TEXT : this.addrText.text(d, ipOff + 12);
      dst = dstIs ? IMDS_V4_TEXT : this.addrText.text(d, ipOff + 16);
    } else {
      src = srcIs ? IMDS_V6_TEXT : this.addrText.text6(d, ipOff + 8);
      dst = dstIs ? IMDS_V6_TEXT : this.addrText.text6(d, ipOff + 24);
    }
    this.stats.imdsSegments++;
    // no view for the many segments without payload (SYN, ACK, FIN): one shared empty buffer
    const payload = t + doff < capEnd ? d.subarray(t + doff, capEnd) : NO_PAYLOAD;
    const seg = this.seg;
    if (seg === null) {
      return { sec: frame.sec, nsec: frame.nsec, ipVersion, src, dst, srcPort, dstPort, seq: word(d, t + 4), ack: word(d, t + 8), flags: d[t + 13], ttl, payload, missing: wireEnd - capEnd, toImds };
    }
    seg.sec = frame.sec;
    seg.nsec = frame.nsec;
    seg.ipVersion = ipVersion;
    seg.src = src;
    seg.dst = dst;
    seg.srcPort = srcPort;
    seg.dstPort = dstPort;
    seg.seq = word(d, t + 4);
    seg.ack = word(d, t + 8);
    seg.flags = d[t + 13];
    seg.ttl = ttl;
    seg.payload = payload;
    seg.missing = wireEnd - capEnd;
    seg.toImds = toImds;
    return seg;
  }

  /** the reassembler's counters, copied into the decode stats (a snapshot copies them as plain numbers) */
  private reassemblyStats(r: IpReassembler): void {
    const s = this.stats;
    s.fragments = r.fragmentsUnread;
    s.reassembled = r.reassembled;
    s.fragmentBytesHeld = r.bytesHeld;
    s.fragmentBytesHeldPeak = r.peakBytesHeld;
  }

  private skip(reason: DecodeSkipReason): null {
    const s = this.stats.skipped;
    s[reason] = (s[reason] ?? 0) + 1;
    return null;
  }
}
