/**
 * The live path decodes through the same Decoder: frames pass the capture deduper
 * (the pipeline's one Decoder, then src/live/dedupe.ts on decoded segments). A fragmented request seen
 * twice on `any` (veth, then bridge: Linux cooked frames) gives one event and leaves no
 * fragment unread (#16).
 */
import { describe, expect, it } from 'vitest';
import { SegmentDeduper } from '../../src/live/dedupe.js';
import { createPipeline } from '../../src/pipeline/create-pipeline.js';
import type { ImdsEvent } from '../../src/imds/event.js';
import { fragmentIp, ipTcp, sll, tcpConversation, httpGet, httpResponse } from '../support/testkit/pcap-writer.js';

function liveRun(copies: 1 | 2): { events: ImdsEvent[]; fragments: number; skipped: Record<string, number> } {
  const conv = tcpConversation({
    client: { ip: '172.17.0.2', port: 41000 },
    requests: [httpGet('/latest/meta-data/instance-id', { userAgent: 'curl/8.0' })],
    responses: [httpResponse(200, 'i-0fake')],
  });
  // as LiveSession wires it: one decode, then the deduper on decoded segments
  const dedupe = new SegmentDeduper();
  const events: ImdsEvent[] = [];
  const pipeline = createPipeline({
    onEvent: (e) => events.push(e),
    observer: { acceptSegment: (seg) => dedupe.acceptSegment(seg, seg.sec * 1000 + seg.nsec / 1e6) },
  });
  let n = 0;
  const push = (ip: Buffer, sec: number) => {
    for (let c = 0; c < copies; c++) {
      const data = sll(ip);
      const f = { sec, nsec: n++ * 1000, linkType: 113, data, origLen: data.length, iface: 0 };
      pipeline.pushFrame(f);
    }
  };
  for (const p of conv) {
    const ip = ipTcp({ ...p.spec, ipId: 0x77 });
    const data = p.dir === 'toServer' && p.spec.payload !== undefined && p.spec.payload.length > 0;
    if (!data) push(ip, p.sec);
    else {
      ip.writeUInt16BE(0, 6);
      for (const f of fragmentIp(ip, 32)) push(f, p.sec);
    }
  }
  pipeline.tick(conv[0].sec + 600); // well past the reassembly timeout
  pipeline.finish();
  const st = pipeline.stats();
  return { events, fragments: st.decode.fragments, skipped: st.decode.skipped };
}

describe('fragments in the live path (deduper + pipeline)', () => {
  it('one copy of each frame: one v1 event, nothing unread', () => {
    const r = liveRun(1);
    expect(r.events.map((e) => e.version)).toEqual(['v1']);
    expect(r.fragments).toBe(0);
  });

  it('two copies of each frame (veth and bridge): still one event, nothing unread', () => {
    const r = liveRun(2);
    expect(r.events.map((e) => e.version)).toEqual(['v1']);
    expect(r.fragments).toBe(0);
    expect(r.skipped['ip-reassembly-timeout']).toBeUndefined();
  });
});
