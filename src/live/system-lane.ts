import { TCP_ACK, TCP_SYN, type TcpSegment } from '../decode/packet.js';
import { QUEUE_NUM_MAX } from '../domain/endpoint.js';
import { connectionKey, dedupeKey } from './dedupe.js';
import type { LaneRules } from './gate-xtables.js';

/**
 * The system lane (docs/design.md#system-lane): the host's own system users' (uid 0–999:
 * root and services) IMDS SYNs are held on a queue of their own and their packets to IMDS
 * captured through NFLOG, apart from everyone else's (IMDS's answers come from the shared
 * capture). One user's SYN flood otherwise queued ahead of root's
 * SYN (root's connect() waited hundreds of ms) and overflowed the `any` capture's ring, so
 * root's calls were lost with the flood's (named as missed, verdict UNKNOWN, but not read).
 *
 * Each lane packet is also seen by the `any` capture (when its ring keeps it). The lane's
 * copy is the one read: the `any` capture's copy of a packet the lane already gave is dropped
 * before the deduper (the lane's frames are read first, so a flood's backlog would otherwise
 * hand the pipeline a late second copy of root's request after its flow ended: a second
 * event for one call). A packet of a lane connection that the lane did not give (NFLOG
 * dropped it: its socket buffer full) is read from the `any` capture: never lost for being
 * a lane connection's.
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

/** a lane connection's `any` frames are recognised this long after its last lane frame */
export const LANE_IDLE_MS = 120_000;
/** most lane connections remembered (oldest forgotten first): 20 s at the lane's most */
export const MAX_LANE_CONNECTIONS = 4_096;
/** most packets remembered per lane connection (oldest forgotten first; a one-shot IMDS call sends five) */
export const MAX_LANE_PACKETS = 64;

export interface LaneStats {
  /** lane frames read (of connections whose SYN came through the lane) */
  frames: number;
  /** lane connections (their SYN came through the lane) */
  connections: number;
  /** `any` capture frames of lane connections, dropped as copies */
  copies: number;
  /** `any` capture frames of lane connections the lane had not given (yet: an answer the shared ring got first; or ever: NFLOG dropped it), read */
  fromShared: number;
}

interface LaneConnection {
  isn: number;
  /** last lane frame */
  ms: number;
  /** the lane's packets (dedupeKey), oldest first */
  seen: string[];
}

export class LaneConnections {
  /** client-side connection key → the lane connection (map order: last use) */
  private readonly conns = new Map<string, LaneConnection>();
  private readonly counters: LaneStats = { frames: 0, connections: 0, copies: 0, fromShared: 0 };

  /**
   * A segment read from the lane; false: leave it. A connection is a lane connection when
   * the gate held its SYN on the lane's queue (`heldOnLane`: the kernel copies every packet a
   * system user sends, the queue takes at most the lane's rate of SYNs): every other
   * connection is read from the shared capture alone, so no connection is read half from
   * each (a lane packet read ahead of its SYN's shared copy would start a second flow).
   */
  laneSegment(seg: TcpSegment, ms: number, heldOnLane: (isn: number) => boolean): boolean {
    const key = connectionKey(seg);
    let c = this.conns.get(key);
    if (seg.toImds && (seg.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN && c?.isn !== seg.seq) {
      if (!heldOnLane(seg.seq)) {
        this.conns.delete(key);
        return false;
      }
      this.counters.connections++;
      c = { isn: seg.seq, ms, seen: [] };
    }
    if (!c) return false;
    this.counters.frames++;
    c.ms = ms;
    if (c.seen.push(dedupeKey(seg)) > MAX_LANE_PACKETS) c.seen.shift();
    this.conns.delete(key);
    this.conns.set(key, c);
    if (this.conns.size > MAX_LANE_CONNECTIONS) this.conns.delete(this.conns.keys().next().value!);
    return true;
  }

  /** true: the `any` capture's copy of a packet the lane gave (drop it) */
  isCopy(seg: TcpSegment, ms: number): boolean {
    if (this.conns.size === 0) return false;
    const key = connectionKey(seg);
    const c = this.conns.get(key);
    if (!c) return false;
    if (seg.toImds && (seg.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN && seg.seq !== c.isn) {
      this.conns.delete(key); // the tuple carries a new connection (another user's, or a SYN the lane missed)
      return false;
    }
    if (ms - c.ms > LANE_IDLE_MS) {
      this.conns.delete(key);
      return false;
    }
    if (c.seen.includes(dedupeKey(seg))) {
      this.counters.copies++;
      return true;
    }
    this.counters.fromShared++;
    return false;
  }

  /** forget connections idle past LANE_IDLE_MS (once a second) */
  expire(nowMs: number): void {
    for (const [k, c] of this.conns) {
      if (nowMs - c.ms <= LANE_IDLE_MS) break;
      this.conns.delete(k);
    }
  }

  stats(): LaneStats {
    return { ...this.counters };
  }
}
