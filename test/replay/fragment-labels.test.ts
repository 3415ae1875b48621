/**
 * The labels of the fragment and NFLOG captures (#16), read back by tshark: the same requests
 * in the same order with the same version (token / v2 / v1, from the header lines tshark
 * dissects after its own IP reassembly), method, path, status and User-Agent. tshark's overlap
 * policy for IPv4 keeps the first copy, as ours does, so the overlap capture is checked too.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { EDGE_DIR } from '../support/testkit/make-edge-pcaps.js';
import { tsharkLabels } from '../support/lab/tshark-labels.js';
import { loadCaptures } from './label-helpers.js';

const hasTshark = spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0;
const NEW = /^(ipv4-fragments.*|ipv6-fragments.*|nflog-.*)$/;
const caps = loadCaptures(EDGE_DIR).filter((c) => NEW.test(c.name));

it('the fragment and NFLOG captures are all there', () => {
  expect(caps.map((c) => c.name).sort()).toEqual([
    'ipv4-fragments',
    'ipv4-fragments-missing',
    'ipv4-fragments-out-of-order',
    'ipv4-fragments-overlap',
    'ipv4-fragments-token-later',
    'ipv6-fragments',
    'ipv6-fragments-out-of-order',
    'nflog-ipv4',
    'nflog-ipv6',
  ].sort());
  for (const c of caps) expect(c.labels.tsharkExcluded, c.name).toBeUndefined();
});

// under CI (tshark installed by .ci/install-deps) a missing tshark fails below instead of skipping
describe.skipIf(!hasTshark && !process.env.CI)('tshark reads the same requests as the labels', () => {
  it.each(caps.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const got = await tsharkLabels(c.path);
    const want = c.labels.events.map((e) => ({ version: e.version, method: e.method, path: e.path, status: e.status, userAgent: e.userAgent }));
    expect(got).toEqual(want);
  });
});
