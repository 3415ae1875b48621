import { describe, expect, it } from 'vitest';
import { Decoder } from '../../src/decode/decoder.js';
import { isDecodableLinkType, linkTypeText } from '../../src/decode/link-types.js';
import { nflogPayload } from '../../src/decode/nflog.js';
import { ipTcp, nflog } from '../support/testkit/pcap-writer.js';

const REQ = 'GET /latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n';
const pkt = (v6: boolean) =>
  ipTcp({ src: v6 ? 'fd00::5' : '10.0.0.5', dst: v6 ? 'fd00:ec2::254' : '169.254.169.254', srcPort: 40000, dstPort: 80, seq: 5, ack: 6, flags: 'PA', payload: REQ, ttl: 61 });

function decode(data: Buffer, origLen = data.length) {
  const dec = new Decoder();
  const seg = dec.decode({ sec: 1, nsec: 0, linkType: 239, data, origLen, iface: 0 });
  return { seg, dec };
}

describe('NFLOG (239)', () => {
  for (const v6 of [false, true]) {
    for (const bigEndian of [false, true]) {
      it(`IPv${v6 ? 6 : 4}, TLVs in ${bigEndian ? 'big' : 'little'}-endian host order: the payload TLV's packet`, () => {
        const { seg, dec } = decode(nflog(pkt(v6), { bigEndian }));
        expect(seg?.payload.toString('latin1')).toBe(REQ);
        expect(seg?.ttl).toBe(61);
        expect(seg?.ipVersion).toBe(v6 ? 6 : 4);
        expect(seg?.missing).toBe(0);
        expect(dec.stats.skipped).toEqual({});
      });
    }
  }

  it('a TLV after the payload is not read as IP data', () => {
    const base = nflog(pkt(false));
    const extra = Buffer.from([8, 0, 11, 0, 0, 0, 0, 0]); // NFULA_UID after the payload
    const { seg } = decode(Buffer.concat([base, extra]));
    expect(seg?.payload.toString('latin1')).toBe(REQ);
  });

  it('cut by the snaplen: missing bytes counted like any cut frame', () => {
    const ip = pkt(false);
    const f = nflog(ip);
    const padding = f.length - (f.indexOf(ip) + ip.length);
    const { seg } = decode(f.subarray(0, f.length - 9), f.length);
    expect(seg?.missing).toBe(9 - padding);
  });

  it('payload cut by the kernel (nflog copy range): the IP length says how much is missing', () => {
    const ip = pkt(false);
    const { seg } = decode(nflog(ip.subarray(0, ip.length - 20)));
    expect(seg?.missing).toBe(20);
    expect(seg?.payload.length).toBe(REQ.length - 20);
  });

  const bad: Array<{ name: string; data: Buffer; reason: string }> = [
    { name: 'shorter than header + one TLV', data: Buffer.from([2, 0, 0, 5, 4]), reason: 'nflog-truncated' },
    { name: 'version 1', data: Buffer.concat([Buffer.from([2, 1]), nflog(pkt(false)).subarray(2)]), reason: 'nflog-bad-tlv' },
    { name: 'a TLV length below 4', data: Buffer.from([2, 0, 0, 5, 2, 0, 1, 0, 0, 0, 0, 0]), reason: 'nflog-bad-tlv' },
    { name: 'a TLV past the end', data: Buffer.from([2, 0, 0, 5, 8, 0, 1, 0, 0, 0, 0, 0, 200, 0, 10, 0]), reason: 'nflog-truncated' },
    { name: 'no payload TLV', data: Buffer.from([2, 0, 0, 5, 8, 0, 1, 0, 8, 0, 0, 0]), reason: 'nflog-no-payload' },
    { name: 'an empty payload TLV', data: Buffer.from([2, 0, 0, 5, 4, 0, 9, 0]), reason: 'nflog-no-payload' },
    { name: 'more TLVs than the bound', data: Buffer.concat([Buffer.from([2, 0, 0, 5]), ...Array.from({ length: 70 }, () => Buffer.from([4, 0, 10, 0])), Buffer.from([4, 0, 9, 0])]), reason: 'nflog-bad-tlv' },
  ];
  for (const b of bad) {
    it(`${b.name} → skipped['${b.reason}']`, () => {
      const { seg, dec } = decode(b.data);
      expect(seg).toBeNull();
      expect(dec.stats.skipped).toEqual({ [b.reason]: 1 });
    });
  }

  it('another family (ARP, decnet) is not IMDS', () => {
    const f = nflog(pkt(false), { family: 3 });
    const { dec } = decode(f);
    expect(dec.stats.notImds).toBe(1);
  });

  it('every prefix of a valid frame: no throw, each byte walk bounded', () => {
    const f = nflog(pkt(true), { bigEndian: true });
    for (let n = 0; n <= f.length; n++) {
      const r = nflogPayload(f.subarray(0, n));
      if (typeof r !== 'string') expect(r.start).toBeLessThanOrEqual(n);
    }
  });
});

describe('link types', () => {
  it('the decodable list is what the decoder reads', () => {
    for (const lt of [0, 1, 12, 101, 108, 113, 228, 229, 239, 276]) expect(isDecodableLinkType(lt)).toBe(true);
    for (const lt of [7, 105, 127, 147, 242, 253]) expect(isDecodableLinkType(lt)).toBe(false);
  });
  it('names link types for messages', () => {
    expect(linkTypeText(147)).toBe('147 (USER0)');
    expect(linkTypeText(239)).toBe('239 (NFLOG)');
    expect(linkTypeText(4242)).toBe('4242');
  });
});
