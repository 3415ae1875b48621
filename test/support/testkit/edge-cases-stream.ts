/** Edge cases of TCP reassembly and HTTP parsing (all Ethernet, classic pcap). */
import { type EdgeCase, T0, at, pcapCase } from './edge-case.js';
import { IMDS4, put, v1, v2 } from './edge-exchanges.js';
import { httpGet, httpRequest, httpResponse } from './http-text.js';
import { TOKEN, UA } from './fake-values.js';
import { type ConvPacket, interleave, retime, tcpConversation } from './tcp-conversation.js';
import { TCP_FLAGS, tcpFlags } from './packet-builders.js';
import type { Exchange } from './edge-scenario.js';

const C = '10.0.1.23';

function isData(p: ConvPacket): boolean {
  return p.dir === 'toServer' && p.spec.payload !== undefined && p.spec.payload.length > 0;
}

/** R2 carries a token header; R1 is the same length with the header renamed. */
function overlapPair(): { r1: string; r2: string; h: number } {
  const r2 = httpGet('/latest/meta-data/iam/security-credentials/', { userAgent: UA.boto3, headers: [['X-aws-ec2-metadata-token', TOKEN]] });
  const r1 = r2.replace('X-aws-ec2-metadata-token', 'X-Amzn-Trace-Padding-Hdr');
  if (r1.length !== r2.length) throw new Error('overlap pair lengths differ');
  return { r1, r2, h: r2.indexOf('X-aws-ec2-metadata-token') };
}

/** Replace the client's single data segment of `packets` by `segs` ([offset, bytes] in emission order). */
function replaceData(packets: ConvPacket[], segs: Array<[number, string]>): ConvPacket[] {
  const i = packets.findIndex(isData);
  const d = packets[i];
  const repl = segs.map(([off, bytes]) => ({ ...d, spec: { ...d.spec, seq: (d.spec.seq + off) >>> 0, payload: Buffer.from(bytes, 'latin1') } }));
  return retime([...packets.slice(0, i), ...repl, ...packets.slice(i + 1)], packets[0].sec, 10_000_000);
}

export const streamCases: EdgeCase[] = [
  pcapCase('baseline', 'Reference capture: aws-cli gets a token and reads credentials with it (token + two v2), then curl reads instance-id without a token (v1).', (s) =>
    [
      ...s.session({ client: at(C, 41000), startSec: T0 }, [put(UA.awsCli)]),
      ...s.session({ client: at(C, 41001), startSec: T0 + 1 }, [v2('/latest/meta-data/iam/security-credentials/', UA.awsCli)]),
      ...s.session({ client: at(C, 41002), startSec: T0 + 2 }, [v2('/latest/meta-data/iam/security-credentials/imdswatch-test-role', UA.awsCli)]),
      ...s.session({ client: at(C, 41003), startSec: T0 + 3 }, [v1('/latest/meta-data/instance-id', UA.curl, { reason: 'no-token-attempt' })]),
    ]),

  pcapCase('split-header-name', 'v2 GET whose token header name is split across two segments ("X-aws-ec2-" | "metadata-token"), and the method split after "GE".', (s) => {
    const x = v2('/latest/meta-data/instance-id', UA.goV1);
    const at0 = (x.req as string).indexOf('X-aws-ec2-metadata-token') + 'X-aws-ec2-'.length;
    return s.session({ client: at(C, 41010), startSec: T0, split: [2, at0] }, [x]);
  }),

  pcapCase('split-every-byte', 'Token PUT and v2 GET sent one byte per TCP segment.', (s) => [
    ...s.session({ client: at(C, 41020), startSec: T0, split: 'byte', stepNs: 10_000 }, [put(UA.boto3)]),
    ...s.session({ client: at(C, 41021), startSec: T0 + 1, split: 'byte', stepNs: 10_000 }, [v2('/latest/meta-data/placement/region', UA.boto3)]),
  ]),

  pcapCase('out-of-order', 'v2 GET in four segments sent in the order 2,0,3,1 (the first byte arrives second), then an in-order v1 GET.', (s) => {
    const x = v2('/latest/meta-data/iam/security-credentials/', UA.javaV2);
    return [
      ...s.session({ client: at(C, 41030), startSec: T0, stepNs: 10_000_000, split: [20, 60, 100], order: [2, 0, 3, 1] }, [x]),
      ...s.session({ client: at(C, 41031), startSec: T0 + 1 }, [v1('/latest/meta-data/ami-id', UA.javaV2)]),
    ];
  }),

  pcapCase('overlap-first-wins', 'A segment retransmitted with different bytes overlapping data already received: the first copy names a harmless header, the overlapping copy a token header. First copy wins (as Linux delivers), so the call is v1.', (s) => {
    const { r1, r2, h } = overlapPair();
    const pk = s.session({ client: at(C, 41040), startSec: T0 }, [{ req: r1, res: httpResponse(200, 'imdswatch-test-role'), ev: { version: 'v1', method: 'GET', path: '/latest/meta-data/iam/security-credentials/', status: 200, userAgent: UA.boto3 } }]);
    return replaceData(pk, [
      [0, r1.slice(0, h + 26)],
      [h, r2.slice(h)],
    ]);
  }),

  pcapCase('overlap-out-of-order', 'Two out-of-order segments overlap with different bytes before the hole is filled: the earlier-arriving one (harmless header) wins over the later one (token header), so the call is v1.', (s) => {
    const { r1, r2, h } = overlapPair();
    const pk = s.session({ client: at(C, 41050), startSec: T0 }, [{ req: r1, res: httpResponse(200, 'imdswatch-test-role'), ev: { version: 'v1', method: 'GET', path: '/latest/meta-data/iam/security-credentials/', status: 200, userAgent: UA.boto3 } }]);
    return replaceData(pk, [
      [h, r1.slice(h, h + 40)],
      [h + 10, r2.slice(h + 10)],
      [0, r1.slice(0, h)],
    ]);
  }),

  pcapCase('duplicates', 'Every client segment (SYN included) and the response are sent twice, and the first request segment is retransmitted again after the response: exactly one v1 event.', (s) => {
    const pk = s.session({ client: at(C, 41060), startSec: T0, split: [30] }, [v1('/latest/meta-data/hostname', UA.javaV2)]);
    const out: ConvPacket[] = [];
    for (const p of pk) {
      out.push(p);
      const f = tcpFlags(p.spec.flags);
      if (isData(p) || (f & TCP_FLAGS.SYN) !== 0 || (p.dir === 'toClient' && p.spec.payload && p.spec.payload.length > 0)) out.push(p);
    }
    const firstData = pk.find(isData) as ConvPacket;
    const finIdx = out.findIndex((p) => p.dir === 'toClient' && (tcpFlags(p.spec.flags) & TCP_FLAGS.FIN) !== 0);
    out.splice(finIdx, 0, firstData);
    return retime(out, T0, 10_000_000);
  }),

  pcapCase('pipelined-three', 'Three pipelined requests on one keep-alive connection (v1, v2, v1) before any response; the third is answered 404.', (s) =>
    s.session({ client: at(C, 41070), startSec: T0, pipeline: true }, [
      v1('/latest/meta-data/', UA.curl, { res: { keepAlive: true } }),
      v2('/latest/meta-data/instance-id', UA.curl, { res: { keepAlive: true } }),
      v1('/latest/meta-data/no-such-item', UA.curl, { status: 404, res: { keepAlive: true } }),
    ])),

  pcapCase('mixed-case-token-header', 'Header names in odd case: a PUT with "x-aws-ec2-metadata-token-ttl-seconds" (token) and a GET with "x-AWS-ec2-metadata-TOKEN" (v2).', (s) => [
    ...s.session({ client: at(C, 41080), startSec: T0 }, [put(UA.goV1, { ttlHeaderName: 'x-aws-ec2-metadata-token-ttl-seconds' })]),
    ...s.session({ client: at(C, 41081), startSec: T0 + 1 }, [v2('/latest/meta-data/instance-type', UA.goV1, { headerName: 'x-AWS-ec2-metadata-TOKEN' })]),
  ]),

  pcapCase('token-in-url', 'The token only in the query string (?X-aws-ec2-metadata-token=...): v1; the path is reported without the query.', (s) => {
    const req = httpGet(`/latest/meta-data/ami-id?X-aws-ec2-metadata-token=${TOKEN}`, { userAgent: UA.curl });
    return s.session({ client: at(C, 41090), startSec: T0 }, [{ req, res: httpResponse(200, 'ami-0fake0000imdswatch'), ev: { version: 'v1', method: 'GET', path: '/latest/meta-data/ami-id', status: 200, userAgent: UA.curl } }]);
  }),

  pcapCase('token-in-body', 'The token header text only in a GET body (Content-Length): v1.', (s) => {
    const req = httpRequest('/latest/meta-data/ami-id', { userAgent: UA.curl, body: `X-aws-ec2-metadata-token: ${TOKEN}\r\n` });
    return s.session({ client: at(C, 41100), startSec: T0 }, [{ req, res: httpResponse(200, 'ami-0fake0000imdswatch'), ev: { version: 'v1', method: 'GET', path: '/latest/meta-data/ami-id', status: 200, userAgent: UA.curl } }]);
  }),

  pcapCase('token-empty-value', 'The token header present with an empty value, once as "X-aws-ec2-metadata-token: " and once as "X-aws-ec2-metadata-token:": both v1.', (s) => {
    const a = httpGet('/latest/meta-data/instance-id', { userAgent: UA.curl, headers: [['X-aws-ec2-metadata-token', '']] });
    const b = httpGet('/latest/meta-data/instance-id', { userAgent: UA.curl }).replace('Accept: */*\r\n', 'Accept: */*\r\nX-aws-ec2-metadata-token:\r\n');
    const ev = { version: 'v1' as const, method: 'GET', path: '/latest/meta-data/instance-id', status: 200, userAgent: UA.curl };
    return [
      ...s.session({ client: at(C, 41110), startSec: T0 }, [{ req: a, res: httpResponse(200, 'i-0fake0000imdswatch'), ev }]),
      ...s.session({ client: at(C, 41111), startSec: T0 + 1 }, [{ req: b, res: httpResponse(200, 'i-0fake0000imdswatch'), ev }]),
    ];
  }),

  pcapCase('head-request', 'HEAD (v1) answered 200 with Content-Length but no body, then a v2 GET on the same keep-alive connection (a parser that waits for a HEAD body loses it).', (s) => {
    const head: Exchange = {
      req: httpRequest('/latest/meta-data/', { method: 'HEAD', userAgent: UA.curl }),
      res: httpResponse(200, '', { contentLength: 71, keepAlive: true }),
      ev: { version: 'v1', method: 'HEAD', path: '/latest/meta-data/', status: 200, userAgent: UA.curl },
    };
    return s.session({ client: at(C, 41120), startSec: T0 }, [head, v2('/latest/meta-data/local-ipv4', UA.curl)]);
  }),

  pcapCase('http10', 'HTTP/1.0 request, answered by an HTTP/1.0 response without Content-Length (body ends at the server FIN): v1, status 200.', (s) =>
    s.session({ client: at(C, 41130), startSec: T0 }, [v1('/latest/meta-data/instance-id', UA.cloudInit, { version: 'HTTP/1.0', res: { version: 'HTTP/1.0', noLength: true } })])),

  pcapCase('token-put-403', 'Token PUT through a proxy that adds X-Forwarded-For, answered 403; the client falls back to a v1 GET.', (s) => [
    ...s.session({ client: at(C, 41140), startSec: T0 }, [put(UA.boto3, { status: 403, extraHeaders: [['X-Forwarded-For', '10.0.1.99']] })]),
    ...s.session({ client: at(C, 41141), startSec: T0 + 1 }, [v1('/latest/meta-data/iam/security-credentials/', UA.boto3, { reason: 'token-put-rejected' })]),
  ]),

  pcapCase('token-put-unanswered', 'Token PUT that gets no answer (hop limit 1 dropped it; the client resets after 1 s), then a v1 GET from the same client: status null on the PUT.', (s) => [
    ...s.session({ client: at('172.17.0.2', 41150), startSec: T0, close: 'rst' }, [put(UA.boto3, { status: null })]),
    ...s.session({ client: at('172.17.0.2', 41151), startSec: T0 + 1 }, [v1('/latest/meta-data/iam/security-credentials/', UA.boto3, { reason: 'token-put-unanswered' })]),
  ]),

  pcapCase('v1-401', 'A token-less GET answered 401 (IMDSv2 is already required: this software is broken now).', (s) =>
    s.session({ client: at(C, 41160), startSec: T0 }, [v1('/latest/meta-data/iam/security-credentials/', UA.curl, { status: 401 })])),

  pcapCase('request-without-response', 'A v1 GET the client resets before any answer, and a v1 GET still unanswered when the capture ends: both status null.', (s) => [
    ...s.session({ client: at(C, 41170), startSec: T0, close: 'rst' }, [v1('/latest/meta-data/instance-id', UA.curl, { status: null })]),
    ...s.session({ client: at(C, 41171), startSec: T0 + 1, close: 'none' }, [v1('/latest/meta-data/ami-id', UA.curl, { status: null })]),
  ]),

  pcapCase('chunked-response', 'v1 GET answered with a chunked body (7-byte chunks), then a v2 GET on the same connection answered with Content-Length.', (s) =>
    s.session({ client: at(C, 41180), startSec: T0 }, [
      v1('/latest/meta-data/', UA.goHttp, { res: { chunked: 7, keepAlive: true } }),
      v2('/latest/meta-data/instance-id', UA.goHttp),
    ])),

  pcapCase('mid-connection-start', 'The capture starts after the handshakes: one connection begins with a whole v1 request (reported), another with the tail of a request (its start was not captured: no event).', (s) => {
    const tail = httpGet('/latest/meta-data/instance-id', { userAgent: UA.curl, headers: [['X-aws-ec2-metadata-token', TOKEN]] });
    const cut = tail.indexOf('Accept:');
    const pb = tcpConversation({ client: at(C, 41191), startSec: T0 + 1, handshake: false, requests: [tail.slice(cut)], responses: [httpResponse(200, 'i-0fake0000imdswatch')] });
    return [...s.session({ client: at(C, 41190), startSec: T0, handshake: false }, [v1('/latest/meta-data/ami-id', UA.curl)]), ...pb];
  }),

  pcapCase('seq-wraparound', 'Sequence numbers wrap past 2^32 inside the request (split across the wrap) and inside the response.', (s) =>
    s.session({ client: at(C, 41200), startSec: T0, clientIsn: 0xffffffc0, serverIsn: 0xfffffff0, split: [40, 80] }, [v2('/latest/meta-data/iam/security-credentials/imdswatch-test-role', UA.goV1)])),

  pcapCase('interleaved-clients', 'Three clients whose connections overlap in time: events come in order of each request\'s first byte; one client sends no User-Agent (userAgent null).', (s) => {
    const a = s.session({ client: at('10.0.1.23', 41210), startSec: T0, stepNs: 300_000 }, [put(UA.awsCli)]);
    const b = s.session({ client: at('10.0.1.24', 41211), startSec: T0, startNsec: 100_000, stepNs: 250_000 }, [v1('/latest/meta-data/instance-id', UA.curl)]);
    const c = s.session({ client: at('10.0.1.25', 41212), startSec: T0, startNsec: 50_000, stepNs: 400_000 }, [v1('/latest/meta-data/iam/security-credentials/', null)]);
    return interleave(a, b, c);
  }),

  pcapCase('non-imds-http', 'HTTP that is not IMDS: GET to 10.0.0.1:80, to 169.254.169.254:8080, to [fd00:ec2::254]:8080 and to the ECS endpoint 169.254.170.2:80; then one real IMDS v2 call (the only event).', (s) => {
    const other = (client: { ip: string; port: number }, server: { ip: string; port: number }, t: number): ConvPacket[] =>
      tcpConversation({ client, server, startSec: T0 + t, requests: [httpGet('/latest/meta-data/instance-id', { userAgent: UA.curl, host: server.ip })], responses: [httpResponse(200, 'x')] });
    return [
      ...other(at(C, 41220), at('10.0.0.1', 80), 0),
      ...other(at(C, 41221), at(IMDS4, 8080), 1),
      ...other(at('fd00::1:23', 41222), at('fd00:ec2::254', 8080), 2),
      ...other(at(C, 41223), at('169.254.170.2', 80), 3),
      ...s.session({ client: at(C, 41224), startSec: T0 + 4 }, [v2('/latest/meta-data/instance-id', UA.curl)]),
    ];
  }),
];
