/** Test-only builders of link/IP/TCP bytes. */
import type { Frame } from '../../src/source/frame.js';

export interface TcpOpts {
  srcPort: number;
  dstPort: number;
  seq?: number;
  ack?: number;
  flags?: number;
  /** TCP options (padded to 4 bytes by the caller) */
  options?: Buffer;
  /** override the data offset nibble */
  doff?: number;
}

export function tcp(o: TcpOpts, payload: Buffer = Buffer.alloc(0)): Buffer {
  const opts = o.options ?? Buffer.alloc(0);
  const h = Buffer.alloc(20);
  h.writeUInt16BE(o.srcPort, 0);
  h.writeUInt16BE(o.dstPort, 2);
  h.writeUInt32BE(o.seq ?? 1000, 4);
  h.writeUInt32BE(o.ack ?? 0, 8);
  h[12] = (o.doff ?? (20 + opts.length) / 4) << 4;
  h[13] = o.flags ?? 0x18;
  h.writeUInt16BE(65535, 14);
  return Buffer.concat([h, opts, payload]);
}

export function v4(text: string): Buffer {
  return Buffer.from(text.split('.').map(Number));
}

export function v6(text: string): Buffer {
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const parse = (s: string | undefined) => (s ? s.split(':').map((x) => parseInt(x, 16)) : []);
  const h = parse(head);
  const t = parse(tail);
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill(0), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(g, i * 2));
  return b;
}

export interface Ipv4Opts {
  src: string;
  dst: string;
  proto?: number;
  ttl?: number;
  options?: Buffer;
  /** flags + fragment offset field */
  frag?: number;
  totalLen?: number;
  /** override the version/IHL byte */
  vihl?: number;
}

export function ipv4(o: Ipv4Opts, payload: Buffer): Buffer {
  const opts = o.options ?? Buffer.alloc(0);
  const h = Buffer.alloc(20);
  h[0] = o.vihl ?? 0x40 | ((20 + opts.length) / 4);
  h.writeUInt16BE(o.totalLen ?? 20 + opts.length + payload.length, 2);
  h.writeUInt16BE(o.frag ?? 0x4000, 6); // DF
  h[8] = o.ttl ?? 64;
  h[9] = o.proto ?? 6;
  v4(o.src).copy(h, 12);
  v4(o.dst).copy(h, 16);
  return Buffer.concat([h, opts, payload]);
}

export interface Ext {
  type: number;
  /** raw header bytes after the next-header byte is patched in */
  bytes: Buffer;
}

/** Hop-by-hop / routing / destination-options header of 8*(n+1) bytes. */
export function extOpts(type: 0 | 43 | 60, units = 0): Ext {
  const b = Buffer.alloc(8 * (units + 1));
  b[1] = units;
  if (type !== 43) b.fill(0, 2); // PadN-free zero padding (Pad1 x n)
  return { type, bytes: b };
}

export function extFragment(offsetUnits: number, more: boolean): Ext {
  const b = Buffer.alloc(8);
  b.writeUInt16BE((offsetUnits << 3) | (more ? 1 : 0), 2);
  b.writeUInt32BE(0x12345678, 4);
  return { type: 44, bytes: b };
}

export function extAh(payloadLenField = 4): Ext {
  const b = Buffer.alloc((payloadLenField + 2) * 4);
  b[1] = payloadLenField;
  return { type: 51, bytes: b };
}

export interface Ipv6Opts {
  src: string;
  dst: string;
  next?: number;
  hopLimit?: number;
  ext?: Ext[];
  payloadLen?: number;
}

export function ipv6(o: Ipv6Opts, payload: Buffer): Buffer {
  const exts = o.ext ?? [];
  const chain = exts.map((e, i) => {
    const b = Buffer.from(e.bytes);
    b[0] = i + 1 < exts.length ? exts[i + 1].type : (o.next ?? 6);
    return b;
  });
  const body = Buffer.concat([...chain, payload]);
  const h = Buffer.alloc(40);
  h.writeUInt32BE(0x60000000, 0);
  h.writeUInt16BE(o.payloadLen ?? body.length, 4);
  h[6] = exts.length ? exts[0].type : (o.next ?? 6);
  h[7] = o.hopLimit ?? 64;
  v6(o.src).copy(h, 8);
  v6(o.dst).copy(h, 24);
  return Buffer.concat([h, body]);
}

export function ethernet(etype: number, payload: Buffer, tags: number[] = []): Buffer {
  const parts = [Buffer.from('020000000001020000000002', 'hex')];
  for (const tpid of tags) {
    const t = Buffer.alloc(4);
    t.writeUInt16BE(tpid, 0);
    t.writeUInt16BE(100, 2); // VLAN id 100
    parts.push(t);
  }
  const e = Buffer.alloc(2);
  e.writeUInt16BE(etype);
  return Buffer.concat([...parts, e, payload]);
}

export function sll(etype: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16BE(0, 0); // packet to us
  h.writeUInt16BE(1, 2); // ARPHRD_ETHER
  h.writeUInt16BE(6, 4);
  h.writeUInt16BE(etype, 14);
  return Buffer.concat([h, payload]);
}

export function sll2(etype: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(etype, 0);
  h.writeUInt32BE(2, 4); // ifindex
  h.writeUInt16BE(1, 8);
  h[10] = 4; // outgoing
  h[11] = 6;
  return Buffer.concat([h, payload]);
}

export function nullLink(af: number, le: boolean, payload: Buffer): Buffer {
  const h = Buffer.alloc(4);
  if (le) h.writeUInt32LE(af);
  else h.writeUInt32BE(af);
  return Buffer.concat([h, payload]);
}

export function frame(linkType: number, data: Buffer, origLen = data.length): Frame {
  return { sec: 1700000000, nsec: 5, linkType, data, origLen, iface: 0 };
}
