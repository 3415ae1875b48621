// The x64 OCI image (npm run release) run by a real container engine (#12): rootful
// Podman inside a lab network namespace (test/containers/host.ts: the lab's client
// namespace plays the node, the IMDS simulator answers at 169.254.169.254 in the lab's
// imds namespace; nothing outside the lab is touched). The image is loaded with
// `podman load`, started as the DaemonSet runs it (host network, host PID, the four
// capabilities, `daemon --no-gate`, the runtime's metadata read-only), next to a
// container that calls IMDSv1 with curl; the image's daemon must report that call.
// The image has no shell: it is only ever run with its own entrypoint.
// Needs root, Podman (.ci/install-deps) and the lab; run under
// flock /tmp/imdswatch-netns.lock (network namespaces, iptables).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labAvailable } from '../support/lab/netns.js';
import { waitFor } from '../helpers/wait.js';
import { createContainerHost, eventsOf, missingTools, runWaiting, type ContainerHost, type EventLine } from '../containers/host.js';
import { PODMAN_RUN_FLAGS, startPodman, type PodmanRuntime } from '../containers/podman.js';
import { isRoot, prerequisites, REPO, VERSION } from './artifacts.js';

const OCI = join(REPO, 'release', `imdswatch-${VERSION}-oci-x64.tar`);
const missing = missingTools(['podman', 'conmon', 'runc', 'nsenter', 'iptables', '/usr/lib/cni/bridge']);
const ready = prerequisites({
  root: isRoot,
  [OCI]: existsSync(OCI),
  'podman, conmon, runc, CNI (.ci/install-deps)': missing.length === 0,
  'network namespaces (iproute2)': labAvailable(),
});
const PATH_V1 = '/latest/meta-data/instance-id';
// a plain IMDSv1 GET, as legacy code sends it
const V1 = `exec curl -s -o /dev/null -m 5 http://169.254.169.254${PATH_V1}`;

describe.skipIf(!ready)('OCI image x64 under Podman, next to an IMDSv1 caller', () => {
  let host: ContainerHost;
  let podman: PodmanRuntime;
  const dir = mkdtempSync(join(tmpdir(), 'iw-oci-podman-'));
  let image = '';
  let daemonId = '';
  let logs = '';
  let caller: { id: string; pid: number };
  let runArgs: string[] = [];
  let inspect: { user: string; cmd: string[]; entrypoint: string[] } = { user: '', cmd: [], entrypoint: [] };
  let capEff = 0n;
  let callerIp = '';
  let shellRun: { code: number | null; err: string } = { code: null, err: '' };

  beforeAll(async () => {
    host = await createContainerHost('iwoci');
    podman = await startPodman(host);
    // the release image, loaded from the file as a user would
    const load = await podman.cli(['load', '-i', OCI], 180_000);
    expect(load.code, load.stderr).toBe(0);
    image = (load.stdout.match(/Loaded image(?:\(s\))?: *(\S+)/)?.[1] ?? '').split(',')[0]!;
    expect(image, load.stdout).not.toBe('');
    const ins = await podman.cli(['image', 'inspect', '-f', '{{json .Config.Entrypoint}}|{{json .Config.Cmd}}|{{.Config.User}}', image]);
    const [ep, cmd, user] = ins.stdout.trim().split('|');
    inspect = { entrypoint: JSON.parse(ep!), cmd: JSON.parse(cmd!), user: user ?? '' };

    // as deploy/kubernetes/daemonset.yaml: host network and PID, exactly the four
    // capabilities, the runtime's metadata read-only; only the metrics port is ours
    const storage = join(podman.root, 'storage', 'overlay-containers');
    runArgs = [
      'run', '-d', '--name', 'imdswatch', '--network', 'host', '--pid', 'host', '--log-driver', 'k8s-file',
      '--cap-drop', 'all', '--cap-add', 'NET_RAW,NET_ADMIN,SYS_PTRACE,DAC_READ_SEARCH',
      '-v', `${storage}:/var/lib/containers/storage/overlay-containers:ro`,
      ...PODMAN_RUN_FLAGS,
      image, 'daemon', '--no-gate', '--metrics', '0',
    ];
    const d = await podman.cli(runArgs, 120_000);
    expect(d.code, d.stderr).toBe(0);
    daemonId = d.stdout.trim().split('\n').pop()!;
    await waitFor(async () => {
      const l = await podman.cli(['logs', daemonId]);
      logs = l.stdout + l.stderr;
      return /capturing on/.test(logs);
    }, 60_000, 'the image\'s daemon to start capturing').catch(async (e) => {
      const st = await podman.cli(['ps', '-a', '--format', '{{.Names}} {{.Status}}']);
      throw new Error(`${(e as Error).message}\n${st.stdout}\n${logs.slice(-2000)}`);
    });

    // the legacy workload: a bridged container calling IMDSv1 as uid 1000
    const w = await runWaiting(podman.cli, 'podman', podman.image, 'legacy-app', '1000:1000', V1, PODMAN_RUN_FLAGS);
    caller = w;
    callerIp = (await podman.cli(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', w.id])).stdout.trim();
    await w.go();
    await waitFor(async () => {
      logs = (await podman.cli(['logs', daemonId])).stdout;
      return eventsOf(logs).length >= 1;
    }, 30_000, 'the image\'s daemon to report the IMDSv1 call').catch(async (e) => {
      const all = await podman.cli(['logs', daemonId]);
      throw new Error(`${(e as Error).message}\n${(all.stdout + all.stderr).slice(-3000)}`);
    });
    await new Promise((r) => setTimeout(r, 1_500));
    logs = (await podman.cli(['logs', daemonId])).stdout;
    const pid = (await podman.cli(['inspect', '-f', '{{.State.Pid}}', daemonId])).stdout.trim();
    capEff = BigInt(`0x${readFileSync(`/proc/${pid}/status`, 'utf8').match(/^CapEff:\s*([0-9a-f]+)$/m)![1]}`);
    const sh = await podman.cli(['run', '--rm', '--network', 'none', ...PODMAN_RUN_FLAGS, '--entrypoint', '/bin/sh', image, '-c', 'true'], 60_000);
    shellRun = { code: sh.code, err: sh.stderr };
  }, 400_000);

  afterAll(async () => {
    if (daemonId) await podman?.cli(['stop', '-t', '10', daemonId], 60_000).catch(() => undefined);
    await host?.teardown();
    rmSync(dir, { recursive: true, force: true });
  }, 180_000);

  it('loads as a runnable image whose entrypoint is the bundled Node.js and whose default command is the passive daemon', () => {
    expect(inspect.entrypoint).toEqual(['/opt/imdswatch/node/bin/node', '/opt/imdswatch/dist/cli/main.js']);
    expect(inspect.cmd.slice(0, 2)).toEqual(['daemon', '--no-gate']);
  });

  it('the daemon in the image reports the container\'s IMDSv1 call: v1, the path, from the caller container\'s address, curl', () => {
    const events: EventLine[] = eventsOf(logs);
    const v1 = events.filter((e) => e.event.version === 'v1' && e.event.path === PATH_V1);
    expect(v1.length, logs.slice(-2000)).toBe(1);
    const e = v1[0]!.event as EventLine['event'] & { client: { ip: string }; userAgent: string; reason: string };
    expect(callerIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(e.client.ip).toBe(callerIp);
    expect(e.userAgent).toMatch(/^curl\//);
    expect(e.reason).toBe('no-token-attempt');
    // passive mode (no gate in the image): what it found of the process, for the record.
    // Measured here: attribution "none" — the bridged container's socket is in its own
    // network namespace and gone by the time of the passive /proc lookup.
    console.log(`oci-podman: attribution ${e.attribution}, process ${JSON.stringify(e.process)}`);
    expect(['passive', 'none']).toContain(e.attribution);
    if (e.process) expect(e.process).toMatchObject({ pid: caller.pid, exe: '/usr/bin/curl' });
    // no token ever went into the log
    expect(logs).not.toMatch(/X-aws-ec2-metadata-token:/i);
  });

  it('the daemon has no capability beyond the four; the image has no shell', () => {
    // CAP_DAC_READ_SEARCH 2, CAP_NET_ADMIN 12, CAP_NET_RAW 13, CAP_SYS_PTRACE 19
    const allowed = (1n << 2n) | (1n << 12n) | (1n << 13n) | (1n << 19n);
    expect(capEff & ~allowed, `CapEff ${capEff.toString(16)}`).toBe(0n);
    expect(capEff & (1n << 13n)).not.toBe(0n); // capture needs NET_RAW
    expect(shellRun.code, shellRun.err).not.toBe(0);
    expect(shellRun.err).toMatch(/\/bin\/sh|no such file|not found/i);
  });
});
