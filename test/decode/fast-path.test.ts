/**
 * The decoder's fast path (plainNotImds: header bytes read in the reader's buffer, no view)
 * must never drop a frame the full path would keep or count differently: same segments,
 * same counters (so the unread-IMDS accounting of src/decode/unread-imds.ts is the same),
 * for random frames of every link type, IMDS or not, fragmented, tagged, truncated, mutated.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Decoder } from '../../src/decode/decoder.js';
import { plainNotImds } from '../../src/decode/fast-path.js';
import type { TcpSegment } from '../../src/decode/packet.js';
import { unreadImdsPackets } from '../../src/decode/unread-imds.js';
import { ChunkFrame, type Frame } from '../../src/source/frame.js';
import { readCaptureFile } from '../../src/source/capture-file.js';
import { ethernet, extAh, extFragment, extOpts, ipv4, ipv6, nullLink, sll, sll2, tcp, type Ext } from './frame-bytes.js';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const IMDS4 = '169.254.169.254';
const IMDS6 = 'fd00:ec2::254';

interface In {
  linkType: number;
  data: Buffer;
  origLen: number;
  sec: number;
}

/** NFLOG frame (little-endian TLVs) around an IP packet */
function nflog(ip: Buffer, family = 2): Buffer {
  const h = Buffer.from([family, 0, 0, 0]);
  const tlv = Buffer.alloc(4);
  tlv.writeUInt16LE(4 + ip.length, 0);
  tlv.writeUInt16LE(9, 2);
  const pad = Buffer.alloc((4 - (ip.length % 4)) % 4);
  return Buffer.concat([h, tlv, ip, pad]);
}

const v4Addr = fc.oneof(
  fc.constant(IMDS4),
  fc.constant('169.254.169.253'),
  fc.constant('10.0.0.5'),
  fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((a) => a.join('.')),
);
const v6Addr = fc.oneof(fc.constant(IMDS6), fc.constant('fd00:ec2::253'), fc.constant('fd00:1::1'), fc.constant('::'), fc.constant('fe80::1'));
const port = fc.oneof(fc.constant(80), fc.constant(443), fc.integer({ min: 0, max: 65535 }));
const payload = fc.uint8Array({ maxLength: 60 }).map((a) => Buffer.from(a));

const tcpBytes = fc
  .record({ srcPort: port, dstPort: port, seq: fc.nat(), flags: fc.nat(255), doff: fc.option(fc.integer({ min: 0, max: 15 }), { freq: 5 }), payload })
  .map((o) => tcp({ srcPort: o.srcPort, dstPort: o.dstPort, seq: o.seq, flags: o.flags, doff: o.doff ?? undefined }, o.payload));

const ip4 = fc
  .record({
    src: v4Addr,
    dst: v4Addr,
    proto: fc.oneof(fc.constant(6), fc.constant(6), fc.constant(17), fc.nat(255)),
    // DF, MF, offsets, and a random field
    frag: fc.oneof(fc.constant(0x4000), fc.constant(0), fc.constant(0x2000), fc.constant(0x0003), fc.constant(0x2003), fc.nat(0xffff)),
    optWords: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 3 })),
    totalLen: fc.option(fc.nat(0xffff), { freq: 6 }),
    vihl: fc.option(fc.nat(255), { freq: 8 }),
    body: tcpBytes,
  })
  .map((o) =>
    ipv4(
      { src: o.src, dst: o.dst, proto: o.proto, frag: o.frag, options: Buffer.alloc(o.optWords * 4, 1), totalLen: o.totalLen ?? undefined, vihl: o.vihl ?? undefined },
      o.body,
    ),
  );

const ext: fc.Arbitrary<Ext> = fc.oneof(
  fc.constantFrom(0, 43, 60).map((t) => extOpts(t as 0 | 43 | 60)),
  fc.tuple(fc.integer({ min: 0, max: 20 }), fc.boolean()).map(([o, m]) => extFragment(o, m)),
  fc.constant(extAh()),
);
const ip6 = fc
  .record({
    src: v6Addr,
    dst: v6Addr,
    next: fc.oneof(fc.constant(6), fc.constant(17), fc.constant(58), fc.nat(255)),
    ext: fc.array(ext, { maxLength: 3 }),
    payloadLen: fc.option(fc.nat(0xffff), { freq: 6 }),
    body: tcpBytes,
  })
  .map((o) => ipv6({ src: o.src, dst: o.dst, next: o.next, ext: o.ext, payloadLen: o.payloadLen ?? undefined }, o.body));

const ipPacket = fc.oneof(ip4, ip6);
const etypeOf = (ip: Buffer) => (ip[0] >> 4 === 6 ? 0x86dd : 0x0800);

/** a frame of some link type around an IP packet (or not IP at all) */
const frameIn: fc.Arbitrary<In> = fc
  .record({
    ip: ipPacket,
    link: fc.constantFrom('eth', 'eth-vlan', 'eth-qinq', 'eth-oldqinq', 'eth-other', 'sll', 'sll2', 'raw101', 'raw12', 'raw228', 'raw229', 'null-le', 'null-be', 'loop', 'nflog', 'unknown'),
    // cut the captured bytes (snaplen) or keep them whole
    cut: fc.option(fc.nat(120), { freq: 3 }),
    // flip a byte somewhere
    flip: fc.option(fc.tuple(fc.nat(200), fc.nat(255)), { freq: 4 }),
    sec: fc.integer({ min: 1_700_000_000, max: 1_700_000_100 }),
  })
  .map((o) => {
    const ip = o.ip;
    let linkType = 1;
    let data: Buffer;
    switch (o.link) {
      case 'eth':
        data = ethernet(etypeOf(ip), ip);
        break;
      case 'eth-vlan':
        data = ethernet(etypeOf(ip), ip, [0x8100]);
        break;
      case 'eth-qinq':
        data = ethernet(etypeOf(ip), ip, [0x88a8, 0x8100]);
        break;
      case 'eth-oldqinq':
        data = ethernet(etypeOf(ip), ip, [0x9100]);
        break;
      case 'eth-other':
        data = ethernet(0x0806, ip);
        break;
      case 'sll':
        linkType = 113;
        data = sll(etypeOf(ip), ip);
        break;
      case 'sll2':
        linkType = 276;
        data = sll2(etypeOf(ip), ip);
        break;
      case 'raw101':
        linkType = 101;
        data = ip;
        break;
      case 'raw12':
        linkType = 12;
        data = ip;
        break;
      case 'raw228':
        linkType = 228;
        data = ip;
        break;
      case 'raw229':
        linkType = 229;
        data = ip;
        break;
      case 'null-le':
        linkType = 0;
        data = nullLink(ip[0] >> 4 === 6 ? 30 : 2, true, ip);
        break;
      case 'null-be':
        linkType = 0;
        data = nullLink(ip[0] >> 4 === 6 ? 10 : 2, false, ip);
        break;
      case 'loop':
        linkType = 108;
        data = nullLink(ip[0] >> 4 === 6 ? 24 : 2, false, ip);
        break;
      case 'nflog':
        linkType = 239;
        data = nflog(ip);
        break;
      default:
        linkType = 147;
        data = ethernet(etypeOf(ip), ip);
    }
    const origLen = data.length;
    if (o.flip !== null && data.length > 0) {
      data = Buffer.from(data);
      data[o.flip[0] % data.length] = o.flip[1];
    }
    if (o.cut !== null) data = data.subarray(0, Math.min(data.length, o.cut));
    return { linkType, data, origLen, sec: o.sec };
  });

function plainFrame(x: In): Frame {
  return { sec: x.sec, nsec: 7, linkType: x.linkType, data: Buffer.from(x.data), origLen: x.origLen, iface: 0 };
}

/** the same frame as the file readers give it: bytes inside a larger buffer, random bytes around them */
function chunkFrame(x: In, pad: number, fill: number): ChunkFrame {
  const big = Buffer.alloc(pad + x.data.length + 64, fill);
  x.data.copy(big, pad);
  const f = new ChunkFrame(big);
  f.sec = x.sec;
  f.nsec = 7;
  f.linkType = x.linkType;
  f.origLen = x.origLen;
  f.setBytes(pad, x.data.length);
  return f;
}

function seen(s: TcpSegment | null): unknown {
  return s === null ? null : { ...s, payload: s.payload.toString('hex') };
}

function decodeBoth(frames: In[], pad: number, fill: number) {
  const slow = new Decoder();
  const fast = new Decoder();
  // the pipeline's decoder: one segment object refilled by every decode
  const reusing = new Decoder({ reuseSegment: true });
  const a: unknown[] = [];
  const b: unknown[] = [];
  const c: unknown[] = [];
  const segs = new Set<TcpSegment>();
  let fastDropped = 0;
  for (const x of frames) {
    a.push(seen(slow.decode(plainFrame(x))));
    const cf = chunkFrame(x, pad, fill);
    if (plainNotImds(cf.chunk, cf.chunkAt, cf.caplen, cf.linkType)) fastDropped++;
    b.push(seen(fast.decode(cf)));
    const s = reusing.decode(chunkFrame(x, pad, fill));
    if (s !== null) segs.add(s);
    c.push(seen(s));
  }
  return { slow, fast, reusing, a, b, c, segs, fastDropped };
}

describe('decoder fast path', () => {
  it('gives the same segments and counters as the full path on random frames', () => {
    let dropped = 0;
    let total = 0;
    fc.assert(
      fc.property(fc.array(frameIn, { minLength: 1, maxLength: 30 }), fc.nat(40), fc.constantFrom(0, 0xff, 0xa9, 0xfe), (frames, pad, fill) => {
        const { slow, fast, reusing, a, b, c, segs, fastDropped } = decodeBoth(frames, pad, fill);
        dropped += fastDropped;
        total += frames.length;
        expect(b).toEqual(a);
        expect(fast.stats).toEqual(slow.stats);
        expect(c).toEqual(a);
        expect(reusing.stats).toEqual(slow.stats);
        expect(segs.size).toBeLessThanOrEqual(1);
        expect(unreadImdsPackets(fast.stats)).toBe(unreadImdsPackets(slow.stats));
        expect(fast.reassembly?.fragmentsUnread ?? 0).toBe(slow.reassembly?.fragmentsUnread ?? 0);
      }),
      { numRuns: 3000, seed: 14 },
    );
    // the property must exercise both paths: many frames dropped fast, many not
    expect(dropped).toBeGreaterThan(total / 10);
    expect(dropped).toBeLessThan(total * 0.9);
  });

  it('answers true only for frames the full path counts as not IMDS, and never for an IMDS segment', () => {
    fc.assert(
      fc.property(frameIn, (x) => {
        const d = new Decoder();
        const seg = d.decode(plainFrame(x));
        const cf = chunkFrame(x, 3, 0xa9);
        if (plainNotImds(cf.chunk, cf.chunkAt, cf.caplen, cf.linkType)) {
          expect(seg).toBeNull();
          expect(d.stats.notImds).toBe(1);
          expect(d.stats.skipped).toEqual({});
          expect(d.stats.fragments).toBe(0);
          expect(d.reassembly).toBeNull();
        }
      }),
      { numRuns: 5000, seed: 1414 },
    );
  });

  it('sends every IMDS frame and fragment of every link type down the full path', () => {
    const seg = tcp({ srcPort: 40000, dstPort: 80 }, Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    const ips = [
      ipv4({ src: '10.0.0.5', dst: IMDS4 }, seg),
      ipv4({ src: IMDS4, dst: '10.0.0.5' }, seg),
      ipv4({ src: '10.0.0.5', dst: IMDS4, frag: 0x2000 }, seg), // first fragment
      ipv4({ src: '10.0.0.5', dst: IMDS4, frag: 0x0003, proto: 6 }, seg), // a later fragment
      ipv4({ src: '10.0.0.5', dst: IMDS4, options: Buffer.alloc(8, 1) }, seg),
      ipv6({ src: 'fd00:1::1', dst: IMDS6 }, seg),
      ipv6({ src: IMDS6, dst: 'fd00:1::1' }, seg),
      ipv6({ src: 'fd00:1::1', dst: IMDS6, ext: [extOpts(0), extFragment(0, true)] }, seg),
      ipv6({ src: 'fd00:1::1', dst: IMDS6, ext: [extAh(), extOpts(60)] }, seg),
    ];
    for (const ip of ips) {
      const et = etypeOf(ip);
      const frames: Array<[number, Buffer]> = [
        [1, ethernet(et, ip)],
        [1, ethernet(et, ip, [0x8100])],
        [113, sll(et, ip)],
        [276, sll2(et, ip)],
        [101, ip],
        [12, ip],
        [et === 0x0800 ? 228 : 229, ip],
        [0, nullLink(et === 0x0800 ? 2 : 10, true, ip)],
        [239, nflog(ip)],
      ];
      for (const [lt, data] of frames) {
        // whole, and cut at every length
        for (let n = 0; n <= data.length; n++) {
          const cf = chunkFrame({ linkType: lt, data: data.subarray(0, n), origLen: data.length, sec: 1 }, 5, 0);
          expect(plainNotImds(cf.chunk, cf.chunkAt, cf.caplen, cf.linkType), `link type ${lt}, ${n} of ${data.length} bytes`).toBe(false);
        }
      }
    }
  });

  it('drops plain non-IMDS IPv4, IPv6 and other ethertypes without a view', () => {
    const seg = tcp({ srcPort: 443, dstPort: 50000 }, Buffer.alloc(100, 0x41));
    const cases: Array<[number, Buffer]> = [
      [1, ethernet(0x0800, ipv4({ src: '10.0.0.9', dst: '10.0.0.5' }, seg))],
      [1, ethernet(0x0800, ipv4({ src: '10.0.0.5', dst: '169.254.169.123', proto: 17 }, seg))],
      [1, ethernet(0x0800, ipv4({ src: '10.0.0.5', dst: IMDS4, proto: 17 }, seg))], // IMDS address, UDP
      [1, ethernet(0x86dd, ipv6({ src: 'fd00:1::1', dst: 'fd00:1::2' }, seg))],
      [1, ethernet(0x0806, Buffer.alloc(28))],
      [113, sll(0x0800, ipv4({ src: '10.0.0.9', dst: '10.0.0.5' }, seg))],
      [276, sll2(0x86dd, ipv6({ src: 'fd00:1::1', dst: 'fd00:1::2' }, seg))],
      [101, ipv4({ src: '10.0.0.9', dst: '10.0.0.5' }, seg)],
    ];
    for (const [lt, data] of cases) {
      const f = chunkFrame({ linkType: lt, data, origLen: data.length, sec: 1 }, 9, 0);
      let viewMade = false;
      const probe = new Proxy(f, {
        get(t, k) {
          if (k === 'data') viewMade = true;
          const v = Reflect.get(t, k, t);
          return typeof v === 'function' ? v.bind(t) : v;
        },
      });
      const d = new Decoder();
      expect(d.decode(probe)).toBeNull();
      expect(d.stats.notImds).toBe(1);
      expect(viewMade).toBe(false);
    }
  });
});

describe('reader + decoder: the fast path in a whole capture', () => {
  it('replays a random capture to the same segments and counters as plain frames', () => {
    fc.assert(
      fc.property(fc.array(frameIn, { minLength: 1, maxLength: 60 }), (frames) => {
        // one classic pcap per link type present (a pcap has one link type)
        const byLink = new Map<number, In[]>();
        for (const x of frames) byLink.set(x.linkType, [...(byLink.get(x.linkType) ?? []), x]);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imdswatch-fastpath-'));
        try {
          for (const [lt, xs] of byLink) {
            const file = path.join(dir, `${lt}.pcap`);
            const parts = [Buffer.alloc(24)];
            parts[0].writeUInt32LE(0xa1b2c3d4, 0);
            parts[0].writeUInt16LE(2, 4);
            parts[0].writeUInt16LE(4, 6);
            parts[0].writeUInt32LE(65535, 16);
            parts[0].writeUInt32LE(lt, 20);
            for (const x of xs) {
              const h = Buffer.alloc(16);
              h.writeUInt32LE(x.sec, 0);
              h.writeUInt32LE(7, 4);
              h.writeUInt32LE(x.data.length, 8);
              h.writeUInt32LE(x.origLen, 12);
              parts.push(h, x.data);
            }
            fs.writeFileSync(file, Buffer.concat(parts));
            const fromFile = new Decoder();
            const got: unknown[] = [];
            readCaptureFile(file, (f) => got.push(seen(fromFile.decode(f))), { chunkSize: 1 });
            const plain = new Decoder();
            const want = xs.map((x) => seen(plain.decode({ ...plainFrame(x), nsec: 7000 })));
            expect(got).toEqual(want);
            expect(fromFile.stats).toEqual(plain.stats);
          }
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 200, seed: 41 },
    );
  });
});

describe('reuseSegment (the pipeline decoder)', () => {
  it('refills one segment object: each decode gives the same object with that frame’s fields', () => {
    const d = new Decoder({ reuseSegment: true });
    const mk = (srcPort: number, body: string) => {
      const ip = ipv4({ src: '10.0.0.5', dst: IMDS4, proto: 6 }, tcp({ srcPort, dstPort: 80, seq: srcPort }, Buffer.from(body)));
      return chunkFrame({ linkType: 1, data: ethernet(0x0800, ip), origLen: 14 + ip.length, sec: srcPort }, 5, 0xa9);
    };
    const first = d.decode(mk(40000, 'GET / HTTP/1.1\r\n'));
    expect(first).not.toBeNull();
    expect(seen(first)).toMatchObject({ srcPort: 40000, seq: 40000, sec: 40000, src: '10.0.0.5', dst: IMDS4, toImds: true });
    const second = d.decode(mk(40001, 'x'));
    expect(second).toBe(first);
    expect(seen(second)).toMatchObject({ srcPort: 40001, seq: 40001, sec: 40001, payload: '78' });
    // without the option every segment is its own object
    const plain = new Decoder();
    expect(plain.decode(mk(1, 'a'))).not.toBe(plain.decode(mk(2, 'b')));
  });
});
