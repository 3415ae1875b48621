/**
 * Byte-exact builders for IP/TCP packets and link-layer wrappers, for tests, the
 * edge-case generator and the benchmark. Everything here is deterministic: the same
 * arguments always give the same bytes.
 */

export const LINKTYPE = {
  NULL: 0, // BSD loopback, host byte order AF
  ETHERNET: 1,
  RAW_12: 12, // DLT_RAW on some BSDs
  RAW: 101,
  LOOP: 108, // OpenBSD loopback, network byte order AF
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  NFLOG: 239,
  LINUX_SLL2: 276,
} as const;

export const TCP_FLAGS = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20 } as const;

export interface TcpSpec {
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** bit mask (TCP_FLAGS) or letters: "S", "SA", "PA", "FA", "R", "A" */
  flags: number | string;
  payload?: Buffer | string;
  /** IPv4 TTL / IPv6 hop limit (default 64) */
  ttl?: number;
  window?: number;
  /** raw TCP option bytes (padded to 4 with NOPs... here: zero-padded) */
  options?: Buffer;
  /** raw IPv4 option bytes (padded to 4 with zeros), IPv4 only */
  ipOptions?: Buffer;
  /** IPv4 identification (default 0) */
  ipId?: number;
  /** IPv6 extension headers placed before TCP, IPv6 only */
  extHeaders?: Ipv6ExtHeader[];
  /** compute the TCP checksum (default true) */
  tcpChecksum?: boolean;
}

/**
 * An IPv6 extension header. `type` is its protocol number (0 hop-by-hop, 43 routing,
 * 44 fragment, 60 destination options). `data` is the body after the two first bytes
 * (next header, length); it is zero-padded to make the header a multiple of 8 bytes.
 * A fragment header (44) is always 8 bytes: `data` (6 bytes) is offset/flags/id.
 */
export interface Ipv6ExtHeader {
  type: number;
  data?: Buffer;
}

const FLAG_LETTERS: Record<string, number> = { F: 0x01, S: 0x02, R: 0x04, P: 0x08, A: 0x10, U: 0x20 };

export function tcpFlags(flags: number | string): number {
  if (typeof flags === 'number') return flags;
  let v = 0;
  for (const c of flags.toUpperCase()) {
    const bit = FLAG_LETTERS[c];
    if (bit === undefined) throw new Error(`unknown TCP flag letter ${c}`);
    v |= bit;
  }
  return v;
}

export function parseIPv4(ip: string): Buffer {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new Error(`bad IPv4 address ${ip}`);
  }
  return Buffer.from(parts);
}

export function parseIPv6(ip: string): Buffer {
  const out = Buffer.alloc(16);
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  if (tail === undefined && h.length !== 8) throw new Error(`bad IPv6 address ${ip}`);
  if (h.length + t.length > 8) throw new Error(`bad IPv6 address ${ip}`);
  h.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  t.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), 16 - (t.length - i) * 2));
  return out;
}

export function isIPv6(ip: string): boolean {
  return ip.includes(':');
}

/** RFC 1071 ones'-complement sum over several buffers, folded and complemented. */
export function internetChecksum(...parts: Buffer[]): number {
  let sum = 0;
  for (const b of parts) {
    let i = 0;
    for (; i + 1 < b.length; i += 2) sum += b.readUInt16BE(i);
    if (i < b.length) sum += b[i] << 8;
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  }
  return ~sum & 0xffff;
}

function pad(buf: Buffer, multiple: number): Buffer {
  const r = buf.length % multiple;
  return r === 0 ? buf : Buffer.concat([buf, Buffer.alloc(multiple - r)]);
}

function toBuf(p: Buffer | string | undefined): Buffer {
  if (p === undefined) return Buffer.alloc(0);
  return typeof p === 'string' ? Buffer.from(p, 'latin1') : p;
}

/** TCP header + payload; the checksum needs the pseudo-header, given by the caller. */
function tcpSegment(spec: TcpSpec, pseudo: (tcpLen: number) => Buffer): Buffer {
  const opts = pad(spec.options ?? Buffer.alloc(0), 4);
  const payload = toBuf(spec.payload);
  const hl = 20 + opts.length;
  const h = Buffer.alloc(hl);
  h.writeUInt16BE(spec.srcPort, 0);
  h.writeUInt16BE(spec.dstPort, 2);
  h.writeUInt32BE(spec.seq >>> 0, 4);
  h.writeUInt32BE(spec.ack >>> 0, 8);
  h[12] = (hl / 4) << 4;
  h[13] = tcpFlags(spec.flags);
  h.writeUInt16BE(spec.window ?? 64240, 14);
  opts.copy(h, 20);
  if (spec.tcpChecksum !== false) {
    h.writeUInt16BE(internetChecksum(pseudo(hl + payload.length), h, payload), 16);
  }
  return Buffer.concat([h, payload]);
}

/** An IPv4 packet carrying one TCP segment, with a correct header checksum. */
export function ipv4Tcp(spec: TcpSpec): Buffer {
  const src = parseIPv4(spec.src);
  const dst = parseIPv4(spec.dst);
  const tcp = tcpSegment(spec, (len) => {
    const p = Buffer.alloc(12);
    src.copy(p, 0);
    dst.copy(p, 4);
    p[9] = 6;
    p.writeUInt16BE(len, 10);
    return p;
  });
  const ipOpts = pad(spec.ipOptions ?? Buffer.alloc(0), 4);
  const ihl = 20 + ipOpts.length;
  const h = Buffer.alloc(ihl);
  h[0] = 0x40 | (ihl / 4);
  h.writeUInt16BE(ihl + tcp.length, 2);
  h.writeUInt16BE(spec.ipId ?? 0, 4);
  h.writeUInt16BE(0x4000, 6); // DF
  h[8] = spec.ttl ?? 64;
  h[9] = 6;
  src.copy(h, 12);
  dst.copy(h, 16);
  ipOpts.copy(h, 20);
  h.writeUInt16BE(internetChecksum(h), 10);
  return Buffer.concat([h, tcp]);
}

/** An IPv6 packet carrying one TCP segment, optionally behind extension headers. */
export function ipv6Tcp(spec: TcpSpec): Buffer {
  const src = parseIPv6(spec.src);
  const dst = parseIPv6(spec.dst);
  const tcp = tcpSegment(spec, (len) => {
    const p = Buffer.alloc(40);
    src.copy(p, 0);
    dst.copy(p, 16);
    p.writeUInt32BE(len, 32);
    p[39] = 6;
    return p;
  });
  const exts = spec.extHeaders ?? [];
  const extBufs = exts.map((e, i) => {
    const next = i + 1 < exts.length ? exts[i + 1].type : 6;
    const body = e.data ?? Buffer.alloc(0);
    if (e.type === 44) {
      const b = Buffer.alloc(8);
      b[0] = next;
      body.copy(b, 2, 0, 6);
      return b;
    }
    const b = pad(Buffer.concat([Buffer.from([next, 0]), body]), 8);
    b[1] = b.length / 8 - 1;
    return b;
  });
  const ext = Buffer.concat(extBufs);
  const h = Buffer.alloc(40);
  h.writeUInt32BE(0x60000000, 0);
  h.writeUInt16BE(ext.length + tcp.length, 4);
  h[6] = exts.length > 0 ? exts[0].type : 6;
  h[7] = spec.ttl ?? 64;
  src.copy(h, 8);
  dst.copy(h, 24);
  return Buffer.concat([h, ext, tcp]);
}

/** IPv4 or IPv6 by the address family of `spec.src`. */
export function ipTcp(spec: TcpSpec): Buffer {
  return isIPv6(spec.src) ? ipv6Tcp(spec) : ipv4Tcp(spec);
}

function etherTypeOf(ip: Buffer): number {
  return ip.length > 0 && ip[0] >> 4 === 6 ? 0x86dd : 0x0800;
}

export interface EthernetOptions {
  /** VLAN ids, outermost first; two ids make QinQ (outer TPID `outerTpid`, default 0x88a8) */
  vlan?: number[];
  outerTpid?: number;
  srcMac?: Buffer;
  dstMac?: Buffer;
  /** override the final EtherType */
  etherType?: number;
}

export function ethernet(ip: Buffer, o: EthernetOptions = {}): Buffer {
  const dst = o.dstMac ?? Buffer.from([0x02, 0x00, 0x00, 0x00, 0x00, 0x01]);
  const src = o.srcMac ?? Buffer.from([0x02, 0x00, 0x00, 0x00, 0x00, 0x02]);
  const vlans = o.vlan ?? [];
  const tags: Buffer[] = vlans.map((id, i) => {
    const t = Buffer.alloc(4);
    const tpid = i === 0 && vlans.length > 1 ? (o.outerTpid ?? 0x88a8) : 0x8100;
    t.writeUInt16BE(tpid, 0);
    t.writeUInt16BE(id & 0x0fff, 2);
    return t;
  });
  const et = Buffer.alloc(2);
  et.writeUInt16BE(o.etherType ?? etherTypeOf(ip), 0);
  return Buffer.concat([dst, src, ...tags, et, ip]);
}

/** Linux cooked capture v1 (LINKTYPE_LINUX_SLL, 113), packet type "sent by us" (4). */
export function sll(ip: Buffer, o: { packetType?: number; protocol?: number } = {}): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16BE(o.packetType ?? 4, 0);
  h.writeUInt16BE(1, 2); // ARPHRD_ETHER
  h.writeUInt16BE(6, 4);
  Buffer.from([0x02, 0, 0, 0, 0, 0x02]).copy(h, 6);
  h.writeUInt16BE(o.protocol ?? etherTypeOf(ip), 14);
  return Buffer.concat([h, ip]);
}

/** Linux cooked capture v2 (LINKTYPE_LINUX_SLL2, 276). */
export function sll2(ip: Buffer, o: { packetType?: number; ifindex?: number; protocol?: number } = {}): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(o.protocol ?? etherTypeOf(ip), 0);
  h.writeUInt32BE(o.ifindex ?? 2, 4);
  h.writeUInt16BE(1, 8); // ARPHRD_ETHER
  h[10] = o.packetType ?? 4;
  h[11] = 6;
  Buffer.from([0x02, 0, 0, 0, 0, 0x02]).copy(h, 12);
  return Buffer.concat([h, ip]);
}

/**
 * BSD loopback (LINKTYPE_NULL, 0): a 4-byte address family in the capturing host's
 * byte order (little-endian unless `bigEndian`). AF_INET is 2; AF_INET6 is 24, 28
 * or 30 depending on the BSD (default 30, macOS).
 */
export function bsdNull(ip: Buffer, o: { bigEndian?: boolean; af?: number } = {}): Buffer {
  const h = Buffer.alloc(4);
  const af = o.af ?? (etherTypeOf(ip) === 0x86dd ? 30 : 2);
  if (o.bigEndian) h.writeUInt32BE(af, 0);
  else h.writeUInt32LE(af, 0);
  return Buffer.concat([h, ip]);
}

/** Raw IP (LINKTYPE_RAW 101, IPV4 228, IPV6 229, DLT_RAW 12): no link header. */
export function raw(ip: Buffer): Buffer {
  return ip;
}

export interface UdpSpec {
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  payload?: Buffer | string;
  ttl?: number;
}

/** An IPv4 or IPv6 packet (by address family) carrying one UDP datagram with a correct checksum. */
export function ipUdp(spec: UdpSpec): Buffer {
  const payload = toBuf(spec.payload);
  const v6 = isIPv6(spec.src);
  const src = v6 ? parseIPv6(spec.src) : parseIPv4(spec.src);
  const dst = v6 ? parseIPv6(spec.dst) : parseIPv4(spec.dst);
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(spec.srcPort, 0);
  udp.writeUInt16BE(spec.dstPort, 2);
  udp.writeUInt16BE(8 + payload.length, 4);
  const pseudo = Buffer.alloc(v6 ? 40 : 12);
  src.copy(pseudo, 0);
  dst.copy(pseudo, v6 ? 16 : 4);
  if (v6) {
    pseudo.writeUInt32BE(8 + payload.length, 32);
    pseudo[39] = 17;
  } else {
    pseudo[9] = 17;
    pseudo.writeUInt16BE(8 + payload.length, 10);
  }
  udp.writeUInt16BE(internetChecksum(pseudo, udp, payload) || 0xffff, 6);
  if (v6) {
    const h = Buffer.alloc(40);
    h.writeUInt32BE(0x60000000, 0);
    h.writeUInt16BE(8 + payload.length, 4);
    h[6] = 17;
    h[7] = spec.ttl ?? 64;
    src.copy(h, 8);
    dst.copy(h, 24);
    return Buffer.concat([h, udp, payload]);
  }
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(28 + payload.length, 2);
  h.writeUInt16BE(0x4000, 6);
  h[8] = spec.ttl ?? 64;
  h[9] = 17;
  src.copy(h, 12);
  dst.copy(h, 16);
  h.writeUInt16BE(internetChecksum(h), 10);
  return Buffer.concat([h, udp, payload]);
}

/**
 * Cut an IPv4 packet into fragments of at most `fragSize` payload bytes (a multiple
 * of 8), with correct offsets, MF bits and header checksums.
 */
export function fragmentIpv4(packet: Buffer, fragSize: number): Buffer[] {
  const ihl = (packet[0] & 0x0f) * 4;
  const header = packet.subarray(0, ihl);
  const body = packet.subarray(ihl);
  const out: Buffer[] = [];
  for (let off = 0; off < body.length; off += fragSize) {
    const part = body.subarray(off, Math.min(body.length, off + fragSize));
    const h = Buffer.from(header);
    h.writeUInt16BE(ihl + part.length, 2);
    const more = off + fragSize < body.length ? 0x2000 : 0;
    h.writeUInt16BE(more | (off / 8), 6);
    h.writeUInt16BE(0, 10);
    h.writeUInt16BE(internetChecksum(h), 10);
    out.push(Buffer.concat([h, part]));
  }
  return out;
}

/**
 * NFLOG (LINKTYPE_NFLOG, 239), as `tcpdump -i nflog:N` writes: header (family by IP version,
 * version 0, resource id), NFULA_PACKET_HDR, NFULA_PREFIX, NFULA_UID, then NFULA_PAYLOAD
 * with the packet. TLV lengths and types in the capturing host's byte order (little-endian
 * unless `bigEndian`).
 */
export function nflog(ip: Buffer, o: { bigEndian?: boolean; group?: number; prefix?: string; payloadType?: number; family?: number } = {}): Buffer {
  const v6 = ip.length > 0 && ip[0] >> 4 === 6;
  const tlv = (type: number, value: Buffer): Buffer => {
    const len = 4 + value.length;
    const b = Buffer.alloc((len + 3) & ~3);
    if (o.bigEndian) {
      b.writeUInt16BE(len, 0);
      b.writeUInt16BE(type, 2);
    } else {
      b.writeUInt16LE(len, 0);
      b.writeUInt16LE(type, 2);
    }
    value.copy(b, 4);
    return b;
  };
  const head = Buffer.from([o.family ?? (v6 ? 10 : 2), 0, 0, o.group ?? 5]);
  const pktHdr = Buffer.from([v6 ? 0x86 : 0x08, v6 ? 0xdd : 0x00, 3, 0]); // hw_protocol (network order), hook, pad
  const uid = Buffer.alloc(4);
  uid.writeUInt32BE(0, 0);
  return Buffer.concat([
    head,
    tlv(1, pktHdr),
    tlv(10, Buffer.from(`${o.prefix ?? 'imds'}\0`, 'latin1')),
    tlv(11, uid),
    tlv(o.payloadType ?? 9, ip),
  ]);
}
