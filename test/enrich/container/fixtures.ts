import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * Realistic (abridged) runtime metadata, shaped like the files Docker 24, containerd 1.7 (CRI
 * and nerdctl), CRI-O 1.28 and Podman 4 write. Values that must never leave the resolver
 * (environment, a service-account token) carry the SECRET marker.
 */
export const SECRET = 'AKIAFAKESECRETDONOTLEAK';

export const IDS = {
  docker: 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90',
  dockershim: 'b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1',
  cri: 'f45298cd1f2e3d4c5b6a79881726354453627181909a8b7c6d5e4f3a2b1c0d9e',
  nerdctl: 'c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2',
  crio: 'd4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3',
  podman: 'e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4',
  logOnly: '0718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6',
  nothing: '18293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f607',
};
export const UIDS = {
  cri: 'dd1bf9d1-241d-47f5-8e25-12de83135812',
  crio: '5f0c1b2a-3d4e-4f50-8a6b-7c8d9e0f1a2b',
  dockershim: '74ba62da-1a3d-11e7-bb11-080027cb0e22',
  podOnly: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
  staticPod: '33d556edd3ae8ef21980288cef77ae8b',
  logOnly: '9a8b7c6d-5e4f-4a3b-8c1d-0e9f8a7b6c5d',
};

export function dockerConfig(o: { id: string; name: string; image: string; labels?: Record<string, string> }): string {
  return JSON.stringify({
    StreamConfig: {},
    State: { Running: true, Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: 4242, ExitCode: 0, StartedAt: '2024-05-01T10:00:00.123456789Z' },
    ID: o.id,
    Created: '2024-05-01T09:59:59.5Z',
    Managed: false,
    Path: 'python3',
    Args: ['app.py'],
    Config: {
      Hostname: o.id.slice(0, 12),
      Domainname: '',
      User: '',
      Env: [`AWS_SECRET_ACCESS_KEY=${SECRET}`, 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      Cmd: ['python3', 'app.py'],
      Image: o.image,
      WorkingDir: '/app',
      Entrypoint: null,
      Labels: o.labels ?? {},
    },
    Image: 'sha256:5d0da3dc976460b72c77d94c8a1ad043720b0416bfc16c52c45d4847e53fadb6',
    NetworkSettings: { Bridge: '', Networks: { bridge: { IPAddress: '172.17.0.2' } } },
    LogPath: `/var/lib/docker/containers/${o.id}/${o.id}-json.log`,
    Name: `/${o.name}`,
    Driver: 'overlay2',
    OS: 'linux',
    RestartCount: 0,
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: 'docker-default',
    HostnamePath: `/var/lib/docker/containers/${o.id}/hostname`,
    HostsPath: `/var/lib/docker/containers/${o.id}/hosts`,
  });
}

export function ociSpec(annotations: Record<string, string>): string {
  return JSON.stringify(
    {
      ociVersion: '1.1.0',
      process: {
        user: { uid: 0, gid: 0 },
        args: ['/usr/local/bin/app'],
        env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', `DB_PASSWORD=${SECRET}`],
        cwd: '/',
        capabilities: { bounding: ['CAP_CHOWN', 'CAP_NET_BIND_SERVICE'] },
      },
      root: { path: 'rootfs' },
      hostname: 'app',
      mounts: [{ destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] }],
      annotations,
      linux: { cgroupsPath: 'kubepods-besteffort-pod.slice:cri-containerd:x', namespaces: [{ type: 'pid' }, { type: 'network', path: '/var/run/netns/cni-1' }] },
    },
    null,
    2,
  );
}

export interface FixtureTree {
  root: string;
  write(rel: string, text: string): string;
  link(rel: string, target: string): void;
  mkdir(rel: string): void;
}

export function fixtureTree(tag: string): FixtureTree {
  const root = mkdtempSync(join(tmpdir(), `imw-ctr-${tag}-${process.pid}-`));
  const write = (rel: string, text: string) => {
    const p = join(root, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, text);
    return p;
  };
  const link = (rel: string, target: string) => {
    const p = join(root, rel);
    mkdirSync(dirname(p), { recursive: true });
    symlinkSync(target, p);
  };
  const mkdir = (rel: string) => mkdirSync(join(root, rel), { recursive: true });
  return { root, write, link, mkdir };
}

/** one host with every runtime at once (a node can have Docker and containerd side by side) */
export function populate(t: FixtureTree): void {
  // Docker, plain container
  t.write(`var/lib/docker/containers/${IDS.docker}/config.v2.json`, dockerConfig({ id: IDS.docker, name: 'billing-worker', image: 'registry.example.com/billing:2.3.1' }));
  t.write(`var/lib/docker/containers/${IDS.docker}/hostconfig.json`, '{}');
  // Docker via dockershim / cri-dockerd: pod identity in labels
  t.write(
    `var/lib/docker/containers/${IDS.dockershim}/config.v2.json`,
    dockerConfig({
      id: IDS.dockershim,
      name: `k8s_exporter_metrics-7d9f_monitoring_${UIDS.dockershim}_0`,
      image: 'quay.io/prometheus/node-exporter:v1.7.0',
      labels: {
        'io.kubernetes.container.name': 'exporter',
        'io.kubernetes.pod.name': 'metrics-7d9f',
        'io.kubernetes.pod.namespace': 'monitoring',
        'io.kubernetes.pod.uid': UIDS.dockershim,
        'io.kubernetes.docker.type': 'container',
      },
    }),
  );
  // containerd CRI (EKS): k8s.io namespace
  const task = 'run/containerd/io.containerd.runtime.v2.task';
  t.write(`${task}/moby/${IDS.docker}/config.json`, ociSpec({}));
  t.write(
    `${task}/k8s.io/${IDS.cri}/config.json`,
    ociSpec({
      'io.kubernetes.cri.container-name': 'aws-node',
      'io.kubernetes.cri.container-type': 'container',
      'io.kubernetes.cri.image-name': '602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:v1.18.1',
      'io.kubernetes.cri.sandbox-id': '9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0',
      'io.kubernetes.cri.sandbox-name': 'aws-node-x7k2p',
      'io.kubernetes.cri.sandbox-namespace': 'kube-system',
      'io.kubernetes.cri.sandbox-uid': UIDS.cri,
    }),
  );
  t.write(`${task}/k8s.io/${IDS.cri}/init.pid`, '4242');
  // nerdctl: default namespace, labels passed as annotations
  t.write(`${task}/default/${IDS.nerdctl}/config.json`, ociSpec({ 'nerdctl/name': 'legacy-cron', 'nerdctl/namespace': 'default', 'nerdctl/hostname': 'c3d4e5f60718' }));
  // CRI-O
  t.write(
    `var/lib/containers/storage/overlay-containers/${IDS.crio}/userdata/config.json`,
    ociSpec({
      'io.container.manager': 'cri-o',
      'io.kubernetes.container.name': 'fluentd',
      'io.kubernetes.cri-o.ContainerType': 'container',
      'io.kubernetes.cri-o.ImageName': 'docker.io/fluent/fluentd:v1.16',
      'io.kubernetes.cri-o.ContainerName': `k8s_fluentd_fluentd-abc12_logging_${UIDS.crio}_0`,
      'io.kubernetes.pod.name': 'fluentd-abc12',
      'io.kubernetes.pod.namespace': 'logging',
      'io.kubernetes.pod.uid': UIDS.crio,
    }),
  );
  // Podman: annotations without a name; the name is in containers.json
  t.write(`var/lib/containers/storage/overlay-containers/${IDS.podman}/userdata/config.json`, ociSpec({ 'io.container.manager': 'libpod', 'org.opencontainers.image.stopSignal': '15' }));
  t.write(
    'var/lib/containers/storage/overlay-containers/containers.json',
    JSON.stringify([
      { id: IDS.crio, names: [`k8s_fluentd_fluentd-abc12_logging_${UIDS.crio}_0`], image: 'abc', layer: 'def', metadata: '{}', created: '2024-05-01T10:00:00Z', flags: {} },
      { id: IDS.podman, names: ['nightly-backup'], image: 'abc', layer: 'ghi', metadata: '{"image-name":"docker.io/library/backup:1"}', created: '2024-05-01T10:00:00Z', flags: { MountLabel: '' } },
    ]),
  );
  // kubelet log directories (entry names only are read) and a service-account token that must never be opened
  for (const [ns, pod, uid] of [
    ['kube-system', 'aws-node-x7k2p', UIDS.cri],
    ['logging', 'fluentd-abc12', UIDS.crio],
    ['batch', 'report-28571234-qwert', UIDS.podOnly],
    ['kube-system', 'kube-apiserver-ip-10-0-1-5.ec2.internal', UIDS.staticPod],
    ['payments', 'ledger-0', UIDS.logOnly],
  ]) {
    t.write(`var/log/pods/${ns}_${pod}_${uid}/app/0.log`, '');
    t.write(`var/lib/kubelet/pods/${uid}/volumes/kubernetes.io~projected/kube-api-access-2x9qz/token`, `eyJhbGciOi.${SECRET}.sig`);
    t.write(`var/lib/kubelet/pods/${uid}/etc-hosts`, `# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n10.0.1.23\t${pod}\n`);
  }
  t.link(`var/log/containers/ledger-0_payments_ledger-${IDS.logOnly}.log`, `/var/log/pods/payments_ledger-0_${UIDS.logOnly}/ledger/0.log`);
  t.link(`var/log/containers/aws-node-x7k2p_kube-system_aws-node-${IDS.cri}.log`, `/var/log/pods/kube-system_aws-node-x7k2p_${UIDS.cri}/aws-node/0.log`);
}
