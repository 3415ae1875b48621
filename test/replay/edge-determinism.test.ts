/**
 * Needs nothing but the generator and tshark: the committed captures are exactly what
 * the generator writes, labels hold no secrets, and tshark reads every well-formed
 * edge capture and counts as many IMDS requests as the labels.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { EDGE_DIR, README, generateAll, readmeWithSection } from '../support/testkit/make-edge-pcaps.js';
import { SECRETS } from '../support/testkit/fake-values.js';
import { loadCaptures } from './label-helpers.js';

const hasTshark = spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0;

describe('generated captures', () => {
  const files = generateAll();

  it('are committed byte-identical to what the generator writes', () => {
    const differ = files.filter((f) => !existsSync(f.path) || !readFileSync(f.path).equals(f.data)).map((f) => f.path);
    expect(differ, 'run `npm run make-pcaps` and commit').toEqual([]);
    expect(files.length).toBeGreaterThan(100);
  });

  it('are generated identically twice (no clock, no randomness)', () => {
    const again = generateAll();
    expect(again.map((f) => f.path)).toEqual(files.map((f) => f.path));
    again.forEach((f, i) => expect(f.data.equals(files[i].data), f.path).toBe(true));
  });

  it('label no secret, though the captures carry them', () => {
    const labels = files.filter((f) => f.path.endsWith('.labels.json'));
    const captures = files.filter((f) => !f.path.endsWith('.labels.json'));
    for (const s of SECRETS) {
      for (const l of labels) expect(l.data.includes(s), `${s.slice(0, 8)}... in ${l.path}`).toBe(false);
    }
    // the scan above means something only if the captures do contain them
    for (const s of SECRETS) expect(captures.some((c) => c.data.includes(s)), `${s.slice(0, 8)}... in some capture`).toBe(true);
    const readme = readFileSync(README, 'utf8');
    for (const s of SECRETS) expect(readme.includes(s)).toBe(false);
  });

  it('README section is current', () => {
    const cur = readFileSync(README, 'utf8');
    expect(readmeWithSection(cur) === cur, 'run `npm run make-pcaps`').toBe(true);
  });
});

const FILTER = 'http.request && (ip.dst==169.254.169.254 || ipv6.dst==fd00:ec2::254) && tcp.dstport==80';

describe.skipIf(!hasTshark)('tshark agrees with the labels', () => {
  const caps = loadCaptures(EDGE_DIR);
  const checked = caps.filter((c) => !c.labels.tsharkExcluded);

  it('excludes only files whose labels say why', () => {
    const excluded = caps.filter((c) => c.labels.tsharkExcluded).map((c) => c.name);
    // damaged files (tshark errors on them too), snaplen cut
    expect(excluded.sort()).toEqual(
      ['empty-file', 'garbage-after-header', 'garbage-after-packets', 'pcapng-garbage-after-blocks', 'snaplen-96', 'truncated-last-record', 'truncated-record-header'].sort(),
    );
    expect(checked.length).toBeGreaterThanOrEqual(40);
  });

  it.each(checked.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const r = spawnSync('tshark', ['-n', '-r', c.path, '-o', 'tcp.reassemble_out_of_order:TRUE', '-Y', FILTER, '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr.replace(/Running as user "root".*\n/, '').trim()).toBe('');
    const requests = r.stdout.split('\n').filter((l) => l.trim() !== '').length;
    expect(requests).toBe(c.labels.events.length);
  });

  it('reads the damaged files only up to the damage (same packets as the labels say)', () => {
    for (const c of caps.filter((x) => x.labels.expect.exitCode === 2 && x.labels.expect.packetsRead !== undefined && x.labels.expect.packetsRead > 0)) {
      const r = spawnSync('tshark', ['-n', '-r', c.path, '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8' });
      expect(r.status, `${c.name}: tshark should fail too`).not.toBe(0);
      expect(r.stdout.trim().split('\n').length, c.name).toBe(c.labels.expect.packetsRead);
    }
  });
});

it.skipIf(!process.env.CI)('tshark is present in CI (the cross-check above is not silently skipped)', () => {
  expect(hasTshark).toBe(true);
});
