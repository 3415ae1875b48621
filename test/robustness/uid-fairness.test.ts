import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, labAvailable, type Lab } from '../support/lab/netns.js';
import { LOAD_TOOL, built, metricValue, startDaemonIn, type DaemonRun } from './helpers.js';

/**
 * One uid's flood must cost other users nothing visible (docs/design.md#syn-gate): the daemon
 * (gate on, capture on `any`) in a lab's client namespace while an unprivileged uid (65534,
 * through setpriv) opens one-shot connections to IMDS as fast as it can, and root calls
 * with curl one at a time meanwhile. Outcomes only, no timings (those are bench/fairness.mjs's):
 * every root call is one event the gate attributed to root's curl (the system lane,
 * docs/design.md#system-lane: root's SYNs on a queue of their own, its packets through
 * NFLOG), and the flooder's SYNs are counted as shed under its uid (log line and metric),
 * root's never.
 *
 * The gate's budget is raised to 500 ms so that a machine short of CPU cannot turn a root
 * lookup into `budget` (that would be a timing, not fairness). Bounded: FLOOD_COUNT
 * connections within FLOOD_SECONDS, ROOT_CALLS curls.
 */
const FLOOD_UID = 65534;
const FLOOD_COUNT = 8_000;
const FLOOD_SECONDS = 15;
const ROOT_CALLS = 12;
const METRICS_PORT = 18000 + (process.pid % 1000);
const SAVE_INTERVAL = 2;

describe.skipIf(!labAvailable() || !built())('per-uid fairness of the SYN gate under one uid\'s flood (lab)', () => {
  let lab: Lab;
  let daemon: DaemonRun;
  const dir = mkdtempSync(join(tmpdir(), `imdswatch-uid-fairness-${process.pid}-`));
  let flood: Record<string, any> = {};
  let codes: string[] = [];
  let metrics = '';

  beforeAll(async () => {
    lab = await createLab({ prefix: 'iwfair', connection: 'close' });
    await lab.run('client', ['sysctl', '-q', '-w', 'net.ipv4.ip_local_port_range=1024 65000', 'net.ipv4.tcp_tw_reuse=1']);
    daemon = await startDaemonIn(
      lab.execPrefix('client'),
      ['--log-file', join(dir, 'imdswatch.log'), '--state-file', join(dir, 'state.json'), '--metrics', String(METRICS_PORT), '--gate-budget', '500'],
      { IMDSWATCH_SAVE_INTERVAL: String(SAVE_INTERVAL) },
    );
    const flooding = lab.run(
      'client',
      [
        'setpriv', `--reuid=${FLOOD_UID}`, `--regid=${FLOOD_UID}`, '--clear-groups',
        process.execPath, LOAD_TOOL, '--mode', 'short-conns', '--target', lab.addresses.imds.ipv4,
        '--count', String(FLOOD_COUNT), '--concurrency', '128', '--seconds', String(FLOOD_SECONDS), '--user-agent', 'flooder/1',
      ],
      { timeoutMs: (FLOOD_SECONDS + 30) * 1000 },
    );
    const rootCalls = (async () => {
      const out: string[] = [];
      await new Promise((r) => setTimeout(r, 1000));
      for (let i = 0; i < ROOT_CALLS; i++) {
        const c = await lab.run('client', ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '-m', '10', '-A', `root-fair-${i}`, 'http://169.254.169.254/latest/meta-data/instance-id']);
        out.push(c.stdout);
        await new Promise((r) => setTimeout(r, 300));
      }
      return out;
    })();
    const [f, c] = await Promise.all([flooding, rootCalls]);
    expect(f.code, f.stderr).toBe(0);
    flood = JSON.parse(f.stdout);
    codes = c;
    // the daemon catches up (its frame queue drains: no new line for 3 s, at most 60 s), then
    // two save intervals write the gate's line and the metric
    for (let last = -1, still = 0, i = 0; still < 6 && i < 120; i++) {
      await new Promise((r) => setTimeout(r, 500));
      const n = daemon.out().length;
      still = n === last ? still + 1 : 0;
      last = n;
    }
    await new Promise((r) => setTimeout(r, SAVE_INTERVAL * 2000 + 500));
    metrics = (await lab.run('client', ['curl', '-s', '-m', '10', `http://127.0.0.1:${METRICS_PORT}/metrics`])).stdout;
  }, 240_000);

  afterAll(async () => {
    await daemon?.stop('SIGKILL');
    await lab?.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the flood was one: many one-shot connections from uid 65534, answered', () => {
    console.log(`uid fairness: flood ${JSON.stringify(flood)}; gate lines ${JSON.stringify(daemon.lines().filter((l) => l.kind === 'gate').slice(-1))}`);
    expect(flood.answered).toBeGreaterThan(1000);
    expect(codes).toEqual(Array(ROOT_CALLS).fill('200'));
  });

  it("every root call is one event, attributed by the gate to root's curl: the system lane reads root's calls apart from the flood", () => {
    const events = daemon.events().map((l) => l.event ?? l);
    const lossLines = daemon.lines().filter((l) => l.kind === 'capture' && (l.missedSyns > 0 || l.requestGapBytes > 0));
    const loss = JSON.stringify(lossLines.slice(-1));
    // root's SYNs wait on the lane's own queue and its packets come through NFLOG
    // (docs/design.md#system-lane): no share of the flood's queue, ring or frame backlog
    for (let i = 0; i < ROOT_CALLS; i++) {
      const evs = events.filter((e) => e.userAgent === `root-fair-${i}`);
      expect(
        evs.map((ev) => ({ attribution: ev.attribution, uid: ev.process?.uid, exe: ev.process?.exe })),
        `root-fair-${i}; ${loss}`,
      ).toEqual([{ attribution: 'gate', uid: 0, exe: '/usr/bin/curl' }]);
    }
    const lane = daemon.lines().find((l) => l.kind === 'daemon' && typeof l.lane === 'boolean');
    expect(lane?.lane).toBe(true);
  });

  it('counts the shed SYNs under the flooder\'s uid, in the log and in metrics, and none of root\'s', () => {
    const gate = daemon.lines().filter((l) => l.kind === 'gate');
    expect(gate.length, 'a gate line').toBeGreaterThan(0);
    const byUid = gate.at(-1)!.shedByUid as Record<string, number>;
    expect(byUid[String(FLOOD_UID)]).toBeGreaterThan(0);
    expect(byUid['0']).toBeUndefined();
    expect(metricValue(metrics, 'imdswatch_gate_shed_syns_total', `uid="${FLOOD_UID}"`)).toBe(byUid[String(FLOOD_UID)]);
    expect(metricValue(metrics, 'imdswatch_gate_shed_syns_total', 'uid="0"')).toBeNull();
  });
});
