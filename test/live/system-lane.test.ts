import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLab, labAvailable, type Lab } from '../support/lab/netns.js';
import { built, startDaemonIn, waitFor, type DaemonRun } from '../robustness/helpers.js';
import { nsRunner } from './probe.js';

/**
 * The system lane (docs/design.md#system-lane), with the real daemon, iptables, NFQUEUE and
 * NFLOG in a lab's client namespace.
 *
 * The first daemon captures on `lo` only, where no IMDS packet passes: a request it reads can
 * have come only through the lane. So root's curl is an event attributed to root's curl,
 * while a curl by uid 65534 — held on the shared queue, read from the shared capture — is
 * not read and is named among the missed connections. The second daemon captures on `any`
 * as installed: both captures see root's call, and it is one event, not two.
 */
const URL = 'http://169.254.169.254/latest/meta-data/instance-id';
const NOBODY = 65534;

describe.skipIf(!labAvailable() || !built())('the system lane (lab)', () => {
  let lab: Lab;
  let daemon: DaemonRun | null = null;
  const dir = mkdtempSync(join(tmpdir(), `imdswatch-lane-${process.pid}-`));
  const start = async (name: string, interfaces: string): Promise<DaemonRun> => {
    const d = await startDaemonIn(
      lab.execPrefix('client'),
      ['--lane', '--interfaces', interfaces, '--log-file', join(dir, `${name}.log`), '--state-file', join(dir, `${name}.json`)],
      { IMDSWATCH_SAVE_INTERVAL: '1' },
    );
    daemon = d;
    await waitFor(() => d.lines().some((l) => l.kind === 'daemon' && typeof l.lane === 'boolean'), 30_000, `daemon start line; ${d.err()}`);
    return d;
  };
  const curl = (agent: string, uid?: number) =>
    lab.run('client', [...(uid === undefined ? [] : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups']), 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '-m', '10', '-A', agent, URL]);

  beforeAll(async () => {
    lab = await createLab({ prefix: 'iwlane', connection: 'close' });
  });
  afterEach(async () => {
    await daemon?.stop('SIGTERM');
    daemon = null;
  });
  afterAll(async () => {
    await lab?.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  it("reads root's call through the lane alone (the shared capture sees nothing), attributed to root's curl; another user's call is named missed", async () => {
    const d = await start('lo', 'lo');
    expect(d.lines().find((l) => l.kind === 'daemon' && typeof l.lane === 'boolean')?.lane, d.err()).toBe(true);
    const rules = nsRunner(lab.names.client)('iptables', ['-t', 'mangle', '-S']).stdout;
    expect(rules).toContain('-A OUTPUT -j IMDSWATCH-OUT');
    expect(rules).toContain('-A POSTROUTING -j IMDSWATCH-LOG');
    expect(rules).toMatch(/-A IMDSWATCH-OUT .*--uid-owner 0-999 .*-j NFQUEUE --queue-num 8 --queue-bypass/);
    expect(rules).toMatch(/-A IMDSWATCH-LOG .*--uid-owner 0-999 .*-j NFLOG --nflog-group 7/);
    expect((await curl('lane-root')).stdout).toBe('200');
    expect((await curl('lane-nobody', NOBODY)).stdout).toBe('200');
    // uid 65534's SYN was held on the shared queue, its packets never read (lo): capture loss, named
    await waitFor(
      () => d.lines().some((l) => l.kind === 'capture' && (l.programs ?? []).some((p: { exe: string; uid?: number; user?: string }) => p.exe === '/usr/bin/curl' && p.user !== 'root')),
      30_000,
      `uid ${NOBODY}'s curl among the missed connections; ${d.out().slice(-3000)}`,
    );
    // root's request came through the lane; IMDS's answer did not (the lane copies what
    // system users send, the answers come from the shared capture, here on lo: none). curl
    // closed its side and nothing more came: the flow ends as half-closed within seconds
    // (docs/design.md#half-closed-flows), not at its idle end minutes later, while the daemon runs
    const rootEvents = () => d.events().map((e) => e.event ?? e).filter((e) => e.userAgent === 'lane-root');
    await waitFor(() => rootEvents().length > 0, 20_000, `root's event while the daemon runs; ${d.out().slice(-2000)}`);
    await d.stop('SIGTERM');
    daemon = null;
    expect(rootEvents().map((e) => ({ attribution: e.attribution, uid: e.process?.uid, exe: e.process?.exe, path: e.path, status: e.status })), d.out().slice(-2000)).toEqual([
      { attribution: 'gate', uid: 0, exe: '/usr/bin/curl', path: '/latest/meta-data/instance-id', status: null },
    ]);
    expect(d.events().map((e) => e.event ?? e).some((e) => e.userAgent === 'lane-nobody')).toBe(false);
    // every chain and jump is gone after the stop
    const after = nsRunner(lab.names.client)('iptables', ['-t', 'mangle', '-S']).stdout;
    expect(after).not.toMatch(/IMDSWATCH/);
  }, 120_000);

  it("one event per root call when the shared capture sees it too", async () => {
    const d = await start('any', 'any');
    for (let i = 0; i < 5; i++) expect((await curl(`lane-any-${i}`)).stdout).toBe('200');
    await waitFor(() => d.events().filter((e) => String((e.event ?? e).userAgent).startsWith('lane-any-')).length >= 5, 20_000, `five events; ${d.out().slice(-2000)}`);
    // both captures had every packet; a second copy would have been a second event within a second or two
    await new Promise((r) => setTimeout(r, 2500));
    const evs = d.events().map((e) => e.event ?? e).filter((e) => String(e.userAgent).startsWith('lane-any-'));
    expect(evs.map((e) => e.userAgent).sort()).toEqual([0, 1, 2, 3, 4].map((i) => `lane-any-${i}`));
    for (const e of evs) expect({ attribution: e.attribution, exe: e.process?.exe }).toEqual({ attribution: 'gate', exe: '/usr/bin/curl' });
  }, 120_000);
});
