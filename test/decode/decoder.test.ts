import { describe, expect, it } from 'vitest';
import { Decoder } from '../../src/decode/decoder.js';
import type { TcpSegment } from '../../src/decode/packet.js';
import {
  ethernet,
  extAh,
  extFragment,
  extOpts,
  frame,
  ipv4,
  ipv6,
  nullLink,
  sll,
  sll2,
  tcp,
  type Ext,
} from './frame-bytes.js';

const GET = Buffer.from('GET /latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n');
const CLIENT = '10.0.0.5';
const IMDS = '169.254.169.254';
const IMDS6 = 'fd00:ec2::254';
const CLIENT6 = '2001:db8::5';

const v4Req = ipv4({ src: CLIENT, dst: IMDS, ttl: 64 }, tcp({ srcPort: 40000, dstPort: 80, seq: 0xfffffff0, ack: 7 }, GET));
const v6Req = ipv6({ src: CLIENT6, dst: IMDS6, hopLimit: 255 }, tcp({ srcPort: 40001, dstPort: 80 }, GET));

function decodeOne(linkType: number, data: Buffer, origLen?: number): { seg: TcpSegment | null; dec: Decoder } {
  const dec = new Decoder();
  const seg = dec.decode(frame(linkType, data, origLen));
  expect(dec.stats.frames).toBe(1);
  return { seg, dec };
}

describe('link types', () => {
  const rows: { name: string; linkType: number; data: Buffer; v: 4 | 6 }[] = [
    { name: 'Ethernet IPv4', linkType: 1, data: ethernet(0x0800, v4Req), v: 4 },
    { name: 'Ethernet IPv6', linkType: 1, data: ethernet(0x86dd, v6Req), v: 6 },
    { name: 'Ethernet 802.1Q', linkType: 1, data: ethernet(0x0800, v4Req, [0x8100]), v: 4 },
    { name: 'Ethernet QinQ 88a8+8100', linkType: 1, data: ethernet(0x86dd, v6Req, [0x88a8, 0x8100]), v: 6 },
    { name: 'Ethernet old QinQ 9100 stacked x3', linkType: 1, data: ethernet(0x0800, v4Req, [0x9100, 0x8100, 0x8100]), v: 4 },
    { name: 'Linux SLL', linkType: 113, data: sll(0x0800, v4Req), v: 4 },
    { name: 'Linux SLL IPv6', linkType: 113, data: sll(0x86dd, v6Req), v: 6 },
    { name: 'Linux SLL2', linkType: 276, data: sll2(0x0800, v4Req), v: 4 },
    { name: 'Linux SLL2 IPv6', linkType: 276, data: sll2(0x86dd, v6Req), v: 6 },
    { name: 'raw IP (101) v4', linkType: 101, data: v4Req, v: 4 },
    { name: 'raw IP (101) v6', linkType: 101, data: v6Req, v: 6 },
    { name: 'raw IP (12) v4', linkType: 12, data: v4Req, v: 4 },
    { name: 'raw IPv4 (228)', linkType: 228, data: v4Req, v: 4 },
    { name: 'raw IPv6 (229)', linkType: 229, data: v6Req, v: 6 },
    { name: 'null AF 2 little-endian', linkType: 0, data: nullLink(2, true, v4Req), v: 4 },
    { name: 'null AF 2 big-endian', linkType: 0, data: nullLink(2, false, v4Req), v: 4 },
    { name: 'loop AF 2', linkType: 108, data: nullLink(2, false, v4Req), v: 4 },
    ...[10, 24, 28, 30].flatMap((af) => [
      { name: `null AF ${af} LE`, linkType: 0, data: nullLink(af, true, v6Req), v: 6 as const },
      { name: `loop AF ${af} BE`, linkType: 108, data: nullLink(af, false, v6Req), v: 6 as const },
    ]),
  ];
  for (const row of rows) {
    it(row.name, () => {
      const { seg, dec } = decodeOne(row.linkType, row.data);
      expect(seg).not.toBeNull();
      expect(dec.stats.imdsSegments).toBe(1);
      expect(seg!.payload.toString()).toBe(GET.toString());
      expect(seg!.toImds).toBe(true);
      expect(seg!.missing).toBe(0);
      if (row.v === 4) {
        expect(seg).toMatchObject({ ipVersion: 4, src: CLIENT, dst: IMDS, srcPort: 40000, dstPort: 80, ttl: 64 });
        expect(seg).toMatchObject({ seq: 0xfffffff0, ack: 7, flags: 0x18, sec: 1700000000, nsec: 5 });
      } else {
        expect(seg).toMatchObject({ ipVersion: 6, src: CLIENT6, dst: IMDS6, srcPort: 40001, dstPort: 80, ttl: 255 });
      }
    });
  }

  it('unknown link type is counted under a fixed reason', () => {
    const { seg, dec } = decodeOne(147, v4Req);
    expect(seg).toBeNull();
    expect(dec.stats.skipped).toEqual({ 'unknown-linktype': 1 });
    expect([...dec.unknownLinkTypes]).toEqual([147]);
  });

  it('non-IP ethertypes and AFs are not IMDS', () => {
    const dec = new Decoder();
    dec.decode(frame(1, ethernet(0x0806, Buffer.alloc(28))));
    dec.decode(frame(0, nullLink(17, true, v4Req)));
    expect(dec.stats.notImds).toBe(2);
  });
});

describe('direction and what is IMDS', () => {
  const resp = Buffer.from('HTTP/1.1 200 OK\r\n\r\n');
  const rows: { name: string; pkt: Buffer; imds: boolean; toImds?: boolean }[] = [
    { name: 'response from IMDS', pkt: ipv4({ src: IMDS, dst: CLIENT }, tcp({ srcPort: 80, dstPort: 40000 }, resp)), imds: true, toImds: false },
    { name: 'IPv6 response', pkt: ipv6({ src: IMDS6, dst: CLIENT6 }, tcp({ srcPort: 80, dstPort: 40000 }, resp)), imds: true, toImds: false },
    { name: '169.254.169.123 (NTP) is not IMDS', pkt: ipv4({ src: CLIENT, dst: '169.254.169.123' }, tcp({ srcPort: 1, dstPort: 80 })), imds: false },
    { name: '169.254.169.253 (DNS) is not IMDS', pkt: ipv4({ src: CLIENT, dst: '169.254.169.253' }, tcp({ srcPort: 1, dstPort: 80 })), imds: false },
    { name: 'IMDS address, other port', pkt: ipv4({ src: CLIENT, dst: IMDS }, tcp({ srcPort: 1, dstPort: 8080 })), imds: false },
    { name: 'IMDS address, UDP', pkt: ipv4({ src: CLIENT, dst: IMDS, proto: 17 }, Buffer.alloc(8)), imds: false },
    { name: 'fd00:ec2::253 is not IMDS', pkt: ipv6({ src: CLIENT6, dst: 'fd00:ec2::253' }, tcp({ srcPort: 1, dstPort: 80 })), imds: false },
    { name: 'fd00:ec3::254 is not IMDS', pkt: ipv6({ src: CLIENT6, dst: 'fd00:ec3::254' }, tcp({ srcPort: 1, dstPort: 80 })), imds: false },
    { name: 'background traffic', pkt: ipv4({ src: CLIENT, dst: '10.0.0.9' }, tcp({ srcPort: 443, dstPort: 80 })), imds: false },
    { name: 'ICMPv6 to IMDS', pkt: ipv6({ src: CLIENT6, dst: IMDS6, next: 58 }, Buffer.alloc(8)), imds: false },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const { seg, dec } = decodeOne(101, row.pkt);
      if (row.imds) {
        expect(seg?.toImds).toBe(row.toImds);
        expect(dec.stats.imdsSegments).toBe(1);
      } else {
        expect(seg).toBeNull();
        expect(dec.stats.notImds).toBe(1);
        expect(dec.stats.skipped).toEqual({});
      }
    });
  }
});

describe('IPv4', () => {
  it('options (IHL > 5) are skipped over', () => {
    const opts = Buffer.from([0x94, 0x04, 0, 0, 1, 1, 1, 0]); // router alert, NOPs, EOL
    const { seg } = decodeOne(228, ipv4({ src: CLIENT, dst: IMDS, options: opts }, tcp({ srcPort: 5, dstPort: 80 }, GET)));
    expect(seg?.payload.toString()).toBe(GET.toString());
  });

  it('Ethernet padding is removed using the total length', () => {
    const small = ipv4({ src: CLIENT, dst: IMDS }, tcp({ srcPort: 5, dstPort: 80, flags: 0x02 }));
    const padded = Buffer.concat([ethernet(0x0800, small), Buffer.alloc(6, 0xaa)]);
    const { seg } = decodeOne(1, padded);
    expect(seg?.payload.length).toBe(0);
    expect(seg?.flags).toBe(0x02);
  });

  it('snaplen cut: missing = bytes past the capture', () => {
    const full = ethernet(0x0800, v4Req);
    const cut = full.subarray(0, full.length - 10);
    const { seg } = decodeOne(1, cut, full.length);
    expect(seg?.payload.toString()).toBe(GET.subarray(0, GET.length - 10).toString());
    expect(seg?.missing).toBe(10);
  });

  it('total length 0 (TSO) takes the frame length', () => {
    const pkt = ipv4({ src: CLIENT, dst: IMDS, totalLen: 0 }, tcp({ srcPort: 5, dstPort: 80 }, GET));
    const { seg } = decodeOne(228, pkt);
    expect(seg?.payload.length).toBe(GET.length);
  });

  const fragRows = [
    { name: 'MF set, offset 0', frag: 0x2000 },
    { name: 'offset != 0, last', frag: 0x0010 },
    { name: 'MF set and offset', frag: 0x2010 },
  ];
  for (const f of fragRows) {
    it(`fragment (${f.name}) is held for reassembly and counted as unread until it completes`, () => {
      const { seg, dec } = decodeOne(228, ipv4({ src: CLIENT, dst: IMDS, frag: f.frag }, tcp({ srcPort: 5, dstPort: 80 }, GET)));
      expect(seg).toBeNull();
      expect(dec.stats.fragments).toBe(1);
    });
  }

  const cutV4 = ipv4({ src: CLIENT, dst: IMDS }, tcp({ srcPort: 5, dstPort: 80 }, GET));
  const badRows: { name: string; data: Buffer; reason: string; linkType?: number; origLen?: number }[] = [
    { name: 'header shorter than 20', data: v4Req.subarray(0, 19), reason: 'ipv4-bad-header' },
    { name: 'IHL < 5', data: ipv4({ src: CLIENT, dst: IMDS, vihl: 0x44 }, tcp({ srcPort: 5, dstPort: 80 })), reason: 'ipv4-bad-header' },
    { name: 'IHL past the packet', data: ipv4({ src: CLIENT, dst: IMDS, vihl: 0x4f }, Buffer.alloc(4)), reason: 'ipv4-bad-header' },
    { name: 'version 5', data: ipv4({ src: CLIENT, dst: IMDS, vihl: 0x55 }, tcp({ srcPort: 5, dstPort: 80 })), reason: 'ipv4-bad-header' },
    { name: 'total length < IHL', data: ipv4({ src: CLIENT, dst: IMDS, totalLen: 12 }, tcp({ srcPort: 5, dstPort: 80 })), reason: 'ipv4-bad-total-length' },
    {
      name: 'total length past the frame on the wire',
      data: ipv4({ src: CLIENT, dst: IMDS, totalLen: 60000 }, tcp({ srcPort: 5, dstPort: 80 }, GET)),
      reason: 'ipv4-bad-total-length',
    },
    { name: 'TCP data offset < 5', data: ipv4({ src: CLIENT, dst: IMDS }, tcp({ srcPort: 5, dstPort: 80, doff: 4 })), reason: 'tcp-bad-data-offset' },
    { name: 'TCP data offset past the packet', data: ipv4({ src: CLIENT, dst: IMDS }, tcp({ srcPort: 5, dstPort: 80, doff: 15 })), reason: 'tcp-bad-data-offset' },
    { name: 'TCP header cut by the snaplen', data: cutV4.subarray(0, 30), origLen: cutV4.length, reason: 'tcp-header-truncated' },
    {
      name: 'TCP header longer than the IP packet',
      data: ipv4({ src: CLIENT, dst: IMDS, totalLen: 30 }, tcp({ srcPort: 5, dstPort: 80 }, GET)),
      reason: 'tcp-bad-header',
    },
    { name: 'raw IP with version 7', data: Buffer.from([0x70, 0, 0, 0]), reason: 'raw-ip-bad-version', linkType: 101 },
  ];
  for (const row of badRows) {
    it(`${row.name} → skipped['${row.reason}']`, () => {
      const { seg, dec } = decodeOne(row.linkType ?? 228, row.data, row.origLen);
      expect(seg).toBeNull();
      expect(dec.stats.skipped).toEqual({ [row.reason]: 1 });
    });
  }

  it('TCP options are skipped via the data offset', () => {
    const opts = Buffer.from('020405b40402080a0000000100000000', 'hex').subarray(0, 12); // MSS, SACK-perm, TS (part)
    const pkt = ipv4({ src: CLIENT, dst: IMDS }, tcp({ srcPort: 5, dstPort: 80, options: opts }, GET));
    expect(decodeOne(228, pkt).seg?.payload.toString()).toBe(GET.toString());
  });
});

describe('IPv6 extension headers', () => {
  const seg = tcp({ srcPort: 5, dstPort: 80 }, GET);
  const ok: { name: string; ext: Ext[] }[] = [
    { name: 'hop-by-hop', ext: [extOpts(0)] },
    { name: 'hop-by-hop, routing, dest opts', ext: [extOpts(0), extOpts(43, 2), extOpts(60, 1)] },
    { name: 'atomic fragment (offset 0, M=0)', ext: [extFragment(0, false)] },
    { name: 'AH', ext: [extAh(4)] },
  ];
  for (const row of ok) {
    it(row.name, () => {
      const { seg: s } = decodeOne(229, ipv6({ src: CLIENT6, dst: IMDS6, ext: row.ext }, seg));
      expect(s?.payload.toString()).toBe(GET.toString());
    });
  }

  it('fragments are held for reassembly and counted as unread until they complete', () => {
    const dec = new Decoder();
    dec.decode(frame(229, ipv6({ src: CLIENT6, dst: IMDS6, ext: [extFragment(0, true)] }, seg)));
    dec.decode(frame(229, ipv6({ src: CLIENT6, dst: IMDS6, ext: [extOpts(0), extFragment(100, false)] }, seg)));
    expect(dec.stats.fragments).toBe(2);
    expect(dec.stats.imdsSegments).toBe(0);
  });

  it('a long chain of extension headers stops at the bound', () => {
    const ext = Array.from({ length: 40 }, () => extOpts(60));
    const { seg: s, dec } = decodeOne(229, ipv6({ src: CLIENT6, dst: IMDS6, ext }, seg));
    expect(s).toBeNull();
    expect(dec.stats.skipped).toEqual({ 'ipv6-too-many-ext-headers': 1 });
  });

  it('an extension header running past the packet', () => {
    const pkt = ipv6({ src: CLIENT6, dst: IMDS6, ext: [extOpts(0)] }, Buffer.alloc(0));
    pkt[41] = 200; // hdr ext len far beyond the packet
    const { dec } = decodeOne(229, pkt);
    expect(dec.stats.skipped).toEqual({ 'ipv6-ext-header-truncated': 1 });
  });

  it('IPv6 header cut short', () => {
    const { dec } = decodeOne(229, v6Req.subarray(0, 39));
    expect(dec.stats.skipped).toEqual({ 'ipv6-header-truncated': 1 });
  });

  it('payload length past the frame on the wire', () => {
    const { dec } = decodeOne(229, ipv6({ src: CLIENT6, dst: IMDS6, payloadLen: 65000 }, seg));
    expect(dec.stats.skipped).toEqual({ 'ipv6-bad-payload-length': 1 });
  });

  it('payload length 0 without a jumbo header on a small frame', () => {
    const { dec } = decodeOne(229, ipv6({ src: CLIENT6, dst: IMDS6, payloadLen: 0 }, seg));
    expect(dec.stats.skipped).toEqual({ 'ipv6-bad-payload-length': 1 });
  });

  it('payload length 0 after a hop-by-hop header (jumbogram) takes the frame length', () => {
    const { seg: s } = decodeOne(229, ipv6({ src: CLIENT6, dst: IMDS6, payloadLen: 0, ext: [extOpts(0)] }, seg));
    expect(s?.payload.toString()).toBe(GET.toString());
  });

  it('snaplen cut IPv6: missing bytes', () => {
    const { seg: s } = decodeOne(229, v6Req.subarray(0, v6Req.length - 7), v6Req.length);
    expect(s?.missing).toBe(7);
  });
});

describe('stats keys are fixed strings, never packet content', () => {
  it('many random frames produce only known reasons', () => {
    const dec = new Decoder();
    let s = 12345;
    const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0), s >>> 16);
    for (let i = 0; i < 5000; i++) {
      const base = [v4Req, v6Req][i % 2];
      const b = Buffer.from(ethernet(i % 2 ? 0x86dd : 0x0800, base));
      for (let k = 0; k < 3; k++) b[rnd() % b.length] = rnd() & 0xff;
      dec.decode(frame([1, 101, 113, 276, 0][i % 5], b.subarray(0, rnd() % (b.length + 1))));
    }
    const known = /^(ethernet-truncated|sll-truncated|sll2-truncated|raw-ip-truncated|raw-ip-bad-version|loopback-truncated|unknown-linktype|vlan-too-many-tags|vlan-truncated|ipv4-bad-header|ipv4-bad-total-length|ipv6-bad-payload-length|ipv6-header-truncated|ipv6-bad-header|ipv6-too-many-ext-headers|ipv6-ext-header-truncated|ipv6-nested-fragment|ip-fragment-duplicate|ip-fragment-overlap-conflict|ip-fragment-after-reassembly|ip-reassembly-[a-z-]+|tcp-bad-header|tcp-header-truncated|tcp-bad-data-offset)$/;
    for (const k of Object.keys(dec.stats.skipped)) expect(k).toMatch(known);
    const total =
      dec.stats.imdsSegments + dec.stats.notImds + dec.stats.fragments + Object.values(dec.stats.skipped).reduce((a, b) => a + b, 0);
    expect(total).toBe(5000);
  });
});
