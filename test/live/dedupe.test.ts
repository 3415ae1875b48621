import { describe, expect, it } from 'vitest';
import type { TcpSegment } from '../../src/decode/packet.js';
import { connectionKey, dedupeKey, SegmentDeduper } from '../../src/live/dedupe.js';

const SYN = 0x02, ACK = 0x10, PSH = 0x08;
function seg(o: Partial<TcpSegment>): TcpSegment {
  return {
    sec: 0, nsec: 0, ipVersion: 4, src: '10.213.2.2', dst: '169.254.169.254', srcPort: 40000, dstPort: 80,
    seq: 1000, ack: 0, flags: SYN, ttl: 64, payload: Buffer.alloc(0), missing: 0, toImds: true, ...o,
  };
}
const reply = (o: Partial<TcpSegment>) => seg({ src: '169.254.169.254', dst: '10.213.2.2', srcPort: 80, dstPort: 40000, toImds: false, ...o });
const natted = (s: TcpSegment): TcpSegment =>
  s.toImds ? { ...s, src: '10.213.1.2', srcPort: 61000 } : { ...s, dst: '10.213.1.2', dstPort: 61000 };

describe('dedupe keys', () => {
  it('ignore addresses and ports, keep seq/ack/flags/payload and direction', () => {
    const a = seg({ payload: Buffer.from('GET / HTTP/1.1\r\n\r\n'), flags: PSH | ACK, seq: 5, ack: 9 });
    expect(dedupeKey(natted(a))).toBe(dedupeKey(a));
    expect(dedupeKey({ ...a, payload: Buffer.from('GET /x HTTP/1.1\r\n\r\n') })).not.toBe(dedupeKey(a));
    expect(dedupeKey({ ...a, seq: 6 })).not.toBe(dedupeKey(a));
    expect(dedupeKey({ ...a, toImds: false })).not.toBe(dedupeKey(a));
    expect(connectionKey(a)).toBe(connectionKey(reply({})));
  });
});

describe('SegmentDeduper', () => {
  it('passes one copy of a packet seen twice with the same 4-tuple (veth, then bridge)', () => {
    const d = new SegmentDeduper();
    expect(d.acceptSegment(seg({}), 0)).toBe(true);
    expect(d.acceptSegment(seg({}), 0.01)).toBe(false);
    expect(d.stats()).toMatchObject({ passed: 1, duplicates: 1 });
  });

  it('keeps a whole connection under its first 4-tuple when a NATed copy follows (both directions)', () => {
    const d = new SegmentDeduper();
    const passed: string[] = [];
    const push = (s: TcpSegment, ms: number) => {
      if (d.acceptSegment(s, ms)) passed.push(`${connectionKey(s)} ${s.flags}`);
    };
    const syn = seg({});
    push(syn, 0); // container veth / bridge
    push(natted(syn), 0.02); // uplink after MASQUERADE
    const synAck = reply({ flags: SYN | ACK, seq: 7000, ack: 1001 });
    push(natted(synAck), 1); // uplink first on the way back
    push(synAck, 1.02); // then the bridge, de-NATed
    const req = seg({ flags: PSH | ACK, seq: 1001, ack: 7001, payload: Buffer.from('GET /latest/meta-data/ HTTP/1.1\r\n\r\n') });
    push(req, 2);
    push(natted(req), 2.02);
    const canon = connectionKey(syn);
    expect(passed).toEqual([`${canon} ${SYN}`, `${canon} ${SYN | ACK}`, `${canon} ${PSH | ACK}`]);
    expect(d.canonicalOf(connectionKey(natted(syn)))).toBe(canon);
    expect(d.stats()).toMatchObject({ passed: 3, aliasDrops: 3, aliases: 1 });
  });

  it('does not merge different connections or the same packet outside the window', () => {
    const d = new SegmentDeduper({ windowMs: 50 });
    expect(d.acceptSegment(seg({ seq: 1 }), 0)).toBe(true);
    expect(d.acceptSegment(seg({ seq: 2, srcPort: 40001 }), 0)).toBe(true);
    expect(d.acceptSegment(seg({ seq: 1 }), 1_000)).toBe(true); // a retransmission a second later
  });

  it('stays bounded', () => {
    const d = new SegmentDeduper({ maxRecent: 100, maxAliases: 10, windowMs: 1e9 });
    for (let i = 0; i < 10_000; i++) {
      const s = seg({ seq: i, srcPort: 1000 + (i % 50000) });
      d.acceptSegment(s, i);
      d.acceptSegment(natted({ ...s, srcPort: 1000 + (i % 50000) }), i);
    }
    expect(d.stats().aliases).toBeLessThanOrEqual(10);
  });

  it('remembers at most maxRecent packets, the oldest forgotten first; the window expires them by time', () => {
    const d = new SegmentDeduper({ maxRecent: 3, windowMs: 100 });
    for (let i = 1; i <= 4; i++) expect(d.acceptSegment(seg({ seq: i }), i)).toBe(true);
    expect(d.acceptSegment(seg({ seq: 1 }), 5)).toBe(true); // forgotten at the 4th: read again
    expect(d.acceptSegment(seg({ seq: 4 }), 6)).toBe(false);
    expect(d.acceptSegment(seg({ seq: 4 }), 200)).toBe(true); // past the window
    // a copy differs in one field only: never taken for the packet
    const p = seg({ seq: 7, ack: 8, flags: PSH | ACK, payload: Buffer.from('GET / HTTP/1.1\r\n\r\n') });
    expect(d.acceptSegment(p, 300)).toBe(true);
    expect(d.acceptSegment({ ...p, ack: 9 }, 300)).toBe(true);
    expect(d.acceptSegment({ ...p, flags: ACK }, 300)).toBe(true);
    expect(d.acceptSegment({ ...p, payload: Buffer.from('GET /x HTTP/1.1\r\n\r\n') }, 300)).toBe(true);
    expect(d.acceptSegment({ ...p, toImds: false, src: p.dst, dst: p.src, srcPort: p.dstPort, dstPort: p.srcPort }, 300)).toBe(true);
    expect(d.stats()).toMatchObject({ passed: 11, duplicates: 1, aliasDrops: 0 });
  });
});
