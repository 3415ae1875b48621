import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCaptureFile } from '../../src/source/capture-file.js';
import { CaptureFormatError, type Frame, type ReadStats } from '../../src/source/frame.js';
import {
  block,
  classicHeader,
  classicPcap,
  classicRecord,
  epb,
  idb,
  option,
  pb,
  prng,
  randomBytes,
  shb,
  spb,
  type Pkt,
} from './pcap-bytes.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), `imdswatch-src-${process.pid}-`));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;

function tmpFile(bytes: Buffer): string {
  const p = path.join(dir, `f${fileNo++}.cap`);
  fs.writeFileSync(p, bytes);
  return p;
}

interface Got {
  sec: number;
  nsec: number;
  linkType: number;
  origLen: number;
  iface: number;
  hex: string;
}

function snapshot(f: Frame): Got {
  return { sec: f.sec, nsec: f.nsec, linkType: f.linkType, origLen: f.origLen, iface: f.iface, hex: f.data.toString('hex') };
}

function readAll(bytes: Buffer, chunkSize?: number): { frames: Got[]; stats: ReadStats } {
  const frames: Got[] = [];
  const stats = readCaptureFile(tmpFile(bytes), (f) => frames.push(snapshot(f)), { chunkSize });
  return { frames, stats };
}

/** Reads expecting an error; returns the frames delivered before it and the error. */
function readFailing(bytes: Buffer): { frames: Got[]; err: CaptureFormatError } {
  const frames: Got[] = [];
  try {
    readCaptureFile(tmpFile(bytes), (f) => frames.push(snapshot(f)));
  } catch (err) {
    expect(err).toBeInstanceOf(CaptureFormatError);
    return { frames, err: err as CaptureFormatError };
  }
  throw new Error('expected a CaptureFormatError');
}

const p1: Pkt = { sec: 1700000000, frac: 123456, data: Buffer.from('00112233445566778899aabbccddeeff', 'hex') };
const p2: Pkt = { sec: 1700000001, frac: 999999, data: Buffer.from('deadbeef', 'hex'), origLen: 1500 };

describe('classic pcap', () => {
  const cases = [
    { name: 'little-endian microseconds', le: true, nano: false },
    { name: 'big-endian microseconds', le: false, nano: false },
    { name: 'little-endian nanoseconds', le: true, nano: true },
    { name: 'big-endian nanoseconds', le: false, nano: true },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const q2 = { ...p2, frac: c.nano ? 999999999 : 999999 };
      const { frames, stats } = readAll(classicPcap([p1, q2], { le: c.le, nano: c.nano, linkType: 113 }));
      const mul = c.nano ? 1 : 1000;
      expect(frames).toEqual([
        { sec: p1.sec, nsec: p1.frac * mul, linkType: 113, origLen: 16, iface: 0, hex: p1.data.toString('hex') },
        { sec: q2.sec, nsec: q2.frac * mul, linkType: 113, origLen: 1500, iface: 0, hex: 'deadbeef' },
      ]);
      expect(stats.packets).toBe(2);
      expect(stats.bytes).toBe(24 + 16 + 16 + 16 + 4);
    });
  }

  it('snaplen-truncated packets keep origLen > data.length', () => {
    const data = randomBytes(prng(7), 96);
    const { frames } = readAll(classicPcap([{ sec: 5, frac: 0, data, origLen: 1514 }], { snaplen: 96 }));
    expect(frames[0].origLen).toBe(1514);
    expect(frames[0].hex).toBe(data.toString('hex'));
  });

  it('header only: zero packets, no error', () => {
    const { frames, stats } = readAll(classicHeader());
    expect(frames).toEqual([]);
    expect(stats.packets).toBe(0);
  });

  it('records that span chunk boundaries are delivered intact', () => {
    const rand = prng(42);
    const pkts: Pkt[] = [];
    for (let i = 0; i < 3000; i++) pkts.push({ sec: i, frac: i, data: randomBytes(rand, 1 + (rand() % 3000)) });
    const { frames, stats } = readAll(classicPcap(pkts), 1024 * 1024);
    expect(stats.packets).toBe(pkts.length);
    frames.forEach((f, i) => {
      expect(f.hex).toBe(pkts[i].data.toString('hex'));
      expect(f.sec).toBe(i);
    });
  });

  it('the Frame object is reused and data views the read buffer (documented contract)', () => {
    const seen: Frame[] = [];
    readCaptureFile(tmpFile(classicPcap([p1, p2])), (f) => seen.push(f));
    expect(seen).toHaveLength(2);
    expect(seen[0]).toBe(seen[1]);
    expect(seen[1].data.buffer.byteLength).toBeGreaterThanOrEqual(1024 * 1024);
  });
});

describe('errors (good frames first, then a coded error)', () => {
  const good = classicPcap([p1, p2]);
  const goodLen = good.length;
  const rows: { name: string; bytes: Buffer; code: string; frames: number; offset: number }[] = [
    { name: 'empty file', bytes: Buffer.alloc(0), code: 'E_CAPTURE_EMPTY', frames: 0, offset: 0 },
    { name: 'unknown magic', bytes: Buffer.from('hello world, not a capture'), code: 'E_CAPTURE_BAD_MAGIC', frames: 0, offset: 0 },
    { name: 'three magic bytes', bytes: Buffer.from([0xd4, 0xc3, 0xb2]), code: 'E_CAPTURE_TRUNCATED', frames: 0, offset: 3 },
    { name: 'cut inside file header', bytes: classicHeader().subarray(0, 10), code: 'E_CAPTURE_TRUNCATED', frames: 0, offset: 0 },
    { name: 'cut inside a record header', bytes: Buffer.concat([good, Buffer.alloc(7)]), code: 'E_CAPTURE_TRUNCATED', frames: 2, offset: goodLen },
    {
      name: 'cut inside a record body',
      bytes: Buffer.concat([good, classicRecord({ sec: 1, frac: 1, data: Buffer.alloc(100) }).subarray(0, 60)]),
      code: 'E_CAPTURE_TRUNCATED',
      frames: 2,
      offset: goodLen,
    },
    {
      name: 'garbage after two good packets',
      bytes: Buffer.concat([good, Buffer.alloc(64, 0xee)]),
      code: 'E_CAPTURE_MALFORMED',
      frames: 2,
      offset: goodLen,
    },
    {
      name: 'caplen above snaplen + slack',
      bytes: Buffer.concat([classicPcap([p1], { snaplen: 100 }), classicRecord({ sec: 1, frac: 1, data: Buffer.alloc(70000) })]),
      code: 'E_CAPTURE_MALFORMED',
      frames: 1,
      offset: 24 + 32,
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const { frames, err } = readFailing(row.bytes);
      expect(err.code).toBe(row.code);
      expect(frames).toHaveLength(row.frames);
      expect(err.packetsRead).toBe(row.frames);
      expect(err.offset).toBe(row.offset);
      expect(err.message).not.toMatch(/\n/);
      expect(err.message).toContain(`byte ${row.offset}`);
    });
  }

  it('garbage never appears in the message', () => {
    const secret = Buffer.from('AQAEAsecretTOKENvalue==');
    const { err } = readFailing(Buffer.concat([good, secret, Buffer.alloc(64, 0xff)]));
    expect(err.message).not.toContain('secret');
  });

  it('missing file → E_CAPTURE_IO with advice', () => {
    let err: unknown;
    try {
      readCaptureFile(path.join(dir, 'nope.pcap'), () => {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CaptureFormatError);
    expect((err as CaptureFormatError).code).toBe('E_CAPTURE_IO');
    expect((err as CaptureFormatError).message).toMatch(/ENOENT.*check the path/);
  });

  it('a directory → E_CAPTURE_IO', () => {
    expect(() => readCaptureFile(dir, () => {})).toThrow(expect.objectContaining({ code: 'E_CAPTURE_IO' }));
  });
});

describe('pcapng', () => {
  it('two interfaces with different link types, if_tsresol, SPB, PB, unknown blocks', () => {
    const bytes = Buffer.concat([
      shb(true),
      idb({ linkType: 1, snaplen: 262144 }), // default microseconds
      idb({ linkType: 276, snaplen: 262144, tsresol: 9 }), // nanoseconds
      epb(0, 1700000000_123456n, p1.data),
      block(0x12345678, Buffer.alloc(20)), // unknown block type
      epb(1, 1700000001_000000007n, p2.data, 1500),
      block(5, Buffer.alloc(16)), // interface statistics
      spb(Buffer.from('cafebabe', 'hex'), 4),
      pb(1, 1700000002_000000009n, Buffer.from('0102', 'hex')),
    ]);
    const { frames, stats } = readAll(bytes);
    expect(frames).toEqual([
      { sec: 1700000000, nsec: 123456000, linkType: 1, origLen: 16, iface: 0, hex: p1.data.toString('hex') },
      { sec: 1700000001, nsec: 7, linkType: 276, origLen: 1500, iface: 1, hex: 'deadbeef' },
      // SPB: interface 0, time of the previous packet
      { sec: 1700000001, nsec: 7, linkType: 1, origLen: 4, iface: 0, hex: 'cafebabe' },
      { sec: 1700000002, nsec: 9, linkType: 276, origLen: 2, iface: 1, hex: '0102' },
    ]);
    expect(stats.skipped).toEqual({ 'pcapng-unknown-block': 1, 'pcapng-interface-statistics-block': 1 });
    expect(stats.bytes).toBe(bytes.length);
  });

  const resolutions = [
    { tsresol: 0, ts: 1700000000n, sec: 1700000000, nsec: 0 },
    { tsresol: 3, ts: 1700000000_250n, sec: 1700000000, nsec: 250_000_000 },
    { tsresol: 6, ts: 1700000000_000001n, sec: 1700000000, nsec: 1000 },
    { tsresol: 9, ts: 1700000000_999999999n, sec: 1700000000, nsec: 999_999_999 },
    { tsresol: 12, ts: 1700000000_000000001000n & 0xffffffffffffffffn, sec: -1, nsec: -1 }, // computed below
    { tsresol: 0x80 | 10, ts: (1700000000n << 10n) | 512n, sec: 1700000000, nsec: 500_000_000 },
    { tsresol: 0x80 | 20, ts: (1000n << 20n) | (1n << 18n), sec: 1000, nsec: 250_000_000 },
  ];
  for (const r of resolutions) {
    it(`if_tsresol 0x${r.tsresol.toString(16)}`, () => {
      const { frames } = readAll(Buffer.concat([shb(), idb({ linkType: 101, tsresol: r.tsresol }), epb(0, r.ts, p1.data)]));
      if (r.sec === -1) {
        // picoseconds: compute the expectation with BigInt
        const units = 10n ** 12n;
        expect(frames[0].sec).toBe(Number(r.ts / units));
        expect(frames[0].nsec).toBe(Number(((r.ts % units) * 1_000_000_000n) / units));
      } else {
        expect(frames[0]).toMatchObject({ sec: r.sec, nsec: r.nsec, linkType: 101 });
      }
    });
  }

  it('if_tsoffset adds seconds', () => {
    const { frames } = readAll(Buffer.concat([shb(), idb({ linkType: 1, tsoffset: 1000 }), epb(0, 5_000001n, p1.data)]));
    expect(frames[0]).toMatchObject({ sec: 1005, nsec: 1000 });
  });

  it('big-endian section, then a little-endian section with new interfaces', () => {
    const bytes = Buffer.concat([
      shb(false),
      idb({ linkType: 113 }, false),
      epb(0, 1_000002n, p1.data, 16, false),
      spb(p2.data, 4, false),
      shb(true),
      idb({ linkType: 229, tsresol: 9 }),
      epb(0, 2_000000003n, p2.data),
    ]);
    const { frames } = readAll(bytes);
    expect(frames.map((f) => [f.linkType, f.sec, f.nsec, f.hex])).toEqual([
      [113, 1, 2000, p1.data.toString('hex')],
      [113, 1, 2000, 'deadbeef'],
      [229, 2, 3, 'deadbeef'],
    ]);
  });

  it('SPB caplen is min(snaplen, block data) and origLen comes from the block', () => {
    const data = randomBytes(prng(3), 64);
    const { frames } = readAll(Buffer.concat([shb(), idb({ linkType: 1, snaplen: 40 }), spb(data, 1514)]));
    expect(frames[0].origLen).toBe(1514);
    expect(frames[0].hex).toBe(data.subarray(0, 40).toString('hex'));
  });

  it('a packet for an interface that was never described is skipped and counted', () => {
    const { frames, stats } = readAll(Buffer.concat([shb(), idb({ linkType: 1 }), epb(3, 1n, p1.data), epb(0, 1n, p2.data)]));
    expect(frames).toHaveLength(1);
    expect(stats.skipped['pcapng-unknown-interface']).toBe(1);
  });

  it('a block it must hold may be up to 4 MiB by default (a classic pcap reads in 1 MiB chunks, pcapng keeps its limit)', () => {
    // a 2.4 MiB section header (40 comments of 60 000 bytes): held whole, so it must fit the buffer
    const comments = Array.from({ length: 40 }, () => option(1, Buffer.alloc(60_000, 0x61)));
    const bytes = Buffer.concat([shb(true, [...comments, option(0, Buffer.alloc(0))]), idb({ linkType: 1 }), epb(0, 1700000000_000001n, p1.data)]);
    const { frames, stats } = readAll(bytes);
    expect(frames).toEqual([{ sec: 1700000000, nsec: 1000, linkType: 1, origLen: 16, iface: 0, hex: p1.data.toString('hex') }]);
    expect(stats.bytes).toBe(bytes.length);
    // past 4 MiB: the same coded error as before
    const huge = Array.from({ length: 70 }, () => option(1, Buffer.alloc(60_000, 0x61)));
    const { err } = readFailing(Buffer.concat([shb(true, huge), idb({ linkType: 1 })]));
    expect(err.code).toBe('E_CAPTURE_MALFORMED');
    expect(err.message).toContain('exceeds the limit 4194304');
  });

  it('a large unknown block is read through, not held', () => {
    const big = block(0x40000bad, Buffer.alloc(3 * 1024 * 1024, 1));
    const { frames, stats } = readAll(Buffer.concat([shb(), idb({ linkType: 1 }), big, epb(0, 1n, p1.data)]), 1024 * 1024);
    expect(frames).toHaveLength(1);
    expect(stats.skipped['pcapng-custom-block']).toBe(1);
  });

  const head = Buffer.concat([shb(), idb({ linkType: 1 }), epb(0, 1n, p1.data)]);
  const errorRows: { name: string; tail: Buffer; code: string }[] = [
    { name: 'cut inside a block header', tail: Buffer.alloc(5), code: 'E_CAPTURE_TRUNCATED' },
    { name: 'cut inside a block body', tail: epb(0, 2n, p2.data).subarray(0, 30), code: 'E_CAPTURE_TRUNCATED' },
    {
      name: 'block length not a multiple of 4',
      tail: Buffer.from('06000000210000000000000000000000', 'hex'),
      code: 'E_CAPTURE_MALFORMED',
    },
    { name: 'block length below 12', tail: Buffer.from('0600000008000000', 'hex'), code: 'E_CAPTURE_MALFORMED' },
    {
      name: 'trailing length mismatch',
      tail: (() => {
        const b = epb(0, 2n, p2.data);
        b.writeUInt32LE(999, b.length - 4);
        return b;
      })(),
      code: 'E_CAPTURE_MALFORMED',
    },
    {
      name: 'captured length larger than its block',
      tail: (() => {
        const b = epb(0, 2n, p2.data);
        b.writeUInt32LE(5000, 20);
        return b;
      })(),
      code: 'E_CAPTURE_MALFORMED',
    },
    { name: 'garbage', tail: randomBytes(prng(9), 200), code: 'E_CAPTURE_MALFORMED' },
  ];
  for (const row of errorRows) {
    it(row.name, () => {
      const { frames, err } = readFailing(Buffer.concat([head, row.tail]));
      expect(err.code).toBe(row.code);
      expect(frames).toHaveLength(1);
      expect(err.packetsRead).toBe(1);
      expect(err.offset).toBe(head.length);
    });
  }

  it('bad byte-order magic in the first section → E_CAPTURE_BAD_MAGIC', () => {
    const b = shb();
    b.writeUInt32LE(0x11223344, 8);
    expect(readFailing(b).err.code).toBe('E_CAPTURE_BAD_MAGIC');
  });
});

describe('stdin', () => {
  const reader = path.resolve(__dirname, 'stdin-reader.ts');
  const viteNode = path.resolve(__dirname, '../../node_modules/vite-node/vite-node.mjs');
  const run = (input: Buffer) => spawnSync(process.execPath, [viteNode, reader], { input, encoding: 'utf8', timeout: 60_000 });

  it('reads a pcap from a pipe and reports errors the same way', () => {
    const pkts: Pkt[] = [];
    const rand = prng(11);
    for (let i = 0; i < 2000; i++) pkts.push({ sec: i, frac: 0, data: randomBytes(rand, 1000) });
    const bytes = classicPcap(pkts);
    const ok = run(bytes);
    expect(ok.stderr).toBe('');
    expect(JSON.parse(ok.stdout)).toEqual({ packets: 2000, bytes: bytes.length, sum: pkts.reduce((s, p) => s + p.data[0], 0) });
    const bad = run(Buffer.concat([bytes, Buffer.alloc(3)]));
    expect(JSON.parse(bad.stdout)).toMatchObject({ code: 'E_CAPTURE_TRUNCATED', packetsRead: 2000 });
    const empty = run(Buffer.alloc(0));
    expect(JSON.parse(empty.stdout)).toMatchObject({ code: 'E_CAPTURE_EMPTY' });
  });

  for (const nonblock of [false, true]) {
    it(`a slow writer, split inside records (${nonblock ? 'non-blocking' : 'blocking'} pipe)`, async () => {
      const rand = prng(5);
      const pkts: Pkt[] = [];
      for (let i = 0; i < 50; i++) pkts.push({ sec: i, frac: 0, data: randomBytes(rand, 100 + i) });
      const bytes = classicPcap(pkts);
      const child = spawn(process.execPath, [viteNode, reader], {
        env: { ...process.env, IMDSWATCH_TEST_NONBLOCK: nonblock ? '1' : '0' },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let out = '';
      let errOut = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (errOut += d));
      const done = new Promise<number | null>((resolve) => child.on('close', resolve));
      // pieces of 7..600 bytes with pauses: reads return short and may find nothing yet
      for (let o = 0; o < bytes.length; ) {
        const n = 7 + (rand() % 600);
        child.stdin.write(bytes.subarray(o, o + n));
        o += n;
        await new Promise((r) => setTimeout(r, 5));
      }
      child.stdin.end();
      expect(await done).toBe(0);
      expect(errOut).toBe('');
      expect(JSON.parse(out)).toEqual({ packets: 50, bytes: bytes.length, sum: pkts.reduce((s, p) => s + p.data[0], 0) });
    });
  }
});

describe('progress', () => {
  it('onProgress is called rarely and ends at the file size', () => {
    const rand = prng(8);
    const pkts: Pkt[] = [];
    for (let i = 0; i < 2000; i++) pkts.push({ sec: i, frac: 0, data: randomBytes(rand, 1500) });
    const bytes = classicPcap(pkts);
    const calls: [number, number | null][] = [];
    readCaptureFile(tmpFile(bytes), () => {}, { onProgress: (done, total) => calls.push([done, total]) });
    expect(calls.length).toBeGreaterThanOrEqual(1);
    expect(calls.length).toBeLessThanOrEqual(2); // 3 MB: no 64 MiB step, one final report
    expect(calls[calls.length - 1]).toEqual([bytes.length, bytes.length]);
  });
});
