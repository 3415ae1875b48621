import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, type Lab } from '../support/lab/netns.js';
import { waitFor } from '../helpers/wait.js';
import { AS_NOBODY, CLI, ownLines, securityPrerequisites, startDaemon, type DaemonRun } from './support.js';

/**
 * Attack 1 (docs/design.md#security): the single-instance lock was the abstract unix socket
 * `@imdswatch-daemon`, which any user can bind. A squatter (nobody) that binds it first —
 * retrying every 5 ms, so it also wins the race on a restart — and answers "1" made the
 * daemon exit 2 ("another imdswatch daemon is running on this host (pid 1)"; the unit does
 * not restart on 2) and `scan` refuse. Abstract names are per network namespace: all of it
 * runs in a lab's client namespace.
 */
const skip = securityPrerequisites(['ip', 'curl']);

/** binds the old lock name, as the daemon bound it (through Node), every 5 ms until it holds it; answers "1" */
const SQUATTER = `
const net = require('node:net');
const grab = () => {
  const s = net.createServer((c) => { c.on('error', () => {}); c.end('1\\n'); });
  s.on('error', () => setTimeout(grab, 5));
  s.listen({ path: '\\0imdswatch-daemon' }, () => process.stdout.write('held\\n'));
};
grab();
setInterval(() => {}, 1000);
`;

describe.skipIf(skip !== null)('a local user cannot stop the daemon with its single-instance lock', () => {
  let lab: Lab;
  let squatter: ChildProcess;
  let squatterOut = '';
  const dir = mkdtempSync(join(tmpdir(), 'imdswatch-lock-'));
  const daemons: DaemonRun[] = [];
  const daemon = (name: string, extra: string[] = []): DaemonRun => {
    const d = startDaemon(lab.execPrefix('client'), ['--gate-budget', '500', '--metrics', 'off', '--log-file', join(dir, `${name}.log`), '--state-file', join(dir, `${name}.json`), ...extra]);
    daemons.push(d);
    return d;
  };
  const curlV1 = async (): Promise<void> => {
    const r = await lab.run('client', ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '-m', '5', 'http://169.254.169.254/latest/meta-data/instance-id']);
    expect(r.stdout).toBe('200');
  };
  const eventsIn = (d: DaemonRun): Array<{ event: { version: string; attribution: string; process?: { exe: string } } }> =>
    d
      .out()
      .split('\n')
      .filter((l) => l.includes('"kind":"imds-request"'))
      .map((l) => JSON.parse(l));

  beforeAll(async () => {
    lab = await createLab({ prefix: 'iwsec', connection: 'close' });
    squatter = spawn(lab.execPrefix('client')[0]!, [...lab.execPrefix('client').slice(1), ...AS_NOBODY, process.execPath, '-e', SQUATTER], { stdio: ['ignore', 'pipe', 'pipe'] });
    squatter.stdout!.setEncoding('utf8').on('data', (d: string) => (squatterOut += d));
    await waitFor(() => squatterOut.includes('held'), 10_000, 'the squatter to hold the old lock name');
  }, 120_000);

  afterAll(async () => {
    for (const d of daemons) if (!d.exited()) await d.stop();
    squatter?.kill('SIGKILL');
    await lab?.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a gated scan is not refused because of the squatter', async () => {
    const r = await lab.run('client', [process.execPath, CLI, 'scan', '--duration', '1s', '--gate-budget', '500'], { timeoutMs: 30_000 });
    expect(ownLines(r.stderr).filter((l) => /daemon is running/.test(l))).toEqual([]);
    expect(r.code, r.stderr).toBe(0);
  });

  it('the daemon starts, captures and attributes a call, and starts again after a restart while the squatter retries', async () => {
    for (const round of [1, 2]) {
      const d = daemon(`round${round}`);
      expect(await d.settled(), ownLines(d.err()).join('\n')).toBe('capturing');
      await curlV1();
      await waitFor(() => eventsIn(d).length >= 1, 10_000, 'the call to be logged');
      expect(eventsIn(d)[0]!.event).toMatchObject({ version: 'v1', attribution: 'gate', process: { exe: '/usr/bin/curl' } });
      expect(await d.stop()).toEqual({ code: 0, signal: null });
    }
    // the squatter still holds (or has taken back) the old names: it was never in the way
    expect(squatter.exitCode).toBeNull();
  });

  it('two real daemons still cannot both run: the second is refused naming the first one’s pid; a gated scan follows the first', async () => {
    const first = daemon('first');
    expect(await first.settled()).toBe('capturing');
    const second = daemon('second');
    expect(await second.settled()).toBe('exited');
    expect((await second.stop()).code).toBe(2);
    expect(ownLines(second.err())).toEqual([expect.stringMatching(new RegExp(`^imdswatch: another imdswatch daemon is running on this host \\(pid ${first.pid}\\)`))]);
    const scan = await lab.run('client', [process.execPath, CLI, 'scan', '--duration', '1s'], { timeoutMs: 30_000 });
    // no second capture, no second gate: it follows the daemon's events (test/cli/scan-follows-daemon.test.ts)
    expect(scan.code).toBe(0);
    expect(ownLines(scan.stderr)).toEqual([expect.stringMatching(new RegExp(`following the running daemon \\(pid ${first.pid}\\): events attributed by the daemon's SYN gate`))]);
    expect(await first.stop()).toEqual({ code: 0, signal: null });
  });
});
