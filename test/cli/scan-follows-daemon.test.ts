import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, labAvailable, type Lab } from '../support/lab/netns.js';
import { CLI, built, startDaemonIn, waitFor, type DaemonRun } from '../robustness/helpers.js';

/**
 * `imdswatch scan` while the daemon runs in the same network namespace: no second capture and
 * no second gate — the scan follows the daemon's event log and reports the calls the daemon's
 * gate attributed (exe, user), saying so in one line. A daemon that writes no log file cannot
 * be followed: scan refuses in one line naming why, and suggests --no-gate.
 */
const URL = 'http://169.254.169.254/latest/meta-data/instance-id';

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `imdswatch scan ARGS` in the namespace; `during` runs once scan says it follows the daemon */
function scanIn(lab: Lab, args: string[], env: NodeJS.ProcessEnv, during?: () => Promise<void>): Promise<Ran> {
  const prefix = lab.execPrefix('client');
  const child = spawn(prefix[0]!, [...prefix.slice(1), process.execPath, CLI, 'scan', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  return (async () => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 60_000);
    try {
      if (during) {
        let gone = false;
        void exited.then(() => (gone = true));
        await waitFor(() => stderr.includes('following the running daemon') || gone, 20_000, 'scan to follow the daemon');
        if (!gone) await during();
      }
      const code = await exited;
      return { code, stdout, stderr };
    } finally {
      clearTimeout(kill);
      child.kill('SIGKILL');
    }
  })();
}

describe.skipIf(!labAvailable() || !built())('scan while the daemon runs (lab)', () => {
  let lab: Lab | undefined;
  let daemon: DaemonRun | undefined;
  let quiet: DaemonRun | undefined;
  const dir = mkdtempSync(join(tmpdir(), `imdswatch-scanfollow-${process.pid}-`));
  const env = { IMDSWATCH_RUN_DIR: join(dir, 'run') };

  beforeAll(async () => {
    lab = await createLab({ prefix: 'iwsf', connection: 'close' });
  }, 60_000);

  afterAll(async () => {
    await daemon?.stop('SIGKILL');
    await quiet?.stop('SIGKILL');
    await lab?.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('follows the daemon: the report names the caller its gate attributed (exe, user), and says it follows the daemon', async () => {
    const logFile = join(dir, 'log', 'imdswatch.log');
    daemon = await startDaemonIn(lab!.execPrefix('client'), ['--log-file', logFile, '--log-max-bytes', '3000', '--log-max-files', '20', '--state-file', join(dir, 'state.json'), '--metrics', 'off'], env);
    // a call before the scan starts is not the scan's
    expect((await lab!.run('client', ['curl', '-s', '-o', '/dev/null', '-A', 'before-scan', URL])).code).toBe(0);
    await waitFor(() => daemon!.events().some((l) => l.event.userAgent === 'before-scan'), 10_000, 'the call before the scan');
    const r = await scanIn(lab!, ['--duration', '4s', '--format', 'json'], env, async () => {
      // as user nobody, and enough calls to rotate the 3000-byte log while scan follows it
      for (let i = 0; i < 6; i++) {
        const c = await lab!.run('client', ['setpriv', '--reuid', '65534', '--regid', '65534', '--clear-groups', 'curl', '-s', '-o', '/dev/null', '-A', `in-scan-${i}`, URL]);
        expect(c.code).toBe(0);
      }
      await waitFor(() => daemon!.events().filter((l) => String(l.event.userAgent).startsWith('in-scan-')).length === 6, 10_000, 'the daemon to log the six calls');
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/following the running daemon \(pid \d+\): events attributed by the daemon's SYN gate/);
    const report = JSON.parse(r.stdout);
    expect(report.input.sources).toEqual([expect.stringMatching(/^following the running daemon \(pid \d+\): events attributed by the daemon's SYN gate, from /)]);
    expect(report.follow.rotations).toBeGreaterThan(0);
    expect(report.totals.v1).toBe(6);
    const text = JSON.stringify(report);
    expect(text).not.toContain('before-scan');
    expect(text).toContain('/usr/bin/curl');
    expect(text).toContain('"nobody"');
    // the very calls the daemon's gate attributed: same pids
    const gated = daemon!.events().filter((l) => String(l.event.userAgent).startsWith('in-scan-'));
    expect(gated.every((l) => l.event.attribution === 'gate')).toBe(true);
    expect(report.v1Calls.map((c: { pid: number }) => c.pid).sort()).toEqual(gated.map((l) => l.event.process.pid).sort());
    // and the text report's first line says it in one line
    const t = await scanIn(lab!, ['--duration', '1s'], env, async () => undefined);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout.split('\n')[0]).toMatch(/^imdswatch report — following the running daemon \(pid \d+\): events attributed by the daemon's SYN gate, from .*imdswatch\.log$/);
  }, 90_000);

  it('refuses in one line, naming why, when the daemon writes no log file to follow', async () => {
    await daemon?.stop();
    daemon = undefined;
    quiet = await startDaemonIn(lab!.execPrefix('client'), ['--log-file', 'off', '--state-file', join(dir, 'state2.json'), '--metrics', 'off'], env);
    const r = await scanIn(lab!, ['--duration', '1s'], env);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(
      /the imdswatch daemon is running \(pid \d+\) and owns the SYN gate, but scan cannot follow its events: it writes no event log file \(--log-file off\)\. To capture a second time with passive attribution, add --no-gate/,
    );
  }, 60_000);
});
