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

/** Runs on decoded segments, between the decoder and the TCP stage (the pipeline's `acceptSegment`). */
export class SegmentDeduper {
  private readonly opts: DedupeOptions;
  private readonly recent = new Map<string, { conn: string; ms: number }>();
  private readonly aliases = new Map<string, { canonical: string; ms: number }>();
  private readonly counters = { passed: 0, duplicates: 0, aliasDrops: 0 };

  constructor(opts: Partial<DedupeOptions> = {}) {
    this.opts = { ...DEFAULT_DEDUPE_OPTIONS, ...opts };
  }

  /** true when the segment is the first copy (pass it on), false for a duplicate */
  acceptSegment(seg: TcpSegment, ms: number): boolean {
    const conn = connectionKey(seg);
    const alias = this.aliases.get(conn);
    if (alias) {
      alias.ms = ms;
      this.counters.aliasDrops++;
      return false;
    }
    this.expire(ms);
    const key = dedupeKey(seg);
    const prev = this.recent.get(key);
    if (prev) {
      if (prev.conn === conn) this.counters.duplicates++;
      else {
        this.addAlias(conn, prev.conn, ms);
        this.counters.aliasDrops++;
      }
      return false;
    }
    this.recent.set(key, { conn, ms });
    if (this.recent.size > this.opts.maxRecent) this.recent.delete(this.recent.keys().next().value as string);
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
    for (const [k, r] of this.recent) {
      if (ms - r.ms <= this.opts.windowMs) break;
      this.recent.delete(k);
    }
  }
}
