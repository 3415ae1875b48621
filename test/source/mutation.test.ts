/**
 * Mutated and cut captures: the reader either finishes or throws a
 * CaptureFormatError (never another error, never a hang), and the frames it
 * delivers before an error are the same as the intact file's first frames.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCaptureFile } from '../../src/source/capture-file.js';
import { CaptureFormatError } from '../../src/source/frame.js';
import { classicPcap, epb, idb, prng, randomBytes, shb, spb, type Pkt } from './pcap-bytes.js';

// many small writes: tmpfs when there is one
const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
const tmp = fs.mkdtempSync(path.join(base, `imdswatch-mut-${process.pid}-`));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function readHexes(file: string): { hexes: string[]; err: CaptureFormatError | null } {
  const hexes: string[] = [];
  try {
    readCaptureFile(file, (f) => hexes.push(f.data.toString('hex')));
    return { hexes, err: null };
  } catch (err) {
    if (!(err instanceof CaptureFormatError)) throw err;
    return { hexes, err };
  }
}

const rand = prng(2024);
const pkts: Pkt[] = Array.from({ length: 40 }, (_, i) => ({ sec: i, frac: i, data: randomBytes(rand, 1 + (rand() % 200)) }));
const inputs: Record<string, Buffer> = {
  classic: classicPcap(pkts),
  classicBE: classicPcap(pkts, { le: false, nano: true }),
  pcapng: Buffer.concat([
    shb(),
    idb({ linkType: 1 }),
    idb({ linkType: 101, tsresol: 9 }),
    ...pkts.map((p, i) => (i % 5 === 4 ? spb(p.data) : epb(i % 2, BigInt(p.sec) * 1_000_000n, p.data))),
  ]),
};

describe('mutated captures', () => {
  for (const [name, original] of Object.entries(inputs)) {
    it(`${name}: cuts at every offset`, () => {
      const file = path.join(tmp, `${name}-cut`);
      const full = readHexes((fs.writeFileSync(file, original), file)).hexes;
      for (let cut = 0; cut < original.length; cut += 1 + (cut % 13)) {
        fs.writeFileSync(file, original.subarray(0, cut));
        const { hexes, err } = readHexes(file);
        expect(hexes).toEqual(full.slice(0, hexes.length));
        if (err) expect(['E_CAPTURE_TRUNCATED', 'E_CAPTURE_EMPTY']).toContain(err.code);
      }
    });

    it(`${name}: random byte changes`, () => {
      const file = path.join(tmp, `${name}-mut`);
      for (let round = 0; round < 300; round++) {
        const b = Buffer.from(original);
        const n = 1 + (rand() % 6);
        for (let k = 0; k < n; k++) b[rand() % b.length] = rand() & 0xff;
        fs.writeFileSync(file, b);
        const { err } = readHexes(file);
        if (err) {
          expect(err.message).not.toMatch(/\n/);
          expect(err.offset).toBeLessThanOrEqual(b.length);
        }
      }
    });
  }
});
