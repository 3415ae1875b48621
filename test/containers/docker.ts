import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensureImageTar, IMAGE_NAME } from './image.js';
import { DOCKER, leftoversGuard, startProcess, unmountUnder, type Bind, type ContainerHost } from './host.js';
import { waitFor } from '../helpers/wait.js';
import { run, type RunResult } from '../support/lab/proc.js';

/**
 * dockerd started by the test inside the host namespace: its own --data-root, --exec-root,
 * pidfile, socket and containerd namespace; its iptables rules land in that namespace only.
 * Teardown: containers removed, dockerd stopped by pid, every mount left under its roots
 * (overlay, netns bind mounts such as <exec-root>/netns/default) unmounted, roots deleted.
 */
export interface DockerRuntime {
  dataRoot: string;
  /** docker CLI argv against this daemon */
  cli(args: string[], timeoutMs?: number): Promise<RunResult>;
  /** the bind imdswatch needs to find config.v2.json at /var/lib/docker */
  bind: Bind;
  image: string;
  stop(): Promise<void>;
}

export async function startDocker(host: ContainerHost): Promise<DockerRuntime> {
  const runDir = `/run/${host.id}-docker`;
  const dataRoot = `/var/lib/${host.id}-docker`;
  const sock = `unix://${runDir}/docker.sock`;
  mkdirSync(runDir, { recursive: true });
  mkdirSync(dataRoot, { recursive: true });
  const dockerNetnsBefore = existsSync('/run/docker/netns/default');
  const leftovers = leftoversGuard(['/run/docker', '/run/containerd']);
  const d = startProcess(
    host.enter([
      'dockerd', '--data-root', dataRoot, '--exec-root', join(runDir, 'exec'), '--pidfile', join(runDir, 'dockerd.pid'), '-H', sock,
      '--containerd-namespace', `${host.id}-moby`, '--containerd-plugins-namespace', `${host.id}-plugins`, '--log-level', 'warn',
    ]),
  );
  let stopped = false;
  const cli = (args: string[], timeoutMs = 60_000): Promise<RunResult> => run([DOCKER, '-H', sock, ...args], { timeoutMs });
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (!d.exited()) {
      const ids = (await cli(['ps', '-aq'], 20_000).catch(() => null))?.stdout.split('\n').filter(Boolean) ?? [];
      if (ids.length) await cli(['rm', '-f', ...ids], 60_000).catch(() => undefined);
    }
    await d.stop('SIGTERM', 30_000);
    unmountUnder([dataRoot, runDir]);
    if (!dockerNetnsBefore) unmountUnder(['/run/docker/netns/default']);
    rmSync(dataRoot, { recursive: true, force: true });
    rmSync(runDir, { recursive: true, force: true });
    leftovers();
  };
  host.onTeardown(stop);
  await waitFor(() => existsSync(join(runDir, 'docker.sock')) || d.exited(), 60_000, 'dockerd to listen');
  for (let i = 0; i < 100; i++) {
    if ((await cli(['version'], 10_000)).code === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (d.exited()) throw new Error(`dockerd exited: ${d.err().slice(-800)}`);
  const tar = ensureImageTar();
  const imp = await cli(['import', tar, IMAGE_NAME], 180_000);
  if (imp.code !== 0) throw new Error(`docker import failed: ${imp.stderr}`);
  return { dataRoot, cli, bind: { from: dataRoot, to: '/var/lib/docker' }, image: IMAGE_NAME, stop };
}

