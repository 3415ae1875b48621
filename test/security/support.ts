import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '../helpers/wait.js';

/**
 * The attacks of docs/design.md#security as tests: an unprivileged local user (`nobody`,
 * through setpriv) against the real daemon run as root (dist/cli/main.js), in network
 * namespaces. Needs root, a build, unshare and setpriv; under CI=true a missing one fails.
 */
export const CLI = join(process.cwd(), 'dist/cli/main.js');
const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/** why these tests cannot run here, or null; throws under CI=true */
export function securityPrerequisites(extra: string[] = []): string | null {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root');
  if (!existsSync(CLI)) missing.push('a build (npm run build)');
  for (const c of ['unshare', 'setpriv', ...extra]) if (!has(c)) missing.push(c);
  const why = missing.length ? `needs ${missing.join(', ')}` : null;
  if (why && process.env.CI === 'true') throw new Error(`CI: the security tests ${why}`);
  return why;
}

/** argv prefix: run as nobody:nogroup with no supplementary group and no capability */
export const AS_NOBODY = ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups'];
export const NOBODY_UID = 65534;

/** run argv as nobody to completion */
export function asNobody(argv: string[], opts: { prefix?: string[]; groups?: number[] } = {}): { status: number | null; stdout: string; stderr: string } {
  const who = opts.groups ? ['setpriv', '--reuid=nobody', '--regid=nogroup', `--groups=${opts.groups.join(',')}`] : AS_NOBODY;
  const r = spawnSync(who[0]!, [...who.slice(1), ...argv], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface DaemonRun {
  child: ChildProcess;
  /** the daemon's pid (known before it starts when `held`) */
  pid: number;
  out(): string;
  err(): string;
  exited(): { code: number | null; signal: NodeJS.Signals | null } | null;
  /** let a held daemon exec (see `held`) */
  release(): void;
  /** until it logs "capturing on" or exits */
  settled(ms?: number): Promise<'capturing' | 'exited'>;
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Start `imdswatch daemon ARGS` as root, behind `prefix` (e.g. ['unshare', '-n'] or
 * ['ip', 'netns', 'exec', NS]). `held`: a shell waits for release() before it execs
 * node, so the daemon's pid is known (and can be attacked) before the daemon runs.
 */
export function startDaemon(prefix: string[], args: string[], opts: { held?: boolean; env?: NodeJS.ProcessEnv } = {}): DaemonRun {
  const node = [process.execPath, CLI, 'daemon', ...args];
  const argv = opts.held ? [...prefix, 'sh', '-c', 'read _ && exec "$0" "$@"', ...node] : [...prefix, ...node];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, IMDSWATCH_SAVE_INTERVAL: '1', ...opts.env } });
  let out = '';
  let err = '';
  let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  child.stdin!.on('error', () => undefined);
  child.on('exit', (code, signal) => (exit = { code, signal }));
  if (!opts.held) child.stdin!.end();
  const run: DaemonRun = {
    child,
    pid: child.pid!,
    out: () => out,
    err: () => err,
    exited: () => exit,
    release: () => child.stdin!.end('go\n'),
    async settled(ms = 20_000) {
      await waitFor(() => exit !== null || out.includes('capturing on'), ms, 'the daemon to capture or exit');
      return exit ? 'exited' : 'capturing';
    },
    async stop() {
      if (!exit) child.kill('SIGTERM');
      await waitFor(() => exit !== null, 40_000, 'the daemon to exit');
      return exit!;
    },
  };
  return run;
}

/** the daemon's own one-line messages on stderr (the cap binding may print libpcap warnings) */
export const ownLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l.startsWith('imdswatch:'));
