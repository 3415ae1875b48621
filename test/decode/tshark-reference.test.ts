/**
 * Independent reference for the decoder: tshark. For every well-formed capture
 * under pcaps/edge and pcaps/real, the IMDS TCP segments our Decoder returns
 * must be exactly the ones tshark dissects (same order, addresses as text, ports, raw seq/ack, flags, wire
 * payload length, TTL / hop limit). Fragmented datagrams are reassembled on both sides
 * (tshark: ip.defragment / ipv6.defragment, the default) and compared at the frame that
 * completed them.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Decoder } from '../../src/decode/decoder.js';
import { readCaptureFile } from '../../src/source/capture-file.js';

const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const root = path.resolve(__dirname, '../../pcaps');

/** well-formed captures: labels without an expected error or an expected decode skip */
function wellFormed(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.labels.json'))
    .flatMap((f) => {
      const stem = path.join(dir, f.slice(0, -'.labels.json'.length));
      const labels = JSON.parse(fs.readFileSync(`${stem}.labels.json`, 'utf8'));
      if (!Array.isArray(labels) && (labels.expect?.error || labels.expect?.skip)) return [];
      return ['.pcap', '.pcapng'].map((e) => stem + e).filter((p) => fs.existsSync(p));
    });
}

const files = [...wellFormed(path.join(root, 'edge')), ...wellFormed(path.join(root, 'real'))];

const IMDS4 = '169.254.169.254';
const IMDS6 = 'fd00:ec2::254';

const FIELDS = ['ip.src', 'ip.dst', 'ipv6.src', 'ipv6.dst', 'tcp.srcport', 'tcp.dstport', 'tcp.seq_raw', 'tcp.ack_raw', 'tcp.flags', 'tcp.len', 'ip.ttl', 'ipv6.hlim'];

function viaTshark(file: string): string[] {
  const t = spawnSync(
    'tshark',
    ['-r', file, '-n', '-o', 'ip.defragment:TRUE', '-o', 'ipv6.defragment:TRUE', '-o', 'tcp.desegment_tcp_streams:FALSE', '-Y', 'tcp', '-T', 'fields', '-E', 'separator=|', ...FIELDS.flatMap((f) => ['-e', f])],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  if (t.status !== 0) throw new Error(`tshark failed on ${file}: ${t.stderr}`);
  const rows: string[] = [];
  for (const line of t.stdout.split('\n')) {
    if (line === '') continue;
    const [s4, d4, s6, d6, sp, dp, seq, ack, flags, tlen, ttl, hlim] = line.split('|');
    const src = s4 || s6;
    const dst = d4 || d6;
    const toImds = (dst === IMDS4 || dst === IMDS6) && dp === '80';
    const fromImds = (src === IMDS4 || src === IMDS6) && sp === '80';
    if (!toImds && !fromImds) continue;
    rows.push([src, dst, sp, dp, seq, ack, parseInt(flags, 16) & 0xff, tlen, ttl || hlim, toImds].join(' '));
  }
  return rows;
}

function viaDecoder(file: string): string[] {
  const dec = new Decoder();
  const rows: string[] = [];
  readCaptureFile(file, (f) => {
    const s = dec.decode(f);
    if (s) rows.push([s.src, s.dst, s.srcPort, s.dstPort, s.seq, s.ack, s.flags, s.payload.length + s.missing, s.ttl, s.toImds].join(' '));
  });
  return rows;
}

/**
 * One tshark run is slow to start, so the captures are concatenated into one
 * pcapng with mergecap -a; files mergecap cannot merge (several sections) are
 * compared alone.
 */
function mergeable(out: string): { merged: string | null; alone: string[] } {
  const alone: string[] = [];
  for (let attempt = 0; attempt < 10; attempt++) {
    const rest = files.filter((f) => !alone.includes(f));
    if (rest.length === 0) return { merged: null, alone };
    const m = spawnSync('mergecap', ['-a', '-F', 'pcapng', '-w', out, ...rest], { encoding: 'utf8' });
    if (m.status === 0) return { merged: out, alone };
    const bad = rest.find((f) => m.stderr.includes(`"${f}"`));
    if (!bad) break;
    alone.push(bad);
  }
  return { merged: null, alone: files };
}

describe.skipIf(files.length === 0 || !has('tshark') || !has('mergecap'))('decoder agrees with tshark', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `imdswatch-tshark-${process.pid}-`));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const { merged, alone } = mergeable(path.join(tmp, 'all.pcapng'));

  it.skipIf(merged === null)(`${files.length - alone.length} captures merged into one pcapng`, () => {
    const want = viaTshark(merged!);
    expect(want.length).toBeGreaterThan(100);
    expect(viaDecoder(merged!)).toEqual(want);
  });

  for (const file of alone) {
    it(path.relative(root, file), () => {
      expect(viaDecoder(file)).toEqual(viaTshark(file));
    });
  }
});
