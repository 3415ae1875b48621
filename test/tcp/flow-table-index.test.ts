import { describe, expect, it } from 'vitest';
import { FlowTable } from '../../src/tcp/flow-table.js';
import { TCP_ACK, TCP_PSH, TCP_SYN, type TcpSegment } from '../../src/decode/packet.js';
import type { FlowInfo } from '../../src/tcp/stream.js';
import { Recorder } from './helpers.js';

/**
 * The flow table finds a segment's flow by its client port and the key's parts, without
 * making the text key: connections that share a client port (containers with their own
 * addresses, an IPv4 and an IPv6 client, the two IMDS addresses) stay apart, and an
 * IPv4-mapped IPv6 client is the IPv4 flow, as flowKey says.
 */
function seg(client: string, server: string, port: number, toImds: boolean, seq: number, flags: number, data = ''): TcpSegment {
  return {
    sec: 0,
    nsec: 0,
    ipVersion: client.includes(':') ? 6 : 4,
    src: toImds ? client : server,
    dst: toImds ? server : client,
    srcPort: toImds ? port : 80,
    dstPort: toImds ? 80 : port,
    seq: seq >>> 0,
    ack: 0,
    flags,
    ttl: 64,
    payload: Buffer.from(data, 'latin1'),
    missing: 0,
    toImds,
  };
}

function table() {
  const flows: Array<{ info: FlowInfo; up: Recorder; down: Recorder }> = [];
  const t = new FlowTable({
    onFlow(info) {
      const f = { info, up: new Recorder(), down: new Recorder() };
      flows.push(f);
      return { toServer: f.up, toClient: f.down };
    },
  });
  return { t, flows };
}

const V4 = '169.254.169.254';
const V6 = 'fd00:ec2::254';

describe('FlowTable finds flows without text keys', () => {
  it('connections sharing a client port stay apart, interleaved segment by segment, and each ends once', () => {
    const { t, flows } = table();
    const clients: Array<[string, string]> = [
      ['10.0.0.5', V4],
      ['172.17.0.2', V4],
      ['172.17.0.3', V4],
      ['fd00::5', V6],
      ['10.0.0.5', V6],
    ];
    for (const [i, [c, s]] of clients.entries()) t.push(seg(c, s, 40000, true, 1000 * i, TCP_SYN));
    for (let k = 0; k < 3; k++) for (const [i, [c, s]] of clients.entries()) t.push(seg(c, s, 40000, true, 1000 * i + 1 + k, TCP_ACK | TCP_PSH, String.fromCharCode(97 + i)));
    for (const [i, [c, s]] of clients.entries()) t.push(seg(c, s, 40000, false, 5000 * i, TCP_SYN | TCP_ACK));
    for (const [i, [c, s]] of clients.entries()) t.push(seg(c, s, 40000, false, 5000 * i + 1, TCP_ACK | TCP_PSH, `r${i}`));
    expect(flows).toHaveLength(clients.length);
    expect(flows.map((f) => f.up.text)).toEqual(['aaa', 'bbb', 'ccc', 'ddd', 'eee']);
    expect(flows.map((f) => f.down.text)).toEqual(['r0', 'r1', 'r2', 'r3', 'r4']);
    expect(t.stats).toMatchObject({ flows: 5, activeFlows: 5, midstreamFlows: 0, ignoredSegments: 0 });
    // one in the middle ends by RST; the others go on and a new connection takes its place
    t.push(seg('172.17.0.2', V4, 40000, true, 1004, 0x04));
    t.push(seg('172.17.0.3', V4, 40000, true, 2004, TCP_ACK | TCP_PSH, 'C'));
    t.push(seg('172.17.0.2', V4, 40000, true, 1004, TCP_ACK | TCP_PSH, 'late')); // after the RST: ignored
    expect(flows[2].up.text).toBe('cccC');
    expect(flows[1].up.ends).toEqual(['rst']);
    expect(flows[1].up.text).toBe('bbb');
    t.finish();
    for (const f of flows) expect(f.up.ends).toHaveLength(1);
  });

  it('a port shared by many clients (past the scan bound) still keeps every connection apart', () => {
    const { t, flows } = table();
    const n = 30;
    const ip = (i: number) => `172.18.${i >> 8}.${i & 255}`;
    for (let i = 0; i < n; i++) t.push(seg(ip(i), V4, 40000, true, 100 * i, TCP_SYN));
    for (let k = 0; k < 2; k++) for (let i = 0; i < n; i++) t.push(seg(ip(i), V4, 40000, true, 100 * i + 1 + k, TCP_ACK | TCP_PSH, String.fromCharCode(65 + (i % 26))));
    // every other one resets; their late data is ignored, the rest go on
    for (let i = 0; i < n; i += 2) t.push(seg(ip(i), V4, 40000, true, 100 * i + 3, 0x04));
    for (let i = 0; i < n; i++) t.push(seg(ip(i), V4, 40000, true, 100 * i + 3, TCP_ACK | TCP_PSH, 'z'));
    expect(flows).toHaveLength(n);
    for (let i = 0; i < n; i++) {
      const c = String.fromCharCode(65 + (i % 26));
      expect(flows[i].up.text).toBe(i % 2 === 0 ? c + c : `${c}${c}z`);
    }
    expect(t.stats).toMatchObject({ flows: n, activeFlows: n / 2, ignoredSegments: n / 2 });
    t.finish();
    for (const f of flows) expect(f.up.ends).toHaveLength(1);
  });

  it('an IPv4-mapped IPv6 client is the IPv4 connection (one flow, one key)', () => {
    const { t, flows } = table();
    t.push(seg('10.0.0.7', V4, 41000, true, 10, TCP_SYN));
    t.push(seg('::ffff:10.0.0.7', V4, 41000, true, 11, TCP_ACK | TCP_PSH, 'GET'));
    t.push(seg('::ffff:10.0.0.7', V4, 41000, false, 99, TCP_SYN | TCP_ACK));
    expect(flows).toHaveLength(1);
    expect(flows[0].info.key).toBe(`10.0.0.7|41000|${V4}|80`);
    expect(flows[0].up.text).toBe('GET');
  });
});
