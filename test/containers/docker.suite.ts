import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gateRuleStatus } from '../../src/live/gate-rules.js';
import { labAvailable } from '../support/lab/netns.js';
import { nsRunner } from '../live/probe.js';
import { waitFor } from '../helpers/wait.js';
import { CI, createContainerHost, eventsOf, missingTools, report, runWaiting, startImdswatch, type ContainerHost, type EventLine } from './host.js';
import { startDocker, type DockerRuntime } from './docker.js';

/**
 * Docker for real (#10): imdswatch starts first, dockerd after it (as on a booted host, where
 * the unit starts long before Docker), a bridged container calls IMDS through FORWARD and NAT.
 * Then a second imdswatch starts with Docker already running (the other order).
 * Per event: pid (= docker inspect State.Pid, checked on the host's /proc), exe inside the
 * container, runtime, id, name, image, in-container user, attribution `gate`; zero capture
 * loss in state and metrics; `report` NOT READY naming billing-api, READY for IMDSv2 only.
 */
const TOOLS = ['dockerd', '/usr/bin/docker', 'containerd', 'runc', 'nsenter', 'iptables'];
const missing = missingTools(TOOLS);
const available = labAvailable() && missing.length === 0;
const IMDS = 'http://169.254.169.254/latest';
const V1 = `exec curl -s -o /dev/null -m 5 ${IMDS}/meta-data/instance-id`;
const V2 = `T=$(curl -s -m 5 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' ${IMDS}/api/token); exec curl -s -o /dev/null -m 5 -H "X-aws-ec2-metadata-token: $T" ${IMDS}/meta-data/instance-id`;

describe.skipIf(!CI && !available)('Docker (dockerd in a namespace of its own, started after imdswatch)', () => {
  let host: ContainerHost;
  let docker: DockerRuntime;
  const dir = mkdtempSync(join(tmpdir(), 'iw-docker-'));
  const seen: Record<string, unknown> = {};
  let first: { out: string; err: string; metrics: string; state: string; report: ReturnType<typeof report> };
  let second: { out: string; err: string; metrics: string; state: string; report: ReturnType<typeof report> };
  let billing: { id: string; pid: number };
  let payments: { id: string; pid: number };
  let gateAfterDocker: ReturnType<typeof gateRuleStatus>;
  let dockerForward = '';
  let repairedWarning = '';
  let ruleAfterRepair: ReturnType<typeof gateRuleStatus>;
  const t0 = Date.now();

  beforeAll(async () => {
    expect(missing, `container runtime tools missing (run .ci/install-deps): ${missing.join(', ')}`).toEqual([]);
    expect(labAvailable(), 'needs root and iproute2').toBe(true);
    host = await createContainerHost('iwdk');
    const dataRoot = `/var/lib/${host.id}-docker`;
    const bind = { from: dataRoot, to: '/var/lib/docker' };
    // 1. imdswatch first
    const iw = await startImdswatch(host, join(dir, 'first'), [bind], { IMDSWATCH_GATE_CHECK_MS: '500' });
    // 2. then the runtime: dockerd puts its rules at the top of filter FORWARD
    docker = await startDocker(host);
    expect(docker.dataRoot).toBe(dataRoot);
    dockerForward = (await host.exec(['iptables', '-w', '5', '-S', 'FORWARD'])).stdout;
    gateAfterDocker = gateRuleStatus(4, nsRunner(host.ns));
    // 3. a bridged container calls IMDSv1 as uid 1000 (in the image: billing; on the host maybe someone else)
    const b = await runWaiting(docker.cli, 'docker', docker.image, 'billing-api', '1000:1000', V1);
    billing = b;
    seen.billingCgroup = readFileSync(`/proc/${b.pid}/cgroup`, 'utf8').split('\n')[0];
    await b.go();
    await waitFor(() => eventsOf(iw.out()).length >= 1, 20_000, 'the billing-api event');
    // 4. something removes the gate's jump while it runs: put back, named once
    await host.exec(['iptables', '-w', '5', '-t', 'mangle', '-D', 'FORWARD', '-j', 'IMDSWATCH']);
    await waitFor(() => iw.out().includes("the SYN gate's rule was changed"), 15_000, 'the rule repair warning');
    repairedWarning = iw.out().split('\n').find((l) => l.includes("the SYN gate's rule was changed")) ?? '';
    ruleAfterRepair = gateRuleStatus(4, nsRunner(host.ns));
    await new Promise((r) => setTimeout(r, 1_500)); // a state save
    const metrics = (await host.exec(['curl', '-s', `http://127.0.0.1:${iw.metricsPort}/metrics`])).stdout;
    await iw.stop('SIGTERM');
    first = { out: iw.out(), err: iw.err(), metrics, state: readFileSync(iw.stateFile, 'utf8'), report: report(iw.stateFile) };

    // 5. the other order: Docker already runs, imdswatch starts now; IMDSv2 only
    const iw2 = await startImdswatch(host, join(dir, 'second'), [bind]);
    const p = await runWaiting(docker.cli, 'docker', docker.image, 'payments-v2', '1001:1001', V2);
    payments = p;
    await p.go();
    await waitFor(() => eventsOf(iw2.out()).length >= 2, 20_000, 'the payments-v2 events');
    await new Promise((r) => setTimeout(r, 1_500));
    const metrics2 = (await host.exec(['curl', '-s', `http://127.0.0.1:${iw2.metricsPort}/metrics`])).stdout;
    await iw2.stop('SIGTERM');
    second = { out: iw2.out(), err: iw2.err(), metrics: metrics2, state: readFileSync(iw2.stateFile, 'utf8'), report: report(iw2.stateFile) };
    console.log(`docker: set-up and both runs in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }, 300_000);

  afterAll(async () => {
    await host?.teardown();
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('dockerd put its own rules on top of filter FORWARD, and the gate (mangle) kept its place', () => {
    expect(dockerForward.split('\n')[1]).toBe('-A FORWARD -j DOCKER-USER');
    expect(dockerForward).toContain('-A FORWARD -i docker0 ! -o docker0 -j ACCEPT');
    expect(gateAfterDocker).toMatchObject({ chain: true, jumps: { OUTPUT: 1, FORWARD: 1 } });
  });

  it('attributes the bridged container\'s IMDSv1 call by the gate: pid, exe, container, user', () => {
    const evs = eventsOf(first.out);
    console.log(`docker events (imdswatch first): ${JSON.stringify(evs.map(summary))}; cgroup ${seen.billingCgroup}`);
    expect(evs).toHaveLength(1);
    const e = evs[0]!.event;
    expect(e.version).toBe('v1');
    expect(e.attribution).toBe('gate');
    expect(e.process).toMatchObject({ pid: billing.pid, exe: '/usr/bin/curl', uid: 1000, user: 'billing' });
    expect(e.process!.container).toEqual({ runtime: 'docker', id: billing.id, name: 'billing-api', image: 'imdswatch-test/debian-curl:1' });
  });

  it('puts back a removed gate rule while it runs, and says so once', () => {
    expect(repairedWarning).toMatch(/iptables: jump-missing\); put back/);
    expect(ruleAfterRepair).toMatchObject({ chain: true, jumps: { OUTPUT: 1, FORWARD: 1 } });
    expect(first.out.split('\n').filter((l) => l.includes("the SYN gate's rule was changed"))).toHaveLength(1);
    // and counts it where monitoring sees it
    expect(first.metrics).toMatch(/^imdswatch_gate_rule_repairs 1$/m);
    expect(second.metrics).toMatch(/^imdswatch_gate_rule_repairs 0$/m);
  });

  it('counts no capture loss (state, metrics) and reports NOT READY naming billing-api', () => {
    expect(JSON.parse(first.state).drops).toMatchObject({ pcap: 0 });
    expect(first.metrics).toMatch(/imdswatch_pcap_dropped_packets\{counter="gate_syn_not_captured"\} 0/);
    expect(first.out).not.toMatch(/"kind":"capture"/);
    expect(first.report.text).toMatch(/VERDICT: NOT READY/);
    expect(first.report.text).toContain('billing-api');
    expect(first.report.text).not.toMatch(/UNKNOWN|capture dropped/);
  });

  it('with Docker already running: IMDSv2 from payments-v2 attributed by the gate, READY, no loss', () => {
    const evs = eventsOf(second.out);
    console.log(`docker events (runtime first): ${JSON.stringify(evs.map(summary))}`);
    expect(evs.map((x) => x.event.version)).toEqual(['token', 'v2']);
    const [put, get] = [evs[0]!.event, evs[1]!.event];
    for (const e of [put, get]) {
      expect(e.attribution).toBe('gate');
      expect(e.process).toMatchObject({ exe: '/usr/bin/curl', uid: 1001, user: 'payments' });
      expect(e.process!.container).toEqual({ runtime: 'docker', id: payments.id, name: 'payments-v2', image: 'imdswatch-test/debian-curl:1' });
    }
    expect(get.process!.pid).toBe(payments.pid);
    expect((put.process as unknown as { ancestors: Array<{ pid: number }> }).ancestors[0]!.pid).toBe(payments.pid);
    expect(JSON.parse(second.state).drops).toMatchObject({ pcap: 0 });
    expect(second.metrics).toMatch(/imdswatch_pcap_dropped_packets\{counter="gate_syn_not_captured"\} 0/);
    expect(second.report.text).toMatch(/VERDICT: READY/);
  });
});

function summary(l: EventLine): Record<string, unknown> {
  const p = l.event.process;
  return { v: l.event.version, attribution: l.event.attribution, pid: p?.pid, exe: p?.exe, uid: p?.uid, user: p?.user, container: p?.container };
}
