import { describe, expect, it } from 'vitest';
import { Decoder } from '../../src/decode/decoder.js';
import { DATAGRAM_OVERHEAD, DEFAULT_REASSEMBLY_LIMITS, FRAGMENT_OVERHEAD } from '../../src/decode/ip-reassembly.js';
import type { TcpSegment } from '../../src/decode/packet.js';
import type { Frame } from '../../src/source/frame.js';
import { fragmentIp, ipTcp, ipv4Fragment, ipv6Fragment, type TcpSpec } from '../support/testkit/pcap-writer.js';

const REQ = 'GET /latest/meta-data/iam/security-credentials/ HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: curl/8\r\nX-aws-ec2-metadata-token: fake-token-for-tests\r\n\r\n';
const spec = (v6: boolean, o: Partial<TcpSpec> = {}): TcpSpec => ({
  src: v6 ? 'fd00::5' : '10.0.0.5',
  dst: v6 ? 'fd00:ec2::254' : '169.254.169.254',
  srcPort: 40000,
  dstPort: 80,
  seq: 1000,
  ack: 2000,
  flags: 'PA',
  payload: REQ,
  ipId: 0x4242,
  ...o,
});

function whole(v6: boolean, o: Partial<TcpSpec> = {}): Buffer {
  const p = ipTcp(spec(v6, o));
  if (!v6) p.writeUInt16BE(0, 6); // clear DF: the packet is fragmented
  return p;
}

/** decode raw IP frames one second... apart by `step` seconds; returns the segments */
function run(dec: Decoder, packets: Buffer[], step = 0, t0 = 100): TcpSegment[] {
  const out: TcpSegment[] = [];
  packets.forEach((data, i) => {
    const f: Frame = { sec: t0 + i * step, nsec: i, linkType: 101, data, origLen: data.length, iface: 0 };
    const s = dec.decode(f);
    if (s) out.push({ ...s, payload: Buffer.from(s.payload) });
  });
  return out;
}

function fields(s: TcpSegment) {
  return { src: s.src, dst: s.dst, srcPort: s.srcPort, dstPort: s.dstPort, seq: s.seq, ack: s.ack, flags: s.flags, ttl: s.ttl, payload: s.payload.toString('latin1'), missing: s.missing, toImds: s.toImds };
}

const reference = (v6: boolean) => fields(run(new Decoder(), [whole(v6)])[0]);

for (const v6 of [false, true]) {
  const name = v6 ? 'IPv6' : 'IPv4';
  describe(`${name} fragments to IMDS`, () => {
    it('in order: one segment, the same as the unfragmented packet', () => {
      const dec = new Decoder();
      const frags = fragmentIp(whole(v6), 48);
      expect(frags.length).toBeGreaterThan(3);
      const segs = run(dec, frags);
      expect(segs.map(fields)).toEqual([reference(v6)]);
      expect(dec.stats.fragments).toBe(0);
      expect(dec.stats.imdsSegments).toBe(1);
      expect(dec.reassembly?.reassembled).toBe(1);
      expect(dec.stats.skipped).toEqual({});
    });

    it('reversed, with duplicates: one segment, duplicates counted', () => {
      const dec = new Decoder();
      const frags = fragmentIp(whole(v6), 16).reverse();
      const segs = run(dec, [frags[0], frags[1], frags[1], ...frags.slice(2, -1), frags[3]].concat(frags.slice(-1)));
      expect(segs.map(fields)).toEqual([reference(v6)]);
      expect(dec.stats.skipped).toEqual({ 'ip-fragment-duplicate': 2 });
      expect(dec.stats.fragments).toBe(0);
    });

    it('the token header only in a later fragment: the reassembled request carries it', () => {
      const p = whole(v6);
      const at = REQ.indexOf('X-aws-ec2');
      const cut = (at & ~7) - 8; // the first fragment ends before the header name
      const frags = [v6 ? ipv6Fragment(p, 0, cut) : ipv4Fragment(p, 0, cut), v6 ? ipv6Fragment(p, cut, 4096) : ipv4Fragment(p, cut, 4096)];
      expect(frags[0].includes('X-aws-ec2')).toBe(false);
      const segs = run(new Decoder(), frags);
      expect(segs[0].payload.toString('latin1')).toContain('X-aws-ec2-metadata-token: ');
    });

    it('overlapping fragments, conflicting bytes: the first copy wins, the conflict is counted', () => {
      const p = whole(v6);
      const frag = (a: number, b: number) => (v6 ? ipv6Fragment(p, a, b) : ipv4Fragment(p, a, b));
      const evil = frag(32, 96);
      evil.fill(0x41, evil.length - 64); // a range already held, other bytes
      const dec = new Decoder();
      const segs = run(dec, [frag(0, 96), evil, frag(96, 4096)]);
      expect(segs.map(fields)).toEqual([reference(v6)]);
      expect(dec.stats.skipped).toEqual({ 'ip-fragment-overlap-conflict': 1 });
    });

    it('overlapping fragments with the same bytes are no conflict', () => {
      const p = whole(v6);
      const frag = (a: number, b: number) => (v6 ? ipv6Fragment(p, a, b) : ipv4Fragment(p, a, b));
      const dec = new Decoder();
      const segs = run(dec, [frag(0, 96), frag(48, 160), frag(144, 4096)]);
      expect(segs.map(fields)).toEqual([reference(v6)]);
      expect(dec.stats.skipped).toEqual({});
    });

    it('a fragment past the end the last fragment set is a conflict and is dropped', () => {
      const p = whole(v6);
      const frag = (a: number, b: number, more?: boolean) => (v6 ? ipv6Fragment(p, a, b, { more }) : ipv4Fragment(p, a, b, more));
      const dec = new Decoder();
      // a "last" fragment ending at 64, then data beyond it
      const segs = run(dec, [frag(32, 64, false), frag(64, 128, true)]);
      expect(segs).toEqual([]);
      expect(dec.stats.skipped).toEqual({ 'ip-fragment-overlap-conflict': 1 });
      expect(dec.stats.fragments).toBe(2);
    });

    it('a missing fragment: held until the timeout (packet time), then counted; its fragments stay unread', () => {
      const frags = fragmentIp(whole(v6), 48);
      const dec = new Decoder();
      run(dec, frags.slice(1), 0, 100);
      expect(dec.stats.fragments).toBe(frags.length - 1);
      expect(dec.reassembly?.pending).toBe(1);
      // any later frame moves packet time: an unrelated packet past the timeout
      run(dec, [ipTcp({ ...spec(false), dst: '10.9.9.9', payload: '' })], 0, 100 + DEFAULT_REASSEMBLY_LIMITS.timeoutSec + 1);
      expect(dec.reassembly?.pending).toBe(0);
      expect(dec.stats.skipped).toEqual({ 'ip-reassembly-timeout': 1 });
      expect(dec.stats.fragments).toBe(frags.length - 1);
      expect(dec.reassembly?.bytesHeld).toBe(0);
    });

    it('a fragment cut by the snaplen makes its datagram unreadable (counted, no segment)', () => {
      const frags = fragmentIp(whole(v6), 64);
      const dec = new Decoder();
      const segs: TcpSegment[] = [];
      frags.forEach((data, i) => {
        const cut = i === 1 ? data.subarray(0, data.length - 10) : data;
        const s = dec.decode({ sec: 1, nsec: i, linkType: 101, data: cut, origLen: data.length, iface: 0 });
        if (s) segs.push(s);
      });
      expect(segs).toEqual([]);
      expect(dec.stats.skipped).toEqual({ 'ip-reassembly-truncated': 1 });
      expect(dec.stats.fragments).toBe(frags.length);
    });

    it('copies of a reassembled datagram (capture on any) are no unread fragments', () => {
      const frags = fragmentIp(whole(v6), 48);
      const dec = new Decoder();
      // veth and bridge copies interleaved; the bridge copy of the last fragment is lost
      const seen = frags.flatMap((f, i) => (i === frags.length - 1 ? [f] : [f, f]));
      const segs = run(dec, [...seen, frags[0]]);
      expect(segs).toHaveLength(1);
      expect(dec.stats.fragments).toBe(0);
      expect(dec.stats.skipped['ip-fragment-after-reassembly']).toBe(1);
      // the echo never completes: when it times out nothing is counted as unread
      run(dec, [ipTcp({ ...spec(false), dst: '10.9.9.9', payload: '' })], 0, 1000);
      expect(dec.stats.fragments).toBe(0);
      expect(dec.stats.skipped['ip-reassembly-timeout']).toBeUndefined();
    });
  });
}

describe('bounds', () => {
  it('datagrams in progress: the oldest is evicted and counted', () => {
    const dec = new Decoder({ reassembly: { maxDatagrams: 4 } });
    const firsts = Array.from({ length: 10 }, (_, i) => ipv4Fragment(whole(false, { ipId: i }), 0, 48));
    run(dec, firsts);
    expect(dec.reassembly?.pending).toBe(4);
    expect(dec.stats.skipped).toEqual({ 'ip-reassembly-evicted': 6 });
    expect(dec.stats.fragments).toBe(10);
    // the newest ones still complete
    const segs = run(dec, [ipv4Fragment(whole(false, { ipId: 9 }), 48, 4096)]);
    expect(segs).toHaveLength(1);
    expect(dec.stats.fragments).toBe(9);
  });

  it('bytes held stay under maxBytes', () => {
    const maxBytes = 8 * 1024;
    const dec = new Decoder({ reassembly: { maxBytes } });
    const firsts = Array.from({ length: 200 }, (_, i) => ipv4Fragment(whole(false, { ipId: i }), 0, 96));
    run(dec, firsts);
    const r = dec.reassembly!;
    expect(r.peakBytesHeld).toBeLessThanOrEqual(maxBytes);
    expect(r.bytesHeld).toBeLessThanOrEqual(maxBytes);
    const perDatagram = DATAGRAM_OVERHEAD + 20 + 96 + FRAGMENT_OVERHEAD;
    expect(r.pending).toBe(Math.floor(maxBytes / perDatagram));
    expect(dec.stats.skipped['ip-reassembly-evicted']).toBe(200 - r.pending);
  });

  it('fragments per datagram', () => {
    const dec = new Decoder({ reassembly: { maxFragments: 8 } });
    const segs = run(dec, fragmentIp(whole(false), 8));
    expect(segs).toEqual([]);
    // the rest start a new datagram (as in Linux), dropped the same way
    expect(Object.keys(dec.stats.skipped)).toEqual(['ip-reassembly-too-many-fragments']);
    expect(dec.stats.skipped['ip-reassembly-too-many-fragments']).toBeGreaterThanOrEqual(1);
    expect(dec.stats.fragments).toBe(fragmentIp(whole(false), 8).length);
  });

  it('a datagram longer than 65535 bytes is dropped', () => {
    const dec = new Decoder();
    const last = ipv4Fragment(whole(false), 0, 64, false);
    last.writeUInt16BE(0x1fff, 6); // offset 65528, 64 bytes: past 65535
    last.writeUInt16BE(0, 10);
    run(dec, [last]);
    expect(dec.stats.skipped).toEqual({ 'ip-reassembly-too-large': 1 });
    expect(dec.reassembly?.pending).toBe(0);
  });

  it('fragments of other hosts are not IMDS and cost nothing', () => {
    const dec = new Decoder();
    run(dec, fragmentIp(whole(false, { dst: '10.1.1.1' }), 48));
    run(dec, fragmentIp(whole(true, { dst: 'fd00::77' }), 48));
    expect(dec.reassembly).toBeNull();
    expect(dec.stats.fragments).toBe(0);
  });
});

describe('IPv6 fragment header placement', () => {
  const exts = [{ type: 0, data: Buffer.from([1, 4, 0, 0, 0, 0]) }, { type: 60, data: Buffer.from([1, 4, 0, 0, 0, 0]) }];
  it('after a hop-by-hop header, with destination options in the fragmentable part', () => {
    const p = ipTcp(spec(true, { extHeaders: exts }));
    const want = fields(run(new Decoder(), [p])[0]);
    const frags = fragmentIp(p, 32, { unfragmentable: 1 });
    const segs = run(new Decoder(), [frags[2], frags[0], ...frags.slice(3), frags[1]]);
    expect(segs.map(fields)).toEqual([want]);
  });

  it('after both extension headers', () => {
    const p = ipTcp(spec(true, { extHeaders: exts }));
    const frags = fragmentIp(p, 40, { unfragmentable: 2 });
    expect(run(new Decoder(), frags.reverse()).map(fields)).toEqual([fields(run(new Decoder(), [p])[0])]);
  });

  it('a fragment header inside a reassembled datagram is not reassembled again', () => {
    const inner = ipv6Fragment(whole(true), 0, 64, { id: 7 }); // a fragment, as the payload of an outer datagram
    const frags = fragmentIp(inner, 48, { id: 8 });
    const dec = new Decoder();
    expect(run(dec, frags)).toEqual([]);
    expect(dec.stats.skipped).toEqual({ 'ipv6-nested-fragment': 1 });
  });

  it('a UDP fragment to IMDS is not IMDS', () => {
    const p = whole(true);
    const f = ipv6Fragment(p, 0, 48);
    f[40] = 17; // the fragment header's next header: UDP
    const dec = new Decoder();
    run(dec, [f]);
    expect(dec.stats.notImds).toBe(1);
    expect(dec.reassembly).toBeNull();
  });
});

describe('the fuzz property catches a decoder that does not reassemble', () => {
  it('skipping fragments (the old behaviour) fails ip-reassembly', async () => {
    const fc = (await import('fast-check')).default;
    // @ts-expect-error plain ESM module shared with the long runner, no type declarations
    const { makeProperties } = await import('../../bench/lib/fuzz-properties.mjs');
    const { srcModules } = await import('../fuzz/modules.js');
    class SkipsFragments extends Decoder {
      decode(f: Frame): TcpSegment | null {
        const d = f.data;
        // IPv4 MF or offset; IPv6 fragment header right after the fixed header
        const isFragment = d[0] >> 4 === 4 ? (d.readUInt16BE(6) & 0x3fff) !== 0 : d[6] === 44;
        return isFragment ? null : super.decode(f);
      }
    }
    const props = makeProperties({ ...srcModules, Decoder: SkipsFragments }, fc) as Array<{ name: string; arb: unknown; check: (v: unknown) => void }>;
    const p = props.find((x) => x.name === 'ip-reassembly')!;
    const r = fc.check(fc.property(p.arb as never, (v) => p.check(v)), { numRuns: 200, seed: 42 });
    expect(r.failed).toBe(true);
  });
});
