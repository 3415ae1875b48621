// deploy/: the DaemonSet and the ECS daemon task ask for what the systemd unit has and
// no more — host network and PID namespaces, exactly the four capabilities, read-only
// mounts but for state, logs and a scratch /tmp, metrics scraped. Only their text is
// checked: no Kubernetes or ECS here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, sh } from './artifacts.js';

const FOUR = ['NET_RAW', 'NET_ADMIN', 'SYS_PTRACE', 'DAC_READ_SEARCH'];
const WRITABLE = ['/var/lib/imdswatch', '/var/log/imdswatch', '/tmp'];

describe('deploy/', () => {
  it('kubernetes/daemonset.yaml', () => {
    const r = sh('python3', ['-c', 'import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))', join(REPO, 'deploy/kubernetes/daemonset.yaml')]);
    expect(r.status, r.stderr).toBe(0);
    const ds = JSON.parse(r.stdout);
    expect(ds.kind).toBe('DaemonSet');
    const pod = ds.spec.template.spec;
    expect(pod.hostNetwork).toBe(true);
    expect(pod.hostPID).toBe(true);
    const annotations = ds.spec.template.metadata.annotations;
    expect(annotations['prometheus.io/scrape']).toBe('true');
    const [c] = pod.containers;
    expect(c.securityContext.privileged).toBe(false);
    expect(c.securityContext.capabilities).toEqual({ drop: ['ALL'], add: FOUR });
    expect(annotations['prometheus.io/port']).toBe(String(c.ports[0].containerPort));
    expect(c.args).toContain(String(c.ports[0].containerPort));
    for (const m of c.volumeMounts) expect(m.readOnly === true || WRITABLE.includes(m.mountPath), m.mountPath).toBe(true);
    expect(c.volumeMounts.filter((m: { readOnly?: boolean }) => !m.readOnly).map((m: { mountPath: string }) => m.mountPath).sort()).toEqual([...WRITABLE].sort());
    const state = pod.volumes.find((v: { name: string }) => v.name === 'state');
    expect(state.hostPath.path).toBe('/var/lib/imdswatch');
    expect(c.resources.requests.memory).toBe('128Mi');
    expect(c.resources.limits.memory).toBe('256Mi');
  });

  it('ecs/imdswatch-daemon-task.json', () => {
    const t = JSON.parse(readFileSync(join(REPO, 'deploy/ecs/imdswatch-daemon-task.json'), 'utf8'));
    expect(t.networkMode).toBe('host');
    expect(t.pidMode).toBe('host');
    const [c] = t.containerDefinitions;
    expect(c.linuxParameters.capabilities).toEqual({ drop: ['ALL'], add: FOUR });
    expect(c.privileged).toBeUndefined();
    for (const m of c.mountPoints) expect(m.readOnly === true || WRITABLE.includes(m.containerPath), m.containerPath).toBe(true);
    expect(c.dockerLabels.PROMETHEUS_EXPORTER_PORT).toBe(String(c.portMappings[0].containerPort));
  });
});
