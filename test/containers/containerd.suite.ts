import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labAvailable } from '../support/lab/netns.js';
import { waitFor } from '../helpers/wait.js';
import { CI, createContainerHost, eventsOf, missingTools, report, startImdswatch, type ContainerHost, type EventLine } from './host.js';
import { containerdPaths, ctrRunWaiting, startContainerd, type ContainerdRuntime } from './containerd.js';

/**
 * containerd through ctr (#10 item 8 and the EKS case): imdswatch first, then containerd.
 * A pod container in namespace k8s.io with the annotations containerd's CRI plugin writes
 * (container name, sandbox name/namespace/uid/id, image) under a kubepods cgroup, and a
 * plain `ctr run` container with a free-form id (cgroup /default/plain-ctr). Both are in a
 * routed network namespace (no bridge, no NAT: the VPC CNI's shape) and call IMDSv1.
 */
const missing = missingTools(['containerd', 'ctr', 'runc', 'nsenter', 'iptables']);
const available = labAvailable() && missing.length === 0;
const V1 = 'curl -s -o /dev/null -m 5 http://169.254.169.254/latest/meta-data/instance-id';
const POD_UID = '0d6b3e2a-9f1c-4c8e-a1b2-3c4d5e6f7a8b';

describe.skipIf(!CI && !available)('containerd via ctr (CRI annotations, free-form ids), started after imdswatch', () => {
  let host: ContainerHost;
  let cd: ContainerdRuntime;
  const dir = mkdtempSync(join(tmpdir(), 'iw-containerd-'));
  const podId = createHash('sha256').update(`pod-${process.pid}-${Date.now()}`).digest('hex');
  const sandboxId = createHash('sha256').update(`sandbox-${process.pid}`).digest('hex');
  let out = '';
  let verdict: ReturnType<typeof report>;
  let state = '';
  let pod: { pid: number };
  let plain: { pid: number };
  const cgroups: Record<string, string> = {};

  beforeAll(async () => {
    expect(missing, `container runtime tools missing (run .ci/install-deps): ${missing.join(', ')}`).toEqual([]);
    host = await createContainerHost('iwcd');
    const t0 = Date.now();
    const iw = await startImdswatch(host, dir, [containerdPaths(host).bind]);
    cd = await startContainerd(host);
    const netns = `/run/netns/${host.lab.names.container}`;
    const annotations = [
      ['io.kubernetes.cri.container-type', 'container'],
      ['io.kubernetes.cri.container-name', 'billing-api'],
      ['io.kubernetes.cri.sandbox-id', sandboxId],
      ['io.kubernetes.cri.sandbox-name', 'billing-api-7d4b9c-x2kq'],
      ['io.kubernetes.cri.sandbox-namespace', 'payments'],
      ['io.kubernetes.cri.sandbox-uid', POD_UID],
      ['io.kubernetes.cri.image-name', 'registry.example/billing-api:1.4'],
    ].flatMap(([k, v]) => ['--annotation', `${k}=${v}`]);
    const p = await ctrRunWaiting(cd, 'k8s.io', podId, netns, `exec setpriv --reuid 1000 --regid 1000 --clear-groups ${V1}`, [
      '--cgroup', `/kubepods/besteffort/pod${POD_UID}/${podId}`, ...annotations,
    ]);
    pod = p;
    const q = await ctrRunWaiting(cd, 'default', 'plain-ctr', netns, `exec ${V1}`);
    plain = q;
    cgroups.pod = readFileSync(`/proc/${p.pid}/cgroup`, 'utf8').split('\n')[0]!;
    cgroups.plain = readFileSync(`/proc/${q.pid}/cgroup`, 'utf8').split('\n')[0]!;
    await p.go();
    await waitFor(() => eventsOf(iw.out()).length >= 1, 20_000, 'the pod event');
    await q.go();
    await waitFor(() => eventsOf(iw.out()).length >= 2, 20_000, 'the plain-ctr event');
    await new Promise((r) => setTimeout(r, 1_500));
    await iw.stop('SIGTERM');
    out = iw.out();
    state = readFileSync(iw.stateFile, 'utf8');
    verdict = report(iw.stateFile);
    console.log(`containerd: set-up and run in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }, 300_000);

  afterAll(async () => {
    await host?.teardown();
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('names the pod as on an EKS node: pod, namespace, uid, container, image; pid, exe, user; gate', () => {
    const evs = eventsOf(out);
    console.log(`containerd events: ${JSON.stringify(evs.map(summary))}; cgroups ${JSON.stringify(cgroups)}`);
    expect(cgroups.pod).toContain(`/kubepods/besteffort/pod${POD_UID}/${podId}`);
    const e = evs.find((x) => x.event.process?.pid === pod.pid)?.event;
    expect(e).toBeDefined();
    expect(e).toMatchObject({ version: 'v1', attribution: 'gate' });
    expect(e!.process).toMatchObject({ exe: '/usr/bin/curl', uid: 1000, user: 'billing' });
    expect(e!.process!.container).toEqual({
      runtime: 'containerd',
      id: podId,
      name: 'billing-api',
      image: 'registry.example/billing-api:1.4',
      pod: { uid: POD_UID, namespace: 'payments', name: 'billing-api-7d4b9c-x2kq' },
    });
  });

  it('names a ctr container with a free-form id (cgroup /default/plain-ctr)', () => {
    expect(cgroups.plain).toMatch(/:\/default\/plain-ctr$/);
    const e = eventsOf(out).find((x) => x.event.process?.pid === plain.pid)?.event;
    expect(e).toMatchObject({ version: 'v1', attribution: 'gate' });
    expect(e!.process).toMatchObject({ exe: '/usr/bin/curl', uid: 0, user: 'root' });
    expect(e!.process!.container).toMatchObject({ runtime: 'containerd', id: 'plain-ctr' });
  });

  it('no capture loss; report NOT READY naming billing-api', () => {
    expect(JSON.parse(state).drops).toMatchObject({ pcap: 0 });
    expect(out).not.toMatch(/"kind":"capture"/);
    expect(verdict.text).toMatch(/VERDICT: NOT READY/);
    expect(verdict.text).toContain('billing-api');
  });
});

function summary(l: EventLine): Record<string, unknown> {
  const p = l.event.process;
  return { v: l.event.version, attribution: l.event.attribution, pid: p?.pid, exe: p?.exe, uid: p?.uid, user: p?.user, container: p?.container };
}
