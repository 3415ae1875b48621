import { describe, expect, it } from 'vitest';
import { HttpExchange } from '../../src/http/exchange.js';
import { emptyHttpStats, type HttpRequest, type HttpResponse } from '../../src/http/message.js';
import { FlowTable } from '../../src/tcp/flow-table.js';
import { TCP_ACK, TCP_PSH, TCP_RST, TCP_SYN, type TcpSegment } from '../../src/decode/packet.js';

const GET = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: 169.254.169.254\r\n${extra}\r\n`;
const RES = (status: number, body = '') => `HTTP/1.1 ${status} X\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

function exchange(limits?: { maxPendingRequests?: number }) {
  const pairs: Array<[string, number | null]> = [];
  const errors: string[] = [];
  const ex = new HttpExchange(
    {
      onExchange: (req: HttpRequest, res: HttpResponse | null) => pairs.push([`${req.method} ${req.target}`, res ? res.status : null]),
      onError: (code, dir) => errors.push(`${dir}:${code}`),
    },
    limits,
  );
  return { ex, pairs, errors };
}

const b = (s: string) => Buffer.from(s, 'latin1');

describe('HttpExchange', () => {
  it('pairs pipelined responses in order, firing when each response is complete', () => {
    const { ex, pairs } = exchange();
    ex.toServer.onData(b(GET('/a') + `HEAD /b HTTP/1.1\r\n\r\n` + GET('/c')), 1, 0);
    expect(pairs).toEqual([]);
    ex.toClient.onData(b(RES(200, 'aaaa') + 'HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n' + RES(404).slice(0, 10)), 2, 0);
    expect(pairs).toEqual([
      ['GET /a', 200],
      ['HEAD /b', 200],
    ]);
    ex.toClient.onData(b(RES(404).slice(10)), 3, 0);
    expect(pairs[2]).toEqual(['GET /c', 404]);
    expect(ex.stats).toMatchObject({ requests: 3, responses: 3, unpairedResponses: 0 });
  });

  it('flow end before the responses: the rest fire with null, in request order, once', () => {
    for (const order of ['serverFirst', 'clientFirst'] as const) {
      const { ex, pairs } = exchange();
      ex.toServer.onData(b(GET('/1') + GET('/2') + GET('/3')), 1, 0);
      ex.toClient.onData(b(RES(200, 'x')), 2, 0);
      if (order === 'serverFirst') {
        ex.toClient.onEnd('rst', 3, 0);
        expect(pairs).toHaveLength(3);
        ex.toServer.onEnd('rst', 3, 0);
      } else {
        ex.toServer.onEnd('evicted', 3, 0);
        expect(pairs).toHaveLength(1);
        ex.toClient.onEnd('evicted', 3, 0);
      }
      expect(pairs).toEqual([
        ['GET /1', 200],
        ['GET /2', null],
        ['GET /3', null],
      ]);
    }
  });

  it('onRequest fires once per request, in order, before its onExchange', () => {
    const log: string[] = [];
    const ex = new HttpExchange({
      onRequest: (q) => log.push(`req ${q.target}`),
      onExchange: (q, r) => log.push(`ex ${q.target} ${r?.status ?? null}`),
    });
    ex.toServer.onData(b(GET('/1') + 'PUT /2 HTTP/1.1\r\nContent-Length: 4\r\n\r\nab'), 1, 0);
    expect(log).toEqual(['req /1', 'req /2']);
    ex.toClient.onData(b(RES(200)), 2, 0);
    ex.toServer.onGap(2, 3, 0);
    ex.toServer.onData(b('GET /3 HTTP/1.1\r\n'), 4, 0);
    ex.toServer.onGap(5, 5, 0);
    ex.toServer.onEnd('rst', 6, 0);
    ex.toClient.onEnd('rst', 6, 0);
    expect(log).toEqual(['req /1', 'req /2', 'ex /1 200', 'req /3', 'ex /2 null', 'ex /3 null']);
  });

  it('a request cut by the end of the client stream still gets its response', () => {
    const { ex, pairs } = exchange();
    ex.toServer.onData(b('PUT /latest/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: 21600\r\nContent-Length: 10\r\n\r\nabc'), 1, 0);
    ex.toServer.onEnd('fin', 2, 0);
    expect(pairs).toEqual([]);
    ex.toClient.onData(b(RES(400)), 3, 0);
    expect(pairs).toEqual([['PUT /latest/api/token', 400]]);
    ex.toClient.onEnd('fin', 4, 0);
    expect(pairs).toHaveLength(1);
  });

  it('a response with no request (mid-stream flow) is counted, not paired', () => {
    const { ex, pairs } = exchange();
    ex.toClient.onData(b(RES(200, 'zz')), 1, 0);
    ex.toServer.onData(b(GET('/late')), 2, 0);
    ex.toServer.onEnd('eof', 3, 0);
    ex.toClient.onEnd('eof', 3, 0);
    expect(pairs).toEqual([['GET /late', null]]);
    expect(ex.stats.unpairedResponses).toBe(1);
  });

  it('too many pending requests: pairing is given up, every request still reported once', () => {
    const { ex, pairs, errors } = exchange({ maxPendingRequests: 3 });
    ex.toServer.onData(b(Array.from({ length: 6 }, (_, i) => GET(`/${i}`)).join('')), 1, 0);
    expect(errors).toEqual(['toServer:E_HTTP_TOO_MANY_PENDING']);
    ex.toClient.onData(b(RES(200)), 2, 0);
    ex.toServer.onEnd('eof', 3, 0);
    ex.toClient.onEnd('eof', 3, 0);
    expect(pairs.map((p) => p[0])).toEqual(['GET /0', 'GET /1', 'GET /2', 'GET /3', 'GET /4', 'GET /5']);
    expect(pairs.every((p) => p[1] === null)).toBe(true);
  });

  it('midstream option: the first partial message is skipped silently, the next one parsed', () => {
    const pairs: string[] = [];
    const errors: string[] = [];
    const ex = new HttpExchange({ onExchange: (q, r) => pairs.push(`${q.target} ${r?.status}`), onError: (c) => errors.push(c) }, undefined, { midstream: true });
    ex.toServer.onData(b('a/meta-data/ HTTP/1.1\r\nHost: x\r\n\r\n' + GET('/next')), 1, 0);
    ex.toClient.onData(b('ength: 4\r\n\r\nabc\n' + RES(404)), 2, 0);
    expect(errors).toEqual([]);
    expect(pairs).toEqual(['/next 404']);
  });

  it('shares stats between exchanges and counts errors by code', () => {
    const stats = emptyHttpStats();
    for (let i = 0; i < 2; i++) {
      const ex = new HttpExchange({ onExchange: () => {} }, undefined, { stats });
      ex.toServer.onData(b('NOT HTTP AT ALL\r\n'), 0, 0);
      ex.toServer.onGap(10, 0, 0);
      ex.toServer.onEnd('eof', 0, 0);
      ex.toClient.onEnd('eof', 0, 0);
    }
    expect(stats.errors).toEqual({ E_HTTP_BAD_START_LINE: 2, E_HTTP_GAP: 2 });
  });

  it('behind a FlowTable: reordered and retransmitted segments, one exchange per request, RST ends the flow', () => {
    const pairs: Array<[string, number | null, number]> = [];
    const table = new FlowTable({
      onFlow: () =>
        new HttpExchange({
          onExchange: (req, res) => pairs.push([req.target, res ? res.status : null, req.sec]),
        }),
    });
    const seg = (toImds: boolean, seq: number, flags: number, data: string, sec: number): TcpSegment => ({
      sec,
      nsec: 0,
      ipVersion: 4,
      src: toImds ? '10.0.0.9' : '169.254.169.254',
      dst: toImds ? '169.254.169.254' : '10.0.0.9',
      srcPort: toImds ? 51000 : 80,
      dstPort: toImds ? 80 : 51000,
      seq: seq >>> 0,
      ack: 0,
      flags,
      ttl: 64,
      payload: b(data),
      missing: 0,
      toImds,
    });
    const req = GET('/latest/meta-data/', 'User-Agent: curl/8\r\n') + GET('/latest/user-data');
    const cIsn = 0xfffffff0;
    table.push(seg(true, cIsn, TCP_SYN, '', 10));
    table.push(seg(false, 500, TCP_SYN | TCP_ACK, '', 10));
    // request split in three, middle piece arrives last, first one retransmitted
    table.push(seg(true, cIsn + 1, TCP_ACK | TCP_PSH, req.slice(0, 7), 11));
    table.push(seg(true, cIsn + 1 + 30, TCP_ACK | TCP_PSH, req.slice(30), 12));
    table.push(seg(true, cIsn + 1, TCP_ACK | TCP_PSH, req.slice(0, 7), 13));
    table.push(seg(true, cIsn + 8, TCP_ACK | TCP_PSH, req.slice(7, 30), 14));
    table.push(seg(false, 501, TCP_ACK | TCP_PSH, RES(200, 'ami-id\n'), 15));
    table.push(seg(false, 0, TCP_RST, '', 16));
    expect(pairs).toEqual([
      ['/latest/meta-data/', 200, 11],
      ['/latest/user-data', null, 12],
    ]);
    table.finish();
    expect(pairs).toHaveLength(2);
  });
});
