import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLab, labAvailable, type Lab } from '../support/lab/netns.js';
import { gateRuleStatus, type Runner } from '../../src/live/gate-rules.js';
import { CliRun, cliBuilt } from './cli.js';

/**
 * Issue #4 / #7 fail-open through the real CLI: `imdswatch daemon` killed with SIGKILL
 * leaves its gate rule behind, IMDS stays reachable (--queue-bypass: no one listens on
 * the queue), and the next start replaces the stale rule instead of adding a second one.
 */
const V4 = 'http://169.254.169.254';

describe.skipIf(!labAvailable() || !cliBuilt())('imdswatch daemon: SIGKILL fails open, restart cleans up (netns)', () => {
  let lab: Lab | undefined;
  const runs: CliRun[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'imdswatch-crash-'));
  afterAll(async () => {
    for (const r of runs) r.kill();
    await lab?.teardown();
  });

  it('keeps IMDS reachable after SIGKILL and replaces the stale rule on the next start', async () => {
    lab = await createLab({ prefix: 'iwcrash', connection: 'close' });
    const l = lab;
    const rules = async (family: 4 | 6) => {
      const r = await l.run('client', [family === 4 ? 'iptables' : 'ip6tables', '-w', '5', '-t', 'mangle', '-S']);
      const runner: Runner = () => ({ ok: r.code === 0, stdout: r.stdout, stderr: r.stderr });
      return gateRuleStatus(family, runner);
    };
    const daemon = (): CliRun => {
      const r = new CliRun(l, ['daemon', '--log-file', join(dir, 'imdswatch.log'), '--state-file', join(dir, 'state.json'), '--metrics', 'off']);
      runs.push(r);
      return r;
    };
    const curl = async (): Promise<{ pid: number; status: string }> => {
      const r = await l.run('client', ['sh', '-c', `echo $$; exec curl -s -o /dev/null -w '%{http_code}' -m 5 ${V4}/latest/meta-data/instance-id`]);
      const [pid, status] = r.stdout.split('\n');
      return { pid: Number(pid), status: status ?? '' };
    };

    const first = daemon();
    await first.gateReady();
    await first.waitForStdout((s) => s.includes('capturing on'), 'the first daemon to start');
    first.child.kill('SIGKILL');
    const crashed = await first.result;
    expect(crashed.signal).toBe('SIGKILL');
    // the rule outlives the daemon, and bypasses: nobody listens on the queue
    expect(await rules(4)).toMatchObject({ chain: true, jumps: { OUTPUT: 1, FORWARD: 1 } });
    const t0 = Date.now();
    const during = await curl();
    const bypassMs = Date.now() - t0;
    expect(during.status).toBe('200');

    const second = daemon();
    await second.gateReady();
    await second.waitForStdout((s) => s.includes('capturing on'), 'the second daemon to start');
    expect(second.output().stdout).toMatch(/replaced gate rules left by an earlier run/);
    for (const family of [4, 6] as const) {
      const st = await rules(family);
      expect(st.jumps).toEqual({ OUTPUT: 1, FORWARD: 1 });
      expect(st.rules).toHaveLength(1);
    }
    const after = await curl();
    expect(after.status).toBe('200');
    await second.waitForStdout((s) => s.includes('"kind":"imds-request"'), 'an event');
    second.child.kill('SIGTERM');
    const res = await second.result;
    const events = res.stdout
      .split('\n')
      .filter((line) => line.includes('"kind":"imds-request"'))
      .map((line) => JSON.parse(line) as { event: { attribution: string; process: { pid: number } | null } });
    console.log(`daemon SIGKILL: curl during the stale rule ${during.status} in ${bypassMs} ms; restart replaced the rule; ${events.length} event(s) after restart, exit ${res.code} ${res.signal ?? ""}`);
    expect({ code: res.code, signal: res.signal }, res.stderr).toEqual({ code: 0, signal: null });
    expect(events.map((e) => [e.event.attribution, e.event.process?.pid])).toEqual([['gate', after.pid]]);
    // a clean stop removes every rule
    expect(await rules(4)).toMatchObject({ chain: false, jumps: {} });
    expect(await rules(6)).toMatchObject({ chain: false, jumps: {} });
  }, 90_000);
});
