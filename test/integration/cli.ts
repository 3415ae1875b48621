import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { ImdsEvent } from '../../src/imds/event.js';
import type { Lab, LabNs } from '../support/lab/netns.js';
import { GATE_CHAIN } from '../../src/live/gate-rules.js';

/**
 * Helpers for the CLI-level integration tests: `imdswatch scan` started inside a lab
 * namespace exactly as a user would (`ip netns exec NS node dist/cli/main.js scan ...`),
 * its output collected and parsed. Needs `npm run build` (the tests use dist/).
 */
export const CLI = join(process.cwd(), 'dist/cli/main.js');
export const cliBuilt = (): boolean => existsSync(CLI);

/**
 * The tests check attribution, not speed: a generous lookup budget per held SYN, as the
 * live gate tests use (CI machines are loaded; the default 50 ms is a latency trade-off).
 */
export const GATE_BUDGET_ARGS = ['--gate-budget', '500'];

/** a clean environment for the clients (no pyenv shims, no AWS config of the host) */
export function clientEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: home,
    LANG: 'C.UTF-8',
    AWS_CONFIG_FILE: '/nonexistent/aws-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_PAGER: '',
    AWS_METADATA_SERVICE_TIMEOUT: '2',
    AWS_METADATA_SERVICE_NUM_ATTEMPTS: '1',
    ...extra,
  };
}

export interface ScanResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** the ndjson lines of stdout, parsed (empty for text/json output) */
  events: ImdsEvent[];
  /** from spawn to exit */
  elapsedMs: number;
}

export interface ScanOptions {
  ns?: LabNs;
  /** argv put between `ip netns exec NS` and `node` (setpriv ...) */
  wrap?: string[];
}

/** one `imdswatch ...` run inside a lab namespace */
export class CliRun {
  readonly child: ChildProcess;
  readonly result: Promise<ScanResult>;
  private stdout = '';
  private stderr = '';
  private exited = false;

  constructor(
    private readonly lab: Lab,
    args: string[],
    private readonly opts: ScanOptions = {},
  ) {
    const ns = opts.ns ?? 'client';
    const [cmd, ...rest] = [...lab.execPrefix(ns), ...(opts.wrap ?? []), process.execPath, CLI, ...args];
    const started = Date.now();
    this.child = spawn(cmd!, rest, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: '1' } });
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.result = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        this.exited = true;
        const events = this.stdout
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as ImdsEvent);
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr, events, elapsedMs: Date.now() - started });
      });
    });
  }

  /**
   * Resolves once this run holds a bound, running packet socket (its libpcap capture,
   * listed in its namespace's /proc/net/packet) and, unless `gate` is false, the gate's NFQUEUE rule
   * is in the namespace's firewall; or once the run has exited (the test then fails on its
   * result). The capture opens after every gate rule (v4 and v6) is in, so waiting for the
   * v4 rule alone is not enough. Throws after timeoutMs.
   */
  async ready(opts: { gate?: boolean; timeoutMs?: number } = {}): Promise<void> {
    const end = Date.now() + (opts.timeoutMs ?? 20_000);
    for (;;) {
      if (this.exited) return;
      if (this.holdsPacketSocket()) {
        if (opts.gate === false) return;
        const r = await this.lab.run(this.opts.ns ?? 'client', ['iptables', '-w', '5', '-t', 'mangle', '-S', GATE_CHAIN]);
        if (r.code === 0 && r.stdout.includes('NFQUEUE')) return;
      }
      if (Date.now() > end) throw new Error(`the scan was not capturing (with its gate) within ${opts.timeoutMs ?? 20_000} ms; stderr: ${this.stderr.slice(0, 500)}`);
      await sleep(50);
    }
  }

  /** the capture and the gate are both on (see ready) */
  gateReady(timeoutMs = 20_000): Promise<void> {
    return this.ready({ gate: true, timeoutMs });
  }

  private holdsPacketSocket(): boolean {
    const pid = this.child.pid;
    try {
      // columns: sk RefCnt Type Proto Iface R Rmem User Inode. libpcap creates the socket with
      // protocol 0 (receives nothing), sets up its ring, then binds it (Proto 0003, R 1):
      // measured ~100 ms apart here, and packets in between are never seen
      const rows = readFileSync(`/proc/${pid}/net/packet`, 'utf8').trim().split('\n').slice(1);
      const running = rows.map((row) => row.trim().split(/\s+/)).filter((c) => c[3] !== '0000' && c[5] === '1');
      const inodes = new Set(running.map((c) => c.at(-1)));
      return readdirSync(`/proc/${pid}/fd`).some((fd) => {
        try {
          const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
          return m !== null && inodes.has(m[1]);
        } catch {
          return false;
        }
      });
    } catch {
      return false;
    }
  }

  /** stdout and stderr so far */
  output(): { stdout: string; stderr: string } {
    return { stdout: this.stdout, stderr: this.stderr };
  }

  /** wait until `pred` holds for stdout so far, or throw after timeoutMs */
  async waitForStdout(pred: (stdout: string) => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!pred(this.stdout)) {
      if (this.exited || Date.now() > end) throw new Error(`timed out waiting for ${what}; stderr: ${this.stderr.slice(0, 500)}`);
      await sleep(100);
    }
  }

  /** the ndjson events printed so far */
  eventsSoFar(): ImdsEvent[] {
    return this.stdout
      .split('\n')
      .filter((l) => l.startsWith('{') && l.endsWith('}'))
      .map((l) => JSON.parse(l) as ImdsEvent);
  }

  /** wait until at least n events were printed (ndjson), or throw after timeoutMs */
  async waitForEvents(n: number, timeoutMs = 15_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.eventsSoFar().length < n) {
      if (this.exited || Date.now() > end) throw new Error(`expected ${n} events, saw ${this.eventsSoFar().length}; stderr: ${this.stderr.slice(0, 500)}`);
      await sleep(100);
    }
  }

  /** Ctrl-C: the scan stops capturing and prints its report */
  interrupt(): void {
    if (!this.exited) this.child.kill('SIGINT');
  }

  /** SIGKILL if still running (afterAll cleanup) */
  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** netns inode of a namespace, from a process inside it */
export async function netnsInode(lab: Lab, ns: LabNs): Promise<number> {
  const r = await lab.run(ns, ['readlink', '/proc/self/ns/net']);
  const m = /\[(\d+)\]/.exec(r.stdout);
  if (!m) throw new Error(`no netns inode in "${r.stdout.trim()}"`);
  return Number(m[1]);
}

/** v1/v2/token and attribution counts, for the report */
export function tally(events: ImdsEvent[]): string {
  const by = (f: (e: ImdsEvent) => string): string =>
    Object.entries(events.reduce<Record<string, number>>((a, e) => ((a[f(e)] = (a[f(e)] ?? 0) + 1), a), {}))
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
  return `${events.length} events (${by((e) => e.version)}; attribution ${by((e) => e.attribution)})`;
}
