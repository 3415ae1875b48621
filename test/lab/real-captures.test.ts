import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// Every real-client capture of pcaps/real/ replayed through our pipeline must give the
// events its tshark-made labels list: same order, version, method, path, status, UA.

const DIR = join(__dirname, '..', '..', 'pcaps', 'real');
const REPLAY = join(__dirname, '..', '..', 'src', 'pipeline', 'replay.ts');

interface Label {
  version: string;
  method: string;
  path: string;
  status: number | null;
  userAgent: string | null;
}

const captures = existsSync(DIR)
  ? readdirSync(DIR)
      .filter((f) => /\.pcap(ng)?$/.test(f))
      .sort()
  : [];

describe.skipIf(!existsSync(REPLAY))('real-client captures replay to their labels', () => {
  it('has the captures and a label file for each', () => {
    expect(captures.length).toBeGreaterThanOrEqual(15);
    for (const f of captures) expect(existsSync(join(DIR, f.replace(/\.pcap(ng)?$/, '.labels.json')))).toBe(true);
  });

  it.each(captures)('%s', async (file) => {
    const { replayFiles } = await import('../../src/pipeline/replay.js');
    const labels = JSON.parse(readFileSync(join(DIR, file.replace(/\.pcap(ng)?$/, '.labels.json')), 'utf8')) as Label[];
    expect(labels.length).toBeGreaterThan(0);
    const result = await replayFiles([join(DIR, file)]);
    expect(result.errors).toEqual([]);
    const got = result.events.map((e) => ({
      version: e.version,
      method: e.method,
      path: e.path,
      status: e.status,
      userAgent: e.userAgent,
    }));
    expect(got).toEqual(labels);
  });

  it('labels carry no token or credential', () => {
    for (const f of readdirSync(DIR).filter((n) => n.endsWith('.labels.json'))) {
      const text = readFileSync(join(DIR, f), 'utf8');
      expect(text).not.toMatch(/AQAEA|ASIA[A-Z0-9]{8}|SecretAccessKey|X-aws-ec2-metadata-token:/i);
    }
  });
});

describe.skipIf(captures.length === 0)('real-client labels come from the captures', () => {
  it.each(captures)('tshark reads %s back to its labels', async (file) => {
    const { tsharkLabels } = await import('../support/lab/tshark-labels.js');
    const labels = JSON.parse(readFileSync(join(DIR, file.replace(/\.pcap(ng)?$/, '.labels.json')), 'utf8')) as Label[];
    expect(await tsharkLabels(join(DIR, file))).toEqual(labels);
  });
});
