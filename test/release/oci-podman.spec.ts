// The x64 OCI image (npm run release) run by a real container engine (#12): rootful
// Podman inside a lab network namespace (test/containers/host.ts: the lab's client
// namespace plays the node, the IMDS simulator answers at 169.254.169.254 in the lab's
// imds namespace; nothing outside the lab is touched). The image is loaded with
// `podman load`, started as deploy/kubernetes/daemonset.yaml runs it (host network, host
// PID, only the four capabilities, read-only root, state and logs on host directories,
// the xtables lock and the runtime's metadata mounted read-only, `daemon` WITH the SYN
// gate), next to a bridged container that calls IMDSv1 with curl. The image's daemon must
// hold that call's SYN in its gate and name the process (pid in the host PID namespace,
// /usr/bin/curl) and the container (Podman id, name, image); once stopped it must leave
// no gate rule in the node namespace.
// The image has no shell: it is only ever run with its own entrypoint.
// Needs root, Podman (.ci/install-deps) and the lab; run under
// flock /tmp/imdswatch-netns.lock (network namespaces, iptables).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labAvailable } from '../support/lab/netns.js';
import { createContainerHost, eventsOf, missingTools, runWaiting, type ContainerHost, type EventLine } from '../containers/host.js';
import { PODMAN_RUN_FLAGS, startPodman, type PodmanRuntime } from '../containers/podman.js';
import { isRoot, prerequisites, REPO, VERSION } from './artifacts.js';

const OCI = join(REPO, 'release', `imdswatch-${VERSION}-oci-x64.tar`);
const missing = missingTools(['podman', 'conmon', 'runc', 'nsenter', 'iptables-nft', 'ip6tables-nft', 'iptables-legacy', 'ip6tables-legacy', 'nft', '/usr/lib/cni/bridge']);
const ready = prerequisites({
  root: isRoot,
  [OCI]: existsSync(OCI),
  'podman, conmon, runc, CNI, iptables (nft and legacy), nft (.ci/install-deps)': missing.length === 0,
  'network namespaces (iproute2)': labAvailable(),
});
const PATH_V1 = '/latest/meta-data/instance-id';
// a plain IMDSv1 GET, as legacy code sends it
const V1 = `exec curl -s -o /dev/null -m 5 http://169.254.169.254${PATH_V1}`;

/**
 * Poll an async condition (every 200 ms, one check at a time) until it holds, or reject
 * naming `what`. (test/helpers/wait.ts's waitFor takes a synchronous condition: given an
 * async one it sees a Promise, which is truthy, and returns at once.)
 */
async function until(cond: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** the gate's chain and the jumps to it in one table listing (`-S`) */
/** the gate's chains, their rules and the jumps to them (the system lane's too: docs/design.md#system-lane) */
function gateRules(listing: string): string[] {
  return listing.split('\n').filter((l) => /(^-N IMDSWATCH(-OUT|-LOG)?$)|(-j IMDSWATCH(-OUT|-LOG)?$)|(^-A IMDSWATCH(-OUT|-LOG)? )/.test(l));
}

describe.skipIf(!ready)('OCI image x64 under Podman, next to an IMDSv1 caller', () => {
  let host: ContainerHost;
  let podman: PodmanRuntime;
  const dir = mkdtempSync(join(tmpdir(), 'iw-oci-podman-'));
  let image = '';
  let daemonId = '';
  /** the second run, with the legacy backend */
  let legacyId = '';
  let logs = '';
  let caller: { id: string; pid: number };
  let runArgs: string[] = [];
  let inspect: { user: string; cmd: string[]; entrypoint: string[] } = { user: '', cmd: [], entrypoint: [] };
  let capEff = 0n;
  let callerIp = '';
  let shellRun: { code: number | null; err: string } = { code: null, err: '' };
  /** the node namespace's mangle table while the image's daemon runs (iptables-nft -S) */
  let rulesWhileRunning: Record<'v4' | 'v6', string[]> = { v4: [], v6: [] };
  let callerCgroup = '';
  let metrics = '';
  /** the daemon's output (stdout and stderr) once it said it was capturing */
  let startLogs = '';
  const listMangle = async (tool: string) => {
    const r = await host.exec([tool, '-w', '5', '-t', 'mangle', '-S']);
    expect(r.code, `${tool}: ${r.stderr}`).toBe(0);
    return r.stdout;
  };

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
    // capabilities, read-only root with a tmpfs /tmp, state and logs on host directories,
    // the xtables lock and the runtime's metadata read-only, the DaemonSet's --gate-budget
    const storage = join(podman.root, 'storage', 'overlay-containers');
    for (const d of ['state', 'log']) mkdirSync(join(dir, d));
    writeFileSync(join(dir, 'xtables.lock'), '');
    runArgs = [
      'run', '-d', '--name', 'imdswatch', '--network', 'host', '--pid', 'host', '--log-driver', 'k8s-file',
      '--cap-drop', 'all', '--cap-add', 'NET_RAW,NET_ADMIN,SYS_PTRACE,DAC_READ_SEARCH',
      '--security-opt', 'no-new-privileges', '--read-only', '--tmpfs', '/tmp',
      '-v', `${join(dir, 'state')}:/var/lib/imdswatch`, '-v', `${join(dir, 'log')}:/var/log/imdswatch`,
      '-v', `${join(dir, 'xtables.lock')}:/run/xtables.lock:ro`,
      '-v', `${storage}:/var/lib/containers/storage/overlay-containers:ro`,
      ...PODMAN_RUN_FLAGS,
      image, 'daemon', '--gate-budget', '200', '--metrics', '16954',
    ];
    const d = await podman.cli(runArgs, 120_000);
    expect(d.code, d.stderr).toBe(0);
    daemonId = d.stdout.trim().split('\n').pop()!;
    await until(async () => {
      const l = await podman.cli(['logs', daemonId]);
      logs = l.stdout + l.stderr;
      return /capturing on/.test(logs);
    }, 60_000, 'the image\'s daemon to start capturing').catch(async (e) => {
      const st = await podman.cli(['ps', '-a', '--format', '{{.Names}} {{.Status}}']);
      throw new Error(`${(e as Error).message}\n${st.stdout}\n${logs.slice(-2000)}`);
    });
    // the image's iptables (nf_tables backend) put the gate into the node namespace's mangle
    // table; the host's iptables-nft lists it
    startLogs = logs;
    rulesWhileRunning = { v4: gateRules(await listMangle('iptables-nft')), v6: gateRules(await listMangle('ip6tables-nft')) };

    // the legacy workload: a bridged container calling IMDSv1 as uid 1000
    const w = await runWaiting(podman.cli, 'podman', podman.image, 'legacy-app', '1000:1000', V1, PODMAN_RUN_FLAGS);
    caller = w;
    callerCgroup = readFileSync(`/proc/${w.pid}/cgroup`, 'utf8');
    callerIp = (await podman.cli(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', w.id])).stdout.trim();
    await w.go();
    await until(async () => {
      logs = (await podman.cli(['logs', daemonId])).stdout;
      return eventsOf(logs).length >= 1;
    }, 30_000, 'the image\'s daemon to report the IMDSv1 call').catch(async (e) => {
      const all = await podman.cli(['logs', daemonId]);
      throw new Error(`${(e as Error).message}\n${(all.stdout + all.stderr).slice(-3000)}`);
    });
    await new Promise((r) => setTimeout(r, 1_500));
    logs = (await podman.cli(['logs', daemonId])).stdout;
    metrics = (await host.exec(['curl', '-s', 'http://127.0.0.1:16954/metrics'])).stdout;
    const pid = (await podman.cli(['inspect', '-f', '{{.State.Pid}}', daemonId])).stdout.trim();
    capEff = BigInt(`0x${readFileSync(`/proc/${pid}/status`, 'utf8').match(/^CapEff:\s*([0-9a-f]+)$/m)![1]}`);
    const sh = await podman.cli(['run', '--rm', '--network', 'none', ...PODMAN_RUN_FLAGS, '--entrypoint', '/bin/sh', image, '-c', 'true'], 60_000);
    shellRun = { code: sh.code, err: sh.stderr };
  }, 400_000);

  afterAll(async () => {
    // the daemon, the caller and the loaded image live in this run's Podman storage, which
    // the teardown removes with the lab namespaces (and the rules in them)
    for (const id of [daemonId, legacyId]) if (id) await podman?.cli(['stop', '-t', '10', id], 60_000).catch(() => undefined);
    await host?.teardown();
    rmSync(dir, { recursive: true, force: true });
  }, 180_000);

  it('loads as a runnable image whose entrypoint is the bundled Node.js and whose default command is the daemon with its gate', () => {
    expect(inspect.entrypoint).toEqual(['/opt/imdswatch/node/bin/node', '/opt/imdswatch/dist/cli/main.js']);
    expect(inspect.cmd[0]).toBe('daemon');
    expect(inspect.cmd).not.toContain('--no-gate');
  });

  it('the image\'s daemon runs the SYN gate: its chain in the node namespace\'s mangle table, jumped to from FORWARD and (through the system lane\'s chain) OUTPUT, IPv4 and IPv6', () => {
    expect(startLogs).toMatch(/capturing on \S+ with the SYN gate/);
    expect(startLogs).not.toMatch(/E_GATE_|without the SYN gate|could not install/);
    for (const [fam, rules] of Object.entries(rulesWhileRunning)) {
      const dst = fam === 'v4' ? '169.254.169.254/32' : 'fd00:ec2::254/128';
      // OUTPUT goes through the system lane's chain to the gate's; POSTROUTING to the lane's copy
      expect(rules.filter((r) => /^-N |^-A (OUTPUT|FORWARD|POSTROUTING|INPUT) /.test(r)).sort(), fam).toEqual([
        '-A FORWARD -j IMDSWATCH', '-A OUTPUT -j IMDSWATCH-OUT', '-A POSTROUTING -j IMDSWATCH-LOG', '-N IMDSWATCH', '-N IMDSWATCH-LOG', '-N IMDSWATCH-OUT',
      ]);
      expect(rules.filter((r) => r.startsWith('-A IMDSWATCH-OUT ')).join('\n'), fam).toMatch(/--uid-owner 0-999 .*-j NFQUEUE --queue-num \d+ --queue-bypass\n-A IMDSWATCH-OUT -j IMDSWATCH$/);
      const queue = rules.filter((r) => r.startsWith('-A IMDSWATCH '));
      expect(queue, fam).toHaveLength(1);
      expect(queue[0], fam).toMatch(new RegExp(`^-A IMDSWATCH -d ${dst.replace(/[.]/g, '\\.')} -p tcp -m tcp --dport 80 --tcp-flags FIN,SYN,RST,ACK SYN -j NFQUEUE --queue-num \\d+ --queue-bypass$`));
    }
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
    // no token ever went into the log
    expect(logs).not.toMatch(/X-aws-ec2-metadata-token:/i);
  });

  it('attributes that call by the gate: the caller container\'s curl (pid in the host PID namespace) and the container by id, name and image', () => {
    const v1 = eventsOf(logs).filter((e) => e.event.version === 'v1' && e.event.path === PATH_V1);
    expect(v1.length, logs.slice(-2000)).toBe(1);
    const e = v1[0]!.event;
    // passive mode (the image before #12's gate) found nothing here: "attribution":"none"
    expect(e.attribution, JSON.stringify(e)).toBe('gate');
    expect(e.process).toMatchObject({ pid: caller.pid, exe: '/usr/bin/curl', uid: 1000 });
    // the id the kernel's cgroup path gives (cgroupfs manager: /libpod_parent/libpod-<id>)
    expect(callerCgroup).toContain(`libpod-${caller.id}`);
    // the name and image from containers/storage's containers.json, read through the
    // read-only mount of overlay-containers (deploy/kubernetes/daemonset.yaml mounts the same)
    expect(e.process!.container).toEqual({ runtime: 'podman', id: caller.id, name: 'legacy-app', image: podman.image });
    console.log(`oci-podman: attribution ${e.attribution}, process ${JSON.stringify({ pid: e.process!.pid, exe: e.process!.exe, container: e.process!.container })}`);
  });

  it('its metrics count the call as attributed by the gate and time the hold (within the DaemonSet\'s 200 ms budget)', () => {
    expect(metrics).toMatch(/^imdswatch_attribution_total\{outcome="gate"\} 1$/m);
    const hold = Number(metrics.match(/^imdswatch_gate_hold_seconds_sum (\S+)$/m)?.[1]);
    console.log(`oci-podman: SYN held ${(hold * 1000).toFixed(1)} ms`);
    expect(hold).toBeGreaterThan(0);
    expect(hold).toBeLessThan(0.25);
  });

  it('the daemon has no capability beyond the four; the image has no shell', () => {
    // CAP_DAC_READ_SEARCH 2, CAP_NET_ADMIN 12, CAP_NET_RAW 13, CAP_SYS_PTRACE 19
    const allowed = (1n << 2n) | (1n << 12n) | (1n << 13n) | (1n << 19n);
    expect(capEff & ~allowed, `CapEff ${capEff.toString(16)}`).toBe(0n);
    expect(capEff & (1n << 13n)).not.toBe(0n); // capture needs NET_RAW
    expect(shellRun.code, shellRun.err).not.toBe(0);
    expect(shellRun.err).toMatch(/\/bin\/sh|no such file|not found/i);
  });

  // last: it stops the image's daemon
  it('stopped (SIGTERM, as the kubelet stops a pod), the image\'s daemon removes its gate: no chain or jump left in mangle, nf_tables or legacy', async () => {
    // they were there (the gate test above lists them): their absence below is the removal
    expect(rulesWhileRunning.v4.length).toBeGreaterThan(0);
    expect(rulesWhileRunning.v6.length).toBeGreaterThan(0);
    const stop = await podman.cli(['stop', '-t', '10', daemonId], 60_000);
    expect(stop.code, stop.stderr).toBe(0);
    const exit = (await podman.cli(['inspect', '-f', '{{.State.ExitCode}}', daemonId])).stdout.trim();
    const all = await podman.cli(['logs', daemonId]);
    daemonId = '';
    expect(exit, (all.stdout + all.stderr).slice(-2000)).toBe('0'); // not killed after the 10 s grace
    expect(gateRules(await listMangle('iptables-nft'))).toEqual([]);
    expect(gateRules(await listMangle('ip6tables-nft'))).toEqual([]);
    // nothing went to the other backend either (listing legacy loads no module when none is there)
    for (const t of ['iptables-legacy', 'ip6tables-legacy']) {
      const r = await host.exec([t, '-w', '5', '-t', 'mangle', '-S']);
      if (r.code === 0) expect(gateRules(r.stdout), t).toEqual([]);
    }
    expect((await host.exec(['nft', 'list', 'table', 'inet', 'imdswatch'])).code).not.toBe(0);
  }, 90_000);

  // after the nf_tables run is stopped: the same image on a "legacy node", as deploy/README.md
  // says to run it there (the image's legacy directory first on PATH)
  it('with the legacy directory first on PATH the gate goes to legacy iptables, attributes the same way, and is removed on stop', async () => {
    expect(daemonId, 'the nf_tables run must be stopped first').toBe('');
    const legacyArgs = [...runArgs];
    legacyArgs.splice(legacyArgs.indexOf('--name'), 2, '--name', 'imdswatch-legacy', '--env', 'PATH=/usr/lib/imdswatch/xtables-legacy:/opt/imdswatch/node/bin:/usr/sbin:/usr/bin:/bin');
    const d = await podman.cli(legacyArgs, 120_000);
    expect(d.code, d.stderr).toBe(0);
    legacyId = d.stdout.trim().split('\n').pop()!;
    let out = '';
    await until(async () => {
      const l = await podman.cli(['logs', legacyId]);
      out = l.stdout + l.stderr;
      return /capturing on/.test(out);
    }, 60_000, 'the legacy run to start capturing');
    expect(out).toMatch(/capturing on \S+ with the SYN gate/);
    const legacy = gateRules((await host.exec(['iptables-legacy', '-w', '5', '-t', 'mangle', '-S'])).stdout);
    expect(legacy).toContain('-A FORWARD -j IMDSWATCH');
    expect(legacy).toContain('-A OUTPUT -j IMDSWATCH-OUT');
    expect(legacy).toContain('-A IMDSWATCH-OUT -j IMDSWATCH');
    expect(gateRules(await listMangle('iptables-nft'))).toEqual([]);
    const w = await runWaiting(podman.cli, 'podman', podman.image, 'legacy-app-2', '1000:1000', V1, PODMAN_RUN_FLAGS);
    await w.go();
    let e: EventLine['event'] | undefined;
    let all = '';
    await until(async () => {
      const l = await podman.cli(['logs', legacyId]);
      all = l.stdout + l.stderr;
      e = eventsOf(l.stdout).find((x) => x.event.version === 'v1')?.event;
      return e !== undefined;
    }, 30_000, 'the legacy run to report the call');
    expect(e!.attribution, `${JSON.stringify(e)}\n${all.slice(-3000)}`).toBe('gate');
    expect(e!.process).toMatchObject({ pid: w.pid, exe: '/usr/bin/curl', container: { runtime: 'podman', id: w.id, name: 'legacy-app-2' } });
    const stop = await podman.cli(['stop', '-t', '10', legacyId], 60_000);
    expect(stop.code, stop.stderr).toBe(0);
    expect((await podman.cli(['inspect', '-f', '{{.State.ExitCode}}', legacyId])).stdout.trim()).toBe('0');
    legacyId = '';
    expect(gateRules((await host.exec(['iptables-legacy', '-w', '5', '-t', 'mangle', '-S'])).stdout)).toEqual([]);
    expect(gateRules((await host.exec(['ip6tables-legacy', '-w', '5', '-t', 'mangle', '-S'])).stdout)).toEqual([]);
  }, 180_000);
});
