import { describe, expect, it } from 'vitest';
import type { ContainerInfo, ImdsEvent } from '../../../src/imds/event.js';
import { Metrics } from '../../../src/sinks/metrics.js';

function v1(container: ContainerInfo | null, exe = '/usr/bin/python3'): ImdsEvent {
  return {
    ts: '2024-05-01T10:00:00.000Z',
    version: 'v1',
    method: 'GET',
    path: '/latest/meta-data/iam/security-credentials/',
    status: 200,
    client: { ip: '10.0.2.15', port: 40000 },
    server: { ip: '169.254.169.254', port: 80 },
    userAgent: null,
    sdk: null,
    process: { pid: 10, exe, cmdline: null, uid: 0, user: 'root', unit: null, container, ancestors: [] },
    attribution: 'gate',
    reason: 'no-token-attempt',
    httpVersion: 'HTTP/1.1',
  };
}

async function byContainer(m: Metrics): Promise<Map<string, number>> {
  const all = await m.registry.getMetricsAsJSON();
  const metric = all.find((x) => x.name === 'imdswatch_v1_calls_by_container_total');
  expect(metric, 'imdswatch_v1_calls_by_container_total is registered').toBeDefined();
  const out = new Map<string, number>();
  for (const v of (metric as { values: Array<{ labels: Record<string, string>; value: number }> }).values) out.set(v.labels['container']!, v.value);
  return out;
}

describe('imdswatch_v1_calls_by_container_total', () => {
  it('labels calls ns/pod/container, by name, or none; v2 calls are not counted', async () => {
    const m = new Metrics();
    const pod: ContainerInfo = { runtime: 'containerd', id: 'a'.repeat(64), name: 'aws-node', pod: { uid: 'u', namespace: 'kube-system', name: 'aws-node-x7k2p' } };
    m.event(v1(pod));
    m.event(v1(pod));
    m.event(v1({ runtime: 'docker', id: 'b'.repeat(64), name: 'billing-worker' }));
    m.event(v1(null));
    m.event({ ...v1(pod), version: 'v2', reason: null });
    expect(Object.fromEntries(await byContainer(m))).toEqual({ 'kube-system/aws-node-x7k2p/aws-node': 2, 'billing-worker': 1, none: 1 });
  });

  it('is capped: containers past the cap count under "other", known ones keep counting', async () => {
    const m = new Metrics(100, 3);
    for (let i = 0; i < 10; i++) m.event(v1({ runtime: 'docker', id: null, name: `c${i}` }));
    m.event(v1({ runtime: 'docker', id: null, name: 'c0' }));
    const got = await byContainer(m);
    expect(Object.fromEntries(got)).toEqual({ c0: 2, c1: 1, c2: 1, other: 7 });
  });

  it('cuts very long label values', async () => {
    const m = new Metrics();
    m.event(v1({ runtime: 'docker', id: null, name: 'n'.repeat(1000) }));
    const [label] = [...(await byContainer(m)).keys()];
    expect(label!.length).toBe(128);
  });
});
