import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HttpExchange } from '../../src/http/exchange.js';
import { EXCHANGE_COST, HEADER_COST, MESSAGE_COST } from '../../src/tcp/memory-budget.js';
import { TestAccount } from '../tcp/helpers.js';

/**
 * What an exchange holds for its flow is charged to the flow's account in the byte budget
 * (src/tcp/memory-budget.ts) and all of it is released once both directions ended.
 */
const b = (s: string) => Buffer.from(s, 'latin1');
const REQ = 'GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: aws-sdk-go/1.44\r\nAccept: */*\r\n\r\n';
const RES = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 19\r\n\r\ni-0123456789abcdef0';

function exchange() {
  const memory = new TestAccount();
  const pairs: Array<[string, number | null]> = [];
  const ex = new HttpExchange({ onExchange: (req, res) => pairs.push([req.target, res ? res.status : null]) }, undefined, { memory });
  return { ex, memory, pairs };
}

describe('HttpExchange memory account', () => {
  it('an exchange costs EXCHANGE_COST until both directions end', () => {
    const { ex, memory } = exchange();
    expect(memory.held).toBe(EXCHANGE_COST);
    ex.toServer.onData(b(REQ), 1, 0);
    ex.toClient.onData(b(RES), 2, 0);
    ex.toServer.onEnd('fin', 3, 0);
    expect(memory.held).toBe(EXCHANGE_COST);
    ex.toClient.onEnd('fin', 3, 0);
    expect(memory.held).toBe(0);
  });

  it('a head that never ends: its unfinished line and stored header lines are charged, all released at the end', () => {
    const { ex, memory, pairs } = exchange();
    const start = 'GET /latest/meta-data/ HTTP/1.1\r\n';
    const header = 'X-Pad: ' + 'p'.repeat(91) + '\r\n'; // 100 bytes with its CRLF
    ex.toServer.onData(b(start), 1, 0);
    // the start line: the message's fixed cost and its characters
    expect(memory.held).toBe(EXCHANGE_COST + MESSAGE_COST + start.length - 2);
    for (let i = 0; i < 10; i++) ex.toServer.onData(b(header), 1, 0);
    const heads = MESSAGE_COST + start.length - 2 + 10 * (header.length - 2 + HEADER_COST);
    expect(memory.held).toBe(EXCHANGE_COST + heads);
    // an unfinished line: its buffer (256 bytes at first) is held
    ex.toServer.onData(b('X-Last: qqq'), 1, 0);
    expect(memory.held).toBe(EXCHANGE_COST + heads + 256);
    ex.toServer.onData(b('q'.repeat(1000)), 1, 0);
    expect(memory.held).toBeGreaterThanOrEqual(EXCHANGE_COST + heads + 1011);
    ex.toServer.onEnd('evicted', 2, 0);
    ex.toClient.onEnd('evicted', 2, 0);
    expect(memory.held).toBe(0);
    expect(pairs).toEqual([]);
  });

  it('requests waiting for their response are charged until they fire', () => {
    const { ex, memory, pairs } = exchange();
    ex.toServer.onData(b(REQ + REQ + REQ), 1, 0);
    const waiting = memory.held - EXCHANGE_COST;
    expect(waiting).toBeGreaterThan(3 * (MESSAGE_COST + 3 * HEADER_COST));
    ex.toClient.onData(b(RES), 2, 0);
    expect(pairs).toHaveLength(1);
    expect(memory.held - EXCHANGE_COST).toBe((waiting * 2) / 3);
    ex.toServer.onEnd('fin', 3, 0);
    ex.toClient.onEnd('fin', 3, 0);
    expect(pairs).toHaveLength(3);
    expect(memory.held).toBe(0);
  });

  it('any split, gap or end of two directions: nothing stays charged once both ended, never negative', () => {
    const stream = REQ + 'PUT /latest/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: 21600\r\nContent-Length: 3\r\n\r\nabc' + REQ;
    const back = RES + 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n' + RES;
    fc.assert(
      fc.property(
        fc.array(fc.nat(stream.length), { maxLength: 12 }),
        fc.array(fc.nat(back.length), { maxLength: 12 }),
        fc.option(fc.nat(stream.length)),
        fc.nat(stream.length + back.length),
        (cutsUp, cutsDown, gapAt, endAt) => {
          const { ex, memory } = exchange();
          const pieces = (s: string, cuts: number[]) => {
            const pts = [...new Set(cuts)].sort((x, y) => x - y);
            const out: Array<[number, string]> = [];
            let prev = 0;
            for (const p of [...pts, s.length]) {
              if (p > prev) out.push([prev, s.slice(prev, p)]);
              prev = p;
            }
            return out;
          };
          let sent = 0;
          let minHeld = 0;
          for (const [off, piece] of pieces(stream, cutsUp)) {
            if (sent >= endAt) break;
            if (gapAt !== null && off === gapAt) ex.toServer.onGap(piece.length, 1, 0);
            else ex.toServer.onData(b(piece), 1, 0);
            sent += piece.length;
            minHeld = Math.min(minHeld, memory.held);
          }
          for (const [, piece] of pieces(back, cutsDown)) {
            ex.toClient.onData(b(piece), 2, 0);
            minHeld = Math.min(minHeld, memory.held);
          }
          ex.toClient.onEnd('eof', 3, 0);
          ex.toServer.onEnd('eof', 3, 0);
          expect(minHeld).toBe(0);
          expect(memory.held).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});
