import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, labAvailable, type Lab } from '../support/lab/netns.js';
import { built, startDaemonIn, waitFor } from '../robustness/helpers.js';
import { nsRunner } from './probe.js';

/**
 * The gate's rules are checked when the traffic shows they are gone (src/live/gate-rules.ts
 * checkSoon): a captured SYN the gate never held asks for a check at once, so the rules are
 * back after one unheld call, whatever the period (here 10 min, so the periodic check cannot
 * be what puts them back). Real daemon, iptables and NFQUEUE in a lab's client namespace.
 */
const URL = 'http://169.254.169.254/latest/meta-data/instance-id';

describe.skipIf(!labAvailable() || !built())('gate rules put back on evidence (lab)', () => {
  let lab: Lab;
  const dir = mkdtempSync(join(tmpdir(), `imdswatch-evidence-${process.pid}-`));

  beforeAll(async () => {
    lab = await createLab({ prefix: 'iwevid', connection: 'close' });
  });
  afterAll(async () => {
    await lab?.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a call made while the jump is gone is followed by a check: the jump is back, the next call is held and attributed by the gate', async () => {
    const d = await startDaemonIn(lab.execPrefix('client'), ['--log-file', join(dir, 'd.log'), '--state-file', join(dir, 'd.json')], {
      IMDSWATCH_SAVE_INTERVAL: '1',
      IMDSWATCH_GATE_CHECK_MS: '600000',
    });
    const run = nsRunner(lab.names.client);
    const curl = (agent: string) => lab.run('client', ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '-m', '10', '-A', agent, URL]);
    const jumped = () => /^-A OUTPUT -j IMDSWATCH/m.test(run('iptables', ['-w', '5', '-t', 'mangle', '-S', 'OUTPUT']).stdout);
    const events = () => d.events().map((e) => e.event ?? e);
    try {
      await waitFor(() => d.lines().some((l) => l.kind === 'daemon' && typeof l.lane === 'boolean'), 30_000, `daemon start line; ${d.err()}`);
      expect(jumped()).toBe(true);
      const target = /^-A OUTPUT -j (IMDSWATCH\S*)$/m.exec(run('iptables', ['-w', '5', '-t', 'mangle', '-S', 'OUTPUT']).stdout)![1]!;
      expect(run('iptables', ['-w', '5', '-t', 'mangle', '-D', 'OUTPUT', '-j', target]).ok).toBe(true);
      expect(jumped()).toBe(false);
      expect((await curl('evidence-unheld')).stdout).toBe('200');
      await waitFor(() => events().some((e) => e.userAgent === 'evidence-unheld'), 20_000, `the unheld call's event; ${d.out().slice(-2000)}`);
      await waitFor(() => jumped(), 10_000, 'the jump put back (the periodic check is 10 min away)');
      await waitFor(() => /changed by something else/.test(readFileSync(join(dir, 'd.log'), 'utf8')), 10_000, 'the repair warning in the log');
      expect((await curl('evidence-held')).stdout).toBe('200');
      await waitFor(() => events().some((e) => e.userAgent === 'evidence-held'), 20_000, `the held call's event; ${d.out().slice(-2000)}`);
      await d.stop('SIGTERM');
      const held = events().filter((e) => e.userAgent === 'evidence-held');
      expect(held).toHaveLength(1);
      expect(held[0]).toMatchObject({ attribution: 'gate', process: { exe: '/usr/bin/curl' } });
    } finally {
      await d.stop('SIGTERM').catch(() => undefined);
    }
  }, 180_000);
});
