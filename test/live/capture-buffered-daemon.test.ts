import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, labAvailable, type Lab } from '../support/lab/netns.js';
import { built, startDaemonIn, waitFor } from '../robustness/helpers.js';
import { nsRunner } from './probe.js';

/**
 * With the SYN gate on, the daemon opens its `any` capture buffered (SYN_GATED_BUFFER_MS,
 * src/live/capture.ts): the kernel's ring for it is TPACKET_V3 with the block timeout; with the
 * system lane on too, the lane's NFLOG group flushes every LANE_FLUSH_MS instead of per packet
 * (docs/design.md#lane-batching). Either way every one-shot call is one event, attributed by
 * the gate to the curl that made it, though its packets reach the pipeline up to 20 ms late.
 */
const URL = 'http://169.254.169.254/latest/meta-data/instance-id';
const N = 30;

describe.skipIf(!labAvailable() || !built())('buffered capture behind the SYN gate (lab)', () => {
  let lab: Lab;
  const dir = mkdtempSync(join(tmpdir(), `imdswatch-buffered-${process.pid}-`));

  beforeAll(async () => {
    lab = await createLab({ prefix: 'iwbuf', connection: 'close' });
  });
  afterAll(async () => {
    await lab?.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const lane of [false, true]) {
    it(`${N} one-shot curls as root, lane ${lane ? 'on' : 'off'}: ${N} events, each attributed by the gate to its curl; the capture's ring is buffered${lane ? ", the lane's NFLOG group flushes every 20 ms" : ''}`, async () => {
      const log = join(dir, `d-${lane}.log`);
      const d = await startDaemonIn(lab.execPrefix('client'), [...(lane ? [] : ['--no-lane']), '--log-file', log, '--state-file', join(dir, `d-${lane}.json`)], { IMDSWATCH_SAVE_INTERVAL: '1' });
      try {
        await waitFor(() => d.lines().some((l) => l.kind === 'daemon' && typeof l.lane === 'boolean'), 30_000, `daemon start line; ${d.err()}`);
        expect(d.lines().find((l) => l.kind === 'daemon' && typeof l.lane === 'boolean')?.lane, d.err()).toBe(lane);
        // the daemon's packet socket on `any`: TPACKET_V3 (ver:2) with the 20 ms block timeout
        const run = nsRunner(lab.names.client);
        const ss = run('ss', ['--packet', '-a', '-e', '-p']).stdout;
        expect(ss, ss).toMatch(/ver:2 [^\n]*\n\s*ring_rx\([^)]*tmo:20,/);
        if (lane) {
          // the lane's NFLOG group (the gate's queue number, 7) flushes after 20 ms (2 in the kernel's 1/100 s), not per packet
          const inst = run('cat', ['/proc/net/netfilter/nfnetlink_log']).stdout;
          expect(inst, inst).toMatch(/^\s*7\s+\d+\s+\d+\s+2\s+\d+\s+2\s+\d+$/m);
          const rules = run('iptables', ['-t', 'mangle', '-S', 'IMDSWATCH-LOG']).stdout;
          expect(rules).toMatch(/-j NFLOG --nflog-group 7$/m);
        }
        for (let i = 0; i < N; i++) {
          const r = await lab.run('client', ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '-m', '10', '-A', `buffered-${lane}-${i}`, URL]);
          expect(r.stdout).toBe('200');
        }
        const mine = () => d.events().map((e) => e.event ?? e).filter((e) => String(e.userAgent ?? '').startsWith(`buffered-${lane}-`));
        await waitFor(() => mine().length >= N, 30_000, `${N} events; ${d.out().slice(-2000)}`);
        await d.stop('SIGTERM');
        const evs = mine();
        expect(evs.map((e) => e.userAgent).sort()).toEqual(Array.from({ length: N }, (_, i) => `buffered-${lane}-${i}`).sort());
        expect(evs.filter((e) => e.attribution === 'gate' && e.process?.exe === '/usr/bin/curl')).toHaveLength(N);
      } finally {
        await d.stop('SIGTERM').catch(() => undefined);
      }
    }, 180_000);
  }
});
