/**
 * fast-check properties over every parser of imdswatch, shared by the long fuzz runner
 * (bench/fuzz.mjs, over dist/) and the short CI pass (test/fuzz/, over src/).
 *
 *   const props = makeProperties(mods, fc);   // mods: see loadDistModules()
 *   for (const p of props) fc.assert(fc.property(p.arb, p.check), { numRuns });
 *
 * Each property is { name, arb, check(value) }: `check` throws on a violation, so a saved
 * counterexample is replayed by calling `check(value)` again (see regressions.mjs).
 *
 * Properties:
 *  reader-random        random bytes, alone or after a valid pcap / pcapng header
 *  reader-mutated       valid pcap / pcapng files with byte flips, 32-bit overwrites,
 *                       truncation, insertion, deletion: every record wholly before the
 *                       first changed byte comes out unchanged; then either a clean end
 *                       or a CaptureFormatError with a stable code and a one-line message
 *  decoder-random       valid link + IP (+ TCP) headers followed or overwritten by random
 *                       bytes, every link type: no throw, a segment's fields in range
 *  reassembler-reference random segment orders, overlaps (same or different bytes),
 *                       duplicates, losses, ISNs near 2^32 (wraparound): the stream equals
 *                       what a first-copy-wins receiver delivers; bounded buffers stay bounded
 *  http-split           pipelined requests/responses (random header case, token headers,
 *                       Content-Length and chunked bodies) cut at random points give the
 *                       same exchanges as unsplit
 *  http-random          random bytes and gaps on both directions: no throw, every request
 *                       gets exactly one exchange, in order
 *  pipeline-split       whole TCP conversations through the pipeline, requests split and
 *                       reordered at random: same events as one segment per request
 *  ip-reassembly        an IPv4 or IPv6 datagram to IMDS (IPv6: fragment header after 0-2
 *                       extension headers) cut into fragments at random 8-byte boundaries,
 *                       sent in random order with duplicates and overlapping copies (same
 *                       or different bytes): the decoder hands on exactly one segment, the
 *                       one of the datagram a first-copy-wins receiver reassembles; no
 *                       fragment is left unread; conflicts are counted; bytes held return to 0
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

const CAPTURE_CODES = new Set(['E_CAPTURE_EMPTY', 'E_CAPTURE_BAD_MAGIC', 'E_CAPTURE_TRUNCATED', 'E_CAPTURE_MALFORMED', 'E_CAPTURE_IO']);
const MAX_CAPLEN = 262144;

/** Load the modules the properties need from a built tree (dist/). */
export async function loadDistModules(dist) {
  const imp = (p) => import(pathToFileURL(path.join(dist, p)).href);
  const [capture, frame, decoder, reasm, flowTable, packet, exchange, pipeline, testkit] = await Promise.all([
    imp('source/capture-file.js'),
    imp('source/frame.js'),
    imp('decode/decoder.js'),
    imp('tcp/reassembler.js'),
    imp('tcp/flow-table.js'),
    imp('decode/packet.js'),
    imp('http/exchange.js'),
    imp('pipeline/create-pipeline.js'),
    import(pathToFileURL(path.join(dist, '../build/testkit/pcap-writer.js')).href),
  ]);
  return {
    readCaptureFile: capture.readCaptureFile,
    CaptureFormatError: frame.CaptureFormatError,
    Decoder: decoder.Decoder,
    Reassembler: reasm.Reassembler,
    emptyFlowStats: () => ({ ...new flowTable.FlowTable({ onFlow: () => null }).stats }),
    TCP_FIN: packet.TCP_FIN,
    TCP_SYN: packet.TCP_SYN,
    HttpExchange: exchange.HttpExchange,
    createPipeline: pipeline.createPipeline,
    testkit,
  };
}

function fail(msg) {
  throw new Error(msg);
}

function eq(a, b, what) {
  const x = JSON.stringify(a);
  const y = JSON.stringify(b);
  if (x !== y) fail(`${what}: ${x.slice(0, 400)} !== ${y.slice(0, 400)}`);
}

let tmpDir = null;
let tmpSeq = 0;
/** A scratch file on tmpfs when there is one (the readers take a path). */
function scratchFile(bytes) {
  if (tmpDir === null) {
    const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
    tmpDir = fs.mkdtempSync(path.join(base, `imdswatch-fuzz-${process.pid}-`));
    process.on('exit', () => fs.rmSync(tmpDir, { recursive: true, force: true }));
  }
  const f = path.join(tmpDir, `f${tmpSeq++ % 4}`);
  fs.writeFileSync(f, bytes);
  return f;
}

/** Read a capture held in memory; returns {frames, stats, error}. Any other throw is a finding. */
function readBytes(mods, bytes) {
  const file = scratchFile(bytes);
  const frames = [];
  let stats = null;
  let error = null;
  try {
    stats = mods.readCaptureFile(
      file,
      (f) => {
        if (!(f.data instanceof Uint8Array)) fail('frame.data is not bytes');
        if (f.data.length > MAX_CAPLEN) fail(`frame of ${f.data.length} bytes > ${MAX_CAPLEN}`);
        if (!(f.nsec >= 0 && f.nsec < 1e9)) fail(`nsec out of range: ${f.nsec}`);
        frames.push({ sec: f.sec, nsec: f.nsec, linkType: f.linkType, iface: f.iface, data: Buffer.from(f.data).toString('hex') });
      },
      { chunkSize: 1 << 20 },
    );
  } catch (err) {
    if (!(err instanceof mods.CaptureFormatError)) throw err;
    if (!CAPTURE_CODES.has(err.code)) fail(`unknown error code ${err.code}`);
    if (err.message.includes('\n')) fail('error message spans lines');
    if (err.packetsRead !== frames.length) fail(`packetsRead ${err.packetsRead} but ${frames.length} frames delivered`);
    error = err.code;
  }
  if (stats && stats.packets !== frames.length) fail(`stats.packets ${stats.packets} but ${frames.length} frames`);
  return { frames, stats, error };
}

// ---------- capture files with known record offsets ----------

/** Build a capture and the byte offset where each packet record ends (and its expected frame). */
function buildCapture(tk, spec) {
  const recs = spec.packets.map((p, i) => ({
    sec: 1_700_000_000 + i,
    nsec: spec.nano ? p.frac % 1e9 : (p.frac % 1e6) * 1000,
    data: Buffer.from(p.data),
    iface: spec.kind === 'pcapng-2if' ? i % 2 : 0,
  }));
  const linkTypes = [1, 101];
  if (spec.kind === 'pcap') {
    const file = tk.classicPcap(recs, { linkType: 1, nanosecond: spec.nano, bigEndian: spec.be });
    const ends = [];
    let o = 24;
    for (const r of recs) ends.push((o += 16 + r.data.length));
    return { file, ends, headerEnd: 24, expect: recs.map((r) => ({ sec: r.sec, nsec: r.nsec, linkType: 1, iface: 0, data: r.data.toString('hex') })) };
  }
  const ifaces = spec.kind === 'pcapng-2if' ? [{ linkType: 1, tsresol: spec.nano ? 9 : 6 }, { linkType: 101, tsresol: spec.nano ? 9 : 6 }] : [{ linkType: 1, tsresol: spec.nano ? 9 : 6 }];
  const file = tk.pcapng([{ bigEndian: spec.be, interfaces: ifaces, records: recs }]);
  // walk blocks: the EPBs (type 6) are the packets
  const ends = [];
  let headerEnd = -1;
  const rd = (o) => (spec.be ? file.readUInt32BE(o) : file.readUInt32LE(o));
  for (let o = 0; o + 12 <= file.length; ) {
    const type = rd(o);
    const len = rd(o + 4);
    if (type === 6) {
      if (headerEnd < 0) headerEnd = o;
      ends.push(o + len);
    }
    if (len < 12) break;
    o += len;
  }
  return {
    file,
    ends,
    headerEnd: headerEnd < 0 ? file.length : headerEnd,
    expect: recs.map((r) => ({ sec: r.sec, nsec: r.nsec, linkType: linkTypes[r.iface], iface: r.iface, data: r.data.toString('hex') })),
  };
}

function mutate(file, muts) {
  let b = Buffer.from(file);
  let first = b.length; // lowest offset whose content may differ
  for (const m of muts) {
    if (b.length === 0) break;
    const at = m.at % (b.length + 1);
    switch (m.op) {
      case 'flip':
        if (at < b.length) {
          b[at] ^= 1 << (m.val % 8);
          first = Math.min(first, at);
        }
        break;
      case 'set32':
        if (at + 4 <= b.length) {
          b.writeUInt32LE(m.val >>> 0, at);
          first = Math.min(first, at);
        }
        break;
      case 'truncate':
        b = b.subarray(0, at);
        first = Math.min(first, at);
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), Buffer.alloc(1 + (m.val % 64), m.val & 0xff), b.subarray(at)]);
        first = Math.min(first, at);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + (m.val % 64)))]);
        first = Math.min(first, at);
        break;
    }
  }
  return { bytes: b, first };
}

// ---------- reassembler reference ----------

/** Linux-like receiver: each stream byte keeps the first copy that arrived; bytes never carried are gaps. */
export function referenceReceiver(n, arrivals) {
  const val = new Int16Array(n).fill(-1);
  for (const s of arrivals) {
    for (let k = 0; k < s.data.length; k++) {
      const p = s.off + k;
      if (p < n && val[p] < 0) val[p] = s.data[k];
    }
  }
  const runs = [];
  for (let p = 0; p < n; p++) {
    const last = runs[runs.length - 1];
    if (val[p] < 0) {
      if (last && last.gap !== undefined) last.gap++;
      else runs.push({ gap: 1 });
    } else {
      const ch = String.fromCharCode(val[p]);
      if (last && last.data !== undefined) last.data += ch;
      else runs.push({ data: ch });
    }
  }
  return runs;
}

class RunRecorder {
  runs = [];
  ends = [];
  afterEnd = 0;
  onData(d) {
    if (this.ends.length) this.afterEnd++;
    const s = Buffer.from(d).toString('latin1');
    const last = this.runs[this.runs.length - 1];
    if (last && last.data !== undefined) last.data += s;
    else this.runs.push({ data: s });
  }
  onGap(n) {
    if (this.ends.length) this.afterEnd++;
    const last = this.runs[this.runs.length - 1];
    if (last && last.gap !== undefined) last.gap += n;
    else this.runs.push({ gap: n });
  }
  onEnd(r) {
    this.ends.push(r);
  }
}

// ---------- HTTP message text ----------

function caseVariant(name, mask) {
  let out = '';
  for (let i = 0; i < name.length; i++) out += (mask >> i % 30) & 1 ? name[i].toUpperCase() : name[i].toLowerCase();
  return out;
}

function requestText(r) {
  const lines = [`${r.method} ${r.path} ${r.version}`, `Host: 169.254.169.254`];
  for (const h of r.headers) lines.push(`${caseVariant(h.name, h.mask)}: ${h.value}`);
  let body = '';
  if (r.body !== null) {
    if (r.chunked) {
      lines.push('Transfer-Encoding: chunked');
      body = r.body.length ? `${r.body.length.toString(16)}\r\n${r.body}\r\n0\r\n\r\n` : '0\r\n\r\n';
    } else {
      lines.push(`Content-Length: ${r.body.length}`);
      body = r.body;
    }
  }
  return lines.join('\r\n') + '\r\n\r\n' + body;
}

function responseText(s, head) {
  const lines = [`HTTP/1.1 ${s.status} X`, 'Server: EC2ws'];
  if (s.chunked) {
    lines.push('Transfer-Encoding: chunked');
    return lines.join('\r\n') + '\r\n\r\n' + (head ? '' : s.body.length ? `${s.body.length.toString(16)}\r\n${s.body}\r\n0\r\n\r\n` : '0\r\n\r\n');
  }
  lines.push(`Content-Length: ${s.body.length}`);
  return lines.join('\r\n') + '\r\n\r\n' + (head ? '' : s.body);
}

function splitAt(buf, cuts) {
  const pts = [...new Set(cuts.map((c) => c % (buf.length + 1)))].filter((c) => c > 0 && c < buf.length).sort((a, b) => a - b);
  const out = [];
  let prev = 0;
  for (const p of [...pts, buf.length]) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  return out.filter((x) => x.length > 0);
}

function exchangesOf(mods, toServerChunks, toClientChunks) {
  const out = [];
  let opened = 0;
  const ex = new mods.HttpExchange({
    onRequest() {
      opened++;
    },
    onExchange(req, res) {
      out.push({
        m: req.method,
        t: req.target,
        v: req.httpVersion,
        h: req.headers,
        b: req.bodyLength,
        tr: req.truncated ?? null,
        res: res ? { s: res.status, h: res.headers, b: res.bodyLength, tr: res.truncated ?? null } : null,
      });
    },
  });
  for (const c of toServerChunks) {
    if (c.gap) ex.toServer.onGap(c.gap, 0, 0);
    else ex.toServer.onData(c, 0, 0);
  }
  for (const c of toClientChunks) {
    if (c.gap) ex.toClient.onGap(c.gap, 0, 0);
    else ex.toClient.onData(c, 0, 0);
  }
  ex.toServer.onEnd('fin', 1, 0);
  ex.toClient.onEnd('fin', 1, 0);
  if (out.length !== opened && opened !== 0) fail(`${opened} requests opened, ${out.length} exchanges`);
  return out;
}

// ---------- the properties ----------

export function makeProperties(mods, fc) {
  const tk = mods.testkit;
  const props = [];

  props.push({
    name: 'reader-random',
    arb: fc.record({
      prefix: fc.constantFrom('none', 'pcap-le-us', 'pcap-be-ns', 'pcapng-le', 'pcapng-be'),
      body: fc.uint8Array({ maxLength: 3000 }),
    }),
    check({ prefix, body }) {
      let head = Buffer.alloc(0);
      if (prefix.startsWith('pcap-')) head = tk.classicPcap([], { linkType: 1, bigEndian: prefix.includes('be'), nanosecond: prefix.endsWith('ns') });
      else if (prefix.startsWith('pcapng')) head = tk.pcapng([{ bigEndian: prefix.endsWith('be'), interfaces: [{ linkType: 1 }], records: [] }]);
      readBytes(mods, Buffer.concat([head, Buffer.from(body)]));
    },
  });

  props.push({
    name: 'reader-mutated',
    arb: fc.record({
      kind: fc.constantFrom('pcap', 'pcapng', 'pcapng-2if'),
      nano: fc.boolean(),
      be: fc.boolean(),
      packets: fc.array(fc.record({ data: fc.uint8Array({ minLength: 0, maxLength: 120 }), frac: fc.nat() }), { maxLength: 8 }),
      muts: fc.array(
        fc.record({ op: fc.constantFrom('flip', 'set32', 'truncate', 'insert', 'delete'), at: fc.nat(), val: fc.nat() }),
        { maxLength: 3 },
      ),
    }),
    check(spec) {
      const { file, ends, expect, headerEnd } = buildCapture(tk, spec);
      const { bytes, first } = mutate(file, spec.muts);
      const got = readBytes(mods, bytes);
      if (bytes.equals(file)) {
        eq(got.error, null, 'unmutated file error');
        eq(got.frames, expect, 'unmutated file frames');
        return;
      }
      // every record that ends at or before the first changed byte comes out unchanged,
      // and when the file headers are intact all of them come out
      const intact = ends.filter((e) => e <= first).length;
      for (let i = 0; i < Math.min(intact, got.frames.length); i++) eq(got.frames[i], expect[i], `record ${i} before the first change at ${first}`);
      if (first >= headerEnd && got.frames.length < intact) {
        fail(`${got.frames.length} frames delivered, ${intact} records before the first change at ${first} (error ${got.error})`);
      }
    },
  });

  const linkWrap = {
    1: (ip, o) => tk.ethernet(ip, { vlan: o.vlan }),
    113: (ip) => tk.sll(ip),
    276: (ip) => tk.sll2(ip),
    101: (ip) => ip,
    228: (ip) => ip,
    229: (ip) => ip,
    12: (ip) => ip,
    0: (ip) => tk.bsdNull(ip),
    108: (ip) => tk.bsdNull(ip, { bigEndian: true }),
    239: (ip, o) => tk.nflog(ip, { bigEndian: o.vlan.length % 2 === 1 }),
  };
  props.push({
    name: 'decoder-random',
    arb: fc.record({
      linkType: fc.constantFrom(...Object.keys(linkWrap).map(Number), 7, 0xffff),
      v6: fc.boolean(),
      toImds: fc.boolean(),
      vlan: fc.array(fc.integer({ min: 0, max: 4095 }), { maxLength: 3 }),
      keep: fc.nat(),
      tail: fc.uint8Array({ maxLength: 200 }),
      overwrite: fc.boolean(),
      payload: fc.uint8Array({ maxLength: 60 }),
    }),
    check(s) {
      const imds = s.v6 ? 'fd00:ec2::254' : '169.254.169.254';
      const me = s.v6 ? 'fd00::5' : '10.0.0.5';
      const ip = tk.ipTcp({ src: s.toImds ? me : imds, dst: s.toImds ? imds : me, srcPort: s.toImds ? 40000 : 80, dstPort: s.toImds ? 80 : 40000, seq: 1, ack: 1, flags: 'PA', payload: Buffer.from(s.payload) });
      const wrap = linkWrap[s.linkType] ?? ((x) => x);
      const valid = wrap(ip, s);
      const keep = s.keep % (valid.length + 1);
      const data = s.overwrite ? Buffer.concat([valid.subarray(0, keep), Buffer.from(s.tail)]) : Buffer.concat([valid, Buffer.from(s.tail)]);
      const dec = new mods.Decoder();
      const seg = dec.decode({ sec: 1, nsec: 0, linkType: s.linkType, data, origLen: data.length + 3, iface: 0 });
      if (dec.stats.frames !== 1) fail('frames not counted');
      if (seg === null) return;
      if (seg.payload.length > data.length) fail('payload longer than the frame');
      if (seg.srcPort < 0 || seg.srcPort > 65535 || seg.dstPort < 0 || seg.dstPort > 65535) fail('port out of range');
      if (seg.seq < 0 || seg.seq > 0xffffffff || seg.ack < 0 || seg.ack > 0xffffffff) fail('seq out of range');
      if (seg.missing < 0) fail('negative missing');
      if (seg.ipVersion !== 4 && seg.ipVersion !== 6) fail('bad ipVersion');
      if (seg.toImds ? seg.dstPort !== 80 : seg.srcPort !== 80) fail('segment not to or from port 80');
    },
  });

  const isnArb = fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0xffffffff - 800, max: 0xffffffff }));
  props.push({
    name: 'reassembler-reference',
    arb: fc.record({
      stream: fc.uint8Array({ minLength: 1, maxLength: 500 }),
      cuts: fc.array(fc.nat(499), { maxLength: 40 }),
      extras: fc.array(fc.record({ a: fc.nat(499), len: fc.integer({ min: 1, max: 80 }), conflict: fc.boolean(), fill: fc.nat(255) }), { maxLength: 12 }),
      isn: isnArb,
      keys: fc.array(fc.nat(), { minLength: 60, maxLength: 60 }),
      drop: fc.array(fc.boolean(), { minLength: 60, maxLength: 60 }),
      lossy: fc.boolean(),
      cap: fc.option(fc.integer({ min: 1, max: 96 }), { nil: null }),
    }),
    check(s) {
      const n = s.stream.length;
      const stream = Buffer.from(s.stream);
      const pts = [...new Set(s.cuts.filter((c) => c > 0 && c < n))].sort((a, b) => a - b);
      const segs = [];
      let prev = 0;
      for (const p of [...pts, n]) {
        segs.push({ off: prev, data: stream.subarray(prev, p) });
        prev = p;
      }
      for (const e of s.extras) {
        const a = e.a % n;
        const data = Buffer.from(stream.subarray(a, Math.min(n, a + e.len)));
        if (e.conflict) data.fill(e.fill);
        segs.push({ off: a, data });
      }
      let arrivals = segs.map((seg, i) => ({ seg, k: s.keys[i % 60] * 64 + i })).sort((x, y) => x.k - y.k).map((x) => x.seg);
      if (s.lossy) arrivals = arrivals.filter((_, i) => !s.drop[i % 60]);
      const rec = new RunRecorder();
      const budget = { buffered: 0, charge(n) { this.buffered += n; }, release(n) { this.buffered -= n; } }; // a MemoryAccount (src/tcp/memory-budget.ts)
      const cap = s.cap ?? 1 << 20;
      const r = new mods.Reassembler(rec, mods.emptyFlowStats(), budget, { maxBufferedBytes: cap, maxBufferedSegments: s.cap === null ? 1 << 20 : 8 });
      r.push(s.isn, mods.TCP_SYN, Buffer.alloc(0), 0, 0, 0);
      for (const a of arrivals) {
        r.push((s.isn + 1 + a.off) >>> 0, 0, Buffer.from(a.data), 0, 1, 0);
        if (r.buffered > cap) fail(`buffered ${r.buffered} > cap ${cap}`);
      }
      r.push((s.isn + 1 + n) >>> 0, mods.TCP_FIN, Buffer.alloc(0), 0, 2, 0);
      r.end('eof', 3, 0);
      eq(rec.ends, ['fin'], 'ends');
      if (rec.afterEnd !== 0) fail('callbacks after onEnd');
      if (budget.buffered !== 0) fail(`budget not returned: ${budget.buffered}`);
      const total = rec.runs.reduce((a, x) => a + (x.gap ?? x.data.length), 0);
      if (total !== n) fail(`delivered ${total} stream bytes (data + gaps), stream has ${n}`);
      if (s.cap === null) {
        eq(rec.runs, referenceReceiver(n, arrivals), 'stream vs reference receiver');
      } else {
        // bounded: every delivered byte is a copy some segment carried at that offset
        let p = 0;
        for (const x of rec.runs) {
          if (x.gap !== undefined) {
            p += x.gap;
            continue;
          }
          for (let k = 0; k < x.data.length; k++, p++) {
            const c = x.data.charCodeAt(k);
            if (!arrivals.some((a) => a.off <= p && p < a.off + a.data.length && a.data[p - a.off] === c)) fail(`byte ${p} = ${c} carried by no segment`);
          }
        }
      }
    },
  });

  const headerArb = fc.record({
    name: fc.constantFrom('User-Agent', 'X-aws-ec2-metadata-token', 'X-aws-ec2-metadata-token-ttl-seconds', 'Accept', 'X-Forwarded-For', 'Connection'),
    mask: fc.nat(),
    value: fc.stringMatching(/^[!-~]([ -~]{0,38}[!-~])?$/),
  });
  const requestArb = fc.record({
    method: fc.constantFrom('GET', 'HEAD', 'PUT', 'POST', 'DELETE'),
    path: fc.constantFrom('/', '/latest/api/token', '/latest/meta-data/', '/latest/meta-data/iam/security-credentials/r', '/x?token=abc'),
    version: fc.constantFrom('HTTP/1.1', 'HTTP/1.0'),
    headers: fc.array(headerArb, { maxLength: 5 }),
    body: fc.option(fc.stringMatching(/^[ -~]{0,40}$/), { nil: null }),
    chunked: fc.boolean(),
  });
  const responseArb = fc.record({ status: fc.constantFrom(200, 401, 403, 404, 405), body: fc.stringMatching(/^[ -~]{0,60}$/), chunked: fc.boolean() });
  props.push({
    name: 'http-split',
    arb: fc.record({
      reqs: fc.array(fc.record({ req: requestArb, res: responseArb }), { minLength: 1, maxLength: 4 }),
      cutsReq: fc.array(fc.nat(), { maxLength: 30 }),
      cutsRes: fc.array(fc.nat(), { maxLength: 30 }),
    }),
    check(s) {
      const reqBytes = Buffer.from(s.reqs.map((x) => requestText(x.req)).join(''), 'latin1');
      const resBytes = Buffer.from(s.reqs.map((x) => responseText(x.res, x.req.method === 'HEAD')).join(''), 'latin1');
      const whole = exchangesOf(mods, [reqBytes], [resBytes]);
      if (whole.length !== s.reqs.length) fail(`${s.reqs.length} requests sent, ${whole.length} exchanges`);
      const split = exchangesOf(mods, splitAt(reqBytes, s.cutsReq), splitAt(resBytes, s.cutsRes));
      eq(split, whole, 'split vs whole');
      // byte at a time
      eq(exchangesOf(mods, splitAt(reqBytes, [...reqBytes.keys()]), splitAt(resBytes, [...resBytes.keys()])), whole, 'byte-wise vs whole');
    },
  });

  props.push({
    name: 'http-random',
    arb: fc.record({
      toServer: fc.array(fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.record({ gap: fc.integer({ min: 1, max: 5000 }) }), fc.constantFrom(...['GET / HTTP/1.1\r\n', 'Content-Length: 99999999999\r\n', 'Transfer-Encoding: chunked\r\n\r\nzz\r\n', '\r\n\r\n', 'PUT /latest/api/token HTTP/1.1\r\n'].map((t) => Buffer.from(t)))), { maxLength: 12 }),
      toClient: fc.array(fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.record({ gap: fc.integer({ min: 1, max: 5000 }) }), fc.constantFrom(...['HTTP/1.1 200 OK\r\n', 'Content-Length: 3\r\n\r\nabc', 'Transfer-Encoding: chunked\r\n\r\n', 'fffffffffffffff\r\n'].map((t) => Buffer.from(t)))), { maxLength: 12 }),
    }),
    check(s) {
      const conv = (c) => (c instanceof Uint8Array ? Buffer.from(c) : c);
      exchangesOf(mods, s.toServer.map(conv), s.toClient.map(conv));
    },
  });

  props.push({
    name: 'pipeline-split',
    arb: fc.record({
      reqs: fc.array(fc.record({ req: requestArb, res: responseArb }), { minLength: 1, maxLength: 3 }),
      cuts: fc.array(fc.nat(), { maxLength: 12 }),
      keys: fc.array(fc.nat(), { minLength: 16, maxLength: 16 }),
      isn: isnArb,
      v6: fc.boolean(),
    }),
    check(s) {
      const requests = s.reqs.map((x) => requestText(x.req));
      const responses = s.reqs.map((x) => responseText(x.res, x.req.method === 'HEAD'));
      const base = { client: { ip: s.v6 ? 'fd00::5' : '10.0.0.5', port: 40001 }, requests, responses, pipeline: true, clientIsn: s.isn };
      const run = (opts) => {
        const events = [];
        const p = mods.createPipeline({ onEvent: (e) => events.push(e) });
        for (const r of tk.toRecords(tk.tcpConversation(opts), (ip) => tk.ethernet(ip))) {
          p.pushFrame({ sec: r.sec, nsec: r.nsec, linkType: 1, data: r.data, origLen: r.data.length, iface: 0 });
        }
        p.finish();
        return events.map(({ ts, ...rest }) => rest);
      };
      const whole = run(base);
      const shortest = Math.min(...requests.map((r) => r.length));
      const split = s.cuts.map((c) => 1 + (c % Math.max(1, shortest - 1)));
      const nSegs = new Set(split.filter((c) => c > 0 && c < shortest)).size + 1;
      const order = [...Array(nSegs).keys()].sort((a, b) => s.keys[a % 16] - s.keys[b % 16] || a - b);
      eq(run({ ...base, split, order }), whole, 'split + reordered vs whole');
    },
  });

  props.push({
    name: 'ip-reassembly',
    arb: fc.record({
      v6: fc.boolean(),
      ext: fc.integer({ min: 0, max: 2 }),
      unfrag: fc.nat(),
      payload: fc.uint8Array({ minLength: 0, maxLength: 400 }),
      cuts: fc.array(fc.nat(), { maxLength: 12 }),
      keys: fc.array(fc.nat(), { minLength: 64, maxLength: 64 }),
      extras: fc.array(fc.record({ a: fc.nat(), len: fc.integer({ min: 1, max: 120 }), conflict: fc.boolean(), fill: fc.nat(255) }), { maxLength: 6 }),
    }),
    check(s) {
      const imds = s.v6 ? 'fd00:ec2::254' : '169.254.169.254';
      const exts = [{ type: 0, data: Buffer.from([1, 4, 0, 0, 0, 0]) }, { type: 60, data: Buffer.from([1, 4, 0, 0, 0, 0]) }].slice(0, s.v6 ? s.ext : 0);
      const packet = tk.ipTcp({ src: s.v6 ? 'fd00::5' : '10.0.0.5', dst: imds, srcPort: 40000, dstPort: 80, seq: 7, ack: 9, flags: 'PA', payload: Buffer.from(s.payload), extHeaders: exts, ipId: 0x77 });
      if (!s.v6) packet.writeUInt16BE(0, 6);
      const unfragmentable = s.v6 ? s.unfrag % (exts.length + 1) : 0;
      // the fragmentable part: after the IPv4 header, or after the IPv6 header and `unfragmentable` extension headers
      let at = s.v6 ? 40 : 20;
      for (let i = 0; i < unfragmentable; i++) at += (packet[at + 1] + 1) * 8;
      const n = packet.length - at;
      const frag = (a, b) => (s.v6 ? tk.ipv6Fragment(packet, a, b, { unfragmentable }) : tk.ipv4Fragment(packet, a, b));
      // at least two fragments: a whole datagram (offset 0, no more fragments) is no fragment at all
      const pts = [...new Set([8, ...s.cuts.map((c) => (c % Math.ceil(n / 8)) * 8)])].filter((c) => c > 0 && c < n).sort((x, y) => x - y);
      const pieces = [];
      let prev = 0;
      for (const p of [...pts, n]) {
        pieces.push({ a: prev, b: p, fill: null });
        prev = p;
      }
      for (const e of s.extras) {
        const a = (e.a % Math.ceil(n / 8)) * 8;
        const b = Math.min(n, a + e.len);
        pieces.push({ a, b: a === 0 && b === n ? n - 1 : b, fill: e.conflict ? e.fill : null });
      }
      const arrivals = pieces.map((p, i) => ({ p, k: s.keys[i % 64] * 64 + i })).sort((x, y) => x.k - y.k).map((x) => x.p);
      // first-copy-wins reference over the fragments up to the one that completes the datagram;
      // later ones are copies of a datagram already read (echoes: they may be delivered again)
      const ref = Buffer.from(packet);
      const held = new Uint8Array(n);
      let heldCount = 0;
      let completedAt = -1;
      let conflicts = false;
      const frames = arrivals.map((p, idx) => {
        const f = frag(p.a, p.b);
        const dataAt = f.length - (p.b - p.a);
        if (p.fill !== null) f.fill(p.fill, dataAt);
        if (completedAt < 0) {
          for (let k = p.a; k < p.b; k++) {
            const v = f[dataAt + k - p.a];
            if (!held[k]) {
              held[k] = 1;
              heldCount++;
              ref[at + k] = v;
            } else if (ref[at + k] !== v) conflicts = true;
          }
          if (heldCount === n) completedAt = idx;
        }
        return f;
      });
      if (completedAt < 0) fail('the fragments do not cover the datagram (generator bug)');
      const dec = new mods.Decoder();
      const got = [];
      let firstAt = -1;
      frames.forEach((data, i) => {
        const seg = dec.decode({ sec: 1, nsec: i, linkType: 101, data, origLen: data.length, iface: 0 });
        if (seg) {
          if (firstAt < 0) firstAt = i;
          got.push(segmentFields(seg));
        }
      });
      const refDec = new mods.Decoder();
      const want = refDec.decode({ sec: 1, nsec: 0, linkType: 101, data: ref, origLen: ref.length, iface: 0 });
      if (want) {
        eq(firstAt, completedAt, 'index of the fragment that completed the datagram');
        eq(got[0], segmentFields(want), 'reassembled segment vs first-copy reference');
      } else if (firstAt >= 0 && firstAt <= completedAt) fail('a segment where the reference datagram has none');
      if (got.length > 1 + frames.length - 1 - completedAt) fail(`${got.length} segments`);
      eq(dec.stats.fragments, 0, 'fragments left unread');
      // altered copies may have broken the TCP or extension headers (of the datagram, or of an echo read again)
      const altered = pieces.some((p) => p.fill !== null);
      const allowed = ['ip-fragment-duplicate', 'ip-fragment-overlap-conflict', 'ip-fragment-after-reassembly', ...Object.keys(refDec.stats.skipped)];
      const skipped = Object.keys(dec.stats.skipped).filter((k) => !allowed.includes(k) && !(altered && !k.startsWith('ip-')));
      eq(skipped, [], 'skip reasons');
      if (conflicts && !(dec.stats.skipped['ip-fragment-overlap-conflict'] > 0)) fail('a conflicting overlap was not counted');
      if (!conflicts && completedAt === frames.length - 1 && dec.stats.skipped['ip-fragment-overlap-conflict']) fail('a conflict counted where every copy agreed');
      if (dec.reassembly && dec.reassembly.bytesHeld !== 0 && completedAt === frames.length - 1) fail(`bytes held after the datagram completed: ${dec.reassembly.bytesHeld}`);
    },
  });

  return props;
}

function segmentFields(seg) {
  return { src: seg.src, dst: seg.dst, sp: seg.srcPort, dp: seg.dstPort, seq: seg.seq, ack: seg.ack, flags: seg.flags, ttl: seg.ttl, payload: Buffer.from(seg.payload).toString('hex'), missing: seg.missing };
}
