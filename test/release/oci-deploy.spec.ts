// deploy/ runs the image WITH the SYN gate (#12): no --no-gate in the DaemonSet or the ECS
// task, still only the four capabilities; the DaemonSet shares the node's xtables lock
// read-only (legacy iptables serialises on it, as kube-proxy does) and mounts what naming
// a CRI-O/Podman container reads; the legacy-backend PATH it documents is the image's PATH
// with the image's legacy directory first (packaging/build-oci.sh). Text only: no cluster.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, sh } from './artifacts.js';

const FOUR = ['NET_RAW', 'NET_ADMIN', 'SYS_PTRACE', 'DAC_READ_SEARCH'];
const yamlText = readFileSync(join(REPO, 'deploy/kubernetes/daemonset.yaml'), 'utf8');
const buildOci = readFileSync(join(REPO, 'packaging/build-oci.sh'), 'utf8');

describe('deploy/ with the image\'s SYN gate', () => {
  it('the DaemonSet runs the daemon with its gate, the four capabilities, the xtables lock and containers/storage read-only', () => {
    const r = sh('python3', ['-c', 'import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))', join(REPO, 'deploy/kubernetes/daemonset.yaml')]);
    expect(r.status, r.stderr).toBe(0);
    const pod = JSON.parse(r.stdout).spec.template.spec;
    const [c] = pod.containers;
    expect(c.args[0]).toBe('daemon');
    expect(c.args).not.toContain('--no-gate');
    expect(c.args).not.toContain('--gate=false');
    // the budget test/release/oci-podman.spec.ts runs the image with (a pod's lookup reads
    // /proc/PID/net/tcp per namespace: measured past the 50 ms default now and then)
    expect(c.args.slice(c.args.indexOf('--gate-budget'), c.args.indexOf('--gate-budget') + 2)).toEqual(['--gate-budget', '200']);
    expect(c.securityContext.capabilities).toEqual({ drop: ['ALL'], add: FOUR });
    expect(c.env ?? []).toEqual([]); // nf_tables, the image's default
    const mount = (path: string) => c.volumeMounts.find((m: { mountPath: string }) => m.mountPath === path);
    const volume = (name: string) => pod.volumes.find((v: { name: string }) => v.name === name);
    const lock = mount('/run/xtables.lock');
    expect(lock.readOnly).toBe(true);
    expect(volume(lock.name).hostPath).toEqual({ path: '/run/xtables.lock', type: 'FileOrCreate' });
    for (const p of ['/var/lib/containers/storage/overlay-containers', '/run/containers/storage/overlay-containers']) {
      expect(mount(p)?.readOnly, p).toBe(true);
      expect(volume(mount(p).name).hostPath.path).toBe(p);
    }
  });

  it('the legacy PATH the DaemonSet documents is the image\'s PATH with the image\'s legacy directory first', () => {
    const imagePath = buildOci.match(/"Env":\["PATH=([^"]+)"\]/)?.[1];
    expect(imagePath).toBe('/opt/imdswatch/node/bin:/usr/sbin:/usr/bin:/bin');
    expect(buildOci).toContain('"$r/usr/lib/imdswatch/xtables-legacy/$t$s"');
    expect(yamlText).toContain(`value: "/usr/lib/imdswatch/xtables-legacy:${imagePath}"`);
    expect(readFileSync(join(REPO, 'deploy/README.md'), 'utf8')).toContain(`PATH=/usr/lib/imdswatch/xtables-legacy:${imagePath}`);
  });

  it('the ECS daemon task runs the daemon with its gate and the four capabilities', () => {
    const t = JSON.parse(readFileSync(join(REPO, 'deploy/ecs/imdswatch-daemon-task.json'), 'utf8'));
    const [c] = t.containerDefinitions;
    expect(c.command[0]).toBe('daemon');
    expect(c.command).not.toContain('--no-gate');
    expect(c.command.slice(c.command.indexOf('--gate-budget'), c.command.indexOf('--gate-budget') + 2)).toEqual(['--gate-budget', '200']);
    expect(c.linuxParameters.capabilities).toEqual({ drop: ['ALL'], add: FOUR });
  });
});
