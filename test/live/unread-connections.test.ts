import { describe, expect, it } from 'vitest';
import { UnreadConnections, UNREAD_TTL_MS } from '../../src/live/unread-connections.js';
import { FrameQueue } from '../../src/live/frame-queue.js';
import type { GateRecord, SynGate } from '../../src/live/gate.js';
import type { Frame } from '../../src/source/frame.js';
import { ipv4Tcp } from '../support/testkit/packet-builders.js';

/**
 * Whole connections whose SYN the gate shed are left unread while the pipeline nears its bound
 * (docs/design.md#syn-gate): never part of one, never one that was held for a lookup.
 */
const FLAG = { SYN: 0x02, ACK: 0x10, PSH: 0x08, FIN: 0x01 };

/** a raw-IPv4 (link type 228) TCP frame between 10.0.0.2:port and IMDS */
function frame(port: number, flags: number, seq: number, ms: number, toImds = true, payload = ''): Frame {
  const [client, imds] = [{ ip: '10.0.0.2', port }, { ip: '169.254.169.254', port: 80 }];
  const [from, to] = toImds ? [client, imds] : [imds, client];
  const b = ipv4Tcp({ src: from.ip, dst: to.ip, srcPort: from.port, dstPort: to.port, seq, ack: 0, flags, payload });
  return { sec: Math.floor(ms / 1000), nsec: (ms % 1000) * 1e6, linkType: 228, data: b, origLen: b.length, iface: 0 };
}

/** a gate whose records say which ISNs were shed (uid 65534) and which were looked up */
function gateOf(shed: Set<number>, held: Set<number> = new Set()): Pick<SynGate, 'lookup'> {
  return {
    lookup: (key: string, _at?: number, isn?: number) =>
      isn !== undefined && (shed.has(isn) || held.has(isn))
        ? ({ key, isn, outcome: shed.has(isn) ? 'shed' : 'found', uid: shed.has(isn) ? 65534 : 0, process: null } as unknown as GateRecord)
        : null,
  };
}

describe('UnreadConnections', () => {
  it('leaves a shed connection unread from its SYN to its last frame, both ways; a looked-up one is read', () => {
    const u = new UnreadConnections(gateOf(new Set([100]), new Set([200])));
    const t = 1_700_000_000_000;
    expect(u.leaveUnread(frame(40000, FLAG.SYN, 100, t), true)).toBe(true);
    // the pipeline caught up meanwhile: the rest of the connection is still left unread
    expect(u.leaveUnread(frame(40000, FLAG.SYN | FLAG.ACK, 9, t + 1, false), false)).toBe(true);
    expect(u.leaveUnread(frame(40000, FLAG.ACK | FLAG.PSH, 101, t + 2, true, 'GET / HTTP/1.1\r\n\r\n'), false)).toBe(true);
    expect(u.leaveUnread(frame(40000, FLAG.FIN | FLAG.ACK, 120, t + 3), false)).toBe(true);
    // a connection held for a lookup is read, lagging or not
    expect(u.leaveUnread(frame(40001, FLAG.SYN, 200, t), true)).toBe(false);
    expect(u.leaveUnread(frame(40001, FLAG.ACK | FLAG.PSH, 201, t + 1, true, 'GET /'), true)).toBe(false);
    expect(u.stats()).toEqual({ byUid: { '65534': 1 }, frames: 4 });
  });

  it('never leaves part of a connection: a shed SYN while not lagging is read whole; the tuple\'s next connection is decided afresh', () => {
    const u = new UnreadConnections(gateOf(new Set([100, 300])));
    const t = 1_700_000_000_000;
    expect(u.leaveUnread(frame(40000, FLAG.SYN, 100, t), false)).toBe(false);
    // lagging starts mid-connection: its frames are read (it was started)
    expect(u.leaveUnread(frame(40000, FLAG.ACK | FLAG.PSH, 101, t + 1, true, 'GET /'), true)).toBe(false);
    expect(u.leaveUnread(frame(40002, FLAG.SYN, 300, t), true)).toBe(true);
    // port reused by a connection the gate looked up: read
    expect(u.leaveUnread(frame(40002, FLAG.SYN, 301, t + 10), true)).toBe(false);
    expect(u.leaveUnread(frame(40002, FLAG.ACK | FLAG.PSH, 302, t + 11, true, 'GET /'), true)).toBe(false);
  });

  it('forgets an unread connection after UNREAD_TTL_MS', () => {
    const u = new UnreadConnections(gateOf(new Set([100])));
    const t = 1_700_000_000_000;
    expect(u.leaveUnread(frame(40000, FLAG.SYN, 100, t), true)).toBe(true);
    u.expire(t + UNREAD_TTL_MS + 1);
    expect(u.leaveUnread(frame(40000, FLAG.ACK, 101, t + UNREAD_TTL_MS + 2, true, 'x'), false)).toBe(false);
  });
});

describe('FrameQueue offers every frame to shed, with whether it is near its bound', () => {
  it('asks with nearBound=false below shedFrames and true from it; a shed frame takes no place', () => {
    const asked: boolean[] = [];
    const q = new FrameQueue(
      () => {},
      (_f, lagging) => {
        asked.push(lagging);
        return lagging;
      },
      { shedFrames: 2 },
    );
    for (let i = 0; i < 4; i++) q.push(frame(40000 + i, FLAG.SYN, i, 0));
    expect(asked).toEqual([false, false, true, true]);
    expect(q.waiting).toBe(2);
    expect(q.stats().shed).toBe(2);
    q.drain();
  });
});

/**
 * The daemon leaves calls unread only when an overflow is near (docs/design.md#unread-near-bound):
 * behind a backlog that lags by age — the pipeline seconds behind a flood on a busy machine —
 * but far from the queue's bound, a connection whose SYN the gate shed is read whole. Before,
 * the age rule alone left it unread: one-shot calls at 1 000/s from root (its lookups shed)
 * lost ~13 % of a 3-minute soak while the daemon used ~55 % of a core.
 */
describe('FrameQueue with UnreadConnections: a lagging backlog far from the bound', () => {
  it('reads a shed connection whole; past shedFrames waiting the next one is left unread', () => {
    const unread = new UnreadConnections(gateOf(new Set([500, 600])));
    const read: Frame[] = [];
    const q = new FrameQueue((f) => read.push(f), (f, nearBound) => unread.leaveUnread(f, nearBound), { shedFrames: 1000 });
    const t = 1_700_000_000_000;
    // 400 frames of looked-up connections over 400 ms, not yet read: lagging by age (256 frames, 100 ms)
    for (let i = 0; i < 400; i++) q.push(frame(30000 + i, FLAG.SYN, 10_000 + i, t + i));
    expect(q.lagging).toBe(true);
    const shedConn = [
      frame(40000, FLAG.SYN, 500, t + 400),
      frame(40000, FLAG.SYN | FLAG.ACK, 9, t + 401, false),
      frame(40000, FLAG.ACK | FLAG.PSH, 501, t + 402, true, 'GET /latest/meta-data/ HTTP/1.1\r\n\r\n'),
    ];
    for (const f of shedConn) q.push(f);
    q.drain();
    expect(read.slice(400)).toEqual(shedConn);
    expect(unread.stats()).toEqual({ byUid: {}, frames: 0 });
    // near the bound (1 000 waiting): a shed connection is left unread, from its SYN on
    read.length = 0;
    for (let i = 0; i < 1000; i++) q.push(frame(30000 + (i % 500), FLAG.ACK, 20_000 + i, t + 500 + i));
    q.push(frame(40001, FLAG.SYN, 600, t + 1600));
    q.push(frame(40001, FLAG.ACK | FLAG.PSH, 601, t + 1601, true, 'GET /'));
    q.drain();
    expect(read).toHaveLength(1000);
    expect(unread.stats()).toEqual({ byUid: { '65534': 1 }, frames: 2 });
  });
});
