import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLab, type Lab } from '../support/lab/netns.js';
import { waitFor } from '../helpers/wait.js';
import { AS_NOBODY, ownLines, securityPrerequisites, startDaemon, type DaemonRun } from './support.js';

/**
 * Attack 2 (docs/design.md#security): a local user (nobody) binds 127.0.0.1:16954 before the
 * daemon and serves `imdswatch_capture_up 1`. On 34aff03 the daemon exited 2 (EADDRINUSE) and
 * the unit did not restart it. Capture must never depend on the metrics listener (warn,
 * count, retry in the background), and a unix socket (0660, a group) must be offered that no
 * other user can take. In a lab's client namespace (its own loopback).
 */
const skip = securityPrerequisites(['ip', 'curl']);
const PORT = 16954;
const GID = 4242;
const FAKE = `
require('node:http').createServer((q, s) => s.end('imdswatch_capture_up 1\\n')).listen(${PORT}, '127.0.0.1', () => process.stdout.write('listening\\n'));
`;

describe.skipIf(skip !== null)('a local user cannot stop the daemon with its metrics port', () => {
  let lab: Lab;
  const dir = mkdtempSync(join(tmpdir(), 'imdswatch-metrics-'));
  let daemon: DaemonRun | null = null;
  let squatter: ChildProcess | null = null;

  const curlMetrics = async (args: string[], prefix: string[] = []) => (await lab.run('client', [...prefix, 'curl', '-s', '-m', '5', ...args])).stdout;

  beforeAll(async () => {
    lab = await createLab({ prefix: 'iwmet', connection: 'close' });
  }, 120_000);
  afterEach(async () => {
    if (daemon && !daemon.exited()) await daemon.stop();
    squatter?.kill('SIGKILL');
    daemon = null;
  });
  afterAll(async () => {
    await lab?.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a squatter on the port: capture goes on, the daemon warns, counts, and takes the port once it is free', async () => {
    let out = '';
    const pre = lab.execPrefix('client');
    squatter = spawn(pre[0]!, [...pre.slice(1), ...AS_NOBODY, process.execPath, '-e', FAKE], { stdio: ['ignore', 'pipe', 'pipe'] });
    squatter.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    await waitFor(() => out.includes('listening'), 10_000, 'the squatter to listen');

    daemon = startDaemon(pre, ['--gate-budget', '500', '--metrics', String(PORT), '--log-file', join(dir, 'a.log'), '--state-file', join(dir, 'a.json')]);
    expect(await daemon.settled(), ownLines(daemon.err()).join('\n')).toBe('capturing');
    expect(daemon.out()).toMatch(/cannot serve metrics on 127\.0\.0\.1:16954 \(EADDRINUSE\): capture goes on/);
    const code = await lab.run('client', ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '-m', '5', 'http://169.254.169.254/latest/meta-data/instance-id']);
    expect(code.stdout).toBe('200');
    await waitFor(() => daemon!.out().includes('"kind":"imds-request"'), 10_000, 'the call to be logged');
    // meanwhile Prometheus reads the squatter's word: what the README says it can do
    expect(await curlMetrics([`http://127.0.0.1:${PORT}/metrics`])).toBe('imdswatch_capture_up 1\n');

    squatter.kill('SIGKILL');
    await waitFor(() => /metrics on http:\/\/127\.0\.0\.1:16954\/metrics \(after \d+ failed attempts\)/.test(daemon!.out()), 40_000, 'the daemon to take the port');
    const text = await curlMetrics([`http://127.0.0.1:${PORT}/metrics`]);
    expect(text).toMatch(/^imdswatch_capture_up 1$/m);
    expect(text).toMatch(/^imdswatch_metrics_listen_failures_total\{listener="tcp"\} [1-9]\d*$/m);
    expect(text).toMatch(/^imdswatch_v1_calls_total\{exe="\/usr\/bin\/curl",unit="none"\} 1$/m);
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
  });

  it('a unix socket, mode 0660 and a group: its members read it, nobody else can connect', async () => {
    // a way in for every user (search only), as /run/imdswatch with RuntimeDirectoryMode=0711
    chmodSync(dir, 0o711);
    const sockDir = join(dir, 'run');
    mkdirSync(sockDir);
    chmodSync(sockDir, 0o711);
    const sock = join(sockDir, 'metrics.sock');
    daemon = startDaemon(lab.execPrefix('client'), ['--gate-budget', '500', '--metrics', 'off', '--metrics-socket', sock, '--metrics-socket-group', String(GID), '--log-file', join(dir, 'b.log'), '--state-file', join(dir, 'b.json')]);
    expect(await daemon.settled(), ownLines(daemon.err()).join('\n')).toBe('capturing');
    const st = statSync(sock);
    expect({ socket: st.isSocket(), mode: st.mode & 0o777, uid: st.uid, gid: st.gid }).toEqual({ socket: true, mode: 0o660, uid: 0, gid: GID });
    const member = ['setpriv', '--reuid=nobody', '--regid=nogroup', `--groups=${GID}`];
    expect(await curlMetrics(['--unix-socket', sock, 'http://localhost/metrics'], member)).toMatch(/^imdswatch_capture_up 1$/m);
    const stranger = await lab.run('client', [...AS_NOBODY, 'curl', '-s', '-m', '5', '--unix-socket', sock, 'http://localhost/metrics']);
    expect(stranger.code).toBe(7);
    expect(stranger.stdout).toBe('');
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
  });
});
