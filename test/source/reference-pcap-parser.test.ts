/**
 * Independent reference: the npm package pcap-parser (classic microsecond pcaps
 * only) must see exactly the packets readCaptureFile sees, for every such file
 * under pcaps/ and for generated random files.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCaptureFile } from '../../src/source/capture-file.js';
import { CaptureFormatError } from '../../src/source/frame.js';
import { classicPcap, prng, randomBytes, type Pkt } from './pcap-bytes.js';

const require = createRequire(import.meta.url);
const pcapp = require('pcap-parser') as {
  parse(p: string): NodeJS.EventEmitter;
};

interface Rec {
  sec: number;
  usec: number;
  caplen: number;
  origLen: number;
  sha: string;
}

const sha = (b: Buffer) => createHash('sha1').update(b).digest('hex');

function viaReference(file: string): Promise<Rec[]> {
  return new Promise((resolve, reject) => {
    const out: Rec[] = [];
    const parser = pcapp.parse(file);
    parser.on('packet', (p: { header: Record<string, number>; data: Buffer }) => {
      out.push({
        sec: p.header.timestampSeconds,
        usec: p.header.timestampMicroseconds,
        caplen: p.header.capturedLength,
        origLen: p.header.originalLength,
        sha: sha(p.data),
      });
    });
    parser.on('error', reject);
    parser.on('end', () => resolve(out));
  });
}

function viaReader(file: string): { recs: Rec[]; damaged: boolean } {
  const out: Rec[] = [];
  let damaged = false;
  try {
    readCaptureFile(file, (f) => {
      expect(f.nsec % 1000).toBe(0);
      out.push({ sec: f.sec, usec: f.nsec / 1000, caplen: f.data.length, origLen: f.origLen, sha: sha(f.data) });
    });
  } catch (err) {
    // a capture cut short or damaged: pcap-parser silently drops a partial record
    // (and may read garbage as packets); we report an error after the good ones
    if (!(err instanceof CaptureFormatError)) throw err;
    if (err.code !== 'E_CAPTURE_TRUNCATED' && err.code !== 'E_CAPTURE_MALFORMED') throw err;
    damaged = true;
  }
  return { recs: out, damaged };
}

function isClassicMicro(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(4);
    if (fs.readSync(fd, b, 0, 4, 0) < 4) return false;
    return b.readUInt32LE(0) === 0xa1b2c3d4 || b.readUInt32BE(0) === 0xa1b2c3d4;
  } finally {
    fs.closeSync(fd);
  }
}

function walk(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return walk(p);
    return e.isFile() ? [p] : [];
  });
}

const repoPcaps = walk(path.resolve(__dirname, '../../pcaps')).filter(isClassicMicro);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `imdswatch-ref-${process.pid}-`));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function generated(seed: number, le: boolean, count: number, snaplen: number): string {
  const rand = prng(seed);
  const pkts: Pkt[] = [];
  for (let i = 0; i < count; i++) {
    const wire = 14 + (rand() % 1600);
    const cap = Math.min(wire, snaplen);
    pkts.push({ sec: 1600000000 + i, frac: rand() % 1_000_000, data: randomBytes(rand, cap), origLen: wire });
  }
  const file = path.join(tmp, `gen-${seed}.pcap`);
  fs.writeFileSync(file, classicPcap(pkts, { le, snaplen }));
  return file;
}

const generatedFiles = [
  generated(1, true, 500, 262144),
  generated(2, false, 500, 262144),
  generated(3, true, 3000, 128), // snaplen-truncated
  generated(4, true, 6000, 262144), // ~5 MB: more than one 4 MiB chunk
];

describe('readCaptureFile agrees with pcap-parser', () => {
  const files = [...repoPcaps, ...generatedFiles];
  for (const file of files) {
    const title = file.startsWith(tmp) ? `generated ${path.basename(file)}` : path.relative(path.resolve(__dirname, '../..'), file);
    it(title, async () => {
      const want = await viaReference(file);
      const { recs: got, damaged } = viaReader(file);
      if (damaged) {
        expect(got).toEqual(want.slice(0, got.length));
      } else {
        expect(got.length).toBe(want.length);
        expect(got).toEqual(want);
      }
    });
  }
});
