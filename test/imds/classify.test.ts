import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classifyRequest, originPath } from '../../src/imds/classify.js';
import type { HttpRequest } from '../../src/http/message.js';

const req = (method: string, target: string, headers: Array<[string, string]> = [], bodyLength = 0): HttpRequest => ({
  method,
  target,
  httpVersion: 'HTTP/1.1',
  headers,
  bodyLength,
  sec: 0,
  nsec: 0,
});

describe('classifyRequest (DESIGN.md "What counts as what")', () => {
  const rows: Array<[string, HttpRequest, string | null]> = [
    ['plain GET is v1', req('GET', '/latest/meta-data/'), 'v1'],
    ['HEAD is v1', req('HEAD', '/latest/meta-data/ami-id'), 'v1'],
    ['token header makes v2', req('GET', '/latest/meta-data/', [['X-aws-ec2-metadata-token', 'AQAEAabc']]), 'v2'],
    ['header name in any case', req('GET', '/', [['x-AWS-ec2-metadata-TOKEN', 'zz']]), 'v2'],
    ['empty token value is v1', req('GET', '/', [['X-aws-ec2-metadata-token', '']]), 'v1'],
    ['blank token value is v1', req('GET', '/', [['X-aws-ec2-metadata-token', '   ']]), 'v1'],
    ['token only in URL is v1', req('GET', '/latest/meta-data/?X-aws-ec2-metadata-token=abc'), 'v1'],
    ['token only in body is v1', req('GET', '/latest/meta-data/', [['Content-Length', '30']], 30), 'v1'],
    ['token PUT', req('PUT', '/latest/api/token', [['X-aws-ec2-metadata-token-ttl-seconds', '21600']]), 'token'],
    ['token PUT without TTL header is still a token request', req('PUT', '/latest/api/token'), 'token'],
    ['TTL header on a GET does not make v2', req('GET', '/', [['X-aws-ec2-metadata-token-ttl-seconds', '60']]), 'v1'],
    ['POST is not an IMDS call', req('POST', '/latest/meta-data/'), null],
    ['lower-case method still GET', req('get', '/'), 'v1'],
  ];
  it.each(rows)('%s', (_name, r, want) => {
    expect(classifyRequest(r).version).toBe(want);
  });

  it('keeps the TTL as a number and the first User-Agent', () => {
    const c = classifyRequest(
      req('PUT', '/latest/api/token', [
        ['User-Agent', 'aws-cli/1.22.34'],
        ['user-agent', 'second'],
        ['X-aws-ec2-metadata-token-ttl-seconds', '21600'],
      ]),
    );
    expect(c.tokenTtl).toBe(21600);
    expect(c.userAgent).toBe('aws-cli/1.22.34');
  });

  it('marks an empty token header', () => {
    expect(classifyRequest(req('GET', '/', [['X-aws-ec2-metadata-token', '']])).emptyTokenHeader).toBe(true);
    expect(classifyRequest(req('GET', '/', [['X-aws-ec2-metadata-token', 'x']])).emptyTokenHeader).toBe(false);
  });
});

describe('originPath never keeps a query (it may carry a token)', () => {
  it.each([
    ['/latest/meta-data/?token=SECRET', '/latest/meta-data/'],
    ['/a#frag', '/a'],
    ['http://169.254.169.254/latest/meta-data/ami-id', '/latest/meta-data/ami-id'],
    ['http://169.254.169.254', '/'],
    ['', '/'],
    ['*', '*'],
  ])('%s → %s', (t, want) => {
    expect(originPath(t)).toBe(want);
  });
});

/** originPath as written with regular expressions before it skipped them for origin-form targets */
function originPathByExpressions(target: string): string {
  let t = target;
  const scheme = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/.exec(t);
  if (scheme) t = t.slice(scheme[0].length) || '/';
  const cut = t.search(/[?#]/);
  if (cut >= 0) t = t.slice(0, cut);
  if (/[\x00-\x1f\x7f]/.test(t)) t = t.replace(/[\x00-\x1f\x7f]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
  return t === '' ? '/' : t;
}

describe('originPath on random targets', () => {
  it('answers as the regular expressions did', () => {
    const piece = fc.oneof(
      fc.constantFrom('/', '//', '/latest/meta-data/', 'http://', 'HTTP://', 'h2c+x.y-z://', '169.254.169.254', '?', '#', '?token=x', '#f', ':', '\u0000', '\u0001', '\u007f', '\u00e9', '%', '*', 'a', ' '),
      fc.string({ maxLength: 4 }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 7 }).map((a) => a.join('')), (t) => {
        expect(originPath(t)).toBe(originPathByExpressions(t));
      }),
      { numRuns: 20000, seed: 23 },
    );
  });
});
