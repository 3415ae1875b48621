import { TCP_FIN, TCP_SYN } from '../decode/packet.js';
import type { EndReason, FlowStats, StreamConsumer } from './stream.js';
import { PIECE_COST, type MemoryAccount } from './memory-budget.js';

/** `a - b` as a signed 32-bit distance between two sequence numbers (RFC 1982 style). */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/** `a + n` modulo 2^32 */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

export interface ReassemblerLimits {
  maxBufferedBytes: number;
  maxBufferedSegments: number;
}

/** A piece of the stream ahead of `next`: bytes (a private copy) or a known hole (data null). */
interface Piece {
  seq: number;
  len: number;
  data: Buffer | null;
  sec: number;
  nsec: number;
}

/**
 * One direction of a TCP connection: turns segments in capture order into in-order
 * bytes for a StreamConsumer (onData/onGap in stream order, then exactly one onEnd).
 *
 * - The stream starts at ISN+1 when the SYN is seen, else at the first segment that
 *   carries data (or FIN).
 * - Bytes before `next` were delivered already: a segment that only repeats them is a
 *   retransmission (`retransmittedBytes`) and is dropped.
 * - Bytes ahead of `next` are buffered as private copies. When a later segment covers
 *   bytes already buffered, the FIRST copy wins, as a Linux receiver keeps the bytes it
 *   already has in its out-of-order queue (`overlapBytes`, `overlapConflictBytes`).
 * - Beyond the per-direction limits the hole before the first buffered piece is declared
 *   a gap (`onGap`, `gapBytes`), and delivery continues after it.
 * - Every piece held is charged to the flow's MemoryAccount (bytes + PIECE_COST): the
 *   global budget over all flows is the flow table's (src/tcp/memory-budget.ts).
 * - Bytes cut by the snaplen (`missing`) become a gap of that size.
 */
export class Reassembler {
  private started = false;
  private next = 0;
  private isnSeen = false;
  private isnValue = 0;
  private finSeen = false;
  private finSeq = 0;
  private done = false;
  private pieces: Piece[] = [];
  private bufferedBytes = 0;
  /** charged to the account for the pieces held (bytes + PIECE_COST each) */
  private charged = 0;

  constructor(
    private readonly consumer: StreamConsumer,
    private readonly stats: FlowStats,
    private readonly account: MemoryAccount,
    private readonly limits: ReassemblerLimits,
    /** which side of the connection this stream is: response gaps are counted apart */
    private readonly side: 'request' | 'response' = 'request',
  ) {}

  get ended(): boolean {
    return this.done;
  }

  /** true once the stream position is known (SYN, data or FIN seen) */
  get hasStarted(): boolean {
    return this.started;
  }

  /** the SYN's sequence number, or -1 when no SYN was seen */
  get isn(): number {
    return this.isnSeen ? this.isnValue : -1;
  }

  /** bytes of private copies currently held */
  get buffered(): number {
    return this.bufferedBytes;
  }

  push(seq: number, flags: number, payload: Buffer, missing: number, sec: number, nsec: number): void {
    const len = payload.length + missing;
    if (this.done) {
      if (len > 0) this.stats.retransmittedBytes += len;
      return;
    }
    let dataSeq = seq;
    if ((flags & TCP_SYN) !== 0) {
      dataSeq = seqAdd(seq, 1);
      if (!this.started) {
        this.started = true;
        this.next = dataSeq;
        this.isnSeen = true;
        this.isnValue = seq;
      }
    }
    const fin = (flags & TCP_FIN) !== 0;
    if (!this.started) {
      if (len === 0 && !fin) return;
      this.started = true;
      this.next = dataSeq;
    }
    if (fin && !this.finSeen) {
      this.finSeen = true;
      this.finSeq = seqAdd(dataSeq, len);
    }
    if (len > 0) this.insert(dataSeq, payload, missing, sec, nsec);
    if (this.finSeen && seqDiff(this.finSeq, this.next) <= 0) this.close('fin', sec, nsec);
  }

  /**
   * End the direction now (flow end): buffered bytes are delivered with gaps for the
   * holes, then onEnd. A direction whose FIN was seen ends with 'fin'.
   */
  end(reason: EndReason, sec: number, nsec: number): void {
    if (this.done) return;
    while (this.pieces.length > 0) {
      const hole = seqDiff(this.pieces[0].seq, this.next);
      if (hole > 0) this.emitGap(hole, sec, nsec);
      this.next = this.pieces[0].seq;
      this.drain();
    }
    if (this.finSeen) {
      const hole = seqDiff(this.finSeq, this.next);
      if (hole > 0) this.emitGap(hole, sec, nsec);
      reason = 'fin';
    }
    this.close(reason, sec, nsec);
  }

  private close(reason: EndReason, sec: number, nsec: number): void {
    this.done = true;
    this.account.release(this.charged);
    this.charged = 0;
    this.bufferedBytes = 0;
    this.pieces.length = 0;
    this.consumer.onEnd(reason, sec, nsec);
  }

  private emitGap(bytes: number, sec: number, nsec: number): void {
    this.stats.gapBytes += bytes;
    if (this.side === 'response') this.stats.responseGapBytes += bytes;
    this.consumer.onGap(bytes, sec, nsec);
  }

  private insert(dataSeq: number, payload: Buffer, missing: number, sec: number, nsec: number): void {
    const plen = payload.length;
    const len = plen + missing;
    const rel = seqDiff(dataSeq, this.next);
    if (rel + len <= 0) {
      this.stats.retransmittedBytes += len;
      return;
    }
    let start = 0; // offset in the segment of the first byte not yet delivered
    if (rel < 0) {
      start = -rel;
      this.stats.retransmittedBytes += start;
    }
    if (rel <= 0 && this.pieces.length === 0) {
      // in-order fast path: hand the view over, no copy
      this.next = seqAdd(this.next, len - start);
      if (start < plen) this.consumer.onData(start === 0 ? payload : payload.subarray(start), sec, nsec);
      if (missing > 0) this.emitGap(start > plen ? len - start : missing, sec, nsec);
      return;
    }
    this.store(rel, start, payload, len, sec, nsec);
    this.drain();
    this.enforceLimits(sec, nsec);
  }

  /** Buffer the parts of segment [rel+start, rel+len) (relative to next) not already held. */
  private store(rel: number, start: number, payload: Buffer, len: number, sec: number, nsec: number): void {
    const pieces = this.pieces;
    const end = rel + len;
    let cur = rel + start;
    let i = this.firstEndingAfter(cur);
    while (cur < end) {
      const p = i < pieces.length ? pieces[i] : undefined;
      const pStart = p ? seqDiff(p.seq, this.next) : end;
      if (pStart > cur) {
        const stop = pStart < end ? pStart : end;
        i = this.addPieces(i, rel, cur - rel, stop - rel, payload, sec, nsec);
        cur = stop;
        continue;
      }
      const pEnd = pStart + p!.len;
      const stop = pEnd < end ? pEnd : end;
      this.countOverlap(p!, cur - pStart, payload, cur - rel, stop - cur);
      cur = stop;
      i++;
    }
  }

  /**
   * insert copies of segment bytes [from, to) (segment offsets; the segment starts at
   * `rel` from next) at index i, as a data piece and/or a hole piece; returns the next index
   */
  private addPieces(i: number, rel: number, from: number, to: number, payload: Buffer, sec: number, nsec: number): number {
    const plen = payload.length;
    if (from < plen) {
      const dataTo = to < plen ? to : plen;
      // its own allocation, not a slice of the shared pool: a piece held long must not keep
      // an 8 KiB pool alive, and its charge is then what it costs
      const copy = Buffer.allocUnsafeSlow(dataTo - from);
      payload.copy(copy, 0, from, dataTo);
      this.pieces.splice(i++, 0, { seq: seqAdd(this.next, rel + from), len: copy.length, data: copy, sec, nsec });
      this.bufferedBytes += copy.length;
      this.hold(copy.length + PIECE_COST);
      from = dataTo;
    }
    if (from < to) {
      this.pieces.splice(i++, 0, { seq: seqAdd(this.next, rel + from), len: to - from, data: null, sec, nsec });
      this.hold(PIECE_COST);
    }
    return i;
  }

  private hold(n: number): void {
    this.charged += n;
    this.account.charge(n);
  }

  private unhold(n: number): void {
    this.charged -= n;
    this.account.release(n);
  }

  private countOverlap(p: Piece, pOff: number, payload: Buffer, segOff: number, n: number): void {
    this.stats.overlapBytes += n;
    if (p.data === null) return;
    const avail = payload.length - segOff;
    const m = avail < n ? avail : n;
    if (m <= 0) return;
    const a = p.data;
    let diff = 0;
    for (let k = 0; k < m; k++) if (a[pOff + k] !== payload[segOff + k]) diff++;
    this.stats.overlapConflictBytes += diff;
  }

  /** index of the first piece that ends after relative position `pos` */
  private firstEndingAfter(pos: number): number {
    const pieces = this.pieces;
    let lo = 0;
    let hi = pieces.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const p = pieces[mid];
      if (seqDiff(p.seq, this.next) + p.len <= pos) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** deliver the pieces that start at `next` */
  private drain(): void {
    const pieces = this.pieces;
    let k = 0;
    while (k < pieces.length) {
      const p = pieces[k];
      const rel = seqDiff(p.seq, this.next);
      if (rel > 0) break;
      k++;
      // pieces never overlap and the stream only jumps to a piece's start, so rel is 0
      this.next = seqAdd(p.seq, p.len);
      if (p.data === null) {
        this.unhold(PIECE_COST);
        this.emitGap(p.len, p.sec, p.nsec);
      } else {
        this.bufferedBytes -= p.len;
        this.unhold(p.len + PIECE_COST);
        this.consumer.onData(p.data, p.sec, p.nsec);
      }
    }
    if (k > 0) pieces.splice(0, k);
  }

  private enforceLimits(sec: number, nsec: number): void {
    const pieces = this.pieces;
    while (
      pieces.length > 0 &&
      (this.bufferedBytes > this.limits.maxBufferedBytes || pieces.length > this.limits.maxBufferedSegments)
    ) {
      const hole = seqDiff(pieces[0].seq, this.next);
      if (hole > 0) this.emitGap(hole, sec, nsec);
      this.next = pieces[0].seq;
      this.drain();
    }
  }
}
