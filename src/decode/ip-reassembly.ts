/**
 * IPv4 and IPv6 fragment reassembly for datagrams to or from IMDS (the decoder only hands
 * those in), so that no request can hide in fragments.
 *
 * Policy, per datagram (key: source, destination, identification, and for IPv4 the protocol):
 * - first copy wins: a byte once held keeps its value, as the TCP reassembler does. A later
 *   fragment that carries different bytes for a held range is a conflicting overlap: counted
 *   (`ip-fragment-overlap-conflict`) and kept out; the datagram is still delivered. The
 *   receiver may have read other bytes there, so the verdict calls the traffic unread.
 *   Identical copies are duplicates (`ip-fragment-duplicate`).
 * - a fragment that contradicts the known end (data past the last fragment's end, a second
 *   last fragment with another end) is a conflict too and is dropped.
 * - fragments may come in any order; the datagram is complete when the first fragment
 *   (its header), the last one (its length) and every byte between them are held.
 * - a fragment cut by the capture's snaplen makes its datagram unreadable: it is followed
 *   to its end and then dropped as `ip-reassembly-truncated`.
 *
 * Bounded (DEFAULT_REASSEMBLY_LIMITS): datagrams in progress, bytes held (captured bytes
 * plus a fixed overhead per fragment and per datagram), fragments per datagram, datagram
 * size, and a timeout in packet time. A datagram dropped by a limit is counted by reason;
 * when a new fragment needs room, the oldest datagram in progress goes first.
 *
 * `fragmentsUnread` counts the fragments of datagrams not (yet) reassembled: it rises as
 * fragments arrive and falls when their datagram completes, so at the end of a capture it
 * is the number of IMDS fragments that could not be read.
 *
 * Copies of a datagram that was just reassembled (capture on `any` sees a packet on the
 * veth and again on the bridge) start a new datagram marked as an echo: when it completes
 * it is delivered again (TCP drops the duplicate segment); when it does not, its fragments
 * are counted as `ip-fragment-after-reassembly`, not as unread.
 */

import type { DecodeSkipReason } from '../errors/catalogue.js';

export interface ReassemblyLimits {
  /** datagrams in progress at once */
  maxDatagrams: number;
  /** bytes held over all datagrams in progress (fragment bytes + overhead) */
  maxBytes: number;
  /** fragments held per datagram (bounds the cost of a datagram cut into 8-byte pieces) */
  maxFragments: number;
  /** a datagram still incomplete this long (packet time) after its first fragment is dropped */
  timeoutSec: number;
}

/**
 * 4 MiB is Linux's ipfrag_high_thresh; 60 s is Linux's ip6frag_time (IPv4 uses 30 s: the longer
 * one reassembles what either receiver could). 1024 fragments per datagram: a request head cut
 * into 8-byte fragments up to 8 KiB.
 */
export const DEFAULT_REASSEMBLY_LIMITS: ReassemblyLimits = { maxDatagrams: 4096, maxBytes: 4 * 1024 * 1024, maxFragments: 1024, timeoutSec: 60 };

/** bytes charged per fragment and per datagram on top of the data (object and array costs) */
export const FRAGMENT_OVERHEAD = 64;
export const DATAGRAM_OVERHEAD = 256;
/** largest reassembled IP packet: IPv4 total length / IPv6 payload length are 16-bit */
const MAX_V4_TOTAL = 65535;
const MAX_V6_PAYLOAD = 65535;
/** completed datagram keys remembered (for echoes) */
const MAX_RECENT = 4096;

/** One fragment as the decoder found it. Buffers are views into the frame: copied when kept. */
export interface FragmentIn {
  version: 4 | 6;
  /** source, destination, identification (and protocol for IPv4), as a string */
  key: string;
  /** byte offset of this fragment's data in the fragmentable part */
  offset: number;
  /** more fragments follow (MF / M flag) */
  more: boolean;
  /** the fragment's data as captured */
  data: Buffer;
  /** the fragment's data length on the wire (> data.length when the snaplen cut it) */
  wireLength: number;
  /**
   * the unfragmentable part (IPv4 header with options; IPv6 header and the extension
   * headers before the fragment header); used from the fragment at offset 0
   */
  header: Buffer;
  /** IPv6: index in `header` of the next-header byte that names the fragment header */
  nextHeaderAt: number;
  /** IPv6: the fragment header's next header (the protocol of the fragmentable part) */
  nextHeader: number;
}

interface Piece {
  start: number;
  data: Buffer;
}

interface Datagram {
  version: 4 | 6;
  sec: number;
  header: Buffer | null;
  nextHeaderAt: number;
  nextHeader: number;
  /** data length, known once the last fragment arrived (-1 before) */
  total: number;
  /** highest end seen so far */
  maxEnd: number;
  /** held bytes, non-overlapping, sorted by start */
  pieces: Piece[];
  held: number;
  charged: number;
  fragments: number;
  truncated: boolean;
  echo: boolean;
}

export class IpReassembler {
  readonly limits: ReassemblyLimits;
  /** reassembled datagrams */
  reassembled = 0;
  /** fragments of datagrams not reassembled (yet): see the module comment */
  fragmentsUnread = 0;
  /** bytes charged now, and the most held after any fragment (a fragment is charged, then the oldest datagrams make room) */
  bytesHeld = 0;
  peakBytesHeld = 0;
  private readonly inProgress = new Map<string, Datagram>();
  private readonly recent = new Map<string, number>();

  constructor(
    private readonly count: (reason: DecodeSkipReason, n?: number) => void,
    limits: Partial<ReassemblyLimits> = {},
  ) {
    this.limits = { ...DEFAULT_REASSEMBLY_LIMITS, ...limits };
  }

  get pending(): number {
    return this.inProgress.size;
  }

  /**
   * Add one fragment at packet time `sec`. Returns the reassembled IP packet (header with the
   * fragment fields cleared, or the IPv6 fragment header taken out) when this fragment
   * completed it, else null.
   */
  add(f: FragmentIn, sec: number): Buffer | null {
    this.expire(sec);
    const end = f.offset + f.wireLength;
    const maxData = f.version === 4 ? MAX_V4_TOTAL - (f.offset === 0 ? f.header.length : 20) : MAX_V6_PAYLOAD - (f.offset === 0 ? f.header.length - 40 : 0);
    let d = this.inProgress.get(f.key);
    if (d === undefined) {
      const completedAt = this.recent.get(f.key);
      d = {
        version: f.version,
        sec,
        header: null,
        nextHeaderAt: 0,
        nextHeader: 0,
        total: -1,
        maxEnd: 0,
        pieces: [],
        held: 0,
        charged: DATAGRAM_OVERHEAD,
        fragments: 0,
        truncated: false,
        echo: completedAt !== undefined && sec - completedAt <= this.limits.timeoutSec,
      };
      this.inProgress.set(f.key, d);
      this.charge(DATAGRAM_OVERHEAD);
    }
    d.fragments++;
    if (d.echo) this.count('ip-fragment-after-reassembly');
    else this.fragmentsUnread++;

    if (end > maxData) {
      this.drop(f.key, d, 'ip-reassembly-too-large');
      return null;
    }
    if (d.fragments > this.limits.maxFragments) {
      this.drop(f.key, d, 'ip-reassembly-too-many-fragments');
      return null;
    }
    // the end of the datagram: fixed by the first last fragment; anything past it conflicts
    if (!f.more) {
      if (d.total >= 0 && d.total !== end) return this.conflict();
      if (d.total < 0 && d.maxEnd > end) return this.conflict();
      d.total = end;
    } else if (d.total >= 0 && end > d.total) {
      return this.conflict();
    }
    if (end > d.maxEnd) d.maxEnd = end;
    if (f.offset === 0 && d.header === null) {
      d.header = Buffer.from(f.header);
      d.nextHeaderAt = f.nextHeaderAt;
      d.nextHeader = f.nextHeader;
      this.charge(d.header.length, d);
    }
    if (f.data.length < f.wireLength) d.truncated = true;
    this.insert(d, f.offset, f.data, f.wireLength);

    while (this.bytesHeld > this.limits.maxBytes || this.inProgress.size > this.limits.maxDatagrams) {
      const [oldKey, old] = this.inProgress.entries().next().value as [string, Datagram];
      this.drop(oldKey, old, 'ip-reassembly-evicted');
      if (old === d) return null;
    }
    if (this.bytesHeld > this.peakBytesHeld) this.peakBytesHeld = this.bytesHeld;
    if (d.header === null || d.total < 0 || d.held < d.total) return null;
    return this.complete(f.key, d, sec);
  }

  /** drop datagrams whose first fragment came more than timeoutSec ago (packet time) */
  expire(sec: number): void {
    for (const [key, d] of this.inProgress) {
      if (sec - d.sec <= this.limits.timeoutSec) break;
      this.drop(key, d, 'ip-reassembly-timeout');
    }
    if (this.recent.size > 0) {
      for (const [key, t] of this.recent) {
        if (sec - t <= this.limits.timeoutSec && this.recent.size <= MAX_RECENT) break;
        this.recent.delete(key);
      }
    }
  }

  /**
   * Hold the bytes of [offset, offset + wireLength) not held yet (first copy wins); bytes of the
   * range that are held already are compared. A snaplen-cut fragment counts its whole wire
   * range as held (with no bytes): its datagram is dropped as truncated when complete.
   */
  private insert(d: Datagram, offset: number, data: Buffer, wireLength: number): void {
    const end = offset + wireLength;
    const ps = d.pieces;
    // first piece that ends after offset (binary search: pieces are sorted and disjoint)
    let lo = 0;
    let hi = ps.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const p = ps[mid];
      if (p.start + p.data.length <= offset) lo = mid + 1;
      else hi = mid;
    }
    let conflict = false;
    let added = 0;
    const fresh: Piece[] = [];
    let cur = offset;
    let i = lo;
    for (; i < ps.length && ps[i].start < end; i++) {
      const p = ps[i];
      const pEnd = p.start + p.data.length;
      if (p.start > cur) fresh.push(this.copy(data, offset, cur, p.start));
      const a = Math.max(cur, p.start);
      const b = Math.min(end, pEnd);
      // compare the captured part of the overlap
      const capB = Math.min(b, offset + data.length);
      if (capB > a && !conflict && Buffer.compare(data.subarray(a - offset, capB - offset), p.data.subarray(a - p.start, capB - p.start)) !== 0) conflict = true;
      cur = Math.max(cur, pEnd);
    }
    if (cur < end) fresh.push(this.copy(data, offset, cur, end));
    for (const p of fresh) added += p.data.length;
    if (fresh.length > 0) {
      ps.splice(lo, i - lo, ...mergeSorted(ps.slice(lo, i), fresh));
      d.held += added;
      this.charge(added + FRAGMENT_OVERHEAD * fresh.length, d);
    }
    if (conflict) this.count('ip-fragment-overlap-conflict');
    else if (fresh.length === 0) this.count('ip-fragment-duplicate');
  }

  /** the captured bytes of [a, b) of a fragment at `offset`, zero-filled where the snaplen cut */
  private copy(data: Buffer, offset: number, a: number, b: number): Piece {
    const out = Buffer.alloc(b - a);
    const capEnd = offset + data.length;
    if (capEnd > a) data.copy(out, 0, a - offset, Math.min(b, capEnd) - offset);
    return { start: a, data: out };
  }

  private complete(key: string, d: Datagram, sec: number): Buffer | null {
    this.release(key, d);
    this.recent.delete(key);
    this.recent.set(key, sec);
    const h = d.header!;
    const tooLarge = d.version === 4 ? h.length + d.total > MAX_V4_TOTAL : h.length - 40 + d.total > MAX_V6_PAYLOAD;
    if (d.truncated || tooLarge) {
      // its fragments stay in fragmentsUnread: the datagram could not be read
      if (!d.echo) this.count(tooLarge ? 'ip-reassembly-too-large' : 'ip-reassembly-truncated');
      return null;
    }
    if (!d.echo) this.fragmentsUnread -= d.fragments;
    this.reassembled++;
    const out = Buffer.allocUnsafe(h.length + d.total);
    h.copy(out, 0);
    let o = h.length;
    for (const p of d.pieces) {
      p.data.copy(out, o);
      o += p.data.length;
    }
    if (d.version === 4) {
      out.writeUInt16BE(h.length + d.total, 2);
      out.writeUInt16BE(out.readUInt16BE(6) & 0x4000, 6); // keep DF, clear MF and the offset
    } else {
      out.writeUInt16BE(h.length - 40 + d.total, 4);
      out[d.nextHeaderAt] = d.nextHeader;
    }
    return out;
  }

  private conflict(): null {
    this.count('ip-fragment-overlap-conflict');
    return null;
  }

  private drop(key: string, d: Datagram, reason: DecodeSkipReason): void {
    this.release(key, d);
    if (d.echo) return; // a copy of a datagram already read: its fragments hide nothing
    this.count(reason);
  }

  private release(key: string, d: Datagram): void {
    this.inProgress.delete(key);
    this.bytesHeld -= d.charged;
    d.charged = 0;
  }

  private charge(n: number, d?: Datagram): void {
    if (d) d.charged += n;
    this.bytesHeld += n;
  }
}

/** merge two sorted, mutually disjoint piece lists */
function mergeSorted(a: Piece[], b: Piece[]): Piece[] {
  const out: Piece[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i].start < b[j].start)) out.push(a[i++]);
    else out.push(b[j++]);
  }
  return out;
}
