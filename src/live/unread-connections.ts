import { Decoder } from '../decode/decoder.js';
import { TCP_ACK, TCP_SYN } from '../decode/packet.js';
import { flowKey } from '../domain/address.js';
import type { Frame } from '../source/frame.js';
import type { SynGate } from './gate.js';

/**
 * Whole connections left unread while the pipeline nears its bound under a flood
 * (docs/design.md#syn-gate, "Between capture and pipeline").
 *
 * A one-shot flood from one uid costs the daemon a full HTTP parse per connection; on two
 * cores the pipeline falls behind, the kernel ring overflows, and other users' calls are
 * lost with the flood's (root's calls were capture loss under another uid's flood). So
 * while frames pile up near the frame queue's bound (`nearBound`,
 * docs/design.md#unread-near-bound), a connection whose SYN the gate *shed* (its uid over
 * its share of lookup time) is not read at all: decided at its SYN, from the SYN on, every
 * frame of it in both directions, until its 4-tuple carries a new connection. Never part of
 * a connection: a flow is either read whole or not started, so the flow table's and the
 * HTTP stage's accounting stay whole. The gate's record of each such SYN waits in the
 * capture-loss check and is counted there as missed (verdict UNKNOWN); here they are
 * counted per uid for the daemon's `gate` line. Connections whose SYN was held for a
 * lookup — every uid under its share — are always read.
 */
export interface UnreadStats {
  /** connections left unread, by the uid of their socket ("unknown" when not known) */
  byUid: Record<string, number>;
  /** their frames */
  frames: number;
}

/** a left-unread connection's frames are recognised this long after its SYN (then its tuple is forgotten) */
export const UNREAD_TTL_MS = 60_000;
/** most connections remembered at once (oldest forgotten first: their late frames are read, as midstream) */
export const MAX_UNREAD = 16_384;
/** most uids named in `byUid` (the rest under "other") */
const MAX_UIDS = 64;

export class UnreadConnections {
  private readonly decoder = new Decoder();
  /** 4-tuple → the unread connection's ISN and SYN time (map order: SYN order) */
  private readonly unread = new Map<string, { isn: number; ms: number }>();
  private readonly counters: UnreadStats = { byUid: {}, frames: 0 };

  constructor(private readonly gate: Pick<SynGate, 'lookup'>) {}

  /**
   * The frame queue's `shed`: true to leave this frame unread. Decodes only while the queue
   * is near its bound or while some connection is left unread (otherwise answers at once).
   */
  leaveUnread(f: Frame, nearBound: boolean): boolean {
    if (!nearBound && this.unread.size === 0) return false;
    const seg = this.decoder.decode(f);
    if (!seg) return false;
    const key = seg.toImds ? flowKey(seg.src, seg.srcPort, seg.dst, seg.dstPort) : flowKey(seg.dst, seg.dstPort, seg.src, seg.srcPort);
    const ms = seg.sec * 1000 + seg.nsec / 1e6;
    if (seg.toImds && (seg.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN) {
      const known = this.unread.get(key);
      if (known && known.isn === seg.seq) return this.count(); // a retransmitted SYN
      this.unread.delete(key); // the tuple carries a new connection
      if (!nearBound) return false;
      const rec = this.gate.lookup(key, ms, seg.seq);
      if (rec?.outcome !== 'shed') return false;
      if (this.unread.size >= MAX_UNREAD) this.unread.delete(this.unread.keys().next().value!);
      this.unread.set(key, { isn: seg.seq, ms });
      this.countUid(rec.uid);
      return this.count();
    }
    const u = this.unread.get(key);
    if (!u) return false;
    if (ms - u.ms > UNREAD_TTL_MS) {
      this.unread.delete(key);
      return false;
    }
    return this.count();
  }

  /** forget connections older than UNREAD_TTL_MS (once a second) */
  expire(nowMs: number): void {
    for (const [k, u] of this.unread) {
      if (nowMs - u.ms <= UNREAD_TTL_MS) break;
      this.unread.delete(k);
    }
  }

  stats(): UnreadStats {
    return { byUid: { ...this.counters.byUid }, frames: this.counters.frames };
  }

  private count(): true {
    this.counters.frames++;
    return true;
  }

  private countUid(uid: number | null): void {
    const m = this.counters.byUid;
    let k = uid === null ? 'unknown' : String(uid);
    if (m[k] === undefined && Object.keys(m).length >= MAX_UIDS) k = 'other';
    m[k] = (m[k] ?? 0) + 1;
  }
}
