/** Test-only builders of pcap and pcapng bytes (independent of the reader under test). */

export interface Pkt {
  sec: number;
  /** microseconds or nanoseconds, per file */
  frac: number;
  data: Buffer;
  origLen?: number;
}

export interface ClassicOpts {
  le?: boolean;
  nano?: boolean;
  snaplen?: number;
  linkType?: number;
}

function u32(v: number, le: boolean): Buffer {
  const b = Buffer.alloc(4);
  if (le) b.writeUInt32LE(v >>> 0);
  else b.writeUInt32BE(v >>> 0);
  return b;
}

function u16(v: number, le: boolean): Buffer {
  const b = Buffer.alloc(2);
  if (le) b.writeUInt16LE(v);
  else b.writeUInt16BE(v);
  return b;
}

export function classicHeader(o: ClassicOpts = {}): Buffer {
  const le = o.le ?? true;
  return Buffer.concat([
    u32(o.nano ? 0xa1b23c4d : 0xa1b2c3d4, le),
    u16(2, le),
    u16(4, le),
    u32(0, le),
    u32(0, le),
    u32(o.snaplen ?? 262144, le),
    u32(o.linkType ?? 1, le),
  ]);
}

export function classicRecord(p: Pkt, le = true): Buffer {
  return Buffer.concat([
    u32(p.sec, le),
    u32(p.frac, le),
    u32(p.data.length, le),
    u32(p.origLen ?? p.data.length, le),
    p.data,
  ]);
}

export function classicPcap(pkts: Pkt[], o: ClassicOpts = {}): Buffer {
  const le = o.le ?? true;
  return Buffer.concat([classicHeader(o), ...pkts.map((p) => classicRecord(p, le))]);
}

function pad4(b: Buffer): Buffer {
  const rem = b.length % 4;
  return rem === 0 ? b : Buffer.concat([b, Buffer.alloc(4 - rem)]);
}

/** A pcapng block: type, total length, body (padded), total length. */
export function block(type: number, body: Buffer, le = true): Buffer {
  const padded = pad4(body);
  const len = 12 + padded.length;
  return Buffer.concat([u32(type, le), u32(len, le), padded, u32(len, le)]);
}

export function option(code: number, value: Buffer, le = true): Buffer {
  return Buffer.concat([u16(code, le), u16(value.length, le), pad4(value)]);
}

export function shb(le = true, options: Buffer[] = []): Buffer {
  const bom = u32(0x1a2b3c4d, le);
  const body = Buffer.concat([bom, u16(1, le), u16(0, le), Buffer.alloc(8, 0xff), ...options]);
  return block(0x0a0d0d0a, body, le);
}

export interface IdbOpts {
  linkType: number;
  snaplen?: number;
  tsresol?: number;
  tsoffset?: number;
}

export function idb(o: IdbOpts, le = true): Buffer {
  const opts: Buffer[] = [];
  if (o.tsresol !== undefined) opts.push(option(9, Buffer.from([o.tsresol]), le));
  if (o.tsoffset !== undefined) {
    const b = Buffer.alloc(8);
    if (le) b.writeBigInt64LE(BigInt(o.tsoffset));
    else b.writeBigInt64BE(BigInt(o.tsoffset));
    opts.push(option(14, b, le));
  }
  if (opts.length) opts.push(option(0, Buffer.alloc(0), le));
  const body = Buffer.concat([u16(o.linkType, le), u16(0, le), u32(o.snaplen ?? 262144, le), ...opts]);
  return block(1, body, le);
}

export function epb(iface: number, ts: bigint, data: Buffer, origLen = data.length, le = true): Buffer {
  const body = Buffer.concat([
    u32(iface, le),
    u32(Number(ts >> 32n), le),
    u32(Number(ts & 0xffffffffn), le),
    u32(data.length, le),
    u32(origLen, le),
    pad4(data),
  ]);
  return block(6, body, le);
}

export function pb(iface: number, ts: bigint, data: Buffer, origLen = data.length, le = true): Buffer {
  const body = Buffer.concat([
    u16(iface, le),
    u16(0, le),
    u32(Number(ts >> 32n), le),
    u32(Number(ts & 0xffffffffn), le),
    u32(data.length, le),
    u32(origLen, le),
    pad4(data),
  ]);
  return block(2, body, le);
}

export function spb(data: Buffer, origLen = data.length, le = true): Buffer {
  return block(3, Buffer.concat([u32(origLen, le), pad4(data)]), le);
}

/** Deterministic pseudo-random bytes. */
export function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

export function randomBytes(rand: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = rand() & 0xff;
  return b;
}
