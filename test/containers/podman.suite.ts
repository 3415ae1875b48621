import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gateRuleStatus } from '../../src/live/gate-rules.js';
import { labAvailable } from '../support/lab/netns.js';
import { nsRunner } from '../live/probe.js';
import { waitFor } from '../helpers/wait.js';
import { CI, createContainerHost, eventsOf, missingTools, report, runWaiting, startImdswatch, type ContainerHost, type EventLine } from './host.js';
import { PODMAN_RUN_FLAGS, startPodman, type PodmanRuntime } from './podman.js';

/**
 * Rootful Podman for real (#10 items 2, 5, 9): imdswatch first, then Podman (CNI bridge,
 * whose plugin puts CNI-FORWARD at the top of filter FORWARD on the first container),
 * cgroupfs manager. Per event: pid = podman inspect State.Pid, exe, container (podman, id,
 * name, image from containers.json), in-container user, attribution gate; no capture loss;
 * report NOT READY naming billing-api.
 */
const missing = missingTools(['podman', 'conmon', 'runc', 'nsenter', 'iptables', '/usr/lib/cni/bridge']);
const available = labAvailable() && missing.length === 0;
const V1 = 'exec curl -s -o /dev/null -m 5 http://169.254.169.254/latest/meta-data/instance-id';

describe.skipIf(!CI && !available)('Podman rootful (cgroupfs, CNI), started after imdswatch', () => {
  let host: ContainerHost;
  let podman: PodmanRuntime;
  const dir = mkdtempSync(join(tmpdir(), 'iw-podman-'));
  let out = '';
  let metrics = '';
  let state = '';
  let verdict: ReturnType<typeof report>;
  let c: { id: string; pid: number };
  let cgroup = '';
  let forward = '';
  let gate: ReturnType<typeof gateRuleStatus>;

  beforeAll(async () => {
    expect(missing, `container runtime tools missing (run .ci/install-deps): ${missing.join(', ')}`).toEqual([]);
    host = await createContainerHost('iwpm');
    const t0 = Date.now();
    const iw = await startImdswatch(host, dir, [{ from: `/var/lib/${host.id}-podman/storage`, to: '/var/lib/containers/storage' }]);
    podman = await startPodman(host);
    const w = await runWaiting(podman.cli, 'podman', podman.image, 'billing-api', '1000:1000', V1, PODMAN_RUN_FLAGS);
    c = w;
    cgroup = readFileSync(`/proc/${w.pid}/cgroup`, 'utf8').split('\n')[0]!;
    forward = (await host.exec(['iptables', '-w', '5', '-S', 'FORWARD'])).stdout;
    gate = gateRuleStatus(4, nsRunner(host.ns));
    await w.go();
    await waitFor(() => eventsOf(iw.out()).length >= 1, 20_000, 'the billing-api event');
    await new Promise((r) => setTimeout(r, 1_500));
    metrics = (await host.exec(['curl', '-s', `http://127.0.0.1:${iw.metricsPort}/metrics`])).stdout;
    await iw.stop('SIGTERM');
    out = iw.out();
    state = readFileSync(iw.stateFile, 'utf8');
    verdict = report(iw.stateFile);
    console.log(`podman rootful: set-up and run in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }, 300_000);

  afterAll(async () => {
    await host?.teardown();
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('the container is in /libpod_parent/libpod-<id>; CNI took the top of filter FORWARD; the gate kept its place', () => {
    expect(cgroup).toMatch(new RegExp(`:/libpod_parent/libpod-${c.id}$`));
    expect(forward.split('\n')[1]).toMatch(/-j CNI-FORWARD$/);
    expect(gate).toMatchObject({ chain: true, jumps: { OUTPUT: 1, FORWARD: 1 } });
  });

  it('attributes the IMDSv1 call by the gate to the container: pid, exe, podman id, name, image, user', () => {
    const evs = eventsOf(out);
    console.log(`podman rootful events: ${JSON.stringify(evs.map(summary))}`);
    expect(evs).toHaveLength(1);
    const e = evs[0]!.event;
    expect(e).toMatchObject({ version: 'v1', attribution: 'gate' });
    expect(e.process).toMatchObject({ pid: c.pid, exe: '/usr/bin/curl', uid: 1000, user: 'billing' });
    expect(e.process!.container).toEqual({ runtime: 'podman', id: c.id, name: 'billing-api', image: 'localhost/imdswatch-test/debian-curl:1' });
  });

  it('no capture loss; report NOT READY naming billing-api', () => {
    expect(JSON.parse(state).drops).toMatchObject({ pcap: 0 });
    expect(metrics).toMatch(/imdswatch_pcap_dropped_packets\{counter="gate_syn_not_captured"\} 0/);
    expect(verdict.text).toMatch(/VERDICT: NOT READY/);
    expect(verdict.text).toContain('billing-api');
  });
});

function summary(l: EventLine): Record<string, unknown> {
  const p = l.event.process;
  return { v: l.event.version, attribution: l.event.attribution, pid: p?.pid, exe: p?.exe, uid: p?.uid, user: p?.user, container: p?.container };
}
