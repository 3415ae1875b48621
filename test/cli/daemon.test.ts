import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, labAvailable, type Lab } from '../support/lab/netns.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The daemon end to end, inside the lab's client namespace (its own firewall, its own
 * NFQUEUE): real curl calls, the log file, the state file, metrics, SIGHUP, SIGTERM.
 */
const CLI = join(process.cwd(), 'dist/cli/main.js');


describe.skipIf(!labAvailable() || !existsSync(CLI))('imdswatch daemon in a network namespace', () => {
  let lab: Lab;
  let daemon: ChildProcess;
  let stdout = '';
  let stderr = '';
  let exitCode: number | null = null;
  let exitSignal: NodeJS.Signals | null = null;
  const dir = mkdtempSync(join(tmpdir(), 'imdswatch-daemon-'));
  const logFile = join(dir, 'log', 'imdswatch.log');
  const stateFile = join(dir, 'state', 'state.json');
  let token = '';
  let metricsText = '';
  let healthz = '';
  let second: { code: number | null; stdout: string; stderr: string } | undefined;
  let scanWhileRunning: { code: number | null; stdout: string; stderr: string } | undefined;

  beforeAll(async () => {
    lab = await createLab({ tokens: 'optional', connection: 'close' });
    daemon = spawn(
      'ip',
      ['netns', 'exec', lab.names.client, process.execPath, CLI, 'daemon', '--log-file', logFile, '--state-file', stateFile, '--metrics', '16954', '--log-max-bytes', '8000', '--log-max-files', '2'],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, IMDSWATCH_SAVE_INTERVAL: '1' } },
    );
    daemon.stdout!.on('data', (d) => (stdout += d));
    daemon.stderr!.on('data', (d) => (stderr += d));
    daemon.on('exit', (code, signal) => {
      exitCode = code;
      exitSignal = signal;
    });
    await waitFor(() => stdout.includes('capturing on'), 15_000, 'the daemon to start');
    // a second daemon and a gated scan on the same host are refused (issue #11, item 3)
    second = await lab.run('client', [process.execPath, CLI, 'daemon', '--metrics', 'off', '--log-file', join(dir, 'second.log'), '--state-file', join(dir, 'second.json')], { timeoutMs: 15_000 });
    scanWhileRunning = await lab.run('client', [process.execPath, CLI, 'scan', '--duration', '1s'], { timeoutMs: 15_000 });
    // one v1 call, then an IMDSv2 session with curl
    await lab.run('client', ['curl', '-s', '-o', '/dev/null', 'http://169.254.169.254/latest/meta-data/instance-id']);
    const put = await lab.run('client', ['curl', '-s', '-X', 'PUT', '-H', 'X-aws-ec2-metadata-token-ttl-seconds: 300', 'http://169.254.169.254/latest/api/token']);
    token = put.stdout.trim();
    await lab.run('client', ['curl', '-s', '-o', '/dev/null', '-H', `X-aws-ec2-metadata-token: ${token}`, 'http://169.254.169.254/latest/meta-data/iam/security-credentials/']);
    await waitFor(() => (stdout.match(/"kind":"imds-request"/g) ?? []).length >= 3, 10_000, 'three events');
    metricsText = (await lab.run('client', ['curl', '-s', 'http://127.0.0.1:16954/metrics'])).stdout;
    healthz = (await lab.run('client', ['curl', '-s', 'http://127.0.0.1:16954/healthz'])).stdout;
    // logrotate moves the file, SIGHUP makes the daemon open a new one
    renameSync(logFile, `${logFile}.moved`);
    daemon.kill('SIGHUP');
    await waitFor(() => existsSync(logFile), 5_000, 'the log file to be reopened');
    // enough calls to rotate the (4000-byte) log a few times
    for (let i = 0; i < 12; i++) await lab.run('client', ['curl', '-s', '-o', '/dev/null', `http://169.254.169.254/latest/meta-data/ami-id?n=${i}`]);
    await waitFor(() => (stdout.match(/"kind":"imds-request"/g) ?? []).length >= 15, 10_000, 'fifteen events');
    daemon.kill('SIGTERM');
    // generous: removing the gate rules waits on the host-wide xtables lock, which parallel tests hold
    await waitFor(() => exitCode !== null || exitSignal !== null, 40_000, 'the daemon to exit');
  }, 120_000);

  afterAll(async () => {
    if (daemon && exitCode === null) daemon.kill('SIGKILL');
    await lab?.teardown();
  });

  it('refuses a second daemon while it runs, naming it (one daemon per host); a gated scan follows it', () => {
    expect(second!.code).toBe(2);
    expect(second!.stderr).toMatch(/another imdswatch daemon is running on this host \(pid \d+\)/);
    expect(second!.stderr).not.toMatch(/CAP_NET_ADMIN|metrics/);
    expect(existsSync(join(dir, 'second.log'))).toBe(false);
    // a gated scan does not capture a second time: it follows the daemon's events (test/cli/scan-follows-daemon.test.ts)
    expect(scanWhileRunning!.code).toBe(0);
    expect(scanWhileRunning!.stderr).toMatch(/following the running daemon \(pid \d+\): events attributed by the daemon's SYN gate/);
  });

  it('exits 0 on SIGTERM', () => {
    expect({ exitCode, exitSignal }, stderr).toEqual({ exitCode: 0, exitSignal: null });
  });

  it('logs IMDSv1 at warn and IMDSv2 at info, attributed to curl by the gate', () => {
    // stdout (journald) carries the same lines as the file; the file has rotated meanwhile
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l));
    const events = lines.filter((l) => l.kind === 'imds-request').slice(0, 3);
    expect(events.map((e) => [e.level, e.event.version])).toEqual([
      ['warn', 'v1'],
      ['info', 'token'],
      ['info', 'v2'],
    ]);
    for (const e of events) {
      expect(e.event.attribution).toBe('gate');
      expect(e.event.process.exe).toBe('/usr/bin/curl');
      expect(e.event.process.cmdline).toMatch(/^curl /);
    }
    expect(events[0].event.path).toBe('/latest/meta-data/instance-id');
    expect(events[0].event.reason).toBe('no-token-attempt');
  });

  it('never writes the token anywhere', () => {
    expect(token.length).toBeGreaterThan(20);
    const files = [logFile, `${logFile}.moved`, `${logFile}.1`, `${logFile}.2`, stateFile].filter(existsSync);
    for (const f of files) expect(readFileSync(f, 'utf8')).not.toContain(token);
    expect(stdout).not.toContain(token);
    expect(stderr).not.toContain(token);
    expect(metricsText).not.toContain(token);
  });

  it('writes every event line to the log files too (none lost across rotation and reopen)', () => {
    const files = [`${logFile}.moved`, `${logFile}.2`, `${logFile}.1`, logFile].filter(existsSync);
    const fileEvents = files.flatMap((f) => readFileSync(f, 'utf8').trim().split('\n')).filter((l) => l.includes('"kind":"imds-request"'));
    const outEvents = stdout.trim().split('\n').filter((l) => l.includes('"kind":"imds-request"'));
    // rotation keeps 2 old files, so the oldest lines may be gone: the newest are all there
    expect(fileEvents.length).toBeGreaterThanOrEqual(6);
    for (const l of fileEvents) expect(outEvents).toContain(l);
    expect(outEvents.slice(-3).every((l) => fileEvents.includes(l))).toBe(true);
  });

  it('keeps log files with mode 0600 and within the rotation bound', () => {
    const names = readdirSync(join(dir, 'log')).sort();
    expect(names).toContain('imdswatch.log.1');
    expect(names).not.toContain('imdswatch.log.3');
    expect(statSync(logFile).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'log')).mode & 0o777).toBe(0o700);
  });

  it('serves metrics and health while capturing', () => {
    expect(healthz).toBe('ok\n');
    expect(metricsText).toMatch(/imdswatch_requests_total\{version="v1",status="200"\} 1/);
    expect(metricsText).toMatch(/imdswatch_v1_calls_total\{exe="\/usr\/bin\/curl",unit="[^"]*"\} 1/);
    expect(metricsText).toMatch(/imdswatch_gate_hold_seconds_count [1-9]/);
    // the verdict (docs/design.md#readiness-metric): published from the start, a state set with exactly one verdict at 1
    const verdicts = [...metricsText.matchAll(/^imdswatch_readiness\{verdict="(ready|not_ready|unknown)"\} ([01])$/gm)];
    expect(verdicts.map((m) => m[1]).sort()).toEqual(['not_ready', 'ready', 'unknown']);
    expect(verdicts.filter((m) => m[2] === '1')).toHaveLength(1);
    expect(metricsText).toMatch(/^imdswatch_readiness_blocking_programs [01]$/m);
  });

  it('keeps state that report turns into a verdict', async () => {
    const state = JSON.parse(readFileSync(stateFile, 'utf8'));
    const curl = Object.values(state.software as Record<string, { exe: string; v1: number; v2: number; token: number }>).find((s) => s.exe === '/usr/bin/curl');
    expect(curl).toMatchObject({ v1: 13, v2: 1, token: 1 });
    const out = await new Promise<{ code: number | null; text: string }>((resolve) => {
      const p = spawn(process.execPath, [CLI, 'report', stateFile, '--min-hours', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      p.stdout.on('data', (d) => (text += d));
      p.on('exit', (code) => resolve({ code, text }));
    });
    expect(out.code).toBe(0);
    expect(out.text).toMatch(/VERDICT: NOT READY/);
    expect(out.text).toMatch(/\/usr\/bin\/curl/);
  });
});
