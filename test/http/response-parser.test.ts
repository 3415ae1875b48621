import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { responses, shape } from './helpers.js';

const OK = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 10\r\nServer: EC2ws\r\nConnection: close\r\n\r\ni-0123456a';
const NOT_FOUND = 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n';
const CHUNKED = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n10\r\n0123456789abcdef\r\n0\r\nX-T: 1\r\n\r\n';
const UNAUTH = 'HTTP/1.0 401 Unauthorized\r\nContent-Length: 0\r\n\r\n';

describe('HttpResponseParser', () => {
  it('HEAD response without body followed by a pipelined response', () => {
    const head = 'HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n';
    const r = responses([Buffer.from(head + NOT_FOUND + OK)], ['HEAD', 'GET', 'GET']);
    expect(r.errors).toEqual([]);
    expect(r.out.map((x) => [x.status, x.bodyLength])).toEqual([
      [200, 0],
      [404, 0],
      [200, 10],
    ]);
  });

  it('without knowing the request was HEAD, the same bytes read as a body (the method matters)', () => {
    const head = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n';
    const r = responses([Buffer.from(head + UNAUTH)], ['GET']);
    expect(r.out.map((x) => x.status)).toEqual([200]);
  });

  it('1xx interim responses are skipped; 204 and 304 have no body', () => {
    const text = 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\nHTTP/1.1 304 Not Modified\r\n\r\n' + UNAUTH;
    const r = responses([Buffer.from(text)], ['PUT', 'GET', 'GET']);
    expect(r.errors).toEqual([]);
    expect(r.out.map((x) => [x.status, x.bodyLength])).toEqual([
      [204, 0],
      [304, 0],
      [401, 0],
    ]);
  });

  it('no Content-Length and not chunked: body until the end of the stream', () => {
    const r = responses([Buffer.from('HTTP/1.0 200 OK\r\nServer: x\r\n\r\nabc'), Buffer.from('HTTP/1.1 200 OK\r\n\r\n')], ['GET', 'GET']);
    expect(r.out.map((x) => [x.status, x.bodyLength, x.truncated])).toEqual([[200, 22, undefined]]);
  });

  it('chunked response with trailers; its size is the decoded body size', () => {
    const r = responses([Buffer.from(CHUNKED + UNAUTH)], ['GET', 'GET']);
    expect(r.errors).toEqual([]);
    expect(r.out.map((x) => [x.status, x.bodyLength])).toEqual([
      [200, 20],
      [401, 0],
    ]);
    expect(r.out[0].headers).toEqual([['Transfer-Encoding', 'chunked']]);
  });

  for (const [name, text, methods] of [
    ['pipelined HEAD, GET, chunked GET', 'HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n' + OK + CHUNKED, ['HEAD', 'GET', 'GET']],
    ['bare LF and 1.0', 'HTTP/1.0 404 Not Found\nContent-Length: 2\n\nnoHTTP/1.0 200 OK\n\nrest', ['GET', 'GET']],
  ] as const) {
    it(`every split point gives the same result: ${name}`, () => {
      const buf = Buffer.from(text, 'latin1');
      const whole = responses([buf], [...methods]);
      expect(whole.errors).toEqual([]);
      expect(whole.out.length).toBeGreaterThan(1);
      for (let i = 0; i <= buf.length; i++) {
        const r = responses([buf.subarray(0, i), buf.subarray(i)], [...methods]);
        expect(r.errors).toEqual([]);
        expect(shape(r.out)).toEqual(shape(whole.out));
      }
    });
  }

  it('a gap in the status line region: resync at the next status line', () => {
    const r = responses([Buffer.from('HTTP/1.1 20'), { gap: 30 }, Buffer.from('junk\r\n' + UNAUTH)], ['GET', 'GET']);
    expect(r.errors).toEqual(['E_HTTP_GAP']);
    expect(r.out.map((x) => x.status)).toEqual([401]);
  });

  it('a gap larger than the rest of the body finishes the response and resyncs', () => {
    const r = responses([Buffer.from(OK.slice(0, -8)), { gap: 20 }, Buffer.from('tail\r\n' + NOT_FOUND)], ['GET', 'GET']);
    expect(r.errors).toEqual(['E_HTTP_GAP']);
    expect(r.out.map((x) => [x.status, x.bodyLength, x.truncated])).toEqual([
      [200, 10, 'body'],
      [404, 0, undefined],
    ]);
  });

  it('101 Switching Protocols: the rest of the stream is not HTTP and raises no error', () => {
    const r = responses([Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n\u0000\u0001binary\r\nHTTP/1.1 200 OK\r\n\r\n')], ['GET']);
    expect(r.errors).toEqual([]);
    expect(r.out.map((x) => x.status)).toEqual([101]);
  });

  it('random bytes never throw', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.uint8Array({ maxLength: 100 }).map((a) => Buffer.from(a)), fc.constantFrom(Buffer.from(OK), Buffer.from(CHUNKED), Buffer.from('\r\n'))), { maxLength: 30 }),
        fc.array(fc.constantFrom('GET', 'HEAD', 'PUT'), { maxLength: 5 }),
        (steps, methods) => {
          const r = responses(steps, methods, { maxHeaderBytes: 300, maxHeaders: 5 });
          for (const x of r.out) expect(x.status).toBeGreaterThanOrEqual(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a response head over the header limit is still emitted (framing read past the limit), the next one follows', () => {
    const many = Array.from({ length: 300 }, (_, i) => `X-${i}: v`).join('\r\n');
    const r = responses([Buffer.from(`HTTP/1.1 200 OK\r\n${many}\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n`)], ['GET', 'GET']);
    expect(r.errors).toEqual(['E_HTTP_TOO_MANY_HEADERS']);
    expect(r.out.map((x) => [x.status, x.headOverLimit, x.bodyLength])).toEqual([
      [200, 'E_HTTP_TOO_MANY_HEADERS', 2],
      [404, undefined, 0],
    ]);
  });
});
