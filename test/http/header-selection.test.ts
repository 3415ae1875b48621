/**
 * The pipeline's exchanges keep only the request headers the IMDS stage reads (imdsHeadersOnly:
 * token, token TTL, User-Agent, and the framing headers) and read every other header line in
 * place. Everything downstream must be as with every header kept: the same requests and
 * responses (method, target, status, lengths, truncation, limits), the same classification and
 * User-Agent, the same parser errors and counters, and the same charges to the byte budget at
 * every step (its peak is in the replay output). Checked on random and hostile streams (header
 * floods, heads over the limits, obs-folds, control and latin1 bytes, bad names, gaps, heads
 * cut short, any split) and on every bundled capture (real SDK and tool requests).
 */
import fc from 'fast-check';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HttpExchange } from '../../src/http/exchange.js';
import { emptyHttpStats, IMDS_REQUEST_HEADERS, type HttpLimits, type HttpRequest, type HttpResponse } from '../../src/http/message.js';
import { classifyRequest } from '../../src/imds/classify.js';
import { readCaptureFile } from '../../src/source/capture-file.js';
import { Decoder } from '../../src/decode/decoder.js';
import { FlowTable } from '../../src/tcp/flow-table.js';
import type { EndReason, StreamConsumer } from '../../src/tcp/stream.js';
import { TestAccount } from '../tcp/helpers.js';

const FRAMING = new Set(['content-length', 'transfer-encoding']);
const KEPT = new Set([...IMDS_REQUEST_HEADERS, ...FRAMING]);

/** what a stage past http can see of a message; the headers as far as the IMDS stage and framing read them */
function requestView(req: HttpRequest) {
  const { headers, unkeptHeaderCost: _c, ...rest } = req;
  const kept = headers.filter(([k]) => KEPT.has(k.toLowerCase()));
  return { ...rest, kept, cls: req.unreadable === undefined ? classifyRequest(req) : null };
}

function responseView(res: HttpResponse | null) {
  if (res === null) return null;
  const { headers, unkeptHeaderCost: _c, ...rest } = res;
  // a response is read for its status and framing only
  return { ...rest, kept: headers.filter(([k]) => FRAMING.has(k.toLowerCase())) };
}

/** one exchange's whole observable behaviour: exchanges, errors, counters, the budget after every step */
class Recorder {
  readonly memory = new TestAccount();
  readonly stats = emptyHttpStats();
  readonly log: unknown[] = [];
  readonly held: number[] = [];
  readonly ex: HttpExchange;
  /** header names kept in any message (to see that the selection is not vacuous) */
  readonly names = new Set<string>();
  constructor(selective: boolean, limits?: Partial<HttpLimits>, midstream = false) {
    this.ex = new HttpExchange(
      {
        onRequest: (req) => this.log.push(['head', req.method, req.target]),
        onExchange: (req, res) => {
          for (const [k] of req.headers) this.names.add(k.toLowerCase());
          for (const [k] of res?.headers ?? []) this.names.add(k.toLowerCase());
          this.log.push(['exchange', requestView(req), responseView(res)]);
        },
        onError: (code, dir) => this.log.push(['error', code, dir]),
      },
      limits,
      { memory: this.memory, stats: this.stats, midstream, imdsHeadersOnly: selective },
    );
  }
  step(): void {
    this.held.push(this.memory.held);
  }
  result() {
    return { log: this.log, stats: this.stats, held: this.held, peak: this.memory.peak, end: this.memory.held };
  }
}

type Step = { dir: 'toServer' | 'toClient'; data?: Buffer; gap?: number };

function runBoth(steps: Step[], limits?: Partial<HttpLimits>, midstream = false) {
  const full = new Recorder(false, limits, midstream);
  const sel = new Recorder(true, limits, midstream);
  for (const r of [full, sel]) {
    for (const s of steps) {
      const c = r.ex[s.dir];
      if (s.data !== undefined) c.onData(s.data, 7, 0);
      else c.onGap(s.gap!, 7, 0);
      r.step();
    }
    r.ex.toServer.onEnd('fin', 8, 0);
    r.step();
    r.ex.toClient.onEnd('fin', 8, 0);
    r.step();
  }
  return { full, sel };
}

const NAMES = ['Host', 'User-Agent', 'user-agent', 'USER-AGENT', 'X-aws-ec2-metadata-token', 'x-aws-ec2-metadata-token', 'X-AWS-EC2-METADATA-TOKEN', 'x-aws-ec2-metadata-token-ttl-seconds', 'X-aws-ec2-metadata-token-ttl-seconds', 'Content-Length', 'content-length', 'Transfer-Encoding', 'Accept', 'Connection', 'X-Pad', 'Bad Name', '', 'User-Agent\u0000', '\u00dcser-Agent', 'x-aws-ec2-metadata-tokeN', 'x-aws-ec2-metadata-toke', 'X-Forwarded-For', 'user-agent ', ' User-Agent'];
const SEPS = [': ', ':', ' : ', ':\t', ':  ', ''];
const VALUES = ['', ' ', 'curl/7.88.1', 'aws-sdk-go/1.44.300 (go1.20.5; linux; amd64)', 'AQAEAFakeToken==', '21600', ' 5 ', '0', '3', 'chunked', 'gzip, chunked', '1, 1', 'x', '\u0001\u007f', '\u00a0', '\u00a0tok\u00a0', '\t', 'a:b', '9999999999'];
const FOLDS = [' more', '\tmore', '  ', ' \u00a0x', '\t\u0085y'];

const headerLine = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(fc.constantFrom(...NAMES), fc.constantFrom(...SEPS), fc.constantFrom(...VALUES)).map((a) => a.join('')) },
  { weight: 1, arbitrary: fc.constantFrom(...FOLDS) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('X-Pad: ', 'User-Agent: ', 'X-aws-ec2-metadata-token: '), fc.integer({ min: 0, max: 400 })).map(([n, k]) => n + 'v'.repeat(k)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }).filter((s) => !s.includes('\n')) },
);
const eol = fc.constantFrom('\r\n', '\r\n', '\n');

function message(starts: string[]) {
  return fc
    .tuple(
      fc.constantFrom(...starts),
      eol,
      fc.oneof({ weight: 6, arbitrary: fc.array(headerLine, { maxLength: 10 }) }, { weight: 1, arbitrary: fc.array(headerLine, { minLength: 20, maxLength: 40 }) }),
      eol,
      fc.constantFrom('', '', 'abc', '0\r\n\r\n', '3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n', 'ab'),
      fc.boolean(),
    )
    .map(([start, e, headers, e2, body, endHead]) => start + e + headers.map((h) => h + e).join('') + (endHead ? e2 + body : ''));
}

const requestMsg = message(['GET /latest/meta-data/ HTTP/1.1', 'PUT /latest/api/token HTTP/1.1', 'HEAD /latest/meta-data/ami-id HTTP/1.0', 'GET /x', 'POST /latest/meta-data/ HTTP/1.1', 'GET /a\u0001b?q=1 HTTP/1.1', 'garbage']);
const responseMsg = message(['HTTP/1.1 200 OK', 'HTTP/1.1 401 Unauthorized', 'HTTP/1.1 100 Continue', 'HTTP/1.1 204 No Content', 'HTTP/1.0 404', 'nope']);

/** a stream cut into pieces at the given points, with at most one gap somewhere */
function pieces(dir: Step['dir'], text: string, cuts: number[], gapAt: number | null): Step[] {
  const b = Buffer.from(text, 'latin1');
  const points = [...new Set(cuts.map((c) => c % (b.length + 1)))].sort((x, y) => x - y);
  const out: Step[] = [];
  let at = 0;
  for (const p of [...points, b.length]) {
    if (p > at) out.push({ dir, data: b.subarray(at, p) });
    if (gapAt !== null && p === gapAt % (b.length + 1)) out.push({ dir, gap: 5 });
    at = p;
  }
  return out;
}

const LIMITS: Array<Partial<HttpLimits> | undefined> = [undefined, { maxHeaderBytes: 160, maxHeaders: 4 }, { maxHeaderBytes: 400, maxHeaders: 12 }];

describe('imdsHeadersOnly: the same outcome as every header kept', () => {
  it('random and hostile streams, any split: same exchanges, classification, errors, counters and budget', () => {
    fc.assert(
      fc.property(
        fc.array(requestMsg, { minLength: 1, maxLength: 4 }),
        fc.array(responseMsg, { maxLength: 4 }),
        fc.array(fc.nat(4000), { maxLength: 8 }),
        fc.option(fc.nat(4000), { freq: 4 }),
        fc.integer({ min: 0, max: LIMITS.length - 1 }),
        fc.boolean(),
        fc.boolean(),
        (reqs, ress, cuts, gapAt, li, midstream, interleave) => {
          const toServer = pieces('toServer', reqs.join(''), cuts, gapAt);
          const toClient = pieces('toClient', ress.join(''), cuts, null);
          const steps = interleave ? toServer.flatMap((s, i) => [s, ...(toClient[i] ? [toClient[i]] : [])]).concat(toClient.slice(toServer.length)) : [...toServer, ...toClient];
          const { full, sel } = runBoth(steps, LIMITS[li], midstream);
          expect(sel.result()).toEqual(full.result());
        },
      ),
      { numRuns: 3000, seed: 623 },
    );
  });

  it('header floods and heads over the limit read on (docs/design.md#unfinished-requests) the same way', () => {
    const flood = Array.from({ length: 250 }, (_, i) => `X-H${i}: ${'f'.repeat(i % 50)}`);
    const cases = [
      // the token header after 250 others: past the header count limit, still kept
      ['GET /latest/meta-data/ HTTP/1.1', ...flood, 'X-aws-ec2-metadata-token: AQAE==', 'User-Agent: late/1.0'],
      // over 8 KiB of head, then the token header, folded continuation on a header read in place
      ['GET /latest/meta-data/ HTTP/1.1', 'X-Big: ' + 'b'.repeat(9000), ' folded', 'x-aws-ec2-metadata-token: AQAE=='],
      ['GET /latest/meta-data/ HTTP/1.1', ...flood.slice(0, 190), 'X-Fold: a', ' b', '\tc', ...flood.slice(190), ' d', 'User-Agent: x'],
      // a token header too long to read: unclassifiable, never v1
      ['GET /latest/meta-data/ HTTP/1.1', ...flood.slice(0, 10), 'X-Pad: ' + 'p'.repeat(8100), 'x-aws-ec2-metadata-token: ' + 't'.repeat(9000)],
      // control bytes in names and values
      ['GET /latest/meta-data/ HTTP/1.1', 'Host\u0001: x', 'X-Ctl: \u0000\u001f\u007f', 'User-Agent: a\u0007b'],
    ];
    for (const lines of cases) {
      const text = lines.join('\r\n') + '\r\n\r\n';
      for (const cut of [[], [40], [7, 300, 8200], Array.from({ length: 60 }, (_, i) => i * 211)]) {
        const { full, sel } = runBoth(pieces('toServer', text, cut, null).concat(pieces('toClient', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nServer: EC2ws\r\n\r\nok', [], null)));
        expect(sel.result()).toEqual(full.result());
      }
      // cut short inside the head (end of stream, then a gap): a v1 head whose token header may be lost stays unclassifiable
      for (const at of [30, 2000, text.length - 3]) {
        for (const tail of [[] as Step[], [{ dir: 'toServer', gap: 10 } as Step]]) {
          const { full, sel } = runBoth([{ dir: 'toServer', data: Buffer.from(text.slice(0, at), 'latin1') }, ...tail]);
          expect(sel.result()).toEqual(full.result());
        }
      }
    }
  });

  it('keeps only the IMDS and framing headers (the selection is real)', () => {
    const req = 'GET /latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n';
    const res = 'HTTP/1.1 200 OK\r\nServer: EC2ws\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok';
    const { full, sel } = runBoth([
      { dir: 'toServer', data: Buffer.from(req) },
      { dir: 'toClient', data: Buffer.from(res) },
    ]);
    expect([...full.names].sort()).toEqual(['accept', 'content-length', 'content-type', 'host', 'server', 'user-agent']);
    expect([...sel.names].sort()).toEqual(['content-length', 'user-agent']);
    expect(sel.result()).toEqual(full.result());
  });
});

function captures(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...captures(p));
    else if (/\.(pcap|pcapng)$/.test(e)) out.push(p);
  }
  return out.sort();
}

/** one flow's bytes to both exchanges */
class Tee implements StreamConsumer {
  constructor(private readonly a: StreamConsumer, private readonly b: StreamConsumer, private readonly after: () => void) {}
  onData(data: Buffer, sec: number, nsec: number): void {
    this.a.onData(data, sec, nsec);
    this.b.onData(data, sec, nsec);
    this.after();
  }
  onGap(bytes: number, sec: number, nsec: number): void {
    this.a.onGap(bytes, sec, nsec);
    this.b.onGap(bytes, sec, nsec);
    this.after();
  }
  onEnd(reason: EndReason, sec: number, nsec: number): void {
    this.a.onEnd(reason, sec, nsec);
    this.b.onEnd(reason, sec, nsec);
    this.after();
  }
}

describe('imdsHeadersOnly on the bundled captures (real SDK, tool and hostile requests)', () => {
  const root = join(__dirname, '../../pcaps');
  it('every flow of every capture: the same outcome as every header kept', () => {
    let flows = 0;
    for (const file of captures(root)) {
      const decoder = new Decoder();
      const pairs: Array<{ full: Recorder; sel: Recorder }> = [];
      const table = new FlowTable({
        onFlow: (flow) => {
          const full = new Recorder(false, undefined, !flow.sawSyn);
          const sel = new Recorder(true, undefined, !flow.sawSyn);
          pairs.push({ full, sel });
          const after = () => {
            full.step();
            sel.step();
          };
          return { toServer: new Tee(full.ex.toServer, sel.ex.toServer, after), toClient: new Tee(full.ex.toClient, sel.ex.toClient, after) };
        },
      });
      try {
        readCaptureFile(file, (f) => {
          const seg = decoder.decode(f);
          if (seg !== null) table.push(seg);
        });
      } catch {
        // malformed captures: the frames before the problem were delivered
      }
      table.finish();
      for (const { full, sel } of pairs) expect(sel.result(), file).toEqual(full.result());
      flows += pairs.length;
    }
    expect(flows).toBeGreaterThan(100);
  });
});
