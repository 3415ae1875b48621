/**
 * The source and decode stages alone over every capture under pcaps/ that has a
 * NAME.labels.json beside it: the reader's outcome (error code, packets read)
 * is the one the labels expect, the decoder never throws, and the skip counters
 * named for these two stages move.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Decoder } from '../../src/decode/decoder.js';
import { readCaptureFile } from '../../src/source/capture-file.js';
import { CaptureFormatError, type ReadStats } from '../../src/source/frame.js';

interface Labels {
  expect?: { error?: string; alsoAccepted?: string[]; packetsRead?: number; skip?: { counter: string } };
  events: unknown[];
}

/** edge/ and malformed/ labels are objects; real/ labels are a plain list of events */
function loadLabels(file: string): Labels {
  const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as Labels | unknown[];
  return Array.isArray(raw) ? { events: raw } : raw;
}

const root = path.resolve(__dirname, '../../pcaps');

function walk(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : [p];
  });
}

const hasTshark = spawnSync('sh', ['-c', 'command -v tshark']).status === 0;

function tsharkImdsFragments(file: string): number {
  const filter = '(ip.flags.mf == 1 || ip.frag_offset > 0) && ip.addr == 169.254.169.254';
  const r = spawnSync('tshark', ['-r', file, '-o', 'ip.defragment:FALSE', '-Y', filter, '-T', 'fields', '-e', 'frame.number'], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`tshark failed on ${file}`);
  return r.stdout.split('\n').filter((l) => l.trim() !== '').length;
}

const cases = walk(root)
  .filter((p) => p.endsWith('.labels.json'))
  .map((labelsFile) => {
    const stem = labelsFile.slice(0, -'.labels.json'.length);
    const capture = ['.pcap', '.pcapng'].map((ext) => stem + ext).find((p) => fs.existsSync(p));
    return { labelsFile, capture };
  })
  .filter((c): c is { labelsFile: string; capture: string } => c.capture !== undefined);

describe.skipIf(cases.length === 0)('pcaps/ through source + decode', () => {
  for (const { labelsFile, capture } of cases) {
    it(path.relative(root, capture), () => {
      const labels = loadLabels(labelsFile);
      const want = labels.expect ?? {};
      const dec = new Decoder();
      let stats: ReadStats | null = null;
      let err: CaptureFormatError | null = null;
      let delivered = 0;
      try {
        stats = readCaptureFile(capture, (f) => {
          delivered++;
          dec.decode(f);
        });
      } catch (e) {
        if (!(e instanceof CaptureFormatError)) throw e;
        err = e;
      }
      const wantErrors = [want.error, ...(want.alsoAccepted ?? [])].filter((c) => c?.startsWith('E_CAPTURE_'));
      if (wantErrors.length === 0) expect(err?.message).toBeUndefined();
      else expect(wantErrors).toContain(err?.code);
      if (err) expect(err.packetsRead).toBe(delivered);
      if (want.packetsRead !== undefined) expect(delivered).toBe(want.packetsRead);
      expect(dec.stats.frames).toBe(delivered);

      const counter = want.skip?.counter;
      if (counter === 'decode.fragments' && hasTshark) {
        // fragments to or from IMDS, counted by tshark (the label states intent; tshark what is in the file)
        expect(dec.stats.fragments).toBe(tsharkImdsFragments(capture));
      }
      if (counter === 'decode.skipped') expect(Object.keys(dec.stats.skipped).length).toBeGreaterThan(0);
      if (counter === 'read.skipped') expect(Object.keys(stats?.skipped ?? {}).length).toBeGreaterThan(0);
      if (labels.events.length > 0) expect(dec.stats.imdsSegments).toBeGreaterThan(0);
    });
  }
});
