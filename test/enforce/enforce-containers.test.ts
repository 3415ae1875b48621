import { existsSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { labAvailable } from '../support/lab/netns.js';
import { run, startDaemon, type Daemon, type RunResult } from '../support/lab/proc.js';
import { CI, CLI, createContainerHost, missingTools, type ContainerHost } from '../containers/host.js';
import { startDocker, type DockerRuntime } from '../containers/docker.js';
import { PODMAN_RUN_FLAGS, startPodman, type PodmanRuntime } from '../containers/podman.js';
import { TABLE_PREFIX } from '../../src/enforce/owned-table.js';

/**
 * `imdswatch enforce --container NAME` against a real Docker and a real Podman container
 * (runtimes started by the test in the lab's host namespace, as test/containers does).
 * imdswatch finds the container through the runtime's own CLI (DOCKER_HOST; for Podman the
 * CONTAINERS_CONF / CONTAINERS_STORAGE_CONF that point at the test's storage) and enforces
 * from inside the container's network namespace. `docker exec`/`podman exec` processes join
 * the container's cgroup, so they are the workload.
 */
const missing = missingTools(['dockerd', 'docker', 'containerd', 'runc', 'podman', 'conmon', 'nsenter', 'nft', 'unshare', '/usr/lib/cni/bridge']);
const available = labAvailable() && missing.length === 0;
const IMDS = 'http://169.254.169.254/latest';
const V1 = `curl -s -m 5 -o /dev/null -w %{http_code} ${IMDS}/meta-data/instance-id`;
const V2 = `t=$(curl -s -m 5 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' ${IMDS}/api/token) && curl -s -m 5 -w ' %{http_code}' -H "X-aws-ec2-metadata-token: $t" ${IMDS}/meta-data/instance-id`;

describe.skipIf(!CI && !available)('imdswatch enforce --container (real Docker and Podman)', () => {
  let host: ContainerHost;
  let docker: DockerRuntime;
  let podman: PodmanRuntime;
  const dir = mkdtempSync(join(tmpdir(), 'iwenf-ctr-'));
  const daemons: Daemon[] = [];
  let env: NodeJS.ProcessEnv = {};
  const parentsBefore = runtimeParents();

  beforeAll(async () => {
    expect(missing, `tools missing (run .ci/install-deps): ${missing.join(', ')}`).toEqual([]);
    host = await createContainerHost('iwenfd');
    docker = await startDocker(host);
    podman = await startPodman(host);
    const runDir = `/run/${host.id}-podman`;
    writeFileSync(join(dir, 'storage.conf'), `[storage]\ndriver = "overlay"\ngraphroot = "${podman.root}/storage"\nrunroot = "${runDir}/runroot"\n`);
    writeFileSync(join(dir, 'containers.conf'), `[engine]\ntmp_dir = "${runDir}/tmp"\ncgroup_manager = "cgroupfs"\nruntime = "runc"\nevents_logger = "file"\n[network]\nnetwork_config_dir = "${runDir}/cni"\n`);
    env = { ...process.env, DOCKER_HOST: `unix:///run/${host.id}-docker/docker.sock`, CONTAINERS_STORAGE_CONF: join(dir, 'storage.conf'), CONTAINERS_CONF: join(dir, 'containers.conf') };
    for (const [cli, flags] of [[docker.cli, []], [podman.cli, PODMAN_RUN_FLAGS]] as const) {
      const image = cli === docker.cli ? docker.image : podman.image;
      const r = await cli(['run', '-d', '--name', 'enf-web', ...flags, image, 'sleep', '600']);
      expect(r.code, r.stderr).toBe(0);
    }
  }, 600_000);
  afterEach(async () => {
    for (const d of daemons.splice(0)) await d.stop('SIGTERM').catch(() => undefined);
  });
  afterAll(async () => {
    await host?.teardown();
    rmSync(dir, { recursive: true, force: true });
    removeRuntimeParents(parentsBefore);
  }, 180_000);

  const tablesOf = async (pid: number): Promise<string[]> =>
    (await run(['nsenter', `--net=/proc/${pid}/ns/net`, 'nft', 'list', 'tables'])).stdout.split('\n').filter((l) => l.includes(TABLE_PREFIX));

  for (const runtime of ['docker', 'podman'] as const) {
    it(`${runtime}: the container's token-less GET gets 401, its token calls pass, and a stop gives it IMDS back`, async () => {
      const cli = runtime === 'docker' ? docker.cli : podman.cli;
      const inCtr = (script: string): Promise<RunResult> => cli(['exec', 'enf-web', 'sh', '-c', script]);
      const pid = Number((await cli(['inspect', '-f', '{{.State.Pid}}', 'enf-web'])).stdout.trim());
      const other = runtime === 'docker' ? podman.cli : docker.cli;
      expect((await inCtr(V1)).stdout).toBe('200');
      const d = await startDaemon(host.enter([process.execPath, CLI, 'enforce', '--container', 'enf-web']), /"type":"enforce-ready"/, { timeoutMs: 60_000, env: runtime === 'docker' ? { ...env, PATH: process.env.PATH } : { ...env, DOCKER_HOST: 'unix:///nonexistent' } });
      daemons.push(d);
      expect(await tablesOf(pid)).toHaveLength(1);
      expect((await inCtr(V1)).stdout).toBe('401');
      expect((await inCtr(V2)).stdout).toMatch(/^i-\S+ 200$/);
      // the other runtime's container of the same name is another workload: untouched
      expect((await other(['exec', 'enf-web', 'sh', '-c', V1])).stdout).toBe('200');
      await d.stop('SIGTERM');
      expect(d.child.exitCode).toBe(0);
      const evs = d.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(evs.filter((e) => e.type === 'enforce')).toEqual([expect.objectContaining({ verdict: 'rejected', workload: 'container:enf-web', exe: '/usr/bin/curl' })]);
      expect(await tablesOf(pid)).toEqual([]);
      expect((await inCtr(V1)).stdout).toBe('200');
    }, 180_000);
  }
});

/**
 * The parent cgroups runc makes for the containers (`docker`, `libpod_parent` with its
 * `conmon`) in every hierarchy: those that were not there before the test are removed
 * when empty (the runtimes leave them behind).
 */
function runtimeParents(): Set<string> {
  const out = new Set<string>();
  for (const h of readdirSync('/sys/fs/cgroup')) {
    for (const name of ['docker', 'libpod_parent/conmon', 'libpod_parent']) {
      const p = join('/sys/fs/cgroup', h, name);
      if (existsSync(p)) out.add(p);
    }
  }
  return out;
}

function removeRuntimeParents(before: Set<string>): void {
  for (const p of runtimeParents()) {
    if (before.has(p)) continue;
    try {
      if (readFileSync(join(p, 'cgroup.procs'), 'utf8').trim() === '') rmdirSync(p);
    } catch {
      /* busy or gone: leave it */
    }
  }
}
