/**
 * Helpers to script an edge-case capture and its labels together: each exchange
 * carries the event it must produce, and the event's time is computed from the final
 * packet list (the segment that carried the request's first byte, first copy).
 */
import { type ConvEndpoint, type ConvPacket, type ConversationOptions, interleave, tcpConversation } from './tcp-conversation.js';

export type LabelVersion = 'v1' | 'v2' | 'token';

/** One expected event. Fields follow the event contract of docs/design.md#event-contract. */
export interface LabelEvent {
  ts: string;
  version: LabelVersion;
  method: string;
  path: string;
  status: number | null;
  client: ConvEndpoint;
  userAgent: string | null;
  /** compared only when present */
  reason?: string | null;
}

export interface Labels {
  description: string;
  expect: {
    exitCode: 0 | 1 | 2;
    error?: string;
    packetsRead?: number;
    /** a counted skip: decode.skipped / http.errors key expected to be > 0 (informative) */
    skip?: { counter: string; reasonHint?: string };
  };
  events: LabelEvent[];
  /** why the tshark cross-check does not apply to this file */
  tsharkExcluded?: string;
}

export interface Exchange {
  req: string | Buffer;
  res?: string | Buffer | null;
  /** the expected event, or null when this request must give none */
  ev: { version: LabelVersion; method: string; path: string; status: number | null; userAgent: string | null; reason?: string | null } | null;
}

interface Pending {
  client: ConvEndpoint;
  startSeq: number;
  ev: NonNullable<Exchange['ev']>;
}

/** A set of conversations whose expected events are resolved once the packets are final. */
export class Scenario {
  private readonly pending: Pending[] = [];
  /** every packet made by session(), per session */
  private readonly made: ConvPacket[][] = [];

  session(o: Omit<ConversationOptions, 'requests' | 'responses'>, exchanges: Exchange[]): ConvPacket[] {
    let seq = (((o.clientIsn ?? 1_000_000) + (o.handshake === false ? 0 : 1)) >>> 0);
    for (const x of exchanges) {
      if (x.ev) this.pending.push({ client: o.client, startSeq: seq, ev: x.ev });
      seq = (seq + Buffer.byteLength(x.req as string, 'latin1')) >>> 0;
    }
    const p = tcpConversation({ ...o, requests: exchanges.map((x) => x.req), responses: exchanges.map((x) => x.res ?? null) });
    this.made.push(p);
    return p;
  }

  /**
   * The labels' events for the final packet list (default: every session's packets
   * in time order), in capture order (first byte).
   */
  events(packets: ConvPacket[] = interleave(...this.made)): LabelEvent[] {
    const withTime = this.pending.map((p) => {
      const idx = packets.findIndex((k) => {
        const pl = k.spec.payload;
        if (k.dir !== 'toServer' || !pl || pl.length === 0) return false;
        if (k.spec.src !== p.client.ip || k.spec.srcPort !== p.client.port) return false;
        const rel = (p.startSeq - k.spec.seq) >>> 0;
        return rel < pl.length;
      });
      if (idx < 0) throw new Error(`no packet carries the first byte of ${p.ev.method} ${p.ev.path}`);
      const k = packets[idx];
      const ts = new Date(k.sec * 1000 + Math.floor(k.nsec / 1e6)).toISOString();
      const e: LabelEvent = { ts, version: p.ev.version, method: p.ev.method, path: p.ev.path, status: p.ev.status, client: p.client, userAgent: p.ev.userAgent };
      if (p.ev.reason !== undefined) e.reason = p.ev.reason;
      return { idx, e };
    });
    return withTime.sort((a, b) => a.idx - b.idx).map((x) => x.e);
  }
}

/** Deterministic bytes (xorshift32) for garbage. */
export function pseudoRandomBytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}
