import { describe, expect, it } from 'vitest';
import { createPipeline } from '../../src/pipeline/create-pipeline.js';
import type { ImdsEvent } from '../../src/imds/event.js';
import { interleave, tcpConversation, toRecords, type ConvPacket } from '../support/testkit/tcp-conversation.js';
import { LINKTYPE } from '../support/testkit/packet-builders.js';

/**
 * The same packets through the pipeline as replay runs it (events in capture order) and as the
 * live session runs it (events as each exchange completes): the v1 reasons
 * (src/enrich/reason/v1-reasons.ts, computed from each client's sequence of calls) must be
 * the same (docs/design.md#live-session).
 */
const CLIENT = '10.0.0.5';
const UA = 'Botocore/1.29.0 Python/3.11.2 Linux/6.1.0';
const PUT = `PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: ${UA}\r\nX-aws-ec2-metadata-token-ttl-seconds: 21600\r\n\r\n`;
const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: ${UA}\r\nAccept: */*\r\n\r\n`;
const OK = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok';

/** move every packet of `conv` after index `from` to `sec` (keeps their order) */
function later(conv: ConvPacket[], from: number, sec: number): ConvPacket[] {
  return conv.map((p, i) => (i >= from ? { ...p, sec, nsec: i * 1000 } : p));
}

function run(packets: ConvPacket[], ordered: boolean): ImdsEvent[] {
  const out: ImdsEvent[] = [];
  const p = createPipeline({ onEvent: (ev) => out.push(ev), ordered });
  for (const r of toRecords(packets)) {
    p.pushFrame({ sec: r.sec, nsec: r.nsec ?? 0, linkType: LINKTYPE.RAW, data: r.data, origLen: r.data.length, iface: 0 });
    if (!ordered) p.tick(r.sec);
  }
  p.finish();
  return out;
}

const reasons = (evs: ImdsEvent[]) =>
  evs
    .map((e) => `${e.version} ${e.method} ${e.path} ${e.status} ${e.reason}`)
    .sort();

describe('v1 reasons: live (completion order) = replay (capture order)', () => {
  it('a token PUT left unanswered on a connection that ends after the fallback v1 calls completed', () => {
    // the PUT goes out at 100 s and is never answered (hop limit); the SDK falls back to v1 on
    // new connections at 101 s, which complete at once; the PUT's connection is reset at 104 s
    const put = tcpConversation({ client: { ip: CLIENT, port: 40000 }, requests: [PUT], responses: [null], close: 'rst', startSec: 100 });
    const putLate = later(put, put.length - 1, 104);
    const v1a = tcpConversation({ client: { ip: CLIENT, port: 40001 }, requests: [get('/latest/meta-data/iam/security-credentials/')], responses: [OK], close: 'fin', startSec: 101 });
    const v1b = tcpConversation({ client: { ip: CLIENT, port: 40002 }, requests: [get('/latest/meta-data/iam/security-credentials/role')], responses: [OK], close: 'fin', startSec: 102 });
    const packets = interleave(putLate, v1a, v1b);
    const replay = run(packets, true);
    const live = run(packets, false);
    expect(replay.filter((e) => e.version === 'v1').map((e) => e.reason)).toEqual(['token-put-unanswered', 'token-put-unanswered']);
    expect(reasons(live)).toEqual(reasons(replay));
  });

  it.each([
    ['another address', '10.0.0.6', UA],
    ['another program on the same address (another User-Agent)', CLIENT, 'curl/8.5.0'],
  ])('other clients are not held by a client whose request waits: %s', (_label, ip, ua) => {
    const put = tcpConversation({ client: { ip: CLIENT, port: 40000 }, requests: [PUT], responses: [null], close: 'none', startSec: 100 });
    const request = get('/latest/meta-data/instance-id').replace(UA, ua);
    const other = tcpConversation({ client: { ip, port: 40001 }, requests: [request], responses: [OK], close: 'fin', startSec: 101 });
    const out: ImdsEvent[] = [];
    const p = createPipeline({ onEvent: (ev) => out.push(ev), ordered: false });
    for (const r of toRecords(interleave(put, other))) {
      p.pushFrame({ sec: r.sec, nsec: r.nsec ?? 0, linkType: LINKTYPE.RAW, data: r.data, origLen: r.data.length, iface: 0 });
      p.tick(r.sec);
    }
    // before the end of input: the other client's call is out, the PUT still open
    expect(out.map((e) => `${e.client.ip} ${e.userAgent} ${e.version}`)).toEqual([`${ip} ${ua} v1`]);
    p.finish();
  });
});
