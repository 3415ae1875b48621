import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HttpRequestParser } from '../../src/http/request-parser.js';
import { bytewise, requests, shape } from './helpers.js';

const V1 = 'GET /latest/meta-data/iam/security-credentials/ HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: aws-sdk-java/1.11.0\r\nAccept: */*\r\n\r\n';
const V2 = 'GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: 169.254.169.254\r\nX-aws-ec2-metadata-token: AQAEAFAKEFAKEFAKE==\r\n\r\n';
const TOKEN_PUT = 'PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\nX-aws-ec2-metadata-token-ttl-seconds: 21600\r\nContent-Length: 5\r\n\r\nhello';
const CHUNKED =
  'POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5;name=val\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: t\r\nX-Other: u\r\n\r\n';
const BARE_LF = 'GET /latest/user-data HTTP/1.0\nHost: 169.254.169.254\nUser-Agent: Wget\n\n';
const HTTP09 = 'GET /latest/meta-data/\r\n';
const FOLDED = 'GET /folded HTTP/1.1\r\nX-Long: first\r\n  second\r\n\tthird\r\nHost: h\r\n\r\n';

/** valid inputs and what they parse to (method, target, version, headers, body length) */
const corpus: Array<{ name: string; text: string; want: Array<[string, string, string, number, number]> }> = [
  { name: 'v1 GET', text: V1, want: [['GET', '/latest/meta-data/iam/security-credentials/', 'HTTP/1.1', 3, 0]] },
  { name: 'token PUT with body', text: TOKEN_PUT, want: [['PUT', '/latest/api/token', 'HTTP/1.1', 3, 5]] },
  {
    name: 'pipelined v1, v2, v1',
    text: V1 + V2 + V1,
    want: [
      ['GET', '/latest/meta-data/iam/security-credentials/', 'HTTP/1.1', 3, 0],
      ['GET', '/latest/meta-data/instance-id', 'HTTP/1.1', 2, 0],
      ['GET', '/latest/meta-data/iam/security-credentials/', 'HTTP/1.1', 3, 0],
    ],
  },
  {
    name: 'chunked with trailers then pipelined',
    text: CHUNKED + TOKEN_PUT + BARE_LF,
    want: [
      ['POST', '/upload', 'HTTP/1.1', 2, 31],
      ['PUT', '/latest/api/token', 'HTTP/1.1', 3, 5],
      ['GET', '/latest/user-data', 'HTTP/1.0', 2, 0],
    ],
  },
  { name: 'bare LF', text: BARE_LF, want: [['GET', '/latest/user-data', 'HTTP/1.0', 2, 0]] },
  {
    name: 'HTTP/0.9 style line then a request, CRLF between',
    text: HTTP09 + '\r\n' + V2,
    want: [
      ['GET', '/latest/meta-data/', '', 0, 0],
      ['GET', '/latest/meta-data/instance-id', 'HTTP/1.1', 2, 0],
    ],
  },
  { name: 'obs-fold', text: FOLDED, want: [['GET', '/folded', 'HTTP/1.1', 2, 0]] },
];

describe('HttpRequestParser', () => {
  for (const c of corpus) {
    describe(c.name, () => {
      const whole = requests([Buffer.from(c.text, 'latin1')]);
      // first-byte offsets of each request, from a byte-at-a-time parse at time = offset
      const starts = requests(bytewise(c.text)).out.map((r) => r.sec);

      it('parses to the expected requests with no error', () => {
        expect(whole.errors).toEqual([]);
        expect(whole.out.map((r) => [r.method, r.target, r.httpVersion, r.headers.length, r.bodyLength])).toEqual(c.want);
        expect(whole.out.every((r) => r.truncated === undefined)).toBe(true);
        expect(starts).toHaveLength(c.want.length);
      });

      it('every split point gives the same result, timed by the first byte', () => {
        const buf = Buffer.from(c.text, 'latin1');
        const expected = shape(whole.out);
        for (let i = 0; i <= buf.length; i++) {
          const r = requests([buf.subarray(0, i), buf.subarray(i)], undefined, { times: [1, 2] });
          expect(r.errors).toEqual([]);
          expect(shape(r.out)).toEqual(expected);
          expect(r.out.map((q) => q.sec)).toEqual(starts.map((s) => (s < i ? 1 : 2)));
        }
      });

      it('random chunkings give the same result', () => {
        const buf = Buffer.from(c.text, 'latin1');
        fc.assert(
          fc.property(fc.array(fc.integer({ min: 0, max: buf.length }), { maxLength: 20 }), (cuts) => {
            const pts = [0, ...[...new Set(cuts)].sort((a, b) => a - b), buf.length];
            const chunks = pts.slice(1).map((p, k) => buf.subarray(pts[k], p));
            const r = requests(chunks);
            expect(shape(r.out)).toEqual(shape(whole.out));
          }),
          { numRuns: 100 },
        );
      });
    });
  }

  it('keeps header names as sent and values raw latin1, trimmed', () => {
    const text = 'GET / HTTP/1.1\r\nx-AWS-ec2-Metadata-Token:   \t tok en \t \r\nX-Bin: a\u0000b\u00ff\u00c3\u0028\r\nEmpty:\r\n\r\n';
    const r = requests([Buffer.from(text, 'latin1')]);
    expect(r.errors).toEqual([]);
    expect(r.out[0].headers).toEqual([
      ['x-AWS-ec2-Metadata-Token', 'tok en'],
      ['X-Bin', 'a\u0000b\u00ff\u00c3\u0028'],
      ['Empty', ''],
    ]);
  });

  it('obs-fold joins continuation lines with one space', () => {
    const r = requests([Buffer.from(FOLDED)]);
    expect(r.out[0].headers[0]).toEqual(['X-Long', 'first second third']);
  });

  it('a 1 MiB header line is skipped in bounded memory; the request is still reported (docs/design.md#unfinished-requests)', () => {
    const p = requests(
      [
        Buffer.from('GET / HTTP/1.1\r\nX-Big: '),
        ...Array.from({ length: 16 }, () => Buffer.alloc(64 * 1024, 0x61)),
        Buffer.from('\r\n\r\n' + V1),
      ],
      { maxHeaderBytes: 8192 },
    );
    expect(p.errors).toEqual(['E_HTTP_HEADERS_TOO_LARGE']);
    expect(p.out.map((q) => [q.method, q.target, q.headOverLimit, q.headers.length])).toEqual([
      ['GET', '/', 'E_HTTP_HEADERS_TOO_LARGE', 0],
      ['GET', '/latest/meta-data/iam/security-credentials/', undefined, 3],
    ]);
    expect(p.maxBuffered).toBeLessThanOrEqual(8192);
    expect(p.parser.ignoredBytes).toBeGreaterThan(1024 * 1024);
  });

  it('a 1 MiB header line in one push is rejected without copying it', () => {
    const p = requests([Buffer.concat([Buffer.from('GET / HTTP/1.1\r\nX-Big: '), Buffer.alloc(1024 * 1024, 0x61), Buffer.from('\r\n\r\n')])]);
    expect(p.errors).toEqual(['E_HTTP_HEADERS_TOO_LARGE']);
    expect(p.maxBuffered).toBe(0);
  });

  it('a head near the limit fed one byte at a time parses, holding at most the limit', () => {
    const text = 'GET / HTTP/1.1\r\nX-Fill: ' + 'f'.repeat(7000) + '\r\n\r\n';
    const r = requests(bytewise(text), { maxHeaderBytes: 8192 });
    expect(r.errors).toEqual([]);
    expect(r.out[0].headers[0][1]).toHaveLength(7000);
    expect(r.maxBuffered).toBeLessThanOrEqual(8192);
  });

  it('100 000 headers: E_HTTP_TOO_MANY_HEADERS, the first 200 kept, the request reported, bounded', () => {
    const head = 'GET / HTTP/1.1\r\n' + 'A: b\r\n'.repeat(100_000) + '\r\n';
    const buf = Buffer.from(head);
    const chunks: Buffer[] = [];
    for (let i = 0; i < buf.length; i += 1000) chunks.push(buf.subarray(i, i + 1000));
    const p = requests(chunks);
    expect(p.errors).toEqual(['E_HTTP_TOO_MANY_HEADERS']);
    expect(p.out.map((q) => [q.target, q.headOverLimit, q.headers.length])).toEqual([['/', 'E_HTTP_TOO_MANY_HEADERS', 200]]);
    expect(p.maxBuffered).toBeLessThan(1000);
  });

  it('past the head limit, the IMDS headers are kept once each, the rest not at all (bounded), framing still read', () => {
    const repeated = ['X-aws-ec2-metadata-token: AQAEAFAKE==', 'X-aws-ec2-metadata-token:', 'User-Agent: ua', 'X-aws-ec2-metadata-token-ttl-seconds: 60', 'X-h: 1'].join('\r\n');
    const head = `PUT /latest/api/token HTTP/1.1\r\n${Array.from({ length: 1000 }, () => repeated).join('\r\n')}\r\nContent-Length: 3\r\n\r\nabc${V1}`;
    const p = requests([Buffer.from(head)], { maxHeaders: 10 });
    expect(p.errors).toEqual(['E_HTTP_TOO_MANY_HEADERS']);
    expect(p.out.map((q) => [q.method, q.headOverLimit, q.bodyLength])).toEqual([
      ['PUT', 'E_HTTP_TOO_MANY_HEADERS', 3],
      ['GET', undefined, 0],
    ]);
    // 10 within the limit, then at most one of each IMDS header: never the 5 000 lines
    expect(p.out[0]!.headers.length).toBeLessThanOrEqual(14);
    expect(p.out[0]!.headers.filter(([k]) => k === 'X-h')).toHaveLength(2);
  });

  it('an obs-fold past the head limit continues only a kept line', () => {
    const head = `GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nX-aws-ec2-metadata-token:\r\n AQAEAFAKE==\r\nX-h: 1\r\n folded\r\n\r\n`;
    const p = requests([Buffer.from(head)], { maxHeaders: 2 });
    expect(p.out[0]!.headers).toEqual([['A', '1'], ['B', '2'], ['X-aws-ec2-metadata-token', 'AQAEAFAKE==']]);
  });

  it('a head just under the limit passes, one byte over fails', () => {
    const base = 'GET / HTTP/1.1\r\nX: ';
    const limit = 200;
    const fill = (n: number) => Buffer.from(base + 'a'.repeat(n) + '\r\n\r\n');
    const fits = limit - base.length - 4; // whole head, line endings included, is exactly `limit`
    expect(fill(fits).length).toBe(limit);
    expect(requests([fill(fits)], { maxHeaderBytes: limit }).out).toHaveLength(1);
    expect(requests([fill(fits + 1)], { maxHeaderBytes: limit }).errors).toEqual(['E_HTTP_HEADERS_TOO_LARGE']);
  });

  it('bad start line: counted, reported as an unreadable request, the parser resyncs at the next request line', () => {
    const r = requests([Buffer.from('\u0016\u0003\u0001 garbage\r\nmore junk\r\n' + V2)]);
    expect(r.errors).toEqual(['E_HTTP_BAD_START_LINE']);
    expect(r.out.map((q) => [q.unreadable, q.target])).toEqual([
      ['E_HTTP_BAD_START_LINE', ''],
      [undefined, '/latest/meta-data/instance-id'],
    ]);
  });

  it('bad header line is counted and skipped', () => {
    const r = requests([Buffer.from('GET / HTTP/1.1\r\nNoColonHere\r\nBad Name: x\r\nHost: h\r\n\r\n')]);
    expect(r.errors).toEqual(['E_HTTP_BAD_HEADER', 'E_HTTP_BAD_HEADER']);
    expect(r.out[0].headers).toEqual([['Host', 'h']]);
  });

  it('conflicting Content-Length: request reported, parser resyncs', () => {
    const r = requests([Buffer.from('PUT /latest/api/token HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n' + V1)]);
    expect(r.errors).toEqual(['E_HTTP_BAD_CONTENT_LENGTH']);
    expect(r.out.map((q) => q.method)).toEqual(['PUT', 'GET']);
  });

  it('bad chunk size: request finished as best possible, parser resyncs', () => {
    const r = requests([Buffer.from('POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n' + V1)]);
    expect(r.errors).toEqual(['E_HTTP_BAD_CHUNK']);
    expect(r.out.map((q) => [q.method, q.truncated])).toEqual([
      ['POST', 'body'],
      ['GET', undefined],
    ]);
  });

  it('gap inside the head: request emitted as truncated head, then resync at the next request line', () => {
    const r = requests([Buffer.from('GET /a HTTP/1.1\r\nHost: h\r\nX-aws-ec2-'), { gap: 40 }, Buffer.from('oken-value\r\n\r\n' + V1)]);
    expect(r.errors).toEqual(['E_HTTP_GAP']);
    expect(r.out.map((q) => [q.target, q.truncated, q.headers.length])).toEqual([
      ['/a', 'head', 1],
      ['/latest/meta-data/iam/security-credentials/', undefined, 3],
    ]);
  });

  it('gap inside a Content-Length body keeps sync', () => {
    const buf = Buffer.from(TOKEN_PUT + V1);
    const bodyAt = TOKEN_PUT.length - 5;
    const r = requests([buf.subarray(0, bodyAt + 1), { gap: 3 }, buf.subarray(bodyAt + 4)]);
    expect(r.errors).toEqual(['E_HTTP_GAP']);
    expect(r.out.map((q) => [q.method, q.bodyLength, q.truncated])).toEqual([
      ['PUT', 5, 'body'],
      ['GET', 0, undefined],
    ]);
  });

  it('gap that swallows a whole request: resync at the next one (segment boundary)', () => {
    const r = requests([Buffer.from(V1), { gap: V2.length }, Buffer.from(V1)]);
    expect(r.errors).toEqual(['E_HTTP_GAP']);
    expect(r.out).toHaveLength(2);
  });

  it('stream ending inside a head emits nothing; inside a body emits the request cut', () => {
    expect(requests([Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n')]).out).toEqual([]);
    const r = requests([Buffer.from(TOKEN_PUT.slice(0, -2))]);
    expect(r.out.map((q) => [q.bodyLength, q.truncated])).toEqual([[3, 'body']]);
  });

  it('random bytes, random splits, gaps and ends never throw and stay bounded', () => {
    const step = fc.oneof(
      fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
      fc.constantFrom(...[V1, V2, TOKEN_PUT, CHUNKED, '\r\n', '\n', ':', ' ', '0\r\n', 'Transfer-Encoding: chunked\r\n', 'Content-Length: 9\r\n'].map((t) => Buffer.from(t))),
      fc.integer({ min: 1, max: 100 }).map((gap) => ({ gap })),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        const r = requests(steps, { maxHeaderBytes: 512, maxHeaders: 8 });
        expect(r.maxBuffered).toBeLessThanOrEqual(512);
        for (const q of r.out) expect(q.bodyLength).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 500 },
    );
  });

  it('pushes after end are ignored', () => {
    const out: unknown[] = [];
    const p = new HttpRequestParser({ onRequest: (r) => out.push(r), onError: () => {} });
    p.end();
    p.push(Buffer.from(V1), 0, 0);
    expect(out).toEqual([]);
  });
});

describe('line ends found wherever they are', () => {
  it('header lines of every length from 1 to 400 bytes, each stream in one push and split at every line', () => {
    const lines = Array.from({ length: 400 }, (_, i) => `X-L${i}: ${'v'.repeat(i)}`);
    const text = `GET /latest/meta-data/ HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\nGET /second HTTP/1.1\nUser-Agent: ${'u'.repeat(300)}\n\n`;
    const whole = requests([Buffer.from(text)], { maxHeaderBytes: 1 << 20, maxHeaders: 1000 });
    const starts: number[] = [];
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
    const split = requests(
      [0, ...starts].map((s, k, a) => Buffer.from(text.slice(s, a[k + 1] ?? text.length))),
      { maxHeaderBytes: 1 << 20, maxHeaders: 1000 },
    );
    for (const r of [whole, split]) {
      expect(r.errors).toEqual([]);
      expect(r.out.map((q) => q.target)).toEqual(['/latest/meta-data/', '/second']);
      expect(r.out[0].headers.map(([, v]) => v.length)).toEqual(lines.map((_, i) => i));
      expect(r.out[1].headers).toEqual([['User-Agent', 'u'.repeat(300)]]);
    }
  });
});
