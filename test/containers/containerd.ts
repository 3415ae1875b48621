import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureImageTar } from './image.js';
import { leftoversGuard, startProcess, unmountUnder, type Bind, type ContainerHost } from './host.js';
import { waitFor } from '../helpers/wait.js';
import { run, type RunResult } from '../support/lab/proc.js';

/**
 * containerd started by the test in the host namespace (its own root, state, socket; the CRI
 * plugin disabled — the pods' CRI metadata is set the way containerd's CRI plugin sets it, as
 * OCI annotations, through `ctr run --annotation`). Containers run from an unpacked rootfs
 * (`ctr run --rootfs`: no image store, no registry) and join a network namespace given by the
 * test (the lab's routed "container" namespace, as a routed CNI such as the VPC CNI does).
 */
export interface ContainerdRuntime {
  ctr(ns: string, args: string[], timeoutMs?: number): Promise<RunResult>;
  /** imdswatch reads the task specs at /run/containerd/io.containerd.runtime.v2.task */
  bind: Bind;
  rootfs: string;
  stop(): Promise<void>;
}

export function containerdPaths(host: ContainerHost): { root: string; state: string; bind: Bind } {
  const root = `/var/lib/${host.id}-containerd`;
  const state = `/run/${host.id}-containerd`;
  return { root, state, bind: { from: join(state, 'state', 'io.containerd.runtime.v2.task'), to: '/run/containerd/io.containerd.runtime.v2.task' } };
}

export async function startContainerd(host: ContainerHost): Promise<ContainerdRuntime> {
  const { root, state, bind } = containerdPaths(host);
  mkdirSync(root, { recursive: true });
  mkdirSync(state, { recursive: true });
  const leftovers = leftoversGuard(['/run/containerd']);
  const sock = join(state, 'containerd.sock');
  const config = join(state, 'config.toml');
  writeFileSync(
    config,
    [
      'version = 2', `root = "${root}/root"`, `state = "${state}/state"`, 'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]', `  address = "${sock}"`, '[ttrpc]', `  address = "${sock}.ttrpc"`, '[debug]', '  address = ""', '[metrics]', '  address = ""',
    ].join('\n') + '\n',
  );
  const d = startProcess(host.enter(['containerd', '--config', config, '--log-level', 'warn']));
  const ctr = (ns: string, args: string[], timeoutMs = 60_000): Promise<RunResult> => run(['ctr', '--address', sock, '-n', ns, ...args], { timeoutMs });
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (!d.exited()) {
      for (const ns of (await ctr('default', ['namespaces', 'ls', '-q'], 10_000).catch(() => null))?.stdout.split('\n').filter(Boolean) ?? []) {
        const tasks = (await ctr(ns, ['task', 'ls', '-q'], 10_000)).stdout.split('\n').filter(Boolean);
        for (const t of tasks) await ctr(ns, ['task', 'kill', '-s', 'KILL', t], 10_000);
        if (tasks.length) await new Promise((r) => setTimeout(r, 500));
        for (const t of tasks) await ctr(ns, ['task', 'rm', '-f', t], 20_000);
        for (const c of (await ctr(ns, ['containers', 'ls', '-q'], 10_000)).stdout.split('\n').filter(Boolean)) await ctr(ns, ['containers', 'rm', c], 10_000);
      }
    }
    await d.stop('SIGTERM', 20_000);
    unmountUnder([root, state]);
    rmSync(root, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
    leftovers();
  };
  host.onTeardown(stop);
  await waitFor(() => existsSync(sock) || d.exited(), 30_000, 'containerd to listen');
  if (d.exited()) throw new Error(`containerd exited: ${d.err().slice(-800)}`);
  const rootfs = join(root, 'rootfs');
  mkdirSync(rootfs, { recursive: true });
  const x = await run(['tar', '-C', rootfs, '-x', '-f', ensureImageTar()], { timeoutMs: 120_000 });
  if (x.code !== 0) throw new Error(`unpacking the rootfs failed: ${x.stderr}`);
  return { ctr, bind, rootfs, stop };
}

/** `ctr run -d --rootfs` waiting for /tmp/go-<id>, then execing `script`; returns the task's host pid */
export async function ctrRunWaiting(
  rt: ContainerdRuntime,
  ns: string,
  id: string,
  netnsPath: string,
  script: string,
  extra: string[] = [],
): Promise<{ pid: number; go(): Promise<void> }> {
  const goFile = `/tmp/go-${id.slice(0, 12)}`;
  const r = await rt.ctr(ns, ['run', '-d', '--rootfs', '--with-ns', `network:${netnsPath}`, ...extra, rt.rootfs, id, '/bin/sh', '-c', `while [ ! -e ${goFile} ]; do sleep 0.05; done; ${script}`]);
  if (r.code !== 0) throw new Error(`ctr run ${id} failed: ${r.stderr}`);
  const ls = (await rt.ctr(ns, ['task', 'ls'])).stdout;
  const pid = Number(ls.split('\n').find((l) => l.startsWith(`${id} `))?.trim().split(/\s+/)[1]);
  return {
    pid,
    go: async () => {
      const e = await rt.ctr(ns, ['task', 'exec', '--exec-id', `go-${process.pid}`, id, '/bin/touch', goFile]);
      if (e.code !== 0) throw new Error(`ctr task exec failed: ${e.stderr}`);
    },
  };
}
