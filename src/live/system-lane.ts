import { TCP_ACK, TCP_SYN, type TcpSegment } from '../decode/packet.js';
import { QUEUE_NUM_MAX } from '../domain/endpoint.js';
import { fnv1a } from './dedupe.js';
import { flowKey } from '../domain/address.js';
import type { LaneRules } from './gate-xtables.js';

/**
 * The system lane (docs/design.md#system-lane): the host's own system users' (uid 0–999:
 * root and services) IMDS SYNs are held on a queue of their own and their packets to IMDS
 * captured through NFLOG, apart from everyone else's (IMDS's answers come from the shared
 * capture). One user's SYN flood otherwise queued ahead of root's
 * SYN (root's connect() waited hundreds of ms) and overflowed the `any` capture's ring, so
 * root's calls were lost with the flood's (named as missed, verdict UNKNOWN, but not read).
 *
 * Which connections are the lane's is decided once, by the gate: its record of a SYN held on
 * the lane's queue registers the connection (`held`) before either capture can see a packet
 * of it (the verdict comes first). Each lane packet is then seen twice, through NFLOG and by
 * the `any` capture (when its ring keeps it); the first copy read is the one kept, from either
 * source, and the other is dropped before the deduper — otherwise a late second copy of root's
 * request, after its flow ended, would start a second flow: a second event for one call. A
 * packet of a lane connection that the lane did not give (NFLOG dropped it: its socket buffer
 * full) is read from the `any` capture: never lost for being a lane connection's.
 */

/** the host's system users: root and the service accounts (Debian's SYS_UID_MAX is 999) */
export const SYSTEM_UIDS = '0-999';

/**
 * New lane connections per second, all system users together (burst: twice as many). EC2
 * drops link-local traffic past 1 024 packets/s per interface, about 200 one-shot calls/s
 * (docs/imds-facts.md#limits): past this a system user floods IMDS itself, and its extra
 * connections go the shared way, so the lane's work stays bounded.
 */
export const LANE_RATE_PER_SEC = 200;

/** the lane's queue is the gate's queue + 1 (- 1 at the top of the range); its NFLOG group is the gate's queue number */
export function laneRules(queueNum: number): LaneRules {
  return { queueNum: queueNum < QUEUE_NUM_MAX ? queueNum + 1 : queueNum - 1, nflogGroup: queueNum, uids: SYSTEM_UIDS, ratePerSec: LANE_RATE_PER_SEC };
}

/** a lane packet's `any` copy is recognised this long after the tuple's last lane frame */
export const LANE_IDLE_MS = 120_000;
/** most client 4-tuples with a lane connection remembered (least recently used forgotten first): 20 s at the lane's most */
export const MAX_LANE_CONNECTIONS = 4_096;
/** most lane packets remembered per client 4-tuple, of all its connections (oldest forgotten first; a one-shot IMDS call sends five) */
export const MAX_LANE_PACKETS = 64;
/** most lane connections (ISNs) remembered per client 4-tuple, for the `fromShared` count */
const MAX_ISNS_PER_TUPLE = 4;
/** a packet belongs to a connection whose ISN is at most this far behind its sequence number (one-shot IMDS calls move a few KiB; a counter, so a rare wrong guess costs nothing) */
const SEQ_SPAN = 1 << 20;

export interface LaneStats {
  /** lane frames read (of connections whose SYN came through the lane) */
  frames: number;
  /** lane connections (their SYN came through the lane) */
  connections: number;
  /** `any` capture frames of lane connections, dropped as copies */
  copies: number;
  /** `any` capture frames of lane connections the lane had not given (yet: an answer the shared ring got first; or ever: NFLOG dropped it), read */
  fromShared: number;
  /** lane frames dropped because the shared capture had given the same packet first (the lane's socket read late) */
  laneLate: number;
}

interface LaneTuple {
  /** the ISNs of this tuple's lane connections, newest last */
  isns: number[];
  /** the tuple's newest connection is a lane connection (its SYN was held on the lane's queue) */
  current: boolean;
  /** last lane frame */
  ms: number;
  /**
   * The packets the lane gave on this tuple (`packetId`), oldest first, of every lane
   * connection it carried — not only the current one: under a flood the shared capture runs
   * seconds behind the lane, and the flooder's connections walk through the same client ports
   * as root's (Linux hands out one port sequence per destination), so on one tuple the shared
   * capture may still be reading an older connection, another user's or root's own, when the
   * lane has moved on. A copy is recognised by the packet itself, never by which connection
   * the tuple carries now. A ring of MAX_LANE_PACKETS int32 (`seenCount` filled, the next
   * written at `seenNext`): a plain array held most ids as heap numbers (a full int32 is no
   * small integer), ~1.1 KiB per tuple, 4.6 MiB at MAX_LANE_CONNECTIONS (docs/design.md#soak-memory).
   * The ring is the tuple's slot of LaneConnections' one array, from `seenAt`: a typed array of
   * its own per tuple cost a backing-store allocation per call (docs/design.md#lane-slots).
   */
  seenAt: number;
  seenCount: number;
  seenNext: number;
}

export class LaneConnections {
  /** client-side connection key (`flowKey`, as the gate's records) → its lane connections (map order: last use) */
  private readonly tuples = new Map<string, LaneTuple>();
  private readonly counters: LaneStats = { frames: 0, connections: 0, copies: 0, fromShared: 0, laneLate: 0 };
  /** every tuple's ring of packet ids, MAX_LANE_PACKETS per slot (docs/design.md#lane-slots); pages are touched as slots are first used */
  private readonly seen = new Int32Array(MAX_LANE_CONNECTIONS * MAX_LANE_PACKETS);
  /** slots of forgotten tuples, and the first slot never used */
  private readonly freeSlots: number[] = [];
  private nextSlot = 0;

  /** the gate held this connection's SYN on the lane's queue (its record: key and ISN) */
  held(key: string, isn: number, ms: number): void {
    const t = this.tuples.get(key);
    if (t?.isns.includes(isn)) return;
    this.startConnection(key, t, isn, ms);
  }

  /**
   * A segment read from the lane; false: leave it. A connection is a lane connection when
   * the gate held its SYN on the lane's queue (`held`: the kernel copies every packet a
   * system user sends, the queue takes at most the lane's rate of SYNs): every other
   * connection is read from the shared capture alone, so no connection is read half from
   * each (a lane packet read ahead of its SYN's shared copy would start a second flow).
   */
  laneSegment(seg: TcpSegment, ms: number): boolean {
    const key = clientKey(seg);
    const t = this.tuples.get(key);
    if (isClientSyn(seg) && !t?.isns.includes(seg.seq)) {
      // a system user's SYN past the lane's rate went the shared way: so does its connection
      if (t) t.current = false;
      return false;
    }
    if (!t?.current) return false;
    this.counters.frames++;
    const id = packetId(seg);
    if (this.hasSeen(t, id)) {
      // the shared capture gave this packet first (the lane's socket was read late): it was read there
      this.counters.laneLate++;
      return false;
    }
    this.remember(key, t, id, ms);
    return true;
  }

  /**
   * A segment of the shared (`any`) capture; true: the lane gave this packet already (drop
   * it). The packets toward IMDS of a lane connection read here first are remembered, so the
   * lane's late copies of them are dropped (`laneSegment`) rather than start a second flow
   * after the first ended — one connection, one event, whichever socket is read first.
   */
  isCopy(seg: TcpSegment, ms: number): boolean {
    if (this.tuples.size === 0) return false;
    const key = clientKey(seg);
    const t = this.tuples.get(key);
    if (!t) return false;
    if (ms - t.ms > LANE_IDLE_MS) {
      this.forget(key, t);
      return false;
    }
    const id = packetId(seg);
    if (this.hasSeen(t, id)) {
      this.counters.copies++;
      return true;
    }
    if (seg.toImds && t.current && inConnection(seg.seq, t.isns[t.isns.length - 1]!)) this.remember(key, t, id, ms);
    if (belongsTo(seg, t.isns)) this.counters.fromShared++;
    return false;
  }

  /** a lane connection on this tuple (its SYN was held on the lane's queue) */
  private startConnection(key: string, t: LaneTuple | undefined, isn: number, ms: number): LaneTuple {
    this.counters.connections++;
    if (!t) {
      if (this.tuples.size >= MAX_LANE_CONNECTIONS) this.forgetOldest();
      const slot = this.freeSlots.pop() ?? this.nextSlot++;
      t = { isns: [], current: true, ms, seenAt: slot * MAX_LANE_PACKETS, seenCount: 0, seenNext: 0 };
      this.tuples.set(key, t);
    }
    t.current = true;
    if (t.isns.push(isn) > MAX_ISNS_PER_TUPLE) t.isns.shift();
    return t;
  }

  /** a packet of the tuple's lane connection was read (from either source): its other copy is dropped */
  private remember(key: string, t: LaneTuple, id: number, ms: number): void {
    t.ms = ms;
    this.seen[t.seenAt + t.seenNext] = id;
    t.seenNext = (t.seenNext + 1) % MAX_LANE_PACKETS;
    if (t.seenCount < MAX_LANE_PACKETS) t.seenCount++;
    // to the end of the map's order (its size is unchanged: startConnection bounds it on insert)
    this.tuples.delete(key);
    this.tuples.set(key, t);
  }

  /** the lane gave (or the shared capture read first) this packet on the tuple: one of its last MAX_LANE_PACKETS */
  private hasSeen(t: LaneTuple, id: number): boolean {
    const seen = this.seen;
    for (let i = t.seenAt, end = t.seenAt + t.seenCount; i < end; i++) if (seen[i] === id) return true;
    return false;
  }

  /** a tuple leaves: its slot is free for the next new one */
  private forget(key: string, t: LaneTuple): void {
    this.tuples.delete(key);
    this.freeSlots.push(t.seenAt / MAX_LANE_PACKETS);
  }

  /** the least recently used tuple leaves (MAX_LANE_CONNECTIONS) */
  private forgetOldest(): void {
    const [k, t] = this.tuples.entries().next().value!;
    this.forget(k, t);
  }

  /** forget tuples idle past LANE_IDLE_MS (once a second) */
  expire(nowMs: number): void {
    for (const [k, t] of this.tuples) {
      if (nowMs - t.ms <= LANE_IDLE_MS) break;
      this.forget(k, t);
    }
  }

  stats(): LaneStats {
    return { ...this.counters };
  }
}

/**
 * A packet's identity within its 4-tuple, from what `dedupeKey` reads (direction, seq, ack,
 * flags, payload length and hash) as one 32-bit number: compared only with the ≤ 64 packets
 * the lane gave on the same tuple, so a false match is one in tens of millions per packet.
 */
export function packetId(seg: TcpSegment): number {
  let h = Math.imul(seg.seq ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ seg.ack, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16) ^ ((seg.flags << 17) | (seg.toImds ? 1 << 16 : 0) | (seg.payload.length & 0xffff)), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ (seg.payload.length > 0 ? fnv1a(seg.payload) : 0), 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

/** the gate's key of the segment's connection (client side first, both directions) */
function clientKey(seg: TcpSegment): string {
  return seg.toImds ? flowKey(seg.src, seg.srcPort, seg.dst, seg.dstPort) : flowKey(seg.dst, seg.dstPort, seg.src, seg.srcPort);
}

function isClientSyn(seg: TcpSegment): boolean {
  return seg.toImds && (seg.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN;
}

/** the segment is a packet of one of these connections (by its sequence number toward IMDS, its acknowledgement back) */
function belongsTo(seg: TcpSegment, isns: readonly number[]): boolean {
  const n = seg.toImds ? seg.seq : seg.ack;
  for (const isn of isns) if (inConnection(n, isn)) return true;
  return false;
}

/** a sequence number of the connection that began at `isn` */
function inConnection(n: number, isn: number): boolean {
  return (n - isn) >>> 0 < SEQ_SPAN;
}
