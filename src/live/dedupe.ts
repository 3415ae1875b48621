import type { TcpSegment } from '../decode/packet.js';

/**
 * One event per request even when capture on `any` sees each packet several times: on a
 * container's veth, on the bridge, and (after source NAT) on the uplink.
 *
 * A copy is recognised by a key that address translation does not change: TCP seq, ack,
 * flags, payload length and a payload hash, seen again within `windowMs`. Addresses and ports
 * are not part of the key. The first copy wins and fixes the connection's canonical 4-tuple;
 * a copy with a different 4-tuple (the NATed one) makes that 4-tuple an alias, and every later
 * frame on an alias (both directions: the server's answers arrive on the uplink first) is
 * dropped, so the pipeline sees each connection under one 4-tuple only.
 *
 * The window is generous (1 s) because live frames carry the time their callback ran (cap has
 * no packet timestamps), and a slow consumer spreads the copies of one packet apart.
 * Dropping an identical retransmission within the window is harmless: the TCP stage would
 * discard it as a duplicate anyway. Memory is bounded by `maxRecent` and `maxAliases`.
 */
export interface DedupeOptions {
  windowMs: number;
  maxRecent: number;
  maxAliases: number;
  /** aliases unused this long are forgotten */
  aliasIdleMs: number;
}

export const DEFAULT_DEDUPE_OPTIONS: DedupeOptions = { windowMs: 1_000, maxRecent: 16_384, maxAliases: 16_384, aliasIdleMs: 5 * 60_000 };

export interface DedupeStats {
  passed: number;
  /** same packet, same 4-tuple, seen again (e.g. veth then bridge) */
  duplicates: number;
  /** packets of a translated copy of a connection (after NAT) */
  aliasDrops: number;
  aliases: number;
}

/** the part of a segment that NAT leaves alone */
export function dedupeKey(seg: Pick<TcpSegment, 'seq' | 'ack' | 'flags' | 'payload' | 'toImds'>): string {
  return `${seg.toImds ? '>' : '<'}${seg.seq}:${seg.ack}:${seg.flags}:${seg.payload.length}:${fnv1a(seg.payload)}`;
}

/** "clientIp|clientPort|serverIp|serverPort", same for both directions */
export function connectionKey(seg: Pick<TcpSegment, 'src' | 'dst' | 'srcPort' | 'dstPort' | 'toImds'>): string {
  return seg.toImds ? `${seg.src}|${seg.srcPort}|${seg.dst}|${seg.dstPort}` : `${seg.dst}|${seg.dstPort}|${seg.src}|${seg.srcPort}`;
}

export function fnv1a(b: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) {
    h ^= b[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Runs on decoded segments, between the decoder and the TCP stage (the pipeline's `acceptSegment`).
 *
 * The packets of the last `windowMs` wait in a ring of typed arrays (docs/design.md#soak-memory),
 * found by a 53-bit hash of what `dedupeKey` reads and then compared field by field (a hash
 * collision is never taken for a copy): a text key and an object per packet were ~570 B of
 * heap each, made for every packet and kept a second, so at 1 000 calls/s ~8 000 of them were
 * promoted to the old generation every second. A packet's 4-tuple is kept as its address texts
 * (the decoder's cached strings) and ports; the text key of a 4-tuple is built only while some
 * alias exists, or to name one.
 */
export class SegmentDeduper {
  private readonly opts: DedupeOptions;
  /** hash of the packet (`packetHash`) → its ring slot */
  private readonly recent = new Map<number, number>();
  // the ring, oldest at `head`: the packet's time, the fields of its dedupe key, its 4-tuple
  private readonly ms: Float64Array;
  private readonly hash: Float64Array;
  private readonly seq: Uint32Array;
  private readonly ack: Uint32Array;
  /** flags, direction and payload length */
  private readonly shape: Uint32Array;
  private readonly payloadHash: Uint32Array;
  private readonly clientIp: Array<string | undefined>;
  private readonly serverIp: Array<string | undefined>;
  private readonly clientPort: Uint16Array;
  private readonly serverPort: Uint16Array;
  private head = 0;
  private count = 0;
  private readonly aliases = new Map<string, { canonical: string; ms: number }>();
  private readonly counters = { passed: 0, duplicates: 0, aliasDrops: 0 };

  constructor(opts: Partial<DedupeOptions> = {}) {
    this.opts = { ...DEFAULT_DEDUPE_OPTIONS, ...opts };
    const n = Math.max(1, this.opts.maxRecent);
    this.ms = new Float64Array(n);
    this.hash = new Float64Array(n);
    this.seq = new Uint32Array(n);
    this.ack = new Uint32Array(n);
    this.shape = new Uint32Array(n);
    this.payloadHash = new Uint32Array(n);
    this.clientIp = new Array<string | undefined>(n);
    this.serverIp = new Array<string | undefined>(n);
    this.clientPort = new Uint16Array(n);
    this.serverPort = new Uint16Array(n);
  }

  /** true when the segment is the first copy (pass it on), false for a duplicate */
  acceptSegment(seg: TcpSegment, ms: number): boolean {
    if (this.aliases.size > 0) {
      const alias = this.aliases.get(connectionKey(seg));
      if (alias) {
        alias.ms = ms;
        this.counters.aliasDrops++;
        return false;
      }
    }
    this.expire(ms);
    const payloadHash = seg.payload.length > 0 ? fnv1a(seg.payload) : 0;
    const shape = (seg.flags & 0xff) | (seg.toImds ? 0x100 : 0) | ((seg.payload.length & 0xffff) << 9);
    const seq = seg.seq >>> 0;
    const ack = seg.ack >>> 0;
    const h = packetHash(seq, ack, shape, payloadHash);
    const slot = this.recent.get(h);
    if (slot !== undefined && this.seq[slot] === seq && this.ack[slot] === ack && this.shape[slot] === shape && this.payloadHash[slot] === payloadHash) {
      const to = seg.toImds;
      const same =
        this.clientPort[slot] === (to ? seg.srcPort : seg.dstPort) &&
        this.serverPort[slot] === (to ? seg.dstPort : seg.srcPort) &&
        this.clientIp[slot] === (to ? seg.src : seg.dst) &&
        this.serverIp[slot] === (to ? seg.dst : seg.src);
      if (same) this.counters.duplicates++;
      else {
        this.addAlias(connectionKey(seg), this.connectionOf(slot), ms);
        this.counters.aliasDrops++;
      }
      return false;
    }
    // (a different packet under the same hash, one in 2^53: it passes and is not remembered)
    if (slot === undefined) this.remember(seg, h, seq, ack, shape, payloadHash, ms);
    this.counters.passed++;
    return true;
  }

  /** the canonical 4-tuple key for a translated one (null when not an alias) */
  canonicalOf(conn: string): string | null {
    return this.aliases.get(conn)?.canonical ?? null;
  }

  stats(): DedupeStats {
    return { ...this.counters, aliases: this.aliases.size };
  }

  private remember(seg: TcpSegment, h: number, seq: number, ack: number, shape: number, payloadHash: number, ms: number): void {
    const n = this.ms.length;
    if (this.count === n) this.dropOldest();
    const i = (this.head + this.count) % n;
    this.count++;
    this.ms[i] = ms;
    this.hash[i] = h;
    this.seq[i] = seq;
    this.ack[i] = ack;
    this.shape[i] = shape;
    this.payloadHash[i] = payloadHash;
    if (seg.toImds) {
      this.clientIp[i] = seg.src;
      this.clientPort[i] = seg.srcPort;
      this.serverIp[i] = seg.dst;
      this.serverPort[i] = seg.dstPort;
    } else {
      this.clientIp[i] = seg.dst;
      this.clientPort[i] = seg.dstPort;
      this.serverIp[i] = seg.src;
      this.serverPort[i] = seg.srcPort;
    }
    this.recent.set(h, i);
  }

  /** "clientIp|clientPort|serverIp|serverPort" of a remembered packet (as `connectionKey`) */
  private connectionOf(i: number): string {
    return `${this.clientIp[i]}|${this.clientPort[i]}|${this.serverIp[i]}|${this.serverPort[i]}`;
  }

  private dropOldest(): void {
    const i = this.head;
    if (this.recent.get(this.hash[i]!) === i) this.recent.delete(this.hash[i]!);
    this.clientIp[i] = undefined;
    this.serverIp[i] = undefined;
    this.head = (i + 1) % this.ms.length;
    this.count--;
  }

  private addAlias(conn: string, canonical: string, ms: number): void {
    this.aliases.set(conn, { canonical, ms });
    if (this.aliases.size > this.opts.maxAliases) {
      for (const [k, a] of this.aliases) {
        if (this.aliases.size <= this.opts.maxAliases && ms - a.ms <= this.opts.aliasIdleMs) break;
        this.aliases.delete(k);
      }
    }
  }

  private expire(ms: number): void {
    while (this.count > 0 && ms - this.ms[this.head]! > this.opts.windowMs) this.dropOldest();
  }
}

/** 53 bits (an exact double) of a packet's dedupe fields: two 32-bit mixes, 32 + 21 bits */
function packetHash(seq: number, ack: number, shape: number, payloadHash: number): number {
  let a = Math.imul(seq ^ 0x9e3779b9, 0x85ebca6b);
  a = Math.imul(a ^ (a >>> 13) ^ ack, 0xc2b2ae35);
  a = Math.imul(a ^ (a >>> 16) ^ shape, 0x85ebca6b);
  a = Math.imul(a ^ (a >>> 13) ^ payloadHash, 0xc2b2ae35);
  a ^= a >>> 16;
  let b = Math.imul(payloadHash ^ 0x7f4a7c15, 0xcc9e2d51);
  b = Math.imul(b ^ (b >>> 15) ^ seq, 0x1b873593);
  b = Math.imul(b ^ (b >>> 13) ^ shape, 0xcc9e2d51);
  b = Math.imul(b ^ (b >>> 16) ^ ack, 0x1b873593);
  b ^= b >>> 15;
  return (a >>> 0) * 0x200000 + (b >>> 11);
}
