import { describe, expect, it } from 'vitest';
import type { TcpSegment } from '../../src/decode/packet.js';
import { TCP_ACK, TCP_PSH, TCP_SYN } from '../../src/decode/packet.js';
import { LANE_IDLE_MS, LaneConnections, MAX_LANE_CONNECTIONS, MAX_LANE_PACKETS } from '../../src/live/system-lane.js';
import { flowKey } from '../../src/domain/address.js';
import { FrameQueue } from '../../src/live/frame-queue.js';
import type { Frame } from '../../src/source/frame.js';

const seg = (srcPort: number, flags: number, seq: number, toImds = true, ack = 0): TcpSegment =>
  ({
    src: toImds ? '10.0.0.2' : '169.254.169.254',
    dst: toImds ? '169.254.169.254' : '10.0.0.2',
    srcPort: toImds ? srcPort : 80,
    dstPort: toImds ? 80 : srcPort,
    toImds,
    flags,
    seq,
    ack,
    payload: Buffer.alloc(0),
  }) as unknown as TcpSegment;

/** the gate held this SYN on the lane's queue (its record registers the connection) */
const held = (lane: LaneConnections, clientPort: number, isn: number, ms: number) => lane.held(flowKey('10.0.0.2', clientPort, '169.254.169.254', 80), isn, ms);

describe("LaneConnections: the shared capture's copies of lane connections", () => {
  it('drops the shared copy of every packet the lane gave, both directions, and nothing else', () => {
    const lane = new LaneConnections();
    held(lane, 40000, 1000, 0);
    lane.laneSegment(seg(40000, TCP_SYN, 1000), 0);
    lane.laneSegment(seg(40000, TCP_ACK | TCP_PSH, 1001), 1);
    expect(lane.isCopy(seg(40000, TCP_SYN, 1000), 1)).toBe(true);
    expect(lane.isCopy(seg(40000, TCP_ACK | TCP_PSH, 1001), 2)).toBe(true);
    // IMDS's answers come from the shared capture only
    expect(lane.isCopy(seg(40000, TCP_SYN | TCP_ACK, 5000, false, 1001), 2)).toBe(false);
    expect(lane.isCopy(seg(40001, TCP_SYN, 1000), 2)).toBe(false);
    expect(lane.stats()).toEqual({ frames: 2, connections: 1, copies: 2, fromShared: 1, laneLate: 0 });
  });

  it("leaves a lane packet whose connection's SYN did not come through the lane (its shared copies are read)", () => {
    const lane = new LaneConnections();
    expect(lane.laneSegment(seg(40002, TCP_ACK | TCP_PSH, 1001), 0)).toBe(false);
    expect(lane.isCopy(seg(40002, TCP_ACK | TCP_PSH, 1001), 1)).toBe(false);
    held(lane, 40003, 9, 0);
    expect(lane.laneSegment(seg(40003, TCP_SYN, 9), 0)).toBe(true);
  });

  it('reads from the lane only connections whose SYN the gate held on the lane queue (past its rate, a SYN went the shared way: the whole connection does)', () => {
    const lane = new LaneConnections();
    expect(lane.laneSegment(seg(40004, TCP_SYN, 50), 0)).toBe(false);
    expect(lane.laneSegment(seg(40004, TCP_ACK | TCP_PSH, 51), 1)).toBe(false);
    expect(lane.isCopy(seg(40004, TCP_SYN, 50), 2)).toBe(false);
    expect(lane.isCopy(seg(40004, TCP_ACK | TCP_PSH, 51), 2)).toBe(false);
    expect(lane.stats()).toMatchObject({ frames: 0, connections: 0 });
  });

  it('reads from the shared capture a packet of a lane connection that the lane never gave (NFLOG dropped it)', () => {
    const lane = new LaneConnections();
    held(lane, 40000, 1000, 0);
    lane.laneSegment(seg(40000, TCP_SYN, 1000), 0);
    expect(lane.isCopy(seg(40000, TCP_ACK | TCP_PSH, 1001), 2)).toBe(false);
    expect(lane.stats().fromShared).toBe(1);
  });

  it("another user's connection on a reused client port is read (its SYN's ISN differs), and so are its later frames", () => {
    const lane = new LaneConnections();
    held(lane, 40000, 1000, 0);
    lane.laneSegment(seg(40000, TCP_SYN, 1000), 0);
    lane.laneSegment(seg(40000, TCP_ACK | TCP_PSH, 1001), 0);
    expect(lane.isCopy(seg(40000, TCP_SYN, 777_777), 10)).toBe(false);
    expect(lane.isCopy(seg(40000, TCP_ACK | TCP_PSH, 777_778), 11)).toBe(false);
  });

  it("the shared capture's backlog holds another user's earlier connection on root's client port: root's copies that follow are still dropped (one event per call)", () => {
    // Under a flood the shared capture runs seconds behind the lane, and the flooder's
    // connections walk through the same client ports as root's (one port sequence per
    // destination). The lane has root's connection on port 40000; the shared capture then
    // gives the flooder's older connection on that port, then root's copies.
    const lane = new LaneConnections();
    held(lane, 40000, 1000, 100);
    lane.laneSegment(seg(40000, TCP_SYN, 1000), 100);
    lane.laneSegment(seg(40000, TCP_ACK | TCP_PSH, 1001), 101);
    expect(lane.isCopy(seg(40000, TCP_SYN, 2_000_000_000), 102)).toBe(false);
    expect(lane.isCopy(seg(40000, TCP_ACK, 2_000_000_001), 102)).toBe(false);
    expect(lane.isCopy(seg(40000, TCP_SYN, 1000), 103)).toBe(true);
    expect(lane.isCopy(seg(40000, TCP_ACK | TCP_PSH, 1001), 103)).toBe(true);
    expect(lane.stats()).toMatchObject({ copies: 2, fromShared: 0 });
  });

  it("the shared capture gives a lane connection first (the lane's socket read late): it is read from there once, and the lane's copies are dropped, not read as a second connection", () => {
    const lane = new LaneConnections();
    held(lane, 40000, 1000, 10);
    // the whole connection from the shared capture, first
    expect(lane.isCopy(seg(40000, TCP_SYN, 1000), 10)).toBe(false);
    expect(lane.isCopy(seg(40000, TCP_SYN | TCP_ACK, 5000, false, 1001), 10)).toBe(false);
    expect(lane.isCopy(seg(40000, TCP_ACK | TCP_PSH, 1001), 11)).toBe(false);
    // then the lane's copies: none is read again
    expect(lane.laneSegment(seg(40000, TCP_SYN, 1000), 12)).toBe(false);
    expect(lane.laneSegment(seg(40000, TCP_ACK | TCP_PSH, 1001), 12)).toBe(false);
    expect(lane.stats()).toMatchObject({ connections: 1, laneLate: 2, copies: 0 });
    // a connection whose SYN was not held on the lane is not the lane's, whichever comes first
    expect(lane.isCopy(seg(40001, TCP_SYN, 7), 13)).toBe(false);
    expect(lane.laneSegment(seg(40001, TCP_SYN, 7), 13)).toBe(false);
    expect(lane.isCopy(seg(40001, TCP_ACK | TCP_PSH, 8), 13)).toBe(false);
  });

  it("mixed order: the lane gives the SYN, the shared capture the request first, the lane the request after: one copy of each is read", () => {
    const lane = new LaneConnections();
    held(lane, 40000, 1000, 10);
    expect(lane.laneSegment(seg(40000, TCP_SYN, 1000), 10)).toBe(true);
    expect(lane.isCopy(seg(40000, TCP_SYN, 1000), 10)).toBe(true);
    expect(lane.isCopy(seg(40000, TCP_ACK | TCP_PSH, 1001), 11)).toBe(false);
    expect(lane.laneSegment(seg(40000, TCP_ACK | TCP_PSH, 1001), 12)).toBe(false);
  });

  it('root reuses its own client port while the shared capture is behind: the copies of both connections are dropped', () => {
    const lane = new LaneConnections();
    held(lane, 40000, 1000, 100);
    lane.laneSegment(seg(40000, TCP_SYN, 1000), 100);
    lane.laneSegment(seg(40000, TCP_ACK | TCP_PSH, 1001), 101);
    held(lane, 40000, 9000, 200);
    lane.laneSegment(seg(40000, TCP_SYN, 9000), 200);
    lane.laneSegment(seg(40000, TCP_ACK | TCP_PSH, 9001), 201);
    expect(lane.isCopy(seg(40000, TCP_SYN, 1000), 202)).toBe(true);
    expect(lane.isCopy(seg(40000, TCP_ACK | TCP_PSH, 1001), 202)).toBe(true);
    expect(lane.isCopy(seg(40000, TCP_SYN, 9000), 203)).toBe(true);
    expect(lane.isCopy(seg(40000, TCP_ACK | TCP_PSH, 9001), 203)).toBe(true);
  });

  it('forgets a lane packet past LANE_IDLE_MS (a copy that late is read)', () => {
    const lane = new LaneConnections();
    held(lane, 40000, 1000, 0);
    lane.laneSegment(seg(40000, TCP_SYN, 1000), 0);
    lane.laneSegment(seg(40000, TCP_ACK, 1001), LANE_IDLE_MS);
    expect(lane.isCopy(seg(40000, TCP_ACK, 1001), LANE_IDLE_MS + 10)).toBe(true);
    lane.expire(2 * LANE_IDLE_MS + 1);
    expect(lane.isCopy(seg(40000, TCP_ACK, 1001), 2 * LANE_IDLE_MS + 2)).toBe(false);
  });
});

describe('LaneConnections: the packets remembered per tuple', () => {
  it(`remembers the last MAX_LANE_PACKETS (${MAX_LANE_PACKETS}) packets of a tuple, the oldest forgotten first, ids of any 32-bit value`, () => {
    const lane = new LaneConnections();
    held(lane, 40000, 0x7fff_ff00, 0);
    // sequence numbers across the int32 sign boundary: packet ids of every sign and size
    const seqs = Array.from({ length: MAX_LANE_PACKETS + 2 }, (_, i) => (0x7fff_ff00 + i * 3) >>> 0);
    for (const [i, seq] of seqs.entries()) expect(lane.laneSegment(seg(40000, i === 0 ? TCP_SYN : TCP_ACK, seq), i)).toBe(true);
    for (const seq of seqs.slice(2)) expect(lane.isCopy(seg(40000, TCP_ACK, seq), 100)).toBe(true);
    // the two oldest are forgotten: their shared copies are read (and remembered in turn)
    expect(lane.isCopy(seg(40000, TCP_SYN, seqs[0]!), 100)).toBe(false);
    expect(lane.isCopy(seg(40000, TCP_ACK, seqs[1]!), 100)).toBe(false);
    expect(lane.stats()).toMatchObject({ frames: MAX_LANE_PACKETS + 2, copies: MAX_LANE_PACKETS });
  });
});

describe('FrameQueue: the system lane goes first', () => {
  const frame = (n: number): Frame => ({ sec: n, nsec: 0, linkType: 101, data: Buffer.from([n]), origLen: 1, iface: 0 });

  it("takes lane frames before a backlog of others, and never sheds or counts them as the capture's backlog", async () => {
    const order: string[] = [];
    const q = new FrameQueue(
      (f) => order.push(`any${f.data[0]}`),
      () => true, // everything of the shared capture is left unread while lagging
      { lagFrames: 0, lagMs: 0 },
      (f) => order.push(`lane${f.data[0]}`),
    );
    q.push(frame(1));
    q.pushLane(frame(2));
    expect(q.waiting).toBe(0);
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['lane2']);
    const q2 = new FrameQueue((f) => order.push(`any${f.data[0]}`), undefined, {}, (f) => order.push(`lane${f.data[0]}`));
    order.length = 0;
    for (let i = 0; i < 3; i++) q2.push(frame(i));
    q2.pushLane(frame(9));
    expect(q2.waiting).toBe(3);
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['lane9', 'any0', 'any1', 'any2']);
    expect(q2.stats()).toMatchObject({ passed: 3, lanePassed: 1, laneOverflow: 0 });
  });
});

describe('LaneConnections: one array of slots for every tuple (docs/design.md#lane-slots)', () => {
  it("a tuple on a forgotten tuple's slot starts with nothing seen; the oldest tuple leaves at MAX_LANE_CONNECTIONS", () => {
    const lane = new LaneConnections();
    const ports = MAX_LANE_CONNECTIONS + 3;
    // every tuple's lane gives the same packet ids (same seq numbers): a slot left dirty would show as a copy
    for (let i = 0; i < ports; i++) {
      const port = 1024 + i;
      held(lane, port, 7000, i);
      for (let k = 0; k < 3; k++) expect(lane.laneSegment(seg(port, TCP_ACK | TCP_PSH, 7001 + k), i)).toBe(true);
    }
    // the first three left (least recently used): their copies are read, not dropped
    for (let i = 0; i < 3; i++) expect(lane.isCopy(seg(1024 + i, TCP_ACK | TCP_PSH, 7001), ports)).toBe(false);
    // the newest three are on reused slots: each drops its own copies and nothing it did not give
    for (let i = ports - 3; i < ports; i++) {
      expect(lane.isCopy(seg(1024 + i, TCP_ACK | TCP_PSH, 7001), ports)).toBe(true);
      expect(lane.isCopy(seg(1024 + i, TCP_ACK | TCP_PSH, 7004), ports)).toBe(false);
    }
    expect(lane.stats()).toMatchObject({ connections: ports, frames: 3 * ports, laneLate: 0 });
  });

  it('a tuple forgotten when idle gives its slot back: a new one there starts clean', () => {
    const lane = new LaneConnections();
    held(lane, 41000, 100, 0);
    for (let k = 0; k < MAX_LANE_PACKETS + 5; k++) lane.laneSegment(seg(41000, TCP_ACK | TCP_PSH, 101 + k), 1);
    lane.expire(LANE_IDLE_MS + 10);
    held(lane, 41001, 100, LANE_IDLE_MS + 20);
    expect(lane.isCopy(seg(41001, TCP_ACK | TCP_PSH, 101 + MAX_LANE_PACKETS), LANE_IDLE_MS + 21)).toBe(false);
    expect(lane.laneSegment(seg(41001, TCP_ACK | TCP_PSH, 102 + MAX_LANE_PACKETS), LANE_IDLE_MS + 22)).toBe(true);
    expect(lane.stats()).toMatchObject({ laneLate: 0 });
  });
});
