import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/** Small child-process helpers for the lab (no shell, argv arrays only). */

/** the caller's environment with the sbin directories on PATH (ip, sysctl, iptables, tcpdump) */
export function systemEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const path = env.PATH ?? '';
  const have = new Set(path.split(':'));
  const add = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'].filter((d) => !have.has(d));
  return { ...env, PATH: [path, ...add].filter((p) => p !== '').join(':') };
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  input?: string;
  cwd?: string;
}

/** run argv to completion; never rejects for a non-zero exit (see `code`) */
export function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      env: opts.env ?? systemEnv(),
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      // own process group, so a timeout also stops grandchildren holding our pipes
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, opts.timeoutMs ?? 30_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
    child.stdin.on('error', () => undefined); // the child may exit without reading stdin
    child.stdin.end(opts.input ?? '');
  });
}

/** run argv and throw (with argv and stderr) when it exits non-zero */
export async function must(argv: string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(argv, opts);
  if (r.code !== 0) {
    const err = new Error(`${argv.join(' ')} failed (${r.code ?? r.signal}): ${r.stderr.trim().slice(0, 500)}`);
    (err as NodeJS.ErrnoException).code = 'LAB_COMMAND_FAILED';
    throw err;
  }
  return r.stdout;
}

export interface Daemon {
  child: ChildProcess;
  /** stderr lines seen so far */
  lines: string[];
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

/**
 * Start a long-running child and resolve once `ready` matches a line of its stdout or
 * stderr; reject (killing it) on exit or after `timeoutMs`.
 */
export function startDaemon(
  argv: string[],
  ready: RegExp,
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<Daemon> {
  const spawnOpts: SpawnOptions = { env: opts.env ?? systemEnv(), stdio: ['ignore', 'pipe', 'pipe'] };
  const child = spawn(argv[0], argv.slice(1), spawnOpts);
  const lines: string[] = [];
  let exited = false;
  const exitPromise = new Promise<void>((resolve) => child.on('close', () => ((exited = true), resolve())));
  const stop = async (signal: NodeJS.Signals = 'SIGTERM', graceMs = 3000): Promise<void> => {
    if (exited) return;
    child.kill(signal);
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exitPromise;
    clearTimeout(t);
  };
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => fail(new Error(`${argv.join(' ')}: not ready after ${opts.timeoutMs ?? 10_000} ms`)), opts.timeoutMs ?? 10_000);
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      (err as NodeJS.ErrnoException).code = 'LAB_DAEMON_FAILED';
      void stop('SIGKILL').then(() => reject(err));
    };
    const onLine = (line: string): void => {
      lines.push(line);
      if (lines.length > 10_000) lines.shift();
      if (!settled && ready.test(line)) {
        settled = true;
        clearTimeout(timer);
        resolve({ child, lines, stop });
      }
    };
    for (const stream of [child.stdout, child.stderr]) {
      let buf = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (d: string) => {
        buf += d;
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          onLine(buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
      });
    }
    child.on('error', (err) => fail(err));
    child.on('close', (code) => fail(new Error(`${argv.join(' ')} exited (${code}) before ready: ${lines.slice(-5).join(' | ')}`)));
  });
}
