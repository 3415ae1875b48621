import { execFileSync } from 'node:child_process';
import { chmodSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContainerResolver } from '../../../src/enrich/container/container-resolver.js';
import { nodeMetadataFs, type MetadataFs } from '../../../src/enrich/container/metadata-fs.js';
import type { ContainerInfo } from '../../../src/imds/event.js';
import { containerLabel } from '../../../src/sinks/capture-summary.js';
import type { ImdsEvent } from '../../../src/imds/event.js';
import { IDS, SECRET, UIDS, dockerConfig, fixtureTree, populate, type FixtureTree } from './fixtures.js';

/** records every path the resolver opens or lists */
function recordingFs(): MetadataFs & { opened: string[]; listed: string[] } {
  const opened: string[] = [];
  const listed: string[] = [];
  return {
    opened,
    listed,
    readSmallFile(path, max) {
      opened.push(path);
      return nodeMetadataFs.readSmallFile(path, max);
    },
    listDir(path) {
      listed.push(path);
      return nodeMetadataFs.listDir(path);
    },
  };
}

function label(c: ContainerInfo): string | null {
  return containerLabel({ process: { container: c } } as unknown as ImdsEvent);
}

let t: FixtureTree;
beforeAll(() => {
  t = fixtureTree('resolver');
  populate(t);
});
afterAll(() => rmSync(t.root, { recursive: true, force: true }));

describe('ContainerResolver over a fixture host', () => {
  const rows: Array<{ what: string; in: ContainerInfo; want: Partial<ContainerInfo>; label: string }> = [
    {
      what: 'docker (systemd driver scope)',
      in: { runtime: 'docker', id: IDS.docker },
      want: { runtime: 'docker', name: 'billing-worker', image: 'registry.example.com/billing:2.3.1' },
      label: 'billing-worker',
    },
    {
      what: 'dockershim pod: labels give ns/pod/container',
      in: { runtime: 'docker', id: IDS.dockershim, pod: { uid: UIDS.dockershim } },
      want: { name: 'exporter', image: 'quay.io/prometheus/node-exporter:v1.7.0', pod: { uid: UIDS.dockershim, namespace: 'monitoring', name: 'metrics-7d9f' } },
      label: 'monitoring/metrics-7d9f/exporter',
    },
    {
      what: 'containerd CRI (EKS) in the k8s.io namespace',
      in: { runtime: 'containerd', id: IDS.cri, pod: { uid: UIDS.cri } },
      want: {
        runtime: 'containerd',
        name: 'aws-node',
        image: '602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:v1.18.1',
        pod: { uid: UIDS.cri, namespace: 'kube-system', name: 'aws-node-x7k2p' },
      },
      label: 'kube-system/aws-node-x7k2p/aws-node',
    },
    {
      what: 'cgroupfs-driver pod (runtime unknown from the cgroup): runtime learned from containerd',
      in: { runtime: 'kubernetes', id: IDS.cri, pod: { uid: UIDS.cri } },
      want: { runtime: 'containerd', name: 'aws-node', pod: { uid: UIDS.cri, namespace: 'kube-system', name: 'aws-node-x7k2p' } },
      label: 'kube-system/aws-node-x7k2p/aws-node',
    },
    {
      what: 'nerdctl in the default namespace',
      in: { runtime: 'unknown', id: IDS.nerdctl },
      want: { runtime: 'containerd', name: 'legacy-cron' },
      label: 'legacy-cron',
    },
    {
      what: 'CRI-O annotations',
      in: { runtime: 'cri-o', id: IDS.crio, pod: { uid: UIDS.crio } },
      want: { name: 'fluentd', image: 'docker.io/fluent/fluentd:v1.16', pod: { uid: UIDS.crio, namespace: 'logging', name: 'fluentd-abc12' } },
      label: 'logging/fluentd-abc12/fluentd',
    },
    {
      what: 'podman: name from containers.json',
      in: { runtime: 'podman', id: IDS.podman },
      want: { runtime: 'podman', name: 'nightly-backup' },
      label: 'nightly-backup',
    },
    {
      what: 'no runtime metadata: kubelet container log link names the container',
      in: { runtime: 'kubernetes', id: IDS.logOnly, pod: { uid: UIDS.logOnly } },
      want: { name: 'ledger', pod: { uid: UIDS.logOnly, namespace: 'payments', name: 'ledger-0' } },
      label: 'payments/ledger-0/ledger',
    },
    {
      what: 'pod uid only: /var/log/pods gives namespace and name',
      in: { runtime: 'kubernetes', id: null, pod: { uid: UIDS.podOnly } },
      want: { pod: { uid: UIDS.podOnly, namespace: 'batch', name: 'report-28571234-qwert' } },
      label: 'batch/report-28571234-qwert',
    },
    {
      what: 'static pod (32-hex config-hash uid)',
      in: { runtime: 'kubernetes', id: null, pod: { uid: UIDS.staticPod } },
      want: { pod: { uid: UIDS.staticPod, namespace: 'kube-system', name: 'kube-apiserver-ip-10-0-1-5.ec2.internal' } },
      label: 'kube-system/kube-apiserver-ip-10-0-1-5.ec2.internal',
    },
  ];

  it.each(rows)('$what', (row) => {
    const r = new ContainerResolver({ root: t.root });
    const out = r.resolve(row.in);
    expect(out).toMatchObject(row.want);
    expect(out.id).toBe(row.in.id);
    expect(label(out)).toBe(row.label);
    expect(JSON.stringify(out)).not.toContain(SECRET);
  });

  it('an unknown id stays as it was, and is labelled by id', () => {
    const r = new ContainerResolver({ root: t.root });
    const c: ContainerInfo = { runtime: 'docker', id: IDS.nothing };
    const out = r.resolve(c);
    expect(out).toEqual(c);
    expect(label(out)).toBe(`docker:${IDS.nothing.slice(0, 12)}`);
    expect(r.stats()).toMatchObject({ unresolved: 1, resolved: 0, malformed: 0 });
  });

  it('ids that are not 64 hex and uids that are not uids are never used in a path', () => {
    const fs = recordingFs();
    const r = new ContainerResolver({ root: t.root, fs });
    const evil: ContainerInfo = { runtime: 'docker', id: '../../../../etc/shadow', pod: { uid: '../../kubelet/pods' } };
    expect(r.resolve(evil)).toEqual(evil);
    expect(fs.opened).toEqual([]);
    expect(fs.listed).toEqual([]);
  });
});

describe('what the resolver reads', () => {
  it('opens only runtime metadata files, lists only metadata and log directories, never kubelet pod files', () => {
    const fs = recordingFs();
    const r = new ContainerResolver({ root: t.root, fs });
    const inputs: ContainerInfo[] = [
      { runtime: 'docker', id: IDS.docker },
      { runtime: 'containerd', id: IDS.cri, pod: { uid: UIDS.cri } },
      { runtime: 'cri-o', id: IDS.crio, pod: { uid: UIDS.crio } },
      { runtime: 'podman', id: IDS.podman },
      { runtime: 'kubernetes', id: IDS.logOnly, pod: { uid: UIDS.logOnly } },
      { runtime: 'kubernetes', id: null, pod: { uid: UIDS.podOnly } },
      { runtime: 'unknown', id: IDS.nothing, pod: { uid: UIDS.staticPod } },
    ];
    for (const c of inputs) r.resolve(c);
    const rel = (p: string) => p.slice(t.root.length);
    const allowedFiles = [
      /^\/var\/lib\/docker\/containers\/[0-9a-f]{64}\/config\.v2\.json$/,
      /^\/run\/containerd\/io\.containerd\.runtime\.v2\.task\/[^/]+\/[0-9a-f]{64}\/config\.json$/,
      /^\/(var\/lib|run)\/containers\/storage\/overlay-containers\/[0-9a-f]{64}\/userdata\/config\.json$/,
      /^\/(var\/lib|run)\/containers\/storage\/overlay-containers\/containers\.json$/,
    ];
    const allowedDirs = [
      /^\/run\/containerd\/io\.containerd\.runtime\.v2\.task$/,
      /^\/(var\/lib|run)\/containers\/storage\/overlay-containers\/[0-9a-f]{64}$/,
      /^\/var\/log\/pods$/,
      /^\/var\/log\/containers$/,
    ];
    expect(fs.opened.length).toBeGreaterThan(0);
    for (const p of fs.opened) expect(allowedFiles.some((re) => re.test(rel(p))), rel(p)).toBe(true);
    for (const p of fs.listed) expect(allowedDirs.some((re) => re.test(rel(p))), rel(p)).toBe(true);
    const touched = [...fs.opened, ...fs.listed].join('\n');
    expect(touched).not.toContain('kubelet');
    expect(touched).not.toContain('token');
    expect(touched).not.toContain('etc-hosts');
  });

  it('caches answers: a resolved container costs no second read', () => {
    const fs = recordingFs();
    const r = new ContainerResolver({ root: t.root, fs });
    const c: ContainerInfo = { runtime: 'containerd', id: IDS.cri, pod: { uid: UIDS.cri } };
    const first = r.resolve(c);
    const reads = fs.opened.length + fs.listed.length;
    for (let i = 0; i < 50; i++) expect(r.resolve(c)).toEqual(first);
    expect(fs.opened.length + fs.listed.length).toBe(reads);
    expect(r.stats().cacheHits).toBe(50);
  });

  it('caches misses only briefly: a container whose metadata appears later is found after missTtlMs', () => {
    const late = fixtureTree('late');
    try {
      let now = 1_000;
      const fs = recordingFs();
      const r = new ContainerResolver({ root: late.root, fs, now: () => now, missTtlMs: 30_000 });
      const c: ContainerInfo = { runtime: 'docker', id: IDS.docker };
      expect(r.resolve(c).name).toBeUndefined();
      const reads = fs.opened.length;
      late.write(`var/lib/docker/containers/${IDS.docker}/config.v2.json`, dockerConfig({ id: IDS.docker, name: 'late-one', image: 'x:1' }));
      now += 10_000;
      expect(r.resolve(c).name).toBeUndefined(); // still the cached miss
      expect(fs.opened.length).toBe(reads);
      now += 25_000;
      expect(r.resolve(c).name).toBe('late-one');
    } finally {
      rmSync(late.root, { recursive: true, force: true });
    }
  });

  it('the cache is bounded: the least recently used answer goes first', () => {
    const r = new ContainerResolver({ root: t.root, maxEntries: 3 });
    const ids = [IDS.docker, IDS.dockershim, IDS.cri, IDS.nerdctl, IDS.crio];
    for (const id of ids) r.resolve({ runtime: 'unknown', id });
    expect(r.stats().evicted).toBe(2);
    const before = r.stats().cacheHits;
    r.resolve({ runtime: 'unknown', id: IDS.crio });
    expect(r.stats().cacheHits).toBe(before + 1);
    r.resolve({ runtime: 'unknown', id: IDS.docker }); // evicted: read again
    expect(r.stats().cacheHits).toBe(before + 1);
  });
});

describe('hostile and broken metadata: counted, never thrown', () => {
  let h: FixtureTree;
  const id = (n: number) => n.toString(16).padStart(64, 'a');
  beforeAll(() => {
    h = fixtureTree('hostile');
    const d = (n: number) => `var/lib/docker/containers/${id(n)}/config.v2.json`;
    h.write(d(1), '{"Name": "/half'); // truncated
    h.write(d(2), 'null');
    h.write(d(3), '[1,2,3]');
    h.write(d(4), JSON.stringify({ Name: 42, Config: 'nope' }));
    h.write(d(5), `{"Name":"/big","pad":"${'x'.repeat(2 * 1024 * 1024)}"}`); // over the 1 MiB bound
    h.link(d(6), '/etc/shadow'); // a symlink is refused (O_NOFOLLOW)
    h.mkdir(d(7)); // a directory where the file should be
    h.write(d(8), JSON.stringify({ Name: '/evil\u0000name\n\u001b[31m', Config: { Image: 'x'.repeat(10_000) } }));
    h.write(d(9), '\u0000\u0001\u0002binary garbage\xff\xfe');
    const unreadable = h.write(d(10), dockerConfig({ id: id(10), name: 'secret-name', image: 'x' }));
    chmodSync(unreadable, 0o000);
    h.write(`run/containerd/io.containerd.runtime.v2.task/k8s.io/${id(11)}/config.json`, JSON.stringify({ annotations: ['not', 'a', 'map'] }));
    h.write('var/lib/containers/storage/overlay-containers/containers.json', '{"not": "a list"}');
    h.mkdir(`var/lib/containers/storage/overlay-containers/${id(12)}/userdata`);
    // a deeply nested document: JSON.parse handles it without a stack overflow at this size
    h.write(`var/lib/docker/containers/${id(13)}/config.v2.json`, '['.repeat(100_000) + ']'.repeat(100_000));
    // a FIFO would block a plain read forever
    h.mkdir(`var/lib/docker/containers/${id(14)}`);
    execFileSync('mkfifo', [join(h.root, d(14))]);
  });
  afterAll(() => rmSync(h.root, { recursive: true, force: true }));

  it('every broken case resolves to the input unchanged (or to a cleaned, bounded name) without throwing', () => {
    const r = new ContainerResolver({ root: h.root });
    for (const n of [1, 2, 3, 4, 5, 6, 7, 9, 11, 12, 13, 14]) {
      const c: ContainerInfo = { runtime: 'unknown', id: id(n) };
      expect(() => r.resolve(c)).not.toThrow();
      expect(r.resolve(c)).toEqual(c);
    }
    const evil = r.resolve({ runtime: 'docker', id: id(8) });
    expect(evil.name).toBe('evilname[31m');
    expect(evil.image!.length).toBeLessThanOrEqual(253);
    const s = r.stats();
    expect(s.tooLarge).toBe(1);
    expect(s.notAFile).toBe(3);
    expect(s.malformed).toBeGreaterThanOrEqual(5);
  });

  it('an unreadable file is counted (when not root) and gives no name', () => {
    const r = new ContainerResolver({ root: h.root });
    const out = r.resolve({ runtime: 'docker', id: id(10) });
    if (process.getuid?.() === 0) expect(out.name).toBe('secret-name'); // root reads mode 000 files
    else {
      expect(out.name).toBeUndefined();
      expect(r.stats().unreadable).toBe(1);
    }
  });

  it('a missing root is a miss, not an error', () => {
    const r = new ContainerResolver({ root: join(h.root, 'does-not-exist') });
    const c: ContainerInfo = { runtime: 'containerd', id: IDS.cri, pod: { uid: UIDS.cri } };
    expect(r.resolve(c)).toEqual(c);
    expect(r.stats()).toMatchObject({ unreadable: 0, malformed: 0, unresolved: 1 });
  });
});
