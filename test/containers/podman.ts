import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensureImageTar, IMAGE_NAME } from './image.js';
import { leftoversGuard, unmountUnder, type Bind, type ContainerHost } from './host.js';
import { run, type RunResult } from '../support/lab/proc.js';

/**
 * Rootful Podman in the host namespace with storage of its own (--root, --runroot, --tmpdir,
 * CNI config dir under the test's paths), cgroupfs manager (no systemd here: the container
 * lands in /libpod_parent/libpod-<id>), `--runtime runc` (crun 1.8.1 rejects this hybrid
 * cgroup tree) and explicit ulimits (the test has no CAP_SYS_RESOURCE to raise them).
 * Teardown: containers removed, mounts under its roots unmounted, roots deleted.
 */
export interface PodmanRuntime {
  root: string;
  cli(args: string[], timeoutMs?: number): Promise<RunResult>;
  /** imdswatch reads containers/storage at /var/lib/containers/storage */
  bind: Bind;
  image: string;
  stop(): Promise<void>;
}

export const PODMAN_RUN_FLAGS = ['--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=32768:32768'];

export async function startPodman(host: ContainerHost): Promise<PodmanRuntime> {
  const root = `/var/lib/${host.id}-podman`;
  const runDir = `/run/${host.id}-podman`;
  const leftovers = leftoversGuard(['/var/lib/cni', '/var/lib/containers']);
  mkdirSync(root, { recursive: true });
  mkdirSync(runDir, { recursive: true });
  const base = [
    'podman', '--root', join(root, 'storage'), '--runroot', join(runDir, 'runroot'), '--tmpdir', join(runDir, 'tmp'),
    '--cgroup-manager', 'cgroupfs', '--runtime', 'runc', '--events-backend', 'file', '--network-config-dir', join(runDir, 'cni'), '--storage-driver', 'overlay',
  ];
  const cli = (args: string[], timeoutMs = 60_000): Promise<RunResult> => run(host.enter([...base, ...args]), { timeoutMs });
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await cli(['rm', '-a', '-f', '-t', '0'], 60_000).catch(() => undefined);
    unmountUnder([root, runDir]);
    rmSync(root, { recursive: true, force: true });
    rmSync(runDir, { recursive: true, force: true });
    leftovers();
  };
  host.onTeardown(stop);
  const imp = await cli(['import', ensureImageTar(), IMAGE_NAME], 180_000);
  if (imp.code !== 0) throw new Error(`podman import failed: ${imp.stderr}`);
  return { root, cli, bind: { from: join(root, 'storage'), to: '/var/lib/containers/storage' }, image: `localhost/${IMAGE_NAME}`, stop };
}

