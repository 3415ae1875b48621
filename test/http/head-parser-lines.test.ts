/**
 * parseRequestLine and parseStatusLine read start lines by hand (no match arrays); they must
 * answer exactly as the regular expressions they replaced, on random lines made of the
 * characters that matter (tchar, spaces, tabs, CR, digits, "HTTP/", controls, latin1).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Framing, parseRequestLine, parseStatusLine } from '../../src/http/head-parser.js';

const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]+([^ \t]+)(?:[ \t]+(HTTP\/[0-9]\.[0-9]))?[ \t]*$/;
const STATUS_LINE = /^HTTP\/([0-9])\.([0-9])[ \t]+([0-9]{3})(?:[ \t].*)?$/;

function requestByRegex(line: string) {
  const m = REQUEST_LINE.exec(line);
  return m === null ? null : { method: m[1], target: m[2], httpVersion: m[3] ?? '' };
}

function statusByRegex(line: string) {
  const m = STATUS_LINE.exec(line);
  return m === null ? null : { httpVersion: `HTTP/${m[1]}.${m[2]}`, status: Number(m[3]) };
}

const piece = fc.oneof(
  fc.constantFrom('GET', 'PUT', 'HEAD', 'get', 'M-S', '!#$', ' ', '  ', '\t', ' \t', '/', '/latest/meta-data/', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.', 'HTTP/x.1', 'HTTP/11', '200', '401', '2000', '20', 'OK', 'Not Found', '\r', '\n', '\u0000', '\u00e9', '\u0085', '\u2028', ':', 'x'),
  fc.string({ maxLength: 3 }),
  fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)),
);
const line = fc.array(piece, { maxLength: 8 }).map((a) => a.join(''));
const requestish = fc.tuple(piece, fc.constantFrom(' ', '\t', '  ', ''), piece, fc.constantFrom(' ', '\t ', ''), fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/9.9', 'HTTP/1.1x', ''), fc.constantFrom('', ' ', '\t', 'x', '\r')).map((a) => a.join(''));
const statusish = fc.tuple(fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.3', 'HTTP/1.x', 'HTTP/11', 'http/1.1'), fc.constantFrom(' ', '\t', '  ', ''), fc.constantFrom('200', '401', '999', '20', '2000', 'abc'), fc.constantFrom('', ' OK', '\tOK', 'x', ' \r', ' a\rb', ' \u2028', ' \u0085', ' ')).map((a) => a.join(''));

describe('start lines read by hand', () => {
  it('parseRequestLine answers as the regular expression', () => {
    fc.assert(
      fc.property(fc.oneof(line, requestish), (l) => {
        expect(parseRequestLine(l)).toEqual(requestByRegex(l));
      }),
      { numRuns: 20000, seed: 23 },
    );
    for (const l of ['GET / HTTP/1.1', 'GET  /x\tHTTP/1.0 \t', 'GET /', 'GET / ', 'GET / HTTP/1.1 x', 'GET/ HTTP/1.1', ' GET / HTTP/1.1', 'GET / HTTP/1.1\r', 'GET /a\rb HTTP/1.1', '']) {
      expect(parseRequestLine(l)).toEqual(requestByRegex(l));
    }
  });

  it('parseStatusLine answers as the regular expression', () => {
    fc.assert(
      fc.property(fc.oneof(line, statusish), (l) => {
        expect(parseStatusLine(l)).toEqual(statusByRegex(l));
      }),
      { numRuns: 20000, seed: 23 },
    );
    for (const l of ['HTTP/1.1 200 OK', 'HTTP/1.1 200', 'HTTP/1.1  401\tUnauthorized', 'HTTP/1.1 200OK', 'HTTP/1.1 200 a\rb', 'HTTP/1.1 2000', 'HTTP/1.1200', '']) {
      expect(parseStatusLine(l)).toEqual(statusByRegex(l));
    }
  });
});

/** Content-Length as Framing read it before its one-number fast path (split on commas, trim, digits, agree) */
function contentLengthByList(values: string[]): number {
  let cl = -1;
  for (const value of values) {
    if (cl === -2) return -2;
    for (const part of value.split(',')) {
      const v = part.replace(/^[ \t]+|[ \t]+$/g, '');
      if (!/^[0-9]+$/.test(v) || v.length > 15) {
        cl = -2;
        break;
      }
      const n = Number(v);
      if (cl !== -1 && cl !== n) {
        cl = -2;
        break;
      }
      cl = n;
    }
  }
  return cl;
}

describe('Content-Length values', () => {
  const value = fc.oneof(
    fc.constantFrom('0', '5', '007', '19', '999999999999999', '1000000000000000', '9007199254740993', '', ' ', '5,5', '5, 6', '1,', 'x', '-1', '+1', '1e3', '0x10', '５', '\t7 ', '١'),
    fc.stringMatching(/^[0-9]{1,17}$/),
    fc.array(fc.constantFrom('1', '2', '0', ',', ' ', '\t', '9', 'a'), { maxLength: 6 }).map((a) => a.join('')),
  );
  it('one or more header lines read as by the comma-list rule', () => {
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 3 }), (values) => {
        const f = new Framing();
        for (const v of values) f.see('Content-Length', v);
        expect(f.contentLength).toBe(contentLengthByList(values));
      }),
      { numRuns: 20000, seed: 23 },
    );
  });
});
