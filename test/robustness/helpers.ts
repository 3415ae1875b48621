import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '../helpers/wait.js';
export { waitFor };

/** Shared helpers of the robustness tests (replay floods, live floods, fail-open). */
export const CLI = join(process.cwd(), 'dist/cli/main.js');
export const LOAD_TOOL = join(process.cwd(), 'build/lab/load-tool-main.js');
export const TIME = '/usr/bin/time';
export const built = (): boolean => existsSync(CLI) && existsSync(LOAD_TOOL);
export const MiB = 1024 * 1024;

export interface Measured {
  code: number | null;
  stdout: string;
  stderr: string;
  /** max resident set size of the command, bytes (GNU time %M) */
  maxRss: number;
  elapsedMs: number;
}

/** run argv under GNU time, report its exit code, output and peak RSS */
export function measure(argv: string[], timeoutMs = 120_000): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(TIME, ['-f', 'IMDSWATCH_MAXRSS_KB=%M', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const m = /IMDSWATCH_MAXRSS_KB=(\d+)/.exec(stderr);
      resolve({
        code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: stderr.replace(/IMDSWATCH_MAXRSS_KB=\d+\n?/, ''),
        maxRss: m ? Number(m[1]) * 1024 : NaN,
        elapsedMs: Date.now() - t0,
      });
    });
  });
}


/** VmRSS of a process in bytes, or null when it is gone */
export function rssOf(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** pid of the node process that `ip netns exec NS node ...` became (ip execs into it) */
export function pidOf(child: ChildProcess): number {
  return child.pid!;
}

/** The value of a Prometheus sample (sum over label sets when `name` has several) or null. */
export function metricValue(text: string, name: string, labels?: string): number | null {
  let total: number | null = null;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    if (labels && !(m[2] ?? '').includes(labels)) continue;
    total = (total ?? 0) + Number(m[3]);
  }
  return total;
}

/** Lines of pino JSON output (non-JSON lines dropped). */
export function jsonLines(text: string): Array<Record<string, any>> {
  const out: Array<Record<string, any>> = [];
  for (const l of text.split('\n')) {
    if (!l.startsWith('{')) continue;
    try {
      out.push(JSON.parse(l));
    } catch {
      /* a partial last line */
    }
  }
  return out;
}

export interface DaemonRun {
  child: ChildProcess;
  pid: number;
  /** stdout so far (pino JSON lines) */
  out(): string;
  err(): string;
  exitCode(): number | null;
  /** JSON lines of stdout */
  lines(): Array<Record<string, any>>;
  /** imds-request events so far */
  events(): Array<Record<string, any>>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Start `imdswatch daemon ARGS` inside a namespace (argv prefix from lab.execPrefix) and
 * wait for its "capturing on" line. `ip netns exec` execs into node, so `pid` is the
 * daemon's own pid (for /proc/PID/status).
 */
export async function startDaemonIn(prefix: string[], args: string[], env: NodeJS.ProcessEnv = {}): Promise<DaemonRun> {
  const child = spawn(prefix[0]!, [...prefix.slice(1), process.execPath, CLI, 'daemon', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stdout = '';
  let stderr = '';
  let code: number | null = null;
  let exited = false;
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exit = new Promise<void>((resolve) =>
    child.on('exit', (c, sig) => {
      exited = true;
      code = c ?? (sig ? 128 : null);
      resolve();
    }),
  );
  const run: DaemonRun = {
    child,
    pid: child.pid!,
    out: () => stdout,
    err: () => stderr,
    exitCode: () => code,
    lines: () => jsonLines(stdout),
    events: () => jsonLines(stdout).filter((l) => l.kind === 'imds-request'),
    stop: async (signal = 'SIGTERM') => {
      if (!exited) {
        child.kill(signal);
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exit;
        clearTimeout(t);
      }
      return code;
    },
  };
  try {
    await waitFor(() => stdout.includes('capturing on') || exited, 30_000, 'the daemon to start');
  } catch (err) {
    await run.stop('SIGKILL');
    throw err;
  }
  if (exited) throw new Error(`daemon exited (${code}) at start: ${stderr.slice(-500)} ${stdout.slice(-500)}`);
  return run;
}
