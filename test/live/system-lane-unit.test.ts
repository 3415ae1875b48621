import { describe, expect, it } from 'vitest';
import type { TcpSegment } from '../../src/decode/packet.js';
import { TCP_ACK, TCP_PSH, TCP_SYN } from '../../src/decode/packet.js';
import { LANE_IDLE_MS, LaneConnections } from '../../src/live/system-lane.js';
import { FrameQueue } from '../../src/live/frame-queue.js';
import type { Frame } from '../../src/source/frame.js';

const seg = (srcPort: number, flags: number, seq: number, toImds = true): TcpSegment =>
  ({
    src: toImds ? '10.0.0.2' : '169.254.169.254',
    dst: toImds ? '169.254.169.254' : '10.0.0.2',
    srcPort: toImds ? srcPort : 80,
    dstPort: toImds ? 80 : srcPort,
    toImds,
    flags,
    seq,
    ack: 0,
    payload: Buffer.alloc(0),
  }) as unknown as TcpSegment;

describe("LaneConnections: the shared capture's copies of lane connections", () => {
  it('drops the shared copy of every packet the lane gave, both directions, and nothing else', () => {
    const lane = new LaneConnections();
    lane.laneSegment(seg(40000, TCP_SYN, 1000), 0, () => true);
    lane.laneSegment(seg(40000, TCP_ACK | TCP_PSH, 1001), 1, () => true);
    expect(lane.isCopy(seg(40000, TCP_SYN, 1000), 1)).toBe(true);
    expect(lane.isCopy(seg(40000, TCP_ACK | TCP_PSH, 1001), 2)).toBe(true);
    // IMDS's answers come from the shared capture only
    expect(lane.isCopy(seg(40000, TCP_SYN | TCP_ACK, 5000, false), 2)).toBe(false);
    expect(lane.isCopy(seg(40001, TCP_SYN, 1000), 2)).toBe(false);
    expect(lane.stats()).toEqual({ frames: 2, connections: 1, copies: 2, fromShared: 1 });
  });

  it("leaves a lane packet whose connection's SYN did not come through the lane (its shared copies are read)", () => {
    const lane = new LaneConnections();
    expect(lane.laneSegment(seg(40002, TCP_ACK | TCP_PSH, 1001), 0, () => true)).toBe(false);
    expect(lane.isCopy(seg(40002, TCP_ACK | TCP_PSH, 1001), 1)).toBe(false);
    expect(lane.laneSegment(seg(40003, TCP_SYN, 9), 0, () => true)).toBe(true);
  });

  it('reads from the lane only connections whose SYN the gate held on the lane queue (past its rate, a SYN went the shared way: the whole connection does)', () => {
    const lane = new LaneConnections();
    expect(lane.laneSegment(seg(40004, TCP_SYN, 50), 0, () => false)).toBe(false);
    expect(lane.laneSegment(seg(40004, TCP_ACK | TCP_PSH, 51), 1, () => false)).toBe(false);
    expect(lane.isCopy(seg(40004, TCP_SYN, 50), 2)).toBe(false);
    expect(lane.isCopy(seg(40004, TCP_ACK | TCP_PSH, 51), 2)).toBe(false);
    expect(lane.stats()).toMatchObject({ frames: 0, connections: 0 });
  });

  it('reads from the shared capture a packet of a lane connection that the lane never gave (NFLOG dropped it)', () => {
    const lane = new LaneConnections();
    lane.laneSegment(seg(40000, TCP_SYN, 1000), 0, () => true);
    expect(lane.isCopy(seg(40000, TCP_ACK | TCP_PSH, 1001), 2)).toBe(false);
    expect(lane.stats().fromShared).toBe(1);
  });

  it("another user's connection on a reused client port is read (its SYN's ISN differs), and so are its later frames", () => {
    const lane = new LaneConnections();
    lane.laneSegment(seg(40000, TCP_SYN, 1000), 0, () => true);
    lane.laneSegment(seg(40000, TCP_ACK | TCP_PSH, 1001), 0, () => true);
    expect(lane.isCopy(seg(40000, TCP_SYN, 777_777), 10)).toBe(false);
    expect(lane.isCopy(seg(40000, TCP_ACK | TCP_PSH, 1001), 11)).toBe(false);
  });

  it('forgets a connection idle past LANE_IDLE_MS (its late frames are read), and a lane frame keeps it alive', () => {
    const lane = new LaneConnections();
    lane.laneSegment(seg(40000, TCP_SYN, 1000), 0, () => true);
    lane.laneSegment(seg(40000, TCP_ACK, 1001), LANE_IDLE_MS, () => true);
    expect(lane.isCopy(seg(40000, TCP_ACK, 1001), LANE_IDLE_MS + 10)).toBe(true);
    lane.expire(2 * LANE_IDLE_MS + 1);
    expect(lane.isCopy(seg(40000, TCP_ACK, 1001), 2 * LANE_IDLE_MS + 2)).toBe(false);
  });
});

describe('FrameQueue: the system lane goes first', () => {
  const frame = (n: number): Frame => ({ sec: n, nsec: 0, linkType: 101, data: Buffer.from([n]), origLen: 1, iface: 0 });

  it("takes lane frames before a backlog of others, and never sheds or counts them as the capture's backlog", async () => {
    const order: string[] = [];
    const q = new FrameQueue(
      (f) => order.push(`any${f.data[0]}`),
      () => true, // everything of the shared capture is left unread while lagging
      { lagFrames: 0 },
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
