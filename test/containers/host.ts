import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createLab, type Lab } from '../support/lab/netns.js';
import { run, type RunResult } from '../support/lab/proc.js';
import { waitFor } from '../helpers/wait.js';

/**
 * A container host inside the lab: the lab's client namespace plays the host (its own
 * firewall and routes; the machine's are never touched), the IMDS simulator answers at
 * 169.254.169.254 in the lab's imds namespace, containers reach it over their bridge,
 * FORWARD and the runtime's NAT, as on EC2.
 *
 * Runtimes are started by the test with state of their own (data root, exec root, pid file,
 * socket under RUN_DIR/DATA_DIR with the pid in the name) inside the host namespace. They
 * are entered with `nsenter --net` (not `ip netns exec`, which remounts /sys and hides the
 * cgroup hierarchy dockerd needs). imdswatch runs in the same namespace; it reads the
 * runtimes' metadata at the standard paths (/var/lib/docker, /run/containerd/…,
 * /var/lib/containers/storage), so those are bind-mounted from the test's own roots in
 * imdswatch's private mount namespace only.
 */
export const CLI = join(process.cwd(), 'dist/cli/main.js');
export const CI = process.env.CI === 'true';
export const DOCKER = '/usr/bin/docker';

export interface Bind {
  /** the test's directory */
  from: string;
  /** the standard path imdswatch reads */
  to: string;
}

export interface ContainerHost {
  lab: Lab;
  ns: string;
  nsPath: string;
  id: string;
  /** argv prefix: run in the host namespace (keeps /sys) */
  enter(argv: string[]): string[];
  exec(argv: string[], timeoutMs?: number): Promise<RunResult>;
  teardown(): Promise<void>;
  onTeardown(fn: () => Promise<void> | void): void;
}

export async function createContainerHost(prefix: string, opts: { hopLimitOnTokenPut?: boolean } = {}): Promise<ContainerHost> {
  const lab = await createLab({ prefix, tokens: 'optional', connection: 'close', hopLimitOnTokenPut: opts.hopLimitOnTokenPut ?? false });
  const ns = lab.names.client;
  const nsPath = `/run/netns/${ns}`;
  // containers need a default route out of the bridge: the host has none (IMDS only), which is enough
  const cleanups: Array<() => Promise<void> | void> = [];
  const enter = (argv: string[]): string[] => ['nsenter', `--net=${nsPath}`, '--', ...argv];
  const host: ContainerHost = {
    lab,
    ns,
    nsPath,
    id: `${prefix}-${process.pid}`,
    enter,
    exec: (argv, timeoutMs = 60_000) => run(enter(argv), { timeoutMs }),
    onTeardown: (fn) => cleanups.push(fn),
    teardown: async () => {
      for (const fn of cleanups.splice(0).reverse()) {
        try {
          await fn();
        } catch (err) {
          console.warn(`teardown step failed: ${(err as Error).message}`);
        }
      }
      await lab.teardown();
    },
  };
  return host;
}

/** mounts whose mount point is under one of `prefixes` (deepest first) */
export function mountsUnder(prefixes: string[]): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mp = line.split(' ')[4];
    if (!mp) continue;
    const path = mp.replace(/\\040/g, ' ');
    if (prefixes.some((p) => path === p || path.startsWith(`${p}/`))) out.push(path);
  }
  return out.sort((a, b) => b.length - a.length);
}

export function unmountUnder(prefixes: string[]): void {
  for (const m of mountsUnder(prefixes)) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
}

/** a process started by the test, stopped by pid */
export interface Started {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exited: () => boolean;
  stop(signal?: NodeJS.Signals, waitMs?: number): Promise<void>;
}

export function startProcess(argv: string[], env: NodeJS.ProcessEnv = process.env): Started {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  let err = '';
  let done = false;
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  child.on('exit', () => (done = true));
  return {
    child,
    out: () => out,
    err: () => err,
    exited: () => done,
    stop: async (signal = 'SIGTERM', waitMs = 40_000) => {
      if (done) return;
      child.kill(signal);
      await waitFor(() => done, waitMs, `${argv[0]} ${argv[1] ?? ''} to exit`).catch(() => {
        child.kill('SIGKILL');
      });
    },
  };
}

/**
 * imdswatch's daemon in the host namespace, with the runtimes' metadata bind-mounted at the
 * standard paths (mount points are created when missing and removed again afterwards).
 */
export async function startImdswatch(host: ContainerHost, dir: string, binds: Bind[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Started & { stateFile: string; logFile: string; metricsPort: number }> {
  const stateFile = join(dir, 'state.json');
  const logFile = join(dir, 'imdswatch.log');
  const metricsPort = 17000 + (process.pid % 2000);
  const created: string[] = [];
  for (const b of binds) {
    mkdirSync(b.from, { recursive: true });
    if (!existsSync(b.to)) {
      // the shallowest missing directory is what we remove afterwards
      let top = b.to;
      while (!existsSync(join(top, '..'))) top = join(top, '..');
      created.push(top);
      mkdirSync(b.to, { recursive: true });
    }
  }
  host.onTeardown(() => {
    for (const c of created) rmSync(c, { recursive: true, force: true });
  });
  const script = [...binds.map((b, i) => `mount --bind "$${i + 1}" "$${i + 1 + binds.length}"`), `shift ${binds.length * 2}`, 'exec "$@"'].join(' && ');
  const argv = [
    'ip', 'netns', 'exec', host.ns, 'sh', '-c', script, 'sh', ...binds.map((b) => b.from), ...binds.map((b) => b.to),
    process.execPath, CLI, 'daemon', '--log-file', logFile, '--state-file', stateFile, '--metrics', String(metricsPort),
  ];
  // a generous gate budget, as the other live tests use: these tests check attribution, not
  // speed, on a shared 2-core machine (the default 50 ms is measured in bench/)
  const p = startProcess(argv, { ...process.env, IMDSWATCH_SAVE_INTERVAL: '1', IMDSWATCH_GATE_BUDGET_MS: '500', ...extraEnv });
  host.onTeardown(() => p.stop('SIGKILL', 5_000));
  await waitFor(() => p.out().includes('capturing on') || p.exited(), 30_000, 'imdswatch to start capturing');
  if (p.exited()) throw new Error(`imdswatch daemon exited: ${p.err().slice(0, 800)}`);
  return Object.assign(p, { stateFile, logFile, metricsPort });
}

export interface EventLine {
  kind: string;
  level: string;
  msg?: string;
  event: {
    version: string;
    path: string;
    attribution: string;
    process: { pid: number; exe: string | null; uid: number | null; user: string | null; container: Record<string, unknown> | null } | null;
  };
}

export function eventsOf(stdout: string): EventLine[] {
  return stdout
    .split('\n')
    .filter((l) => l.includes('"kind":"imds-request"'))
    .map((l) => JSON.parse(l) as EventLine);
}

export function linesOf(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return {};
      }
    });
}

/** `imdswatch report` on a state file */
export function report(stateFile: string): { code: number | null; text: string } {
  const r = spawnSync(process.execPath, [CLI, 'report', stateFile, '--min-hours', '0'], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, text: r.stdout + r.stderr };
}

/** which of these commands are missing */
export function missingTools(tools: string[]): string[] {
  return tools.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' }).status !== 0 && !existsSync(t));
}

export function rmdirQuiet(p: string): void {
  try {
    rmdirSync(p);
  } catch {
    /* not empty or gone */
  }
}

/**
 * Directories runtimes create at fixed places whatever their roots (/run/containerd for shim
 * sockets and fifos, /run/docker/plugins, /var/lib/cni for IPAM leases): removed after the
 * runtime stops when they did not exist before it started.
 */
export function leftoversGuard(paths: string[]): () => void {
  const missing = paths.filter((p) => !existsSync(p));
  return () => {
    for (const p of missing) rmSync(p, { recursive: true, force: true });
  };
}

/** a runtime's CLI (docker, podman, rootless podman): argv in, result out */
export type RuntimeCli = (args: string[], timeoutMs?: number) => Promise<RunResult>;

/**
 * A container whose main process waits for a go file, then execs `script` (so the process
 * that calls IMDS is the container's State.Pid). Docker and Podman take the same `run`,
 * `inspect` and `exec`; `runFlags` are the runtime's extra `run` flags. Returns its id and
 * host pid.
 */
export async function runWaiting(
  cli: RuntimeCli,
  label: string,
  image: string,
  name: string,
  user: string,
  script: string,
  runFlags: string[] = [],
): Promise<{ id: string; pid: number; go(): Promise<void> }> {
  const r = await cli(['run', '-d', '--name', name, '-u', user, ...runFlags, image, 'sh', '-c', `while [ ! -e /tmp/go ]; do sleep 0.05; done; ${script}`]);
  if (r.code !== 0) throw new Error(`${label} run ${name} failed: ${r.stderr}`);
  const id = r.stdout.trim().split('\n').pop()!; // podman may print pull/import lines first
  const pid = Number((await cli(['inspect', '-f', '{{.State.Pid}}', id])).stdout.trim());
  return {
    id,
    pid,
    go: async () => {
      const e = await cli(['exec', id, 'touch', '/tmp/go']);
      if (e.code !== 0) throw new Error(`${label} exec failed: ${e.stderr}`);
    },
  };
}
