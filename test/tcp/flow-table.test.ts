import { describe, expect, it } from 'vitest';
import { FlowTable } from '../../src/tcp/flow-table.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, type TcpSegment } from '../../src/decode/packet.js';
import type { FlowInfo, FlowLimits } from '../../src/tcp/stream.js';
import { Recorder } from './helpers.js';
import { PIECE_COST } from '../../src/tcp/memory-budget.js';

const IMDS = '169.254.169.254';

function seg(clientPort: number, toImds: boolean, seq: number, flags: number, data = '', sec = 0, client = '10.0.0.5'): TcpSegment {
  return {
    sec,
    nsec: 0,
    ipVersion: 4,
    src: toImds ? client : IMDS,
    dst: toImds ? IMDS : client,
    srcPort: toImds ? clientPort : 80,
    dstPort: toImds ? 80 : clientPort,
    seq: seq >>> 0,
    ack: 0,
    flags,
    ttl: 64,
    payload: Buffer.from(data, 'latin1'),
    missing: 0,
    toImds,
  };
}

function table(limits?: Partial<FlowLimits>) {
  const flows: Array<{ info: FlowInfo; up: Recorder; down: Recorder }> = [];
  const t = new FlowTable(
    {
      onFlow(info) {
        const f = { info, up: new Recorder(), down: new Recorder() };
        flows.push(f);
        return { toServer: f.up, toClient: f.down };
      },
    },
    limits,
  );
  return { t, flows };
}

/** a full connection: handshake, request, response, FIN both ways, last ACK */
function connection(t: FlowTable, port: number, cIsn: number, sIsn: number, req: string, res: string, sec = 0) {
  t.push(seg(port, true, cIsn, TCP_SYN, '', sec));
  t.push(seg(port, false, sIsn, TCP_SYN | TCP_ACK, '', sec));
  t.push(seg(port, true, cIsn + 1, TCP_ACK, '', sec));
  t.push(seg(port, true, cIsn + 1, TCP_ACK | TCP_PSH, req, sec));
  t.push(seg(port, false, sIsn + 1, TCP_ACK | TCP_PSH, res, sec));
  t.push(seg(port, false, sIsn + 1 + res.length, TCP_ACK | TCP_FIN, '', sec));
  t.push(seg(port, true, cIsn + 1 + req.length, TCP_ACK | TCP_FIN, '', sec));
  t.push(seg(port, false, sIsn + 2 + res.length, TCP_ACK, '', sec));
  t.push(seg(port, true, cIsn + 2 + req.length, TCP_ACK, '', sec));
}

describe('FlowTable', () => {
  it('one flow per connection, keyed client|port|server|port, both directions in order, removed after FIN/FIN', () => {
    const { t, flows } = table();
    connection(t, 40000, 100, 0xfffffff0, 'GET / HTTP/1.1\r\n\r\n', 'HTTP/1.1 200 OK\r\n\r\n');
    expect(flows).toHaveLength(1);
    const f = flows[0];
    expect(f.info.key).toBe(`10.0.0.5|40000|${IMDS}|80`);
    expect(f.info.client).toEqual({ ip: '10.0.0.5', port: 40000 });
    expect(f.info.server).toEqual({ ip: IMDS, port: 80 });
    expect(f.info.sawSyn).toBe(true);
    expect(f.up.text).toBe('GET / HTTP/1.1\r\n\r\n');
    expect(f.down.text).toBe('HTTP/1.1 200 OK\r\n\r\n');
    expect(f.up.ends).toEqual(['fin']);
    expect(f.down.ends).toEqual(['fin']);
    // the two last ACKs after both FINs did not start a new flow
    expect(t.stats).toMatchObject({ flows: 1, activeFlows: 0, midstreamFlows: 0, ignoredSegments: 2 });
    t.finish();
    expect(f.up.ends).toEqual(['fin']);
  });

  it('mid-stream flow starts at the first data segment and counts', () => {
    const { t, flows } = table();
    t.push(seg(40001, true, 5000, TCP_ACK, '')); // pure ACK: no flow
    expect(flows).toHaveLength(0);
    t.push(seg(40001, false, 9000, TCP_ACK, 'HTTP/1.1 200 OK\r\n'));
    t.push(seg(40001, true, 5000, TCP_ACK, 'GET /x'));
    expect(flows).toHaveLength(1);
    expect(flows[0].info.sawSyn).toBe(false);
    expect(flows[0].info.client.port).toBe(40001);
    expect(t.stats.midstreamFlows).toBe(1);
    t.finish();
    expect(flows[0].up.text).toBe('GET /x');
    expect(flows[0].up.ends).toEqual(['eof']);
    expect(flows[0].down.ends).toEqual(['eof']);
  });

  it('RST ends both directions with rst; late segments of that flow are ignored', () => {
    const { t, flows } = table();
    t.push(seg(40002, true, 1, TCP_SYN));
    t.push(seg(40002, true, 2, TCP_ACK, 'GET'));
    t.push(seg(40002, false, 77, TCP_RST | TCP_ACK));
    t.push(seg(40002, true, 5, TCP_ACK, 'more'));
    expect(flows).toHaveLength(1);
    expect(flows[0].up.ends).toEqual(['rst']);
    expect(flows[0].down.ends).toEqual(['rst']);
    expect(t.stats.activeFlows).toBe(0);
    t.finish();
    expect(flows[0].up.ends).toEqual(['rst']);
  });

  it('a new SYN on a reused 4-tuple starts a new flow, before and after the old one ended', () => {
    const { t, flows } = table();
    connection(t, 40003, 1000, 5000, 'a', 'b');
    connection(t, 40003, 90000, 6000, 'c', 'd');
    expect(flows.map((f) => f.up.text)).toEqual(['a', 'c']);
    // old flow never closed, new SYN with another ISN
    t.push(seg(40004, true, 10, TCP_SYN));
    t.push(seg(40004, true, 11, TCP_ACK, 'x'));
    t.push(seg(40004, true, 10, TCP_SYN)); // retransmitted SYN: same flow
    t.push(seg(40004, true, 500, TCP_SYN));
    t.push(seg(40004, true, 501, TCP_ACK, 'y'));
    t.finish();
    expect(flows.map((f) => f.up.text)).toEqual(['a', 'c', 'x', 'y']);
    expect(flows[2].up.ends).toEqual(['eof']);
    expect(t.stats.reusedFlows).toBe(1);
  });

  it('maxFlows evicts the least recently active flow', () => {
    const { t, flows } = table({ maxFlows: 2 });
    t.push(seg(1, true, 0, TCP_SYN, '', 1));
    t.push(seg(2, true, 0, TCP_SYN, '', 2));
    t.push(seg(1, true, 1, TCP_ACK, 'k', 3)); // flow 1 is now the most recent
    t.push(seg(3, true, 0, TCP_SYN, '', 4));
    expect(flows[1].up.ends).toEqual(['evicted']);
    expect(flows[1].down.ends).toEqual(['evicted']);
    expect(flows[0].up.ends).toEqual([]);
    expect(t.stats).toMatchObject({ evictedFlows: 1, activeFlows: 2 });
    t.finish();
    for (const f of flows) {
      expect(f.up.ends).toHaveLength(1);
      expect(f.down.ends).toHaveLength(1);
    }
  });

  it('idle flows end by packet time and buffered data is flushed with gaps', () => {
    const { t, flows } = table({ idleTimeoutSec: 10 });
    t.push(seg(1, true, 0, TCP_SYN, '', 100));
    t.push(seg(1, true, 5, TCP_ACK, 'late', 100));
    t.push(seg(2, true, 0, TCP_SYN, '', 105));
    t.tick(110);
    expect(flows[0].up.ends).toEqual([]);
    t.tick(110.5);
    expect(flows[0].up.ends).toEqual(['idle']);
    expect(flows[0].up.text).toBe('<gap 4>late');
    expect(flows[1].up.ends).toEqual([]);
    expect(t.stats.idleFlows).toBe(1);
    expect(t.heldBytes).toBe(0);
    // a data segment after the idle end starts a mid-stream flow
    t.push(seg(1, true, 9, TCP_ACK, 'again', 200));
    expect(flows).toHaveLength(3);
    expect(flows[2].info.sawSyn).toBe(false);
  });

  it('live half-closed timeout: a flow the client closed and the server left silent ends after halfClosedTimeoutSec, not at the idle end; one still answering stays', () => {
    const { t, flows } = table({ idleTimeoutSec: 120, halfClosedTimeoutSec: 5 });
    const req = 'GET /latest/meta-data/ HTTP/1.1\r\n\r\n';
    // flow 0: request and FIN, its answer lost (never seen)
    t.push(seg(40000, true, 100, TCP_SYN, '', 10));
    t.push(seg(40000, true, 101, TCP_ACK | TCP_PSH, req, 10));
    t.push(seg(40000, true, 101 + req.length, TCP_ACK | TCP_FIN, '', 10));
    // flow 1: request and FIN, the server still sending at 14 s
    t.push(seg(40001, true, 500, TCP_SYN, '', 10));
    t.push(seg(40001, true, 501, TCP_ACK | TCP_PSH, req, 10));
    t.push(seg(40001, true, 501 + req.length, TCP_ACK | TCP_FIN, '', 10));
    t.push(seg(40001, false, 900, TCP_SYN | TCP_ACK, '', 14));
    // flow 2: no FIN yet, silent: only the idle end applies
    t.push(seg(40002, true, 700, TCP_SYN, '', 10));
    t.push(seg(40002, true, 701, TCP_ACK | TCP_PSH, req, 10));
    expect(flows[0].up.ends).toEqual(['fin']);
    t.endHalfClosed(15);
    expect(flows[0].down.ends).toEqual([]);
    t.endHalfClosed(15.5);
    expect(flows[0].up.ends).toEqual(['fin']);
    expect(flows[0].down.ends).toEqual(['idle']);
    expect(flows[0].up.text).toBe(req);
    expect(flows[1].down.ends).toEqual([]);
    expect(flows[2].up.ends).toEqual([]);
    expect(t.stats.halfClosedFlows).toBe(1);
    t.endHalfClosed(19.5);
    expect(flows[1].down.ends).toEqual(['idle']);
    expect(flows[2].up.ends).toEqual([]);
    expect(t.stats.halfClosedFlows).toBe(2);
    expect(t.stats.activeFlows).toBe(1);
    // the lost answer arriving late starts no flow of its own with a request (a mid-stream answer)
    t.push(seg(40000, false, 300, TCP_ACK | TCP_PSH, 'HTTP/1.1 200 OK\r\n\r\n', 21));
    expect(flows[3]?.info.sawSyn).toBe(false);
    expect(flows[3]?.up.text ?? '').toBe('');
  });

  it('the half-closed timeout is off by default (replay): only the idle end applies', () => {
    const { t, flows } = table({ idleTimeoutSec: 120 });
    t.push(seg(40000, true, 100, TCP_SYN, '', 10));
    t.push(seg(40000, true, 101, TCP_ACK | TCP_FIN, '', 10));
    t.endHalfClosed(100);
    expect(flows[0].down.ends).toEqual([]);
    expect(t.stats.halfClosedFlows).toBe(0);
  });

  it('server SYN-ACK can start the flow; IPv6 keys', () => {
    const { t, flows } = table();
    const s = seg(40010, false, 10, TCP_SYN | TCP_ACK);
    s.src = 'fd00:ec2::254';
    s.dst = 'fd00::1';
    s.ipVersion = 6;
    t.push(s);
    expect(flows[0].info.key).toBe('fd00::1|40010|fd00:ec2::254|80');
    expect(flows[0].info.ipVersion).toBe(6);
    expect(flows[0].info.sawSyn).toBe(false);
  });

  it('many flows: every consumer gets exactly one end', () => {
    const { t, flows } = table({ maxFlows: 50, idleTimeoutSec: 5 });
    for (let i = 0; i < 500; i++) {
      const port = 1000 + (i % 120);
      const kind = i % 7;
      if (kind === 0) t.push(seg(port, true, i, TCP_SYN, '', i / 10));
      else if (kind === 1) t.push(seg(port, true, i, TCP_RST, '', i / 10));
      else if (kind === 2) t.push(seg(port, false, i, TCP_FIN | TCP_ACK, 'z', i / 10));
      else t.push(seg(port, i % 2 === 0, i * 3, TCP_ACK, 'abc', i / 10));
      if (i % 37 === 0) t.tick(i / 10);
    }
    t.finish();
    expect(flows.length).toBeGreaterThan(50);
    for (const f of flows) {
      expect(f.up.ends).toHaveLength(1);
      expect(f.down.ends).toHaveLength(1);
      expect(f.up.afterEnd + f.down.afterEnd).toBe(0);
    }
    expect(t.stats.activeFlows).toBe(0);
    expect(t.heldBytes).toBe(0);
  });

  it('one byte budget over all flows: past it the least recently active flows holding anything are evicted, counted', () => {
    const piece = 100 + PIECE_COST;
    const { t, flows } = table({ memoryBudgetBytes: 5 * piece, maxBufferedBytesPerDirection: 300 });
    const chunk = 'x'.repeat(100);
    // 3 SYN-only flows hold nothing: never evicted by the budget
    for (let f = 0; f < 3; f++) t.push(seg(1000 + f, true, 0, TCP_SYN));
    // 20 flows each skip their first 100 bytes and send one chunk after the hole
    for (let f = 0; f < 20; f++) {
      t.push(seg(2000 + f, true, 0, TCP_SYN));
      t.push(seg(2000 + f, true, 101, TCP_ACK, chunk));
      expect(t.heldBytes).toBeLessThanOrEqual(5 * piece);
    }
    // the first 15 were evicted, oldest first; the last 5 still wait
    expect(t.stats.budgetEvictedFlows).toBe(15);
    expect(t.stats.evictedFlows).toBe(15);
    expect(t.stats.budgetEvictedBytes).toBe(15 * piece);
    const dataFlows = flows.slice(3);
    for (const f of dataFlows.slice(0, 15)) {
      expect(f.up.ends).toEqual(['evicted']);
      expect(f.down.ends).toEqual(['evicted']);
      // what was held is delivered after the hole before the flow ends
      expect(f.up.text).toBe(`<gap 100>${chunk}`);
    }
    for (const f of dataFlows.slice(15)) expect(f.up.ends).toEqual([]);
    for (const f of flows.slice(0, 3)) expect(f.up.ends).toEqual([]);
    expect(t.heldBytes).toBe(5 * piece);
    expect(t.snapshot()).toMatchObject({ heldBytes: 5 * piece, heldBytesPeak: 6 * piece, activeFlows: 8 });
    // activity makes a flow the last to go: flow 15 (the oldest left) sends again, then a new flow pushes one out
    t.push(seg(2015, true, 1, TCP_ACK, 'y'));
    expect(t.heldBytes).toBe(5 * piece); // 'y' filled the hole's first byte: still a hole before the chunk
    t.push(seg(3000, true, 0, TCP_SYN));
    t.push(seg(3000, true, 101, TCP_ACK, chunk));
    expect(dataFlows[15].up.ends).toEqual([]);
    expect(dataFlows[16].up.ends).toEqual(['evicted']);
    t.finish();
    expect(t.heldBytes).toBe(0);
    expect(t.stats.gapBytes).toBe(15 * 100 + 99 + 4 * 100 + 100);
    // all of it on the client's side: these holes may hide requests
    expect(t.stats.responseGapBytes).toBe(0);
  });

  it("counts the server side's missing bytes apart (a lost answer cannot hide a request)", () => {
    const { t } = table();
    t.push(seg(3000, true, 0, TCP_SYN));
    t.push(seg(3000, false, 0, TCP_SYN | TCP_ACK));
    t.push(seg(3000, true, 1, TCP_ACK | TCP_PSH, 'GET / HTTP/1.1\r\n\r\n'));
    // the server's first 40 bytes never captured, then 10 more and its FIN
    t.push(seg(3000, false, 41, TCP_ACK | TCP_PSH, 'y'.repeat(10)));
    t.push(seg(3000, false, 51, TCP_ACK | TCP_FIN));
    // and 5 bytes of the client's side missing before its next request
    t.push(seg(3000, true, 24, TCP_ACK | TCP_PSH, 'GET / HTTP/1.1\r\n\r\n'));
    t.finish();
    expect(t.stats.responseGapBytes).toBe(40);
    expect(t.stats.gapBytes).toBe(45);
  });


  it('consumers charge the flow account they are given; an evicted flow releases by onEnd and the budget fits again', () => {
    const ends: string[] = [];
    let n = 0;
    const t = new FlowTable(
      {
        onFlow(_info, memory) {
          const id = n++;
          let held = 0;
          const consumer = (dir: string) => ({
            onData: (d: Buffer) => {
              held += d.length * 1000;
              memory.charge(d.length * 1000);
            },
            onGap: () => {},
            onEnd: (reason: string) => {
              ends.push(`${id} ${dir} ${reason}`);
              memory.release(held);
              held = 0;
            },
          });
          return { toServer: consumer('up'), toClient: consumer('down') };
        },
      },
      { memoryBudgetBytes: 10_000 },
    );
    const open = (port: number, data: string) => {
      t.push(seg(port, true, 0, TCP_SYN));
      t.push(seg(port, true, 1, TCP_ACK, data));
    };
    open(1, 'abcd');
    open(2, 'abcd');
    expect(t.heldBytes).toBe(8000);
    // flow 0 is active again: flow 1 is now the least recently active
    t.push(seg(1, true, 5, TCP_ACK));
    open(3, 'abcd'); // 12 000 > 10 000
    expect(ends).toEqual(['1 up evicted', '1 down evicted']);
    expect(t.heldBytes).toBe(8000);
    expect(t.stats).toMatchObject({ budgetEvictedFlows: 1, budgetEvictedBytes: 4000, evictedFlows: 1 });
    t.finish();
    expect(t.heldBytes).toBe(0);
    expect(t.snapshot().heldBytesPeak).toBe(12_000);
  });
});
