/**
 * Writers for classic pcap and pcapng files (both byte orders, micro- and
 * nanosecond resolution), returning whole Buffers. For tests and generators only.
 */

export interface PcapRecord {
  sec: number;
  /** nanoseconds within the second; or give `usec` */
  nsec?: number;
  usec?: number;
  data: Buffer;
  /** length on the wire (default data.length before any snaplen cut) */
  origLen?: number;
}

export interface ClassicPcapOptions {
  linkType: number;
  /** nanosecond magic 0xa1b23c4d (default microsecond 0xa1b2c3d4) */
  nanosecond?: boolean;
  bigEndian?: boolean;
  /** file header snaplen (default 262144); records longer than it are cut to it */
  snaplen?: number;
  /** do not cut records to the snaplen (to write hostile files) */
  noCut?: boolean;
}

function fracNs(r: { nsec?: number; usec?: number }): number {
  if (r.nsec !== undefined) return r.nsec;
  return (r.usec ?? 0) * 1000;
}

class Out {
  readonly parts: Buffer[] = [];
  constructor(readonly be: boolean) {}
  u8(v: number): void {
    this.parts.push(Buffer.from([v & 0xff]));
  }
  u16(v: number): void {
    const b = Buffer.alloc(2);
    if (this.be) b.writeUInt16BE(v & 0xffff, 0);
    else b.writeUInt16LE(v & 0xffff, 0);
    this.parts.push(b);
  }
  u32(v: number): void {
    const b = Buffer.alloc(4);
    if (this.be) b.writeUInt32BE(v >>> 0, 0);
    else b.writeUInt32LE(v >>> 0, 0);
    this.parts.push(b);
  }
  i64(v: bigint): void {
    const b = Buffer.alloc(8);
    if (this.be) b.writeBigInt64BE(v, 0);
    else b.writeBigInt64LE(v, 0);
    this.parts.push(b);
  }
  bytes(b: Buffer): void {
    this.parts.push(b);
  }
  concat(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** A classic pcap file: 24-byte header then one 16-byte header + data per record. */
export function classicPcap(records: PcapRecord[], o: ClassicPcapOptions): Buffer {
  const out = new Out(o.bigEndian ?? false);
  const snaplen = o.snaplen ?? 262144;
  out.u32(o.nanosecond ? 0xa1b23c4d : 0xa1b2c3d4);
  out.u16(2);
  out.u16(4);
  out.u32(0);
  out.u32(0);
  out.u32(snaplen);
  out.u32(o.linkType);
  for (const r of records) {
    const data = !o.noCut && r.data.length > snaplen ? r.data.subarray(0, snaplen) : r.data;
    const ns = fracNs(r);
    out.u32(r.sec);
    out.u32(o.nanosecond ? ns : Math.floor(ns / 1000));
    out.u32(data.length);
    out.u32(r.origLen ?? r.data.length);
    out.bytes(data);
  }
  return out.concat();
}

export interface PcapngInterface {
  linkType: number;
  /** default 262144; EPB data longer than it is cut to it */
  snaplen?: number;
  /** if_tsresol exponent (power of 10): 6 = microseconds (default, option omitted), 9 = ns */
  tsresol?: number;
  /** if_name option */
  name?: string;
}

export interface PcapngPacket extends PcapRecord {
  iface: number;
}

/** A record in a section: an enhanced packet, a simple packet, or an arbitrary block. */
export type PcapngItem =
  | PcapngPacket
  | { simple: true; data: Buffer; origLen?: number }
  | { blockType: number; body: Buffer };

export interface PcapngSection {
  bigEndian?: boolean;
  interfaces: PcapngInterface[];
  records: PcapngItem[];
  /** simple packet blocks (interface 0) written after `records` */
  simplePackets?: Array<{ data: Buffer; origLen?: number }>;
  /** blocks of unknown type written right after the interface descriptions */
  unknownBlocks?: Array<{ blockType: number; body: Buffer }>;
}

function pad4(b: Buffer): Buffer {
  const r = b.length % 4;
  return r === 0 ? b : Buffer.concat([b, Buffer.alloc(4 - r)]);
}

function block(be: boolean, type: number, body: Buffer): Buffer {
  const out = new Out(be);
  const padded = pad4(body);
  out.u32(type);
  out.u32(padded.length + 12);
  out.bytes(padded);
  out.u32(padded.length + 12);
  return out.concat();
}

function option(be: boolean, code: number, value: Buffer): Buffer {
  const out = new Out(be);
  out.u16(code);
  out.u16(value.length);
  out.bytes(pad4(value));
  return out.concat();
}

function shb(be: boolean): Buffer {
  const out = new Out(be);
  out.u32(0x1a2b3c4d);
  out.u16(1);
  out.u16(0);
  out.i64(-1n);
  return block(be, 0x0a0d0d0a, out.concat());
}

function idb(be: boolean, i: PcapngInterface): Buffer {
  const out = new Out(be);
  out.u16(i.linkType);
  out.u16(0);
  out.u32(i.snaplen ?? 262144);
  const opts: Buffer[] = [];
  if (i.name !== undefined) opts.push(option(be, 2, Buffer.from(i.name)));
  if (i.tsresol !== undefined && i.tsresol !== 6) opts.push(option(be, 9, Buffer.from([i.tsresol])));
  if (opts.length > 0) {
    out.bytes(Buffer.concat(opts));
    out.bytes(option(be, 0, Buffer.alloc(0)));
  }
  return block(be, 1, out.concat());
}

function epb(be: boolean, p: PcapngPacket, iface: PcapngInterface | undefined): Buffer {
  const res = iface?.tsresol ?? 6;
  const snaplen = iface?.snaplen ?? 262144;
  const data = p.data.length > snaplen ? p.data.subarray(0, snaplen) : p.data;
  const ts = BigInt(p.sec) * 10n ** BigInt(res) + (BigInt(fracNs(p)) * 10n ** BigInt(res)) / 1_000_000_000n;
  const out = new Out(be);
  out.u32(p.iface);
  out.u32(Number(ts >> 32n));
  out.u32(Number(ts & 0xffffffffn));
  out.u32(data.length);
  out.u32(p.origLen ?? p.data.length);
  out.bytes(pad4(data));
  return block(be, 6, out.concat());
}

function spb(be: boolean, data: Buffer, origLen: number | undefined, snaplen: number): Buffer {
  const out = new Out(be);
  const len = origLen ?? data.length;
  out.u32(len);
  out.bytes(pad4(data.subarray(0, Math.min(len, snaplen))));
  return block(be, 3, out.concat());
}

/** A pcapng file of one or more sections. */
export function pcapng(sections: PcapngSection[]): Buffer {
  const parts: Buffer[] = [];
  for (const s of sections) {
    const be = s.bigEndian ?? false;
    parts.push(shb(be));
    for (const i of s.interfaces) parts.push(idb(be, i));
    for (const u of s.unknownBlocks ?? []) parts.push(block(be, u.blockType, u.body));
    const snap0 = s.interfaces[0]?.snaplen ?? 262144;
    for (const r of s.records) {
      if ('blockType' in r) parts.push(block(be, r.blockType, r.body));
      else if ('simple' in r) parts.push(spb(be, r.data, r.origLen, snap0));
      else parts.push(epb(be, r, s.interfaces[r.iface]));
    }
    for (const p of s.simplePackets ?? []) parts.push(spb(be, p.data, p.origLen, snap0));
  }
  return Buffer.concat(parts);
}
